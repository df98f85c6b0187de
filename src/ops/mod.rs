//! Operations: overrides, DR drills and the audit trail — the operator's hands on the
//! load balancer, made safe (validated, expiring, previewable), visible (status, dashboard)
//! and recorded (SQLite).
//!
//! [`Ops`] owns the list of overrides and drills (control plane only: the query path never
//! sees it). Every operator action is one [`store::Change`] — the state it changes and its
//! audit entry — committed in one SQLite transaction on a blocking thread (never on the async
//! runtime), one action at a time; only then is it applied in memory and handed to the health
//! engine, which republishes the snapshot with what is forced — so the API answers once the
//! action is durable, and it applies from the next query on. A tick every second expires
//! overrides, ends drills, starts scheduled overrides and drills, opens and closes
//! maintenance windows (`[[maintenance]]`), hands the engine the scheduled weights in force
//! (`[[pool.endpoint.weight_schedule]]`), and writes the per-minute rows of refused requests.

pub mod audit;
pub mod capacity;
pub mod drills;
pub mod notices;
pub mod overrides;
#[cfg(feature = "cluster")]
pub mod shared;
pub mod store;
pub mod traffic;

use crate::clock::Clock;
use crate::events::{EventKind, Events};
use crate::gslb::Target;
use crate::gslb::{Force, Forced};
use crate::health::engine::HealthHandle;
use crate::snapshot::SharedSnapshot;
use audit::{Actor, AuditEntry, Refusals, Retention};
use drills::{Counts, Drill, Preview};
use overrides::Override;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use store::{Change, OpsStore};

/// A source of answer counts (service, region, pool) → queries (the metrics).
pub type CountsFn = Arc<dyn Fn() -> Counts + Send + Sync>;

/// Why an operation was refused (maps to an HTTP status).
#[derive(Debug, Clone, PartialEq)]
pub enum OpsError {
    /// Bad input: 400.
    Invalid(String),
    /// Cannot act now (the health engine stopped, the store is unreachable): 503.
    Unavailable(String),
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
            | OpsError::Unavailable(s)
            | OpsError::NotFound(s)
            | OpsError::Conflict(s)
            | OpsError::Storage(s) => f.write_str(s),
        }
    }
}

struct Inner {
    overrides: Vec<Override>,
    drills: Vec<Drill>,
    next: u64,
    /// Cluster: the revision of every control key in the view applied (for guards).
    revisions: std::collections::HashMap<String, i64>,
    /// Cluster: per maintenance window, the start (Unix seconds) of its last opening made.
    marks: std::collections::HashMap<String, u64>,
    /// What was last handed to the health engine.
    pushed: Option<Forced>,
}

impl Inner {
    /// Apply a committed change in memory (one node).
    fn apply(&mut self, c: &Change) {
        self.overrides
            .retain(|o| !c.delete_overrides.contains(&o.id));
        for o in &c.put_overrides {
            match self.overrides.iter_mut().find(|x| x.id == o.id) {
                Some(slot) => *slot = o.clone(),
                None => self.overrides.push(o.clone()),
            }
        }
        for d in &c.put_drills {
            match self.drills.iter_mut().find(|x| x.id == d.id) {
                Some(slot) => *slot = d.clone(),
                None => self.drills.insert(0, d.clone()),
            }
        }
    }
}

/// The operations service.
pub struct Ops {
    inner: Mutex<Inner>,
    /// The database connection, used on blocking threads only.
    store: Arc<Mutex<OpsStore>>,
    /// The cluster, when the operators' state is shared through etcd.
    #[cfg(feature = "cluster")]
    shared: Option<crate::cluster::Cluster>,
    /// Cluster: the revision of the last view applied (and who waits for it).
    #[cfg(feature = "cluster")]
    applied: tokio::sync::watch::Sender<i64>,
    /// Held for the whole of an action: actions apply one at a time.
    acting: tokio::sync::Mutex<()>,
    refusals: Mutex<Refusals>,
    /// Recent GSLB traffic by client placement, for drill previews.
    traffic: Mutex<traffic::Traffic>,
    /// Recent queries per second per service (drill loads, capacity admission).
    rates: Mutex<capacity::Rates>,
    retention: Retention,
    clock: Clock,
    health: HealthHandle,
    snapshot: SharedSnapshot,
    counts: CountsFn,
    /// Where overrides' and drills' steps are told (`[[notify]]`).
    events: Events,
}

fn new_id(prefix: &str, n: u64, now: SystemTime) -> String {
    let t = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{prefix}-{t:x}-{n}")
}

fn storage(e: anyhow::Error) -> OpsError {
    OpsError::Storage(format!("the state file could not be written: {e}"))
}

/// The control key of an override (in a cluster; guards name it).
pub fn override_key(id: &str) -> String {
    format!("overrides/{id}")
}

/// The control key of a drill.
pub fn drill_key(id: &str) -> String {
    format!("drills/{id}")
}

/// The control key naming the drill that runs: one drill at a time, cluster-wide.
pub const ACTIVE_DRILL: &str = "drill";

/// The longest an override or a drill may last (a year: longer is a typo or an attack).
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// The farthest ahead an override or a drill may be scheduled.
pub const MAX_AHEAD: Duration = Duration::from_secs(366 * 24 * 3600);

/// The control key marking a maintenance window's last opening (cluster).
pub fn maintenance_key(name: &str) -> String {
    format!("maintenance/{name}")
}

