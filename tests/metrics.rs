//! Black-box tests of `GET /metrics`: the real binary, real queries over UDP and TCP, the
//! admin API over HTTP, the exposition parsed with a Prometheus text-format parser
//! (`prometheus-parse`) and checked line by line.
mod common;

use common::backend::{eventually, http};
use common::site::{ADMIN_TOKEN, READ_TOKEN, Site};
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus_parse::{Scrape, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WWW: &str = "www.gslb.example.com.";
const ZONE: &str = "gslb.example.com.";

/// Pools us-east (two endpoints) and eu-west (one), no checks, no probers (health is static,
/// everything up), and the service www.
const POOLS_AND_SERVICE: &str = r#"[[pool]]
name = "us-east"
region = "us"
[[pool.endpoint]]
name = "us-east-0"
addresses = ["192.0.2.10"]
[[pool.endpoint]]
name = "us-east-1"
addresses = ["192.0.2.11"]
[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["198.51.100.10"]
[[service]]
name = "www.gslb.example.com."
types = ["A"]
ttl = 30
pools = ["us-east", "eu-west"]
answers = 2
"#;

/// The test site with the config above.
struct Setup {
    site: Site,
    dns: SocketAddr,
    admin: SocketAddr,
}

impl Setup {
    fn new() -> Setup {
        let site = Site::new();
        site.config("probers = []", POOLS_AND_SERVICE);
        Setup {
            dns: site.dns,
            admin: site.admin,
            site,
        }
    }

    fn path(&self) -> &Path {
        self.site.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("ayadns.toml")
    }

    fn start(&self) -> Ayadns {
        self.site.start(&self.config())
    }

    /// GET /metrics with the read token: checked line by line, then parsed.
    fn scrape(&self) -> Scrape {
        let (status, body) = http(self.admin, "GET", "/metrics", Some(READ_TOKEN), None);
        assert_eq!(status, 200, "{body}");
        check_exposition(&body);
        Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("parse /metrics")
    }

    fn query(&self, q: Q) -> hickory_proto::op::Message {
        udp(self.dns, &q.message())
    }
}

/// The value of the sample `metric` with exactly `labels` (0 when absent).
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| {
            x.metric == metric
                && x.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
        })
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{metric}: not a scalar: {other:?}"),
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{metric} {labels:?} appears {} times",
        found.len()
    );
    found.first().copied().unwrap_or(0.0)
}

/// The sum of every sample of `metric`.
fn total(s: &Scrape, metric: &str) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn queries(s: &Scrape, zone: &str, qtype: &str, rcode: &str, protocol: &str) -> f64 {
    value(
        s,
        "ayadns_queries_total",
        &[
            ("zone", zone),
            ("qtype", qtype),
            ("rcode", rcode),
            ("protocol", protocol),
        ],
    )
}

fn split(s: &Scrape, pool: &str) -> f64 {
    value(
        s,
        "ayadns_gslb_answers_total",
        &[("service", WWW), ("pool", pool)],
    )
}

fn by_region(s: &Scrape, region: &str, pool: &str) -> f64 {
    value(
        s,
        "ayadns_gslb_region_answers_total",
        &[("service", WWW), ("region", region), ("pool", pool)],
    )
}

