//! The wall clock the control plane reads: override expiry, drill ends, health staleness,
//! timestamps of probe results, transitions and audit entries.
//!
//! One [`Clock`] is made at start-up and handed to every service that needs the time. In
//! production it is the system clock. A server started with `serve --test-clock OFFSET` runs
//! a *test clock*: the system clock plus an offset that starts at OFFSET and only grows when
//! `POST /api/v1/test/clock` advances it — so black-box tests move time forward instead of
//! sleeping, and a test can restart the server "later". Timers that pace work (probe
//! intervals, flush periods) stay on real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The most a test clock may be moved ahead in all (about 100 years): `now()` never overflows.
pub const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A wall clock: the system's, or the system's plus a forward offset (tests).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds ahead of the system clock; `None`: the system clock, not movable.
    offset_ms: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { offset_ms: None }
    }

    /// A test clock starting `ahead` of the system clock (at most [`MAX_OFFSET`]).
    pub fn test(ahead: Duration) -> Clock {
        let ms = ahead.min(MAX_OFFSET).as_millis() as u64;
        Clock {
            offset_ms: Some(Arc::new(AtomicU64::new(ms))),
        }
    }

    /// Is this a test clock?
    pub fn is_test(&self) -> bool {
        self.offset_ms.is_some()
    }

    /// How far ahead of the system clock it is.
    pub fn offset(&self) -> Duration {
        self.offset_ms.as_ref().map_or(Duration::ZERO, |o| {
            Duration::from_millis(o.load(Ordering::Relaxed))
        })
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset()
    }

    /// Move a test clock forward by `by`. `Err` for the system clock, or past [`MAX_OFFSET`].
    pub fn advance(&self, by: Duration) -> Result<SystemTime, String> {
        let Some(o) = &self.offset_ms else {
            return Err("the system clock cannot be moved (start with --test-clock)".into());
        };
        let by = u64::try_from(by.as_millis()).map_err(|_| "too far".to_string())?;
        o.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
            cur.checked_add(by)
                .filter(|&n| n <= MAX_OFFSET.as_millis() as u64)
        })
        .map_err(|_| format!("a test clock moves at most {MAX_OFFSET:?} ahead"))?;
        Ok(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_forward_only_when_told_and_within_bounds() {
        let c = Clock::test(Duration::from_secs(60));
        let ahead = c.now().duration_since(SystemTime::now()).unwrap();
        assert!(ahead >= Duration::from_secs(59), "{ahead:?}");
        c.advance(Duration::from_secs(3600)).unwrap();
        assert!(c.offset() >= Duration::from_secs(3660));
        assert!(c.advance(MAX_OFFSET).is_err(), "bounded");
        assert!(Clock::system().advance(Duration::from_secs(1)).is_err());
        let clone = c.clone();
        clone.advance(Duration::from_secs(1)).unwrap();
        assert_eq!(c.offset(), clone.offset(), "clones share the clock");
    }
}
