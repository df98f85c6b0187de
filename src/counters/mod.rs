//! Counters: what the query path and the background services count, as plain atomics.
//!
//! A query only does relaxed atomic adds on arrays sized when the model was loaded: one for
//! (zone, qtype, rcode, protocol), one for ECS, two for the latency histogram (bucket and
//! sum), one for a GSLB answer; plus two clock reads. No lock, no map, no allocation. Every
//! array is striped: a few (`striped::STRIPES`) cache-line-aligned copies, each thread adding to
//! its own, so two cores never bounce one line between them; a read sums the copies (very
//! large tables use one copy).
//!
//! # Reloads
//!
//! [`Metrics`] lives as long as the process. Labels that a reload can change (zones, services,
//! regions, pools) are counted in a per-model table ([`ModelMetrics`], held by the
//! snapshot next to the model it indexes by dense ids). A reload starts a new table
//! at zero; the old one keeps counting the queries still answering from the old snapshot, and
//! when the last of them is gone its counts are folded, by label *names*, into process-wide
//! totals. A read adds the totals and every live table by name, so counters never go
//! backwards across reloads, and a label set that disappears from the config keeps its last
//! value until the process restarts.
//!
//! The exposition (names, help, types) is the admin API's: `crate::admin::metrics`.

mod probes;
mod striped;
mod table;

pub use probes::{PROBE_BOUNDS_S, PROBE_REASONS, ProbeReadings, probes};
pub use table::Totals;

use crate::gslb::{PoolId, RegionId, ServiceId};
use crate::model::Model;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use striped::Striped;
use table::Table;

/// The `qtype` label values, in counter order.
pub const QTYPES: [&str; 11] = [
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "ANY", "AXFR", "other",
];
/// The `rcode` label values, in counter order.
pub const RCODES: [&str; 8] = [
    "NOERROR", "NXDOMAIN", "REFUSED", "FORMERR", "NOTIMP", "SERVFAIL", "BADVERS", "other",
];
/// The `protocol` label values, in counter order.
pub const PROTOCOLS: [&str; 2] = ["udp", "tcp"];

/// Upper bounds of the latency histogram's buckets, in nanoseconds (1 µs … 10 ms); a last,
/// implicit bucket holds everything slower (+Inf).
pub const LATENCY_BOUNDS_NS: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

pub(crate) fn qtype_index(t: RecordType) -> usize {
    match t {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::CNAME => 2,
        RecordType::MX => 3,
        RecordType::TXT => 4,
        RecordType::NS => 5,
        RecordType::SOA => 6,
        RecordType::SRV => 7,
        RecordType::ANY => 8,
        RecordType::AXFR => 9,
        _ => 10,
    }
}

pub(crate) fn rcode_index(r: ResponseCode) -> usize {
    match r {
        ResponseCode::NoError => 0,
        ResponseCode::NXDomain => 1,
        ResponseCode::Refused => 2,
        ResponseCode::FormErr => 3,
        ResponseCode::NotImp => 4,
        ResponseCode::ServFail => 5,
        ResponseCode::BADVERS => 6,
        _ => 7,
    }
}

/// What the metrics count about one query, filled in by [`crate::dns::respond`] (which stays
/// pure: it returns this as data) and counted by the handler ([`ModelMetrics::record`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// The zone the name is in ([`crate::zone::ZoneSet::find_indexed`]), if any.
    pub zone: Option<usize>,
    /// The query carried an ECS option.
    pub ecs: bool,
    /// The GSLB answer, when a service answered.
    pub gslb: Option<GslbTally>,
}

/// Which service answered whom with which pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GslbTally {
    /// The service.
    pub service: ServiceId,
    /// The client's region.
    pub region: RegionId,
    /// The first pool answered (None: no pool, as for a fallback answer or NODATA).
    pub pool: Option<PoolId>,
    /// The clients this answer holds for: the client's address cut to the prefix the decision
    /// depended on (`None`: every client gets it). Sampled for drill previews.
    pub placement: Option<ipnet::IpNet>,
}

/// One sampled GSLB answer: which service, for which clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The service, by name.
    pub service: Arc<str>,
    /// The clients the answer held for (`None`: all).
    pub placement: Option<ipnet::IpNet>,
}