/// An instant from a request: RFC 3339 (`2026-12-24T02:00:00Z`, or with an offset).
pub fn parse_instant(s: &str) -> Result<SystemTime, OpsError> {
    let ts: jiff::Timestamp = s.trim().parse().map_err(|e| {
        OpsError::Invalid(format!(
            "`{s}` is not an RFC 3339 instant like 2026-12-24T02:00:00Z: {e}"
        ))
    })?;
    let secs = u64::try_from(ts.as_second())
        .map_err(|_| OpsError::Invalid(format!("`{s}` is before 1970")))?;
    Ok(SystemTime::UNIX_EPOCH
        + Duration::from_secs(secs)
        + Duration::from_nanos(u64::from(ts.subsec_nanosecond().unsigned_abs())))
}

/// `starts_at` checked against `now`: in the future, within [`MAX_AHEAD`].
fn check_start(starts_at: SystemTime, now: SystemTime) -> Result<(), OpsError> {
    if starts_at <= now {
        return Err(OpsError::Invalid(format!(
            "starts_at {} is not in the future (now is {})",
            humantime::format_rfc3339_seconds(starts_at),
            humantime::format_rfc3339_seconds(now)
        )));
    }
    if starts_at > now + MAX_AHEAD {
        return Err(OpsError::Invalid(format!(
            "starts_at {} is more than {} ahead",
            humantime::format_rfc3339_seconds(starts_at),
            humantime::format_duration(MAX_AHEAD)
        )));
    }
    Ok(())
}

