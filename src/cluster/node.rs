//! [`Cluster`]: this node's membership — the etcd client, the lease that keeps
//! `nodes/<node>` and the node's votes alive, and the background tasks (lease keeper, vote
//! flusher, watcher). Everything else in the module hangs off this handle.
//!
//! **One endpoint at a time, failing over.** There is one client per etcd endpoint and every
//! request goes to the active one; a request that finds it unreachable or silent (a crashed,
//! paused or partitioned member) makes the next endpoint active and is tried there, each
//! endpoint once (at worst the request timeout times the endpoints, when all are silent;
//! refused connections fail at once). A single client balancing over all endpoints would keep
//! sending a share of the requests to a paused member, each waiting out the timeout. While the
//! members say they have no leader (an election, a second or two), rounds over the endpoints
//! repeat every 100 ms, up to three request timeouts in all. Retrying is safe: reads, lease
//! calls and vote writes are idempotent, and a commit carries a guard that makes a replay a
//! no-op (see `control.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
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
    /// One lazily connected client per endpoint.
    clients: Vec<OnceCell<Client>>,
    /// The endpoint requests go to.
    active: AtomicUsize,
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
    /// When this handle started, Unix ms.
    started_at_ms: i64,
    /// The control revision of the view last published (see [`ClusterView::control_revision`]).
    pub(crate) applied_control: AtomicI64,
    /// The control revision in this node's registration.
    pub(crate) registered_control: AtomicI64,
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

