//! Operations: overrides, DR drills and the audit trail — the operator's hands on the
//! load balancer, made safe (validated, expiring, previewable), visible (status, dashboard)
//! and recorded (SQLite).
//!
//! [`Ops`] owns the list of overrides and drills (control plane only: the query path never
//! sees it). Every change is written to SQLite first, then handed to the health engine,
//! which republishes the snapshot with the overrides applied — so a change applies from the
//! next query on. A tick every second expires overrides and ends drills.

pub mod audit;
pub mod drills;
pub mod overrides;
pub mod store;

use crate::clock::Clock;
use crate::gslb::Force;
use crate::gslb::Target;
use crate::health::engine::HealthHandle;
use crate::snapshot::SharedSnapshot;
use audit::AuditEntry;
use drills::{Counts, Drill, Preview};
use overrides::Override;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use store::OpsStore;

/// A source of answer counts (service, region, pool) → queries (the metrics).
pub type CountsFn = Arc<dyn Fn() -> Counts + Send + Sync>;

/// Why an operation was refused (maps to an HTTP status).
#[derive(Debug, Clone, PartialEq)]
pub enum OpsError {
    /// Bad input: 400.
    Invalid(String),
    /// No such thing: 404.
    NotFound(String),
    /// Conflicts with the current state: 409.
    Conflict(String),
    /// Storage failed: 500.
    Storage(String),
}

impl std::fmt::Display for OpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsError::Invalid(s)
            | OpsError::NotFound(s)
            | OpsError::Conflict(s)
            | OpsError::Storage(s) => f.write_str(s),
        }
    }
}

struct Inner {
    store: OpsStore,
    overrides: Vec<Override>,
    drills: Vec<Drill>,
    next: u64,
}

/// The operations service.
pub struct Ops {
    inner: Mutex<Inner>,
    clock: Clock,
    health: HealthHandle,
    snapshot: SharedSnapshot,
    counts: CountsFn,
}

fn new_id(prefix: &str, n: u64, now: SystemTime) -> String {
    let t = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{prefix}-{t:x}-{n}")
}

fn system_entry(at: SystemTime, method: &str, path: String, result: String) -> AuditEntry {
    AuditEntry {
        at,
        token: "system".into(),
        source: "-".into(),
        method: method.into(),
        path,
        request: String::new(),
        status: 200,
        result,
    }
}

