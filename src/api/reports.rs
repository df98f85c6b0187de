//! `POST /api/v1/probe-reports`: what a remote `ayadns probe` agent sends.

use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeReports {
    /// The agent's region.
    pub region: String,
    /// Its results.
    pub results: Vec<ProbeResult>,
}

/// One result.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The target key.
    pub target: String,
    /// Passed?
    pub ok: bool,
    /// RTT in ms.
    pub rtt_ms: Option<f64>,
    /// Failure reason.
    pub error: Option<String>,
}
