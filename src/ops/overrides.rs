//! Overrides: an operator's word over health checks, for a while.
//!
//! What `drain`, `down` and `up` mean for a decision is [`Force`]'s to say. An override applies from the next query on (the health engine republishes the
//! snapshot), is stored in SQLite so it survives restarts, and expires by itself — also when
//! the expiry passed while the server was down (expired rows are dropped at start).

pub use crate::api::Override;
use crate::gslb::{Force, Target};
use std::time::SystemTime;

/// What the overrides in force at `now` force, in order (later ones win).
pub fn forced(overrides: &[Override], now: SystemTime) -> Vec<(Target, Force)> {
    overrides
        .iter()
        .filter(|o| o.active(now))
        .map(|o| (o.target.clone(), o.action))
        .collect()
}
