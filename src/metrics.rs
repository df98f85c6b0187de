//! Prometheus metrics: `GET /metrics` on the admin API (read token, like every GET), in the
//! OpenMetrics text format (content type `application/openmetrics-text; version=1.0.0`),
//! encoded by the `prometheus-client` crate.
//!
//! # The metrics
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | `ayadns_queries_total` | counter | `zone`, `qtype`, `rcode`, `protocol` | queries answered. `zone` is the zone's origin (`""` for a name in no served zone); `qtype` one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, ANY, AXFR, other; `rcode` one of NOERROR, NXDOMAIN, REFUSED, FORMERR, NOTIMP, SERVFAIL, BADVERS, other; `protocol` udp or tcp. Only label sets seen at least once are exported. An AXFR counts once. |
//! | `ayadns_queries_ecs_total` | counter | `ecs` (`yes`, `no`) | queries with and without an EDNS Client Subnet option (a malformed one counts as `yes`) |
//! | `ayadns_query_duration_seconds` | histogram | | time in the DNS handler per query (deciding, encoding, handing the response to the transport); buckets 1 µs … 10 ms (1, 2.5, 5 steps per decade) and +Inf |
//! | `ayadns_gslb_answers_total` | counter | `service`, `pool` | GSLB answers by service and the first pool answered: the traffic split. `pool=""` when no pool was answered (a `fallback` answer, or NODATA). Every pool of the current config is exported, 0 included. |
//! | `ayadns_gslb_region_answers_total` | counter | `service`, `region`, `pool` | the same, split by the client's region (see [`Metrics::answers_by_region`]) |
//! | `ayadns_endpoint_up` | gauge | `endpoint`, `pool` | 1 when the endpoint is up in the health view being served, else 0 |
//! | `ayadns_probe_rtt_milliseconds` | gauge | `region`, `pool` | smoothed probe RTT from the region's probers to the pool's best live endpoint (only where one is known) |
//! | `ayadns_health_transitions_total` | counter | | endpoint up/down changes ([`Metrics::transition`]) |
//! | `ayadns_overrides_active` | gauge | | operator overrides in force ([`Metrics::set_overrides_active`]) |
//! | `ayadns_drills_active` | gauge | | DR drills running ([`Metrics::set_drills_active`]) |
//! | `ayadns_reloads_total` | counter | `result` (`ok`, `failed`) | configuration reloads ([`Metrics::reload`]) |
//! | `ayadns_rate_limited_total` | counter | | responses withheld or truncated by rate limiting ([`Metrics::rate_limited`]) |
//!
//! Service, zone and endpoint labels are names as configured (service and zone names fully
//! qualified, with the trailing dot).
//!
//! # Cost on the query path
//!
//! A query only does relaxed atomic adds on arrays sized when the model was loaded: one for
//! (zone, qtype, rcode, protocol), one for ECS, two for the latency histogram (bucket and
//! sum), one for a GSLB answer; plus two clock reads. No lock, no map, no allocation. Every
//! array is striped: [`STRIPES`] cache-line-aligned copies, each thread adding to its own, so
//! two cores never bounce one line between them; a scrape sums the copies (very large
//! tables, above [`STRIPED_MAX_BYTES`] striped, use one copy).
//!
//! # Reloads
//!
//! [`Metrics`] lives as long as the process. Labels that a reload can change (zones, services,
//! regions, pools) are counted in a per-model table ([`ModelMetrics`], held by the
//! [`Snapshot`] next to the model it indexes by dense ids). A reload starts a new table at
//! zero; the old one keeps counting the queries still answering from the old snapshot, and
//! when the last of them is gone its counts are folded, by label *names*, into process-wide
//! totals. A scrape adds the totals and every live table by name, so counters never go
//! backwards across reloads, and a label set that disappears from the config keeps its last
//! value until the process restarts.

use crate::admin::AdminState;
use crate::dns::respond::Reply;
use crate::gslb::{PoolId, RegionId, ServiceId};
use crate::model::Model;
use crate::snapshot::Snapshot;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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

/// The OpenMetrics content type of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn qtype_index(t: RecordType) -> usize {
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

