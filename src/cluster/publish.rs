//! Health votes and latency reports: this node's contribution to the shared health view.
//!
//! Both are keys attached to the node's lease, so they vanish when the node dies or is cut
//! off for longer than the lease. A vote is written only when its verdict changes; a latency
//! report only when it moved by more than [`Settings::latency_change`](super::Settings) and
//! the last one is older than [`Settings::latency_interval`](super::Settings) — never per
//! probe. What could not be written (etcd unreachable, rate limit, lease lost and granted
//! again) stays pending and a background task writes it as soon as it can.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use etcd_client::PutOptions;

use super::counters::now_ms;
use super::node::Inner;
use super::{Cluster, ClusterError, Latency, Verdict, Vote, keys};

/// Longest round-trip time accepted for a latency report.
pub const MAX_RTT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Vote(Verdict),
    Latency(f64),
}

#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Written {
    kind: Kind,
    lease: i64,
    at: Instant,
}

/// What this node wants in etcd and what it last wrote there.
#[derive(Debug, Default)]
pub(crate) struct PubState {
    desired: BTreeMap<String, Item>,
    written: HashMap<String, Written>,
}

impl PubState {
    /// Whether `key` needs writing now under `lease`.
    fn due(&self, key: &str, lease: i64, now: Instant, interval: Duration, change: f64) -> bool {
        let Some(want) = self.desired.get(key) else {
            return false;
        };
        let Some(w) = self.written.get(key).filter(|w| w.lease == lease) else {
            return true;
        };
        match (want.kind, w.kind) {
            (Kind::Latency(new), Kind::Latency(old)) => {
                let moved = (new - old).abs() > change * old.max(0.001);
                moved && now.duration_since(w.at) >= interval
            }
            (a, b) => a != b,
        }
    }
}

impl Cluster {
    /// Publishes this node's verdict on `endpoint` from `vantage` (a region: this node's own,
    /// or that of a remote agent it relays). Writes only when the verdict differs from the
    /// last one written: `Ok(true)` when written now, `Ok(false)` when unchanged. When etcd is
    /// unreachable the verdict stays pending, is written when etcd answers again, and this
    /// returns [`ClusterError::Unavailable`].
    pub async fn publish_vote(
        &self,
        endpoint: &str,
        vantage: &str,
        verdict: Verdict,
    ) -> Result<bool, ClusterError> {
        let node = &self.inner.settings.node;
        let key = self.own_key(keys::VOTES, endpoint, vantage)?;
        let vote = Vote {
            endpoint: endpoint.to_string(),
            vantage: vantage.to_string(),
            node: node.clone(),
            verdict,
            at_ms: now_ms(),
            mod_revision: 0,
        };
        let bytes = serde_json::to_vec(&vote).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        self.inner.want(key, Kind::Vote(verdict), bytes).await
    }

    /// Publishes this node's round-trip time to `pool` from `vantage`, coarsely: only a change
    /// of more than the configured fraction, at most once per interval (`Ok(false)` when held
    /// back; the newest value is then written by the background task once the interval has
    /// passed). Errors like [`Cluster::publish_vote`].
    pub async fn publish_latency(
        &self,
        pool: &str,
        vantage: &str,
        rtt: Duration,
    ) -> Result<bool, ClusterError> {
        if rtt > MAX_RTT {
            return Err(ClusterError::Invalid(format!(
                "latency {} is longer than {}",
                humantime::format_duration(rtt),
                humantime::format_duration(MAX_RTT)
            )));
        }
        let node = &self.inner.settings.node;
        let key = self.own_key(keys::LATENCY, pool, vantage)?;
        let rtt_ms = rtt.as_secs_f64() * 1000.0;
        let report = Latency {
            pool: pool.to_string(),
            vantage: vantage.to_string(),
            node: node.clone(),
            rtt_ms,
            at_ms: now_ms(),
        };
        let bytes =
            serde_json::to_vec(&report).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        self.inner.want(key, Kind::Latency(rtt_ms), bytes).await
    }

