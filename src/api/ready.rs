//! `GET /healthz` and `GET /readyz`: for load balancers and orchestrators, no token needed.

use serde::{Deserialize, Serialize};

/// `GET /readyz` (200 when `ready`, else 503) and `GET /healthz` (always 200 while the
/// process serves; `checks` empty).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// Each condition and how it stands.
    pub checks: Vec<ReadyCheck>,
}

/// One readiness condition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyCheck {
    /// `zones` (zones loaded and served), `health` (every checked endpoint has a result,
    /// measured or restored from the state file) or, clustered, `cluster` (synced with etcd).
    pub name: String,
    /// Passed?
    pub ok: bool,
    /// What was found.
    pub detail: String,
}