fn rcode_index(r: ResponseCode) -> usize {
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
/// pure: it returns this as data) and counted by the handler ([`ModelMetrics::count`]).
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
}

// ---------------------------------------------------------------------------------------------
// Striped counters
// ---------------------------------------------------------------------------------------------

/// How many copies of every counter array there are (each thread adds to one of them).
pub const STRIPES: usize = 4;
/// Arrays whose striped copies would take more than this are kept as one copy.
pub const STRIPED_MAX_BYTES: usize = 4 << 20;

const PER_LINE: usize = 16;

/// 16 counters on their own 128 bytes (two cache lines: no false sharing with neighbours,
/// including the adjacent-line prefetcher's pairs).
#[repr(align(128))]
#[derive(Default)]
struct Line([AtomicU64; PER_LINE]);

/// An array of `len` counters, striped over up to [`STRIPES`] copies.
struct Striped {
    len: usize,
    lines_per_stripe: usize,
    /// Stripe count minus one (the count is a power of two).
    mask: usize,
    lines: Box<[Line]>,
}

/// This thread's stripe (threads are numbered as they first count).
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Relaxed);
    }
    STRIPE.with(|s| *s)
}

impl Striped {
    fn new(len: usize) -> Self {
        let lines_per_stripe = len.div_ceil(PER_LINE).max(1);
        let striped = lines_per_stripe * std::mem::size_of::<Line>() * STRIPES;
        let stripes = if striped <= STRIPED_MAX_BYTES {
            STRIPES
        } else {
            1
        };
        Self {
            len,
            lines_per_stripe,
            mask: stripes - 1,
            lines: (0..lines_per_stripe * stripes)
                .map(|_| Line::default())
                .collect(),
        }
    }

    #[inline]
    fn add(&self, i: usize, v: u64) {
        if i >= self.len {
            return;
        }
        let line = (stripe() & self.mask) * self.lines_per_stripe + i / PER_LINE;
        self.lines[line].0[i % PER_LINE].fetch_add(v, Relaxed);
    }

    fn get(&self, i: usize) -> u64 {
        (0..=self.mask)
            .map(|s| {
                self.lines[s * self.lines_per_stripe + i / PER_LINE].0[i % PER_LINE].load(Relaxed)
            })
            .fold(0u64, u64::wrapping_add)
    }
}

// ---------------------------------------------------------------------------------------------
// Per-model tables
// ---------------------------------------------------------------------------------------------

/// Counters whose labels come from one model, by dense ids.
struct Table {
    /// Zone origins by index; index `zones.len()` is "no zone" (label "").
    zones: Vec<String>,
    /// (zone, qtype, rcode, protocol).
    queries: Striped,
    services: Vec<String>,
    regions: Vec<String>,
    /// Pool names by [`PoolId`].
    pools: Vec<String>,
    /// Per service: its pools (answer slots in this order; one more slot for "no pool").
    service_pools: Vec<Vec<PoolId>>,
    /// Per service: where its slots start in `answers`.
    service_base: Vec<usize>,
    /// (service, pool slot, region).
    answers: Striped,
}

/// Counts by label names, summed over tables.
#[derive(Debug, Default, Clone)]
struct Totals {
    /// (zone, qtype index, rcode index, protocol index).
    queries: BTreeMap<(String, usize, usize, usize), u64>,
    /// (service, region, pool).
    answers: BTreeMap<(String, String, String), u64>,
}

const PER_ZONE: usize = QTYPES.len() * RCODES.len() * PROTOCOLS.len();

impl Table {
    fn new(model: &Model) -> Self {
        let zones: Vec<String> = model.zones.iter().map(|z| z.origin.to_string()).collect();
        let g = &model.gslb;
        let regions: Vec<String> = g.regions.iter().map(|r| r.name.clone()).collect();
        let service_pools: Vec<Vec<PoolId>> = g.services.iter().map(|s| s.pools.clone()).collect();
        let mut service_base = Vec::with_capacity(service_pools.len());
        let mut next = 0;
        for pools in &service_pools {
            service_base.push(next);
            next += (pools.len() + 1) * regions.len();
        }
        Self {
            queries: Striped::new((zones.len() + 1) * PER_ZONE),
            zones,
            services: g.services.iter().map(|s| s.name.to_string()).collect(),
            pools: g.pools.iter().map(|p| p.name.clone()).collect(),
            regions,
            service_pools,
            service_base,
            answers: Striped::new(next),
        }
    }

