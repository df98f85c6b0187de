//! `GET /api/v1/status`: what is up, as the query path sees it, and why.

use super::{Drill, Override, unix_secs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The whole status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The configuration being served.
    pub config: ConfigInfo,
    /// The last reload's result, if any.
    pub last_reload: Option<ReloadInfo>,
    /// Regions.
    pub regions: Vec<RegionInfo>,
    /// Overrides in force.
    pub overrides: Vec<Override>,
    /// The drill running, if any.
    pub drill: Option<Drill>,
    /// Recent health transitions, newest first.
    pub transitions: Vec<TransitionInfo>,
    /// GSLB answers so far: service → first pool answered → count.
    pub traffic: BTreeMap<String, BTreeMap<String, u64>>,
    /// The same split by the client's region: service → region → first pool → count.
    #[serde(default)]
    pub region_traffic: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Zones served.
    pub zones: Vec<ZoneInfo>,
    /// GSLB services.
    pub services: Vec<ServiceInfo>,
    /// Pools.
    pub pools: Vec<PoolStatus>,
    /// Endpoints.
    pub endpoints: Vec<EndpointStatus>,
    /// The cluster, when this node is one of several.
    #[serde(default)]
    pub cluster: Option<ClusterStatus>,
    /// What is scheduled next.
    #[serde(default)]
    pub scheduled: Scheduled,
    /// The `[[notify]]` webhooks: deliveries, failures, drops, the last error.
    #[serde(default)]
    pub notify: Vec<super::WebhookStatus>,
}

/// What happens next by schedule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scheduled {
    /// Overrides that start later, soonest first.
    pub overrides: Vec<Override>,
    /// Drills that start later, soonest first.
    pub drills: Vec<Drill>,
    /// Every `[[maintenance]]` window, with its next start.
    pub maintenance: Vec<MaintenanceInfo>,
    /// Every endpoint whose weight follows a schedule: its weight now and its next change.
    pub weights: Vec<WeightInfo>,
}

/// A maintenance window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceInfo {
    /// Its name.
    pub name: String,
    /// What it acts on.
    pub target: String,
    /// `drain` or `down`.
    pub action: String,
    /// Its cron schedule (UTC).
    pub schedule: String,
    /// How long it stays open, seconds.
    pub duration_s: u64,
    /// Open now: until when.
    #[serde(with = "super::opt_unix_secs")]
    pub open_until: Option<SystemTime>,
    /// Its next start.
    #[serde(with = "super::opt_unix_secs")]
    pub next_start: Option<SystemTime>,
}

/// An endpoint's scheduled weight.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightInfo {
    /// The endpoint.
    pub endpoint: String,
    /// Its configured `weight`.
    pub configured: u32,
    /// Its weight now.
    pub weight: u32,
    /// When it changes next.
    #[serde(with = "super::opt_unix_secs")]
    pub next_at: Option<SystemTime>,
    /// Its weight from then on.
    pub next_weight: Option<u32>,
}

/// This node's cluster, as it sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// This node's name.
    pub node: String,
    /// Its vantage region.
    pub region: String,
    /// Connected to etcd now?
    pub connected: bool,
    /// The etcd revision of the view this node serves.
    pub revision: i64,
    /// The control revision of that view (operators' state).
    pub control_revision: i64,
    /// Seconds since the view was last known current (`null` before the first sync).
    pub sync_age_s: Option<f64>,
    /// Every live node.
    pub nodes: Vec<NodeStatus>,
}

/// One live node of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its name.
    pub node: String,
    /// Its vantage region.
    pub region: String,
    /// ayadns version.
    pub version: String,
    /// The control revision it has applied.
    pub control_revision: i64,
    /// How many control revisions it is behind this node's view.
    pub lag: i64,
    /// Health votes it publishes now.
    pub votes: usize,
    /// Age of its newest vote, seconds (`null` when it has none).
    pub newest_vote_age_s: Option<f64>,
}

/// The configuration being served.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// When it was loaded (Unix seconds).
    #[serde(with = "unix_secs")]
    pub loaded_at: SystemTime,
    /// A version string (changes with every reload).
    pub version: String,
}

/// A reload's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadInfo {
    /// When.
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// Accepted?
    pub ok: bool,
    /// Every problem, when rejected.
    pub errors: Vec<String>,
}

/// A region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionInfo {
    /// Its name.
    pub name: String,
    /// `[latitude, longitude]`.
    pub location: [f64; 2],
}

/// A health transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransitionInfo {
    /// The endpoint.
    pub endpoint: String,
    /// The vantage region, or `*` for the quorum of all regions.
    pub region: String,
    /// Up before.
    pub from_up: bool,
    /// Up after.
    pub to_up: bool,
    /// When.
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// Why.
    pub reason: String,
}

/// `GET /api/v1/transitions?limit=N`: health transitions from the state file, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransitionList {
    /// Newest first.
    pub transitions: Vec<TransitionInfo>,
}

/// A zone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneInfo {
    /// Its origin.
    pub origin: String,
    /// Its SOA serial.
    pub serial: u32,
    /// Its record count.
    pub records: usize,
}

/// A GSLB service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Its name.
    pub name: String,
    /// Its TTL.
    pub ttl: u32,
    /// Its pools, in the operator's order.
    pub pools: Vec<String>,
    /// Its chain.
    pub chain: Vec<String>,
}

/// A pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolStatus {
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Endpoints up.
    pub endpoints_up: usize,
    /// Endpoints in all.
    pub endpoints: usize,
    /// Smoothed RTT from each region's probers, in ms (where measured).
    pub latency_ms: BTreeMap<String, f64>,
    /// While it ramps back after being down: the share of its clients admitted (0 to 1, over
    /// the longest `[service.failover] ramp` of its services); absent otherwise.
    #[serde(default)]
    pub ramp_admitted: Option<f64>,
    /// Its declared capacity, queries per second.
    #[serde(default)]
    pub capacity: Option<f64>,
    /// While it is asked for more than its capacity: the share of its clients admitted (0 to
    /// 1); absent otherwise.
    #[serde(default)]
    pub capacity_admitted: Option<f64>,
}

/// An endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointStatus {
    /// Its name.
    pub name: String,
    /// Its pool.
    pub pool: String,
    /// Up in the view being served (overrides included).
    pub up: bool,
    /// Its weight.
    pub weight: u32,
    /// Its check URL, if checked.
    pub check: Option<String>,
    /// The measured state, if checked.
    pub probe: Option<ProbeSummary>,
    /// Each vantage region's view of it.
    pub regions: BTreeMap<String, Vantage>,
}

/// The measured state of a check target, over all regions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// Up by quorum.
    pub up: bool,
    /// Held at its last state (no quorum of fresh regions).
    pub held: bool,
    /// The check target's key.
    pub target: String,
}

/// One vantage region's view of a check target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vantage {
    /// Up after rise/fall.
    pub up: bool,
    /// Successes in a row.
    pub successes: u32,
    /// Failures in a row.
    pub failures: u32,
    /// The last RTT, ms.
    pub rtt_ms: Option<f64>,
    /// The smoothed RTT, ms.
    pub ewma_ms: Option<f64>,
    /// Age of the last result, seconds.
    pub age_s: f64,
    /// Recent enough to vote.
    pub fresh: bool,
    /// The last failure.
    pub error: Option<String>,
}
