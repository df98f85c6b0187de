//! Operator experience, black-box: liveness and readiness without a token, the metrics-only
//! listener, one instance per address, and what start-up says (no token, what was loaded).
mod common;

use ayadns::api::Readiness;
use common::backend::{eventually, http};
use common::site::{ADMIN_TOKEN, AGENT_TOKEN, Site};
use common::*;
use std::time::Duration;

const CHECKED: &str = "http://127.0.0.1:9/health";

/// One pool with one checked endpoint, health from a remote agent of region eu only.
fn pools() -> String {
    format!(
        r#"[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["198.51.100.10"]
check = "{CHECKED}"
[[service]]
name = "www.gslb.example.com."
types = ["A"]
pools = ["eu-west"]
"#
    )
}

fn ready(site: &Site) -> (u16, Readiness) {
    let (code, body) = http(site.admin, "GET", "/readyz", None, None);
    let r: Readiness = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (code, r)
}

#[test]
fn healthz_and_readyz_answer_without_a_token_and_readyz_waits_for_health() {
    let site = Site::new();
    let cfg = site.config(
        "agents = [\"eu\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1",
        &pools(),
    );
    let mut a = site.start(&cfg);
    let (code, body) = http(site.admin, "GET", "/healthz", None, None);
    assert_eq!(code, 200, "{body}");
    // No agent has reported: health is a guess, not ready.
    let (code, r) = ready(&site);
    assert_eq!(code, 503);
    assert!(!r.ready);
    let health = r.checks.iter().find(|c| c.name == "health").unwrap();
    assert!(!health.ok && health.detail.contains("0 of 1"), "{health:?}");
    assert!(r.checks.iter().any(|c| c.name == "zones" && c.ok));
    // The agent reports: ready.
    let report = common::site::report_body(
        "eu",
        vec![ayadns::api::ProbeResult {
            target: CHECKED.into(),
            ok: true,
            rtt_ms: Some(1.0),
            error: None,
        }],
    );
    let (code, body) = http(
        site.admin,
        "POST",
        "/api/v1/probe-reports",
        Some(AGENT_TOKEN),
        Some(&report),
    );
    assert_eq!(code, 202, "{body}");
    assert!(eventually(Duration::from_secs(2), || ready(&site).0 == 200));
    assert!(ready(&site).1.ready);
    // The API itself still needs a token.
    assert_eq!(http(site.admin, "GET", "/api/v1/status", None, None).0, 401);
    a.stop();
}

#[test]
fn metrics_listen_serves_metrics_without_a_token_and_nothing_else() {
    let site = Site::new();
    let metrics = unique_addr();
    let cfg = site.config("probers = []", &pools());
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "tokens_file = \"tokens.txt\"\n",
        &format!("tokens_file = \"tokens.txt\"\nmetrics_listen = \"{metrics}\"\n"),
    );
    std::fs::write(&cfg, text).unwrap();
    let mut a = site.start(&cfg);
    assert!(eventually(Duration::from_secs(2), || {
        std::net::TcpStream::connect(metrics).is_ok()
    }));
    let (code, body) = http(metrics, "GET", "/metrics", None, None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ayadns_build_info"), "{body}");
    assert_eq!(http(metrics, "GET", "/api/v1/status", None, None).0, 404);
    // On the admin listener /metrics still needs a token.
    assert_eq!(http(site.admin, "GET", "/metrics", None, None).0, 401);
    assert_eq!(
        http(site.admin, "GET", "/metrics", Some(ADMIN_TOKEN), None).0,
        200
    );
    a.stop();
}