    #[inline]
    fn query_index(&self, zone: Option<usize>, qtype: usize, rcode: usize, tcp: bool) -> usize {
        let z = zone
            .filter(|&z| z < self.zones.len())
            .unwrap_or(self.zones.len());
        ((z * QTYPES.len() + qtype) * RCODES.len() + rcode) * PROTOCOLS.len() + tcp as usize
    }

    #[inline]
    fn answer_index(&self, g: &GslbTally) -> Option<usize> {
        let pools = self.service_pools.get(g.service)?;
        if g.region >= self.regions.len() {
            return None;
        }
        let slot = g
            .pool
            .and_then(|p| pools.iter().position(|&x| x == p))
            .unwrap_or(pools.len());
        Some(self.service_base[g.service] + slot * self.regions.len() + g.region)
    }

    /// Add every non-zero count to `totals`, by name.
    fn add_to(&self, totals: &mut Totals) {
        for z in 0..=self.zones.len() {
            let zone = self.zones.get(z).map_or("", String::as_str);
            for q in 0..QTYPES.len() {
                for r in 0..RCODES.len() {
                    for p in 0..PROTOCOLS.len() {
                        let v = self.queries.get(self.query_index(Some(z), q, r, p == 1));
                        if v > 0 {
                            *totals
                                .queries
                                .entry((zone.to_string(), q, r, p))
                                .or_default() += v;
                        }
                    }
                }
            }
        }
        for (s, pools) in self.service_pools.iter().enumerate() {
            for slot in 0..=pools.len() {
                let pool = pools.get(slot).map_or("", |&p| self.pools[p].as_str());
                for (r, region) in self.regions.iter().enumerate() {
                    let i = self.service_base[s] + slot * self.regions.len() + r;
                    let v = self.answers.get(i);
                    if v > 0 {
                        *totals
                            .answers
                            .entry((self.services[s].clone(), region.clone(), pool.to_string()))
                            .or_default() += v;
                    }
                }
            }
        }
    }
}

