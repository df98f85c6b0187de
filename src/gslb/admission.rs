//! Admission: which of a pool's clients it takes while it takes only part of them — while it
//! ramps back after being down (`[service.failover] ramp`) or while its demand is above its
//! declared capacity (the `capacity` step).
//!
//! Background work publishes a fraction per pool in the health view ([`super::view::Admission`]);
//! a client is admitted iff its position — a stable hash of its address cut to /24 (IPv4) or
//! /56 (IPv6), or to the query's ECS source prefix when that is shorter — falls below the
//! fraction. So the same resolver keeps the same answer while the fraction holds, a rising
//! fraction only ever adds clients (admission is monotone in the fraction), and the decision
//! stays a pure function of the client and the view. A decision that used admission depends
//! on that prefix of the client address (its ECS scope).

use super::Client;
use crate::hash::mix64;
use std::net::IpAddr;
use std::time::Duration;

/// Every client: a fraction of 1000 per mille.
pub const ALL: u16 = 1000;
/// IPv4 clients are admitted by their /24.
pub const V4_PREFIX: u8 = 24;
/// IPv6 clients are admitted by their /56.
pub const V6_PREFIX: u8 = 56;

/// The client's position in 0..1000 and the prefix it was computed over.
pub fn position(client: &Client) -> (u16, u8) {
    let (bits, width, prefix) = match client.addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32u8, V4_PREFIX),
        IpAddr::V6(a) => (u128::from(a), 128u8, V6_PREFIX),
    };
    let prefix = client.ecs_source.map_or(prefix, |s| s.min(prefix));
    let masked = if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix)))
    };
    let h = mix64(mix64((masked >> 64) as u64 ^ u64::from(width)) ^ masked as u64);
    ((h % u64::from(ALL)) as u16, prefix)
}

/// Is a client at `position` admitted under `permille`?
pub fn admitted(position: u16, permille: u16) -> bool {
    position < permille
}

/// The share of clients a pool admits `back_ms` after it came back, over a ramp of `ramp`
/// (linear from 0 to all); `None` (not ramping) or a zero ramp admit all.
pub fn ramp_permille(back_ms: Option<u32>, ramp: Duration) -> u16 {
    let (Some(ms), r) = (back_ms, ramp.as_millis()) else {
        return ALL;
    };
    if r == 0 || u128::from(ms) >= r {
        return ALL;
    }
    (u128::from(ms) * u128::from(ALL) / r) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::policy::testing;

    fn client_at(addr: &str, ecs: Option<u8>) -> Client {
        let m = testing::model();
        let mut c = testing::client(&m, "eu");
        c.addr = addr.parse().unwrap();
        c.ecs_source = ecs;
        c
    }

    #[test]
    fn position_is_per_subnet_and_follows_a_shorter_ecs_prefix() {
        let a = position(&client_at("81.2.69.1", Some(32)));
        let b = position(&client_at("81.2.69.200", Some(32)));
        assert_eq!(a, b, "the same /24, the same position");
        assert_eq!(a.1, 24);
        let c = position(&client_at("81.2.69.0", Some(16)));
        assert_eq!(c.1, 16);
        // Positions spread over 0..1000.
        let ps: Vec<u16> = (0..2000u32)
            .map(|i| {
                let ip = format!("10.{}.{}.0", i >> 8, i & 255);
                position(&client_at(&ip, Some(24))).0
            })
            .collect();
        let low = ps.iter().filter(|&&p| p < 500).count();
        assert!((800..1200).contains(&low), "{low} of 2000 below the middle");
    }

    /// Property: for any client and fractions f ≤ g, admitted under f implies admitted
    /// under g (a rising fraction only adds clients); 0 admits none, 1000 admits all.
    #[test]
    fn admission_is_monotone_in_the_fraction() {
        let mut x = 1u64;
        for _ in 0..5000 {
            x = mix64(x);
            let ip = IpAddr::from((x as u32).to_be_bytes());
            let pos = position(&client_at(&ip.to_string(), Some(24))).0;
            let f = (mix64(x) % 1001) as u16;
            let g = f + (mix64(x ^ 1) % u64::from(1001 - f)) as u16;
            assert!(!admitted(pos, f) || admitted(pos, g), "{pos}: {f} ≤ {g}");
            assert!(!admitted(pos, 0));
            assert!(admitted(pos, ALL));
        }
    }

    #[test]
    fn ramp_is_linear_and_ends() {
        let r = Duration::from_secs(10);
        assert_eq!(ramp_permille(None, r), ALL);
        assert_eq!(ramp_permille(Some(0), r), 0);
        assert_eq!(ramp_permille(Some(4000), r), 400);
        assert_eq!(ramp_permille(Some(10_000), r), ALL);
        assert_eq!(ramp_permille(Some(3000), Duration::ZERO), ALL);
    }
}
