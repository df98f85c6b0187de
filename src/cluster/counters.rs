//! [`ClusterCounters`]: the cluster's health as plain atomics, for the metrics exposition
//! (`ayadns_cluster_connected`, `ayadns_cluster_revision`, `ayadns_cluster_sync_age_seconds`)
//! and status pages. Written by the watcher, read by anyone, never locked.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Connection, revision and freshness of this node's cluster view.
#[derive(Debug, Default)]
pub struct ClusterCounters {
    connected: AtomicBool,
    revision: AtomicI64,
    /// Unix ms when the view was last known to be current (0 = never).
    synced_at_ms: AtomicI64,
    /// Unix ms of the last disconnection (0 = never).
    disconnected_at_ms: AtomicI64,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl ClusterCounters {
    /// True while the watch on etcd is established and answering.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The revision of the view last published.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// How long ago the view was last known to be current; `None` before the first sync (or
    /// the load of a cached view).
    pub fn sync_age(&self) -> Option<Duration> {
        let at = self.synced_at_ms.load(Ordering::Relaxed);
        (at > 0).then(|| Duration::from_millis(u64::try_from(now_ms() - at).unwrap_or(0)))
    }

    /// [`ClusterCounters::sync_age`] in seconds, `+Inf` before any sync (the gauge's value).
    pub fn sync_age_seconds(&self) -> f64 {
        self.sync_age().map_or(f64::INFINITY, |d| d.as_secs_f64())
    }

    /// When the connection was last lost, Unix ms (0 = never).
    pub fn disconnected_at_ms(&self) -> i64 {
        self.disconnected_at_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, up: bool) {
        let was = self.connected.swap(up, Ordering::Relaxed);
        if was && !up {
            self.disconnected_at_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    pub(crate) fn set_revision(&self, rev: i64) {
        self.revision.store(rev, Ordering::Relaxed);
    }

    pub(crate) fn synced_at(&self, unix_ms: i64) {
        self.synced_at_ms.store(unix_ms, Ordering::Relaxed);
    }

    pub(crate) fn synced_now(&self) {
        self.synced_at(now_ms());
    }
}
