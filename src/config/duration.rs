//! Durations in config files are strings like `"10s"`, `"5m"`, `"1h 30m"` (humantime syntax).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The longest duration a config file may name: a year. Longer is a typo, and would
/// overflow the clock arithmetic of timers.
pub const MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// Deserialize a humantime duration string (at most [`MAX`]).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    let v = humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration `{s}`: {e} (try \"10s\" or \"5m\")"
        ))
    })?;
    if v > MAX {
        return Err(serde::de::Error::custom(format!(
            "duration `{s}` is longer than {} (the most a setting may be)",
            humantime::format_duration(MAX)
        )));
    }
    Ok(v)
}

/// A number within `[MIN, MAX]`, for `#[serde(deserialize_with = "within::<_, T, MIN, MAX>")]`:
/// every number a config file gives has bounds, and an error names them (and the line).
pub fn within<'de, D, T, const MIN: u64, const MAX: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let v = u64::deserialize(d)?;
    if !(MIN..=MAX).contains(&v) {
        return Err(serde::de::Error::custom(format!(
            "{v} is out of range: it must be between {MIN} and {MAX}"
        )));
    }
    T::try_from(v).map_err(|_| serde::de::Error::custom(format!("{v} is too large")))
}

/// [`within`] for an optional number.
pub fn within_opt<'de, D, T, const MIN: u64, const MAX: u64>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    within::<D, T, MIN, MAX>(d).map(Some)
}
