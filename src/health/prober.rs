//! Regional probers: for each prober region, one task per check target that probes it every
//! interval (with ±10 % jitter, and a random first delay so a restart does not probe
//! everything at once), under one process-wide semaphore that bounds probes in flight.
//!
//! In one process, the regions share the host's network but keep separate results: each is a
//! vantage point of its own in the aggregation. A real deployment runs `ayadns probe` agents
//! in the other regions (see [`super::agent`]); they use these same loops.

use super::check::Outcome;
use super::targets::ProbeTarget;
use crate::clock::Clock;
use crate::gslb::RegionId;
use crate::hash::{mix64, unit};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// One probe result.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's key.
    pub target: String,
    /// The region that probed.
    pub region: RegionId,
    /// What it found.
    pub outcome: Outcome,
    /// When.
    pub at: SystemTime,
}

/// Start probing `targets` from each of `regions`, until `cancel`.
pub fn spawn(
    targets: &[ProbeTarget],
    regions: &[RegionId],
    slots: Arc<Semaphore>,
    tx: mpsc::UnboundedSender<Report>,
    clock: Clock,
    cancel: CancellationToken,
) {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    for &region in regions {
        for (i, t) in targets.iter().enumerate() {
            let t = t.clone();
            let tx = tx.clone();
            let slots = slots.clone();
            let cancel = cancel.clone();
            let clock = clock.clone();
            let mut rng = mix64(seed ^ ((region as u64) << 32) ^ i as u64);
            tokio::spawn(async move {
                let interval = t.timing.interval;
                let mut wait = interval.mul_f64(unit(rng));
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => return,
                    }
                    let outcome = {
                        let Ok(_permit) = slots.acquire().await else {
                            return;
                        };
                        let started = std::time::Instant::now();
                        let outcome = t.check.probe(t.timing.timeout).await;
                        crate::counters::probes()
                            .record(started.elapsed(), outcome.error.as_deref());
                        outcome
                    };
                    let report = Report {
                        target: t.key.clone(),
                        region,
                        outcome,
                        at: clock.now(),
                    };
                    if tx.send(report).is_err() {
                        return;
                    }
                    rng = mix64(rng);
                    wait = jittered(interval, unit(rng));
                }
            });
        }
    }
}

/// `interval` ± 10 %, from a uniform draw in (0, 1].
fn jittered(interval: Duration, u: f64) -> Duration {
    interval.mul_f64(0.9 + 0.2 * u)
}
