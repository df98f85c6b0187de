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

use super::overrides::Override;
use crate::counters::AnswerKey;
use crate::gslb::Force;
use crate::gslb::HealthView;
use crate::gslb::Target;
use crate::gslb::decide::{Asker, Inputs};
use crate::gslb::{Client, RegionMatch, decide};
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
    /// The report as it grows.
    pub report: crate::api::DrillReport,
    /// (service, region) pairs seen answered from their drill pool.
    pub moved: std::collections::BTreeSet<(String, String)>,
    /// Queries per service and pool at the last minute mark, and when.
    pub minute_mark: (SystemTime, BTreeMap<String, BTreeMap<String, u64>>),
    /// Scheduled, not started yet (it starts at `started_at`).
    pub scheduled: bool,
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
            report: crate::api::DrillReport {
                observed: self
                    .queries
                    .iter()
                    .map(|(svc, pools)| {
                        let total = pools.values().sum::<u64>().max(1) as f64;
                        let shares = pools
                            .iter()
                            .filter(|(p, _)| !p.is_empty())
                            .map(|(p, n)| (p.clone(), *n as f64 / total))
                            .collect();
                        (svc.clone(), shares)
                    })
                    .collect(),
                ..self.report.clone()
            },
            scheduled: self.scheduled,
        }
    }

    /// Still running at `now`?
    pub fn active(&self, now: SystemTime) -> bool {
        !self.scheduled && self.ended_at.is_none() && self.ends_at > now
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
                starts_at: None,
                scheduled: false,
                maintenance: None,
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
            if delta > 0
                && !self.moved.contains(&(svc.clone(), region.clone()))
                && self
                    .moves
                    .iter()
                    .any(|(s, r, _, to)| s == svc && r == region && to == pool)
            {
                self.moved.insert((svc.clone(), region.clone()));
                self.first_moved_at.get_or_insert(now);
                self.report.last_moved_at = Some(now);
            }
        }
        self.report.drilled_answers = per_pool
            .values()
            .flat_map(|pools| pools.iter())
            .filter(|(p, _)| self.report.drilled_pools.contains(p))
            .map(|(_, n)| n)
            .sum();
        // Minute by minute (at most a day of minutes is kept).
        let (mark_at, mark) = &self.minute_mark;
        if now
            .duration_since(*mark_at)
            .is_ok_and(|d| d >= std::time::Duration::from_secs(60))
            && self.report.per_minute.len() < 1440
        {
            let minute = per_pool
                .iter()
                .map(|(svc, pools)| {
                    let before = mark.get(svc);
                    let d = pools
                        .iter()
                        .map(|(p, n)| {
                            let b = before.and_then(|m| m.get(p)).copied().unwrap_or(0);
                            (p.clone(), n.saturating_sub(b))
                        })
                        .collect();
                    (svc.clone(), d)
                })
                .collect();
            self.report.per_minute.push(crate::api::MinuteQueries {
                at: now,
                queries: minute,
            });
            self.minute_mark = (now, per_pool.clone());
        }
        self.queries = per_pool;
    }
}

pub use crate::api::{PlacementRow, Preview, PreviewRow};

