//! The snapshot: the one immutable value the query path reads.
//!
//! Every query does one atomic load of the current [`Snapshot`] and answers from it alone; it
//! never takes a lock that background work holds. Background work (config reloads now; health
//! probes, overrides and GeoIP reloads as they arrive) builds a *new* snapshot and swaps it in
//! with [`SharedSnapshot::store`]. Readers that loaded the old one finish with it undisturbed.

use crate::counters::{Metrics, ModelMetrics};
use crate::geo::GeoDb;
use crate::gslb::HealthView;
use crate::model::Model;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// What a query is answered from.
#[derive(Clone)]
pub struct Snapshot {
    /// Config-derived data: zones, services, settings.
    pub model: Arc<Model>,
    /// Health and latency as last published.
    pub health: Arc<HealthView>,
    /// Everything up: what `fail_open` and the TTL rule compare against.
    pub everything_up: Arc<HealthView>,
    /// The query counters of this model (`metrics.process()`: the process-wide metrics).
    pub metrics: Arc<ModelMetrics>,
}

impl Snapshot {
    /// A snapshot of a freshly loaded model, everything up (no probe has run yet), with new
    /// metrics.
    pub fn new(model: Model) -> Self {
        Self::counting_into(model, &Metrics::new())
    }

    /// A snapshot of a reloaded model, everything up, counting into the same process-wide
    /// metrics as `self`.
    pub fn reloaded(&self, model: Model) -> Self {
        Self::counting_into(model, self.metrics.process())
    }

    fn counting_into(model: Model, metrics: &Arc<Metrics>) -> Self {
        let up = Arc::new(HealthView::all_up(&model.gslb));
        Self {
            metrics: metrics.for_model(&model),
            model: Arc::new(model),
            health: up.clone(),
            everything_up: up,
        }
    }

    /// What a GSLB answer is computed from, in this snapshot.
    pub fn gslb_inputs(&self) -> crate::gslb::decide::Inputs<'_> {
        crate::gslb::decide::Inputs {
            model: &self.model.gslb,
            geo: &self.model.geo,
            health: &self.health,
            everything_up: &self.everything_up,
        }
    }

    /// The same snapshot with another health view.
    pub fn with_health(&self, health: HealthView) -> Self {
        Self {
            health: Arc::new(health),
            ..self.clone()
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("zones", &self.model.zones.len())
            .finish()
    }
}

/// The current snapshot, shared by the query path (readers) and background tasks (writers).
#[derive(Debug, Clone)]
pub struct SharedSnapshot(Arc<ArcSwap<Snapshot>>);

impl SharedSnapshot {
    /// Start from `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The current snapshot (one atomic load; no lock).
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The current snapshot as an owned `Arc` (for work that holds it across awaits).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Publish a new snapshot; the next query reads it.
    pub fn store(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

/// The one writer of snapshots. Background work hands it the part that changed (a new model
/// after a reload, new GeoIP databases, a new health view) and it publishes a snapshot made of
/// that part and the current others. Its lock serialises writers only; the query path never
/// takes it (it reads [`SharedSnapshot`]).
pub struct Publisher {
    shared: SharedSnapshot,
    current: std::sync::Mutex<Snapshot>,
}

impl Publisher {
    /// Start publishing from a freshly loaded model.
    pub fn new(model: Model) -> Arc<Self> {
        let snap = Snapshot::new(model);
        Arc::new(Self {
            shared: SharedSnapshot::new(snap.clone()),
            current: std::sync::Mutex::new(snap),
        })
    }

    /// What the query path reads.
    pub fn shared(&self) -> SharedSnapshot {
        self.shared.clone()
    }

    /// The snapshot as last published.
    pub fn current(&self) -> Snapshot {
        self.current.lock().expect("publisher lock").clone()
    }

    fn publish(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        let mut cur = self.current.lock().expect("publisher lock");
        let next = f(&cur);
        self.shared.store(next.clone());
        *cur = next;
    }

    /// A reloaded model with the health view computed for it, published together.
    pub fn set_model(&self, model: Model, health: HealthView) {
        self.publish(|cur| cur.reloaded(model).with_health(health));
    }

    /// Replaced GeoIP files, reloaded. Ignored (false) unless they are the files of the model
    /// being served: a watcher of a model that a reload replaced meanwhile never puts its
    /// files back.
    pub fn set_geo(&self, geo: Arc<GeoDb>) -> bool {
        let mut cur = self.current.lock().expect("publisher lock");
        if cur.model.geo.paths() != geo.paths() {
            return false;
        }
        let next = Snapshot {
            model: Arc::new(cur.model.with_geo(geo)),
            ..cur.clone()
        };
        self.shared.store(next.clone());
        *cur = next;
        true
    }

    /// A new health view.
    pub fn set_health(&self, health: HealthView) {
        self.publish(|cur| cur.with_health(health));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watcher of a model that a reload replaced must not put its files back.
    #[test]
    fn geoip_reloads_apply_only_to_the_files_being_served() {
        let dir = tempfile::tempdir().unwrap();
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/sample.mmdb");
        let (old, new) = (dir.path().join("old.mmdb"), dir.path().join("new.mmdb"));
        std::fs::copy(sample, &old).unwrap();
        std::fs::copy(sample, &new).unwrap();
        let open = |p: &std::path::Path| Arc::new(GeoDb::open(&[p]).unwrap());
        let mut model = crate::counters::tests::model(crate::gslb::policy::testing::CONFIG);
        model.geo = open(&old);
        let publisher = Publisher::new(model.clone());
        // A reload switches to the new file.
        let reloaded = model.with_geo(open(&new));
        let view = HealthView::all_up(&reloaded.gslb);
        publisher.set_model(reloaded, view);
        assert!(
            !publisher.set_geo(open(&old)),
            "the old file's watcher is ignored"
        );
        assert_eq!(
            publisher.shared().load().model.geo.paths(),
            vec![new.clone()]
        );
        assert!(
            publisher.set_geo(open(&new)),
            "the served file's reload applies"
        );
        assert_eq!(publisher.shared().load().model.geo.paths(), vec![new]);
    }
}
