//! The record of recent traffic a drill preview is computed from: per service, the client
//! placements its answers held for (the client's address cut to the prefix the decision
//! depended on, as the query path samples them) with a decaying count of queries.
//!
//! Bounded: at most [`MAX_PER_SERVICE`] placements per service (the lightest go first), and
//! counts halve every [`HALF_LIFE`], so the record follows the traffic of the last minutes.

use crate::counters::{SAMPLE_EVERY, Sample};
use ipnet::IpNet;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Placements kept per service, at most.
pub const MAX_PER_SERVICE: usize = 10_000;
/// Counts halve in this time.
pub const HALF_LIFE: Duration = Duration::from_secs(600);

/// Recent queries per service and placement.
#[derive(Debug, Default)]
pub struct Traffic {
    by: HashMap<Arc<str>, HashMap<Option<IpNet>, f64>>,
    last: Option<SystemTime>,
}

impl Traffic {
    /// Age the counts to `now`, then count `samples` (each stands for [`SAMPLE_EVERY`]
    /// queries).
    pub fn add(&mut self, samples: Vec<Sample>, now: SystemTime) {
        if let Some(last) = self.last
            && let Ok(dt) = now.duration_since(last)
        {
            let factor = 0.5f64.powf(dt.as_secs_f64() / HALF_LIFE.as_secs_f64());
            for m in self.by.values_mut() {
                m.values_mut().for_each(|v| *v *= factor);
                m.retain(|_, v| *v >= 0.5);
            }
            self.by.retain(|_, m| !m.is_empty());
        }
        self.last = Some(now);
        for s in samples {
            let m = self.by.entry(s.service).or_default();
            *m.entry(s.placement).or_default() += f64::from(SAMPLE_EVERY);
            if m.len() > MAX_PER_SERVICE {
                // Drop the lightest placement (rare: only past the bound).
                if let Some(k) = m.iter().min_by(|a, b| a.1.total_cmp(b.1)).map(|(k, _)| *k) {
                    m.remove(&k);
                }
            }
        }
    }

    /// The service's placements with their weights (empty: no recent traffic).
    pub fn of(&self, service: &str) -> Vec<(Option<IpNet>, f64)> {
        self.by
            .get(service)
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(service: &str, net: &str) -> Sample {
        Sample {
            service: service.into(),
            placement: Some(net.parse().unwrap()),
        }
    }

    #[test]
    fn counts_decay_and_stay_bounded() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut t = Traffic::default();
        t.add(vec![sample("a.", "10.0.0.0/24"); 4], t0);
        assert_eq!(t.of("a.")[0].1, 4.0 * f64::from(SAMPLE_EVERY));
        t.add(Vec::new(), t0 + HALF_LIFE);
        assert!((t.of("a.")[0].1 - 2.0 * f64::from(SAMPLE_EVERY)).abs() < 1e-9);
        let many: Vec<Sample> = (0..(MAX_PER_SERVICE as u32 + 50))
            .map(|i| {
                sample(
                    "b.",
                    &format!("{}.{}.{}.0/24", 10 + (i >> 16), (i >> 8) & 255, i & 255),
                )
            })
            .collect();
        t.add(many, t0 + HALF_LIFE);
        assert!(t.of("b.").len() <= MAX_PER_SERVICE);
        t.add(Vec::new(), t0 + HALF_LIFE * 40);
        assert!(t.of("a.").is_empty(), "old traffic fades away");
    }
}
