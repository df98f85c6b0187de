//! [`Cluster`]: this node's membership — the etcd client, the lease that keeps
//! `nodes/<node>` and the node's votes alive, and the background tasks (lease keeper, vote
//! flusher, watcher). Everything else in the module hangs off this handle.

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{Client, PutOptions};
use tokio::sync::{Notify, OnceCell, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::counters::now_ms;
use super::publish::PubState;
use super::{ClusterCounters, ClusterError, ClusterView, NodeInfo, Settings, keys, watcher};

/// A cluster view restored from somewhere (the local cache) to start from.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The view.
    pub view: ClusterView,
    /// When it was last known current, Unix ms.
    pub synced_at_ms: i64,
}

/// This node's handle on the cluster; cheap to clone, shared by whoever needs it.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    client: OnceCell<Client>,
    options: etcd_client::ConnectOptions,
    pub(crate) counters: Arc<ClusterCounters>,
    pub(crate) view_tx: watch::Sender<Arc<ClusterView>>,
    /// The current lease (0 = none).
    lease: AtomicI64,
    /// Woken when a write finds the lease gone.
    pub(crate) lease_lost: Notify,
    /// Woken when a vote or latency report waits to be written.
    pub(crate) pending: Notify,
    pub(crate) publish: Mutex<PubState>,
    pub(crate) audit_seq: AtomicU64,
    pub(crate) cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.inner.settings.node)
            .field("lease", &self.lease_id())
            .finish_non_exhaustive()
    }
}

/// Waits between retries: 100 ms doubling to 2 s, back to the start after a success.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff(Duration::from_millis(100))
    }
    pub(crate) fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
    /// Sleeps for the current step (or until `cancel`); false when cancelled.
    pub(crate) async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

impl Cluster {
    /// Joins the cluster: starts the lease keeper (registers `nodes/<node>`), the vote flusher
    /// and the watcher (from `restored` when given: it resumes from that view's revision, and
    /// re-lists if etcd compacted past it). Needs no network: a node whose etcd is down starts,
    /// serves `restored`, and catches up when etcd answers. Fails only for settings that cannot
    /// work (an unreadable TLS file). Must be called inside a tokio runtime.
    pub fn start(settings: Settings, restored: Option<Restored>) -> Result<Cluster, ClusterError> {
        let options = settings.connect_options()?;
        let counters = Arc::new(ClusterCounters::default());
        let view = match restored {
            Some(r) => {
                counters.set_revision(r.view.revision());
                counters.synced_at(r.synced_at_ms);
                r.view
            }
            None => ClusterView::default(),
        };
        let (view_tx, _) = watch::channel(Arc::new(view.clone()));
        let inner = Arc::new(Inner {
            settings,
            client: OnceCell::new(),
            options,
            counters,
            view_tx,
            lease: AtomicI64::new(0),
            lease_lost: Notify::new(),
            pending: Notify::new(),
            publish: Mutex::new(PubState::default()),
            audit_seq: AtomicU64::new(0),
            cancel: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(lease_task(inner.clone())),
            tokio::spawn(super::publish::flush_task(inner.clone())),
            tokio::spawn(watcher::run(inner.clone(), view)),
        ];
        *inner.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        Ok(Cluster { inner })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.settings.node
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Connection, revision and sync age (for metrics and status).
    pub fn counters(&self) -> Arc<ClusterCounters> {
        self.inner.counters.clone()
    }

    /// The current lease, `None` while this node has none (etcd unreachable since start, or
    /// the lease expired and a new one is being granted).
    pub fn lease_id(&self) -> Option<i64> {
        self.inner.lease_id()
    }

    /// The latest reconciled view, and every later one as it comes: `changed().await` then
    /// `borrow_and_update()`. Views come whole (never half a transaction), in revision order;
    /// a slow reader skips to the newest.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.inner.view_tx.subscribe()
    }

    /// The latest view.
    pub fn view(&self) -> Arc<ClusterView> {
        self.inner.view_tx.borrow().clone()
    }

    /// Leaves the cluster cleanly: stops the tasks and revokes the lease, so this node's
    /// registration and votes disappear at once (bounded by the request timeout).
    pub async fn shutdown(&self) {
        self.stop_tasks().await;
        let id = self.inner.lease.swap(0, Ordering::Relaxed);
        if id != 0 {
            let r = self
                .inner
                .call("revoke the lease", |mut c| async move {
                    c.lease_revoke(id).await
                })
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "cluster: lease not revoked; it expires by itself");
            }
        }
    }

    /// Stops the tasks without revoking the lease: what a crashed or cut-off node looks like
    /// to the others (its votes expire after the lease). For tests and emergency exits.
    pub async fn abandon(&self) {
        self.stop_tasks().await;
        self.inner.lease.store(0, Ordering::Relaxed);
    }

    async fn stop_tasks(&self) {
        self.inner.cancel.cancel();
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
        self.inner.counters.set_connected(false);
    }
}

impl Inner {
    pub(crate) fn lease_id(&self) -> Option<i64> {
        Some(self.lease.load(Ordering::Relaxed)).filter(|&id| id != 0)
    }

