//! Response rate limiting (RRL) for UDP answers, keyed by client network.
//!
//! The limiter is governor's GCRA over a state store of our own: a fixed array of atomic
//! slots, one per hash of the client network (`ipv4_prefix`/`ipv6_prefix`). The array is
//! allocated once, so a flood from any number of source addresses cannot grow it; networks
//! that hash to the same slot share its budget (the hash is keyed per process, so nobody can
//! aim a flood at a chosen victim's slot). Checking a response is one hash and one
//! compare-and-swap: no lock, no allocation.
//!
//! Over the limit a response is dropped, except every `slip`-th one, which goes out as an
//! empty TC=1 answer so a real resolver behind a spoofed flood retries over TCP.

use super::counters::{self, Kind};
use crate::config::rrl::RrlConfig;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use std::cell::Cell;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Send,
    /// Send an empty TC=1 answer instead.
    Slip,
    /// Send nothing.
    Drop,
}

/// The fixed-size table of GCRA states.
#[derive(Debug)]
pub struct Slots {
    cells: Box<[AtomicU64]>,
    mask: usize,
    seed: [u64; 2],
}

impl Slots {
    fn new(size: usize, seed: [u64; 2]) -> Self {
        let size = size.next_power_of_two();
        Self {
            cells: (0..size).map(|_| AtomicU64::new(0)).collect(),
            mask: size - 1,
            seed,
        }
    }

    fn slot(&self, key: u128) -> &AtomicU64 {
        let lo = mix(key as u64 ^ self.seed[0]);
        let hi = mix((key >> 64) as u64 ^ self.seed[1]);
        &self.cells[(mix(lo ^ hi.rotate_left(17)) as usize) & self.mask]
    }
}

/// A 64-bit finalizer (splitmix64's): every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl StateStore for Slots {
    type Key = u128;

    fn measure_and_replace<T, F, E>(&self, key: &u128, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let cell = self.slot(*key);
        let mut prev = cell.load(Ordering::Acquire);
        loop {
            let seen = (prev != 0).then(|| Nanos::from(prev));
            let (out, next) = f(seen)?;
            match cell.compare_exchange_weak(
                prev,
                u64::from(next).max(1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(out),
                Err(now) => prev = now,
            }
        }
    }
}

/// The rate limiter of the UDP path (one per process, shared by every worker).
pub struct Rrl {
    limiter:
        RateLimiter<u128, Slots, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>,
    slip: u32,
    v4_mask: u32,
    v6_mask: u128,
    exempt: Vec<IpNet>,
}

impl std::fmt::Debug for Rrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rrl").field("slip", &self.slip).finish()
    }
}

impl Rrl {
    /// The limiter `config` describes, or None when it is off (`rate = 0`).
    pub fn new(config: &RrlConfig) -> Option<Self> {
        let rate = NonZeroU32::new(config.rate)?;
        let burst = config.burst.and_then(NonZeroU32::new).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        let seed = super::cookies::random_key();
        let slots = Slots::new(config.table_size, seed);
        let v4_mask = u32::MAX
            .checked_shl(32 - u32::from(config.ipv4_prefix))
            .unwrap_or(0);
        let v6_mask = u128::MAX
            .checked_shl(128 - u32::from(config.ipv6_prefix))
            .unwrap_or(0);
        Some(Self {
            limiter: RateLimiter::new(quota, slots, DefaultClock::default()),
            slip: config.slip,
            v4_mask,
            v6_mask,
            exempt: config.exempt.clone(),
        })
    }

    /// The client network of `ip` as a table key (IPv4-mapped IPv6 counts as IPv4).
    fn key(&self, ip: IpAddr) -> u128 {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => (1u128 << 64) | u128::from(u32::from(v4) & self.v4_mask),
            IpAddr::V6(v6) => u128::from(v6) & self.v6_mask,
        }
    }

    /// Decide about one response of kind `kind` to `client`; counts what it withholds.
    #[inline]
    pub fn check(&self, client: IpAddr, kind: Kind) -> Verdict {
        if !self.exempt.is_empty() && self.exempt.iter().any(|n| n.contains(&client)) {
            counters::rrl_exempt(false);
            return Verdict::Send;
        }
        if self.limiter.check_key(&self.key(client)).is_ok() {
            return Verdict::Send;
        }
        // Which over-limit responses slip: every `slip`-th one this worker withholds.
        thread_local! {
            static OVER: Cell<u32> = const { Cell::new(0) };
        }
        let n = OVER.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        if self.slip > 0 && n.is_multiple_of(self.slip) {
            counters::rrl_slipped(kind);
            Verdict::Slip
        } else {
            counters::rrl_dropped(kind);
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrl(rate: u32, slip: u32, table: usize) -> Rrl {
        let c = RrlConfig {
            rate,
            slip,
            table_size: table,
            exempt: vec!["10.9.0.0/16".parse().unwrap()],
            ..RrlConfig::default()
        };
        Rrl::new(&c).unwrap()
    }

    #[test]
    fn limits_per_network_and_slips_at_the_ratio() {
        let r = rrl(10, 2, 1024);
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let same_net: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let mut sent = 0;
        let mut slipped = 0;
        for i in 0..100 {
            let ip = if i % 2 == 0 { a } else { same_net };
            match r.check(ip, Kind::Answer) {
                Verdict::Send => sent += 1,
                Verdict::Slip => slipped += 1,
                Verdict::Drop => {}
            }
        }
        assert!((10..=11).contains(&sent), "sent {sent}");
        assert!((44..=46).contains(&slipped), "slipped {slipped}");
        assert_eq!(r.check(other, Kind::NxDomain), Verdict::Send);
        for _ in 0..100 {
            assert_eq!(
                r.check("10.9.3.4".parse().unwrap(), Kind::Error),
                Verdict::Send
            );
        }
    }

    #[test]
    fn keys_follow_the_prefixes() {
        let r = rrl(1, 0, 1024);
        let k = |s: &str| r.key(s.parse().unwrap());
        assert_eq!(k("192.0.2.1"), k("192.0.2.254"));
        assert_ne!(k("192.0.2.1"), k("192.0.3.1"));
        assert_eq!(k("::ffff:192.0.2.1"), k("192.0.2.9"));
        assert_eq!(k("2001:db8:0:ff::1"), k("2001:db8:0:0::2"));
        assert_ne!(k("2001:db8:0:100::1"), k("2001:db8:0:0::2"));
    }

    #[test]
    fn the_table_does_not_grow() {
        let r = rrl(1, 0, 1024);
        for i in 0..200_000u32 {
            r.check(
                IpAddr::V4(i.wrapping_mul(2_654_435_761).into()),
                Kind::Answer,
            );
        }
        assert_eq!(r.limiter.into_state_store().cells.len(), 1024);
    }
}
