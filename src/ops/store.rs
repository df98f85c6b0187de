//! The operations tables (overrides, drills, audit) in the state database: a connection of
//! their own beside the health writer's (WAL lets both write). An operator action is one
//! [`Change`] — the state it changes and its audit entry — committed in one transaction, so
//! an action is never applied without its record, nor recorded without being applied. The
//! connection is only used from blocking threads (`Ops` hands it to `spawn_blocking`), never
//! on the async runtime.

use super::audit::{AuditEntry, Retention};
use super::drills::Drill;
use super::overrides::Override;
use crate::gslb::Force;
use crate::gslb::Target;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
            .prepare("SELECT id, target, action, reason, created_at, expires_at, created_by, drill, starts_at, scheduled, maintenance FROM overrides ORDER BY created_at")
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
                    (
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, i64>(9)? != 0,
                        r.get::<_, Option<String>>(10)?,
                    ),
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, target, action, reason, created, expires, by, drill, (starts, scheduled, mnt)) =
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
                starts_at: starts.map(time),
                scheduled,
                maintenance: mnt,
            });
        }
        Ok(out)
    }

    /// Every stored drill, newest first.
    pub fn drills(&self) -> anyhow::Result<Vec<Drill>> {
        let mut st = self
            .conn
            .prepare("SELECT id, fail, reason, started_at, ends_at, ended_at, first_moved_at, created_by, queries, scheduled FROM drills ORDER BY started_at DESC LIMIT 100")
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
                    r.get::<_, i64>(9)? != 0,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, fail, reason, started, ends, ended, moved, by, queries, scheduled) =
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
                queries: Default::default(),
                moves: Vec::new(),
                baseline: Default::default(),
                report: Default::default(),
                moved: Default::default(),
                minute_mark: (time(started), Default::default()),
                scheduled,
            });
            // The queries column holds the timeline: {"queries": …, "report": …} (or, from
            // older versions, the queries alone).
            if let (Some(last), Some(q)) = (out.last_mut(), queries) {
                match serde_json::from_str::<StoredTimeline>(&q) {
                    Ok(t) => {
                        last.queries = t.queries;
                        last.report = t.report;
                    }
                    Err(_) => last.queries = serde_json::from_str(&q).unwrap_or_default(),
                }
            }
        }
        Ok(out)
    }

    /// Apply `change` in one transaction.
    pub fn commit(&mut self, change: &Change) -> anyhow::Result<()> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| anyhow::anyhow!("{}: {e}", path.display());
        let tx = self.conn.transaction().map_err(err)?;
        for o in &change.put_overrides {
            tx.execute(
                "INSERT OR REPLACE INTO overrides (id, target, action, reason, created_at, expires_at, created_by, drill, starts_at, scheduled, maintenance) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![o.id, o.target.to_string(), o.action.as_str(), o.reason, ms(o.created_at), o.expires_at.map(ms), o.created_by, o.drill, o.starts_at.map(ms), o.scheduled as i64, o.maintenance],
            )
            .map_err(err)?;
        }
        for id in &change.delete_overrides {
            tx.execute("DELETE FROM overrides WHERE id = ?1", params![id])
                .map_err(err)?;
        }
        for d in &change.put_drills {
            let fail = serde_json::to_string(&d.fail)?;
            let queries = serde_json::to_string(&StoredTimeline {
                queries: d.queries.clone(),
                report: d.report.clone(),
            })?;
            tx.execute(
                "INSERT INTO drills (id, fail, reason, started_at, ends_at, ended_at, first_moved_at, created_by, queries, scheduled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at,
                     first_moved_at = excluded.first_moved_at, queries = excluded.queries,
                     scheduled = excluded.scheduled",
                params![d.id, fail, d.reason, ms(d.started_at), ms(d.ends_at), d.ended_at.map(ms), d.first_moved_at.map(ms), d.created_by, queries, d.scheduled as i64],
            )
            .map_err(err)?;
        }
        for a in &change.audit {
            tx.execute(
                "INSERT INTO audit (at, token, source, method, path, request, status, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![ms(a.at), a.token, a.source, a.method, a.path, a.request, a.status, a.result],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Drop audit rows older than `keep.max_age` (at `now`) and beyond the newest
    /// `keep.max_rows`. Returns how many went.
    pub fn prune_audit(&self, keep: Retention, now: SystemTime) -> anyhow::Result<usize> {
        let cutoff = now
            .checked_sub(keep.max_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut n = self
            .conn
            .execute("DELETE FROM audit WHERE at < ?1", params![ms(cutoff)])
            .map_err(|e| self.err(e))?;
        n += self
            .conn
            .execute(
                "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                params![i64::try_from(keep.max_rows).unwrap_or(i64::MAX)],
            )
            .map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Up to `limit` audit entries older than entry `before` (all when `None`), newest first.
    pub fn audit_page(&self, before: Option<i64>, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let mut st = self
            .conn
            .prepare("SELECT id, at, token, source, method, path, request, status, result FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![before.unwrap_or(i64::MAX), limit as i64], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: time(r.get(1)?),
                    token: r.get(2)?,
                    source: r.get(3)?,
                    method: r.get(4)?,
                    path: r.get(5)?,
                    request: r.get(6)?,
                    status: r.get(7)?,
                    result: r.get(8)?,
                    node: None,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

/// A drill's timeline as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredTimeline {
    queries: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    report: crate::api::DrillReport,
}

/// One committed change of the operators' state, with the audit entries that record it.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Overrides added or replaced.
    pub put_overrides: Vec<Override>,
    /// Overrides removed, by id.
    pub delete_overrides: Vec<String>,
    /// Drills started or updated.
    pub put_drills: Vec<Drill>,
    /// What records it.
    pub audit: Vec<AuditEntry>,
    /// Cluster only: marker keys set (key, value) — the running drill's id under `drill`.
    pub put_marks: Vec<(String, String)>,
    /// Cluster only: marker keys removed.
    pub delete_marks: Vec<String>,
    /// Cluster only: the control keys this change was decided on, at the revision read
    /// (0 = absent); the commit fails if any moved. One node's changes are already serial.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub guard: Vec<(String, i64)>,
}

impl Change {
    /// A change that only records.
    pub fn audit(entries: Vec<AuditEntry>) -> Change {
        Change {
            audit: entries,
            ..Change::default()
        }
    }

    /// True when it changes nothing and records nothing.
    pub fn is_empty(&self) -> bool {
        self.put_overrides.is_empty()
            && self.delete_overrides.is_empty()
            && self.put_drills.is_empty()
            && self.audit.is_empty()
            && self.put_marks.is_empty()
            && self.delete_marks.is_empty()
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