/// One GSLB answer in [`SAMPLE_EVERY`] is sampled (per thread) for the drill preview's record of
/// recent traffic; a sample that finds the queue full is dropped.
pub const SAMPLE_EVERY: u32 = 8;
/// Samples waiting to be taken at once, at most.
const SAMPLE_QUEUE: usize = 8192;

/// The counters of one model, held by the snapshots made from it. The query path reaches
/// them through the snapshot it answers from, so they index by that model's dense ids.
pub struct ModelMetrics {
    metrics: Arc<Metrics>,
    table: Arc<Table>,
}

impl ModelMetrics {
    /// The process-wide metrics these count into.
    pub fn process(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Count one answered query (call with the snapshot the answer was made from): zone,
    /// qtype, rcode, protocol, ECS, and the GSLB answer if any. Relaxed atomic adds only.
    #[inline]
    pub fn record(&self, tally: &Tally, qtype: RecordType, rcode: ResponseCode, tcp: bool) {
        let qtype = qtype_index(qtype);
        let rcode = rcode_index(rcode);
        let t = &self.table;
        t.queries
            .add(t.query_index(tally.zone, qtype, rcode, tcp), 1);
        self.metrics.hot.add(HOT_ECS + tally.ecs as usize, 1);
        if let Some(g) = tally.gslb.as_ref() {
            if let Some(i) = t.answer_index(g) {
                t.answers.add(i, 1);
            }
            self.sample(g);
        }
    }

    /// One GSLB answer in [`SAMPLE_EVERY`] goes to the sample queue (never blocks).
    #[inline]
    fn sample(&self, g: &GslbTally) {
        thread_local! {
            static N: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        let due = N.with(|n| {
            let v = n.get().wrapping_add(1);
            n.set(v);
            v % SAMPLE_EVERY == 0
        });
        if due && let Some(service) = self.table.service_names.get(g.service) {
            let _ = self.metrics.samples.0.try_send(Sample {
                service: service.clone(),
                placement: g.placement,
            });
        }
    }
}

impl Drop for ModelMetrics {
    /// The last snapshot of this model is gone, and with it every query that could count
    /// here: fold the counts into the process totals, by name.
    fn drop(&mut self) {
        let mut tables = self.metrics.tables();
        let Tables { live, retired } = &mut *tables;
        self.table.add_to(retired);
        live.retain(|t| !Arc::ptr_eq(t, &self.table));
    }
}

impl fmt::Debug for ModelMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelMetrics")
            .field("zones", &self.table.zones.len())
            .field("services", &self.table.services.len())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Process-wide metrics
// ---------------------------------------------------------------------------------------------

/// `hot` layout: ECS without/with, latency buckets (13 bounds and +Inf), latency sum in ns.
const HOT_ECS: usize = 0;
const HOT_LATENCY: usize = 2;
const HOT_LATENCY_SUM: usize = HOT_LATENCY + LATENCY_BOUNDS_NS.len() + 1;
const HOT_LEN: usize = HOT_LATENCY_SUM + 1;

#[derive(Default)]
struct Tables {
    /// Tables of models still held by a snapshot.
    live: Vec<Arc<Table>>,
    /// Counts of tables whose model is gone.
    retired: Totals,
}

/// The metrics of the process (shared as `Arc<Metrics>`; reach it from any snapshot with
/// `snapshot.metrics.process()`).
pub struct Metrics {
    /// Per-query counters that do not depend on the model.
    hot: Striped,
    /// Endpoint changes to down, to up.
    transitions: [AtomicU64; 2],
    overrides_active: AtomicU64,
    drills_active: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    rate_limited: AtomicU64,
    tables: Mutex<Tables>,
    /// Sampled GSLB answers, for the drill preview (taken by [`Metrics::take_samples`]).
    samples: (
        std::sync::mpsc::SyncSender<Sample>,
        Mutex<std::sync::mpsc::Receiver<Sample>>,
    ),
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// New metrics, all zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            hot: Striped::new(HOT_LEN),
            transitions: [AtomicU64::new(0), AtomicU64::new(0)],
            overrides_active: AtomicU64::new(0),
            drills_active: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            tables: Mutex::new(Tables::default()),
            samples: {
                let (tx, rx) = std::sync::mpsc::sync_channel(SAMPLE_QUEUE);
                (tx, Mutex::new(rx))
            },
        })
    }

    /// The GSLB answers sampled since the last call (each stands for [`SAMPLE_EVERY`]).
    pub fn take_samples(&self) -> Vec<Sample> {
        let rx = self.samples.1.lock().unwrap_or_else(|e| e.into_inner());
        rx.try_iter().take(SAMPLE_QUEUE).collect()
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Zeroed counters for `model`'s labels, counting into these metrics (called when a model
    /// is published; see the module doc for how counts carry across reloads).
    pub fn for_model(self: &Arc<Self>, model: &Model) -> Arc<ModelMetrics> {
        let table = Arc::new(Table::new(model));
        self.tables().live.push(table.clone());
        Arc::new(ModelMetrics {
            metrics: self.clone(),
            table,
        })
    }

    /// Record the time one query spent in the handler.
    #[inline]
    pub fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_NS.partition_point(|&b| b < ns);
        self.hot.add(HOT_LATENCY + bucket, 1);
        self.hot.add(HOT_LATENCY_SUM, ns);
    }

    /// An endpoint changed state: to up (`to_up`) or to down.
    pub fn transition(&self, to_up: bool) {
        self.transitions[usize::from(to_up)].fetch_add(1, Relaxed);
    }

    /// How many operator overrides are in force.
    pub fn set_overrides_active(&self, n: u64) {
        self.overrides_active.store(n, Relaxed);
    }

    /// How many DR drills are running.
    pub fn set_drills_active(&self, n: u64) {
        self.drills_active.store(n, Relaxed);
    }

    /// A reload was applied (`ok`) or rejected.
    pub fn reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Relaxed);
        } else {
            self.reloads_failed.fetch_add(1, Relaxed);
        }
    }

    /// A response was withheld or truncated by rate limiting.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Relaxed);
    }

    /// Everything counted so far, by label names (retired tables and live ones).
    fn totals(&self) -> (Totals, Option<Arc<Table>>) {
        let tables = self.tables();
        let mut totals = tables.retired.clone();
        for t in &tables.live {
            t.add_to(&mut totals);
        }
        (totals, tables.live.last().cloned())
    }

    /// GSLB answers since start, by service, the client's region and the first pool answered.
    /// Only non-zero counts.
    pub fn answers_by_region(&self) -> BTreeMap<AnswerKey, u64> {
        self.totals().0.answers
    }

    /// The exposition (OpenMetrics text) for the current snapshot `snap`.
    /// Everything counted so far, for an exposition.
    pub fn read(&self) -> Readings {
        Readings {
            totals: self.totals().0,
            ecs: [self.hot.get(HOT_ECS + 1), self.hot.get(HOT_ECS)],
            latency_sum: self.hot.get(HOT_LATENCY_SUM) as f64 / 1e9,
            latency: (0..=LATENCY_BOUNDS_NS.len())
                .map(|b| self.hot.get(HOT_LATENCY + b))
                .collect(),
            transitions: [
                self.transitions[0].load(Relaxed),
                self.transitions[1].load(Relaxed),
            ],
            overrides_active: self.overrides_active.load(Relaxed),
            drills_active: self.drills_active.load(Relaxed),
            reloads: [
                self.reloads_ok.load(Relaxed),
                self.reloads_failed.load(Relaxed),
            ],
            rate_limited: self.rate_limited.load(Relaxed),
        }
    }
}

