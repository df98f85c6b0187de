//! Black-box tests of operations: overrides, DR drills, audit, auth and rate limits — the
//! real binary, its admin API over HTTP, DNS over UDP, and its SQLite file across restarts.
mod common;

use common::backend::{eventually, http};
use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ADMIN: &str = "admin-token-0123456789";
const READ: &str = "read-token-0123456789";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Setup {
    dir: tempfile::TempDir,
    dns: SocketAddr,
    admin: SocketAddr,
    cfg: PathBuf,
}

impl Setup {
    /// The example config (three pools, www and api), on unique addresses, no probers.
    fn new(rate_limit: u32) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let dns = unique_addr();
        let admin = unique_addr();
        fs::write(
            dir.path().join("tokens.txt"),
            format!("ops admin {ADMIN}\nviewer read {READ}\n"),
        )
        .unwrap();
        let root = repo().display().to_string();
        let text = fs::read_to_string(repo().join("config.example.toml"))
            .unwrap()
            .replace(
                "listen = [\"127.0.0.1:5353\"]",
                &format!("listen = [\"{dns}\"]"),
            )
            .replace(
                "listen = \"127.0.0.1:8053\"",
                &format!(
                    "listen = \"{admin}\"\ntokens_file = \"tokens.txt\"\nrate_limit = {rate_limit}"
                ),
            )
            .replace("\"zones/", &format!("\"{root}/zones/"))
            .replace("\"geoip/", &format!("\"{root}/geoip/"))
            .replace("probers = [\"us\", \"eu\", \"ap\"]", "probers = []");
        let cfg = dir.path().join("ayadns.toml");
        fs::write(&cfg, text).unwrap();
        Setup {
            dir,
            dns,
            admin,
            cfg,
        }
    }

    fn start(&self) -> Ayadns {
        self.start_at("0s")
    }

    /// Start with a test clock `ahead` of the system clock (as if started that much later).
    fn start_at(&self, ahead: &str) -> Ayadns {
        let mut a = Ayadns::start_in(
            self.dir.path(),
            &[
                "serve",
                "--config",
                self.cfg.to_str().unwrap(),
                "--test-clock",
                ahead,
            ],
        );
        a.wait_for_dns(self.dns, Duration::from_secs(15));
        assert!(
            wait_for_tcp(self.admin, Duration::from_secs(10)),
            "admin API not up"
        );
        a
    }

    /// The first A answered to a London client.
    fn london(&self) -> String {
        let r = udp(
            self.dns,
            &Q::new("www.gslb.example.com.", RecordType::A)
                .ecs("81.2.69.0".parse().unwrap(), 24)
                .message(),
        );
        r.answers
            .first()
            .map(|r| r.data.to_string())
            .unwrap_or_default()
    }

    fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (code, text) = http(self.admin, method, path, token, body);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Move the server's test clock forward; what falls due happens before this returns.
    fn advance(&self, by: &str) {
        let body = format!("{{\"advance\": \"{by}\"}}");
        let (code, v) = self.api("POST", "/api/v1/test/clock", Some(ADMIN), Some(&body));
        assert_eq!(code, 200, "advance the test clock: {v}");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn draining_a_pool_moves_the_next_query_survives_a_restart_expires_and_is_audited() {
    let s = Setup::new(50);
    let mut a = s.start();
    assert!(s.london().starts_with("198.51.100."), "eu-west before");
    let body = r#"{"target": "pool:eu-west", "action": "drain", "reason": "maintenance", "expires_in": "10s"}"#;
    // No token → 401; a read-only token → 403; neither changes anything.
    assert_eq!(s.api("POST", "/api/v1/overrides", None, Some(body)).0, 401);
    assert_eq!(
        s.api("POST", "/api/v1/overrides", Some(READ), Some(body)).0,
        403
    );
    assert!(s.london().starts_with("198.51.100."));
    let (code, o) = s.api("POST", "/api/v1/overrides", Some(ADMIN), Some(body));
    assert_eq!(code, 201, "{o}");
    // The very next query goes to the next pool.
    assert!(s.london().starts_with("192.0.2."), "drained: us-east next");
    let (_, list) = s.api("GET", "/api/v1/overrides", Some(READ), None);
    assert_eq!(list["overrides"].as_array().unwrap().len(), 1);
    let (_, metrics) = http(s.admin, "GET", "/metrics", Some(READ), None);
    assert!(
        metrics
            .lines()
            .any(|l| l.trim() == "ayadns_overrides_active 1"),
        "{metrics}"
    );
    // Survives a restart (SIGKILL: nothing flushed at exit).
    a.send_signal(SIGKILL);
    a.wait_exit(Duration::from_secs(5)).unwrap();
    let _b = s.start();
    assert!(
        s.london().starts_with("192.0.2."),
        "override restored from SQLite"
    );
    // Expires by itself.
    s.advance("9s");
    assert!(s.london().starts_with("192.0.2."), "not yet expired");
    s.advance("2s");
    assert!(s.london().starts_with("198.51.100."), "did not expire");
    // The audit trail has the attempts and the override.
    let (code, audit) = s.api("GET", "/api/v1/audit", Some(READ), None);
    assert_eq!(code, 200);
    let entries = audit["audit"].as_array().unwrap();
    let has = |token: &str, status: u64| {
        entries.iter().any(|e| {
            e["path"] == "/api/v1/overrides" && e["token"] == token && e["status"] == status
        })
    };
    assert!(has("ops", 201), "{audit}");
    assert!(has("viewer", 403), "{audit}");
    assert!(has("-", 401), "{audit}");
    assert!(
        entries.iter().any(|e| e["method"] == "expire"),
        "expiry recorded: {audit}"
    );
    assert!(!audit.to_string().contains(ADMIN), "tokens never stored");
}

#[test]
fn an_override_that_expired_while_the_server_was_down_is_gone_at_start() {
    let s = Setup::new(50);
    let mut a = s.start();
    let body = r#"{"target": "region:eu", "action": "down", "reason": "test", "expires_in": "2s"}"#;
    assert_eq!(
        s.api("POST", "/api/v1/overrides", Some(ADMIN), Some(body))
            .0,
        201
    );
    assert!(s.london().starts_with("192.0.2."));
    a.stop();
    // Started again "3 s later": the override expired while the server was down.
    let _b = s.start_at("3s");
    assert!(
        s.london().starts_with("198.51.100."),
        "expired while down: not applied"
    );
    let (_, list) = s.api("GET", "/api/v1/overrides", Some(READ), None);
    assert!(list["overrides"].as_array().unwrap().is_empty());
}

#[test]
fn a_drill_preview_changes_nothing_and_a_drill_reverts_by_itself() {
    let s = Setup::new(50);
    let _a = s.start();
    let (code, p) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:eu-west"]}"#),
    );
    assert_eq!(code, 200, "{p}");
    let row = p["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "www.gslb.example.com." && r["region"] == "eu")
        .unwrap_or_else(|| panic!("{p}"));
    assert_eq!(
        (row["now"].as_str(), row["during"].as_str()),
        (Some("eu-west"), Some("us-east"))
    );
    assert!(
        s.london().starts_with("198.51.100."),
        "a preview changes no answer"
    );
    let (code, bad) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:nowhere"]}"#),
    );
    assert_eq!(code, 400, "{bad}");

    let (code, d) = s.api(
        "POST",
        "/api/v1/drills",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:eu-west"], "reason": "DR drill", "duration": "4s"}"#),
    );
    assert_eq!(code, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    assert!(s.london().starts_with("192.0.2."), "during the drill");
    for _ in 0..10 {
        s.london();
    }
    let (_, status) = s.api("GET", "/api/v1/status", Some(READ), None);
    assert_eq!(status["drill"]["id"], id.as_str());
    // A second drill is refused while one runs.
    let (code, _) = s.api(
        "POST",
        "/api/v1/drills",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:us-east"], "reason": "x", "duration": "1m"}"#),
    );
    assert_eq!(code, 409);
    s.advance("3s");
    assert!(s.london().starts_with("192.0.2."), "still in the drill");
    s.advance("2s");
    assert!(
        s.london().starts_with("198.51.100."),
        "drill did not revert"
    );
    let (code, t) = s.api("GET", &format!("/api/v1/drills/{id}"), Some(READ), None);
    assert_eq!(code, 200);
    assert!(t["ended_at"].is_number(), "{t}");
    assert!(t["started_at"].is_number(), "{t}");
    // The timeline saw London's answers move to us-east, and counted them.
    assert!(t["first_moved_at"].is_number(), "{t}");
    let moved = t["queries"]["www.gslb.example.com."]["us-east"]
        .as_u64()
        .unwrap_or(0);
    assert!(moved >= 11, "queries per pool during the drill: {t}");
}

#[test]
fn drills_can_be_stopped_and_explain_and_reload_answer() {
    let s = Setup::new(50);
    let _a = s.start();
    let (_, d) = s.api(
        "POST",
        "/api/v1/drills",
        Some(ADMIN),
        Some(r#"{"fail": ["region:eu"], "reason": "drill", "duration": "10m"}"#),
    );
    let id = d["id"].as_str().unwrap().to_string();
    assert!(s.london().starts_with("192.0.2."));
    let (code, _) = s.api(
        "POST",
        &format!("/api/v1/drills/{id}/stop"),
        Some(ADMIN),
        None,
    );
    assert_eq!(code, 200);
    assert!(
        s.london().starts_with("198.51.100."),
        "back at once after stop"
    );
    let (code, e) = s.api(
        "GET",
        "/api/v1/explain?name=www.gslb.example.com&type=A&client=81.2.69.0/24",
        Some(READ),
        None,
    );
    assert_eq!(code, 200);
    assert!(e["trace"].as_str().unwrap().contains("region  eu"), "{e}");
    let (code, r) = s.api("POST", "/api/v1/reload", Some(ADMIN), None);
    assert_eq!((code, r["ok"].as_bool()), (200, Some(true)), "{r}");
    // A broken config is rejected with its errors, and the old data keeps serving.
    let text = fs::read_to_string(&s.cfg).unwrap();
    fs::write(&s.cfg, text.replace("ttl = 30", "ttl = \"thirty\"")).unwrap();
    let (code, r) = s.api("POST", "/api/v1/reload", Some(ADMIN), None);
    assert_eq!(code, 422, "{r}");
    assert!(
        r["errors"][0].as_str().unwrap().contains("ayadns.toml:"),
        "{r}"
    );
    assert!(s.london().starts_with("198.51.100."));
    let _ = s.path();
}

#[test]
fn the_admin_api_rate_limits_per_client() {
    let s = Setup::new(5);
    let _a = s.start();
    let mut limited = None;
    for _ in 0..40 {
        let (code, _) = s.api("GET", "/api/v1/overrides", Some(READ), None);
        if code == 429 {
            limited = Some(code);
            break;
        }
    }
    assert_eq!(
        limited,
        Some(429),
        "no 429 after 40 requests at a 5/s limit"
    );
    // The 429s are counted.
    assert!(eventually(Duration::from_secs(5), || {
        let (code, m) = http(s.admin, "GET", "/metrics", Some(READ), None);
        code == 200
            && m.lines().any(|l| {
                l.starts_with("ayadns_rate_limited_total")
                    && l.split_whitespace()
                        .last()
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0)
                        >= 1.0
            })
    }));
}

#[test]
fn ctl_speaks_to_the_admin_api_with_exit_codes() {
    let s = Setup::new(50);
    let _a = s.start();
    let server = format!("http://{}", s.admin);
    let admin_tok = s.path().join("admin.token");
    let read_tok = s.path().join("read.token");
    fs::write(&admin_tok, ADMIN).unwrap();
    fs::write(&read_tok, READ).unwrap();
    let ctl = |tok: &Path, args: &[&str]| {
        let mut all = vec![
            "ctl",
            "--server",
            &server,
            "--token-file",
            tok.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        run_ayadns(None, &all)
    };
    let (st, out, err) = ctl(&read_tok, &["status"]);
    assert!(st.success(), "{err}");
    assert!(out.contains("eu-west") && out.contains("POOL"), "{out}");
    // A read-only token cannot drain: exit 1 with the server's reason.
    let (st, _, err) = ctl(
        &read_tok,
        &["drain", "pool:eu-west", "--reason", "test", "--for", "1m"],
    );
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("403"), "{err}");
    let (st, out, err) = ctl(
        &admin_tok,
        &["drain", "pool:eu-west", "--reason", "test", "--for", "1m"],
    );
    assert!(st.success(), "{err}");
    assert!(s.london().starts_with("192.0.2."), "{out}");
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    let (st, _, err) = ctl(&admin_tok, &["undrain", &id]);
    assert!(st.success(), "{err}");
    assert!(s.london().starts_with("198.51.100."));
    let (st, out, _) = ctl(
        &admin_tok,
        &["--json", "drill", "preview", "--fail", "pool:eu-west"],
    );
    assert!(st.success());
    assert!(serde_json::from_str::<Value>(&out).unwrap()["regions"].is_array());
    let (st, out, _) = ctl(
        &read_tok,
        &[
            "explain",
            "www.gslb.example.com",
            "--client",
            "81.2.69.0/24",
        ],
    );
    assert!(st.success() && out.contains("region  eu"), "{out}");
    let (st, out, _) = ctl(&read_tok, &["audit"]);
    assert!(st.success() && out.contains("/api/v1/overrides"), "{out}");
    // Unreachable server: exit 2.
    let (st, _, _) = run_ayadns(None, &["ctl", "--server", "http://127.0.0.1:1", "status"]);
    assert_eq!(st.code(), Some(2));
}

#[test]
fn the_admin_api_refuses_a_non_loopback_address_without_tokens() {
    let s = Setup::new(50);
    let text = fs::read_to_string(&s.cfg).unwrap();
    // No tokens, and a wildcard address: refused before anything is bound.
    let text = text
        .replace(
            &format!("listen = \"{}\"", s.admin),
            "listen = \"0.0.0.0:18999\"",
        )
        .replace("tokens_file = \"tokens.txt\"\n", "")
        .replace("admin_token_env = \"AYADNS_ADMIN_TOKEN\"", "");
    fs::write(&s.cfg, text).unwrap();
    let (status, _, err) = run_ayadns(
        Some(s.path()),
        &["serve", "--config", s.cfg.to_str().unwrap()],
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to serve the admin API on 0.0.0.0:18999"),
        "{err}"
    );
}

/// `ctl` with only `--config`: the admin address and the token come from the server's config;
/// `--json` is accepted after the subcommand; every API action has a command.
#[test]
fn ctl_reads_server_and_token_from_the_config_and_covers_every_action() {
    let s = Setup::new(50);
    let _a = s.start();
    let cfg = s.cfg.to_str().unwrap().to_string();
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", "--config", &cfg];
        all.extend_from_slice(args);
        run_ayadns(None, &all)
    };
    let json = |out: &str| serde_json::from_str::<Value>(out).unwrap_or(Value::Null);
    // `--json` at the end, no --server, no token file.
    let (st, out, err) = ctl(&["status", "--json"]);
    assert!(st.success(), "{err}");
    assert!(json(&out)["pools"].is_array(), "{out}");
    // down / up / overrides / remove.
    let (st, out, err) = ctl(&[
        "down",
        "pool:eu-west",
        "--reason",
        "maintenance",
        "--for",
        "5m",
    ]);
    assert!(st.success(), "{err}");
    assert!(s.london().starts_with("192.0.2."), "{out}");
    let down_id = out.split_whitespace().nth(1).unwrap().to_string();
    let (st, out, err) = ctl(&["up", "endpoint:us-east-a", "--reason", "pin"]);
    assert!(st.success(), "{err}");
    let up_id = out.split_whitespace().nth(1).unwrap().to_string();
    let (st, out, _) = ctl(&["overrides"]);
    assert!(st.success());
    assert!(out.contains(&down_id) && out.contains(&up_id), "{out}");
    assert!(
        out.contains("down") && out.contains("pool:eu-west") && out.contains("maintenance"),
        "{out}"
    );
    let (st, out, _) = ctl(&["--json", "overrides"]);
    assert!(st.success());
    assert_eq!(
        json(&out)["overrides"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    for id in [&down_id, &up_id] {
        let (st, _, err) = ctl(&["remove", id]);
        assert!(st.success(), "{err}");
    }
    assert!(s.london().starts_with("198.51.100."));
    // A drill: start, show (timeline), stop.
    let (st, out, err) = ctl(&[
        "--json",
        "drill",
        "start",
        "--fail",
        "pool:eu-west",
        "--for",
        "10m",
        "--reason",
        "dr",
    ]);
    assert!(st.success(), "{err}");
    let drill = json(&out)["id"].as_str().unwrap().to_string();
    s.london();
    let (st, out, err) = ctl(&["drill", "show", &drill]);
    assert!(st.success(), "{err}");
    assert!(
        out.contains(&drill) && out.contains("started") && out.contains("ends"),
        "{out}"
    );
    let (st, _, err) = ctl(&["drill", "stop", &drill]);
    assert!(st.success(), "{err}");
    let (st, out, _) = ctl(&["drill", "show", &drill, "--json"]);
    assert!(st.success());
    assert!(json(&out)["ended_at"].is_number(), "{out}");
    // Explain takes the type as `ayadns explain` does: positional.
    let (st, out, err) = ctl(&[
        "explain",
        "www.gslb.example.com",
        "A",
        "--client",
        "81.2.69.0/24",
    ]);
    assert!(st.success() && out.contains("region  eu"), "{out}{err}");
    let (st, _, err) = ctl(&[
        "explain",
        "www.gslb.example.com",
        "NOTATYPE",
        "--client",
        "81.2.69.0/24",
    ]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("NOTATYPE"), "{err}");
    // Transitions, history, audit, ready.
    let (st, out, _) = ctl(&["transitions", "--json"]);
    assert!(st.success());
    assert!(json(&out)["transitions"].is_array(), "{out}");
    let (st, out, _) = ctl(&["history", "--json"]);
    assert!(st.success());
    let h = json(&out);
    assert_eq!(h["interval_s"].as_f64(), Some(10.0), "{out}");
    assert!(
        h["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "drill"),
        "the drill is an event: {out}"
    );
    let (st, out, _) = ctl(&["audit", "--limit", "5"]);
    assert!(st.success() && out.contains("/api/v1/drills"), "{out}");
    // Paging: one entry, then the next page from its `next_before`.
    let (st, out, _) = ctl(&["audit", "--limit", "1", "--json"]);
    assert!(st.success());
    let first = json(&out);
    let before = first["next_before"].as_i64().expect("a next page");
    let (st, out, _) = ctl(&["audit", "--limit", "1", "--before", &before.to_string()]);
    assert!(st.success() && out.contains("older entries"), "{out}");
    let (st, _, err) = ctl(&["audit", "--limit", "0"]);
    assert!(!st.success() && err.contains("limit"), "{err}");
    let (st, out, _) = ctl(&["ready"]);
    assert!(out.contains("zones"), "{out}");
    assert!(st.code() == Some(0) || st.code() == Some(1));
    // A config without an admin API: a clear refusal, exit 1.
    let bare = s.path().join("bare.toml");
    fs::write(&bare, "[server]\nlisten = [\"127.0.0.1:5353\"]\n").unwrap();
    let (st, _, err) = run_ayadns(None, &["ctl", "--config", bare.to_str().unwrap(), "status"]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("no [admin] listen"), "{err}");
}

/// The first A record of `name` for a client in `ecs`/24.
fn first_a_for(s: &Setup, name: &str, ecs: &str) -> String {
    let r = udp(
        s.dns,
        &Q::new(name, RecordType::A)
            .ecs(ecs.parse().unwrap(), 24)
            .message(),
    );
    r.answers
        .first()
        .map(|r| r.data.to_string())
        .unwrap_or_default()
}

#[test]
fn a_drill_preview_comes_from_real_clients_and_holds_during_the_drill() {
    let s = Setup::new(1000);
    let _a = s.start();
    let api = "api.gslb.example.com.";
    let (changchun, london) = ("175.16.199.0", "81.2.69.0");
    // Recent traffic: clients in Changchun and London.
    assert!(
        first_a_for(&s, api, changchun).starts_with("203.0.113."),
        "ap-southeast now"
    );
    assert!(
        first_a_for(&s, api, london).starts_with("198.51.100."),
        "eu-west now"
    );
    for _ in 0..80 {
        first_a_for(&s, api, changchun);
        first_a_for(&s, api, london);
    }
    s.advance("1s"); // the tick takes the sampled answers into the record
    let (code, p) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:ap-southeast"]}"#),
    );
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["basis"][api], "traffic", "{p}");
    let group = |country: &str| {
        p["placements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == api && r["country"] == country)
            .cloned()
            .unwrap_or_else(|| panic!("no {country} group: {p}"))
    };
    let cn = group("CN");
    assert_eq!(
        (cn["now"].as_str(), cn["during"].as_str()),
        (Some("ap-southeast"), Some("eu-west")),
        "Changchun goes to the nearer survivor: {p}"
    );
    let gb = group("GB");
    assert_eq!(
        (gb["now"].as_str(), gb["during"].as_str()),
        (Some("eu-west"), Some("eu-west"))
    );
    let predicted = |pool: &str| p["services"][api]["during"][pool].as_f64().unwrap_or(0.0);
    // The drill: the same clients, 1,000 queries, shares compared with the prediction.
    let (code, d) = s.api(
        "POST",
        "/api/v1/drills",
        Some(ADMIN),
        Some(r#"{"fail": ["pool:ap-southeast"], "reason": "preview check", "duration": "10m"}"#),
    );
    assert_eq!(code, 201, "{d}");
    let mut seen: std::collections::BTreeMap<&str, f64> = Default::default();
    for _ in 0..500 {
        for client in [changchun, london] {
            let a = first_a_for(&s, api, client);
            let pool = if a.starts_with("198.51.100.") {
                "eu-west"
            } else if a.starts_with("192.0.2.") {
                "us-east"
            } else {
                "ap-southeast"
            };
            *seen.entry(pool).or_default() += 1.0 / 1000.0;
        }
    }
    for pool in ["eu-west", "us-east", "ap-southeast"] {
        let (want, got) = (predicted(pool), seen.get(pool).copied().unwrap_or(0.0));
        assert!(
            (want - got).abs() <= 0.02,
            "{pool}: predicted {want:.3}, observed {got:.3}: {p}"
        );
    }
    // The report, after the drill: predicted and observed shares, nothing from the drilled pool.
    s.advance("1s");
    let id = d["id"].as_str().unwrap();
    assert_eq!(
        s.api(
            "POST",
            &format!("/api/v1/drills/{id}/stop"),
            Some(ADMIN),
            None
        )
        .0,
        200
    );
    let (code, r) = s.api("GET", &format!("/api/v1/drills/{id}"), Some(READ), None);
    assert_eq!(code, 200, "{r}");
    let report = &r["report"];
    assert_eq!(
        report["drilled_pools"],
        serde_json::json!(["ap-southeast"]),
        "{r}"
    );
    assert_eq!(report["drilled_answers"], 0, "{r}");
    assert!(r["first_moved_at"].is_number(), "{r}");
    for pool in ["eu-west", "us-east", "ap-southeast"] {
        let want = report["predicted"][api][pool].as_f64().unwrap_or(0.0);
        let got = report["observed"][api][pool].as_f64().unwrap_or(0.0);
        assert!((want - got).abs() <= 0.02, "{pool}: {want} vs {got}: {r}");
    }
}
