//! The operators' state in etcd, for a cluster (feature `cluster`): the same overrides,
//! drills and audit trail as on one node, but every node reads and writes them through the
//! cluster layer ([`crate::cluster`]), so an action taken on any node applies on all.
//!
//! Keys (under the cluster prefix's `control/`): `overrides/<id>` (an [`Override`]),
//! `drills/<id>` (a [`SharedDrill`]), `drill` — the id of the drill running, which makes
//! "one drill at a time" hold for the whole cluster (starting one requires the key absent) —
//! and `maintenance/<window>`: the start of the window's last opening, so a node whose clock
//! lags cannot open a window again after another node closed it.
//! A [`Change`] becomes one etcd transaction with its audit entries and a guard on the keys
//! it read, so two operators racing cannot both win.

use super::audit::AuditEntry;
use super::drills::Drill;
use super::overrides::Override;
use super::store::Change;
use super::{OpsError, drill_key, override_key};
use crate::cluster::{Cluster, ClusterError, ClusterView, ControlOp, Guard};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A drill as stored in etcd: what every node needs to apply and revert it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedDrill {
    /// The drill.
    #[serde(flatten)]
    pub drill: crate::api::Drill,
    /// (service, region, from pool, to pool) the preview predicted.
    #[serde(default)]
    pub moves: Vec<(String, String, String, String)>,
}

impl SharedDrill {
    /// The stored form of `d`.
    pub fn of(d: &Drill) -> SharedDrill {
        SharedDrill {
            drill: d.api(),
            moves: d.moves.clone(),
        }
    }
}

/// An etcd error as an operations error (503 when etcd cannot be reached, 409 on a race).
pub fn error(e: ClusterError) -> OpsError {
    match e {
        ClusterError::Conflict => OpsError::Conflict(
            "the operators' state changed meanwhile (another operator or node): look again and retry"
                .into(),
        ),
        e if e.is_unavailable() => OpsError::Unavailable(format!(
            "{e}: the change was not made; nodes keep answering from the last known state"
        )),
        e => OpsError::Storage(e.to_string()),
    }
}

/// Commit `change` as one transaction (guarded by `change.guard`). Returns its revision.
pub async fn commit(cluster: &Cluster, change: &Change) -> Result<i64, OpsError> {
    let mut ops = Vec::new();
    for o in &change.put_overrides {
        ops.push(ControlOp::put(override_key(&o.id), o).map_err(error)?);
    }
    for id in &change.delete_overrides {
        ops.push(ControlOp::delete(override_key(id)));
    }
    for d in &change.put_drills {
        ops.push(ControlOp::put(drill_key(&d.id), &SharedDrill::of(d)).map_err(error)?);
    }
    for (key, id) in &change.put_marks {
        ops.push(ControlOp::put(key.clone(), id).map_err(error)?);
    }
    for key in &change.delete_marks {
        ops.push(ControlOp::delete(key.clone()));
    }
    let guard = if change.guard.is_empty() {
        Guard::Always
    } else {
        Guard::KeysAt(change.guard.clone())
    };
    cluster
        .commit(&ops, &change.audit, &guard)
        .await
        .map_err(error)
}

/// Per maintenance window's control key, the start (Unix seconds) of its last opening made.
pub type Marks = HashMap<String, u64>;

/// What the view says about the operators' state: overrides, drills (newest first), the
/// revision of every control key (for guards), and per maintenance window the start (Unix
/// seconds) of its last opening made.
pub fn read(view: &ClusterView) -> (Vec<Override>, Vec<SharedDrill>, HashMap<String, i64>, Marks) {
    let mut overrides = Vec::new();
    let mut drills = Vec::new();
    let mut revisions = HashMap::new();
    let mut marks = HashMap::new();
    for (key, entry) in view.control() {
        revisions.insert(key.clone(), entry.mod_revision);
        if key.starts_with("overrides/") {
            match entry.get::<Override>() {
                Ok(o) => overrides.push(o),
                Err(e) => tracing::warn!(%key, error = %e, "unreadable override in etcd: ignored"),
            }
        } else if key.starts_with("maintenance/") {
            if let Some(secs) = entry
                .get::<String>()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                marks.insert(key.clone(), secs);
            }
        } else if key.starts_with("drills/") {
            match entry.get::<SharedDrill>() {
                Ok(d) => drills.push(d),
                Err(e) => tracing::warn!(%key, error = %e, "unreadable drill in etcd: ignored"),
            }
        }
    }
    overrides.sort_by_key(|o| o.created_at);
    drills.sort_by_key(|d| std::cmp::Reverse(d.drill.started_at));
    (overrides, drills, revisions, marks)
}

/// The audit trail, newest first: each commit's entries, numbered by revision.
pub async fn audit_page(
    cluster: &Cluster,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditEntry>, OpsError> {
    let records = cluster
        .audit_trail(crate::cluster::MAX_AUDIT_LIST)
        .await
        .map_err(error)?;
    let mut out = Vec::new();
    for r in records {
        let entries: Vec<AuditEntry> = serde_json::from_value(r.entry.clone())
            .or_else(|_| serde_json::from_value(r.entry).map(|e| vec![e]))
            .unwrap_or_default();
        let n = entries.len() as i64;
        for (i, mut e) in entries.into_iter().enumerate() {
            // Unique and newest-first: the revision, then the entry's place in its commit.
            e.id = r.revision * 64 + (n - i as i64).min(63);
            e.node = Some(r.node.clone());
            if before.is_none_or(|b| e.id < b) {
                out.push(e);
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.id));
    out.truncate(limit);
    Ok(out)
}
