//! `ayadns serve`: start everything, reload on SIGHUP, stop on SIGTERM/SIGINT.
//!
//! Start-up, in order:
//! 1. load and check everything (refusing to start, with every error, when anything is wrong);
//! 2. open the SQLite state file and restore health younger than `max_age` (warm start), so
//!    the first answer already reflects it;
//! 3. bind every socket (DNS and admin), then start the DNS workers, the health engine
//!    (probers, aggregation, state writer), the GeoIP watcher and the admin API.
//!
//! A reload builds a new model off the query path and swaps it in (with health carried over)
//! only when it is entirely valid; a failed reload logs every error and the old data keeps
//! serving. Shutdown stops accepting, lets TCP connections finish the answer in flight,
//! flushes the state file, and exits.

use crate::admin::{self, AdminState, auth::Tokens};
use crate::diag::Diagnostics;
use crate::dns::DnsHandler;
use crate::dns::listener;
use crate::geo::Watcher;
use crate::health::engine::{self, HealthHandle};
use crate::model::{Model, Source};
use crate::ops::Ops;
use crate::snapshot::Publisher;
use crate::state::{Retention, StateStore, StateWriter};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for in-flight work before exiting anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// How often the state writer flushes.
const STATE_FLUSH: Duration = Duration::from_millis(200);

/// Run the server until a stop signal. `Err` when it could not start.
pub fn run(source: Source) -> anyhow::Result<()> {
    let (config, model) = match source.load() {
        Ok(x) => x,
        Err(problems) => return Err(startup_error(&problems)),
    };
    crate::logging::init(&config.log);
    let zones = model.zones.len();

    // Health state: warm start from SQLite (config mode only; quick mode has no health).
    let store = match &source {
        Source::ConfigFile(_) => Some(StateStore::open(&config.health.state_file)?),
        Source::ZonesDir { .. } => None,
    };
    let restored = match &store {
        Some(s) => s.load_states()?,
        None => Vec::new(),
    };
    let (targets, agg) = engine::initial(&model, &config.health, &restored);
    let now = std::time::SystemTime::now();
    let mut view = agg.view(&model.gslb, now);
    // Overrides in force apply from the first answer too (expired ones are dropped later,
    // with an audit entry, by `Ops::open`).
    let overrides: Vec<_> = match &source {
        Source::ConfigFile(_) => crate::ops::store::OpsStore::open(&config.health.state_file)?
            .overrides()?
            .into_iter()
            .filter(|o| o.active(now))
            .collect(),
        Source::ZonesDir { .. } => Vec::new(),
    };
    crate::ops::overrides::apply(&overrides, &model.gslb, &mut view, now);
    if !restored.is_empty() {
        tracing::info!(
            states = restored.len(),
            "health restored from the state file"
        );
    }
    let publisher = Publisher::new(model);
    publisher.set_health(view);
    let writer = store.map(|s| {
        let retention = Retention {
            max_age: config.health.history_max_age,
            max_rows: config.health.history_max_rows,
        };
        StateWriter::spawn(s, STATE_FLUSH, retention)
    });

    let workers = match config.server.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    crate::dns::limits::raise_nofile(&config, workers)?;
    let addrs: Vec<_> = config.server.listen.iter().map(|a| *a.get_ref()).collect();
    let (sockets, bound) = listener::bind_all(&addrs, workers)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tokens = Tokens::load(
        config
            .admin
            .tokens_file
            .as_ref()
            .map(|t| t.get_ref().as_path()),
        config.admin.admin_token_env.as_deref(),
    )
    .map_err(|d| anyhow::anyhow!("{d}"))?;
    let admin_listener = match &config.admin.listen {
        Some(addr) => Some(rt.block_on(admin::bind(*addr.get_ref(), &tokens))?),
        None => None,
    };

    let shutdown = CancellationToken::new();
    let handler = DnsHandler::new(publisher.shared());
    let threads = listener::spawn_workers(sockets, handler, &config, shutdown.clone())?;
    let listen: Vec<String> = bound.iter().map(|a| a.to_string()).collect();

    rt.block_on(async {
        let health = engine::start(
            publisher.clone(),
            config.health.clone(),
            overrides,
            targets,
            agg,
            writer.clone(),
            shutdown.clone(),
        );
        let reloads = ReloadLog::default();
        // Operations (overrides, drills, audit) live in the state file: config mode only.
        let ops = match &source {
            Source::ConfigFile(_) => {
                let metrics = publisher.current().metrics.process().clone();
                let counts: crate::ops::CountsFn = Arc::new(move || metrics.answers_by_region());
                let ops = Ops::open(
                    &config.health.state_file,
                    health.clone(),
                    publisher.shared(),
                    counts,
                )
                .await?;
                let o = ops.clone();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        tokio::select! {
                            _ = tick.tick() => o.tick().await,
                            _ = stop.cancelled() => return,
                        }
                    }
                });
                Some(ops)
            }
            Source::ZonesDir { .. } => None,
        };
        if let (Some(l), Some(ops)) = (admin_listener, ops) {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let quota = governor::Quota::per_second(
                std::num::NonZeroU32::new(config.admin.rate_limit.max(1)).expect("non-zero"),
            )
            .allow_burst(
                std::num::NonZeroU32::new(config.admin.rate_limit.max(1) * 2).expect("non-zero"),
            );
            let state = AdminState {
                snapshot: publisher.shared(),
                health: health.clone(),
                tokens: Arc::new(tokens),
                ops,
                source: source.clone(),
                reloads: reloads.clone(),
                limiter: Arc::new(governor::RateLimiter::keyed(quota)),
            };
            tokio::spawn(admin::serve(l, state, shutdown.clone()));
            tracing::info!(listen = %addr, "admin API ready");
        }
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            zones,
            workers,
            listen = %listen.join(","),
            "ayadns ready"
        );
        control_loop(source, publisher, health, reloads, shutdown.clone()).await
    })?;

    // Drain: give workers a bounded time to finish.
    let deadline = std::time::Instant::now() + DRAIN_LIMIT;
    for t in threads {
        while !t.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        }
    }
    if let Some(w) = writer {
        w.close();
    }
    tracing::info!("ayadns stopped");
    Ok(())
}

