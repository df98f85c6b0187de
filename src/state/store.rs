//! [`StateStore`]: the one connection to the state database, and its reads and writes.
//!
//! Opening does everything that can fail up front, with errors that name the file: create the
//! folders, check the file can be opened for writing, WAL mode, `synchronous = NORMAL`,
//! `PRAGMA quick_check`, migrations. After that, writes are one transaction per batch.
//!
//! The store is `Send` (the [`StateWriter`](super::StateWriter) thread owns it) but not
//! `Sync`; it is never used on the query path.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, params};

use super::time::{from_unix_ms, to_unix_ms};
use super::{EndpointState, StateError, Transition, schema};

/// How long a statement waits for another process's lock before failing with
/// [`StateError::Locked`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// How many problems of `PRAGMA quick_check` go into a [`StateError::Corrupt`] message.
const QUICK_CHECK_LINES: usize = 3;

/// The health-state database (see the [module docs](super) for the tables).
pub struct StateStore {
    pub(super) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish()
    }
}

impl StateStore {
    /// Opens or creates the database at `path` (creating parent folders), sets WAL mode and
    /// `synchronous = NORMAL`, creates or migrates the schema (`PRAGMA user_version`), and runs
    /// `PRAGMA quick_check`. Errors name the file and say what is wrong: permission denied,
    /// not a directory, not a database, corrupt, locked (after waiting 2 s for the other
    /// process), newer schema. Never panics.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let op = "cannot open";
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| match file_in_the_way(dir) {
                Some(file) => StateError::NotADirectory {
                    path: path.to_path_buf(),
                    file,
                },
                None => StateError::CreateDir {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                    source,
                },
            })?;
        }
        // Open (or create) the file ourselves first: SQLite would only say "unable to open
        // database file", the OS says why. An empty file is a valid new database.
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| StateError::Io {
                path: path.to_path_buf(),
                op,
                source,
            })?;

        let err = |e| StateError::sqlite(path, op, e);
        // No SQLITE_OPEN_URI: a path starting with "file:" is a path, not a URI.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // The first statement that reads the file: garbage shows up here as NotADatabase.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems (network mounts) cannot do WAL; SQLite keeps its old mode.
            // Still correct, only readers may now block the writer.
            tracing::warn!(path = %path.display(), mode, "state database: WAL mode unavailable");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        quick_check(&conn, path)?;
        schema::migrate(&mut conn, path)?;
        Ok(StateStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored (endpoint, region) state, ordered by endpoint then region.
    pub fn load_states(&self) -> Result<Vec<EndpointState>, StateError> {
        let err = |e| StateError::sqlite(&self.path, "cannot read states", e);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT endpoint, region, up, successes, failures, last_rtt_ms, last_change,
                        last_error, updated_at
                 FROM endpoint_state ORDER BY endpoint, region",
            )
            .map_err(err)?;
        let rows = st.query_map([], state_from_row).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// One transaction: upsert all `states` (by endpoint and region), insert all
    /// `transitions` in order. Either all of it is written or none.
    pub fn write_batch(
        &mut self,
        states: &[EndpointState],
        transitions: &[Transition],
    ) -> Result<(), StateError> {
        if states.is_empty() && transitions.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let err = |e| StateError::sqlite(path, "cannot write", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO endpoint_state (endpoint, region, up, successes, failures,
                         last_rtt_ms, last_change, last_error, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (endpoint, region) DO UPDATE SET
                         up = excluded.up, successes = excluded.successes,
                         failures = excluded.failures, last_rtt_ms = excluded.last_rtt_ms,
                         last_change = excluded.last_change, last_error = excluded.last_error,
                         updated_at = excluded.updated_at",
                )
                .map_err(err)?;
            for s in states {
                upsert
                    .execute(params![
                        s.endpoint,
                        s.region,
                        s.up,
                        s.successes,
                        s.failures,
                        s.last_rtt_ms.filter(|r| !r.is_nan()),
                        to_unix_ms(s.last_change),
                        s.last_error,
                        to_unix_ms(s.updated_at),
                    ])
                    .map_err(err)?;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO transitions (endpoint, region, from_up, to_up, at, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for t in transitions {
                insert
                    .execute(params![
                        t.endpoint,
                        t.region,
                        t.from_up,
                        t.to_up,
                        to_unix_ms(t.at),
                        t.reason,
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Up to `limit` transitions, newest first (by time, then insertion order); only those of
    /// `endpoint` if given.
    pub fn history(
        &self,
        limit: usize,
        endpoint: Option<&str>,
    ) -> Result<Vec<Transition>, StateError> {
        let err = |e| StateError::sqlite(&self.path, "cannot read history", e);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT endpoint, region, from_up, to_up, at, reason FROM transitions
                 WHERE ?1 IS NULL OR endpoint = ?1
                 ORDER BY at DESC, id DESC LIMIT ?2",
            )
            .map_err(err)?;
        let rows = st
            .query_map(params![endpoint, limit], |r| {
                Ok(Transition {
                    endpoint: r.get(0)?,
                    region: r.get(1)?,
                    from_up: r.get(2)?,
                    to_up: r.get(3)?,
                    at: from_unix_ms(r.get(4)?),
                    reason: r.get(5)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// How long statements wait for another process's lock (tests shorten it).
    #[cfg(test)]
    pub(super) fn set_busy_timeout(&self, d: Duration) {
        self.conn.busy_timeout(d).expect("busy_timeout");
    }
}

/// The outermost ancestor of `dir` (or `dir` itself) that exists and is not a folder.
fn file_in_the_way(dir: &Path) -> Option<PathBuf> {
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    ancestors
        .into_iter()
        .find(|a| fs::metadata(a).is_ok_and(|m| !m.is_dir()))
        .map(Path::to_path_buf)
}

fn state_from_row(r: &Row<'_>) -> rusqlite::Result<EndpointState> {
    Ok(EndpointState {
        endpoint: r.get(0)?,
        region: r.get(1)?,
        up: r.get(2)?,
        successes: r.get(3)?,
        failures: r.get(4)?,
        last_rtt_ms: r.get(5)?,
        last_change: from_unix_ms(r.get(6)?),
        last_error: r.get(7)?,
        updated_at: from_unix_ms(r.get(8)?),
    })
}

/// `PRAGMA quick_check`: "ok", or the first problems as [`StateError::Corrupt`].
fn quick_check(conn: &Connection, path: &Path) -> Result<(), StateError> {
    let err = |e| StateError::sqlite(path, "cannot check integrity", e);
    let mut st = conn.prepare("PRAGMA quick_check").map_err(err)?;
    let mut rows = st.query([]).map_err(err)?;
    let mut problems = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let line: String = row.get(0).map_err(err)?;
        if line != "ok" {
            problems.push(line);
        }
        if problems.len() == QUICK_CHECK_LINES {
            break;
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(StateError::Corrupt {
        path: path.to_path_buf(),
        detail: problems.join("; "),
    })
}

/// `user_version` of the open database (for tests and diagnostics).
#[cfg(test)]
pub(super) fn user_version(store: &StateStore) -> i64 {
    store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SCHEMA_VERSION;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn state(endpoint: &str, region: &str, n: u32) -> EndpointState {
        EndpointState {
            endpoint: endpoint.into(),
            region: region.into(),
            up: n.is_multiple_of(2),
            successes: n,
            failures: u32::MAX - n,
            last_rtt_ms: Some(f64::from(n) + 0.25),
            last_change: UNIX_EPOCH + Duration::from_millis(1_000 + u64::from(n)),
            last_error: n.is_multiple_of(3).then(|| format!("error {n}")),
            updated_at: UNIX_EPOCH + Duration::from_millis(2_000 + u64::from(n)),
        }
    }

    #[test]
    fn state_store_open_sets_wal_normal_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("a/b/s.db")).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "synchronous = NORMAL");
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    #[test]
    fn state_store_upsert_replaces_and_extremes_survive() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(&dir.path().join("s.db")).unwrap();
        store.write_batch(&[state("e", "r", 1)], &[]).unwrap();
        let mut newer = state("e", "r", 2);
        newer.successes = u32::MAX;
        newer.last_rtt_ms = Some(f64::NAN);
        newer.last_change = UNIX_EPOCH - Duration::from_millis(5);
        store.write_batch(&[newer.clone()], &[]).unwrap();
        let got = store.load_states().unwrap();
        newer.last_rtt_ms = None; // NaN is stored as NULL
        assert_eq!(got, [newer]);
    }

    #[test]
    fn state_store_failed_batch_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(&dir.path().join("s.db")).unwrap();
        store.write_batch(&[state("a", "r", 1)], &[]).unwrap();
        // Make the transitions insert fail after the states were upserted.
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER no_t BEFORE INSERT ON transitions BEGIN SELECT RAISE(ABORT, 'nope'); END;",
            )
            .unwrap();
        let t = Transition {
            endpoint: "a".into(),
            region: "r".into(),
            from_up: true,
            to_up: false,
            at: SystemTime::now(),
            reason: "x".into(),
        };
        let e = store
            .write_batch(&[state("a", "r", 7), state("b", "r", 7)], &[t])
            .unwrap_err();
        assert!(e.to_string().contains("s.db: cannot write"), "{e}");
        assert_eq!(store.load_states().unwrap(), [state("a", "r", 1)]);
    }
}
