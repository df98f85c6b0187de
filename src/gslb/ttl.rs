//! The TTL of a GSLB answer.
//!
//! A service answers with its `ttl` (default 30 s, 0 to 604800) while the client gets the
//! pool it would get with everything up. While it does not — it is being failed over, or
//! `when_all_down` is in force — the TTL is halved (at least 1 s), so that resolvers ask
//! again soon after the pool recovers and clients move back quickly (gdnsd halves TTLs the
//! same way). Failover time for a client is therefore about detection time + the TTL it
//! holds.

/// The longest TTL a service may have (7 days, RFC 8767's cap on stale serving aside).
pub const MAX: u32 = 604_800;

/// The TTL to answer with: `ttl`, halved (at least 1) when `degraded`.
pub fn answer_ttl(ttl: u32, degraded: bool) -> u32 {
    if degraded && ttl > 1 { ttl / 2 } else { ttl }
}

#[cfg(test)]
mod tests {
    #[test]
    fn halved_while_degraded_never_zero() {
        assert_eq!(super::answer_ttl(30, false), 30);
        assert_eq!(super::answer_ttl(30, true), 15);
        assert_eq!(super::answer_ttl(1, true), 1);
        assert_eq!(super::answer_ttl(0, false), 0);
    }
}
