//! Reloads: load everything anew and, when it is all valid, swap it in.
//!
//! SIGHUP and `POST /api/v1/reload` share one [`Reloader`], so reloads never overlap: a second
//! one waits for the first, and the last one asked for is the last one published. A reload
//! builds the new model off the query path, hands it to the health engine (which carries
//! health over by endpoint name and publishes model and view together), and restarts the
//! GeoIP watcher on the new model's files. A rejected reload logs every error and the old
//! data keeps serving.

use crate::api::ReloadInfo as ReloadResult;
use crate::config::Config;
use crate::counters::Metrics;
use crate::diag::{Diagnostic, Diagnostics};
use crate::events::{Event, EventKind, Events};
use crate::geo::Watcher;
use crate::health::engine::HealthHandle;
use crate::model::{Model, Source};
use crate::snapshot::Publisher;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// A check of the new configuration by a part of the server that holds settings of its own
/// (the admin API's tokens): `Err` rejects the reload; `Ok` gives what to do once the new
/// model serves.
pub type Hook = Box<dyn Fn(&Config) -> Result<Box<dyn FnOnce() + Send>, Diagnostics> + Send + Sync>;

/// What a reload that was accepted did not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Settings that changed but need new sockets or threads: they apply at the next start.
    pub needs_restart: Vec<String>,
}

/// The one way to reload.
pub struct Reloader {
    source: Source,
    /// The configuration being served (to tell what changed).
    config: Mutex<Config>,
    hooks: Vec<Hook>,
    publisher: Arc<Publisher>,
    health: HealthHandle,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    /// Held for the whole of a reload: reloads run one at a time.
    running: tokio::sync::Mutex<()>,
    /// Stops the GeoIP watcher of the current model.
    geo_watch: Mutex<CancellationToken>,
    last: Mutex<Option<ReloadResult>>,
    /// Where reloads are told (`[[notify]]`).
    events: Events,
}

impl Reloader {
    /// A reloader for `source`, whose current model `publisher` serves; starts the GeoIP
    /// watcher of that model.
    pub fn new(
        source: Source,
        config: Config,
        hooks: Vec<Hook>,
        publisher: Arc<Publisher>,
        health: HealthHandle,
        events: Events,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let metrics = publisher.current().metrics.process().clone();
        let geo_watch = Mutex::new(watch_geo(&publisher, &shutdown));
        Arc::new(Self {
            source,
            config: Mutex::new(config),
            hooks,
            publisher,
            health,
            metrics,
            shutdown,
            running: tokio::sync::Mutex::new(()),
            geo_watch,
            last: Mutex::new(None),
            events,
        })
    }

    /// The last reload's result, if any.
    pub fn last(&self) -> Option<ReloadResult> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reload now (after any reload in progress): zones, GSLB model, GeoIP, `[health]`, and
    /// whatever the hooks own (tokens). `Err` with every problem when the new configuration is
    /// rejected; the old data keeps serving. Settings that need a restart are named in the
    /// result (and the log), not silently kept.
    pub async fn reload(&self) -> Result<Reloaded, Diagnostics> {
        let _one_at_a_time = self.running.lock().await;
        let src = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || src.load())
            .await
            .unwrap_or_else(|e| Err(Diagnostic::file("<reload>", e.to_string()).into()));
        let prepared = loaded.and_then(|(config, model)| {
            let mut problems = Diagnostics::default();
            let mut then = Vec::new();
            for hook in &self.hooks {
                match hook(&config) {
                    Ok(f) => then.push(f),
                    Err(p) => problems.0.extend(p.0),
                }
            }
            problems.into_result((config, model, then))
        });
        let result = match prepared {
            Ok((config, model, then)) => {
                let summary = summary(&model);
                let needs_restart = {
                    let old = self.config.lock().unwrap_or_else(|e| e.into_inner());
                    needs_restart(&old, &config)
                };
                self.health.set_model(model, config.health.clone()).await;
                for f in then {
                    f();
                }
                let mut watch = self.geo_watch.lock().unwrap_or_else(|e| e.into_inner());
                watch.cancel();
                *watch = watch_geo(&self.publisher, &self.shutdown);
                drop(watch);
                if needs_restart.is_empty() {
                    tracing::info!(%summary, "reload ok: new data serving");
                } else {
                    tracing::warn!(%summary, needs_restart = %needs_restart.join(", "), "reload ok: new data serving; some settings apply only after a restart");
                }
                // What is running keeps the settings that need a restart: compare with those.
                let mut keep = config;
                {
                    let old = self.config.lock().unwrap_or_else(|e| e.into_inner());
                    keep.server = old.server.clone();
                    keep.log = old.log.clone();
                    keep.admin.listen = old.admin.listen.clone();
                    keep.admin.rate_limit = old.admin.rate_limit;
                    keep.admin.header_timeout = old.admin.header_timeout;
                    keep.admin.tls_cert = old.admin.tls_cert.clone();
                    keep.admin.tls_key = old.admin.tls_key.clone();
                    keep.health.state_file = old.health.state_file.clone();
                }
                *self.config.lock().unwrap_or_else(|e| e.into_inner()) = keep;
                Ok(Reloaded { needs_restart })
            }
            Err(problems) => {
                tracing::error!(
                    errors = problems.0.len(),
                    "reload rejected; the previous data keeps serving:\n{problems}"
                );
                Err(problems)
            }
        };
        self.metrics.reload(result.is_ok());
        self.events.emit(event(&result));
        let entry = ReloadResult {
            at: SystemTime::now(),
            ok: result.is_ok(),
            errors: result
                .as_ref()
                .err()
                .map(|p| p.0.iter().map(|d| d.to_string()).collect())
                .unwrap_or_default(),
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(entry);
        result
    }
}

