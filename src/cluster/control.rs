//! Control state: a keyed store of JSON values under `control/` (overrides, drills …), changed
//! only by [`Cluster::commit`] — one etcd transaction that applies the change, appends the
//! audit entry, and bumps `meta/control`, all or nothing, and only if its [`Guard`] holds. Two
//! operators racing on the same state cannot both win: the second one's guard fails and it
//! gets [`ClusterError::Conflict`] with nothing written.

use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

use super::counters::now_ms;
use super::{Cluster, ClusterError, keys};

/// Most operations in one commit (etcd allows 128 per transaction; the audit entry and the
/// control revision take two, the guard's compares none).
pub const MAX_OPS: usize = 100;
/// Most bytes of values in one commit (etcd refuses requests over 1.5 MiB).
pub const MAX_COMMIT_BYTES: usize = 1024 * 1024;
/// Most audit records one [`Cluster::audit_trail`] call returns.
pub const MAX_AUDIT_LIST: usize = 10_000;

/// One change to the control state.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlOp {
    /// Set `key` (relative to `control/`) to `value`.
    Put {
        /// The key.
        key: String,
        /// The JSON value.
        value: serde_json::Value,
    },
    /// Remove `key` (nothing happens when it does not exist).
    Delete {
        /// The key.
        key: String,
    },
}

impl ControlOp {
    /// A put of any serializable value.
    pub fn put(key: impl Into<String>, value: &impl Serialize) -> Result<ControlOp, ClusterError> {
        Ok(ControlOp::Put {
            key: key.into(),
            value: serde_json::to_value(value).map_err(|e| ClusterError::Invalid(e.to_string()))?,
        })
    }

    /// A delete.
    pub fn delete(key: impl Into<String>) -> ControlOp {
        ControlOp::Delete { key: key.into() }
    }

    fn key(&self) -> &str {
        match self {
            ControlOp::Put { key, .. } | ControlOp::Delete { key } => key,
        }
    }
}

/// When a commit may apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Always (still atomic with its audit entry).
    Always,
    /// Only if no control commit happened after this revision — pass the revision of the view
    /// the decision was made on. Any change to the control state since then is a conflict.
    UnchangedSince(i64),
    /// Only if each control key is still at its mod_revision (0 = the key must not exist):
    /// finer than [`Guard::UnchangedSince`], for changes that touch a few keys.
    KeysAt(Vec<(String, i64)>),
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The node that took the request.
    pub node: String,
    /// When it committed, Unix ms (the node's clock).
    pub at_ms: i64,
    /// What the caller gave as the audit entry.
    pub entry: serde_json::Value,
    /// The etcd revision of the commit (filled from etcd, not stored).
    #[serde(default, skip_serializing)]
    pub revision: i64,
}

