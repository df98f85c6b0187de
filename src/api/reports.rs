//! `POST /api/v1/probe-reports`: what a remote `ayadns probe` agent sends.

use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeReports {
    /// The agent's region (its token must be bound to it).
    pub region: String,
    /// When the agent sent it (Unix seconds): a report older than the region's staleness
    /// limit, or from the future, is refused.
    pub sent_at: f64,
    /// Grows with every report of this agent: a report whose (`sent_at`, `seq`) is not
    /// newer than the last one accepted for its region is a replay and is refused.
    pub seq: u64,
    /// Its results (at most one per check target of the config).
    pub results: Vec<ProbeResult>,
}

/// The longest `error` a result may carry, in characters.
pub const MAX_ERROR_CHARS: usize = 256;

/// One result.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeResult {
    /// The target key.
    pub target: String,
    /// Passed?
    pub ok: bool,
    /// RTT in ms: finite, between 0 and the check's timeout.
    pub rtt_ms: Option<f64>,
    /// Failure reason, at most [`MAX_ERROR_CHARS`] characters.
    pub error: Option<String>,
}