/// The counters of one model, held by the [`Snapshot`]s made from it. The query path reaches
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

    /// Count one answered query (call with the snapshot `reply` was made from): zone, qtype,
    /// rcode, protocol, ECS, and the GSLB answer if any. Relaxed atomic adds only.
    #[inline]
    pub fn count(&self, request: &Request, reply: &Reply) {
        let qtype = match request.queries.queries() {
            [q] => q.query_type(),
            _ => RecordType::Unknown(0),
        };
        let tcp = request.protocol() != Protocol::Udp;
        self.record(&reply.tally, qtype, reply.meta.response_code, tcp);
    }

    /// [`ModelMetrics::count`] from its parts.
    #[inline]
    pub fn record(&self, tally: &Tally, qtype: RecordType, rcode: ResponseCode, tcp: bool) {
        let qtype = qtype_index(qtype);
        let rcode = rcode_index(rcode);
        let t = &self.table;
        t.queries
            .add(t.query_index(tally.zone, qtype, rcode, tcp), 1);
        self.metrics.hot.add(HOT_ECS + tally.ecs as usize, 1);
        if let Some(i) = tally.gslb.as_ref().and_then(|g| t.answer_index(g)) {
            t.answers.add(i, 1);
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
    transitions: AtomicU64,
    overrides_active: AtomicU64,
    drills_active: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    rate_limited: AtomicU64,
    tables: Mutex<Tables>,
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
            transitions: AtomicU64::new(0),
            overrides_active: AtomicU64::new(0),
            drills_active: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            tables: Mutex::new(Tables::default()),
        })
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

    /// An endpoint changed state (up ↔ down).
    pub fn transition(&self) {
        self.transitions.fetch_add(1, Relaxed);
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

    /// GSLB answers since start, by (service, region, pool): the client's region and the
    /// first pool answered (pool `""`: none, as for a fallback answer or NODATA). Only
    /// non-zero counts, sorted. Names as in the config (services fully qualified).
    pub fn answers_by_region(&self) -> Vec<(String, String, String, u64)> {
        self.totals()
            .0
            .answers
            .into_iter()
            .map(|((s, r, p), v)| (s, r, p, v))
            .collect()
    }

    /// The exposition (OpenMetrics text) for the current snapshot `snap`.
    pub fn render(&self, snap: &Snapshot) -> String {
        let (totals, _) = self.totals();
        let mut split: BTreeMap<(String, String), u64> = BTreeMap::new();
        // Every pool of the current config, even at 0: the split shows all candidates.
        for svc in &snap.model.gslb.services {
            for &p in &svc.pools {
                let pool = snap.model.gslb.pools[p].name.clone();
                split.insert((svc.name.to_string(), pool), 0);
            }
        }
        for ((s, _, p), v) in &totals.answers {
            *split.entry((s.clone(), p.clone())).or_default() += v;
        }
        let g = &snap.model.gslb;
        let endpoint_up = g
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let up = snap.health.is_up(i);
                (e.name.clone(), g.pools[e.pool].name.clone(), u64::from(up))
            })
            .collect();
        let mut rtt = Vec::new();
        for (r, region) in g.regions.iter().enumerate() {
            for (p, pool) in g.pools.iter().enumerate() {
                if let Some(ms) = snap.health.latency_ms(r, p) {
                    rtt.push((region.name.clone(), pool.name.clone(), ms));
                }
            }
        }
        let latency: Vec<u64> = (0..=LATENCY_BOUNDS_NS.len())
            .map(|b| self.hot.get(HOT_LATENCY + b))
            .collect();
        let scrape = Scrape {
            totals,
            split,
            ecs: [self.hot.get(HOT_ECS + 1), self.hot.get(HOT_ECS)],
            latency_sum: self.hot.get(HOT_LATENCY_SUM) as f64 / 1e9,
            latency,
            endpoint_up,
            rtt,
            transitions: self.transitions.load(Relaxed),
            overrides_active: self.overrides_active.load(Relaxed),
            drills_active: self.drills_active.load(Relaxed),
            reloads: [
                self.reloads_ok.load(Relaxed),
                self.reloads_failed.load(Relaxed),
            ],
            rate_limited: self.rate_limited.load(Relaxed),
        };
        let mut registry = prometheus_client::registry::Registry::with_prefix("ayadns");
        registry.register_collector(Box::new(scrape));
        registry.register_collector(crate::dns::counters::collector());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            tracing::error!("encoding metrics failed");
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Scrape
// ---------------------------------------------------------------------------------------------

/// Everything one scrape exports, gathered from the atomics (the registry's collector).
#[derive(Debug)]
struct Scrape {
    totals: Totals,
    /// (service, pool) → answers.
    split: BTreeMap<(String, String), u64>,
    /// With ECS, without.
    ecs: [u64; 2],
    latency: Vec<u64>,
    latency_sum: f64,
    /// (endpoint, pool, up).
    endpoint_up: Vec<(String, String, u64)>,
    /// (region, pool, ms).
    rtt: Vec<(String, String, f64)>,
    transitions: u64,
    overrides_active: u64,
    drills_active: u64,
    /// Ok, failed.
    reloads: [u64; 2],
    rate_limited: u64,
}

fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
    }
    Ok(())
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, u64, u64>(&v, None)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        counters(
            e,
            "queries",
            "DNS queries answered, by zone (\"\": none), qtype, rcode and protocol.",
            self.totals.queries.iter().map(|((z, q, r, p), v)| {
                let labels = [
                    ("zone", z.as_str()),
                    ("qtype", QTYPES[*q]),
                    ("rcode", RCODES[*r]),
                    ("protocol", PROTOCOLS[*p]),
                ];
                (labels, *v)
            }),
        )?;
        counters(
            e,
            "queries_ecs",
            "DNS queries with and without an EDNS Client Subnet option.",
            [
                ([("ecs", "yes")], self.ecs[0]),
                ([("ecs", "no")], self.ecs[1]),
            ],
        )?;
        {
            let mut m = e.encode_descriptor(
                "query_duration_seconds",
                "Time spent in the DNS handler per query.",
                None,
                MetricType::Histogram,
            )?;
            let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_NS
                .iter()
                .map(|&b| b as f64 / 1e9)
                .chain([f64::INFINITY])
                .zip(self.latency.iter().copied())
                .collect();
            let count = self.latency.iter().sum();
            m.encode_histogram::<NoLabelSet>(self.latency_sum, count, &buckets, None)?;
        }
        counters(
            e,
            "gslb_answers",
            "GSLB answers by service and first pool answered (\"\": none).",
            self.split
                .iter()
                .map(|((s, p), v)| ([("service", s.as_str()), ("pool", p.as_str())], *v)),
        )?;
        counters(
            e,
            "gslb_region_answers",
            "GSLB answers by service, client region and first pool answered.",
            self.totals.answers.iter().map(|((s, r, p), v)| {
                let labels = [
                    ("service", s.as_str()),
                    ("region", r.as_str()),
                    ("pool", p.as_str()),
                ];
                (labels, *v)
            }),
        )?;
        {
            let mut m = e.encode_descriptor(
                "endpoint_up",
                "1 when the endpoint is up in the health view being served.",
                None,
                MetricType::Gauge,
            )?;
            for (ep, pool, up) in &self.endpoint_up {
                let labels = [("endpoint", ep.as_str()), ("pool", pool.as_str())];
                m.encode_family(&labels)?.encode_gauge(up)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "probe_rtt_milliseconds",
                "Smoothed probe RTT from a region to a pool's best live endpoint.",
                None,
                MetricType::Gauge,
            )?;
            for (region, pool, ms) in &self.rtt {
                let labels = [("region", region.as_str()), ("pool", pool.as_str())];
                m.encode_family(&labels)?.encode_gauge(ms)?;
            }
        }
        counter(
            e,
            "health_transitions",
            "Endpoint health state changes (up/down).",
            self.transitions,
        )?;
        gauge(
            e,
            "overrides_active",
            "Operator overrides in force.",
            self.overrides_active,
        )?;
        gauge(e, "drills_active", "DR drills running.", self.drills_active)?;
        counters(
            e,
            "reloads",
            "Configuration reloads, applied (ok) or rejected (failed).",
            [
                ([("result", "ok")], self.reloads[0]),
                ([("result", "failed")], self.reloads[1]),
            ],
        )?;
        counter(
            e,
            "rate_limited",
            "Responses withheld or truncated by rate limiting.",
            self.rate_limited,
        )
    }
}