/// Whose GSLB answers a count is of. Names as in the config (services fully qualified):
/// counts carry across reloads by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnswerKey {
    /// The service.
    pub service: String,
    /// The client's region.
    pub region: String,
    /// The first pool answered (`""`: none, as for a fallback answer or NODATA).
    pub pool: String,
}

/// Everything [`Metrics`] counted, read at one moment.
#[derive(Debug, Clone)]
pub struct Readings {
    /// Per-model counts by label names.
    pub totals: Totals,
    /// Queries with ECS, without.
    pub ecs: [u64; 2],
    /// Query latency histogram: one count per bound of [`LATENCY_BOUNDS_NS`], then +Inf.
    pub latency: Vec<u64>,
    /// Sum of query latencies, seconds.
    pub latency_sum: f64,
    /// Endpoint changes to down, to up.
    pub transitions: [u64; 2],
    /// Overrides in force.
    pub overrides_active: u64,
    /// Drills running.
    pub drills_active: u64,
    /// Reloads accepted, rejected.
    pub reloads: [u64; 2],
    /// Admin API requests refused by its rate limit.
    pub rate_limited: u64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn latency_buckets() {
        let m = Metrics::new();
        m.observe(Duration::from_nanos(1_000)); // le 1 µs
        m.observe(Duration::from_nanos(1_001)); // le 2.5 µs
        m.observe(Duration::from_millis(11)); // +Inf
        assert_eq!(m.hot.get(HOT_LATENCY), 1);
        assert_eq!(m.hot.get(HOT_LATENCY + 1), 1);
        assert_eq!(m.hot.get(HOT_LATENCY + LATENCY_BOUNDS_NS.len()), 1);
        assert_eq!(m.hot.get(HOT_LATENCY_SUM), 11_002_001);
    }

