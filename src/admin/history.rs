//! `GET /api/v1/history` (body [`crate::api::History`]): the last hour of QPS, GSLB answers
//! per pool and pool health, for the dashboard's charts.
//!
//! A [`Recorder`] keeps at most [`KEEP`] samples in a ring. The sampler wakes every second
//! and samples when [`INTERVAL`] has passed on the server's clock (so a test clock moved by
//! `POST /api/v1/test/clock` samples at once): rates are the counters' growth over the
//! clock's elapsed time. Events (health transitions, drills, overrides, reloads) are not
//! stored here: they come from the state file's history and the audit trail when asked.

use super::AdminState;
use crate::api::{History, HistoryEvent, Sample};
use crate::clock::Clock;
use crate::snapshot::SharedSnapshot;
use axum::Json;
use axum::extract::State;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// How far back the history goes.
pub const SPAN: Duration = Duration::from_secs(3600);
/// Samples kept: an hour's worth.
pub const KEEP: usize = (SPAN.as_secs() / INTERVAL.as_secs()) as usize;

/// Counter readings at the last sample.
struct Last {
    at: SystemTime,
    queries: u64,
    answers: BTreeMap<String, u64>,
}

/// The ring of samples.
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<(VecDeque<Sample>, Option<Last>)>,
}

impl Recorder {
    /// Take a sample now when `INTERVAL` has passed since the last one (or `force`).
    pub fn sample(&self, snapshot: &SharedSnapshot, now: SystemTime, force: bool) {
        let snap = snapshot.load_full();
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (ring, last) = &mut *guard;
        if let Some(l) = last.as_ref() {
            let due = now.duration_since(l.at).is_ok_and(|d| d >= INTERVAL);
            if !due && !force {
                return;
            }
        }
        let r = snap.metrics.process().read();
        let queries: u64 = r.totals.queries.values().sum();
        let mut answers: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in &r.totals.answers {
            if !k.pool.is_empty() {
                *answers.entry(k.pool.clone()).or_default() += v;
            }
        }
        let g = &snap.model.gslb;
        let mut pool_health = BTreeMap::new();
        for (p, pool) in g.pools.iter().enumerate() {
            let members: Vec<usize> = (0..g.endpoints.len())
                .filter(|&e| g.endpoints[e].pool == p)
                .collect();
            let up = members.iter().filter(|&&e| snap.health.is_up(e)).count();
            let share = if members.is_empty() {
                0.0
            } else {
                up as f64 / members.len() as f64
            };
            pool_health.insert(pool.name.clone(), share);
        }
        if let Some(l) = last.as_ref() {
            let secs = now
                .duration_since(l.at)
                .unwrap_or_default()
                .as_secs_f64()
                .max(1e-3);
            let mut pool_answers = BTreeMap::new();
            for pool in g.pools.iter() {
                let now_n = answers.get(&pool.name).copied().unwrap_or(0);
                let then = l.answers.get(&pool.name).copied().unwrap_or(0);
                pool_answers.insert(pool.name.clone(), now_n.saturating_sub(then) as f64 / secs);
            }
            ring.push_back(Sample {
                at: now,
                qps: queries.saturating_sub(l.queries) as f64 / secs,
                pool_answers,
                pool_health,
            });
            while ring.len() > KEEP {
                ring.pop_front();
            }
        }
        *last = Some(Last {
            at: now,
            queries,
            answers,
        });
    }

    /// The samples of the last hour before `now`, oldest first.
    pub fn samples(&self, now: SystemTime) -> Vec<Sample> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .0
            .iter()
            .filter(|s| now.duration_since(s.at).map_or(true, |age| age <= SPAN))
            .cloned()
            .collect()
    }
}

/// Sample every second of real time (each sample waits for `INTERVAL` on `clock`).
pub async fn run(
    recorder: std::sync::Arc<Recorder>,
    snapshot: SharedSnapshot,
    clock: Clock,
    shutdown: CancellationToken,
) {
    recorder.sample(&snapshot, clock.now(), true);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => recorder.sample(&snapshot, clock.now(), false),
            _ = shutdown.cancelled() => return,
        }
    }
}

pub(super) async fn get(State(st): State<AdminState>) -> Json<History> {
    let now = st.clock.now();
    let since = now.checked_sub(SPAN).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut events: Vec<HistoryEvent> = st
        .ops
        .transitions(500)
        .await
        .into_iter()
        .filter(|t| t.at >= since && t.region == crate::state::AGGREGATE_REGION)
        .map(|t| HistoryEvent {
            at: t.at,
            kind: if t.to_up { "up" } else { "down" }.into(),
            text: format!(
                "{} {} ({})",
                t.endpoint,
                if t.to_up { "up" } else { "down" },
                t.reason
            ),
        })
        .collect();
    for a in st.ops.audit_page(None, 500).await.unwrap_or_default() {
        if a.at < since || a.method == "GET" || !(200..300).contains(&a.status) {
            continue;
        }
        let kind = if a.path.starts_with("/api/v1/drills") && !a.path.ends_with("/preview") {
            "drill"
        } else if a.path.starts_with("/api/v1/overrides") {
            "override"
        } else if a.path == "/api/v1/reload" {
            "reload"
        } else {
            continue;
        };
        events.push(HistoryEvent {
            at: a.at,
            kind: kind.into(),
            text: format!("{} {} by {}", a.method, a.path, a.token),
        });
    }
    events.sort_by_key(|e| e.at);
    Json(History {
        interval_s: INTERVAL.as_secs_f64(),
        samples: st.history.samples(now),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;

    fn shared() -> SharedSnapshot {
        SharedSnapshot::new(Snapshot::new(crate::counters::tests::model(
            crate::gslb::policy::testing::CONFIG,
        )))
    }

    #[test]
    fn the_ring_keeps_an_hour_and_rates_follow_the_counters() {
        let snap = shared();
        let r = Recorder::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        r.sample(&snap, t0, true); // the baseline: no sample yet
        assert!(r.samples(t0).is_empty());
        // Not due before INTERVAL has passed.
        r.sample(&snap, t0 + Duration::from_secs(5), false);
        assert!(r.samples(t0 + Duration::from_secs(5)).is_empty());
        for _ in 0..20 {
            crate::counters::tests::answer(&snap.load().metrics, 1, 1, 1); // www, eu, eu-west
        }
        let t1 = t0 + INTERVAL;
        r.sample(&snap, t1, false);
        let s = r.samples(t1);
        assert_eq!(s.len(), 1);
        assert!((s[0].qps - 2.0).abs() < 1e-9, "{s:?}");
        assert!((s[0].pool_answers["eu-west"] - 2.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s[0].pool_answers["us-east"], 0.0);
        assert_eq!(s[0].pool_health["eu-west"], 1.0);
        // Two hours of samples: the ring holds one hour's worth, the newest.
        let mut t = t1;
        for _ in 0..(2 * KEEP) {
            t += INTERVAL;
            r.sample(&snap, t, false);
        }
        let s = r.samples(t);
        assert_eq!(s.len(), KEEP);
        assert_eq!(s.last().unwrap().at, t);
        assert_eq!(s[0].qps, 0.0);
        // A clock that went backwards takes no sample and does not panic.
        r.sample(&snap, t0, false);
        assert_eq!(r.samples(t).len(), KEEP);
    }
}
