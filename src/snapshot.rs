//! The snapshot: the one immutable value the query path reads.
//!
//! Every query does one atomic load of the current [`Snapshot`] and answers from it alone; it
//! never takes a lock that background work holds. Background work (config reloads now; health
//! probes, overrides and GeoIP reloads as they arrive) builds a *new* snapshot and swaps it in
//! with [`SharedSnapshot::store`]. Readers that loaded the old one finish with it undisturbed.

use crate::model::Model;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// What a query is answered from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Config-derived data: zones and settings.
    pub model: Arc<Model>,
}

impl Snapshot {
    /// A snapshot of a freshly loaded model.
    pub fn new(model: Model) -> Self {
        Self {
            model: Arc::new(model),
        }
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

    /// Publish a new snapshot; the next query reads it.
    pub fn store(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}
