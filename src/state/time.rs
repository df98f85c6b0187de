//! `SystemTime` ↔ Unix milliseconds, the form times are stored in.
//!
//! Milliseconds are plenty for health (checks run every few seconds) and fit an SQLite
//! `INTEGER`. Conversion truncates toward the epoch and saturates instead of panicking, so a
//! clock far in the past or future still stores and loads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as milliseconds since the Unix epoch (negative before it), truncated toward the
/// epoch, saturating at the `i64` range.
pub(crate) fn to_unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The time `ms` milliseconds after (or, negative, before) the Unix epoch; saturates at what
/// `SystemTime` can represent.
pub(crate) fn from_unix_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    let t = if ms >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    t.unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_time_round_trips_whole_milliseconds() {
        for ms in [
            0,
            1,
            999,
            1_700_000_000_123,
            -1,
            -1_500,
            i64::from(i32::MAX) * 1000,
        ] {
            assert_eq!(to_unix_ms(from_unix_ms(ms)), ms, "{ms}");
        }
    }

    #[test]
    fn state_time_truncates_sub_millisecond_parts() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_987_654);
        assert_eq!(to_unix_ms(t), 1_700_000_000_123);
        assert_eq!(
            from_unix_ms(to_unix_ms(t)),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        );
        let before = UNIX_EPOCH - Duration::new(2, 500_400_000);
        assert_eq!(to_unix_ms(before), -2_500);
    }

    #[test]
    fn state_time_extremes_do_not_panic() {
        let _ = from_unix_ms(i64::MAX);
        let _ = from_unix_ms(i64::MIN);
        assert_eq!(to_unix_ms(from_unix_ms(0)), 0);
    }
}
