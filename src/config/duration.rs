//! Durations in config files are strings like `"10s"`, `"5m"`, `"1h 30m"` (humantime syntax).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Deserialize a humantime duration string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration `{s}`: {e} (try \"10s\" or \"5m\")"
        ))
    })
}