impl Ops {
    /// Load stored overrides and drills (dropping those that expired while the server was
    /// down, with an audit entry each) and hand the rest to the health engine.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        state_file: &std::path::Path,
        retention: Retention,
        health: HealthHandle,
        snapshot: SharedSnapshot,
        counts: CountsFn,
        clock: Clock,
        events: Events,
        #[cfg(feature = "cluster")] shared: Option<crate::cluster::Cluster>,
    ) -> anyhow::Result<Arc<Ops>> {
        let path = state_file.to_path_buf();
        #[cfg(feature = "cluster")]
        let clustered = shared.is_some();
        #[cfg(not(feature = "cluster"))]
        let clustered = false;
        let now = clock.now();
        let (store, overrides, drills) = tokio::task::spawn_blocking(move || {
            let mut store = OpsStore::open(&path)?;
            if clustered {
                // The shared state comes from the cluster view; the file keeps the history.
                store.prune_audit(retention, now)?;
                return anyhow::Ok((store, Vec::new(), Vec::new()));
            }
            let mut overrides = store.overrides()?;
            let mut drills = store.drills()?;
            let mut change = Change::default();
            for o in overrides.iter().filter(|o| o.expired(now)) {
                change.delete_overrides.push(o.id.clone());
                change.audit.push(audit::system(
                    now,
                    if o.maintenance.is_some() {
                        "maintenance end"
                    } else {
                        "expire"
                    },
                    format!("/api/v1/overrides/{}", o.id),
                    format!(
                        "expired while the server was down: {} {}",
                        o.action.as_str(),
                        o.target
                    ),
                ));
            }
            overrides.retain(|o| !o.expired(now));
            for d in drills
                .iter_mut()
                .filter(|d| d.ended_at.is_none() && d.ends_at <= now)
            {
                d.ended_at = Some(d.ends_at);
                change.put_drills.push(d.clone());
                change.audit.push(audit::system(
                    now,
                    "end",
                    format!("/api/v1/drills/{}", d.id),
                    "reverted by itself while the server was down".into(),
                ));
            }
            if !change.is_empty() {
                store.commit(&change)?;
            }
            store.prune_audit(retention, now)?;
            anyhow::Ok((store, overrides, drills))
        })
        .await??;
        let ops = Arc::new(Ops {
            inner: Mutex::new(Inner {
                overrides: overrides.clone(),
                drills,
                next: 1,
                revisions: Default::default(),
                marks: Default::default(),
                pushed: None,
            }),
            store: Arc::new(Mutex::new(store)),
            #[cfg(feature = "cluster")]
            shared: shared.clone(),
            #[cfg(feature = "cluster")]
            applied: tokio::sync::watch::channel(0).0,
            acting: tokio::sync::Mutex::new(()),
            refusals: Mutex::new(Refusals::default()),
            traffic: Mutex::new(traffic::Traffic::default()),
            rates: Mutex::new(capacity::Rates::default()),
            retention,
            clock,
            health,
            snapshot,
            counts,
            events,
        });
        #[cfg(feature = "cluster")]
        if let Some(cluster) = shared {
            // Apply the view (restored or live) before answering anything, then every new one.
            let mut views = cluster.subscribe();
            // Clone out of the guard first: holding the channel's read lock across the await
            // would block the watcher's next send on this same thread.
            let view = views.borrow_and_update().clone();
            ops.apply_view(&view).await;
            let o = Arc::downgrade(&ops);
            tokio::spawn(async move {
                while views.changed().await.is_ok() {
                    let view = views.borrow_and_update().clone();
                    let Some(ops) = o.upgrade() else { return };
                    ops.apply_view(&view).await;
                }
            });
            return Ok(ops);
        }
        let _ = overrides;
        // What fell due while the server was down (a scheduled start, a window that is open
        // now) is done before the first answer.
        ops.tick().await;
        ops.push().await;
        Ok(ops)
    }

    /// Cluster: take the operators' state from `view` (the same on every node), keeping this
    /// node's own observations of running drills, and hand it to the health engine.
    #[cfg(feature = "cluster")]
    async fn apply_view(&self, view: &crate::cluster::ClusterView) {
        let (overrides, drills, revisions, marks) = shared::read(view);
        {
            let mut inner = self.lock();
            let mine: std::collections::HashMap<String, Drill> =
                inner.drills.drain(..).map(|d| (d.id.clone(), d)).collect();
            let counts = (self.counts)();
            inner.drills = drills
                .into_iter()
                .map(|sd| {
                    let local = mine.get(&sd.drill.id);
                    Drill {
                        id: sd.drill.id,
                        fail: sd.drill.fail,
                        reason: sd.drill.reason,
                        started_at: sd.drill.started_at,
                        ends_at: sd.drill.ends_at,
                        ended_at: sd.drill.ended_at,
                        first_moved_at: local
                            .and_then(|d| d.first_moved_at)
                            .or(sd.drill.first_moved_at),
                        created_by: sd.drill.created_by,
                        queries: local.map(|d| d.queries.clone()).unwrap_or_default(),
                        moves: sd.moves,
                        // Counted from when this node first saw the drill.
                        baseline: local.map_or_else(|| counts.clone(), |d| d.baseline.clone()),
                        report: local.map_or_else(|| sd.drill.report.clone(), |d| d.report.clone()),
                        moved: local.map(|d| d.moved.clone()).unwrap_or_default(),
                        minute_mark: local.map_or_else(
                            || (sd.drill.started_at, Default::default()),
                            |d| d.minute_mark.clone(),
                        ),
                        scheduled: sd.drill.scheduled,
                    }
                })
                .collect();
            inner.overrides = overrides;
            inner.revisions = revisions;
            inner.marks = marks;
        }
        self.push().await;
        self.applied.send_replace(view.revision());
    }

    /// Commit `change`; `Ok(true)` when the caller applies it in memory (one node), `Ok(false)`
    /// when the cluster view brought it (this returns once this node applied it).
    async fn committed(&self, change: Change) -> Result<bool, OpsError> {
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.shared {
            let rev = shared::commit(cluster, &change).await?;
            let mut applied = self.applied.subscribe();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), applied.wait_for(|&r| r >= rev)).await;
            return Ok(false);
        }
        self.commit(change).await?;
        Ok(true)
    }

    /// The revision of control `key` in the applied view (0: absent, or one node).
    fn revision(&self, key: &str) -> i64 {
        self.lock().revisions.get(key).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the database on a blocking thread.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut OpsStore) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|e| anyhow::anyhow!("database task failed: {e}"))?
    }

    /// Commit `change` durably (then the caller applies it in memory).
    async fn commit(&self, change: Change) -> Result<(), OpsError> {
        if change.is_empty() {
            return Ok(());
        }
        self.with_store(move |s| s.commit(&change))
            .await
            .map_err(storage)
    }

    /// Refuse actions while the health engine is not running: they could not apply.
    fn ready(&self) -> Result<(), OpsError> {
        if self.health.is_alive() {
            Ok(())
        } else {
            Err(OpsError::Unavailable(
                "the health engine has stopped: actions cannot apply (see the log)".into(),
            ))
        }
    }

    /// What is forced at `now`: the overrides in force and the scheduled weights.
    fn forced_at(&self, list: &[Override], now: SystemTime) -> Forced {
        Forced {
            overrides: overrides::forced(list, now),
            weights: self.snapshot.load().model.gslb.scheduled_weights(now),
        }
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
        let forced = self.forced_at(&list, now);
        self.lock().pushed = Some(forced.clone());
        self.health.set_forced(forced).await;
    }

    /// Hand the engine what is forced now if it changed by time alone (a scheduled override
    /// starting, a weight schedule firing, a reload changing the schedules).
    async fn push_if_due(&self) {
        let now = self.clock.now();
        let (list, pushed) = {
            let inner = self.lock();
            (inner.overrides.clone(), inner.pushed.clone())
        };
        if pushed.as_ref() != Some(&self.forced_at(&list, now)) {
            self.push().await;
        }
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

    /// Overrides in force, then the scheduled ones (soonest first).
    pub fn listed(&self) -> Vec<Override> {
        let now = self.clock.now();
        let mut list: Vec<Override> = self
            .lock()
            .overrides
            .iter()
            .filter(|o| !o.expired(now))
            .cloned()
            .collect();
        list.sort_by_key(|o| (!o.active(now), o.starts_at.unwrap_or(o.created_at)));
        list
    }

    /// What is scheduled: overrides and drills that start later, every maintenance window's
    /// next start, every scheduled weight's next change.
    pub fn scheduled(&self) -> crate::api::Scheduled {
        let now = self.clock.now();
        let (mut overrides, mut drills) = {
            let inner = self.lock();
            (
                inner
                    .overrides
                    .iter()
                    .filter(|o| !o.expired(now) && !o.active(now))
                    .cloned()
                    .collect::<Vec<_>>(),
                inner
                    .drills
                    .iter()
                    .filter(|d| d.scheduled && d.ended_at.is_none())
                    .map(|d| d.api())
                    .collect::<Vec<_>>(),
            )
        };
        overrides.sort_by_key(|o| o.starts_at);
        drills.sort_by_key(|d| d.started_at);
        let model = self.snapshot.load().model.clone();
        let maintenance = model
            .maintenance
            .iter()
            .map(|w| crate::api::MaintenanceInfo {
                name: w.name.clone(),
                target: w.target.clone(),
                action: w.action.clone(),
                schedule: w.schedule.as_str().to_string(),
                duration_s: w.duration.as_secs(),
                open_until: w.open_at(now).map(|s| s + w.duration),
                next_start: w.next_start(now),
            })
            .collect();
        let weights = model
            .gslb
            .endpoints
            .iter()
            .filter(|e| !e.weight_schedule.is_empty())
            .map(|e| {
                let next = crate::config::schedule::next_weight(&e.weight_schedule, now);
                crate::api::WeightInfo {
                    endpoint: e.name.clone(),
                    configured: e.weight,
                    weight: crate::config::schedule::weight_at(&e.weight_schedule, e.weight, now),
                    next_at: next.map(|n| n.0),
                    next_weight: next.map(|n| n.1),
                }
            })
            .collect();
        crate::api::Scheduled {
            overrides,
            drills,
            maintenance,
            weights,
        }
    }

    /// The running drill, if any.
    pub fn active_drill(&self) -> Option<Drill> {
        let now = self.clock.now();
        self.lock().drills.iter().find(|d| d.active(now)).cloned()
    }

    /// Add an override, recorded as `actor`'s.
    pub async fn add_override(
        &self,
        target: &str,
        action: &str,
        reason: &str,
        expires_in: Option<Duration>,
        starts_at: Option<SystemTime>,
        actor: &Actor,
    ) -> Result<Override, OpsError> {
        self.ready()?;
        if let Some(s) = starts_at {
            check_start(s, self.clock.now())?;
        }
        let target: Target = target.parse().map_err(OpsError::Invalid)?;
        let action = Force::parse(action).ok_or_else(|| {
            OpsError::Invalid(format!("unknown action `{action}` (drain, down, up)"))
        })?;
        if expires_in.is_some_and(|d| d > MAX_DURATION || d.is_zero()) {
            return Err(OpsError::Invalid(format!(
                "expires_in must be between 1s and {}",
                humantime::format_duration(MAX_DURATION)
            )));
        }
        target
            .endpoints(&self.snapshot.load().model.gslb)
            .map_err(OpsError::Invalid)?;
        let _one = self.acting.lock().await;
        let now = self.clock.now();
        let n = {
            let mut inner = self.lock();
            inner.next += 1;
            inner.next
        };
        let o = Override {
            id: new_id("ovr", n, now),
            target,
            action,
            reason: audit::cap(reason, audit::MAX_TEXT),
            created_at: now,
            expires_at: expires_in.map(|d| starts_at.unwrap_or(now) + d),
            created_by: actor.token.clone(),
            drill: None,
            starts_at,
            scheduled: starts_at.is_some(),
            maintenance: None,
        };
        let mut result = format!("{} {} {}", o.id, o.action.as_str(), o.target);
        if let Some(s) = starts_at {
            result.push_str(&format!(
                " scheduled at {}",
                humantime::format_rfc3339_seconds(s)
            ));
        }
        let local = self
            .committed(Change {
                put_overrides: vec![o.clone()],
                audit: vec![actor.entry(now, 201, &result)],
                guard: vec![(override_key(&o.id), 0)],
                ..Change::default()
            })
            .await?;
        self.events
            .emit(notices::override_event(EventKind::OverrideCreated, &o).actor(&actor.token));
        if local {
            self.lock().overrides.push(o.clone());
            self.push().await;
        }
        Ok(o)
    }

    /// Remove an override (not one of a drill's: stop the drill instead).
    pub async fn remove_override(&self, id: &str, actor: &Actor) -> Result<Override, OpsError> {
        self.ready()?;
        let _one = self.acting.lock().await;
        let o = {
            let inner = self.lock();
            let o = inner
                .overrides
                .iter()
                .find(|o| o.id == id)
                .ok_or_else(|| OpsError::NotFound(format!("no override `{id}`")))?;
            if let Some(d) = &o.drill {
                return Err(OpsError::Conflict(format!(
                    "override `{id}` belongs to drill `{d}`: stop the drill"
                )));
            }
            if let Some(w) = &o.maintenance {
                return Err(OpsError::Conflict(format!(
                    "override `{id}` is maintenance window `{w}`: it closes by itself; change the window in the config and reload to cut it short"
                )));
            }
            o.clone()
        };
        let now = self.clock.now();
        let key = override_key(id);
        let local = self
            .committed(Change {
                delete_overrides: vec![id.to_string()],
                audit: vec![actor.entry(now, 200, &format!("removed {id}"))],
                guard: vec![(key.clone(), self.revision(&key))],
                ..Change::default()
            })
            .await?;
        self.events
            .emit(notices::override_event(EventKind::OverrideRemoved, &o).actor(&actor.token));
        if local {
            self.lock().overrides.retain(|o| o.id != id);
            self.push().await;
        }
        Ok(o)
    }

    /// A what-if as of `at` (when given): the health now, with what is forced at `at`
    /// (scheduled overrides, maintenance windows open then, the weights then) instead of what
    /// is forced now; `fail` on top. Changes nothing.
    pub fn preview_at(&self, fail: &[String], at: Option<SystemTime>) -> Result<Preview, OpsError> {
        let targets = match at {
            Some(_) if fail.is_empty() => Vec::new(),
            _ => self.parse_targets(fail)?,
        };
        let snap = self.snapshot.load_full();
        let traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = at else {
            let mut p = drills::preview(&snap.gslb_inputs(), &targets, &traffic);
            capacity::add_loads(
                &snap.model.gslb,
                &mut p,
                &self.rates.lock().unwrap_or_else(|e| e.into_inner()),
            );
            return Ok(p);
        };
        let now = self.clock.now();
        if at > now + MAX_AHEAD {
            return Err(OpsError::Invalid(format!(
                "at is more than {} ahead",
                humantime::format_duration(MAX_AHEAD)
            )));
        }
        // The measured view without today's overlay, then the overlay of `at`.
        let list = self.lock().overrides.clone();
        let mut forced = self.forced_at(&list, at);
        for w in snap.model.maintenance.iter() {
            if w.open_at(at).is_some()
                && let (Ok(t), Some(f)) = (w.target.parse::<Target>(), Force::parse(&w.action))
            {
                forced.overrides.push((t, f));
            }
        }
        let g = &snap.model.gslb;
        let mut health = crate::gslb::HealthView::all_up(g);
        for e in 0..g.endpoints.len() {
            health.set_up(e, snap.health.is_up(e));
        }
        // Undo what is forced now (the engine's measured verdicts are not kept apart in the
        // snapshot): endpoints forced now take the measured-or-all-up state.
        let now_forced = self.forced_at(&list, now);
        let mut unforced: std::collections::HashSet<usize> = Default::default();
        for (t, _) in &now_forced.overrides {
            unforced.extend(t.endpoints(g).unwrap_or_default());
        }
        for e in unforced {
            health.set_up(e, true);
        }
        for r in 0..g.regions.len() {
            for p in 0..g.pools.len() {
                if let Some(ms) = snap.health.latency_ms(r, p) {
                    health.set_latency(r, p, ms);
                }
            }
        }
        health.lay(g, &forced);
        let inputs = crate::gslb::decide::Inputs {
            health: &health,
            ..snap.gslb_inputs()
        };
        let mut p = drills::preview(&inputs, &targets, &traffic);
        capacity::add_loads(
            &snap.model.gslb,
            &mut p,
            &self.rates.lock().unwrap_or_else(|e| e.into_inner()),
        );
        Ok(p)
    }

    /// The pools every endpoint of which `targets` take out.
    fn drilled_pools(&self, targets: &[Target]) -> Vec<String> {
        let snap = self.snapshot.load();
        let g = &snap.model.gslb;
        let out: std::collections::HashSet<usize> = targets
            .iter()
            .filter_map(|t| t.endpoints(g).ok())
            .flatten()
            .collect();
        g.pools
            .iter()
            .filter(|p| !p.endpoints.is_empty() && p.endpoints.iter().all(|e| out.contains(e)))
            .map(|p| p.name.clone())
            .collect()
    }

    fn parse_targets(&self, fail: &[String]) -> Result<Vec<Target>, OpsError> {
        if fail.is_empty() {
            return Err(OpsError::Invalid("`fail` lists no target".into()));
        }
        if fail.len() > 1000 {
            return Err(OpsError::Invalid(
                "`fail` lists more than 1000 targets".into(),
            ));
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

    /// Start a drill (now, or at `starts_at`), recorded as `actor`'s.
    pub async fn start_drill(
        &self,
        fail: &[String],
        reason: &str,
        duration: Duration,
        starts_at: Option<SystemTime>,
        actor: &Actor,
    ) -> Result<Drill, OpsError> {
        self.ready()?;
        let targets = self.parse_targets(fail)?;
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(OpsError::Invalid(format!(
                "duration must be between 1s and {}",
                humantime::format_duration(MAX_DURATION)
            )));
        }
        if let Some(s) = starts_at {
            check_start(s, self.clock.now())?;
        }
        let _one = self.acting.lock().await;
        let now = self.clock.now();
        let n = {
            let mut inner = self.lock();
            if starts_at.is_none()
                && let Some(d) = inner.drills.iter().find(|d| d.active(now))
            {
                return Err(OpsError::Conflict(format!(
                    "drill `{}` is running: stop it first",
                    d.id
                )));
            }
            inner.next += 1;
            inner.next
        };
        let start = starts_at.unwrap_or(now);
        let mut d = Drill {
            id: new_id("drill", n, now),
            fail: targets,
            reason: audit::cap(reason, audit::MAX_TEXT),
            started_at: start,
            ends_at: start + duration,
            ended_at: None,
            first_moved_at: None,
            created_by: actor.token.clone(),
            queries: Default::default(),
            moves: Vec::new(),
            baseline: Default::default(),
            report: Default::default(),
            moved: Default::default(),
            minute_mark: (start, Default::default()),
            scheduled: starts_at.is_some(),
        };
        if let Some(s) = starts_at {
            // Stored now; the tick starts it at its instant.
            let key = drill_key(&d.id);
            let result = format!(
                "drill {} scheduled at {}",
                d.id,
                humantime::format_rfc3339_seconds(s)
            );
            let local = self
                .committed(Change {
                    put_drills: vec![d.clone()],
                    audit: vec![actor.entry(now, 201, &result)],
                    guard: vec![(key, 0)],
                    ..Change::default()
                })
                .await?;
            if local {
                self.lock().drills.insert(0, d.clone());
            }
            return Ok(d);
        }
        self.begin(&mut d, now);
        let overrides = d.overrides();
        let local = self
            .committed(Change {
                put_overrides: overrides.clone(),
                put_drills: vec![d.clone()],
                put_marks: vec![(ACTIVE_DRILL.to_string(), d.id.clone())],
                audit: vec![actor.entry(now, 201, &format!("drill {} started", d.id))],
                // No drill may have started meanwhile, on any node.
                guard: vec![(ACTIVE_DRILL.to_string(), self.revision(ACTIVE_DRILL))],
                ..Change::default()
            })
            .await?;
        self.events
            .emit(notices::drill_event(EventKind::DrillStarted, &d, "").actor(&actor.token));
        if local {
            let mut inner = self.lock();
            inner.overrides.extend(overrides);
            inner.drills.insert(0, d.clone());
        }
        if local {
            self.push().await;
        }
        Ok(d)
    }

    /// Make `d` start at `now`: the preview's predicted moves and shares, the counters'
    /// baseline. (Its overrides are [`Drill::overrides`].)
    fn begin(&self, d: &mut Drill, now: SystemTime) {
        let preview = {
            let snap = self.snapshot.load_full();
            let traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
            drills::preview(&snap.gslb_inputs(), &d.fail, &traffic)
        };
        let fail = d.fail.clone();
        d.scheduled = false;
        d.moves = preview
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
            .collect();
        d.baseline = (self.counts)();
        d.report = crate::api::DrillReport {
            predicted: preview
                .services
                .iter()
                .filter_map(|(svc, m)| Some((svc.clone(), m.get("during")?.clone())))
                .collect(),
            drilled_pools: self.drilled_pools(&fail),
            ..Default::default()
        };
        d.minute_mark = (now, Default::default());
    }

    /// Stop a running drill: its overrides go, traffic comes back.
    pub async fn stop_drill(&self, id: &str, actor: &Actor) -> Result<Drill, OpsError> {
        self.ready()?;
        let _one = self.acting.lock().await;
        let now = self.clock.now();
        let counts = (self.counts)();
        let (d, ids) = {
            let inner = self.lock();
            let d = inner
                .drills
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| OpsError::NotFound(format!("no drill `{id}`")))?;
            if d.ended_at.is_some() {
                return Err(OpsError::Conflict(format!("drill `{id}` has ended")));
            }
            let mut d = d.clone();
            if !d.scheduled {
                d.observe(&counts, now);
            }
            d.ended_at = Some(now);
            let ids: Vec<String> = inner
                .overrides
                .iter()
                .filter(|o| o.drill.as_deref() == Some(id))
                .map(|o| o.id.clone())
                .collect();
            (d, ids)
        };
        let key = drill_key(id);
        // A scheduled drill that has not started is cancelled: it holds no mark.
        let (marks, result) = if d.scheduled {
            (Vec::new(), format!("drill {id} cancelled before its start"))
        } else {
            (
                vec![ACTIVE_DRILL.to_string()],
                format!("drill {id} stopped"),
            )
        };
        let local = self
            .committed(Change {
                delete_overrides: ids,
                put_drills: vec![d.clone()],
                delete_marks: marks,
                audit: vec![actor.entry(now, 200, &result)],
                guard: vec![(key.clone(), self.revision(&key))],
                ..Change::default()
            })
            .await?;
        self.events
            .emit(notices::drill_event(EventKind::DrillEnded, &d, "stopped").actor(&actor.token));
        if local {
            {
                let mut inner = self.lock();
                inner.overrides.retain(|o| o.drill.as_deref() != Some(id));
                if let Some(slot) = inner.drills.iter_mut().find(|x| x.id == id) {
                    *slot = d.clone();
                }
            }
            self.push().await;
        }
        Ok(d)
    }

    /// A drill and its timeline.
    pub fn drill(&self, id: &str) -> Option<Drill> {
        self.lock().drills.iter().find(|d| d.id == id).cloned()
    }

    /// Once a second: observe running drills, end those past their time, expire overrides;
    /// write the rows of refused requests whose minute is over; prune the audit trail once a
    /// minute.
    pub async fn tick(&self) {
        let samples = self.snapshot.load().metrics.process().take_samples();
        self.traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(samples, self.clock.now());
        self.capacity_tick();
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.shared {
            return self.tick_shared(cluster).await;
        }
        let _one = self.acting.lock().await;
        let now = self.clock.now();
        let counts = (self.counts)();
        let mut change = Change::default();
        let changed = {
            let mut inner = self.lock();
            let Inner {
                overrides, drills, ..
            } = &mut *inner;
            let mut changed = false;
            for d in drills
                .iter_mut()
                .filter(|d| d.ended_at.is_none() && !d.scheduled)
            {
                d.observe(&counts, now);
                if d.ends_at <= now {
                    d.ended_at = Some(d.ends_at);
                    self.events.emit(notices::drill_event(
                        EventKind::DrillEnded,
                        d,
                        "reverted by itself",
                    ));
                    change.audit.push(audit::system(
                        now,
                        "end",
                        format!("/api/v1/drills/{}", d.id),
                        "reverted by itself".into(),
                    ));
                    changed = true;
                }
                change.put_drills.push(d.clone());
            }
            // Maintenance windows' overrides are closed by `due` (with their own entry).
            let expired = |o: &Override| o.expired(now) && o.maintenance.is_none();
            for o in overrides.iter().filter(|o| expired(o)) {
                change.delete_overrides.push(o.id.clone());
                if o.drill.is_none() {
                    self.events
                        .emit(notices::override_event(EventKind::OverrideExpired, o));
                    change.audit.push(audit::system(
                        now,
                        "expire",
                        format!("/api/v1/overrides/{}", o.id),
                        format!("expired: {} {}", o.action.as_str(), o.target),
                    ));
                }
                changed = true;
            }
            overrides.retain(|o| !expired(o));
            changed
        };
        // Scheduled starts, maintenance windows: applied in memory once committed below.
        let due = self.due(now);
        let changed = changed || !due.is_empty();
        for d in &due {
            change.put_overrides.extend(d.put_overrides.iter().cloned());
            change
                .delete_overrides
                .extend(d.delete_overrides.iter().cloned());
            change.put_drills.extend(d.put_drills.iter().cloned());
            change.audit.extend(d.audit.iter().cloned());
        }
        change.audit.extend(
            self.refusals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finish(now),
        );
        let prune = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .is_ok_and(|d| d.as_secs().is_multiple_of(60));
        let keep = self.retention;
        let result = self
            .with_store(move |s| {
                if !change.is_empty() {
                    s.commit(&change)?;
                }
                if prune {
                    s.prune_audit(keep, now)?;
                }
                Ok(())
            })
            .await;
        match result {
            Err(e) => {
                tracing::error!(error = %e, "operations state not written; will retry")
            }
            Ok(()) => {
                let events: Vec<_> = due.iter().flat_map(|d| self.due_events(d)).collect();
                let mut inner = self.lock();
                for d in &due {
                    inner.apply(d);
                }
                drop(inner);
                events.into_iter().for_each(|e| self.events.emit(e));
            }
        }
        if changed {
            self.push().await;
        } else {
            self.push_if_due().await;
        }
    }

    /// Once a second: the recent rates, and the capacity admission of every pool that
    /// declares a capacity, handed to the health engine.
    fn capacity_tick(&self) {
        let counts = (self.counts)();
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        rates.observe(&counts, self.clock.now());
        let snap = self.snapshot.load_full();
        let traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        let admit = capacity::admission(&snap.gslb_inputs(), &traffic, &rates);
        self.health.set_capacity(admit);
    }

    /// What the webhooks are told of a change that fell due (made by this node): a
    /// maintenance window opening or closing, a scheduled drill starting.
    fn due_events(&self, change: &Change) -> Vec<crate::events::Event> {
        let inner = self.lock();
        let opened = change
            .put_overrides
            .iter()
            .filter(|o| o.maintenance.is_some())
            .map(|o| notices::override_event(EventKind::MaintenanceStarted, o));
        let closed = change
            .delete_overrides
            .iter()
            .filter_map(|id| inner.overrides.iter().find(|o| &o.id == id))
            .filter(|o| o.maintenance.is_some())
            .map(|o| notices::override_event(EventKind::MaintenanceEnded, o));
        let drills = change
            .put_drills
            .iter()
            .filter(|_| change.audit.iter().any(|a| a.method == "start"))
            .map(|d| notices::drill_event(EventKind::DrillStarted, d, "scheduled"));
        opened.chain(closed).chain(drills).collect()
    }

    /// What falls due at `now` by schedule, as guarded changes (each done once, cluster-wide):
    /// scheduled overrides and drills to start, maintenance windows to open and close.
    fn due(&self, now: SystemTime) -> Vec<Change> {
        let model = self.snapshot.load().model.clone();
        let inner = self.lock();
        let rev = |key: &str| inner.revisions.get(key).copied().unwrap_or(0);
        let mut out = Vec::new();
        // Scheduled overrides whose start came.
        for o in inner
            .overrides
            .iter()
            .filter(|o| o.scheduled && o.starts_at.is_some_and(|s| s <= now) && !o.expired(now))
        {
            let key = override_key(&o.id);
            out.push(Change {
                put_overrides: vec![Override {
                    scheduled: false,
                    ..o.clone()
                }],
                audit: vec![audit::system(
                    now,
                    "start",
                    format!("/api/v1/overrides/{}", o.id),
                    format!("started as scheduled: {} {}", o.action.as_str(), o.target),
                )],
                guard: vec![(key.clone(), rev(&key))],
                ..Change::default()
            });
        }
        // Maintenance windows: open what is open now, close what is not (any more).
        let mut open = std::collections::HashSet::new();
        for w in model.maintenance.iter() {
            let Some(start) = w.open_at(now) else {
                continue;
            };
            let id = w.override_id(start);
            open.insert(id.clone());
            let secs = start
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mark = maintenance_key(&w.name);
            if inner.overrides.iter().any(|o| o.id == id)
                || inner.marks.get(&mark).is_some_and(|&m| m >= secs)
            {
                continue;
            }
            let (Ok(target), Some(action)) = (w.target.parse::<Target>(), Force::parse(&w.action))
            else {
                continue;
            };
            let until = start + w.duration;
            let o = Override {
                id: id.clone(),
                target,
                action,
                reason: if w.reason.is_empty() {
                    format!("maintenance window {}", w.name)
                } else {
                    format!("maintenance window {}: {}", w.name, w.reason)
                },
                created_at: now,
                expires_at: Some(until),
                created_by: "system".into(),
                drill: None,
                starts_at: Some(start),
                scheduled: false,
                maintenance: Some(w.name.clone()),
            };
            out.push(Change {
                put_overrides: vec![o],
                put_marks: vec![(mark.clone(), secs.to_string())],
                audit: vec![audit::system(
                    now,
                    "maintenance start",
                    format!("/api/v1/overrides/{id}"),
                    format!(
                        "window {}: {} {} until {}",
                        w.name,
                        w.action,
                        w.target,
                        humantime::format_rfc3339_seconds(until)
                    ),
                )],
                guard: vec![(override_key(&id), 0), (mark.clone(), rev(&mark))],
                ..Change::default()
            });
        }
        for o in inner
            .overrides
            .iter()
            .filter(|o| o.maintenance.is_some() && !open.contains(&o.id))
        {
            let key = override_key(&o.id);
            let why = if o.expired(now) {
                "its time is over"
            } else {
                "the window changed in the config"
            };
            out.push(Change {
                delete_overrides: vec![o.id.clone()],
                audit: vec![audit::system(
                    now,
                    "maintenance end",
                    format!("/api/v1/overrides/{}", o.id),
                    format!(
                        "window {}: {} {} closed: {why}",
                        o.maintenance.as_deref().unwrap_or_default(),
                        o.action.as_str(),
                        o.target
                    ),
                )],
                guard: vec![(key.clone(), rev(&key))],
                ..Change::default()
            });
        }
        // Scheduled drills whose start came: one drill at a time, checked now.
        let mut running = inner
            .drills
            .iter()
            .find(|d| d.active(now))
            .map(|d| d.id.clone());
        let mut starting = Vec::new();
        // The earliest scheduled first; at the same instant, the one made first.
        let mut pending: Vec<&Drill> = inner
            .drills
            .iter()
            .filter(|d| d.scheduled && d.ended_at.is_none() && d.started_at <= now)
            .collect();
        pending.sort_by_key(|d| (d.started_at, d.id.len(), d.id.clone()));
        for d in pending {
            let key = drill_key(&d.id);
            let mut d = d.clone();
            let why = if d.ends_at <= now {
                Some("its time passed while the server was down".to_string())
            } else {
                running
                    .as_ref()
                    .map(|r| format!("refused at its start: drill `{r}` is running"))
            };
            if let Some(why) = why {
                d.scheduled = false;
                d.ended_at = Some(now);
                out.push(Change {
                    put_drills: vec![d.clone()],
                    audit: vec![audit::system(
                        now,
                        "skip",
                        format!("/api/v1/drills/{}", d.id),
                        format!("scheduled drill not started: {why}"),
                    )],
                    guard: vec![(key.clone(), rev(&key))],
                    ..Change::default()
                });
                continue;
            }
            running = Some(d.id.clone());
            starting.push((
                d,
                vec![
                    (ACTIVE_DRILL.to_string(), rev(ACTIVE_DRILL)),
                    (key.clone(), rev(&key)),
                ],
            ));
        }
        drop(inner);
        for (mut d, guard) in starting {
            self.begin(&mut d, now);
            out.push(Change {
                put_overrides: d.overrides(),
                put_drills: vec![d.clone()],
                put_marks: vec![(ACTIVE_DRILL.to_string(), d.id.clone())],
                audit: vec![audit::system(
                    now,
                    "start",
                    format!("/api/v1/drills/{}", d.id),
                    "scheduled drill started".into(),
                )],
                guard,
                ..Change::default()
            });
        }
        out
    }

    /// Cluster: what falls due is done once for the whole cluster — every node tries, a guard
    /// on the key's revision lets exactly one succeed. Drill timelines are this node's.
    #[cfg(feature = "cluster")]
    async fn tick_shared(&self, cluster: &crate::cluster::Cluster) {
        let now = self.clock.now();
        let counts = (self.counts)();
        let mut due = Vec::new();
        // What to tell once the change at that index in `due` is made by this node.
        let mut tell = std::collections::HashMap::new();
        {
            let mut inner = self.lock();
            let Inner {
                overrides,
                drills,
                revisions,
                ..
            } = &mut *inner;
            for d in drills
                .iter_mut()
                .filter(|d| d.ended_at.is_none() && !d.scheduled)
            {
                d.observe(&counts, now);
                if d.ends_at <= now {
                    let mut ended = d.clone();
                    ended.ended_at = Some(d.ends_at);
                    let key = drill_key(&d.id);
                    tell.insert(
                        due.len(),
                        vec![notices::drill_event(
                            EventKind::DrillEnded,
                            &ended,
                            "reverted by itself",
                        )],
                    );
                    due.push(Change {
                        delete_overrides: overrides
                            .iter()
                            .filter(|o| o.drill.as_deref() == Some(d.id.as_str()))
                            .map(|o| o.id.clone())
                            .collect(),
                        put_drills: vec![ended],
                        delete_marks: vec![ACTIVE_DRILL.to_string()],
                        audit: vec![audit::system(
                            now,
                            "end",
                            format!("/api/v1/drills/{}", d.id),
                            "reverted by itself".into(),
                        )],
                        guard: vec![(key.clone(), revisions.get(&key).copied().unwrap_or(0))],
                        ..Change::default()
                    });
                }
            }
            for o in overrides
                .iter()
                .filter(|o| o.expired(now) && o.drill.is_none() && o.maintenance.is_none())
            {
                let key = override_key(&o.id);
                tell.insert(
                    due.len(),
                    vec![notices::override_event(EventKind::OverrideExpired, o)],
                );
                due.push(Change {
                    delete_overrides: vec![o.id.clone()],
                    audit: vec![audit::system(
                        now,
                        "expire",
                        format!("/api/v1/overrides/{}", o.id),
                        format!("expired: {} {}", o.action.as_str(), o.target),
                    )],
                    guard: vec![(key.clone(), revisions.get(&key).copied().unwrap_or(0))],
                    ..Change::default()
                });
            }
        }
        let rows = self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(now);
        if !rows.is_empty() {
            due.push(Change::audit(rows));
        }
        for d in self.due(now) {
            tell.insert(due.len(), self.due_events(&d));
            due.push(d);
        }
        for (i, change) in due.into_iter().enumerate() {
            match shared::commit(cluster, &change).await {
                Ok(_) => tell
                    .remove(&i)
                    .into_iter()
                    .flatten()
                    .for_each(|e| self.events.emit(e)),
                Err(OpsError::Conflict(_)) => {} // done by another node
                Err(e) => {
                    tracing::warn!(error = %e, "a due change could not be made now; retried next second")
                }
            }
        }
        self.push_if_due().await;
    }

    /// Record a refused request (metadata only; repeats from one source are counted per
    /// minute).
    pub async fn refused(&self, entry: AuditEntry) {
        let first = self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note(entry);
        if let Some(e) = first
            && let Err(e) = self.committed(Change::audit(vec![e])).await
        {
            tracing::warn!(error = %e, "audit entry not written");
        }
    }

    /// Record an action that changes no operators' state (a reload).
    pub async fn record(&self, entry: AuditEntry) {
        if let Err(e) = self.committed(Change::audit(vec![entry])).await {
            tracing::warn!(error = %e, "audit entry not written");
        }
    }

    /// A page of the audit trail, newest first.
    pub async fn audit_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, OpsError> {
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.shared {
            return shared::audit_page(cluster, before, limit).await;
        }
        self.with_store(move |s| s.audit_page(before, limit))
            .await
            .map_err(storage)
    }

    /// The newest health transitions.
    pub async fn transitions(&self, limit: usize) -> Vec<crate::state::Transition> {
        self.with_store(move |s| s.transitions(limit))
            .await
            .unwrap_or_default()
    }

    /// The answer counts (for status and previews).
    pub fn counts(&self) -> Counts {
        (self.counts)()
    }
}
