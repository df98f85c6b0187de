//! Disaster-recovery drills: take targets out on purpose, watch traffic move, put them back.
//!
//! - **Preview** (`POST /api/v1/drills/preview {"fail": [...]}`) changes nothing: for every
//!   service and client region it runs the real decision twice — with the current health,
//!   and with the drill's targets down — and reports the first pool each way; and, from the
//!   answer counters so far, the share of queries per pool now and during the drill (a region's
//!   queries move to the pool its clients would get).
//! - **Start** (`POST /api/v1/drills`) creates one `down` override per target, grouped under
//!   the drill's id, expiring with the drill: the drill reverts by itself after `duration`,
//!   also if the server was down meanwhile. One drill at a time.
//! - **Timeline** (`GET /api/v1/drills/{id}`): started, first moved answer (the first second
//!   in which a client region was answered from the pool the preview said it would move to),
//!   ended, and queries per service and pool during the drill.

use super::overrides::{Override, forced};
use crate::counters::AnswerKey;
use crate::gslb::Force;
use crate::gslb::HealthView;
use crate::gslb::Target;
use crate::gslb::{Client, Gslb, RegionMatch, decide};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// GSLB answers so far, by service, client region and first pool.
pub type Counts = BTreeMap<AnswerKey, u64>;

/// A drill.
#[derive(Debug, Clone)]
pub struct Drill {
    /// Its id.
    pub id: String,
    /// What it takes out.
    pub fail: Vec<Target>,
    /// Why.
    pub reason: String,
    /// When it started.
    pub started_at: SystemTime,
    /// When it reverts by itself.
    pub ends_at: SystemTime,
    /// When it ended (stopped or reverted).
    pub ended_at: Option<SystemTime>,
    /// The first second a client region was answered from its drill pool.
    pub first_moved_at: Option<SystemTime>,
    /// Who started it.
    pub created_by: String,
    /// Queries per service and pool during the drill.
    pub queries: BTreeMap<String, BTreeMap<String, u64>>,
    /// (service, region, from pool, to pool) the preview predicted.
    pub moves: Vec<(String, String, String, String)>,
    /// Counts at the start.
    pub baseline: Counts,
}

impl Drill {
    /// The drill as the API shows it.
    pub fn api(&self) -> crate::api::Drill {
        crate::api::Drill {
            id: self.id.clone(),
            fail: self.fail.clone(),
            reason: self.reason.clone(),
            started_at: self.started_at,
            ends_at: self.ends_at,
            ended_at: self.ended_at,
            first_moved_at: self.first_moved_at,
            created_by: self.created_by.clone(),
            queries: self.queries.clone(),
        }
    }

    /// Still running at `now`?
    pub fn active(&self, now: SystemTime) -> bool {
        self.ended_at.is_none() && self.ends_at > now
    }

    /// The overrides that make up the drill.
    pub fn overrides(&self) -> Vec<Override> {
        self.fail
            .iter()
            .enumerate()
            .map(|(i, t)| Override {
                id: format!("{}-{}", self.id, i + 1),
                target: t.clone(),
                action: Force::Down,
                reason: format!("drill {}: {}", self.id, self.reason),
                created_at: self.started_at,
                expires_at: Some(self.ends_at),
                created_by: self.created_by.clone(),
                drill: Some(self.id.clone()),
            })
            .collect()
    }

    /// Update the timeline from the answer counters.
    pub fn observe(&mut self, counts: &Counts, now: SystemTime) {
        let mut per_pool: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (key, n) in counts {
            let AnswerKey {
                service: svc,
                region,
                pool,
            } = key;
            let base = self.baseline.get(key).copied().unwrap_or(0);
            let delta = n.saturating_sub(base);
            *per_pool
                .entry(svc.clone())
                .or_default()
                .entry(pool.clone())
                .or_default() += delta;
            if self.first_moved_at.is_none()
                && delta > 0
                && self
                    .moves
                    .iter()
                    .any(|(s, r, _, to)| s == svc && r == region && to == pool)
            {
                self.first_moved_at = Some(now);
            }
        }
        self.queries = per_pool;
    }
}

pub use crate::api::{Preview, PreviewRow};

/// What clients of each region get, now and with `fail` down.
pub fn preview(
    model: &Gslb,
    health: &HealthView,
    everything_up: &HealthView,
    fail: &[Target],
    counts: &Counts,
    now: SystemTime,
) -> Preview {
    let mut during = health.clone();
    let drill = Drill {
        id: "preview".into(),
        fail: fail.to_vec(),
        reason: String::new(),
        started_at: now,
        ends_at: now + std::time::Duration::from_secs(3600),
        ended_at: None,
        first_moved_at: None,
        created_by: String::new(),
        queries: BTreeMap::new(),
        moves: Vec::new(),
        baseline: BTreeMap::new(),
    };
    during.force(model, &forced(&drill.overrides(), now));
    let first_pool = |svc, region, h: &HealthView| {
        let client = Client {
            addr: std::net::IpAddr::from([0, 0, 0, 0]),
            ecs_source: None,
            location: None,
            region,
            matched: RegionMatch::Default,
            region_prefix: 0,
            geo_prefix: 0,
            seed: 0,
        };
        let d = decide(model, svc, false, &client, h, everything_up, false);
        let d = if d.pools.is_empty() {
            decide(model, svc, true, &client, h, everything_up, false)
        } else {
            d
        };
        d.pools.first().map(|&p| model.pools[p].name.clone())
    };
    let mut rows = Vec::new();
    for svc in &model.services {
        for (r, region) in model.regions.iter().enumerate() {
            rows.push(PreviewRow {
                service: svc.name.to_string(),
                region: region.name.clone(),
                now: first_pool(svc, r, health),
                during: first_pool(svc, r, &during),
            });
        }
    }
    let mut services: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> = BTreeMap::new();
    for svc in &model.services {
        let name = svc.name.to_string();
        let mut now_c: BTreeMap<String, f64> = BTreeMap::new();
        let mut dur_c: BTreeMap<String, f64> = BTreeMap::new();
        for (AnswerKey { region, pool, .. }, n) in counts.iter().filter(|(k, _)| k.service == name)
        {
            *now_c.entry(pool.clone()).or_default() += *n as f64;
            let to = rows
                .iter()
                .find(|row| row.service == name && &row.region == region)
                .and_then(|row| row.during.clone())
                .unwrap_or_else(|| pool.clone());
            *dur_c.entry(to).or_default() += *n as f64;
        }
        let share = |m: BTreeMap<String, f64>| {
            let total: f64 = m.values().sum();
            m.into_iter()
                .map(|(k, v)| (k, if total > 0.0 { v / total } else { 0.0 }))
                .collect()
        };
        let entry = services.entry(name).or_default();
        entry.insert("now".to_string(), share(now_c));
        entry.insert("during".to_string(), share(dur_c));
    }
    Preview {
        regions: rows,
        services,
    }
}
