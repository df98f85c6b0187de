//! Overrides: an operator's word over health checks, for a while.
//!
//! `drain` gives the target weight 0 (never answered, health untouched), `down` marks it down
//! (the policy chain fails over as if checks had failed), `up` marks it up whatever the checks
//! say. An override applies from the next query on (the health engine republishes the
//! snapshot), is stored in SQLite so it survives restarts, and expires by itself — also when
//! the expiry passed while the server was down (expired rows are dropped at start).

use super::target::Target;
use crate::gslb::Gslb;
use crate::health::HealthView;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// What an override does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Weight 0: never answered.
    Drain,
    /// Down, whatever the checks say.
    Down,
    /// Up, whatever the checks say.
    Up,
}

impl Action {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Drain => "drain",
            Action::Down => "down",
            Action::Up => "up",
        }
    }

    /// From the config word.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "drain" => Some(Action::Drain),
            "down" => Some(Action::Down),
            "up" => Some(Action::Up),
            _ => None,
        }
    }
}

/// One override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// Its id.
    pub id: String,
    /// What it acts on.
    pub target: Target,
    /// What it does.
    pub action: Action,
    /// Why (free text from the operator).
    pub reason: String,
    /// When it was made (Unix seconds in JSON).
    #[serde(with = "unix_secs")]
    pub created_at: SystemTime,
    /// When it expires by itself.
    #[serde(with = "opt_unix_secs")]
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

/// Apply the overrides in force at `now` to `view`. Later overrides win over earlier ones.
pub fn apply(overrides: &[Override], model: &Gslb, view: &mut HealthView, now: SystemTime) {
    for o in overrides.iter().filter(|o| o.active(now)) {
        let Ok(eps) = o.target.endpoints(model) else {
            continue; // the name left the config in a reload; the override waits
        };
        for e in eps {
            match o.action {
                Action::Drain => view.set_drained(e, true),
                Action::Down => view.set_up(e, false),
                Action::Up => view.set_up(e, true),
            }
        }
    }
}

/// Unix seconds (with fraction) in JSON.
pub mod unix_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        )
    }

    /// Deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v.max(0.0)))
    }
}

/// Optional Unix seconds in JSON.
pub mod opt_unix_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::unix_secs::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let v = Option::<f64>::deserialize(d)?;
        Ok(v.map(|v| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v.max(0.0))))
    }
}
