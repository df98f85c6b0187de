//! This node's link to the cluster, told to `[[notify]]` webhooks (topic `cluster`): once a
//! second the counters are read and the changes emitted —
//! - `cluster.disconnected` / `cluster.connected`: the watch on etcd was lost / is back (the
//!   first connection after start is not news);
//! - `cluster.lagging` / `cluster.caught_up`: the view has not been known current for longer
//!   than `[cluster] lag_alert` (also when it never was, that long after start) / is again.
//!
//! Each node tells of its own link (the event names the node).

use super::Cluster;
use crate::events::{Event, EventKind, Events};
use std::time::Duration;

/// What was last told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// Connected once at least.
    seen: bool,
    connected: bool,
    lagging: bool,
}

impl Link {
    /// The news in a reading: `connected` now, the view's sync age (`None`: never synced),
    /// how long since start, and the bound.
    pub fn read(
        &mut self,
        connected: bool,
        sync_age: Option<Duration>,
        since_start: Duration,
        bound: Duration,
    ) -> Vec<EventKind> {
        let mut out = Vec::new();
        if connected != self.connected {
            if self.seen {
                out.push(if connected {
                    EventKind::ClusterConnected
                } else {
                    EventKind::ClusterDisconnected
                });
            }
            self.connected = connected;
            self.seen |= connected;
        }
        let lagging = sync_age.unwrap_or(since_start) > bound;
        if lagging != self.lagging {
            out.push(if lagging {
                EventKind::ClusterLagging
            } else {
                EventKind::ClusterCaughtUp
            });
            self.lagging = lagging;
        }
        out
    }
}

impl Cluster {
    /// Tell `events` of this node's link to etcd, checked every second, until the cluster
    /// handle stops. `bound`: `[cluster] lag_alert`.
    pub fn watch_link(&self, events: Events, bound: Duration) {
        let counters = self.counters();
        let cancel = self.inner.cancel.clone();
        let node = self.node().to_string();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut link = Link::default();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = cancel.cancelled() => return,
                }
                let age = counters.sync_age();
                for kind in link.read(counters.connected(), age, started.elapsed(), bound) {
                    let detail = match age {
                        Some(a) => format!(
                            "view last known current {:.1}s ago (alert past {bound:?})",
                            a.as_secs_f64()
                        ),
                        None => "the view was never known current since start".to_string(),
                    };
                    events.emit(
                        Event::new(kind)
                            .target(format!("node:{node}"))
                            .detail(detail),
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;

    #[test]
    fn the_link_tells_losses_returns_and_lag_once_each() {
        let s = Duration::from_secs;
        let bound = s(10);
        let mut l = Link::default();
        // Starting: not connected yet, not news; connected: not news either.
        assert!(l.read(false, None, s(1), bound).is_empty());
        assert!(l.read(true, Some(s(0)), s(2), bound).is_empty());
        assert_eq!(
            l.read(false, Some(s(1)), s(3), bound),
            [ClusterDisconnected]
        );
        assert!(l.read(false, Some(s(5)), s(7), bound).is_empty());
        assert_eq!(l.read(false, Some(s(11)), s(13), bound), [ClusterLagging]);
        assert!(
            l.read(false, Some(s(20)), s(22), bound).is_empty(),
            "told once"
        );
        assert_eq!(
            l.read(true, Some(s(0)), s(23), bound),
            [ClusterConnected, ClusterCaughtUp]
        );
        // A node that never reaches etcd lags once the bound passed since start.
        let mut l = Link::default();
        assert!(l.read(false, None, s(5), bound).is_empty());
        assert_eq!(l.read(false, None, s(11), bound), [ClusterLagging]);
    }
}
