//! The schema, as numbered migrations tracked by `PRAGMA user_version`.
//!
//! A fresh file has `user_version` 0; migration *n* (1-based) takes it to *n*. Each runs in
//! its own `BEGIN IMMEDIATE` transaction together with the version bump, so a crash or a
//! second process starting at the same moment never leaves a half-migrated file. To change
//! the schema, append a migration — never edit one that has shipped. A file whose version is
//! newer than [`SCHEMA_VERSION`] is refused ([`StateError::TooNew`]) rather than guessed at.
//!
//! Planned: overrides (operator up/down pins), drills, an audit log — each a new migration.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StateError;

/// The migrations, in order; `MIGRATIONS[i]` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: endpoint health and its change history.
    "CREATE TABLE endpoint_state (
        endpoint    TEXT    NOT NULL,
        region      TEXT    NOT NULL,
        up          INTEGER NOT NULL CHECK (up IN (0, 1)),
        successes   INTEGER NOT NULL,
        failures    INTEGER NOT NULL,
        last_rtt_ms REAL,
        last_change INTEGER NOT NULL,  -- Unix ms
        last_error  TEXT,
        updated_at  INTEGER NOT NULL,  -- Unix ms
        PRIMARY KEY (endpoint, region)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE transitions (
        id       INTEGER PRIMARY KEY,
        endpoint TEXT    NOT NULL,
        region   TEXT    NOT NULL,     -- '*' = the aggregated state
        from_up  INTEGER NOT NULL CHECK (from_up IN (0, 1)),
        to_up    INTEGER NOT NULL CHECK (to_up IN (0, 1)),
        at       INTEGER NOT NULL,     -- Unix ms
        reason   TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX transitions_at ON transitions (at);
    CREATE INDEX transitions_endpoint ON transitions (endpoint, at);",
    // 2: operations — overrides, DR drills, the audit trail (src/ops).
    "CREATE TABLE overrides (
        id         TEXT    PRIMARY KEY,
        target     TEXT    NOT NULL,   -- endpoint:NAME, pool:NAME, region:NAME
        action     TEXT    NOT NULL CHECK (action IN ('drain', 'down', 'up')),
        reason     TEXT    NOT NULL,
        created_at INTEGER NOT NULL,   -- Unix ms
        expires_at INTEGER,            -- Unix ms; NULL = until removed
        created_by TEXT    NOT NULL,
        drill      TEXT                -- the drill it belongs to, if any
    ) STRICT;
    CREATE TABLE drills (
        id             TEXT    PRIMARY KEY,
        fail           TEXT    NOT NULL,   -- JSON array of targets
        reason         TEXT    NOT NULL,
        started_at     INTEGER NOT NULL,
        ends_at        INTEGER NOT NULL,
        ended_at       INTEGER,
        first_moved_at INTEGER,
        created_by     TEXT    NOT NULL,
        queries        TEXT                -- JSON: queries per service and pool during the drill
    ) STRICT;
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at      INTEGER NOT NULL,          -- Unix ms
        token   TEXT    NOT NULL,          -- token name, '-' when none was valid
        source  TEXT    NOT NULL,
        method  TEXT    NOT NULL,
        path    TEXT    NOT NULL,
        request TEXT    NOT NULL,
        status  INTEGER NOT NULL,
        result  TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX audit_at ON audit (at);",
    // 3: scheduled overrides and drills, maintenance windows' overrides (src/ops).
    "ALTER TABLE overrides ADD COLUMN starts_at INTEGER;   -- Unix ms; NULL = when made
    ALTER TABLE overrides ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0 CHECK (scheduled IN (0, 1));
    ALTER TABLE overrides ADD COLUMN maintenance TEXT;    -- the [[maintenance]] window
    ALTER TABLE drills ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0 CHECK (scheduled IN (0, 1));",
];

/// The schema version this build writes (the number of migrations).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the database at `path` (open as `conn`) up to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StateError> {
    let op = "cannot migrate the schema";
    let err = |e| StateError::sqlite(path, op, e);
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Read inside the write transaction: another process may have migrated meanwhile.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        // `version` is in 0..SCHEMA_VERSION here.
        let sql = MIGRATIONS[usize::try_from(version).unwrap_or(0)];
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::debug!(path = %path.display(), version = version + 1, "state database migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn state_schema_fresh_file_gets_every_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), 0);
        migrate(&mut conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            [
                "audit",
                "audit_at",
                "drills",
                "endpoint_state",
                "overrides",
                "sqlite_autoindex_drills_1",
                "sqlite_autoindex_overrides_1",
                "transitions",
                "transitions_at",
                "transitions_endpoint"
            ]
        );
        // Idempotent: a second run changes nothing (and does not fail on existing tables).
        migrate(&mut conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn state_schema_refuses_a_newer_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = migrate(&mut conn, &path).unwrap_err();
        assert!(
            matches!(e, StateError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
            "{e:?}"
        );
        assert!(
            e.to_string().contains(&format!(
                "s.db: schema version {} is newer",
                SCHEMA_VERSION + 1
            )),
            "{e}"
        );
        assert!(tables(&conn).is_empty(), "nothing was created");
    }

    #[test]
    fn state_schema_strict_tables_reject_wrong_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let bad = conn.execute(
            "INSERT INTO endpoint_state VALUES ('e', 'r', 1, 'many', 0, NULL, 0, NULL, 0)",
            [],
        );
        assert!(
            bad.is_err(),
            "STRICT table accepted text in an INTEGER column"
        );
    }
}