impl Ops {
    /// Load stored overrides and drills (dropping those that expired while the server was
    /// down, with an audit entry each) and hand the rest to the health engine.
    pub async fn open(
        state_file: &std::path::Path,
        health: HealthHandle,
        snapshot: SharedSnapshot,
        counts: CountsFn,
        clock: Clock,
    ) -> anyhow::Result<Arc<Ops>> {
        let store = OpsStore::open(state_file)?;
        let now = clock.now();
        let mut overrides = store.overrides()?;
        for o in overrides.iter().filter(|o| !o.active(now)) {
            store.delete_override(&o.id)?;
            store.audit(&system_entry(
                now,
                "expire",
                format!("/api/v1/overrides/{}", o.id),
                format!(
                    "expired while the server was down: {} {}",
                    o.action.as_str(),
                    o.target
                ),
            ))?;
        }
        overrides.retain(|o| o.active(now));
        let mut drills = store.drills()?;
        for d in drills
            .iter_mut()
            .filter(|d| d.ended_at.is_none() && d.ends_at <= now)
        {
            d.ended_at = Some(d.ends_at);
            store.save_drill(d)?;
            store.audit(&system_entry(
                now,
                "end",
                format!("/api/v1/drills/{}", d.id),
                "reverted by itself while the server was down".into(),
            ))?;
        }
        let ops = Arc::new(Ops {
            clock,
            inner: Mutex::new(Inner {
                store,
                overrides: overrides.clone(),
                drills,
                next: 1,
            }),
            health,
            snapshot,
            counts,
        });
        ops.health
            .set_forced(overrides::forced(&overrides, now))
            .await;
        Ok(ops)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn push(&self) {
        let now = self.clock.now();
        let (list, drills) = {
            let inner = self.lock();
            let drills = inner.drills.iter().filter(|d| d.active(now)).count();
            (inner.overrides.clone(), drills)
        };
        let metrics = self.snapshot.load().metrics.process().clone();
        metrics.set_overrides_active(list.iter().filter(|o| o.active(now)).count() as u64);
        metrics.set_drills_active(drills as u64);
        self.health.set_forced(overrides::forced(&list, now)).await;
    }

    /// Overrides in force.
    pub fn overrides(&self) -> Vec<Override> {
        let now = self.clock.now();
        self.lock()
            .overrides
            .iter()
            .filter(|o| o.active(now))
            .cloned()
            .collect()
    }

    /// The running drill, if any.
    pub fn active_drill(&self) -> Option<Drill> {
        let now = self.clock.now();
        self.lock().drills.iter().find(|d| d.active(now)).cloned()
    }

    /// Add an override.
    pub async fn add_override(
        &self,
        target: &str,
        action: &str,
        reason: &str,
        expires_in: Option<Duration>,
        by: &str,
    ) -> Result<Override, OpsError> {
        let target: Target = target.parse().map_err(OpsError::Invalid)?;
        let action = Force::parse(action).ok_or_else(|| {
            OpsError::Invalid(format!("unknown action `{action}` (drain, down, up)"))
        })?;
        target
            .endpoints(&self.snapshot.load().model.gslb)
            .map_err(OpsError::Invalid)?;
        let now = self.clock.now();
        let o = {
            let mut inner = self.lock();
            inner.next += 1;
            let o = Override {
                id: new_id("ovr", inner.next, now),
                target,
                action,
                reason: reason.to_string(),
                created_at: now,
                expires_at: expires_in.map(|d| now + d),
                created_by: by.to_string(),
                drill: None,
            };
            inner
                .store
                .insert_override(&o)
                .map_err(|e| OpsError::Storage(e.to_string()))?;
            inner.overrides.push(o.clone());
            o
        };
        self.push().await;
        Ok(o)
    }

    /// Remove an override (not one of a drill's: stop the drill instead).
    pub async fn remove_override(&self, id: &str) -> Result<Override, OpsError> {
        let o = {
            let mut inner = self.lock();
            let i = inner
                .overrides
                .iter()
                .position(|o| o.id == id)
                .ok_or_else(|| OpsError::NotFound(format!("no override `{id}`")))?;
            if let Some(d) = &inner.overrides[i].drill {
                return Err(OpsError::Conflict(format!(
                    "override `{id}` belongs to drill `{d}`: stop the drill"
                )));
            }
            inner
                .store
                .delete_override(id)
                .map_err(|e| OpsError::Storage(e.to_string()))?;
            inner.overrides.remove(i)
        };
        self.push().await;
        Ok(o)
    }

    /// A what-if; changes nothing.
    pub fn preview(&self, fail: &[String]) -> Result<Preview, OpsError> {
        let targets = self.parse_targets(fail)?;
        let snap = self.snapshot.load_full();
        Ok(drills::preview(
            &snap.model.gslb,
            &snap.health,
            &snap.everything_up,
            &targets,
            &(self.counts)(),
            self.clock.now(),
        ))
    }

    fn parse_targets(&self, fail: &[String]) -> Result<Vec<Target>, OpsError> {
        if fail.is_empty() {
            return Err(OpsError::Invalid("`fail` lists no target".into()));
        }
        let model = self.snapshot.load_full();
        fail.iter()
            .map(|t| {
                let t: Target = t.parse().map_err(OpsError::Invalid)?;
                t.endpoints(&model.model.gslb).map_err(OpsError::Invalid)?;
                Ok(t)
            })
            .collect()
    }

    /// Start a drill.
    pub async fn start_drill(
        &self,
        fail: &[String],
        reason: &str,
        duration: Duration,
        by: &str,
    ) -> Result<Drill, OpsError> {
        let targets = self.parse_targets(fail)?;
        if duration.is_zero() {
            return Err(OpsError::Invalid("duration must be positive".into()));
        }
        let preview = self.preview(fail)?;
        let counts = (self.counts)();
        let now = self.clock.now();
        let d = {
            let mut inner = self.lock();
            if let Some(d) = inner.drills.iter().find(|d| d.active(now)) {
                return Err(OpsError::Conflict(format!(
                    "drill `{}` is running: stop it first",
                    d.id
                )));
            }
            inner.next += 1;
            let d = Drill {
                id: new_id("drill", inner.next, now),
                fail: targets,
                reason: reason.to_string(),
                started_at: now,
                ends_at: now + duration,
                ended_at: None,
                first_moved_at: None,
                created_by: by.to_string(),
                queries: Default::default(),
                moves: preview
                    .regions
                    .iter()
                    .filter(|r| r.now != r.during)
                    .filter_map(|r| {
                        Some((
                            r.service.clone(),
                            r.region.clone(),
                            r.now.clone()?,
                            r.during.clone()?,
                        ))
                    })
                    .collect(),
                baseline: counts,
            };
            inner
                .store
                .save_drill(&d)
                .map_err(|e| OpsError::Storage(e.to_string()))?;
            for o in d.overrides() {
                inner
                    .store
                    .insert_override(&o)
                    .map_err(|e| OpsError::Storage(e.to_string()))?;
                inner.overrides.push(o);
            }
            inner.drills.insert(0, d.clone());
            d
        };
        self.push().await;
        Ok(d)
    }

    /// Stop a running drill: its overrides go, traffic comes back.
    pub async fn stop_drill(&self, id: &str) -> Result<Drill, OpsError> {
        let now = self.clock.now();
        let d = {
            let mut inner = self.lock();
            let counts = (self.counts)();
            let Inner {
                store,
                overrides,
                drills,
                ..
            } = &mut *inner;
            let d = drills
                .iter_mut()
                .find(|d| d.id == id)
                .ok_or_else(|| OpsError::NotFound(format!("no drill `{id}`")))?;
            if d.ended_at.is_some() {
                return Err(OpsError::Conflict(format!("drill `{id}` has ended")));
            }
            d.observe(&counts, now);
            d.ended_at = Some(now);
            store
                .save_drill(d)
                .map_err(|e| OpsError::Storage(e.to_string()))?;
            for o in overrides.iter().filter(|o| o.drill.as_deref() == Some(id)) {
                store
                    .delete_override(&o.id)
                    .map_err(|e| OpsError::Storage(e.to_string()))?;
            }
            overrides.retain(|o| o.drill.as_deref() != Some(id));
            d.clone()
        };
        self.push().await;
        Ok(d)
    }

    /// A drill and its timeline.
    pub fn drill(&self, id: &str) -> Option<Drill> {
        self.lock().drills.iter().find(|d| d.id == id).cloned()
    }

    /// Once a second: observe running drills, end those past their time, expire overrides.
    pub async fn tick(&self) {
        let now = self.clock.now();
        let counts = (self.counts)();
        let changed = {
            let mut inner = self.lock();
            let Inner {
                store,
                overrides,
                drills,
                ..
            } = &mut *inner;
            let mut changed = false;
            for d in drills.iter_mut().filter(|d| d.ended_at.is_none()) {
                d.observe(&counts, now);
                if d.ends_at <= now {
                    d.ended_at = Some(d.ends_at);
                    let _ = store.audit(&system_entry(
                        now,
                        "end",
                        format!("/api/v1/drills/{}", d.id),
                        "reverted by itself".into(),
                    ));
                    changed = true;
                }
                let _ = store.save_drill(d);
            }
            for o in overrides.iter().filter(|o| !o.active(now)) {
                let _ = store.delete_override(&o.id);
                if o.drill.is_none() {
                    let _ = store.audit(&system_entry(
                        now,
                        "expire",
                        format!("/api/v1/overrides/{}", o.id),
                        format!("expired: {} {}", o.action.as_str(), o.target),
                    ));
                }
                changed = true;
            }
            overrides.retain(|o| o.active(now));
            changed
        };
        if changed {
            self.push().await;
        }
    }

    /// Record an audit entry.
    pub fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.lock().store.audit(&entry) {
            tracing::warn!(error = %e, "audit entry not written");
        }
    }

    /// The newest audit entries.
    pub fn audit_log(&self, limit: usize) -> Vec<AuditEntry> {
        self.lock().store.audit_log(limit).unwrap_or_default()
    }

    /// The newest health transitions.
    pub fn transitions(&self, limit: usize) -> Vec<crate::state::Transition> {
        self.lock().store.transitions(limit).unwrap_or_default()
    }

    /// The answer counts (for status and previews).
    pub fn counts(&self) -> Counts {
        (self.counts)()
    }
}
