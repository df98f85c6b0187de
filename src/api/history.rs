//! `GET /api/v1/history`: the last hour of traffic and health, sampled by the server into a
//! bounded ring (kept in memory; lost on restart, kept across reloads).

use super::unix_secs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The samples, oldest first, and the events (failovers, drills, overrides, reloads).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// Seconds between samples.
    pub interval_s: f64,
    /// Samples, oldest first (at most an hour's worth).
    pub samples: Vec<Sample>,
    /// Events in the same hour, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// One sample: rates over the interval that ends at `at`, and health at `at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// End of the interval (Unix seconds).
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// DNS queries per second over the interval.
    pub qps: f64,
    /// GSLB answers per second over the interval, by first pool answered.
    pub pool_answers: BTreeMap<String, f64>,
    /// Per pool: the share of its endpoints up (0 … 1) at `at`.
    pub pool_health: BTreeMap<String, f64>,
}

/// Something that happened: shown as a marker on the charts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// When (Unix seconds).
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// `down`, `up` (an endpoint's health changed), `drill`, `override`, `reload`.
    pub kind: String,
    /// What, in words.
    pub text: String,
}
