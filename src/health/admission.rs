//! What the engine lays over the view besides overrides: per pool, how long ago it came back
//! after being down (the failback ramp of `[service.failover] ramp`, timed here so the query
//! path never reads a clock), and the share of its clients its capacity admits (computed by
//! ops every second, see `src/ops/capacity.rs`).
//!
//! A pool is *usable* when at least one of its endpoints is up and not drained and its
//! endpoints up reach `min_healthy`. It *comes back* when it turns usable after not being
//! usable (checks failed, or an override or drill took it down or drained it); it then ramps
//! for the longest ramp of the services that answer from it. A pool that stops being usable
//! during its ramp starts over when it comes back. Pools usable when first seen (start-up, a
//! reload that adds them) do not ramp.

use crate::gslb::admission::ALL;
use crate::gslb::view::Admission;
use crate::gslb::{Gslb, HealthView, PoolId};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How often a running ramp is republished, at most.
pub const MIN_PERIOD: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Down,
    Back(SystemTime),
    Steady,
}

/// Ramps by pool name (so they survive reloads) and the capacity admission from ops.
#[derive(Debug, Default)]
pub struct Overlay {
    ramps: HashMap<String, State>,
    capacity: HashMap<String, u16>,
}

/// Per pool, the longest failback ramp of the services that answer from it.
pub fn longest_ramps(model: &Gslb) -> Vec<Option<Duration>> {
    let mut out = vec![None; model.pools.len()];
    for svc in &model.services {
        if let Some(r) = svc.chain.iter().filter_map(|s| s.ramp()).max() {
            for &p in &svc.pools {
                out[p] = out[p].max(Some(r));
            }
        }
    }
    out
}

fn usable(model: &Gslb, view: &HealthView, p: PoolId) -> bool {
    let pool = &model.pools[p];
    let live = pool
        .endpoints
        .iter()
        .filter(|&&e| view.is_up(e) && !view.is_drained(e))
        .count();
    let total = pool.endpoints.len().max(1);
    live > 0 && view.pool_up(p) as f64 / total as f64 >= pool.min_healthy
}

impl Overlay {
    /// Set the capacity admission (per mille, by pool name; absent: all). True when it changed.
    pub fn set_capacity(&mut self, capacity: HashMap<String, u16>) -> bool {
        let capacity: HashMap<String, u16> =
            capacity.into_iter().filter(|(_, v)| *v < ALL).collect();
        let changed = capacity != self.capacity;
        self.capacity = capacity;
        changed
    }

