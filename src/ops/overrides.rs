//! Overrides: an operator's word over health checks, for a while.
//!
//! What `drain`, `down` and `up` mean for a decision is [`Force`]'s to say. An override applies from the next query on (the health engine republishes the
//! snapshot), is stored in SQLite so it survives restarts, and expires by itself — also when
//! the expiry passed while the server was down (expired rows are dropped at start).

use crate::gslb::{Force, Target};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// One override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// Its id.
    pub id: String,
    /// What it acts on.
    pub target: Target,
    /// What it does.
    pub action: Force,
    /// Why (free text from the operator).
    pub reason: String,
    /// When it was made (Unix seconds in JSON).
    #[serde(with = "crate::api::unix_secs")]
    pub created_at: SystemTime,
    /// When it expires by itself.
    #[serde(with = "crate::api::opt_unix_secs")]
    pub expires_at: Option<SystemTime>,
    /// The token name that made it.
    pub created_by: String,
    /// The drill it belongs to.
    pub drill: Option<String>,
}

impl Override {
    /// Still in force at `now`?
    pub fn active(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// What the overrides in force at `now` force, in order (later ones win).
pub fn forced(overrides: &[Override], now: SystemTime) -> Vec<(Target, Force)> {
    overrides
        .iter()
        .filter(|o| o.active(now))
        .map(|o| (o.target.clone(), o.action))
        .collect()
}