/// A strict check of the OpenMetrics text the parser above is lenient about: every line is a
/// HELP, TYPE or sample line (names, quoted label values, numeric values), every sample
/// belongs to the family its TYPE line declared, and the text ends with `# EOF`.
fn check_exposition(text: &str) {
    fn is_name(s: &str) -> bool {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    }
    fn is_number(s: &str) -> bool {
        matches!(s, "+Inf" | "-Inf" | "NaN") || s.parse::<f64>().is_ok()
    }
    /// `k="v",k="v"` (with \\ \" \n escapes).
    fn labels_ok(mut s: &str) -> bool {
        while !s.is_empty() {
            let Some((key, rest)) = s.split_once("=\"") else {
                return false;
            };
            if !is_name(key) {
                return false;
            }
            let mut end = None;
            let mut escaped = false;
            for (i, ch) in rest.char_indices() {
                match (escaped, ch) {
                    (true, '\\' | '"' | 'n') => escaped = false,
                    (true, _) => return false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    (false, '\n') => return false,
                    _ => {}
                }
            }
            let Some(end) = end else { return false };
            s = &rest[end + 1..];
            if let Some(r) = s.strip_prefix(',') {
                s = r;
            } else if !s.is_empty() {
                return false;
            }
        }
        true
    }
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no # EOF at the end");
    let mut family: Option<(String, String)> = None;
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_name(name), "bad HELP line: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(is_name(name), "bad TYPE line: {line}");
            assert!(
                matches!(kind, "counter" | "gauge" | "histogram"),
                "bad TYPE: {line}"
            );
            family = Some((name.to_string(), kind.to_string()));
        } else {
            let (head, value) = line.rsplit_once(' ').expect("sample value");
            assert!(is_number(value), "bad value: {line}");
            let (name, labels) = match head.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').expect("closing brace")),
                None => (head, ""),
            };
            assert!(is_name(name), "bad sample name: {line}");
            assert!(labels_ok(labels), "bad labels: {line}");
            let (fam, kind) = family.as_ref().expect("a sample before any TYPE line");
            let suffixes: &[&str] = match kind.as_str() {
                "counter" => &["_total"],
                "gauge" => &[""],
                _ => &["_bucket", "_sum", "_count"],
            };
            assert!(
                suffixes.iter().any(|s| name == format!("{fam}{s}")),
                "sample {name} outside its family {fam} ({kind})"
            );
        }
    }
}