/// Wait for signals: SIGHUP reloads, SIGTERM/SIGINT stop.
async fn control_loop(
    source: Source,
    publisher: Arc<Publisher>,
    health: HealthHandle,
    reloads: ReloadLog,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut geo_watch = watch_geo(&publisher, &shutdown);
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let metrics = publisher.current().metrics.process().clone();
                if reload(&source, &health, &reloads, &metrics).await.is_ok() {
                    geo_watch.cancel();
                    geo_watch = watch_geo(&publisher, &shutdown);
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("stopping: finishing answers in flight");
    shutdown.cancel();
    // Let the health engine flush its last states.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Watch the current model's GeoIP files; publish replacements. Returns the watcher's stop
/// token (a child of `shutdown`).
fn watch_geo(publisher: &Arc<Publisher>, shutdown: &CancellationToken) -> CancellationToken {
    let stop = shutdown.child_token();
    let snap = publisher.current();
    if snap.geo.is_empty() {
        return stop;
    }
    let watcher = Watcher::new(&snap.geo, snap.model.geo_check_interval);
    let p = publisher.clone();
    tokio::spawn(watcher.run(stop.clone(), move |db| p.set_geo(db)));
    stop
}

/// The result of a reload, for status pages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadResult {
    /// When.
    #[serde(with = "crate::ops::overrides::unix_secs")]
    pub at: std::time::SystemTime,
    /// Accepted?
    pub ok: bool,
    /// Every problem, when rejected.
    pub errors: Vec<String>,
}

/// The last reload's result, shared by SIGHUP and the admin API.
pub type ReloadLog = Arc<std::sync::Mutex<Option<ReloadResult>>>;

/// Load everything anew and, when valid, swap it in (health carried over). Returns the
/// problems when not; the old data keeps serving.
pub async fn reload(
    source: &Source,
    health: &HealthHandle,
    log: &ReloadLog,
    metrics: &crate::metrics::Metrics,
) -> Result<(), Diagnostics> {
    let result = reload_inner(source, health).await;
    metrics.reload(result.is_ok());
    let entry = ReloadResult {
        at: std::time::SystemTime::now(),
        ok: result.is_ok(),
        errors: result
            .as_ref()
            .err()
            .map(|p| p.0.iter().map(|d| d.to_string()).collect())
            .unwrap_or_default(),
    };
    if let Ok(mut l) = log.lock() {
        *l = Some(entry);
    }
    result
}

async fn reload_inner(source: &Source, health: &HealthHandle) -> Result<(), Diagnostics> {
    let src = source.clone();
    let loaded = tokio::task::spawn_blocking(move || src.load())
        .await
        .unwrap_or_else(|e| Err(crate::diag::Diagnostic::file("<reload>", e.to_string()).into()));
    match loaded {
        Ok((_, model)) => {
            let summary = summary(&model);
            health.set_model(model).await;
            tracing::info!(%summary, "reload ok: new data serving");
            Ok(())
        }
        Err(problems) => {
            tracing::error!(
                errors = problems.0.len(),
                "reload rejected; the previous data keeps serving:\n{problems}"
            );
            Err(problems)
        }
    }
}

fn summary(model: &Model) -> String {
    let serials: Vec<String> = model
        .zones
        .iter()
        .map(|z| format!("{}={}", z.origin, z.serial()))
        .collect();
    format!(
        "{} zones ({}), {} services",
        model.zones.len(),
        serials.join(" "),
        model.gslb.services.len()
    )
}

fn startup_error(problems: &Diagnostics) -> anyhow::Error {
    anyhow::anyhow!("{problems}\n{} error(s); not starting", problems.0.len())
}