    /// A model of the example deployment (`config`: its GSLB text) with one zone.
    pub(crate) fn model(config: &str) -> Model {
        let zone = crate::zone::load::load_zone_text(
            "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.53\n",
            std::path::Path::new("gslb.example.com.zone"),
            None,
        )
        .unwrap();
        Model {
            zones: Arc::new(crate::zone::ZoneSet::new(vec![zone])),
            transfer_acl: Default::default(),
            dns: crate::model::DnsSettings {
                max_udp_payload: 1232,
            },
            gslb: Arc::new(crate::gslb::policy::testing::build(config)),
            geo: Arc::new(crate::geo::GeoDb::empty()),
            geo_check_interval: Duration::from_secs(5),
            loaded_at: std::time::SystemTime::now(),
            maintenance: Default::default(),
        }
    }

    pub(crate) fn answer(m: &ModelMetrics, service: usize, region: usize, pool: usize) {
        let tally = Tally {
            zone: Some(0),
            ecs: true,
            gslb: Some(GslbTally {
                service,
                region,
                pool: Some(pool),
                placement: None,
            }),
        };
        m.record(&tally, RecordType::A, ResponseCode::NoError, false);
    }

    #[test]
    fn counts_carry_across_reloads_by_name() {
        use crate::gslb::policy::testing::CONFIG;
        let metrics = Metrics::new();
        let www = |rows: BTreeMap<AnswerKey, u64>| {
            rows.get(&AnswerKey {
                service: "www.gslb.example.com.".into(),
                region: "eu".into(),
                pool: "eu-west".into(),
            })
            .copied()
            .unwrap_or(0)
        };
        let old = metrics.for_model(&model(CONFIG));
        // www is service 1, eu region 1, eu-west pool 1.
        for _ in 0..3 {
            answer(&old, 1, 1, 1);
        }
        // The reloaded config lists the services the other way round: www is now service 0.
        let (head, services) = CONFIG.split_once("[[service]]").unwrap();
        let (first, second) = services.split_once("[[service]]").unwrap();
        let reloaded = format!("{head}[[service]]{second}\n[[service]]{first}");
        let new = metrics.for_model(&model(&reloaded));
        answer(&new, 0, 1, 1);
        answer(&new, 0, 1, 1);
        assert_eq!(www(metrics.answers_by_region()), 5);
        drop(old); // the old model's last snapshot is gone: folded into the totals
        assert_eq!(www(metrics.answers_by_region()), 5);
        answer(&new, 0, 1, 1);
        drop(new);
        assert_eq!(www(metrics.answers_by_region()), 6);
        let (totals, live) = metrics.totals();
        assert!(live.is_none());
        let key = ("gslb.example.com.".to_string(), 0, 0, 0);
        assert_eq!(totals.queries.get(&key), Some(&6));
    }

    #[test]
    fn codes() {
        assert_eq!(QTYPES[qtype_index(RecordType::AAAA)], "AAAA");
        assert_eq!(QTYPES[qtype_index(RecordType::IXFR)], "other");
        assert_eq!(RCODES[rcode_index(ResponseCode::BADVERS)], "BADVERS");
        assert_eq!(RCODES[rcode_index(ResponseCode::YXDomain)], "other");
    }
}