#[test]
fn metrics_need_a_token_and_parse() {
    let s = Setup::new();
    let _server = s.start();
    let (status, _) = http(s.admin, "GET", "/metrics", None, None);
    assert_eq!(status, 401, "no token");
    let (status, _) = http(
        s.admin,
        "GET",
        "/metrics",
        Some("wrong-token-0123456789"),
        None,
    );
    assert_eq!(status, 401, "unknown token");
    let scrape = s.scrape();
    for family in [
        "ayadns_queries",
        "ayadns_queries_ecs",
        "ayadns_query_duration_seconds",
        "ayadns_gslb_answers",
        "ayadns_gslb_region_answers",
        "ayadns_endpoint_up",
        "ayadns_probe_rtt_seconds",
        "ayadns_probes",
        "ayadns_probe_failures",
        "ayadns_probe_duration_seconds",
        "ayadns_health_transitions",
        "ayadns_config_loaded_timestamp_seconds",
        "ayadns_geoip_database_age_seconds",
        "ayadns_build_info",
        "ayadns_overrides_active",
        "ayadns_drills_active",
        "ayadns_reloads",
        "ayadns_rate_limited",
    ] {
        assert!(scrape.docs.contains_key(family), "no HELP for {family}");
    }
    // Static health: every endpoint up; every pool of the service in the split.
    for (ep, pool) in [
        ("us-east-0", "us-east"),
        ("us-east-1", "us-east"),
        ("eu-west-0", "eu-west"),
    ] {
        let up = value(
            &scrape,
            "ayadns_endpoint_up",
            &[("endpoint", ep), ("pool", pool)],
        );
        assert_eq!(up, 1.0, "{ep} up");
    }
    assert!(
        scrape
            .samples
            .iter()
            .any(|x| x.metric == "ayadns_gslb_answers_total"
                && x.labels.get("pool") == Some("eu-west")),
        "eu-west in the split before any answer"
    );
    assert_eq!(
        value(
            &scrape,
            "ayadns_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // The sample database was built in the past: a positive age, per file.
    let age = total(&scrape, "ayadns_geoip_database_age_seconds");
    assert!(age > 0.0, "GeoIP age {age}");
    // No reload yet: no last-reload gauges.
    assert!(!scrape.docs.contains_key("ayadns_last_reload_success"));
    // The admin token may read it too.
    let (status, _) = http(s.admin, "GET", "/metrics", Some(ADMIN_TOKEN), None);
    assert_eq!(status, 200);
}

#[test]
fn counters_move_with_real_queries() {
    const EU: usize = 7;
    const US: usize = 5;
    const NX: usize = 3;
    const REFUSED: usize = 2;
    const TCP: usize = 4;
    let s = Setup::new();
    let mut server = s.start();
    // Readiness probes were queries too: everything below is a difference from here.
    let before = s.scrape();

    for _ in 0..EU {
        let r = s.query(Q::new(WWW, RecordType::A).ecs("81.2.69.0".parse().unwrap(), 24));
        assert_eq!(rcode(&r), ResponseCode::NoError);
        assert!(
            records(&r.answers)
                .iter()
                .any(|a| a.contains("198.51.100.10"))
        );
    }
    for _ in 0..US {
        let r = s.query(Q::new(WWW, RecordType::A).ecs("216.160.83.56".parse().unwrap(), 29));
        assert!(records(&r.answers).iter().any(|a| a.contains("192.0.2.1")));
    }
    for i in 0..NX {
        let r = s.query(Q::new(&format!("nope{i}.gslb.example.com."), RecordType::A));
        assert_eq!(rcode(&r), ResponseCode::NXDomain);
    }
    for _ in 0..REFUSED {
        let r = s.query(Q::new("example.org.", RecordType::A));
        assert_eq!(rcode(&r), ResponseCode::Refused);
    }
    for _ in 0..TCP {
        let r = tcp(
            s.dns,
            &Q::new("status.gslb.example.com.", RecordType::TXT).message(),
        );
        assert_eq!(rcode(&r), ResponseCode::NoError);
    }
    let after = s.scrape();
    let d = |f: &dyn Fn(&Scrape) -> f64| f(&after) - f(&before);

    // The traffic split, exactly.
    assert_eq!(d(&|x| split(x, "eu-west")), EU as f64, "eu-west answers");
    assert_eq!(d(&|x| split(x, "us-east")), US as f64, "us-east answers");
    assert_eq!(d(&|x| by_region(x, "eu", "eu-west")), EU as f64);
    assert_eq!(d(&|x| by_region(x, "us", "us-east")), US as f64);
    assert_eq!(d(&|x| by_region(x, "eu", "us-east")), 0.0);
    assert_eq!(
        d(&|x| total(x, "ayadns_gslb_region_answers_total")),
        (EU + US) as f64
    );

    // Queries by zone, qtype, rcode, protocol.
    assert_eq!(
        d(&|x| queries(x, ZONE, "A", "NOERROR", "udp")),
        (EU + US) as f64
    );
    assert_eq!(d(&|x| queries(x, ZONE, "A", "NXDOMAIN", "udp")), NX as f64);
    assert_eq!(
        d(&|x| queries(x, "", "A", "REFUSED", "udp")),
        REFUSED as f64
    );
    assert_eq!(
        d(&|x| queries(x, ZONE, "TXT", "NOERROR", "tcp")),
        TCP as f64
    );
    let sent = EU + US + NX + REFUSED + TCP;
    assert_eq!(d(&|x| total(x, "ayadns_queries_total")), sent as f64);

    // With and without ECS.
    let ecs = |x: &Scrape, v| value(x, "ayadns_queries_ecs_total", &[("ecs", v)]);
    assert_eq!(d(&|x| ecs(x, "yes")), (EU + US) as f64);
    assert_eq!(d(&|x| ecs(x, "no")), (NX + REFUSED + TCP) as f64);

    // The latency histogram counts every query once (recorded just after the response is
    // handed over, so it may trail the reply by a moment).
    let hist_matches = |x: &Scrape| {
        let count = value(x, "ayadns_query_duration_seconds_count", &[]);
        let inf = x
            .samples
            .iter()
            .find_map(|s| match &s.value {
                Value::Histogram(b) if s.metric == "ayadns_query_duration_seconds" => b
                    .iter()
                    .find(|c| c.less_than.is_infinite())
                    .map(|c| c.count),
                _ => None,
            })
            .expect("+Inf bucket");
        count == total(x, "ayadns_queries_total") && inf == count
    };
    assert!(
        eventually(Duration::from_secs(5), || hist_matches(&s.scrape())),
        "histogram count != queries"
    );
    let sum = value(&s.scrape(), "ayadns_query_duration_seconds_sum", &[]);
    assert!(sum > 0.0 && sum < 5.0, "latency sum {sum}");

    // A reload starts new tables; the counts carry over by name (never backwards).
    server.send_signal(SIGHUP);
    assert!(
        server.wait_for_log("reload ok", Duration::from_secs(10)),
        "no reload"
    );
    let reloaded = s.scrape();
    assert_eq!(split(&reloaded, "eu-west"), split(&after, "eu-west"));
    assert_eq!(
        queries(&reloaded, ZONE, "A", "NOERROR", "udp"),
        queries(&after, ZONE, "A", "NOERROR", "udp")
    );
    s.query(Q::new(WWW, RecordType::A).ecs("81.2.69.0".parse().unwrap(), 24));
    let last = s.scrape();
    assert_eq!(split(&last, "eu-west"), split(&after, "eu-west") + 1.0);
    assert_eq!(
        by_region(&last, "eu", "eu-west"),
        by_region(&after, "eu", "eu-west") + 1.0
    );
}

/// Probes against a real backend: counted, timed, failures by reason, transitions by
/// direction, RTT in seconds; a rejected reload shows in the last-reload gauges.
#[test]
fn probes_transitions_and_reloads_are_counted_in_base_units() {
    use common::backend::{Backend, Mode};
    let backend = Backend::new();
    let site = Site::new();
    let pools = format!(
        r#"[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["198.51.100.10"]
check = "{url}"
[[service]]
name = "www.gslb.example.com."
types = ["A"]
pools = ["eu-west"]
"#,
        url = backend.url()
    );
    let cfg = site.config(
        "probers = [\"eu\"]\ninterval = \"100ms\"\ntimeout = \"80ms\"\nrise = 1\nfall = 1",
        &pools,
    );
    let mut server = site.start(&cfg);
    let scrape = |site: &Site| {
        let (status, body) = http(site.admin, "GET", "/metrics", Some(READ_TOKEN), None);
        assert_eq!(status, 200, "{body}");
        check_exposition(&body);
        Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
    };
    assert!(eventually(Duration::from_secs(2), || {
        let s = scrape(&site);
        total(&s, "ayadns_probes_total") >= 2.0 && total(&s, "ayadns_probe_rtt_seconds") > 0.0
    }));
    let s = scrape(&site);
    let rtt = total(&s, "ayadns_probe_rtt_seconds");
    assert!(rtt < 0.08, "RTT in seconds, below the timeout: {rtt}");
    let count = s
        .samples
        .iter()
        .find(|x| x.metric == "ayadns_probe_duration_seconds_count")
        .map(|x| match x.value {
            Value::Untyped(v) | Value::Counter(v) | Value::Gauge(v) => v,
            _ => 0.0,
        });
    let hist = s
        .samples
        .iter()
        .find(|x| x.metric == "ayadns_probe_duration_seconds");
    let observed = match hist.map(|h| &h.value) {
        Some(Value::Histogram(b)) => b.iter().map(|b| b.count).fold(0.0, f64::max),
        _ => count.unwrap_or(0.0),
    };
    assert!(observed >= 2.0, "probe durations observed: {observed}");
    // The backend answers 503: failures by reason `status`, and the endpoint goes down.
    backend.set(Mode::Status(503));
    assert!(eventually(Duration::from_secs(2), || {
        let s = scrape(&site);
        value(&s, "ayadns_probe_failures_total", &[("reason", "status")]) >= 1.0
            && value(&s, "ayadns_health_transitions_total", &[("to", "down")]) >= 1.0
    }));
    let s = scrape(&site);
    assert_eq!(
        value(&s, "ayadns_health_transitions_total", &[("to", "up")]),
        0.0
    );
    assert_eq!(
        value(&s, "ayadns_probe_failures_total", &[("reason", "body")]),
        0.0
    );
    // A rejected reload: success 0, a timestamp.
    std::fs::write(&cfg, "[server\n").unwrap();
    server.send_signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(2), || {
        let s = scrape(&site);
        s.docs.contains_key("ayadns_last_reload_success")
    }));
    let s = scrape(&site);
    assert_eq!(value(&s, "ayadns_last_reload_success", &[]), 0.0);
    assert!(value(&s, "ayadns_last_reload_timestamp_seconds", &[]) > 1.7e9);
    server.stop();
}
