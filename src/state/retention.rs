//! Retention: how much transition history is kept, and pruning the rest.
//!
//! History grows with every up/down change; a flapping endpoint can add thousands of rows an
//! hour. Two limits bound it: an age (rows older than `max_age` go) and a count (beyond
//! `max_rows`, the oldest go). The [`StateWriter`](super::StateWriter) prunes about once a
//! minute. Current states (`endpoint_state`) are never pruned: there is one row per
//! (endpoint, region).

use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::time::to_unix_ms;
use super::{StateError, StateStore};

/// How much transition history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Transitions older than this are deleted.
    pub max_age: Duration,
    /// At most this many transitions are kept (the newest).
    pub max_rows: usize,
}

impl Default for Retention {
    /// 7 days, 100 000 rows.
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_rows: 100_000,
        }
    }
}

impl StateStore {
    /// Deletes transitions older than `retention.max_age` (before `now - max_age`) and, of
    /// the rest, all but the newest `retention.max_rows` (oldest first; "newest" orders by
    /// time, then insertion). One transaction. Returns how many rows were deleted.
    pub fn prune(&mut self, retention: &Retention, now: SystemTime) -> Result<usize, StateError> {
        let path = self.path().to_path_buf();
        let err = |e| StateError::sqlite(&path, "cannot prune history", e);
        let max_age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = to_unix_ms(now).saturating_sub(max_age_ms);
        let keep = i64::try_from(retention.max_rows).unwrap_or(i64::MAX);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let old = tx
            .execute("DELETE FROM transitions WHERE at < ?1", params![cutoff])
            .map_err(err)?;
        let excess = tx
            .execute(
                "DELETE FROM transitions WHERE id IN (
                     SELECT id FROM transitions ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?1)",
                params![keep],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(old + excess)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Transition;
    use std::time::UNIX_EPOCH;

    fn t(at_s: u64, reason: &str) -> Transition {
        Transition {
            endpoint: "e".into(),
            region: "*".into(),
            from_up: true,
            to_up: false,
            at: UNIX_EPOCH + Duration::from_secs(at_s),
            reason: reason.into(),
        }
    }

    fn reasons(store: &StateStore) -> Vec<String> {
        store
            .history(usize::MAX, None)
            .unwrap()
            .into_iter()
            .map(|t| t.reason)
            .collect()
    }

    #[test]
    fn state_prune_equal_times_keep_the_later_inserted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(&dir.path().join("s.db")).unwrap();
        store
            .write_batch(&[], &[t(10, "a"), t(10, "b"), t(10, "c")])
            .unwrap();
        let r = Retention {
            max_age: Duration::from_secs(3600),
            max_rows: 2,
        };
        let deleted = store
            .prune(&r, UNIX_EPOCH + Duration::from_secs(11))
            .unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(reasons(&store), ["c", "b"]);
    }

    #[test]
    fn state_prune_boundary_is_exclusive_and_zero_rows_empties() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(&dir.path().join("s.db")).unwrap();
        store
            .write_batch(&[], &[t(100, "old"), t(200, "edge"), t(300, "new")])
            .unwrap();
        let r = Retention {
            max_age: Duration::from_secs(100),
            max_rows: 10,
        };
        // now = 300 s: cutoff 200 s; "edge" is exactly max_age old and stays.
        let deleted = store
            .prune(&r, UNIX_EPOCH + Duration::from_secs(300))
            .unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(reasons(&store), ["new", "edge"]);
        let none = Retention {
            max_age: Duration::MAX,
            max_rows: 0,
        };
        assert_eq!(store.prune(&none, SystemTime::now()).unwrap(), 2);
        assert!(reasons(&store).is_empty());
    }
}
