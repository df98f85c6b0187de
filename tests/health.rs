//! Black-box tests of health checking: real HTTP and TCP backends on 127.0.0.x that fail on
//! command, the real binary answering over UDP, its admin API over HTTP, a real `ayadns probe`
//! agent process, and a real SQLite state file across a SIGKILL.
mod common;

use common::backend::{Backend, Mode, eventually, http};
use common::site::{ADMIN_TOKEN, AGENT_TOKEN, READ_TOKEN, Site, report_body};
use common::*;
use hickory_proto::rr::RecordType;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A site whose config has pools us-east and eu-west and the service www (A, 2 answers).
struct Setup(Site);

impl Setup {
    fn new() -> Setup {
        Setup(Site::new())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Write a config: `health` is the [health] body, `pools` the pool tables, `service` extra
    /// service keys.
    fn write(&self, health: &str, pools: &str, service: &str) -> PathBuf {
        let health = health.replace("\nstate_file = \"state.db\"", "");
        let rest = format!(
            "{pools}\n[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\nttl = 30\npools = [\"us-east\", \"eu-west\"]\nanswers = 2\n{service}\n"
        );
        self.0.config(&health, &rest)
    }

    fn start(&self, cfg: &Path) -> Ayadns {
        self.0.start(cfg)
    }

    /// The A answer for a London client (ECS 81.2.69.0/24), sorted.
    fn eu_answer(&self) -> Vec<String> {
        let r = udp(
            self.0.dns,
            &Q::new("www.gslb.example.com.", RecordType::A)
                .ecs("81.2.69.0".parse().unwrap(), 24)
                .message(),
        );
        let mut v: Vec<String> = r.answers.iter().map(|r| r.data.to_string()).collect();
        v.sort();
        v
    }
}

fn pools(us: &[String], eu: &[String]) -> String {
    let mut s = String::new();
    for (name, region, urls, base) in [
        ("us-east", "us", us, "192.0.2."),
        ("eu-west", "eu", eu, "198.51.100."),
    ] {
        s.push_str(&format!(
            "[[pool]]\nname = \"{name}\"\nregion = \"{region}\"\n"
        ));
        for (i, u) in urls.iter().enumerate() {
            s.push_str(&format!(
                "[[pool.endpoint]]\nname = \"{name}-{i}\"\naddresses = [\"{base}{}\"]\ncheck = {u}\n",
                10 + i
            ));
        }
    }
    s
}

fn quoted(u: String) -> String {
    format!("\"{u}\"")
}

const FAST: &str = "probers = [\"us\"]\ninterval = \"200ms\"\ntimeout = \"150ms\"\nrise = 2\nfall = 3\nstate_file = \"state.db\"";

#[test]
fn an_endpoint_goes_down_after_fall_failures_and_back_after_rise_for_every_failure_kind() {
    let s = Setup::new();
    let us = Backend::new();
    let eu = Backend::new();
    let eu_check = format!("{{ url = \"{}\", body = \"ok\" }}", eu.url());
    let cfg = s.write(FAST, &pools(&[quoted(us.url())], &[eu_check]), "");
    let _a = s.start(&cfg);
    let eu_ips = vec!["198.51.100.10".to_string()];
    let us_ips = vec!["192.0.2.10".to_string()];
    assert_eq!(s.eu_answer(), eu_ips);
    // interval 200 ms × fall 3 = 0.6 s, plus a second of slack (and 150 ms timeouts).
    let converge = Duration::from_millis(200 * 3 + 150 * 3 + 1000);
    for mode in [Mode::Status(503), Mode::Refuse, Mode::Hang, Mode::WrongBody] {
        eu.set(mode);
        assert!(
            eventually(converge + Duration::from_secs(2), || s.eu_answer()
                == us_ips),
            "{mode:?}: not failed over"
        );
        // Converged: no answer names the down endpoint.
        for _ in 0..20 {
            assert_eq!(s.eu_answer(), us_ips, "{mode:?}");
        }
        eu.set(Mode::Ok);
        assert!(
            eventually(Duration::from_secs(4), || s.eu_answer() == eu_ips),
            "{mode:?}: not back after rise"
        );
    }
}

#[test]
fn tcp_checks_and_fail_open_when_everything_is_down() {
    let s = Setup::new();
    let us = Backend::new();
    let eu = Backend::new();
    let cfg = s.write(
        FAST,
        &pools(
            &[quoted(format!("tcp://{}", us.addr))],
            &[quoted(format!("tcp://{}", eu.addr))],
        ),
        "",
    );
    let _a = s.start(&cfg);
    eu.set(Mode::Refuse);
    assert!(eventually(Duration::from_secs(4), || s.eu_answer()
        == vec!["192.0.2.10".to_string()]));
    us.set(Mode::Refuse);
    // Both down: fail_open answers as if all were up (the client's own region again).
    assert!(eventually(Duration::from_secs(4), || s.eu_answer()
        == vec!["198.51.100.10".to_string()]));
    let r = udp(
        s.0.dns,
        &Q::new("www.gslb.example.com.", RecordType::A)
            .ecs("81.2.69.0".parse().unwrap(), 24)
            .message(),
    );
    assert_eq!(r.answers[0].ttl, 15, "TTL halved while failed open");
}

/// Post one region's verdict on every eu-west endpoint, as an agent would.
fn report(s: &Setup, region: &str, target: &str, ok: bool, token: Option<&str>) -> u16 {
    let body = report_body(
        region,
        vec![ayadns::api::ProbeResult {
            target: target.to_string(),
            ok,
            rtt_ms: Some(1.0),
            error: (!ok).then(|| "503".to_string()),
        }],
    );
    http(
        s.0.admin,
        "POST",
        "/api/v1/probe-reports",
        token,
        Some(&body),
    )
    .0
}

#[test]
fn quorum_one_region_of_three_cannot_take_an_endpoint_down_two_can() {
    let s = Setup::new();
    let us_url = "http://127.0.0.1:9/us";
    let eu_url = "http://127.0.0.1:9/eu";
    let health = "agents = [\"us\", \"eu\", \"ap\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1\nstale_after = \"60s\"\nstate_file = \"state.db\"";
    let cfg = s.write(
        health,
        &pools(&[quoted(us_url.into())], &[quoted(eu_url.into())]),
        "",
    );
    let _a = s.start(&cfg);
    for region in ["us", "eu", "ap"] {
        assert_eq!(report(&s, region, eu_url, true, Some(AGENT_TOKEN)), 202);
    }
    assert_eq!(s.eu_answer(), vec!["198.51.100.10".to_string()]);
    // One region says down: 2 of 3 still say up.
    assert_eq!(report(&s, "us", eu_url, false, Some(AGENT_TOKEN)), 202);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        s.eu_answer(),
        vec!["198.51.100.10".to_string()],
        "one region of three cannot take it down"
    );
    // Two regions say down.
    assert_eq!(report(&s, "ap", eu_url, false, Some(AGENT_TOKEN)), 202);
    assert!(eventually(Duration::from_secs(3), || s.eu_answer()
        == vec!["192.0.2.10".to_string()]));
    // Authentication: no token → 401, a read token → 403, a wrong region → 403.
    assert_eq!(report(&s, "eu", eu_url, true, None), 401);
    assert_eq!(
        report(&s, "eu", eu_url, true, Some("not-a-token-at-all")),
        401
    );
    assert_eq!(report(&s, "eu", eu_url, true, Some(READ_TOKEN)), 403);
    let (code, body) = http(s.0.admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"eu-west-0\""), "{body}");
}

