//! Test fixtures for the chain steps: the example deployment (three regions, three pools of
//! three endpoints each, two IPv4 and one IPv6), compiled from real config text by the real
//! builder, so step tests exercise the same model the server uses.

use super::{Candidates, Compile, Ctx, Step};
use crate::config::Config;
use crate::diag::Diagnostics;
use crate::geo::{CoordsSource, Location};
use crate::gslb::HealthView;
use crate::gslb::{Client, EndpointId, Gslb, RegionMatch, decide::candidates};
use crate::zone::{ZoneSet, load::load_zone_text};
use hickory_proto::rr::Name;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

const ZONE: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.53\n";

/// The example deployment as config text.
pub const CONFIG: &str = r#"
[health]
probers = ["us", "eu", "ap"]

[[region]]
name = "us"
location = [39.0, -98.0]
continents = ["NA", "SA"]
default = true
[[region]]
name = "eu"
location = [50.0, 10.0]
continents = ["EU", "AF"]
[[region]]
name = "ap"
location = [10.0, 110.0]
continents = ["AS", "OC"]

[[pool]]
name = "us-east"
region = "us"
location = [39.04, -77.49]
[[pool.endpoint]]
name = "us-east-a"
addresses = ["192.0.2.10"]
[[pool.endpoint]]
name = "us-east-b"
addresses = ["192.0.2.11"]
[[pool.endpoint]]
name = "us-east-c"
addresses = ["2001:db8:10::10"]

[[pool]]
name = "eu-west"
region = "eu"
location = [53.35, -6.26]
[[pool.endpoint]]
name = "eu-west-a"
addresses = ["198.51.100.10"]
[[pool.endpoint]]
name = "eu-west-b"
addresses = ["198.51.100.11"]
[[pool.endpoint]]
name = "eu-west-c"
addresses = ["2001:db8:20::10"]

[[pool]]
name = "ap-southeast"
region = "ap"
location = [1.29, 103.85]
[[pool.endpoint]]
name = "ap-southeast-a"
addresses = ["203.0.113.10"]
[[pool.endpoint]]
name = "ap-southeast-b"
addresses = ["203.0.113.11"]
[[pool.endpoint]]
name = "ap-southeast-c"
addresses = ["2001:db8:30::10"]

[[pool]]
name = "api-us"
region = "us"
[[pool.endpoint]]
name = "api-us-a"
addresses = ["192.0.2.20"]
weight = 3
[[pool.endpoint]]
name = "api-us-b"
addresses = ["192.0.2.21"]
weight = 1

[[service]]
name = "api.gslb.example.com."
pools = ["api-us"]

[[service]]
name = "www.gslb.example.com."
pools = ["us-east", "eu-west", "ap-southeast"]
"#;

/// Compile `config` text with the real builder; panics with the problems when invalid.
pub fn build(config: &str) -> Gslb {
    let cfg = Config::parse(config, Path::new("test.toml"))
        .unwrap()
        .config;
    let zone = load_zone_text(ZONE, Path::new("gslb.example.com.zone"), None).unwrap();
    let mut zones = ZoneSet::new(vec![zone]);
    let mut problems = Diagnostics::default();
    let g = crate::gslb::build::build(&cfg, &mut zones, &mut problems);
    assert!(problems.is_empty(), "{problems}");
    g
}

/// The example deployment.
pub fn model() -> Gslb {
    build(CONFIG)
}

/// The example deployment with `extra` config text after the `www` service (its last table):
/// keys of `www`, then its step tables.
pub fn model_with(extra: &str) -> Gslb {
    build(&format!("{CONFIG}{extra}"))
}

/// Compile the chain `words` (space-separated) for service `short` with default settings.
pub fn chain(m: &Gslb, short: &str, words: &str) -> Vec<Arc<dyn Step>> {
    let svc = m.service(&svc_name(short)).unwrap();
    let mut problems = Diagnostics::default();
    words
        .split_whitespace()
        .map(|w| {
            // The service's own compiled step when it has one (with its settings).
            if let Some(s) = svc.chain.iter().find(|s| s.word() == w) {
                return s.clone();
            }
            let word = super::word(w).unwrap_or_else(|| panic!("no step {w}"));
            let mut cx = Compile {
                model: m,
                service: &svc.name,
                pools: &svc.pools,
                answers: 1,
                at: 0..0,
                source: None,
                problems: &mut problems,
            };
            (word.compile)(&mut cx).unwrap_or_else(|| panic!("{w}: {problems}"))
        })
        .collect()
}

