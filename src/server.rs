//! `ayadns serve`: start everything, reload on SIGHUP, stop on SIGTERM/SIGINT.
//!
//! Start-up loads and checks everything first (refusing to start, with every error, when
//! anything is wrong), binds every socket, then starts the DNS workers. A reload builds a new
//! model off the query path and swaps it in only when it is entirely valid; a failed reload
//! logs every error and the old data keeps serving. Shutdown stops accepting, lets TCP
//! connections finish the answer in flight, and exits.

use crate::diag::Diagnostics;
use crate::dns::DnsHandler;
use crate::dns::listener;
use crate::dns::tcp::TcpLimits;
use crate::geo::Watcher;
use crate::model::Source;
use crate::snapshot::Publisher;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for in-flight work before exiting anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Run the server until a stop signal. `Err` when it could not start.
pub fn run(source: Source) -> anyhow::Result<()> {
    let (config, model) = match source.load() {
        Ok(x) => x,
        Err(problems) => return Err(startup_error(&problems)),
    };
    crate::logging::init(&config.log);
    let zones = model.zones.len();
    let publisher = Publisher::new(model);
    let shared = publisher.shared();

    let workers = match config.server.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let addrs: Vec<_> = config.server.listen.iter().map(|a| *a.get_ref()).collect();
    let (sockets, bound) = listener::bind_all(&addrs, workers)?;
    let shutdown = CancellationToken::new();
    let limits = TcpLimits {
        slots: Arc::new(tokio::sync::Semaphore::new(
            config.server.tcp_max_connections,
        )),
        idle: config.server.tcp_idle_timeout,
    };
    let handler = DnsHandler::new(shared.clone());
    let threads = listener::spawn_workers(sockets, handler, limits, shutdown.clone())?;
    let listen: Vec<String> = bound.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        zones,
        workers,
        listen = %listen.join(","),
        "ayadns ready"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(control_loop(source, publisher, shutdown.clone()))?;

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
    tracing::info!("ayadns stopped");
    Ok(())
}

/// Wait for signals: SIGHUP reloads, SIGTERM/SIGINT stop.
async fn control_loop(
    source: Source,
    publisher: Arc<Publisher>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut geo_watch = watch_geo(&publisher, &shutdown);
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let source = source.clone();
                let p = publisher.clone();
                let ok = tokio::task::spawn_blocking(move || reload(&source, &p)).await;
                if matches!(ok, Ok(Ok(()))) {
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

/// Load everything anew and swap it in when valid. Returns the problems when not.
pub fn reload(source: &Source, publisher: &Publisher) -> Result<(), Diagnostics> {
    match source.load() {
        Ok((_, model)) => {
            let zones = model.zones.len();
            let serials: Vec<String> = model
                .zones
                .iter()
                .map(|z| format!("{}={}", z.origin, z.serial()))
                .collect();
            publisher.set_model(model);
            tracing::info!(zones, serials = %serials.join(" "), "reload ok: new data serving");
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

fn startup_error(problems: &Diagnostics) -> anyhow::Error {
    anyhow::anyhow!("{problems}\n{} error(s); not starting", problems.0.len())
}