/// What webhooks are told of a reload: what needs a restart, or every problem.
fn event(result: &Result<Reloaded, Diagnostics>) -> Event {
    match result {
        Ok(r) if r.needs_restart.is_empty() => Event::new(EventKind::ReloadSucceeded),
        Ok(r) => Event::new(EventKind::ReloadSucceeded).detail(format!(
            "applies only after a restart: {}",
            r.needs_restart.join(", ")
        )),
        Err(p) => {
            // The first problems; the log has them all.
            const SHOWN: usize = 20;
            let mut lines: Vec<String> = p.0.iter().take(SHOWN).map(|d| d.to_string()).collect();
            if p.0.len() > SHOWN {
                lines.push(format!("… and {} more (see the log)", p.0.len() - SHOWN));
            }
            Event::new(EventKind::ReloadFailed).detail(lines.join("\n"))
        }
    }
}

/// Watch the current model's GeoIP files and publish replacements. Returns the watcher's stop
/// token (a child of `shutdown`).
fn watch_geo(publisher: &Arc<Publisher>, shutdown: &CancellationToken) -> CancellationToken {
    let stop = shutdown.child_token();
    let snap = publisher.current();
    if snap.model.geo.is_empty() {
        return stop;
    }
    let watcher = Watcher::new(&snap.model.geo, snap.model.geo_check_interval);
    let p = publisher.clone();
    tokio::spawn(watcher.run(stop.clone(), move |db| {
        p.set_geo(db);
    }));
    stop
}

/// The settings that differ between `old` and `new` but apply only at start-up.
pub fn needs_restart(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |changed: bool, what: &str| {
        if changed {
            out.push(what.to_string());
        }
    };
    let listen = |c: &Config| -> Vec<std::net::SocketAddr> {
        c.server.listen.iter().map(|a| *a.get_ref()).collect()
    };
    check(listen(old) != listen(new), "[server] listen");
    check(old.server.threads != new.server.threads, "[server] threads");
    check(
        old.server.tcp_max_connections != new.server.tcp_max_connections
            || old.server.tcp_idle_timeout != new.server.tcp_idle_timeout,
        "[server] TCP limits",
    );
    check(
        old.admin.listen.as_ref().map(|a| *a.get_ref())
            != new.admin.listen.as_ref().map(|a| *a.get_ref()),
        "[admin] listen",
    );
    check(
        old.admin.rate_limit != new.admin.rate_limit,
        "[admin] rate_limit",
    );
    check(
        old.log.level != new.log.level || old.log.format != new.log.format,
        "[log]",
    );
    check(
        old.health.state_file != new.health.state_file,
        "[health] state_file",
    );
    out
}

/// One line about a model: zones with their serials, services.
pub fn summary(model: &Model) -> String {
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