/// Four single-endpoint pools, for stickiness.
pub fn model4() -> Gslb {
    let mut text =
        String::from("[[region]]\nname = \"us\"\nlocation = [0.0, 0.0]\ndefault = true\n");
    for p in ["pool-a", "pool-b", "pool-c", "pool-d"] {
        text.push_str(&format!(
            "[[pool]]\nname = \"{p}\"\nregion = \"us\"\n[[pool.endpoint]]\nname = \"{p}-1\"\naddresses = [\"192.0.2.1\"]\n"
        ));
    }
    text.push_str("[[service]]\nname = \"www.gslb.example.com.\"\npools = [\"pool-a\", \"pool-b\", \"pool-c\", \"pool-d\"]\n");
    build(&text)
}

/// Everything up.
pub fn all_up(m: &Gslb) -> HealthView {
    HealthView::all_up(m)
}

/// An endpoint by name.
pub fn ep(m: &Gslb, name: &str) -> EndpointId {
    m.endpoint_id(name)
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}

/// `www` → `www.gslb.example.com.`
pub fn svc_name(short: &str) -> Name {
    Name::from_ascii(format!("{short}.gslb.example.com.")).unwrap()
}

/// A client placed in `region`, with no GeoIP data.
pub fn client(m: &Gslb, region: &str) -> Client {
    Client {
        addr: "10.0.0.1".parse().unwrap(),
        ecs_source: Some(24),
        location: None,
        region: m.region_id(region).unwrap(),
        matched: RegionMatch::Default,
        region_prefix: 24,
        geo_prefix: 24,
        seed: 0,
    }
}

/// A client in `region` at `coords`.
pub fn client_at(m: &Gslb, region: &str, coords: (f64, f64)) -> Client {
    let mut c = client(m, region);
    c.location = Some(Location {
        country: None,
        continent: None,
        coords: Some(coords),
        coords_source: Some(CoordsSource::Database),
        city: None,
        network: "10.0.0.0/24".parse().unwrap(),
        database: "test".into(),
    });
    c
}

/// Run the steps named in `chain` (space-separated) for IPv4 answers of service `short`.
pub fn run_steps(
    m: &Gslb,
    short: &str,
    chain: &str,
    client: &Client,
    health: &HealthView,
) -> Candidates {
    run_scoped(m, short, chain, client, health).0
}

/// [`run_steps`], with the client prefix the decision depended on.
pub fn run_scoped(
    m: &Gslb,
    short: &str,
    chain: &str,
    client: &Client,
    health: &HealthView,
) -> (Candidates, Option<u8>) {
    let svc = m.service(&svc_name(short)).unwrap();
    let steps = self::chain(m, short, chain);
    let ctx = Ctx {
        model: m,
        client,
        health,
        v6: false,
        seed: client.seed,
    };
    let mut c = candidates(m, svc, false, health);
    let scope = super::run(&steps, &ctx, &mut c, None);
    (c, scope)
}

/// The problems the example deployment with `extra` after `www` has, one a line, each
/// `file:line: message`.
pub fn problems_of(extra: &str) -> String {
    let cfg = Config::parse(&format!("{CONFIG}{extra}"), Path::new("t.toml"))
        .unwrap()
        .config;
    let zone = load_zone_text(ZONE, Path::new("gslb.example.com.zone"), None).unwrap();
    let mut zones = ZoneSet::new(vec![zone]);
    let mut problems = Diagnostics::default();
    crate::gslb::build::build(&cfg, &mut zones, &mut problems);
    problems.to_string()
}

/// The candidates as text.
pub fn names(m: &Gslb, c: &Candidates) -> String {
    c.describe(m)
}

/// An address, parsed.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Client addresses the sample GeoIP database (`geoip/sample.mmdb`) places in different
/// countries and continents, and two it does not know (for property tests over clients).
pub const SAMPLE_CLIENTS: &[&str] = &[
    "81.2.69.0",
    "89.160.20.112",
    "216.160.83.56",
    "175.16.199.0",
    "202.196.224.0",
    "214.0.0.0",
    "149.101.100.0",
    "2.3.3.0",
    "1.2.3.0",
    "2001:218::",
    "2a02:d3c0::",
];

/// The sample GeoIP database shipped in `geoip/`.
pub fn sample_geo() -> crate::geo::GeoDb {
    crate::geo::GeoDb::open(&[concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/sample.mmdb")])
        .expect("the sample database")
}
