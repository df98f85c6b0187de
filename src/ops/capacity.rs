//! Capacity: the recent queries per second of each service (from the answer counters), the
//! expected load per pool in a drill preview, and — once a second — the share of its clients
//! each pool with a declared `capacity` admits, handed to the health engine for the
//! `capacity` chain step (see `src/config/capacity.rs` and `src/gslb/policy/capacity.rs`).

use super::drills::Counts;
use super::traffic::Traffic;
use crate::api::{PoolLoad, Preview};
use crate::gslb::capacity::{admit_permille, holds};
use crate::gslb::decide::{Asker, Inputs};
use crate::gslb::view::Admission;
use crate::gslb::{Gslb, decide};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

/// Rates are smoothed over about this long.
pub const SMOOTHING: Duration = Duration::from_secs(3);

/// Recent queries per second per service.
#[derive(Debug, Default)]
pub struct Rates {
    last: Option<(SystemTime, BTreeMap<String, u64>)>,
    qps: BTreeMap<String, f64>,
}

impl Rates {
    /// Take the answer counters at `now` into account.
    pub fn observe(&mut self, counts: &Counts, now: SystemTime) {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for (k, n) in counts {
            *totals.entry(k.service.clone()).or_default() += n;
        }
        if let Some((at, before)) = &self.last
            && let Ok(dt) = now.duration_since(*at)
            && !dt.is_zero()
        {
            let a = (dt.as_secs_f64() / SMOOTHING.as_secs_f64()).min(1.0);
            for (svc, n) in &totals {
                let rate = n.saturating_sub(before.get(svc).copied().unwrap_or(0)) as f64
                    / dt.as_secs_f64();
                let q = self.qps.entry(svc.clone()).or_insert(rate);
                *q += a * (rate - *q);
            }
        } else if self.last.is_some() {
            return;
        }
        self.last = Some((now, totals));
    }

    /// The service's recent queries per second.
    pub fn qps(&self, service: &str) -> f64 {
        self.qps.get(service).copied().unwrap_or(0.0)
    }
}

/// Add to `preview` each pool's expected load during the drill (per service, its share of the
/// traffic during the drill × the service's recent queries per second) against its capacity,
/// with a warning per pool under `headroom ×` its load.
pub fn add_loads(model: &Gslb, preview: &mut Preview, rates: &Rates) {
    let mut load: BTreeMap<String, f64> = BTreeMap::new();
    for (svc, ways) in &preview.services {
        let qps = rates.qps(svc);
        for (pool, share) in ways.get("during").into_iter().flatten() {
            *load.entry(pool.clone()).or_default() += share * qps;
        }
    }
    for (pool, expected) in load {
        let capacity = model.pool_id(&pool).and_then(|p| model.pools[p].capacity);
        let ok = capacity.is_none_or(|c| holds(c, expected, model.headroom));
        if let (false, Some(c)) = (ok, capacity) {
            preview.warnings.push(format!(
                "{pool}: capacity {c:.0} queries/s is under headroom {} × the expected {expected:.0} queries/s ({:.0})",
                model.headroom,
                model.headroom * expected
            ));
        }
        preview.loads.push(PoolLoad {
            pool,
            expected_qps: expected,
            capacity,
            headroom: model.headroom,
            ok,
        });
    }
}

/// Per pool with a declared capacity that is asked for more: the share (per mille) of its
/// clients it admits, `min(1, capacity ÷ demand)`, where demand is the recent queries per
/// second of the answers whose first pool it would be with every client admitted (the recorded
/// placements run through the real decision). Empty when no service's chain has `capacity`.
pub fn admission(inputs: &Inputs<'_>, traffic: &Traffic, rates: &Rates) -> HashMap<String, u16> {
    let model = inputs.model;
    let mut out = HashMap::new();
    let spilling: Vec<_> = model
        .services
        .iter()
        .filter(|s| s.chain.iter().any(|st| st.word() == "capacity"))
        .filter(|s| s.pools.iter().any(|&p| model.pools[p].capacity.is_some()))
        .collect();
    if spilling.is_empty() {
        return out;
    }
    // Every client admitted: what each would get without spilling (or ramping).
    let mut ideal = inputs.health.clone();
    for p in 0..model.pools.len() {
        ideal.set_admission(p, Admission::default());
    }
    let mut demand = vec![0.0f64; model.pools.len()];
    for svc in spilling {
        let name = svc.name.to_string();
        let qps = rates.qps(&name);
        let recorded = traffic.of(&name);
        let total: f64 = recorded.iter().map(|(_, w)| w).sum();
        if qps <= 0.0 || total <= 0.0 {
            continue;
        }
        for (net, w) in recorded {
            let asker = match net {
                Some(n) => Asker {
                    source: n.addr(),
                    ecs: Some((n.addr(), n.prefix_len())),
                    seed: 0,
                },
                None => Asker {
                    source: std::net::IpAddr::from([0, 0, 0, 0]),
                    ecs: None,
                    seed: 0,
                },
            };
            let client = asker.locate(model, inputs.geo);
            let mut d = decide(
                model,
                svc,
                false,
                &client,
                &ideal,
                inputs.everything_up,
                false,
            );
            if d.pools.is_empty() {
                d = decide(
                    model,
                    svc,
                    true,
                    &client,
                    &ideal,
                    inputs.everything_up,
                    false,
                );
            }
            if let Some(&p) = d.pools.first() {
                demand[p] += qps * w / total;
            }
        }
    }
    for (p, pool) in model.pools.iter().enumerate() {
        if let Some(c) = pool.capacity {
            out.insert(pool.name.clone(), admit_permille(c, demand[p]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::AnswerKey;

    fn counts(n: u64) -> Counts {
        BTreeMap::from([(
            AnswerKey {
                service: "www.".into(),
                region: "eu".into(),
                pool: "eu-west".into(),
            },
            n,
        )])
    }

    #[test]
    fn rates_follow_the_counters() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut r = Rates::default();
        r.observe(&counts(0), t0);
        assert_eq!(r.qps("www."), 0.0);
        r.observe(&counts(100), t0 + Duration::from_secs(1));
        assert!(
            (r.qps("www.") - 100.0).abs() < 1e-9,
            "first rate taken as is"
        );
        for s in 2..20 {
            r.observe(&counts(100 + (s - 1) * 50), t0 + Duration::from_secs(s));
        }
        assert!((r.qps("www.") - 50.0).abs() < 2.0, "{}", r.qps("www."));
    }
}
