//! Reloads: load everything anew and, when it is all valid, swap it in.
//!
//! SIGHUP and `POST /api/v1/reload` share one [`Reloader`], so reloads never overlap: a second
//! one waits for the first, and the last one asked for is the last one published. A reload
//! builds the new model off the query path, hands it to the health engine (which carries
//! health over by endpoint name and publishes model and view together), and restarts the
//! GeoIP watcher on the new model's files. A rejected reload logs every error and the old
//! data keeps serving.

use crate::api::ReloadInfo as ReloadResult;
use crate::counters::Metrics;
use crate::diag::{Diagnostic, Diagnostics};
use crate::geo::Watcher;
use crate::health::engine::HealthHandle;
use crate::model::{Model, Source};
use crate::snapshot::Publisher;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// The one way to reload.
pub struct Reloader {
    source: Source,
    publisher: Arc<Publisher>,
    health: HealthHandle,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    /// Held for the whole of a reload: reloads run one at a time.
    running: tokio::sync::Mutex<()>,
    /// Stops the GeoIP watcher of the current model.
    geo_watch: Mutex<CancellationToken>,
    last: Mutex<Option<ReloadResult>>,
}

impl Reloader {
    /// A reloader for `source`, whose current model `publisher` serves; starts the GeoIP
    /// watcher of that model.
    pub fn new(
        source: Source,
        publisher: Arc<Publisher>,
        health: HealthHandle,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let metrics = publisher.current().metrics.process().clone();
        let geo_watch = Mutex::new(watch_geo(&publisher, &shutdown));
        Arc::new(Self {
            source,
            publisher,
            health,
            metrics,
            shutdown,
            running: tokio::sync::Mutex::new(()),
            geo_watch,
            last: Mutex::new(None),
        })
    }

    /// The last reload's result, if any.
    pub fn last(&self) -> Option<ReloadResult> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reload now (after any reload in progress). `Err` with every problem when the new
    /// configuration is rejected; the old data keeps serving.
    pub async fn reload(&self) -> Result<(), Diagnostics> {
        let _one_at_a_time = self.running.lock().await;
        let src = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || src.load())
            .await
            .unwrap_or_else(|e| Err(Diagnostic::file("<reload>", e.to_string()).into()));
        let result = match loaded {
            Ok((_, model)) => {
                let summary = summary(&model);
                self.health.set_model(model).await;
                let mut watch = self.geo_watch.lock().unwrap_or_else(|e| e.into_inner());
                watch.cancel();
                *watch = watch_geo(&self.publisher, &self.shutdown);
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
        };
        self.metrics.reload(result.is_ok());
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
