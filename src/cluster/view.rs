//! [`ClusterView`]: everything under the prefix (but the audit trail) at one etcd revision, as
//! the watcher reconciled it — control state, live nodes, their health votes and latency.
//!
//! A view is a plain value: the watcher builds the next one from the last by applying etcd's
//! events (or a fresh listing), publishes it whole, and the local cache stores it. Values that
//! cannot be read (not JSON, or of the wrong shape) are skipped and counted, never a panic.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys;

/// A key as etcd holds it, relative to the prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    /// The value bytes.
    pub value: Vec<u8>,
    /// Revision of its last change.
    pub mod_revision: i64,
    /// Revision of its creation.
    pub create_revision: i64,
    /// The lease it is attached to (0 = none).
    pub lease: i64,
}

/// One control value (`control/<key>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlEntry {
    /// The JSON value.
    pub value: serde_json::Value,
    /// Revision of its last change: the guard for [`Cluster::delete_if_unchanged`](super::Cluster::delete_if_unchanged).
    pub mod_revision: i64,
}

impl ControlEntry {
    /// The value as `T`.
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.value)
    }
}

/// A node registration (`nodes/<node>`), alive while its lease is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name.
    pub node: String,
    /// Its vantage region.
    pub region: String,
    /// When its cluster handle started, Unix ms.
    pub started_at_ms: i64,
    /// ayadns version.
    pub version: String,
    /// The control revision it applies (compare with [`ClusterView::control_revision`]: the
    /// difference is its lag); updated after each control change it applies.
    #[serde(default)]
    pub control_revision: i64,
    /// When it wrote `control_revision`, Unix ms.
    #[serde(default)]
    pub applied_at_ms: i64,
}

/// A health verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Passing (after rise).
    Up,
    /// Failing (after fall).
    Down,
}

/// One node's verdict on one endpoint from one vantage region (`votes/…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The endpoint (or check target) key.
    pub endpoint: String,
    /// The vantage region the verdict was measured from.
    pub vantage: String,
    /// The node that published it.
    pub node: String,
    /// Up or down.
    pub verdict: Verdict,
    /// When the verdict last changed, Unix ms (the publisher's clock).
    pub at_ms: i64,
    /// The etcd revision it was written at (filled from etcd, not stored).
    #[serde(skip)]
    pub mod_revision: i64,
}

/// One node's coarse round-trip time to a pool from a vantage region (`latency/…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The pool (or target) key.
    pub pool: String,
    /// The vantage region.
    pub vantage: String,
    /// The node that published it.
    pub node: String,
    /// Round-trip time, milliseconds.
    pub rtt_ms: f64,
    /// When it was published, Unix ms.
    pub at_ms: i64,
}

/// The cluster state at one revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    revision: i64,
    raw: BTreeMap<String, RawEntry>,
    control: BTreeMap<String, ControlEntry>,
    nodes: BTreeMap<String, NodeInfo>,
    votes: BTreeMap<String, Vote>,
    latency: BTreeMap<String, Latency>,
    invalid: BTreeMap<String, String>,
}

impl ClusterView {
    /// A view of `entries` (keys relative to the prefix) at `revision`.
    pub fn from_entries(
        revision: i64,
        entries: impl IntoIterator<Item = (String, RawEntry)>,
    ) -> Self {
        let mut v = ClusterView {
            revision,
            ..Default::default()
        };
        for (k, e) in entries {
            v.put(k, e);
        }
        v
    }

    /// The etcd revision this view is complete up to (0 = nothing known yet).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The revision of the last control commit (`meta/control`), 0 before any.
    pub fn control_revision(&self) -> i64 {
        self.raw
            .get(keys::META_CONTROL)
            .map_or(0, |e| e.mod_revision)
    }

    /// Control values by key (relative to `control/`).
    pub fn control(&self) -> &BTreeMap<String, ControlEntry> {
        &self.control
    }