    /// Withdraws this node's vote on `endpoint` from `vantage` (the endpoint left the
    /// configuration): nothing of it stays pending, and the key is deleted.
    pub async fn withdraw_vote(&self, endpoint: &str, vantage: &str) -> Result<(), ClusterError> {
        let rel = self.own_key(keys::VOTES, endpoint, vantage)?;
        {
            let mut st = self.inner.publish.lock().unwrap_or_else(|e| e.into_inner());
            st.desired.remove(&rel);
            st.written.remove(&rel);
        }
        let key = self.inner.key(&rel);
        self.inner
            .call("withdraw a vote", |mut c| {
                let key = key.clone();
                async move { c.delete(key, None).await }
            })
            .await
            .map(|_| ())
    }
}

impl Cluster {
    /// `<folder><name>/<vantage>/<node>`, relative to the prefix: this node's key for `name`.
    fn own_key(&self, folder: &str, name: &str, vantage: &str) -> Result<String, ClusterError> {
        Ok(format!(
            "{folder}{}/{}/{}",
            keys::segment(name)?,
            keys::segment(vantage)?,
            self.inner.settings.node
        ))
    }
}

impl Inner {
    /// Records what this node wants at `key` and writes it when due.
    async fn want(&self, key: String, kind: Kind, bytes: Vec<u8>) -> Result<bool, ClusterError> {
        let lease = self.lease_id().unwrap_or(0);
        let due = {
            let mut st = self.publish.lock().unwrap_or_else(|e| e.into_inner());
            let same = st.desired.get(&key).is_some_and(|d| d.kind == kind);
            if !same {
                st.desired.insert(key.clone(), Item { kind, bytes });
            }
            let s = &self.settings;
            st.due(
                &key,
                lease,
                Instant::now(),
                s.latency_interval,
                s.latency_change,
            )
        };
        if !due {
            return Ok(false);
        }
        if lease == 0 {
            self.pending.notify_one();
            return Err(self.unavailable(
                "this node holds no lease yet; the value is kept and written when etcd answers",
            ));
        }
        self.write(&key, lease).await.map(|()| true)
    }

    /// Writes the desired value of `key` under `lease`.
    async fn write(&self, key: &str, lease: i64) -> Result<(), ClusterError> {
        let Some(item) = self
            .publish
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .desired
            .get(key)
            .cloned()
        else {
            return Ok(());
        };
        let full = self.key(key);
        let bytes = item.bytes;
        let r = self
            .call("publish", |mut c| {
                let (full, bytes) = (full.clone(), bytes.clone());
                async move {
                    c.put(full, bytes, Some(PutOptions::new().with_lease(lease)))
                        .await
                }
            })
            .await;
        match r {
            Ok(_) => {
                self.publish
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .written
                    .insert(
                        key.to_string(),
                        Written {
                            kind: item.kind,
                            lease,
                            at: Instant::now(),
                        },
                    );
                Ok(())
            }
            Err(e) => {
                if e.is_lease_gone() {
                    self.lease_lost.notify_one();
                }
                self.pending.notify_one();
                Err(e)
            }
        }
    }

    /// Writes everything due now; returns how many writes failed.
    async fn flush(&self) -> usize {
        let Some(lease) = self.lease_id() else {
            return 0;
        };
        let mut failed = 0;
        let applied = self.applied_control.load(Ordering::Relaxed);
        if self.registered_control.load(Ordering::Relaxed) != applied
            && let Err(e) = self.register(lease).await
        {
            tracing::debug!(error = %e, "cluster: registration not updated yet");
            failed += 1;
        }
        let now = Instant::now();
        let due: Vec<String> = {
            let st = self.publish.lock().unwrap_or_else(|e| e.into_inner());
            let s = &self.settings;
            st.desired
                .keys()
                .filter(|k| st.due(k, lease, now, s.latency_interval, s.latency_change))
                .cloned()
                .collect()
        };
        for k in due {
            if let Err(e) = self.write(&k, lease).await {
                tracing::debug!(key = %k, error = %e, "cluster: pending value not written yet");
                failed += 1;
            }
        }
        failed
    }
}

/// Writes pending votes and reports: when woken (a new lease, a failed write) and every
/// 500 ms (latency held back by the rate limit).
pub(crate) async fn flush_task(inner: Arc<Inner>) {
    loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = inner.pending.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if inner.flush().await > 0 {
            // Failures: do not spin; the periodic tick retries.
            tokio::select! {
                _ = inner.cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}
