//! Health across the nodes of a cluster (feature `cluster`).
//!
//! - **Votes.** This node publishes its verdict per (check target, vantage region) — after
//!   rise/fall, only when it changes — on its lease, so a node that dies or is cut off stops
//!   voting after `[cluster] lease`. Verdicts of remote agents that report to this node are
//!   published the same way. Every node reads every node's votes from the same view and
//!   computes the same quorum ([`super::aggregate::Aggregator::set_remote`]).
//! - **Probe sharing.** The nodes of one region split the targets by rendezvous hashing: a
//!   target is probed from a region by one live member of it, so adding nodes does not add
//!   probes to the backends; when a member's lease ends, its targets move to the others.
//! - **Latency** from this node's region is published coarsely (changes over ~10 %, at most
//!   every few seconds); regions measured elsewhere fill the latency map from the view.
//!
//! Publishing runs on a task of its own: a slow or absent etcd never holds the engine.

use crate::cluster::{Cluster, ClusterView, Verdict, rendezvous};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

enum Publish {
    Vote(String, String, bool),
    Withdraw(String, String),
    Latency(String, String, f64),
}

/// This node's side of health sharing.
pub struct Sharing {
    cluster: Cluster,
    views: watch::Receiver<Arc<ClusterView>>,
    out: mpsc::UnboundedSender<Publish>,
    /// Live members of this node's region at the last ownership decision.
    members: Vec<String>,
}

impl Sharing {
    /// Start sharing through `cluster` (spawns the publishing task).
    pub fn new(cluster: Cluster) -> Sharing {
        let (out, mut rx) = mpsc::unbounded_channel::<Publish>();
        let c = cluster.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                let r = match &p {
                    Publish::Vote(t, region, up) => {
                        let v = if *up { Verdict::Up } else { Verdict::Down };
                        c.publish_vote(t, region, v).await.map(|_| ())
                    }
                    Publish::Withdraw(t, region) => c.withdraw_vote(t, region).await,
                    Publish::Latency(pool, region, ms) => c
                        .publish_latency(pool, region, Duration::from_secs_f64(ms / 1000.0))
                        .await
                        .map(|_| ()),
                };
                if let Err(e) = r
                    && !e.is_unavailable()
                {
                    tracing::warn!(error = %e, "health not shared with the cluster");
                }
                // Unavailable: the cluster layer keeps the newest value and writes it when
                // etcd is back.
            }
        });
        let views = cluster.subscribe();
        Sharing {
            cluster,
            views,
            out,
            members: Vec::new(),
        }
    }

    /// This node's vantage region.
    pub fn region(&self) -> &str {
        &self.cluster.settings().region
    }

    /// The next view (waits for a change).
    pub async fn changed(&mut self) -> Option<Arc<ClusterView>> {
        self.views.changed().await.ok()?;
        Some(self.views.borrow_and_update().clone())
    }

    /// The view now.
    pub fn view(&self) -> Arc<ClusterView> {
        self.views.borrow().clone()
    }

    /// Publish this node's verdict on `target` from `region`.
    pub fn vote(&self, target: &str, region: &str, up: bool) {
        let _ = self
            .out
            .send(Publish::Vote(target.into(), region.into(), up));
    }

    /// Take back this node's verdict on `target` from `region` (another node probes it).
    pub fn withdraw(&self, target: &str, region: &str) {
        let _ = self
            .out
            .send(Publish::Withdraw(target.into(), region.into()));
    }

    /// Publish the RTT from this node's region to `pool` (coarsely, by the cluster layer).
    pub fn latency(&self, pool: &str, ms: f64) {
        let region = self.region().to_string();
        let _ = self.out.send(Publish::Latency(pool.into(), region, ms));
    }

    /// Whether the members of this node's region changed since the last call; updates them.
    pub fn members_changed(&mut self, view: &ClusterView) -> bool {
        let mut now: Vec<String> = view
            .members(self.region())
            .into_iter()
            .map(str::to_string)
            .collect();
        now.sort();
        if now == self.members {
            return false;
        }
        self.members = now;
        true
    }

    /// Whether this node probes `target` from its region: its rendezvous owner among the live
    /// members of the region (all of them while no member is known, as when etcd has not been
    /// reached yet).
    pub fn owns(&self, target: &str) -> bool {
        let me = self.cluster.node();
        if !self.members.iter().any(|m| m == me) {
            return true;
        }
        let members: Vec<&str> = self.members.iter().map(String::as_str).collect();
        rendezvous::owner(&members, target) == Some(me)
    }

    /// Other nodes' votes in `view`: (target key, region) → up, the newest per pair.
    pub fn remote_votes(&self, view: &ClusterView) -> HashMap<(String, String), bool> {
        let me = self.cluster.node();
        let mut newest: HashMap<(String, String), (i64, bool)> = HashMap::new();
        for v in view.votes().filter(|v| v.node != me) {
            let key = (v.endpoint.clone(), v.vantage.clone());
            let up = v.verdict == Verdict::Up;
            let e = newest.entry(key).or_insert((v.mod_revision, up));
            if v.mod_revision >= e.0 {
                *e = (v.mod_revision, up);
            }
        }
        newest.into_iter().map(|(k, (_, up))| (k, up)).collect()
    }

    /// Other nodes' latency in `view`: (region, pool) → ms, the newest per pair.
    pub fn remote_latency(&self, view: &ClusterView) -> HashMap<(String, String), f64> {
        let me = self.cluster.node();
        let mut newest: HashMap<(String, String), (i64, f64)> = HashMap::new();
        for l in view.latency().filter(|l| l.node != me) {
            let e = newest
                .entry((l.vantage.clone(), l.pool.clone()))
                .or_insert((l.at_ms, l.rtt_ms));
            if l.at_ms >= e.0 {
                *e = (l.at_ms, l.rtt_ms);
            }
        }
        newest.into_iter().map(|(k, (_, ms))| (k, ms)).collect()
    }
}