/// What clients get now and with `fail` down — computed with the answer function the query
/// path uses ([`crate::gslb::decide::answer`]'s placement and decision), for every client
/// placement in the recent traffic (`traffic`), weighted by its queries; for a service with no
/// recent traffic, for one client per region at the region's location (said in `basis`).
pub fn preview(inputs: &Inputs<'_>, fail: &[Target], traffic: &super::traffic::Traffic) -> Preview {
    let model = inputs.model;
    let mut during = inputs.health.clone();
    let forced_fail: Vec<(Target, Force)> = fail.iter().map(|t| (t.clone(), Force::Down)).collect();
    during.force(model, &forced_fail);
    let first_pool = |svc: &crate::gslb::Service, client: &Client, h: &HealthView| {
        let d = decide(model, svc, false, client, h, inputs.everything_up, false);
        let d = if d.pools.is_empty() {
            decide(model, svc, true, client, h, inputs.everything_up, false)
        } else {
            d
        };
        d.pools.first().map(|&p| model.pools[p].name.clone())
    };
    let mut rows = Vec::new();
    let mut placements = Vec::new();
    let mut services: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> = BTreeMap::new();
    let mut basis = BTreeMap::new();
    for svc in &model.services {
        let name = svc.name.to_string();
        // The population: recorded placements, or one client per region at its location.
        let recorded = traffic.of(&name);
        let population: Vec<(Client, f64)> = if recorded.is_empty() {
            basis.insert(name.clone(), "representative".to_string());
            model
                .regions
                .iter()
                .enumerate()
                .map(|(r, region)| (representative(r, region.coords), 1.0))
                .collect()
        } else {
            basis.insert(name.clone(), "traffic".to_string());
            recorded
                .into_iter()
                .map(|(net, w)| {
                    let asker = match net {
                        Some(n) => Asker {
                            source: n.addr(),
                            ecs: Some((n.addr(), n.prefix_len())),
                            seed: 0,
                        },
                        None => Asker {
                            source: std::net::IpAddr::from([0, 0, 0, 0]),
                            ecs: None,
                            seed: 0,
                        },
                    };
                    (asker.locate(model, inputs.geo), w)
                })
                .collect()
        };
        let total: f64 = population
            .iter()
            .map(|(_, w)| w)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        // Per (region, country): weight, and weight per pool now and during.
        type Votes = BTreeMap<Option<String>, f64>;
        let mut groups: BTreeMap<(String, String), (f64, Votes, Votes)> = BTreeMap::new();
        let mut now_share: BTreeMap<String, f64> = BTreeMap::new();
        let mut dur_share: BTreeMap<String, f64> = BTreeMap::new();
        for (client, w) in &population {
            let (a, b) = (
                first_pool(svc, client, inputs.health),
                first_pool(svc, client, &during),
            );
            let country = client
                .location
                .as_ref()
                .and_then(|l| l.country)
                .map_or("--".to_string(), |c| c.to_string());
            let g = groups
                .entry((model.regions[client.region].name.clone(), country))
                .or_default();
            g.0 += w;
            *g.1.entry(a.clone()).or_default() += w;
            *g.2.entry(b.clone()).or_default() += w;
            *now_share.entry(a.unwrap_or_default()).or_default() += w / total;
            *dur_share.entry(b.unwrap_or_default()).or_default() += w / total;
        }
        let most = |v: &Votes| {
            v.iter()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .and_then(|(p, _)| p.clone())
        };
        for ((region, country), (w, a, b)) in &groups {
            placements.push(PlacementRow {
                service: name.clone(),
                region: region.clone(),
                country: country.clone(),
                share: w / total,
                now: most(a),
                during: most(b),
            });
        }
        for (r, region) in model.regions.iter().enumerate() {
            let (mut a, mut b): (Votes, Votes) = Default::default();
            for ((gr, _), (_, na, nb)) in &groups {
                if *gr == region.name {
                    na.iter()
                        .for_each(|(p, w)| *a.entry(p.clone()).or_default() += w);
                    nb.iter()
                        .for_each(|(p, w)| *b.entry(p.clone()).or_default() += w);
                }
            }
            let (now_pool, during_pool) = if a.is_empty() {
                let c = representative(r, region.coords);
                (
                    first_pool(svc, &c, inputs.health),
                    first_pool(svc, &c, &during),
                )
            } else {
                (most(&a), most(&b))
            };
            rows.push(PreviewRow {
                service: name.clone(),
                region: region.name.clone(),
                now: now_pool,
                during: during_pool,
            });
        }
        now_share.retain(|k, _| !k.is_empty());
        dur_share.retain(|k, _| !k.is_empty());
        let entry = services.entry(name).or_default();
        entry.insert("now".to_string(), now_share);
        entry.insert("during".to_string(), dur_share);
    }
    Preview {
        regions: rows,
        placements,
        services,
        basis,
        loads: Vec::new(),
        warnings: Vec::new(),
    }
}

