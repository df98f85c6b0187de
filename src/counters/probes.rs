//! Health probes made by this process (regional probers and `ayadns probe` agents): how many,
//! how long, and why they failed. Process-wide (probers run outside any snapshot), relaxed
//! atomics only.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The `reason` label values of failed probes, in counter order.
pub const PROBE_REASONS: [&str; 5] = ["timeout", "connect", "status", "body", "other"];

/// Upper bounds of the probe-duration histogram's buckets, in seconds; +Inf follows.
pub const PROBE_BOUNDS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The probe counters.
pub struct Probes {
    sent: AtomicU64,
    failed: [AtomicU64; PROBE_REASONS.len()],
    buckets: [AtomicU64; PROBE_BOUNDS_S.len() + 1],
    sum_ns: AtomicU64,
}

static PROBES: Probes = Probes {
    sent: AtomicU64::new(0),
    failed: [const { AtomicU64::new(0) }; PROBE_REASONS.len()],
    buckets: [const { AtomicU64::new(0) }; PROBE_BOUNDS_S.len() + 1],
    sum_ns: AtomicU64::new(0),
};

/// The process's probe counters.
pub fn probes() -> &'static Probes {
    &PROBES
}

/// The `reason` index of a probe error as the checks word it (`src/health/check.rs`).
pub fn reason_index(error: &str) -> usize {
    if error.contains("within") || error.contains("timed out") {
        0
    } else if error.starts_with("connect") {
        1
    } else if error.starts_with("status") {
        2
    } else if error.starts_with("body") {
        3
    } else {
        4
    }
}

/// What [`Probes`] counted, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct ProbeReadings {
    /// Probes made.
    pub sent: u64,
    /// Failed probes by [`PROBE_REASONS`].
    pub failed: Vec<u64>,
    /// Duration histogram: one count per bound of [`PROBE_BOUNDS_S`], then +Inf.
    pub buckets: Vec<u64>,
    /// Sum of durations, seconds.
    pub sum_s: f64,
}

impl Probes {
    /// One probe made, taking `took`; `error` when it failed.
    pub fn record(&self, took: Duration, error: Option<&str>) {
        self.sent.fetch_add(1, Relaxed);
        if let Some(e) = error {
            self.failed[reason_index(e)].fetch_add(1, Relaxed);
        }
        let s = took.as_secs_f64();
        let b = PROBE_BOUNDS_S.partition_point(|&bound| bound < s);
        self.buckets[b].fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Everything counted so far.
    pub fn read(&self) -> ProbeReadings {
        ProbeReadings {
            sent: self.sent.load(Relaxed),
            failed: self.failed.iter().map(|a| a.load(Relaxed)).collect(),
            buckets: self.buckets.iter().map(|a| a.load(Relaxed)).collect(),
            sum_s: self.sum_ns.load(Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_checks_wording() {
        assert_eq!(
            PROBE_REASONS[reason_index("no answer within 2s")],
            "timeout"
        );
        assert_eq!(PROBE_REASONS[reason_index("connect: refused")], "connect");
        assert_eq!(PROBE_REASONS[reason_index("connect failed: x")], "connect");
        assert_eq!(PROBE_REASONS[reason_index("status 503")], "status");
        assert_eq!(PROBE_REASONS[reason_index("body does not contain")], "body");
        assert_eq!(PROBE_REASONS[reason_index("tls handshake")], "other");
    }
}