    /// The full etcd key of `rel` (relative to the prefix).
    pub(crate) fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.settings.prefix)
    }

    pub(crate) fn unavailable(&self, detail: impl Into<String>) -> ClusterError {
        ClusterError::unavailable(&self.settings.endpoints, detail)
    }

    /// The etcd client, connected on first use (connecting talks to etcd only when a user is
    /// set, to authenticate).
    async fn client(&self) -> Result<Client, ClusterError> {
        let eps = &self.settings.endpoints;
        let c = self
            .client
            .get_or_try_init(|| async {
                match tokio::time::timeout(
                    self.settings.request_timeout,
                    Client::connect(eps, Some(self.options.clone())),
                )
                .await
                {
                    Ok(r) => r.map_err(|e| ClusterError::from_etcd(eps, e)),
                    Err(_) => Err(self.unavailable(format!(
                        "no answer within {} to connect",
                        humantime::format_duration(self.settings.request_timeout)
                    ))),
                }
            })
            .await?;
        Ok(c.clone())
    }

    /// One etcd request, bounded by the request timeout; errors mapped to [`ClusterError`].
    pub(crate) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ClusterError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let client = self.client().await?;
        match tokio::time::timeout(self.settings.request_timeout, f(client)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ClusterError::from_etcd(&self.settings.endpoints, e)),
            Err(_) => Err(self.unavailable(format!(
                "no answer within {} to {what}",
                humantime::format_duration(self.settings.request_timeout)
            ))),
        }
    }

    /// Grants a lease and registers `nodes/<node>` under it.
    async fn grant_and_register(&self) -> Result<i64, ClusterError> {
        let ttl = self.settings.lease_secs();
        let grant = self
            .call("grant a lease", |mut c| async move {
                c.lease_grant(ttl, None).await
            })
            .await?;
        let id = grant.id();
        let info = NodeInfo {
            node: self.settings.node.clone(),
            region: self.settings.region.clone(),
            started_at_ms: now_ms(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let value = serde_json::to_vec(&info).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        let key = self.key(&format!("{}{}", keys::NODES, self.settings.node));
        self.call("register this node", |mut c| async move {
            c.put(key, value, Some(PutOptions::new().with_lease(id)))
                .await
        })
        .await?;
        self.lease.store(id, Ordering::Relaxed);
        tracing::info!(node = %self.settings.node, lease = id, ttl, "cluster: registered");
        // Votes written under an older lease are gone with it: write them again.
        self.pending.notify_one();
        Ok(id)
    }

    /// Keeps lease `id` alive until it is lost, etcd stops answering, or shutdown.
    async fn keep_alive(&self, id: i64) -> KeepAlive {
        let opened = self
            .call("keep the lease alive", |mut c| async move {
                c.lease_keep_alive(id).await
            })
            .await;
        let (mut keeper, mut stream) = match opened {
            Ok(ks) => ks,
            Err(e) if e.is_lease_gone() => return KeepAlive::Lost,
            Err(e) => return KeepAlive::Error(e.to_string()),
        };
        let period = (self.settings.lease / 3).max(Duration::from_millis(300));
        loop {
            if let Err(e) = keeper.keep_alive().await {
                return KeepAlive::Error(e.to_string());
            }
            match tokio::time::timeout(self.settings.request_timeout, stream.message()).await {
                Ok(Ok(Some(r))) if r.ttl() <= 0 => return KeepAlive::Lost,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => return KeepAlive::Error("keep-alive stream closed".into()),
                Ok(Err(e)) => return KeepAlive::Error(e.to_string()),
                Err(_) => return KeepAlive::Error("no keep-alive answer in time".into()),
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return KeepAlive::Cancelled,
                _ = self.lease_lost.notified() => return KeepAlive::Lost,
                _ = tokio::time::sleep(period) => {}
            }
        }
    }
}

enum KeepAlive {
    Lost,
    Error(String),
    Cancelled,
}

/// Holds a lease for this node: grants one (and registers) when there is none, keeps it
/// alive, and starts over when etcd says it expired.
async fn lease_task(inner: Arc<Inner>) {
    let mut backoff = Backoff::new();
    loop {
        if inner.cancel.is_cancelled() {
            return;
        }
        let id = match inner.lease_id() {
            Some(id) => id,
            None => match inner.grant_and_register().await {
                Ok(id) => id,
                Err(e) => {
                    tracing::debug!(error = %e, "cluster: no lease yet");
                    if !backoff.wait(&inner.cancel).await {
                        return;
                    }
                    continue;
                }
            },
        };
        match inner.keep_alive(id).await {
            KeepAlive::Cancelled => return,
            KeepAlive::Lost => {
                tracing::warn!(lease = id, "cluster: lease expired; registering again");
                inner.lease.store(0, Ordering::Relaxed);
                backoff.reset();
            }
            KeepAlive::Error(e) => {
                tracing::debug!(error = %e, "cluster: lease keep-alive interrupted");
                if !backoff.wait(&inner.cancel).await {
                    return;
                }
            }
        }
    }
}
