//! `[geoip]`, `[[region]]`, `[[pool]]` with `[[pool.endpoint]]`, and `[[service]]`: what the
//! load balancer balances. Validation (names that must exist, ranges) happens when the model
//! is built ([`crate::gslb`]), with the line of each offending value.
//!
//! ```toml
//! [geoip]
//! databases = ["geoip/sample.mmdb"]   # looked up in order; first hit wins
//! check_interval = "5s"               # how often replaced files are noticed
//!
//! [[region]]
//! name = "eu"
//! location = [50.1, 8.7]              # latitude, longitude
//! continents = ["EU", "AF"]           # clients from these continents...
//! countries = ["TR"]                  # ...these countries...
//! networks = ["10.20.0.0/16"]         # ...and these networks belong here
//! default = false                     # exactly one region is the default
//!
//! [[pool]]
//! name = "eu-west"
//! region = "eu"
//! location = [53.35, -6.26]           # default: the region's
//! min_healthy = 0.5                   # below this healthy fraction the pool is skipped
//! cname = "eu-west.lb.example.net."   # only for services answering CNAME
//! capacity = 5000                     # queries/s it can serve (optional; see [capacity])
//!
//! [[pool.endpoint]]
//! name = "eu-west-a"
//! addresses = ["198.51.100.10", "2001:db8:20::10"]
//! weight = 1                          # 0 = drained
//! check = "http://127.0.0.1:18021/health"   # what health checks probe
//!
//! [[service]]
//! name = "www.gslb.example.com."
//! types = ["A", "AAAA"]               # or ["CNAME"]
//! ttl = 30
//! pools = ["us-east", "eu-west", "ap-southeast"]
//! chain = ["health", "geo", "failover", "weighted", "first_n"]   # the default
//! answers = 2                         # addresses per answer (first_n's default)
//! when_all_down = "fail_open"         # or "fallback" (with fallback = [...]) or "empty"
//! ```
//! Each chain step's own settings live in a table named after it (`[service.geo]`,
//! `[service.latency]`, …), read by the step itself: see its file in `src/gslb/policy/`.

use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// `[geoip]`.
#[derive(Debug, Clone, Deserialize)]
pub struct GeoipConfig {
    /// Database files, relative to the config file.
    #[serde(default)]
    pub databases: Vec<Spanned<PathBuf>>,
    /// How often the files are checked for replacement.
    #[serde(default = "default_geo_interval", with = "super::duration")]
    pub check_interval: Duration,
}

impl Default for GeoipConfig {
    fn default() -> Self {
        Self {
            databases: Vec::new(),
            check_interval: default_geo_interval(),
        }
    }
}

fn default_geo_interval() -> Duration {
    Duration::from_secs(5)
}

/// `[[region]]`: a part of the world clients come from, and pools live in.
#[derive(Debug, Clone, Deserialize)]
pub struct RegionConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// `[latitude, longitude]`.
    pub location: Spanned<[f64; 2]>,
    /// Continent codes (AF AN AS EU NA OC SA).
    #[serde(default)]
    pub continents: Vec<Spanned<String>>,
    /// Country codes (ISO 3166 alpha-2).
    #[serde(default)]
    pub countries: Vec<Spanned<String>>,
    /// Client networks.
    #[serde(default)]
    pub networks: Vec<IpNet>,
    /// Clients that match no region belong to the default one.
    #[serde(default)]
    pub default: bool,
}

/// `[[pool]]`: a data center or cluster.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// `[latitude, longitude]`; default: the region's.
    #[serde(default)]
    pub location: Option<Spanned<[f64; 2]>>,
    /// Healthy fraction below which the pool is not used.
    #[serde(default = "default_min_healthy")]
    pub min_healthy: Spanned<f64>,
    /// CNAME target for services that answer CNAME.
    #[serde(default)]
    pub cname: Option<Spanned<String>>,
    /// Queries per second the pool can serve (see [`super::capacity`]).
    #[serde(default)]
    pub capacity: Option<Spanned<f64>>,
    /// The endpoints.
    #[serde(default, rename = "endpoint")]
    pub endpoints: Vec<EndpointConfig>,
}

fn default_min_healthy() -> Spanned<f64> {
    Spanned::new(0..0, 0.5)
}

/// `[[pool.endpoint]]`: one address (or address pair) answered, and what is probed for it.
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointConfig {
    /// Unique name (across pools).
    pub name: Spanned<String>,
    /// Addresses answered: IPv4 for A, IPv6 for AAAA.
    pub addresses: Spanned<Vec<IpAddr>>,
    /// Relative share of answers; 0 = drained.
    #[serde(default = "default_weight")]
    pub weight: Spanned<i64>,
    /// The health check: a URL (`http://…`, `https://…`, `tcp://host:port`) or a table with
    /// the URL and options (see [`super::health::CheckSpec`]).
    #[serde(default)]
    pub check: Option<Spanned<super::health::CheckSpecOrUrl>>,
    /// `[[pool.endpoint.weight_schedule]]`: the weight by time of day (see
    /// [`super::schedule`]).
    #[serde(default)]
    pub weight_schedule: Vec<super::schedule::WeightScheduleConfig>,
}

fn default_weight() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

/// `[[service]]`: a load-balanced name.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceConfig {
    /// The name, inside a served zone.
    pub name: Spanned<String>,
    /// Record types answered: `A`, `AAAA`, or `CNAME` alone.
    #[serde(default = "default_types")]
    pub types: Spanned<Vec<String>>,
    /// TTL of answers.
    #[serde(
        default = "default_ttl",
        deserialize_with = "super::duration::within::<_, u32, 0, 604800>"
    )]
    pub ttl: u32,
    /// Candidate pools, in the operator's order of preference.
    pub pools: Spanned<Vec<String>>,
    /// The policy chain (default: health, geo, failover, weighted, first_n).
    #[serde(default)]
    pub chain: Option<Spanned<Vec<String>>>,
    /// Addresses per answer.
    #[serde(
        default = "default_answers",
        deserialize_with = "super::duration::within::<_, usize, 1, 64>"
    )]
    pub answers: usize,
    /// What to answer when nothing is healthy (`fail_open`, `fallback`, `empty`); compiled
    /// by `src/gslb/all_down.rs`.
    #[serde(default)]
    pub when_all_down: Option<Spanned<String>>,
    /// Addresses for `when_all_down = "fallback"`.
    #[serde(default)]
    pub fallback: Vec<IpAddr>,
    /// The chain steps' own tables (`[service.geo]`, …): each word and the span of its table.
    /// Read strictly by the step that owns the word (see [`super::Document::settings`]).
    #[serde(skip)]
    pub settings: Vec<Spanned<String>>,
}

fn default_types() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["A".into(), "AAAA".into()])
}
fn default_ttl() -> u32 {
    30
}
fn default_answers() -> usize {
    1
}