    /// Control values whose key starts with `folder` (e.g. `"overrides/"`).
    pub fn control_under<'a>(
        &'a self,
        folder: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a ControlEntry)> + 'a {
        self.control
            .range(folder.to_string()..)
            .take_while(move |(k, _)| k.starts_with(folder))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Live nodes by name.
    pub fn nodes(&self) -> &BTreeMap<String, NodeInfo> {
        &self.nodes
    }

    /// Names of the live nodes of `region`, sorted: the members for
    /// [`rendezvous::owner`](super::rendezvous::owner).
    pub fn members(&self, region: &str) -> Vec<&str> {
        self.nodes
            .values()
            .filter(|n| n.region == region)
            .map(|n| n.node.as_str())
            .collect()
    }

    /// Every fresh vote (their nodes' leases are alive), ordered by endpoint, vantage, node.
    pub fn votes(&self) -> impl Iterator<Item = &Vote> {
        self.votes.values()
    }

    /// The fresh votes on `endpoint`.
    pub fn votes_for<'a>(&'a self, endpoint: &'a str) -> impl Iterator<Item = &'a Vote> + 'a {
        self.votes.values().filter(move |v| v.endpoint == endpoint)
    }

    /// Every latency report.
    pub fn latency(&self) -> impl Iterator<Item = &Latency> {
        self.latency.values()
    }

    /// Keys whose value could not be read, with the reason.
    pub fn invalid(&self) -> &BTreeMap<String, String> {
        &self.invalid
    }

    /// Every entry as etcd holds it (keys relative to the prefix).
    pub fn raw(&self) -> &BTreeMap<String, RawEntry> {
        &self.raw
    }

    pub(crate) fn set_revision(&mut self, revision: i64) {
        self.revision = revision;
    }

    /// Applies a put of `key` (relative to the prefix).
    pub(crate) fn put(&mut self, key: String, e: RawEntry) {
        self.remove_typed(&key);
        if let Err(why) = self.add_typed(&key, &e) {
            tracing::warn!(key = %key, error = %why, "cluster: unreadable value skipped");
            self.invalid.insert(key.clone(), why);
        }
        self.raw.insert(key, e);
    }

    /// Applies a delete of `key`.
    pub(crate) fn delete(&mut self, key: &str) {
        self.remove_typed(key);
        self.raw.remove(key);
    }

    fn remove_typed(&mut self, key: &str) {
        self.invalid.remove(key);
        if let Some(k) = key.strip_prefix(keys::CONTROL) {
            self.control.remove(k);
        } else if let Some(k) = key.strip_prefix(keys::NODES) {
            self.nodes.remove(k);
        } else if key.starts_with(keys::VOTES) {
            self.votes.remove(key);
        } else if key.starts_with(keys::LATENCY) {
            self.latency.remove(key);
        }
    }

    fn add_typed(&mut self, key: &str, e: &RawEntry) -> Result<(), String> {
        let json = |e: &RawEntry| -> Result<serde_json::Value, String> {
            serde_json::from_slice(&e.value).map_err(|err| format!("not JSON: {err}"))
        };
        if let Some(k) = key.strip_prefix(keys::CONTROL) {
            self.control.insert(
                k.to_string(),
                ControlEntry {
                    value: json(e)?,
                    mod_revision: e.mod_revision,
                },
            );
        } else if let Some(k) = key.strip_prefix(keys::NODES) {
            let n: NodeInfo = serde_json::from_slice(&e.value).map_err(|err| err.to_string())?;
            if n.node != k {
                return Err(format!(
                    "registration of `{}` under the key of `{k}`",
                    n.node
                ));
            }
            self.nodes.insert(k.to_string(), n);
        } else if key.starts_with(keys::VOTES) {
            let mut v: Vote = serde_json::from_slice(&e.value).map_err(|err| err.to_string())?;
            v.mod_revision = e.mod_revision;
            self.votes.insert(key.to_string(), v);
        } else if key.starts_with(keys::LATENCY) {
            let l: Latency = serde_json::from_slice(&e.value).map_err(|err| err.to_string())?;
            if !l.rtt_ms.is_finite() || l.rtt_ms < 0.0 {
                return Err(format!("latency {} ms is not a duration", l.rtt_ms));
            }
            self.latency.insert(key.to_string(), l);
        }
        // Other folders (meta/, keys of newer versions) are kept raw only.
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An entry holding `v`, created and changed at `rev`.
    pub(crate) fn raw(v: &str, rev: i64) -> RawEntry {
        RawEntry {
            value: v.as_bytes().to_vec(),
            mod_revision: rev,
            create_revision: rev,
            lease: 0,
        }
    }

    #[test]
    fn cluster_view_reads_each_folder_and_skips_bad_values() {
        let mut v = ClusterView::from_entries(
            9,
            [
                ("control/overrides/a".to_string(), raw(r#"{"x":1}"#, 3)),
                ("control/drills/d".to_string(), raw("[]", 4)),
                (
                    "nodes/ns1".to_string(),
                    raw(
                        r#"{"node":"ns1","region":"eu","started_at_ms":1,"version":"0"}"#,
                        5,
                    ),
                ),
                (
                    "votes/web/eu/ns1".to_string(),
                    raw(
                        r#"{"endpoint":"web","vantage":"eu","node":"ns1","verdict":"down","at_ms":7}"#,
                        6,
                    ),
                ),
                ("votes/web/us/ns2".to_string(), raw("{broken", 7)),
                ("meta/control".to_string(), raw("\"ns1\"", 8)),
            ],
        );
        assert_eq!(v.revision(), 9);
        assert_eq!(v.control().len(), 2);
        assert_eq!(v.control_under("overrides/").count(), 1);
        assert_eq!(v.control()["overrides/a"].mod_revision, 3);
        assert_eq!(v.members("eu"), ["ns1"]);
        let votes: Vec<_> = v.votes_for("web").collect();
        assert_eq!(votes.len(), 1);
        assert_eq!(votes[0].verdict, Verdict::Down);
        assert_eq!(votes[0].mod_revision, 6);
        assert!(v.invalid().contains_key("votes/web/us/ns2"));
        assert_eq!(v.raw().len(), 6);

        v.delete("nodes/ns1");
        v.delete("votes/web/us/ns2");
        v.put("control/overrides/a".into(), raw(r#"{"x":2}"#, 10));
        assert!(v.members("eu").is_empty());
        assert!(v.invalid().is_empty());
        let x: serde_json::Value = v.control()["overrides/a"].get().unwrap();
        assert_eq!(x["x"], 2);
    }
}
