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
use crate::gslb::{Force, Target};
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
    Forced(Vec<(Target, Force)>, tokio::sync::oneshot::Sender<()>),
    Status(tokio::sync::oneshot::Sender<StatusDetail>),
    Tick(tokio::sync::oneshot::Sender<()>),
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

    /// Set the overrides in force; returns once the snapshot with them is published.
    pub async fn set_forced(&self, list: Vec<(Target, Force)>) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Forced(list, done)).is_ok() {
            let _ = wait.await;
        }
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
    index: HashMap<String, usize>,
    agg: Aggregator,
    probers: CancellationToken,
}

/// What probing starts from: the targets and the aggregator with the restored state.
pub struct Initial {
    /// What is probed.
    pub targets: Vec<ProbeTarget>,
    /// The aggregator, warm-started.
    pub agg: Aggregator,
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
    Initial { targets, agg }
}

/// Start the engine for the model `publisher` currently serves, with `agg` from [`initial`].
pub fn start(
    publisher: Arc<Publisher>,
    cfg: HealthConfig,
    initial_forced: Vec<(Target, Force)>,
    init: Initial,
    writer: Option<StateWriter>,
    clock: Clock,
    shutdown: CancellationToken,
) -> HealthHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (rtx, mut rrx) = mpsc::unbounded_channel::<Report>();
    let mut slots = Arc::new(Semaphore::new(cfg.max_concurrent.max(1)));
    let mut cfg = cfg;
    let model = publisher.current().model;
    let Initial { targets, agg } = init;
    let mut run = Running::new(model, targets, agg, &slots, &rtx, &clock, &shutdown);
    let handle = HealthHandle {
        tx,
        reports: rtx.clone(),
    };
    let stopping = shutdown.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut latency_pending = false;
        let mut forced: Vec<(Target, Force)> = initial_forced;
        let mut ticks = 0u64;
        let mut last_full = std::time::Instant::now();
        let mut last_publish = std::time::Instant::now();
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
                            let Initial { targets, agg } = initial(&model, &cfg, &carried, now);
                            let mut view = agg.view(&model.gslb, now);
                            view.force(&model.gslb, &forced);
                            publisher.set_model(*model, view);
                            run = Running::new(publisher.current().model, targets, agg, &slots, &rtx, &clock, &shutdown);
                            let _ = done.send(());
                        }
                        Msg::Forced(list, done) => {
                            forced = list;
                            publisher.set_health(view_with(&run, &forced, clock.now()));
                            last_publish = std::time::Instant::now();
                            let _ = done.send(());
                        }
                        Msg::Tick(done) => {
                            run.agg.tick(clock.now());
                            if run.agg.take_up_changed() {
                                publisher.set_health(view_with(&run, &forced, clock.now()));
                                last_publish = std::time::Instant::now();
                            }
                            let _ = done.send(());
                        }
                        Msg::Status(reply) => {
                            let _ = reply.send(run.agg.detail(clock.now()));
                        }
                    }
                    continue;
                }
                _ = tick.tick() => {
                    // Staleness moves in seconds: re-evaluate every fourth tick.
                    ticks += 1;
                    if ticks.is_multiple_of(4) {
                        run.agg.tick(clock.now());
                    }
                }
                _ = shutdown.cancelled() => break,
            }
            // Up/down changes go out now; latency-only changes at most every 250 ms.
            let up_changed = run.agg.take_up_changed();
            let latency_due =
                latency_pending && last_publish.elapsed() >= Duration::from_millis(250);
            if up_changed || latency_due {
                publisher.set_health(view_with(&run, &forced, clock.now()));
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
                    log_transition(&publisher, &t);
                    w.transition(t);
                }
            } else {
                run.agg.take_dirty_states(&run.model.gslb, clock.now());
                for t in run.agg.take_transitions(&run.model.gslb) {
                    log_transition(&publisher, &t);
                }
            }
        }
        run.probers.cancel();
        if let Some(w) = writer {
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

/// Log a transition, and count the aggregated ones in the metrics.
fn log_transition(publisher: &Publisher, t: &crate::state::Transition) {
    tracing::info!(endpoint = %t.endpoint, region = %t.region, up = t.to_up, reason = %t.reason, "health transition");
    if t.region == crate::state::AGGREGATE_REGION {
        publisher.current().metrics.process().transition();
    }
}

/// The health view of `run` with the overrides in force applied.
fn view_with(
    run: &Running,
    forced: &[(Target, Force)],
    now: SystemTime,
) -> crate::gslb::HealthView {
    let mut view = run.agg.view(&run.model.gslb, now);
    view.force(&run.model.gslb, forced);
    view
}

impl Running {
    fn new(
        model: Arc<Model>,
        targets: Vec<ProbeTarget>,
        agg: Aggregator,
        slots: &Arc<Semaphore>,
        reports: &mpsc::UnboundedSender<Report>,
        clock: &Clock,
        shutdown: &CancellationToken,
    ) -> Self {
        let probers = shutdown.child_token();
        prober::spawn(
            &targets,
            &model.gslb.probers,
            slots.clone(),
            reports.clone(),
            clock.clone(),
            probers.clone(),
        );
        let index = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key.clone(), i))
            .collect();
        Running {
            model,
            index,
            agg,
            probers,
        }
    }

    fn apply(&mut self, r: &Report) {
        if let Some(&i) = self.index.get(&r.target) {
            self.agg.report(i, r.region, &r.outcome, r.at);
        }
    }
}