/// `GET /metrics`: the exposition for the current snapshot.
pub async fn handler(
    axum::extract::State(st): axum::extract::State<AdminState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let snap = st.snapshot.load_full();
    let body = snap.metrics.process().render(&snap);
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_sums_stripes_and_ignores_out_of_range() {
        let s = Striped::new(40);
        s.add(0, 1);
        s.add(39, 2);
        s.add(40, 5);
        std::thread::scope(|sc| {
            for _ in 0..6 {
                sc.spawn(|| s.add(17, 3));
            }
        });
        assert_eq!(s.get(0), 1);
        assert_eq!(s.get(39), 2);
        assert_eq!(s.get(17), 18);
        assert_eq!(s.get(16), 0);
    }

    #[test]
    fn huge_tables_are_not_striped() {
        let s = Striped::new(STRIPED_MAX_BYTES);
        assert_eq!(s.mask, 0);
        assert_eq!(Striped::new(10).mask, STRIPES - 1);
    }

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
    fn model(config: &str) -> Model {
        let zone = crate::zone::load::load_zone_text(
            "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.53\n",
            std::path::Path::new("gslb.example.com.zone"),
            None,
        )
        .unwrap();
        Model {
            zones: crate::zone::ZoneSet::new(vec![zone]),
            transfer_acl: Default::default(),
            dns: crate::model::DnsSettings {
                max_udp_payload: 1232,
            },
            gslb: crate::policy::testing::build(config),
            geo: Arc::new(crate::geo::GeoDb::empty()),
            geo_check_interval: Duration::from_secs(5),
            loaded_at: std::time::SystemTime::now(),
        }
    }

    fn answer(m: &ModelMetrics, service: usize, region: usize, pool: usize) {
        let tally = Tally {
            zone: Some(0),
            ecs: true,
            gslb: Some(GslbTally {
                service,
                region,
                pool: Some(pool),
            }),
        };
        m.record(&tally, RecordType::A, ResponseCode::NoError, false);
    }

    #[test]
    fn counts_carry_across_reloads_by_name() {
        use crate::policy::testing::CONFIG;
        let metrics = Metrics::new();
        let www = |rows: Vec<(String, String, String, u64)>| {
            rows.into_iter()
                .find(|(s, r, p, _)| s == "www.gslb.example.com." && r == "eu" && p == "eu-west")
                .map_or(0, |r| r.3)
        };
        let old = metrics.for_model(&model(CONFIG));
        // www is service 0, eu region 1, eu-west pool 1.
        for _ in 0..3 {
            answer(&old, 0, 1, 1);
        }
        // The reloaded config lists the services the other way round: www is now service 1.
        let (head, services) = CONFIG.split_once("[[service]]").unwrap();
        let (first, second) = services.split_once("[[service]]").unwrap();
        let reloaded = format!("{head}[[service]]{second}\n[[service]]{first}");
        let new = metrics.for_model(&model(&reloaded));
        answer(&new, 1, 1, 1);
        answer(&new, 1, 1, 1);
        assert_eq!(www(metrics.answers_by_region()), 5);
        drop(old); // the old model's last snapshot is gone: folded into the totals
        assert_eq!(www(metrics.answers_by_region()), 5);
        answer(&new, 1, 1, 1);
        drop(new);
        assert_eq!(www(metrics.answers_by_region()), 6);
        let (totals, live) = metrics.totals();
        assert!(live.is_none());
        let key = ("gslb.example.com.".to_string(), 0, 0, 0);
        assert_eq!(totals.queries.get(&key), Some(&6));
    }

    #[test]
    fn render_parses_as_openmetrics() {
        let snap = Snapshot::new(model(crate::policy::testing::CONFIG));
        answer(&snap.metrics, 0, 1, 1);
        snap.metrics.process().observe(Duration::from_micros(3));
        snap.metrics.process().reload(false);
        let text = snap.metrics.process().render(&snap);
        for want in [
            "# TYPE ayadns_queries counter",
            "ayadns_queries_total{zone=\"gslb.example.com.\",qtype=\"A\",rcode=\"NOERROR\",protocol=\"udp\"} 1",
            "ayadns_queries_ecs_total{ecs=\"yes\"} 1",
            "ayadns_gslb_answers_total{service=\"www.gslb.example.com.\",pool=\"eu-west\"} 1",
            "ayadns_gslb_answers_total{service=\"www.gslb.example.com.\",pool=\"us-east\"} 0",
            "ayadns_gslb_region_answers_total{service=\"www.gslb.example.com.\",region=\"eu\",pool=\"eu-west\"} 1",
            "ayadns_query_duration_seconds_bucket{le=\"0.000005\"} 1",
            "ayadns_query_duration_seconds_count 1",
            "ayadns_endpoint_up{endpoint=\"eu-west-a\",pool=\"eu-west\"} 1",
            "ayadns_reloads_total{result=\"failed\"} 1",
            "# EOF",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
    }

    #[test]
    fn codes() {
        assert_eq!(QTYPES[qtype_index(RecordType::AAAA)], "AAAA");
        assert_eq!(QTYPES[qtype_index(RecordType::IXFR)], "other");
        assert_eq!(RCODES[rcode_index(ResponseCode::BADVERS)], "BADVERS");
        assert_eq!(RCODES[rcode_index(ResponseCode::YXDomain)], "other");
    }
}
