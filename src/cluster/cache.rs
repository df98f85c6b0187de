//! [`LocalCache`]: the last applied cluster view and its revision, kept in the node's SQLite
//! state file, so a node restarted while etcd is down serves the last known state from its
//! first query (and resumes its watch from that revision when etcd is back).
//!
//! Two tables of their own, created if missing (they do not take part in the state store's
//! numbered migrations, so the two evolve independently):
//!
//! | table | what | key |
//! | --- | --- | --- |
//! | `cluster_view` | `revision`, `saved_at` (Unix ms) per key prefix | `prefix` |
//! | `cluster_entries` | every key of the view: `value`, `mod_revision`, `create_revision`, `lease` | `(prefix, key)` |
//!
//! A save replaces the prefix's rows in one transaction: a crash leaves the previous view or
//! the new one, never a mix. The writer task saves each new revision off the async threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::counters::now_ms;
use super::{ClusterError, ClusterView, RawEntry, Restored};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_view (
    prefix   TEXT    NOT NULL PRIMARY KEY,
    revision INTEGER NOT NULL,
    saved_at INTEGER NOT NULL          -- Unix ms
) STRICT;
CREATE TABLE IF NOT EXISTS cluster_entries (
    prefix          TEXT    NOT NULL,
    key             TEXT    NOT NULL,  -- relative to the prefix
    value           BLOB    NOT NULL,
    mod_revision    INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    lease           INTEGER NOT NULL,
    PRIMARY KEY (prefix, key)
) STRICT, WITHOUT ROWID;";

/// The cluster view on disk.
pub struct LocalCache {
    conn: Connection,
    path: PathBuf,
    prefix: String,
    saved: i64,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl LocalCache {
    /// Opens (or creates) the cache tables in the SQLite file at `path` for key prefix
    /// `prefix` (a view is only restored for the prefix it was saved under).
    pub fn open(path: &Path, prefix: &str) -> Result<LocalCache, ClusterError> {
        let err = |e: &dyn std::fmt::Display| ClusterError::Cache {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| err(&e))?;
        conn.busy_timeout(Duration::from_secs(2))
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| err(&e))?;
        Ok(LocalCache {
            conn,
            path: path.to_path_buf(),
            prefix: prefix.to_string(),
            saved: 0,
        })
    }

    fn err(&self, e: rusqlite::Error) -> ClusterError {
        ClusterError::Cache {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The view saved last for this prefix, `None` when there is none.
    pub fn load(&self) -> Result<Option<Restored>, ClusterError> {
        let head: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT revision, saved_at FROM cluster_view WHERE prefix = ?1",
                [&self.prefix],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((revision, saved_at)) = head else {
            return Ok(None);
        };
        let mut st = self
            .conn
            .prepare(
                "SELECT key, value, mod_revision, create_revision, lease
                 FROM cluster_entries WHERE prefix = ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([&self.prefix], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    RawEntry {
                        value: r.get(1)?,
                        mod_revision: r.get(2)?,
                        create_revision: r.get(3)?,
                        lease: r.get(4)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(Some(Restored {
            view: ClusterView::from_entries(revision, rows),
            synced_at_ms: saved_at,
        }))
    }

    /// Saves `view` (nothing when its revision is the one saved last).
    pub fn save(&mut self, view: &ClusterView) -> Result<(), ClusterError> {
        if view.revision() == self.saved {
            return Ok(());
        }
        let tx = self.conn.transaction().map_err(|e| ClusterError::Cache {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        let r = (|| {
            tx.execute(
                "DELETE FROM cluster_entries WHERE prefix = ?1",
                [&self.prefix],
            )?;
            {
                let mut ins = tx.prepare(
                    "INSERT INTO cluster_entries
                     (prefix, key, value, mod_revision, create_revision, lease)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for (k, e) in view.raw() {
                    ins.execute(params![
                        self.prefix,
                        k,
                        e.value,
                        e.mod_revision,
                        e.create_revision,
                        e.lease
                    ])?;
                }
            }
            tx.execute(
                "INSERT INTO cluster_view (prefix, revision, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (prefix) DO UPDATE SET revision = ?2, saved_at = ?3",
                params![self.prefix, view.revision(), now_ms()],
            )?;
            tx.commit()
        })();
        r.map_err(|e| ClusterError::Cache {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        self.saved = view.revision();
        Ok(())
    }

    /// Saves every new view `views` delivers, on the blocking pool, until its sender is gone.
    /// A failed save is logged and the next view tried.
    pub fn spawn_writer(mut self, mut views: watch::Receiver<Arc<ClusterView>>) -> JoinHandle<()> {
        tokio::spawn(async move {
            while views.changed().await.is_ok() {
                let view = views.borrow_and_update().clone();
                let done = tokio::task::spawn_blocking(move || {
                    let r = self.save(&view);
                    (self, r)
                })
                .await;
                match done {
                    Ok((cache, r)) => {
                        self = cache;
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "cluster: cannot save the view locally");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cluster: cache writer failed");
                        return;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::view::tests::raw as entry;

    #[test]
    fn cluster_cache_round_trip_and_prefixes_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.db");
        let mut c = LocalCache::open(&path, "/a/").unwrap();
        assert!(c.load().unwrap().is_none());
        let v = ClusterView::from_entries(
            12,
            [
                ("control/x".to_string(), entry("{\"on\":true}", 11)),
                ("meta/control".to_string(), entry("1", 11)),
            ],
        );
        c.save(&v).unwrap();
        let v2 = ClusterView::from_entries(13, [("control/y".to_string(), entry("2", 13))]);
        c.save(&v2).unwrap();
        drop(c);

        let c = LocalCache::open(&path, "/a/").unwrap();
        let r = c.load().unwrap().expect("saved view");
        assert_eq!(r.view, v2, "the last save replaced the first whole");
        assert!(r.synced_at_ms > 0);
        let other = LocalCache::open(&path, "/b/").unwrap();
        assert!(
            other.load().unwrap().is_none(),
            "another prefix sees nothing"
        );
    }

    #[test]
    fn cluster_cache_unusable_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-db");
        std::fs::write(
            &path,
            b"this is not sqlite, just text that is long enough to matter",
        )
        .unwrap();
        let e = LocalCache::open(&path, "/a/").unwrap_err();
        assert!(e.to_string().contains("not-a-db"), "{e}");
    }
}
