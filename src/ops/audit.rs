//! The audit trail: every mutation through the admin API — overrides, drills, reloads, and
//! rejected attempts too — with time, token name (never the token), source address, the
//! request and the result. Expiries and drill ends are recorded as `system` entries.

use serde::Serialize;
use std::time::SystemTime;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When.
    #[serde(with = "crate::api::unix_secs")]
    pub at: SystemTime,
    /// The token's name, `-` when no valid token was given, `system` for automatic actions.
    pub token: String,
    /// The client address.
    pub source: String,
    /// HTTP method (or `expire`, `end` for automatic actions).
    pub method: String,
    /// Path.
    pub path: String,
    /// The request body (JSON, as sent).
    pub request: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// The answer body, shortened.
    pub result: String,
}
