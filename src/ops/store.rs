//! The operations tables (overrides, drills, audit) in the state database: a connection of
//! their own beside the health writer's (WAL lets both write). Operations are rare and must
//! be durable when the API answers, so each is written at once in its own transaction.

use super::audit::AuditEntry;
use super::drills::Drill;
use super::overrides::Override;
use crate::gslb::Force;
use crate::gslb::Target;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The connection.
pub struct OpsStore {
    conn: Connection,
    path: PathBuf,
}

/// Times are stored as Unix milliseconds, as in the health tables.
use crate::state::time::{from_unix_ms as time, to_unix_ms as ms};

impl OpsStore {
    /// Open the state database (already created and migrated by [`crate::state::StateStore`]).
    pub fn open(path: &Path) -> anyhow::Result<OpsStore> {
        let conn = Connection::open(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(2))?;
        Ok(OpsStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> anyhow::Error {
        anyhow::anyhow!("{}: {e}", self.path.display())
    }

    /// Every stored override.
    pub fn overrides(&self) -> anyhow::Result<Vec<Override>> {
        let mut st = self
            .conn
            .prepare("SELECT id, target, action, reason, created_at, expires_at, created_by, drill FROM overrides ORDER BY created_at")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, target, action, reason, created, expires, by, drill) =
                row.map_err(|e| self.err(e))?;
            let (Ok(target), Some(action)) = (target.parse::<Target>(), Force::parse(&action))
            else {
                continue;
            };
            out.push(Override {
                id,
                target,
                action,
                reason,
                created_at: time(created),
                expires_at: expires.map(time),
                created_by: by,
                drill,
            });
        }
        Ok(out)
    }

    /// Store an override.
    pub fn insert_override(&self, o: &Override) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO overrides (id, target, action, reason, created_at, expires_at, created_by, drill) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![o.id, o.target.to_string(), o.action.as_str(), o.reason, ms(o.created_at), o.expires_at.map(ms), o.created_by, o.drill],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Remove an override.
    pub fn delete_override(&self, id: &str) -> anyhow::Result<()> {
        self.conn
            .execute("DELETE FROM overrides WHERE id = ?1", params![id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Store or update a drill.
    pub fn save_drill(&self, d: &Drill) -> anyhow::Result<()> {
        let fail = serde_json::to_string(&d.fail)?;
        let queries = serde_json::to_string(&d.queries)?;
        self.conn
            .execute(
                "INSERT INTO drills (id, fail, reason, started_at, ends_at, ended_at, first_moved_at, created_by, queries)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at,
                     first_moved_at = excluded.first_moved_at, queries = excluded.queries",
                params![d.id, fail, d.reason, ms(d.started_at), ms(d.ends_at), d.ended_at.map(ms), d.first_moved_at.map(ms), d.created_by, queries],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every stored drill, newest first.
    pub fn drills(&self) -> anyhow::Result<Vec<Drill>> {
        let mut st = self
            .conn
            .prepare("SELECT id, fail, reason, started_at, ends_at, ended_at, first_moved_at, created_by, queries FROM drills ORDER BY started_at DESC LIMIT 100")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, fail, reason, started, ends, ended, moved, by, queries) =
                row.map_err(|e| self.err(e))?;
            out.push(Drill {
                id,
                fail: serde_json::from_str(&fail).unwrap_or_default(),
                reason,
                started_at: time(started),
                ends_at: time(ends),
                ended_at: ended.map(time),
                first_moved_at: moved.map(time),
                created_by: by,
                queries: queries
                    .and_then(|q| serde_json::from_str(&q).ok())
                    .unwrap_or_default(),
                moves: Vec::new(),
                baseline: Default::default(),
            });
        }
        Ok(out)
    }

    /// Record an audit entry.
    pub fn audit(&self, a: &AuditEntry) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO audit (at, token, source, method, path, request, status, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![ms(a.at), a.token, a.source, a.method, a.path, a.request, a.status, a.result],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let mut st = self
            .conn
            .prepare("SELECT at, token, source, method, path, request, status, result FROM audit ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![limit as i64], |r| {
                Ok(AuditEntry {
                    at: time(r.get(0)?),
                    token: r.get(1)?,
                    source: r.get(2)?,
                    method: r.get(3)?,
                    path: r.get(4)?,
                    request: r.get(5)?,
                    status: r.get(6)?,
                    result: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

impl OpsStore {
    /// The newest health transitions (written by the health engine's writer), newest first.
    pub fn transitions(&self, limit: usize) -> anyhow::Result<Vec<crate::state::Transition>> {
        let mut st = self
            .conn
            .prepare("SELECT endpoint, region, from_up, to_up, at, reason FROM transitions ORDER BY at DESC, id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![limit as i64], |r| {
                Ok(crate::state::Transition {
                    endpoint: r.get(0)?,
                    region: r.get(1)?,
                    from_up: r.get::<_, i64>(2)? != 0,
                    to_up: r.get::<_, i64>(3)? != 0,
                    at: time(r.get(4)?),
                    reason: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