/// Pause between rounds over the endpoints while etcd elects a leader.
const ELECTION_PAUSE: Duration = Duration::from_millis(100);

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
    /// work ([`Settings::validate`], an unreadable TLS file). Must be called inside a tokio
    /// runtime; the tasks run until [`Cluster::shutdown`] or [`Cluster::abandon`].
    pub fn start(settings: Settings, restored: Option<Restored>) -> Result<Cluster, ClusterError> {
        settings.validate()?;
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
            clients: settings.endpoints.iter().map(|_| OnceCell::new()).collect(),
            active: AtomicUsize::new(0),
            settings,
            options,
            counters,
            view_tx,
            lease: AtomicI64::new(0),
            lease_lost: Notify::new(),
            pending: Notify::new(),
            publish: Mutex::new(PubState::default()),
            audit_seq: AtomicU64::new(0),
            started_at_ms: now_ms(),
            applied_control: AtomicI64::new(view.control_revision()),
            registered_control: AtomicI64::new(-1),
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

    /// The client of endpoint `idx`, connected on first use (connecting talks to etcd only
    /// when a user is set, to authenticate).
    async fn client(&self, idx: usize) -> Result<Client, ClusterError> {
        let ep = &self.settings.endpoints[idx..=idx];
        let c = self.clients[idx]
            .get_or_try_init(|| async {
                match tokio::time::timeout(
                    self.settings.request_timeout,
                    Client::connect(ep, Some(self.options.clone())),
                )
                .await
                {
                    Ok(r) => r.map_err(|e| ClusterError::from_etcd(ep, e)),
                    Err(_) => Err(ClusterError::unavailable(
                        ep,
                        format!(
                            "no answer within {} to connect",
                            humantime::format_duration(self.settings.request_timeout)
                        ),
                    )),
                }
            })
            .await?;
        Ok(c.clone())
    }

    /// Endpoint `idx` failed: the next one becomes active (unless another request moved on
    /// already).
    pub(crate) fn failed(&self, idx: usize) {
        let next = (idx + 1) % self.clients.len();
        let _ = self
            .active
            .compare_exchange(idx, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// One etcd request, bounded by the request timeout per try, failing over to the next
    /// endpoint when one is unreachable (see the module docs); errors mapped to
    /// [`ClusterError`].
    pub(crate) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ClusterError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.call_at(what, f).await.map(|(_, v)| v)
    }

    /// [`Inner::call`], also saying which endpoint answered (a stream that fails later marks
    /// that endpoint [`Inner::failed`]).
    pub(crate) async fn call_at<T, F, Fut>(
        &self,
        what: &str,
        mut f: F,
    ) -> Result<(usize, T), ClusterError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let timeout = self.settings.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout * 3;
        let n = self.clients.len();
        let mut last = None;
        // A first round tries every endpoint; another round only while a member said it has no
        // leader (an election takes about a second), and not past the deadline.
        loop {
            let mut electing = false;
            for _ in 0..n {
                let idx = self.active.load(Ordering::Relaxed) % n;
                let ep = &self.settings.endpoints[idx..=idx];
                let e = match self.client(idx).await {
                    Ok(client) => match tokio::time::timeout(timeout, f(client)).await {
                        Ok(Ok(v)) => return Ok((idx, v)),
                        Ok(Err(e)) => ClusterError::from_etcd(ep, e),
                        Err(_) => ClusterError::unavailable(
                            ep,
                            format!(
                                "no answer within {} to {what}",
                                humantime::format_duration(timeout)
                            ),
                        ),
                    },
                    Err(e) => e,
                };
                if !e.is_unavailable() {
                    return Err(e);
                }
                tracing::debug!(endpoint = %ep[0], error = %e, "cluster: endpoint failed; trying the next");
                electing |= e.is_election();
                self.failed(idx);
                last = Some(e);
            }
            if !electing || tokio::time::Instant::now() + ELECTION_PAUSE >= deadline {
                break;
            }
            tokio::time::sleep(ELECTION_PAUSE).await;
        }
        Err(match last {
            Some(ClusterError::Unavailable { detail, .. }) => self.unavailable(detail),
            Some(e) => e,
            None => self.unavailable("no endpoint"),
        })
    }

    /// Writes `nodes/<node>` under lease `id`, with the control revision this node applied.
    pub(crate) async fn register(&self, id: i64) -> Result<(), ClusterError> {
        let control = self.applied_control.load(Ordering::Relaxed);
        let info = NodeInfo {
            node: self.settings.node.clone(),
            region: self.settings.region.clone(),
            started_at_ms: self.started_at_ms,
            version: env!("CARGO_PKG_VERSION").to_string(),
            control_revision: control,
            applied_at_ms: now_ms(),
        };
        let value = serde_json::to_vec(&info).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        let key = self.key(&format!("{}{}", keys::NODES, self.settings.node));
        self.call("register this node", |mut c| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                c.put(key, value, Some(PutOptions::new().with_lease(id)))
                    .await
            }
        })
        .await?;
        self.registered_control.store(control, Ordering::Relaxed);
        Ok(())
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
        self.register(id).await?;
        self.lease.store(id, Ordering::Relaxed);
        tracing::info!(node = %self.settings.node, lease = id, ttl, "cluster: registered");
        // Votes written under an older lease are gone with it: write them again.
        self.pending.notify_one();
        Ok(id)
    }

    /// Keeps lease `id` alive until it is lost, etcd stops answering, or shutdown.
    async fn keep_alive(&self, id: i64) -> KeepAlive {
        let opened = self
            .call_at("keep the lease alive", |mut c| async move {
                c.lease_keep_alive(id).await
            })
            .await;
        let (idx, (mut keeper, mut stream)) = match opened {
            Ok(ks) => ks,
            Err(e) if e.is_lease_gone() => return KeepAlive::Lost,
            Err(e) => return KeepAlive::Error(e.to_string()),
        };
        let broken = |why: String| {
            self.failed(idx);
            KeepAlive::Error(why)
        };
        let period = (self.settings.lease / 3).max(Duration::from_millis(300));
        loop {
            if let Err(e) = keeper.keep_alive().await {
                return broken(e.to_string());
            }
            match tokio::time::timeout(self.settings.request_timeout, stream.message()).await {
                Ok(Ok(Some(r))) if r.ttl() <= 0 => return KeepAlive::Lost,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => return broken("keep-alive stream closed".into()),
                Ok(Err(e)) => return broken(e.to_string()),
                Err(_) => return broken("no keep-alive answer in time".into()),
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
        let since = tokio::time::Instant::now();
        let ended = inner.keep_alive(id).await;
        if since.elapsed() > inner.settings.lease {
            // It ran well for a while: retry soon, whatever failed before.
            backoff.reset();
        }
        match ended {
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
