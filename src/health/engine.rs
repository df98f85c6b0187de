//! The health engine: runs the local probers, takes their reports (and remote agents'),
//! aggregates them, publishes a new health view when something changed, and hands state and
//! transitions to the SQLite writer. It owns the aggregator; nothing else touches it.
//!
//! Up/down changes are published at once; latency-only changes at most every 250 ms, so
//! thousands of reports a second do not mean thousands of snapshot swaps.

use super::aggregate::Aggregator;
use super::prober::{self, Report};
use super::targets::{self, ProbeTarget};
use crate::clock::Clock;
use crate::config::health::HealthConfig;
use crate::events::{Event, EventKind, Events};
use crate::gslb::Forced;
use crate::model::Model;
use crate::snapshot::Publisher;
use crate::state::{EndpointState, StateWriter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// How often every state (counters, RTTs) is written, besides up/down changes at once.
const FULL_WRITE: Duration = Duration::from_secs(30);

/// A handle to the running engine.
#[derive(Clone)]
pub struct HealthHandle {
    tx: mpsc::UnboundedSender<Msg>,
    reports: mpsc::UnboundedSender<Report>,
}

/// Per checked endpoint: its measured state over all regions, and per vantage region.
pub type StatusDetail = HashMap<
    crate::gslb::EndpointId,
    (
        crate::api::ProbeSummary,
        std::collections::BTreeMap<String, crate::api::Vantage>,
    ),
>;

enum Msg {
    NewModel(
        Box<Model>,
        Box<HealthConfig>,
        tokio::sync::oneshot::Sender<()>,
    ),
    Forced(Forced, tokio::sync::oneshot::Sender<()>),
    Status(tokio::sync::oneshot::Sender<StatusDetail>),
    Tick(tokio::sync::oneshot::Sender<()>),
    Capacity(HashMap<String, u16>),
}

impl HealthHandle {
    /// Feed a report (from a remote agent).
    pub fn report(&self, r: Report) {
        let _ = self.reports.send(r);
    }

    /// Per-region health detail of every endpoint (for status pages).
    pub async fn status(&self) -> StatusDetail {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Status(tx)).is_err() {
            return StatusDetail::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Is the engine running? (When it is not, nothing can change what is served.)
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Set what is forced (overrides in force, scheduled weights); returns once the snapshot
    /// with them is published.
    pub async fn set_forced(&self, list: Forced) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Forced(list, done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Set the share of each pool's clients its capacity admits (per mille by pool name;
    /// absent: all), computed by ops; republished when it changed.
    pub fn set_capacity(&self, admit: HashMap<String, u16>) {
        let _ = self.tx.send(Msg::Capacity(admit));
    }

    /// Re-evaluate staleness now and publish what changed (after a test clock moved).
    pub async fn tick(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Tick(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Swap in a reloaded model: health state carries over by endpoint name; the new model
    /// and its health view are published together. Returns once published.
    pub async fn set_model(&self, model: Model, cfg: HealthConfig) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self
            .tx
            .send(Msg::NewModel(Box::new(model), Box::new(cfg), done))
            .is_ok()
        {
            let _ = wait.await;
        }
    }
}

/// Everything the engine needs for one model.
struct Running {
    model: Arc<Model>,
    targets: Vec<ProbeTarget>,
    index: HashMap<String, usize>,
    agg: Aggregator,
    probers: CancellationToken,
    /// The regions probed from here, and per target whether this process probes it (in a
    /// cluster, a region's members split the targets).
    regions: Vec<crate::gslb::RegionId>,
    owned: Vec<bool>,
    /// Latency measured by other nodes: (region, pool) → ms.
    remote_latency: Vec<(crate::gslb::RegionId, crate::gslb::PoolId, f64)>,
}

/// What probing starts from: the targets, the aggregator with the restored state, and what
/// operators force.
pub struct Initial {
    /// What is probed.
    pub targets: Vec<ProbeTarget>,
    /// The aggregator, warm-started.
    pub agg: Aggregator,
    /// What is forced (overrides and drills in force at start, scheduled weights).
    pub forced: Forced,
}

/// Build the aggregator for `model` from `restored` states (warm start) — call before
/// serving, so the first answer already reflects stored health.
pub fn initial(
    model: &Model,
    cfg: &HealthConfig,
    restored: &[EndpointState],
    now: SystemTime,
) -> Initial {
    let targets = targets::targets(&model.gslb, cfg);
    let agg = Aggregator::new(&model.gslb, &targets, cfg, restored, now);
    Initial {
        targets,
        agg,
        forced: Forced::default(),
    }
}

/// Start the engine for the model `publisher` currently serves, with `agg` from [`initial`].
/// Endpoint and pool transitions go to `events`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    publisher: Arc<Publisher>,
    cfg: HealthConfig,
    init: Initial,
    writer: Option<StateWriter>,
    clock: Clock,
    share: Share,
    events: Events,
    shutdown: CancellationToken,
) -> HealthHandle {
    let mut share = share;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (rtx, mut rrx) = mpsc::unbounded_channel::<Report>();
    let mut slots = Arc::new(Semaphore::new(cfg.max_concurrent.max(1)));
    let mut cfg = cfg;
    let model = publisher.current().model;
    let Initial {
        targets,
        agg,
        forced: initial_forced,
    } = init;
    let regions = probe_regions(&share, &model);
    let mut run = Running::new(
        model,
        targets,
        agg,
        regions,
        &|key| owns(&share, key),
        &slots,
        &rtx,
        &clock,
        &shutdown,
    );
    let handle = HealthHandle {
        tx,
        reports: rtx.clone(),
    };
    let stopping = shutdown.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut latency_pending = false;
        let mut forced: Forced = initial_forced;
        let mut ticks = 0u64;
        let mut last_full = std::time::Instant::now();
        let mut last_publish = std::time::Instant::now();
        // Failback ramps and capacity admission; while a ramp runs, republish every `ramp_every`.
        let mut overlay = super::admission::Overlay::default();
        let mut ramp_every: Option<Duration> = None;
        loop {
            tokio::select! {
                Some(r) = rrx.recv() => {
                    run.apply(&r);
                    while let Ok(r) = rrx.try_recv() {
                        run.apply(&r);
                    }
                    latency_pending = true;
                }
                Some(msg) = rx.recv() => {
                    match msg {
                        Msg::NewModel(model, new_cfg, done) => {
                            if new_cfg.max_concurrent != cfg.max_concurrent {
                                slots = Arc::new(Semaphore::new(new_cfg.max_concurrent.max(1)));
                            }
                            cfg = *new_cfg;
                            let now = clock.now();
                            let carried = run.agg.take_all_states(&run.model.gslb, now);
                            run.probers.cancel();
                            let Initial { targets, agg, .. } = initial(&model, &cfg, &carried, now);
                            let mut view = agg.view(&model.gslb, now);
                            view.lay(&model.gslb, &forced);
                            ramp_every = overlay.apply(&model.gslb, &mut view, now);
                            publisher.set_model(*model, view);
                            let model = publisher.current().model;
                            let regions = probe_regions(&share, &model);
                            run = Running::new(
                                model,
                                targets,
                                agg,
                                regions,
                                &|key| owns(&share, key),
                                &slots,
                                &rtx,
                                &clock,
                                &shutdown,
                            );
                            apply_shared(&mut share, &mut run, &slots, &rtx, &clock, &shutdown);
                            let _ = done.send(());
                        }
                        Msg::Forced(list, done) => {
                            forced = list;
                            ramp_every = publish(&publisher, &events, &run, &forced, &mut overlay, clock.now());
                            last_publish = std::time::Instant::now();
                            let _ = done.send(());
                        }
                        Msg::Tick(done) => {
                            run.agg.tick(clock.now());
                            if run.agg.take_up_changed() || ramp_every.is_some() {
                                ramp_every = publish(&publisher, &events, &run, &forced, &mut overlay, clock.now());
                                last_publish = std::time::Instant::now();
                            }
                            let _ = done.send(());
                        }
                        Msg::Capacity(admit) => {
                            if overlay.set_capacity(admit) {
                                ramp_every = publish(&publisher, &events, &run, &forced, &mut overlay, clock.now());
                                last_publish = std::time::Instant::now();
                            }
                        }
                        Msg::Status(reply) => {
                            let _ = reply.send(run.agg.detail(clock.now()));
                        }
                    }
                    continue;
                }
                _ = shared_event(&mut share) => {
                    apply_shared(&mut share, &mut run, &slots, &rtx, &clock, &shutdown);
                }
                _ = tick.tick() => {
                    // Staleness moves in seconds: re-evaluate every fourth tick.
                    ticks += 1;
                    if ticks.is_multiple_of(4) {
                        run.agg.tick(clock.now());
                    }
                    if ramp_every.is_some_and(|every| last_publish.elapsed() >= every) {
                        ramp_every = publish(&publisher, &events, &run, &forced, &mut overlay, clock.now());
                        last_publish = std::time::Instant::now();
                    }
                }
                _ = shutdown.cancelled() => break,
            }
            publish_shared(&share, &mut run);
            // Up/down changes go out now; latency-only changes at most every 250 ms.
            let up_changed = run.agg.take_up_changed();
            let latency_due =
                latency_pending && last_publish.elapsed() >= Duration::from_millis(250);
            if up_changed || latency_due {
                ramp_every = publish(
                    &publisher,
                    &events,
                    &run,
                    &forced,
                    &mut overlay,
                    clock.now(),
                );
                latency_pending = false;
                last_publish = std::time::Instant::now();
            }
            if let Some(w) = &writer {
                let now = clock.now();
                // Up/down changes are written at once; everything (counters, RTTs) every
                // FULL_WRITE, so a warm start is never older than that.
                let states = if last_full.elapsed() >= FULL_WRITE {
                    last_full = std::time::Instant::now();
                    run.agg.take_all_states(&run.model.gslb, now)
                } else {
                    run.agg.take_dirty_states(&run.model.gslb, now)
                };
                for s in states {
                    w.record(s);
                }
                for t in run.agg.take_transitions(&run.model.gslb) {
                    log_transition(&publisher, &events, &t);
                    w.transition(t);
                }
            } else {
                run.agg.take_dirty_states(&run.model.gslb, clock.now());
                for t in run.agg.take_transitions(&run.model.gslb) {
                    log_transition(&publisher, &events, &t);
                }
            }
        }
        run.probers.cancel();
        if let Some(w) = writer {
            // Everything at shutdown, so a restart warm-starts from the last results.
            for s in run.agg.take_all_states(&run.model.gslb, clock.now()) {
                w.record(s);
            }
            w.flush();
        }
    });
    // Supervision: the engine ends only at shutdown. If it ever ends otherwise, say why; the
    // handle then reports it dead, so actions answer 503 instead of being accepted in vain.
    tokio::spawn(async move {
        let how = task.await;
        if stopping.is_cancelled() {
            return;
        }
        match how {
            Err(e) if e.is_panic() => {
                let why = e.into_panic();
                let msg = why
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| why.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                tracing::error!(panic = %msg, "the health engine panicked: health is frozen and operator actions are refused until a restart");
            }
            _ => tracing::error!(
                "the health engine stopped: health is frozen and operator actions are refused until a restart"
            ),
        }
    });
    handle
}

/// Health sharing with the other nodes of a cluster (`None`: this node alone).
#[cfg(feature = "cluster")]
pub type Share = Option<super::shared::Sharing>;
/// Health sharing with the other nodes of a cluster (this build has no cluster support).
#[cfg(not(feature = "cluster"))]
pub type Share = Option<std::convert::Infallible>;

/// The regions probed from this process: `[health] probers`, or in a cluster this node's
/// region alone.
fn probe_regions(share: &Share, model: &Model) -> Vec<crate::gslb::RegionId> {
    #[cfg(feature = "cluster")]
    if let Some(s) = share {
        return model.gslb.region_id(s.region()).into_iter().collect();
    }
    let _ = share;
    model.gslb.probers.clone()
}

/// Whether this process probes `key` (in a cluster: whether it is the target's owner in its
/// region).
fn owns(share: &Share, key: &str) -> bool {
    #[cfg(feature = "cluster")]
    if let Some(s) = share {
        return s.owns(key);
    }
    let _ = (share, key);
    true
}

/// Waits for news from the cluster (never, for a node alone).
async fn shared_event(share: &mut Share) {
    #[cfg(feature = "cluster")]
    if let Some(s) = share {
        if s.changed().await.is_none() {
            std::future::pending::<()>().await;
        }
        return;
    }
    let _ = share;
    std::future::pending::<()>().await
}

/// Take the cluster's view into account: other nodes' votes and latency, and who probes what.
fn apply_shared(
    share: &mut Share,
    run: &mut Running,
    slots: &Arc<Semaphore>,
    reports: &mpsc::UnboundedSender<Report>,
    clock: &Clock,
    shutdown: &CancellationToken,
) {
    #[cfg(feature = "cluster")]
    if let Some(s) = share {
        let view = s.view();
        let now = clock.now();
        let g = &run.model.gslb;
        let votes = s.remote_votes(&view);
        for (t, target) in run.targets.iter().enumerate() {
            for (r, region) in g.regions.iter().enumerate() {
                let vote = votes
                    .get(&(target.key.clone(), region.name.clone()))
                    .copied();
                run.agg.set_remote(t, r, vote, now);
            }
        }
        run.remote_latency = s
            .remote_latency(&view)
            .into_iter()
            .filter_map(|((region, pool), ms)| Some((g.region_id(&region)?, g.pool_id(&pool)?, ms)))
            .collect();
        if s.members_changed(&view) {
            let owned: Vec<bool> = run.targets.iter().map(|t| s.owns(&t.key)).collect();
            if owned != run.owned {
                let mine = g.region_id(s.region());
                for (t, (&was, &is)) in run.owned.iter().zip(&owned).enumerate() {
                    if was && !is {
                        s.withdraw(&run.targets[t].key, s.region());
                        if let Some(r) = mine {
                            run.agg.forget_local(t, r, now);
                        }
                    }
                }
                let n = owned.iter().filter(|&&o| o).count();
                tracing::info!(
                    probes = n,
                    of = owned.len(),
                    "probe targets shared with this region's members"
                );
                run.owned = owned;
                run.spawn(slots, reports, clock, shutdown);
            }
        }
        return;
    }
    let _ = (share, run, slots, reports, clock, shutdown);
}

/// Publish this process's changed verdicts (and, coarsely, its region's latency).
fn publish_shared(share: &Share, run: &mut Running) {
    #[cfg(feature = "cluster")]
    if let Some(s) = share {
        let regions = &run.model.gslb.regions;
        for (t, r, up) in run.agg.take_vote_changes() {
            s.vote(&run.targets[t].key, &regions[r].name, up);
        }
        return;
    }
    let _ = share;
    run.agg.take_vote_changes();
}

/// Log a transition; count the aggregated ones in the metrics and tell `events` of them.
fn log_transition(publisher: &Publisher, events: &Events, t: &crate::state::Transition) {
    tracing::info!(endpoint = %t.endpoint, region = %t.region, up = t.to_up, reason = %t.reason, "health transition");
    if t.region == crate::state::AGGREGATE_REGION {
        publisher.current().metrics.process().transition(t.to_up);
        let kind = if t.to_up {
            EventKind::EndpointUp
        } else {
            EventKind::EndpointDown
        };
        events.emit(
            Event::new(kind)
                .target(format!("endpoint:{}", t.endpoint))
                .detail(&t.reason),
        );
    }
}

/// Publish the view of `run` with the overrides, ramps and capacity admission laid over it,
/// and tell `events` of the pools that lost their last endpoint up, or got one back (in the
/// view served: overrides and drills count); returns how soon to republish while a ramp runs.
fn publish(
    publisher: &Publisher,
    events: &Events,
    run: &Running,
    forced: &Forced,
    overlay: &mut super::admission::Overlay,
    now: SystemTime,
) -> Option<Duration> {
    let mut view = view_with(run, forced, now);
    let every = overlay.apply(&run.model.gslb, &mut view, now);
    if events.listening() {
        let before = publisher.current();
        for (p, pool) in before.model.gslb.pools.iter().enumerate() {
            let (was, is) = (before.health.pool_up(p) > 0, view.pool_up(p) > 0);
            if was != is {
                let kind = if is {
                    EventKind::PoolUp
                } else {
                    EventKind::PoolDown
                };
                let detail = format!(
                    "{} of {} endpoints up",
                    view.pool_up(p),
                    pool.endpoints.len()
                );
                events.emit(
                    Event::new(kind)
                        .target(format!("pool:{}", pool.name))
                        .detail(detail),
                );
            }
        }
    }
    publisher.set_health(view);
    every
}

/// The health view of `run` with the overrides in force applied.
fn view_with(run: &Running, forced: &Forced, now: SystemTime) -> crate::gslb::HealthView {
    let mut view = run.agg.view(&run.model.gslb, now);
    for &(r, p, ms) in &run.remote_latency {
        if view.latency_ms(r, p).is_none() {
            view.set_latency(r, p, ms);
        }
    }
    view.lay(&run.model.gslb, forced);
    view
}

impl Running {
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: Arc<Model>,
        targets: Vec<ProbeTarget>,
        agg: Aggregator,
        regions: Vec<crate::gslb::RegionId>,
        owns: &dyn Fn(&str) -> bool,
        slots: &Arc<Semaphore>,
        reports: &mpsc::UnboundedSender<Report>,
        clock: &Clock,
        shutdown: &CancellationToken,
    ) -> Self {
        let index = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key.clone(), i))
            .collect();
        let owned = targets.iter().map(|t| owns(&t.key)).collect();
        let mut run = Running {
            model,
            targets,
            index,
            agg,
            probers: shutdown.child_token(),
            regions,
            owned,
            remote_latency: Vec::new(),
        };
        run.spawn(slots, reports, clock, shutdown);
        run
    }

    /// (Re)start the probers of the owned targets.
    fn spawn(
        &mut self,
        slots: &Arc<Semaphore>,
        reports: &mpsc::UnboundedSender<Report>,
        clock: &Clock,
        shutdown: &CancellationToken,
    ) {
        self.probers.cancel();
        self.probers = shutdown.child_token();
        let mine: Vec<ProbeTarget> = self
            .targets
            .iter()
            .zip(&self.owned)
            .filter(|(_, o)| **o)
            .map(|(t, _)| t.clone())
            .collect();
        prober::spawn(
            &mine,
            &self.regions,
            slots.clone(),
            reports.clone(),
            clock.clone(),
            self.probers.clone(),
        );
    }

    fn apply(&mut self, r: &Report) {
        if let Some(&i) = self.index.get(&r.target) {
            self.agg.report(i, r.region, &r.outcome, r.at);
        }
    }
}