    /// Observe the pools of `view` (health with overrides laid over) at `now`, and write
    /// into it each pool's admission. Returns how soon it should be republished while a ramp
    /// runs (`None`: nothing ramps).
    pub fn apply(
        &mut self,
        model: &Gslb,
        view: &mut HealthView,
        now: SystemTime,
    ) -> Option<Duration> {
        let longest = longest_ramps(model);
        let mut next: Option<Duration> = None;
        let mut seen = HashMap::with_capacity(model.pools.len());
        for (p, pool) in model.pools.iter().enumerate() {
            let ok = usable(model, view, p);
            let before = self.ramps.get(&pool.name).copied();
            let mut state = match (before, ok) {
                (None, true) => State::Steady,
                (_, false) => State::Down,
                (Some(State::Down), true) => State::Back(now),
                (Some(s), true) => s,
            };
            let mut back_ms = None;
            if let State::Back(at) = state {
                let elapsed = now.duration_since(at).unwrap_or_default();
                match longest[p] {
                    Some(r) if elapsed < r => {
                        back_ms = Some(elapsed.as_millis().min(u128::from(u32::MAX)) as u32);
                        let period = (r / 20).max(MIN_PERIOD);
                        next = Some(next.map_or(period, |n| n.min(period)));
                    }
                    _ => state = State::Steady,
                }
            }
            seen.insert(pool.name.clone(), state);
            view.set_admission(
                p,
                Admission {
                    back_ms,
                    capacity: self.capacity.get(&pool.name).copied().unwrap_or(ALL),
                },
            );
        }
        self.ramps = seen;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::admission::ramp_permille;
    use crate::gslb::policy::testing::*;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + s)
    }

    fn share(m: &Gslb, o: &mut Overlay, h: &HealthView, s: u64) -> (u16, Option<Duration>) {
        let mut v = h.clone();
        let next = o.apply(m, &mut v, at(s));
        let eu = m.pool_id("eu-west").unwrap();
        (
            ramp_permille(v.admission(eu).back_ms, Duration::from_secs(10)),
            next,
        )
    }

    fn set_eu(m: &Gslb, h: &mut HealthView, up: bool) {
        for e in ["eu-west-a", "eu-west-b", "eu-west-c"] {
            h.set_up(ep(m, e), up);
        }
    }

    #[test]
    fn a_pool_that_comes_back_ramps_and_an_interruption_starts_over() {
        let m = model_with("[service.failover]\nramp = \"10s\"\n");
        let mut o = Overlay::default();
        let mut h = all_up(&m);
        // Seen up first: no ramp.
        assert_eq!(share(&m, &mut o, &h, 0), (ALL, None));
        set_eu(&m, &mut h, false);
        assert_eq!(share(&m, &mut o, &h, 1).0, ALL, "down: not ramping");
        set_eu(&m, &mut h, true);
        let (s, next) = share(&m, &mut o, &h, 2);
        assert_eq!(s, 0, "back: starts from nothing");
        assert_eq!(
            next,
            Some(Duration::from_millis(500)),
            "republished every ramp/20"
        );
        assert_eq!(share(&m, &mut o, &h, 6).0, 400);
        // Fails again mid-ramp, comes back: starts over.
        set_eu(&m, &mut h, false);
        share(&m, &mut o, &h, 7);
        set_eu(&m, &mut h, true);
        assert_eq!(share(&m, &mut o, &h, 8).0, 0);
        assert_eq!(share(&m, &mut o, &h, 13).0, 500);
        assert_eq!(share(&m, &mut o, &h, 18), (ALL, None), "ramp over");
        assert_eq!(share(&m, &mut o, &h, 30), (ALL, None));
    }

    #[test]
    fn a_drain_that_ends_ramps_too_and_no_ramp_means_none() {
        let m = model_with("[service.failover]\nramp = \"10s\"\n");
        let mut o = Overlay::default();
        let mut h = all_up(&m);
        share(&m, &mut o, &h, 0);
        for e in ["eu-west-a", "eu-west-b", "eu-west-c"] {
            h.set_drained(ep(&m, e), true);
        }
        share(&m, &mut o, &h, 1);
        let h = all_up(&m);
        assert_eq!(share(&m, &mut o, &h, 2).0, 0);
        // Without a ramp setting a pool comes back at once.
        let m = model();
        let mut o = Overlay::default();
        let mut h = all_up(&m);
        share(&m, &mut o, &h, 0);
        set_eu(&m, &mut h, false);
        share(&m, &mut o, &h, 1);
        set_eu(&m, &mut h, true);
        assert_eq!(share(&m, &mut o, &h, 2), (ALL, None));
    }

    #[test]
    fn capacity_admission_is_laid_over() {
        let m = model();
        let mut o = Overlay::default();
        assert!(o.set_capacity(HashMap::from([("eu-west".to_string(), 600)])));
        assert!(!o.set_capacity(HashMap::from([("eu-west".to_string(), 600)])));
        let mut v = all_up(&m);
        o.apply(&m, &mut v, at(0));
        assert_eq!(v.admission(m.pool_id("eu-west").unwrap()).capacity, 600);
        assert_eq!(v.admission(m.pool_id("us-east").unwrap()).capacity, ALL);
    }
}
