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
use crate::clock::Clock;
use crate::diag::Diagnostics;
use crate::dns::DnsHandler;
use crate::dns::listener;
use crate::health::engine;
use crate::model::Source;
use crate::ops::Ops;
use crate::reload::Reloader;
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

/// Run the server until a stop signal, reading the time from `clock` (the system clock but
/// in tests). `Err` when it could not start.
pub fn run(source: Source, clock: Clock) -> anyhow::Result<()> {
    let (config, model) = match load_logged(&source) {
        Ok(x) => x,
        Err(problems) => return Err(startup_error(&problems)),
    };
    let zones = model.zones.len();
    // Webhooks: their secrets are read now (a missing one refuses the start, naming its line).
    let notify_hooks = crate::notify::Settings::all(&config).map_err(|p| startup_error(&p))?;

    // Health state: warm start from SQLite (config mode only; quick mode has no health).
    let store = match &source {
        Source::ConfigFile(_) => Some(StateStore::open(&config.health.state_file)?),
        Source::ZonesDir { .. } => None,
    };
    let restored = match &store {
        Some(s) => s.load_states()?,
        None => Vec::new(),
    };
    let now = clock.now();
    let mut init = engine::initial(&model, &config.health, &restored, now);
    let mut view = init.agg.view(&model.gslb, now);
    // In a cluster, the last view this node applied (kept in its state file) is where it
    // starts: a node restarted while etcd is down serves that state from its first answer.
    #[cfg(feature = "cluster")]
    let cluster_start = match &config.cluster {
        Some(c) => {
            let settings = crate::cluster::Settings::from_config(c);
            let cache =
                crate::cluster::LocalCache::open(&config.health.state_file, &settings.prefix)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let restored = cache.load().map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(r) = &restored {
                tracing::info!(
                    revision = r.view.revision(),
                    "cluster state restored from the state file"
                );
            }
            Some((settings, cache, restored))
        }
        None => None,
    };
    // Overrides in force apply from the first answer too (expired ones are dropped later,
    // with an audit entry, by `Ops::open`).
    let overrides: Vec<_> = match &source {
        #[cfg(feature = "cluster")]
        Source::ConfigFile(_) if cluster_start.is_some() => cluster_start
            .as_ref()
            .and_then(|(_, _, r)| r.as_ref())
            .map(|r| crate::ops::shared::read(&r.view).0)
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.active(now))
            .collect(),
        Source::ConfigFile(_) => crate::ops::store::OpsStore::open(&config.health.state_file)?
            .overrides()?
            .into_iter()
            .filter(|o| o.active(now))
            .collect(),
        Source::ZonesDir { .. } => Vec::new(),
    };
    // So do maintenance windows open now (their overrides are made by `Ops::open`).
    let mut forced = crate::ops::overrides::forced(&overrides, now);
    for w in model
        .maintenance
        .iter()
        .filter(|w| w.open_at(now).is_some())
    {
        if let (Ok(t), Some(f)) = (w.target.parse(), crate::gslb::Force::parse(&w.action)) {
            forced.push((t, f));
        }
    }
    init.forced = crate::gslb::Forced {
        overrides: forced,
        weights: model.gslb.scheduled_weights(now),
    };
    view.lay(&model.gslb, &init.forced);
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
    // SO_REUSEPORT would let a second instance bind beside a running one and take half the
    // queries: refuse to start instead.
    crate::instance::ensure_free(&addrs)?;
    let (sockets, bound) = listener::bind_all(&addrs, workers)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Signal handlers before any socket serves: a SIGHUP or SIGTERM that arrives while the
    // rest starts must not find the default action (which ends the process).
    let signals = {
        let _in_runtime = rt.enter();
        Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        }
    };
    let tokens = load_tokens(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let tls = match (&config.admin.tls_cert, &config.admin.tls_key) {
        (Some(cert), Some(key)) => Some(admin::serve::tls_acceptor(cert.get_ref(), key.get_ref())?),
        (None, None) => None,
        _ => anyhow::bail!("[admin] tls_cert and tls_key go together"),
    };
    let admin_listener = match &config.admin.listen {
        Some(addr) => Some(rt.block_on(admin::bind(*addr.get_ref(), &tokens))?),
        None => None,
    };
    if let Some(addr) = &config.admin.listen
        && tokens.is_empty()
    {
        let env = config
            .admin
            .admin_token_env
            .as_deref()
            .map(|v| format!(" (${v} is unset or empty)"))
            .unwrap_or_default();
        tracing::warn!(
            "the admin API on {} has no token configured{env}: every API call, the dashboard and `ayadns ctl` will get 401; set [admin] tokens_file or admin_token_env",
            addr.get_ref()
        );
    }
    let metrics_listener = match &config.admin.metrics_listen {
        Some(addr) => Some(rt.block_on(admin::bind_metrics(*addr.get_ref()))?),
        None => None,
    };

    let shutdown = CancellationToken::new();
    let handler = DnsHandler::new(publisher.shared());
    let threads = listener::spawn_workers(sockets, handler, &config, shutdown.clone())?;
    let listen: Vec<String> = bound.iter().map(|a| a.to_string()).collect();

    #[cfg(feature = "cluster")]
    let cluster = match cluster_start {
        Some((settings, cache, restored)) => {
            let _in_runtime = rt.enter();
            let cluster = crate::cluster::Cluster::start(settings, restored)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            cache.spawn_writer(cluster.subscribe());
            tracing::info!(node = cluster.node(), region = %cluster.settings().region, "cluster member");
            let own = &cluster.settings().region;
            if config.health.probers.iter().any(|p| p.get_ref() != own) {
                tracing::warn!(region = %own, "in a cluster a node probes from its [cluster] region only: [health] probers is not used");
            }
            Some(cluster)
        }
        None => None,
    };

    rt.block_on(async {
        // Events (transitions, overrides, drills, reloads, the cluster link) for the webhooks.
        #[cfg(feature = "cluster")]
        let events = {
            let events = crate::events::Events::new(
                clock.clone(),
                cluster.as_ref().map(|c| c.node().to_string()),
            );
            if let (Some(c), Some(cfg)) = (&cluster, &config.cluster) {
                events.set_owner(transition_owner(c.clone()));
                c.watch_link(events.clone(), cfg.lag_alert());
            }
            events
        };
        #[cfg(not(feature = "cluster"))]
        let events = crate::events::Events::new(clock.clone(), None);
        let notifier =
            crate::notify::Notifier::start(notify_hooks, &events, clock.clone(), shutdown.clone());
        #[cfg(feature = "cluster")]
        let health_share: engine::Share = cluster.clone().map(crate::health::shared::Sharing::new);
        #[cfg(not(feature = "cluster"))]
        let health_share: engine::Share = None;
        let health = engine::start(
            publisher.clone(),
            config.health.clone(),
            init,
            writer.clone(),
            clock.clone(),
            health_share,
            events.clone(),
            shutdown.clone(),
        );
        // Tokens are the admin API's: a reload reads them anew (a bad tokens file rejects
        // the reload; a revoked token fails from the next request).
        let tokens = Arc::new(arc_swap::ArcSwap::from_pointee(tokens));
        let swap = tokens.clone();
        let token_hook: crate::reload::Hook = Box::new(move |c: &crate::config::Config| {
            let fresh = load_tokens(c)?;
            let swap = swap.clone();
            Ok(Box::new(move || swap.store(Arc::new(fresh))) as Box<dyn FnOnce() + Send>)
        });
        let health_cfg = Arc::new(arc_swap::ArcSwap::from_pointee(config.health.clone()));
        let swap = health_cfg.clone();
        let health_hook: crate::reload::Hook = Box::new(move |c: &crate::config::Config| {
            let (fresh, swap) = (c.health.clone(), swap.clone());
            Ok(Box::new(move || swap.store(Arc::new(fresh))) as Box<dyn FnOnce() + Send>)
        });
        // [[notify]] applies on reload (a secret that cannot be read rejects it).
        let n = notifier.clone();
        let notify_hook: crate::reload::Hook = Box::new(move |c: &crate::config::Config| {
            let (fresh, n) = (crate::notify::Settings::all(c)?, n.clone());
            Ok(Box::new(move || n.apply(fresh)) as Box<dyn FnOnce() + Send>)
        });
        let reloader = Reloader::new(
            source.clone(),
            config.clone(),
            vec![token_hook, health_hook, notify_hook],
            publisher.clone(),
            health.clone(),
            events.clone(),
            shutdown.clone(),
        );
        // Operations (overrides, drills, audit) live in the state file: config mode only.
        let ops = match &source {
            Source::ConfigFile(_) => {
                let metrics = publisher.current().metrics.process().clone();
                let counts: crate::ops::CountsFn = Arc::new(move || metrics.answers_by_region());
                let retention = crate::ops::audit::Retention {
                    max_age: config.admin.audit_max_age,
                    max_rows: config.admin.audit_max_rows,
                };
                let ops = Ops::open(
                    &config.health.state_file,
                    retention,
                    health.clone(),
                    publisher.shared(),
                    counts,
                    clock.clone(),
                    events.clone(),
                    #[cfg(feature = "cluster")]
                    cluster.clone(),
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
        #[cfg(feature = "cluster")]
        let cluster_info: admin::ClusterInfo = {
            let c = cluster.clone();
            Arc::new(move || c.as_ref().map(cluster_status))
        };
        #[cfg(not(feature = "cluster"))]
        let cluster_info: admin::ClusterInfo = Arc::new(|| None);
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
                tokens,
                health_cfg,
                reports_seen: Default::default(),
                cluster: cluster_info,
                ops,
                reloader: reloader.clone(),
                history: Default::default(),
                limiter: Arc::new(governor::RateLimiter::keyed(quota)),
                clock: clock.clone(),
                notify: notifier.clone(),
            };
            if let Some(m) = metrics_listener {
                let maddr = m.local_addr().map(|a| a.to_string()).unwrap_or_default();
                tokio::spawn(admin::serve_metrics(
                    m,
                    state.clone(),
                    config.admin.header_timeout,
                    shutdown.clone(),
                ));
                tracing::info!(listen = %maddr, "metrics (no token) ready");
            }
            tokio::spawn(admin::history::run(
                state.history.clone(),
                state.snapshot.clone(),
                state.clock.clone(),
                shutdown.clone(),
            ));
            tokio::spawn(admin::serve::serve(
                l,
                state,
                tls,
                config.admin.header_timeout,
                shutdown.clone(),
            ));
            tracing::info!(listen = %addr, "admin API ready");
        }
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            zones,
            workers,
            listen = %listen.join(","),
            "ayadns ready"
        );
        control_loop(signals, reloader, shutdown.clone()).await
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

/// The signals `serve` handles.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

/// Wait for signals: SIGHUP reloads, SIGTERM/SIGINT stop.
async fn control_loop(
    signals: Signals,
    reloader: Arc<Reloader>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Signals {
        mut hup,
        mut term,
        mut int,
    } = signals;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = reloader.reload().await;
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

/// Load like [`Source::load`], with logging set up from the config file *before* the zones
/// and GeoIP files load, so their load lines (what, how big, how long) are logged.
fn load_logged(
    source: &Source,
) -> Result<(crate::config::Config, crate::model::Model), Diagnostics> {
    match source {
        Source::ConfigFile(path) => {
            let loaded = crate::config::Config::load(path)?;
            crate::logging::init(&loaded.config.log);
            let model = crate::model::Model::load(&loaded.config, loaded.problems)?;
            Ok((loaded.config, model))
        }
        Source::ZonesDir { .. } => {
            crate::logging::init(&crate::config::LogConfig::default());
            source.load()
        }
    }
}

/// The cluster as this node sees it, for status pages and metrics.
#[cfg(feature = "cluster")]
fn cluster_status(c: &crate::cluster::Cluster) -> crate::api::ClusterStatus {
    let view = c.view();
    let counters = c.counters();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let nodes = view
        .nodes()
        .values()
        .map(|n| {
            let votes: Vec<_> = view.votes().filter(|v| v.node == n.node).collect();
            crate::api::NodeStatus {
                node: n.node.clone(),
                region: n.region.clone(),
                version: n.version.clone(),
                control_revision: n.control_revision,
                lag: (view.control_revision() - n.control_revision).max(0),
                votes: votes.len(),
                newest_vote_age_s: votes
                    .iter()
                    .map(|v| v.at_ms)
                    .max()
                    .map(|at| (now_ms - at).max(0) as f64 / 1000.0),
            }
        })
        .collect();
    crate::api::ClusterStatus {
        node: c.node().to_string(),
        region: c.settings().region.clone(),
        connected: counters.connected(),
        revision: view.revision(),
        control_revision: view.control_revision(),
        sync_age_s: counters.sync_age().map(|d| d.as_secs_f64()),
        nodes,
    }
}

/// Cluster: whether this node sends the transitions of `target` (`endpoint:NAME`,
/// `pool:NAME`) — every node computes them alike, so only the target's rendezvous owner among
/// the live members tells the webhooks (every node does while it is not a member itself, as
/// before it first reached etcd: a repeat rather than a loss).
#[cfg(feature = "cluster")]
fn transition_owner(c: crate::cluster::Cluster) -> crate::events::Owner {
    Arc::new(move |target: &str| {
        let view = c.view();
        let me = c.node();
        let members: Vec<&str> = view.nodes().values().map(|n| n.node.as_str()).collect();
        if !members.contains(&me) {
            return true;
        }
        crate::cluster::rendezvous::owner(&members, target) == Some(me)
    })
}

/// The admin API's tokens named by `config` (file and environment).
fn load_tokens(config: &crate::config::Config) -> Result<Tokens, Diagnostics> {
    Tokens::load(
        config
            .admin
            .tokens_file
            .as_ref()
            .map(|t| t.get_ref().as_path()),
        config.admin.admin_token_env.as_deref(),
    )
    .map_err(Diagnostics::from)
}

fn startup_error(problems: &Diagnostics) -> anyhow::Error {
    anyhow::anyhow!("{problems}\n{} error(s); not starting", problems.0.len())
}