impl Cluster {
    /// Applies `ops` and appends `audit` to the audit trail in one etcd transaction, if
    /// `guard` holds. Returns the revision of the commit; every node's view reaches it.
    /// Errors: [`ClusterError::Conflict`] (the guard failed; nothing written),
    /// [`ClusterError::Unavailable`] (etcd unreachable or too slow: when it timed out, the
    /// commit may still have been applied — the audit trail tells), [`ClusterError::Invalid`]
    /// (bad key, too many ops, too large), [`ClusterError::Refused`].
    pub async fn commit(
        &self,
        ops: &[ControlOp],
        audit: &impl Serialize,
        guard: &Guard,
    ) -> Result<i64, ClusterError> {
        if ops.len() > MAX_OPS {
            return Err(ClusterError::Invalid(format!(
                "a commit holds at most {MAX_OPS} changes, not {}",
                ops.len()
            )));
        }
        let inner = &self.inner;
        let mut size = 0usize;
        let mut then = Vec::with_capacity(ops.len() + 2);
        for op in ops {
            keys::check_control_key(op.key())?;
            let key = inner.key(&format!("{}{}", keys::CONTROL, op.key()));
            match op {
                ControlOp::Put { value, .. } => {
                    let bytes = serde_json::to_vec(value)
                        .map_err(|e| ClusterError::Invalid(e.to_string()))?;
                    size += key.len() + bytes.len();
                    then.push(TxnOp::put(key, bytes, None));
                }
                ControlOp::Delete { .. } => {
                    size += key.len();
                    then.push(TxnOp::delete(key, None));
                }
            }
        }
        let now = now_ms();
        let record = AuditRecord {
            node: inner.settings.node.clone(),
            at_ms: now,
            entry: serde_json::to_value(audit).map_err(|e| ClusterError::Invalid(e.to_string()))?,
            revision: 0,
        };
        let record =
            serde_json::to_vec(&record).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        size += record.len();
        if size > MAX_COMMIT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "a commit holds at most {MAX_COMMIT_BYTES} bytes, not {size}"
            )));
        }
        let seq = inner.audit_seq.fetch_add(1, Ordering::Relaxed);
        let audit_key = inner.key(&format!(
            "{}{now:013}-{}-{seq:06}",
            keys::AUDIT,
            inner.settings.node
        ));
        then.push(TxnOp::put(audit_key.clone(), record, None));
        let meta =
            serde_json::to_vec(&serde_json::json!({ "node": inner.settings.node, "at_ms": now }))
                .map_err(|e| ClusterError::Invalid(e.to_string()))?;
        then.push(TxnOp::put(inner.key(keys::META_CONTROL), meta, None));

        let when = match guard {
            Guard::Always => Vec::new(),
            Guard::UnchangedSince(rev) => vec![Compare::mod_revision(
                inner.key(keys::META_CONTROL),
                CompareOp::Less,
                rev.saturating_add(1),
            )],
            Guard::KeysAt(list) => {
                let mut v = Vec::with_capacity(list.len());
                for (k, rev) in list {
                    keys::check_control_key(k)?;
                    v.push(Compare::mod_revision(
                        inner.key(&format!("{}{k}", keys::CONTROL)),
                        CompareOp::Equal,
                        *rev,
                    ));
                }
                v
            }
        };
        // The audit key is new to this commit: requiring it absent makes a retry of the same
        // commit (after a timeout on another endpoint) a no-op, and the else branch reads it
        // to tell "applied by the earlier try" from "the guard failed".
        let mut when = when;
        when.push(Compare::create_revision(
            audit_key.clone(),
            CompareOp::Equal,
            0,
        ));
        let txn = Txn::new()
            .when(when)
            .and_then(then)
            .or_else([TxnOp::get(audit_key, None)]);
        let resp = inner
            .call("commit", |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        if resp.succeeded() {
            return Ok(resp.header().map_or(0, |h| h.revision()));
        }
        for r in resp.op_responses() {
            if let TxnOpResponse::Get(g) = r
                && let Some(kv) = g.kvs().first()
            {
                return Ok(kv.mod_revision());
            }
        }
        Err(ClusterError::Conflict)
    }

    /// Deletes control `key` if it is still at `mod_revision`, with `audit` — the exactly-once
    /// step for expiries and drill reverts: every node may try, the first one deletes
    /// (`Ok(Some(revision))`), the others find it changed or gone (`Ok(None)`) and do nothing.
    pub async fn delete_if_unchanged(
        &self,
        key: &str,
        mod_revision: i64,
        audit: &impl Serialize,
    ) -> Result<Option<i64>, ClusterError> {
        if mod_revision <= 0 {
            return Err(ClusterError::Invalid(format!(
                "delete_if_unchanged of `{key}` needs the revision it was read at, not {mod_revision}"
            )));
        }
        let guard = Guard::KeysAt(vec![(key.to_string(), mod_revision)]);
        match self.commit(&[ControlOp::delete(key)], audit, &guard).await {
            Ok(rev) => Ok(Some(rev)),
            Err(ClusterError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest `limit` audit records (at most [`MAX_AUDIT_LIST`]), newest first (in commit
    /// order, whatever the nodes' clocks say).
    pub async fn audit_trail(&self, limit: usize) -> Result<Vec<AuditRecord>, ClusterError> {
        let limit = limit.clamp(1, MAX_AUDIT_LIST);
        let key = self.inner.key(keys::AUDIT);
        let resp = self
            .inner
            .call("read the audit trail", |mut c| {
                let key = key.clone();
                async move {
                    let opts = GetOptions::new()
                        .with_prefix()
                        .with_sort(SortTarget::Mod, SortOrder::Descend)
                        .with_limit(limit as i64);
                    c.get(key, Some(opts)).await
                }
            })
            .await?;
        let mut out = Vec::with_capacity(resp.kvs().len());
        for kv in resp.kvs() {
            match serde_json::from_slice::<AuditRecord>(kv.value()) {
                Ok(mut r) => {
                    r.revision = kv.mod_revision();
                    out.push(r);
                }
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(kv.key()),
                    error = %e,
                    "cluster: unreadable audit record skipped"
                ),
            }
        }
        Ok(out)
    }

    /// Keep the audit trail bounded: delete records older than `before_ms` (Unix ms) and all
    /// but the newest `keep` records. Returns how many went. Any node may run it; it is
    /// idempotent (audit keys sort by time).
    pub async fn prune_audit(&self, before_ms: i64, keep: u64) -> Result<i64, ClusterError> {
        let start = self.inner.key(keys::AUDIT);
        let end = self
            .inner
            .key(&format!("{}{:013}", keys::AUDIT, before_ms.max(0)));
        let old = self
            .inner
            .call("prune the audit trail", |mut c| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    c.delete(start, Some(DeleteOptions::new().with_range(end)))
                        .await
                }
            })
            .await?
            .deleted();
        // Past `keep` records: find the newest record to drop, delete up to it.
        let count = self
            .inner
            .call("count the audit trail", |mut c| {
                let start = start.clone();
                async move {
                    c.get(
                        start,
                        Some(GetOptions::new().with_prefix().with_count_only()),
                    )
                    .await
                }
            })
            .await?
            .count();
        let excess = count.saturating_sub(i64::try_from(keep).unwrap_or(i64::MAX));
        if excess <= 0 {
            return Ok(old);
        }
        let last = self
            .inner
            .call("find the oldest audit records", |mut c| {
                let start = start.clone();
                async move {
                    let opts = GetOptions::new()
                        .with_prefix()
                        .with_keys_only()
                        .with_sort(SortTarget::Key, SortOrder::Ascend)
                        .with_limit(excess);
                    c.get(start, Some(opts)).await
                }
            })
            .await?;
        let Some(last) = last.kvs().last().map(|kv| kv.key().to_vec()) else {
            return Ok(old);
        };
        let mut end = last;
        end.push(0); // just past the last key to drop
        let more = self
            .inner
            .call("prune the audit trail", |mut c| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    c.delete(start, Some(DeleteOptions::new().with_range(end)))
                        .await
                }
            })
            .await?
            .deleted();
        Ok(old + more)
    }
}