#[test]
fn a_second_serve_on_the_same_address_refuses_to_start_naming_it_and_the_first() {
    let site = Site::new();
    let cfg = site.config("probers = []", &pools());
    let mut first = site.start(&cfg);
    // Same DNS address, another admin address (so only the DNS address collides).
    let other = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&site.admin.to_string(), &unique_addr().to_string())
        .replace(
            "tokens.txt",
            site.path().join("tokens.txt").to_str().unwrap(),
        )
        .replace(
            "gslb.example.com.zone",
            site.path().join("gslb.example.com.zone").to_str().unwrap(),
        );
    let cfg2 = other.path().join("second.toml");
    std::fs::write(&cfg2, text).unwrap();
    let started = std::time::Instant::now();
    let (status, _out, err) = run_ayadns(
        Some(other.path()),
        &["serve", "--config", cfg2.to_str().unwrap()],
    );
    assert!(!status.success(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.contains(&site.dns.to_string()), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(
        err.contains(&format!("process {}", first.pid())),
        "the holder is named: {err}"
    );
    // The first one still answers.
    first.wait_for_dns(site.dns, Duration::from_secs(2));
    first.stop();
}

#[test]
fn start_up_warns_without_a_token_and_logs_what_it_loaded() {
    let site = Site::new();
    let cfg = site.config("probers = []", &pools());
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "tokens_file = \"tokens.txt\"\n",
        "admin_token_env = \"AYADNS_TEST_NO_SUCH_TOKEN\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let mut a = site.start(&cfg);
    assert!(a.wait_for_log("ayadns ready", Duration::from_secs(2)));
    let log = a.log();
    assert!(log.contains("no token configured"), "{log}");
    assert!(log.contains("AYADNS_TEST_NO_SUCH_TOKEN"), "{log}");
    assert!(log.contains("zone loaded"), "{log}");
    assert!(log.contains("gslb.example.com."), "{log}");
    assert!(log.contains("GeoIP database loaded"), "{log}");
    assert!(log.contains("sample.mmdb"), "{log}");
    a.stop();
}

#[test]
fn check_explain_and_geoip_speak_json() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // A config with a typo and a zone file with a bad record: both listed with lines.
    std::fs::write(
        dir.path().join("z.zone"),
        "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 999.1.1.1\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisen = 1\n[[zone]]\nfile = \"z.zone\"\norigin = \"example.\"\n",
    )
    .unwrap();
    let (st, out, _) = run_ayadns(
        None,
        &["check", "--config", bad.to_str().unwrap(), "--json"],
    );
    assert_eq!(st.code(), Some(1));
    let r: ayadns::api::CheckReport =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(!r.ok);
    let typo = r
        .errors
        .iter()
        .find(|e| e.message.contains("lisen"))
        .expect("the typo");
    assert_eq!(
        (typo.line, typo.file.ends_with("bad.toml")),
        (Some(2), true),
        "{typo:?}"
    );
    assert!(typo.column.is_some(), "{typo:?}");
    let rec = r
        .errors
        .iter()
        .find(|e| e.file.ends_with("z.zone"))
        .expect("the record");
    assert_eq!(rec.line, Some(4), "{rec:?}");
    // The example is valid.
    let example = repo.join("config.example.toml");
    let (st, out, _) = run_ayadns(
        Some(repo),
        &["--json", "check", "--config", example.to_str().unwrap()],
    );
    assert!(st.success(), "{out}");
    let r: ayadns::api::CheckReport = serde_json::from_str(&out).unwrap();
    assert!(
        r.ok && r.zones == 1 && r.records > 0 && r.errors.is_empty(),
        "{r:?}"
    );
    // explain --json: the same body as `ctl explain --json`.
    let (st, out, err) = run_ayadns(
        Some(repo),
        &[
            "explain",
            "www.gslb.example.com",
            "A",
            "--client",
            "81.2.69.0/24",
            "--config",
            "config.example.toml",
            "--json",
        ],
    );
    assert!(st.success(), "{err}");
    let e: ayadns::api::ExplainReply = serde_json::from_str(&out).unwrap();
    assert!(e.trace.contains("198.51.100.10"), "{}", e.trace);
    // geoip lookup --json, found and not.
    let (st, out, _) = run_ayadns(
        Some(repo),
        &[
            "geoip",
            "lookup",
            "--json",
            "81.2.69.142",
            "geoip/sample.mmdb",
        ],
    );
    assert!(st.success());
    let l: ayadns::api::GeoipLookup = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (l.country.as_deref(), l.city.as_deref()),
        (Some("GB"), Some("London"))
    );
    assert_eq!(l.network.as_deref(), Some("81.2.69.0/24"));
    let (st, out, _) = run_ayadns(
        Some(repo),
        &[
            "geoip",
            "lookup",
            "--json",
            "192.0.2.1",
            "geoip/sample.mmdb",
        ],
    );
    assert_eq!(st.code(), Some(1));
    assert!(
        !serde_json::from_str::<ayadns::api::GeoipLookup>(&out)
            .unwrap()
            .found
    );
    // geoip build: a readable summary, not a debug struct.
    let out_db = dir.path().join("s.mmdb");
    let (st, out, err) = run_ayadns(
        Some(repo),
        &[
            "geoip",
            "build",
            "geoip/sample.csv",
            "-o",
            out_db.to_str().unwrap(),
        ],
    );
    assert!(st.success(), "{err}");
    assert!(
        out.starts_with("wrote ") && out.contains("IPv4") && !out.contains("BuildReport"),
        "{out}"
    );
}

#[test]
fn the_state_file_goes_to_the_state_directory_systemd_names() {
    let site = Site::new();
    let cfg = site.config("probers = []", &pools());
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("state_file = \"state.db\"\n", "");
    std::fs::write(&cfg, text).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut a = Ayadns::start_with(
        Some(site.path()),
        &["serve", "--config", cfg.to_str().unwrap()],
        &[("STATE_DIRECTORY", state.path().to_str().unwrap())],
    );
    a.wait_for_dns(site.dns, Duration::from_secs(2));
    assert!(state.path().join("ayadns.db").exists());
    assert!(!site.path().join("data").exists());
    a.stop();
    // Without it (from a checkout): data/ next to the config.
    let mut a = Ayadns::start_in(site.path(), &["serve", "--config", cfg.to_str().unwrap()]);
    a.wait_for_dns(site.dns, Duration::from_secs(2));
    assert!(site.path().join("data/ayadns.db").exists());
    a.stop();
}

#[test]
fn quick_mode_refuses_an_address_another_program_holds() {
    // Any program's socket counts, not only another ayadns: here this test's own.
    let held = std::net::UdpSocket::bind(unique_addr()).unwrap();
    let addr = held.local_addr().unwrap();
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    let (st, _, err) = run_ayadns(
        None,
        &[
            "serve",
            "--zones",
            zones.to_str().unwrap(),
            "--listen",
            &addr.to_string(),
        ],
    );
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{addr} (UDP) is already in use")),
        "{err}"
    );
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    drop(held);
}