/// A client of region `r` at the region's location, for services with no recent traffic.
fn representative(r: usize, coords: crate::geo::Coords) -> Client {
    Client {
        addr: std::net::IpAddr::from([0, 0, 0, 0]),
        ecs_source: None,
        location: Some(crate::geo::Location {
            country: None,
            continent: None,
            coords: Some(coords),
            coords_source: None,
            city: None,
            network: "0.0.0.0/0".parse().expect("a network"),
            database: "region location".into(),
        }),
        region: r,
        matched: RegionMatch::Default,
        region_prefix: 0,
        geo_prefix: 0,
        seed: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Sample;
    use crate::gslb::decide::answer;
    use crate::gslb::policy::testing;
    use crate::hash::mix64;
    use hickory_proto::rr::RecordType;

    /// For random chains (every step appears), random health and latency, random clients and
    /// random drills: the preview's "during" pool for a recorded client is the pool the answer
    /// function gives that client while the drill's targets are down.
    #[test]
    fn preview_during_is_what_the_server_answers_during_the_drill() {
        let chains = [
            "\"health\", \"geo\", \"failover\", \"weighted\", \"first_n\"",
            "\"health\", \"nearest\", \"weighted\", \"first_n\"",
            "\"health\", \"latency\", \"failover\"",
            "\"health\", \"sticky\", \"first_n\"",
            "\"failover\"",
            "\"geo\", \"nearest\", \"health\", \"failover\"",
        ];
        // The IPv4 sample clients (the chains here are A-only).
        let clients = &crate::gslb::policy::testing::SAMPLE_CLIENTS[..9];
        let geo = crate::gslb::policy::testing::sample_geo();
        let mut rng = 7u64;
        let mut next = |n: usize| {
            rng = mix64(rng);
            (rng % n as u64) as usize
        };
        let mut checked = 0;
        for round in 0..300 {
            let chain = chains[next(chains.len())];
            let model = testing::model_with(&format!("chain = [{chain}]\n"));
            let svc = model.service(&testing::svc_name("www")).unwrap().clone();
            // Random health (each endpoint up 3 times in 4) and latency.
            let up = HealthView::all_up(&model);
            let mut health = up.clone();
            for e in 0..model.endpoints.len() {
                health.set_up(e, next(4) != 0);
            }
            for r in 0..model.regions.len() {
                for p in 0..model.pools.len() {
                    health.set_latency(r, p, 1.0 + next(200) as f64);
                }
            }
            // A random drill: one pool or one region.
            let target = if next(2) == 0 {
                Target::Pool(model.pools[next(model.pools.len())].name.clone())
            } else {
                Target::Region(model.regions[next(model.regions.len())].name.clone())
            };
            let mut during = health.clone();
            during.force(&model, &[(target.clone(), Force::Down)]);
            // A random client, answered now: its placement is what the query path records.
            let ip: std::net::IpAddr = clients[next(clients.len())].parse().unwrap();
            let asker = Asker {
                source: ip,
                ecs: Some((ip, 24)),
                seed: round,
            };
            let inputs = Inputs {
                model: &model,
                geo: &geo,
                health: &health,
                everything_up: &up,
            };
            let Some((d, client)) = answer(&inputs, &svc, RecordType::A, &asker, false) else {
                continue;
            };
            let placement = d
                .depends_on
                .and_then(|p| ipnet::IpNet::new(client.addr, p).ok())
                .map(|n| n.trunc());
            let mut traffic = super::super::traffic::Traffic::default();
            traffic.add(
                vec![Sample {
                    service: svc.name.to_string().into(),
                    placement,
                }],
                SystemTime::UNIX_EPOCH,
            );
            let p = preview(&inputs, std::slice::from_ref(&target), &traffic);
            let row = p
                .placements
                .iter()
                .find(|r| r.service == svc.name.to_string())
                .expect("the recorded client's group");
            // What the server answers that client during the drill.
            let inputs_during = Inputs {
                health: &during,
                ..inputs
            };
            let (dd, _) = answer(&inputs_during, &svc, RecordType::A, &asker, false).unwrap();
            let server = dd.pools.first().map(|&p| model.pools[p].name.clone());
            assert_eq!(
                row.during, server,
                "round {round}: chain [{chain}], client {ip}, drill {target}, placement {placement:?}"
            );
            checked += 1;
        }
        assert!(checked > 250, "only {checked} rounds checked");
    }
}