#[test]
fn a_remote_agent_reports_and_goes_stale_when_it_stops() {
    let s = Setup::new();
    let eu = Backend::new();
    let us = Backend::new();
    let health = "agents = [\"eu\"]\ninterval = \"200ms\"\ntimeout = \"150ms\"\nrise = 1\nfall = 1\nstale_after = \"1s\"\nstate_file = \"state.db\"";
    let cfg = s.write(health, &pools(&[quoted(us.url())], &[quoted(eu.url())]), "");
    let _a = s.start(&cfg);
    let token = s.path().join("agent.token");
    fs::write(&token, AGENT_TOKEN).unwrap();
    let admin_url = format!("http://{}", s.0.admin);
    let mut agent = Ayadns::start_in(
        s.path(),
        &[
            "probe",
            "--config",
            cfg.to_str().unwrap(),
            "--region",
            "eu",
            "--report-to",
            &admin_url,
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    let fresh = |want: bool| {
        let (_, body) = http(s.0.admin, "GET", "/api/v1/status", Some(ADMIN_TOKEN), None);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["endpoints"]
            .as_array()
            .and_then(|eps| eps.iter().find(|e| e["name"] == "eu-west-0"))
            .map(|e| e["regions"]["eu"]["fresh"] == want)
            .unwrap_or(false)
    };
    assert!(
        eventually(Duration::from_secs(10), || fresh(true)),
        "agent's results never arrived\n{}",
        agent.log()
    );
    // The agent's verdicts count: its backend fails, the endpoint goes down.
    eu.set(Mode::Status(503));
    assert!(eventually(Duration::from_secs(5), || s.eu_answer()
        == vec!["192.0.2.10".to_string()]));
    eu.set(Mode::Ok);
    assert!(eventually(Duration::from_secs(5), || s.eu_answer()
        == vec!["198.51.100.10".to_string()]));
    agent.stop();
    assert!(
        eventually(Duration::from_secs(5), || fresh(false)),
        "results did not go stale"
    );
}

#[test]
fn health_state_survives_sigkill_and_is_back_before_the_first_answer() {
    let s = Setup::new();
    let us = Backend::new();
    let eu = Backend::new();
    let p = pools(&[quoted(us.url())], &[quoted(eu.url())]);
    let cfg = s.write(FAST, &p, "");
    let mut a = s.start(&cfg);
    eu.set(Mode::Status(503));
    assert!(eventually(Duration::from_secs(5), || s.eu_answer()
        == vec!["192.0.2.10".to_string()]));
    std::thread::sleep(Duration::from_millis(500)); // the writer flushes every 200 ms
    a.send_signal(SIGKILL);
    a.wait_exit(Duration::from_secs(5)).expect("killed");
    // Restart with a long interval: no probe runs before the first query, so the answer can
    // only come from the state file (initial = "up" would answer eu-west).
    let slow = FAST.replace("interval = \"200ms\"", "interval = \"60s\"");
    let cfg = s.write(&slow, &p, "");
    let _b = s.start(&cfg);
    assert_eq!(
        s.eu_answer(),
        vec!["192.0.2.10".to_string()],
        "warm start from SQLite"
    );
}

#[test]
fn the_latency_step_prefers_the_lower_rtt_pool() {
    let s = Setup::new();
    let us = Backend::new();
    let eu = Backend::new();
    us.set(Mode::Delay(Duration::from_millis(80)));
    let health = "probers = [\"us\", \"eu\", \"ap\"]\ninterval = \"200ms\"\ntimeout = \"180ms\"\nstate_file = \"state.db\"";
    let cfg = s.write(
        health,
        &pools(&[quoted(us.url())], &[quoted(eu.url())]),
        "chain = [\"health\", \"latency\", \"failover\"]\n[service.latency]\ntolerance_ms = 10\ntolerance_percent = 10",
    );
    let _a = s.start(&cfg);
    // A US client: eu-west is faster from everywhere here (us-east sleeps 80 ms).
    let us_client = || {
        let r = udp(
            s.0.dns,
            &Q::new("www.gslb.example.com.", RecordType::A)
                .ecs("216.160.83.56".parse().unwrap(), 29)
                .message(),
        );
        r.answers
            .iter()
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(5), || us_client()
            == vec!["198.51.100.10".to_string()]),
        "{:?}",
        us_client()
    );
    us.set(Mode::Ok);
    eu.set(Mode::Delay(Duration::from_millis(80)));
    assert!(
        eventually(Duration::from_secs(8), || us_client()
            == vec!["192.0.2.10".to_string()]),
        "{:?}",
        us_client()
    );
}
