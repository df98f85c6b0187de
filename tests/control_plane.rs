//! The admin API as an attacker meets it: agent identity, replays, hostile values, floods of
//! refused requests, slow clients, and reloads that must apply (or say they did not). The
//! real binary, a real SQLite file, real sockets.

mod common;
#[path = "common/etcd.rs"]
mod etcd;

use common::backend::{eventually, http};
use common::site::{ADMIN_TOKEN, AGENT_TOKEN, READ_TOKEN, Site, report_body};
use common::*;
use hickory_proto::rr::RecordType;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Two pools whose endpoints are voted on by remote agents only (eu and ap).
fn agent_site() -> (Site, std::path::PathBuf) {
    let site = Site::new();
    let rest = "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n[[pool.endpoint]]\nname = \"us-east-a\"\naddresses = [\"192.0.2.10\"]\ncheck = \"http://127.0.0.1:9/us\"\n\
                [[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\ncheck = \"http://127.0.0.1:9/eu\"\n\
                [[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"eu-west\", \"us-east\"]\nchain = [\"health\", \"failover\"]\n";
    let health = "probers = []\nagents = [\"eu\", \"ap\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1\nquorum = 1\nstale_after = \"60s\"";
    // An agent token bound to eu only.
    let tokens = site.path().join("tokens.txt");
    let mut t = fs::read_to_string(&tokens).unwrap();
    t.push_str("eu-agent agent:eu eu-agent-token-0123456789\n");
    fs::write(&tokens, t).unwrap();
    let cfg = site.config(health, rest);
    // Generous API rate limits (floods here are about the audit trail), short header timeout.
    let text = fs::read_to_string(&cfg).unwrap().replace(
        "tokens_file = \"tokens.txt\"",
        "tokens_file = \"tokens.txt\"\nrate_limit = 10000\nheader_timeout = \"1s\"",
    );
    fs::write(&cfg, text).unwrap();
    (site, cfg)
}

fn result(target: &str, ok: bool, rtt_ms: Option<f64>) -> ayadns::api::ProbeResult {
    ayadns::api::ProbeResult {
        target: target.into(),
        ok,
        rtt_ms,
        error: (!ok).then(|| "refused".into()),
    }
}

fn first_a(dns: SocketAddr) -> String {
    let r = udp(
        dns,
        &Q::new("www.gslb.example.com.", RecordType::A).message(),
    );
    r.answers
        .first()
        .map(|a| a.data.to_string())
        .unwrap_or_default()
}

#[test]
fn an_agent_speaks_for_its_region_only_and_cannot_replay_or_lie() {
    let (site, cfg) = agent_site();
    let _s = site.start(&cfg);
    let eu_token = "eu-agent-token-0123456789";
    let post = |token: &str, body: &str| {
        http(
            site.admin,
            "POST",
            "/api/v1/probe-reports",
            Some(token),
            Some(body),
        )
    };
    assert_eq!(first_a(site.dns), "198.51.100.10");
    // The eu token reporting for ap: refused, and nothing counted.
    let (code, body) = post(
        eu_token,
        &report_body("ap", vec![result("http://127.0.0.1:9/eu", false, None)]),
    );
    assert_eq!(code, 403, "{body}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        first_a(site.dns),
        "198.51.100.10",
        "a refused vote changed nothing"
    );
    // A lie about latency: refused whole.
    let (code, body) = post(
        eu_token,
        &report_body(
            "eu",
            vec![result("http://127.0.0.1:9/eu", true, Some(1e23))],
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("rtt_ms"), "{body}");
    // A real report, then its replay.
    let down = report_body("eu", vec![result("http://127.0.0.1:9/eu", false, None)]);
    assert_eq!(post(eu_token, &down).0, 202);
    assert!(
        eventually(Duration::from_secs(2), || first_a(site.dns) == "192.0.2.10"),
        "the eu agent's vote counts"
    );
    let up = report_body("eu", vec![result("http://127.0.0.1:9/eu", true, Some(1.0))]);
    assert_eq!(post(eu_token, &up).0, 202);
    assert!(eventually(Duration::from_secs(2), || first_a(site.dns)
        == "198.51.100.10"));
    let (code, body) = post(eu_token, &down);
    assert_eq!(code, 409, "a replayed report is refused: {body}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        first_a(site.dns),
        "198.51.100.10",
        "the replay changed nothing"
    );
    // A report sent long ago is refused.
    let mut old: serde_json::Value = serde_json::from_str(&down).unwrap();
    old["sent_at"] = serde_json::json!(1_000_000.0);
    old["seq"] = serde_json::json!(u64::MAX);
    let (code, body) = post(eu_token, &old.to_string());
    assert_eq!(code, 400, "{body}");
    // An error string past 256 characters, or more results than targets: refused.
    let mut long = result("http://127.0.0.1:9/eu", false, None);
    long.error = Some("x".repeat(257));
    assert_eq!(post(eu_token, &report_body("eu", vec![long])).0, 400);
    let many: Vec<_> = (0..5)
        .map(|_| result("http://127.0.0.1:9/eu", true, Some(1.0)))
        .collect();
    assert_eq!(post(eu_token, &report_body("eu", many)).0, 400);
    // The shared agent token of the site speaks for every region it names.
    assert_eq!(
        post(
            AGENT_TOKEN,
            &report_body("ap", vec![result("http://127.0.0.1:9/eu", true, Some(2.0))])
        )
        .0,
        202
    );
}

#[test]
fn refused_floods_do_not_fill_the_disk_and_the_server_keeps_answering() {
    let (site, cfg) = agent_site();
    let _s = site.start(&cfg);
    let db = site.path().join("state.db");
    let size = || {
        ["", "-wal", "-shm"]
            .iter()
            .map(|ext| {
                fs::metadata(format!("{}{ext}", db.display()))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum::<u64>()
    };
    let before = size();
    let body = "x".repeat(1 << 20);
    let started = Instant::now();
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..200 {
        // Write the whole megabyte (or as much as the server reads before refusing).
        let mut s = TcpStream::connect(site.admin).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let head = format!(
            "POST /api/v1/overrides HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
        let code = out.split_whitespace().nth(1).unwrap_or("-").to_string();
        *codes.entry(code).or_insert(0) += 1;
        if i % 50 == 0 {
            assert_eq!(
                first_a(site.dns),
                "198.51.100.10",
                "DNS answers during the flood"
            );
            let (code, _) = http(site.admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
            assert!(
                code == 200 || code == 429,
                "the API answers during the flood: {code}"
            );
        }
    }
    let grown = size().saturating_sub(before);
    println!(
        "200 unauthenticated 1 MiB POSTs in {:?}: answers {codes:?}; state file grew {grown} bytes",
        started.elapsed()
    );
    assert!(grown < 1 << 20, "the state file grew {grown} bytes");
    assert!(
        !codes.contains_key("201"),
        "nothing was accepted: {codes:?}"
    );
    // The refusals are in the trail, without their bodies.
    let (code, audit) = http(
        site.admin,
        "GET",
        "/api/v1/audit?limit=1000",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let refused: Vec<_> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/api/v1/overrides")
        .collect();
    assert!(!refused.is_empty(), "the refusals are recorded");
    assert!(
        refused.len() <= 4,
        "aggregated per source and minute: {}",
        refused.len()
    );
    assert!(
        refused.iter().all(|e| e["request"] == ""),
        "no body is stored"
    );
    // Paging: limit is capped.
    let (code, _) = http(
        site.admin,
        "GET",
        "/api/v1/audit?limit=100000",
        Some(READ_TOKEN),
        None,
    );
    assert_eq!(code, 400);
}

#[test]
fn hostile_values_get_400_and_a_long_non_ascii_reason_is_recorded() {
    let (site, cfg) = agent_site();
    let _s = site.start(&cfg);
    let post = |body: &str| {
        http(
            site.admin,
            "POST",
            "/api/v1/overrides",
            Some(ADMIN_TOKEN),
            Some(body),
        )
    };
    let (code, body) = post(
        r#"{"target": "pool:eu-west", "action": "drain", "reason": "x", "expires_in": "500000000000y"}"#,
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = http(
        site.admin,
        "POST",
        "/api/v1/drills",
        Some(ADMIN_TOKEN),
        Some(r#"{"fail": ["pool:eu-west"], "reason": "x", "duration": "99999999h"}"#),
    );
    assert_eq!(code, 400, "{body}");
    let reason = "é".repeat(1500);
    let (code, body) = post(&format!(
        r#"{{"target": "pool:eu-west", "action": "drain", "reason": "{reason}", "expires_in": "1h"}}"#
    ));
    assert_eq!(code, 201, "{body}");
    let (_, audit) = http(site.admin, "GET", "/api/v1/audit", Some(READ_TOKEN), None);
    let v: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let row = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == 201)
        .unwrap_or_else(|| panic!("no audit row: {audit}"));
    assert!(row["request"].as_str().unwrap().contains("ééé"));
    assert!(row["request"].as_str().unwrap().len() <= 4096);
    assert_eq!(first_a(site.dns), "192.0.2.10", "the override applies");
}

#[test]
fn a_config_with_an_absurd_duration_or_number_is_rejected_with_its_line() {
    let (_site, cfg) = agent_site();
    let text = fs::read_to_string(&cfg).unwrap();
    for (bad, needle, why) in [
        (
            text.replace(
                "check = \"http://127.0.0.1:9/us\"",
                "check = { url = \"http://127.0.0.1:9/us\", interval = \"400000000000y\" }",
            ),
            "400000000000y",
            "longer than",
        ),
        (
            text.replace("rate_limit = 10000", "rate_limit = 2147483648"),
            "2147483648",
            "out of range",
        ),
    ] {
        fs::write(&cfg, &bad).unwrap();
        let (status, _, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
        assert_eq!(status.code(), Some(1), "{err}");
        let line = bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let at = format!("{}:{line}:", cfg.display());
        assert!(
            err.lines().any(|l| l.starts_with(&at) && l.contains(why)),
            "want {at} … {why}\n{err}"
        );
    }
}

#[test]
fn a_reload_applies_health_settings_and_tokens_and_names_what_needs_a_restart() {
    let (site, cfg) = agent_site();
    let _s = site.start(&cfg);
    let reload = || {
        let (code, body) = http(
            site.admin,
            "POST",
            "/api/v1/reload",
            Some(ADMIN_TOKEN),
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        (code, v)
    };
    let status = |token: &str| http(site.admin, "GET", "/api/v1/status", Some(token), None).0;
    let vote = |region: &str, ok: bool| {
        let rtt = ok.then_some(1.0);
        http(
            site.admin,
            "POST",
            "/api/v1/probe-reports",
            Some(AGENT_TOKEN),
            Some(&report_body(
                region,
                vec![result("http://127.0.0.1:9/eu", ok, rtt)],
            )),
        )
        .0
    };
    let up = |region: &str| vote(region, true);
    let down = |region: &str| vote(region, false);
    // Quorum 1: one region saying "up" keeps the endpoint up.
    assert_eq!(up("ap"), 202);
    assert_eq!(down("eu"), 202);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        first_a(site.dns),
        "198.51.100.10",
        "quorum 1: ap's up suffices"
    );
    // Quorum 2 and the read token revoked, by a reload.
    let text = fs::read_to_string(&cfg)
        .unwrap()
        .replace("quorum = 1", "quorum = 2");
    fs::write(&cfg, &text).unwrap();
    let tokens = site.path().join("tokens.txt");
    let t = fs::read_to_string(&tokens).unwrap();
    fs::write(
        &tokens,
        t.lines()
            .filter(|l| !l.starts_with("viewer "))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
    .unwrap();
    assert_eq!(status(READ_TOKEN), 200);
    let (code, v) = reload();
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["needs_restart"], serde_json::json!([]), "{v}");
    assert_eq!(
        status(READ_TOKEN),
        401,
        "a revoked token fails right after the reload"
    );
    // Quorum 2: eu's "down" now takes it down.
    assert!(
        eventually(Duration::from_secs(2), || first_a(site.dns) == "192.0.2.10"),
        "quorum 2 applies after the reload"
    );
    // A new DNS address needs new sockets: said, not silently kept.
    let other = unique_addr();
    let text = fs::read_to_string(&cfg).unwrap().replace(
        &format!("listen = [\"{}\"]", site.dns),
        &format!("listen = [\"{other}\"]"),
    );
    fs::write(&cfg, &text).unwrap();
    let (code, v) = reload();
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["needs_restart"],
        serde_json::json!(["[server] listen"]),
        "{v}"
    );
    // A broken tokens file rejects the reload whole; the old tokens keep working.
    fs::write(&tokens, "broken\n").unwrap();
    let (code, v) = reload();
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        http(site.admin, "GET", "/api/v1/status", Some(ADMIN_TOKEN), None).0,
        200
    );
}

#[test]
fn slow_clients_on_the_admin_port_do_not_stop_dns_or_a_fresh_api_client() {
    let (site, cfg) = agent_site();
    let _s = site.start(&cfg);
    // One host opens many connections and sends half a request on each, never finishing.
    let attacker: std::net::IpAddr = "127.0.0.250".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..100 {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::new(attacker, 0).into()).unwrap();
        if sock.connect(&site.admin.into()).is_err() {
            continue;
        }
        let mut s: TcpStream = sock.into();
        let _ = s.write_all(b"POST /api/v1/overrides HTTP/1.1\r\nHost: x\r\nContent-Le");
        held.push(s);
    }
    assert!(
        held.len() >= 32,
        "the attacker got connections: {}",
        held.len()
    );
    let started = Instant::now();
    assert_eq!(first_a(site.dns), "198.51.100.10", "DNS answers");
    let (code, _) = http(site.admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
    assert_eq!(code, 200, "a fresh API client is served");
    assert!(started.elapsed() < Duration::from_secs(2));
    // And the half-sent requests are dropped after the header timeout.
    std::thread::sleep(Duration::from_millis(1500));
    let mut closed = 0;
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut buf = [0u8; 512];
        match std::io::Read::read(s, &mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            _ => closed += 1, // an answer, EOF or a reset: the server let go
        }
    }
    assert_eq!(closed, held.len(), "every slow connection was closed");
}

#[test]
fn agents_report_over_tls_and_verify_the_server() {
    let (site, cfg) = agent_site();
    // A throw-away CA and a server certificate for every 127.0.0.x (made with openssl).
    let pki = etcd::TestPki::new();
    fs::copy(&pki.server.cert, site.path().join("server.pem")).unwrap();
    fs::copy(&pki.server.key, site.path().join("server.key")).unwrap();
    fs::copy(&pki.ca, site.path().join("ca.pem")).unwrap();
    // us-east's check passes (a real backend), eu-west's fails (nothing listens).
    let us = common::backend::Backend::new();
    let text = fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "tokens_file = \"tokens.txt\"",
            "tokens_file = \"tokens.txt\"\ntls_cert = \"server.pem\"\ntls_key = \"server.key\"",
        )
        .replace("http://127.0.0.1:9/us", &us.url());
    fs::write(&cfg, text).unwrap();
    let server = site.start(&cfg);
    // Plain HTTP gets no answer from a TLS port.
    let (code, _) = http(site.admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
    assert_eq!(code, 0, "no plain HTTP on a TLS port");
    let token = site.path().join("agent.token");
    fs::write(&token, "eu-agent-token-0123456789").unwrap();
    let url = format!("https://{}", site.admin);
    let agent = |ca: Option<&str>| {
        let mut args = vec![
            "probe",
            "--config",
            cfg.to_str().unwrap(),
            "--region",
            "eu",
            "--report-to",
            &url,
            "--token-file",
            token.to_str().unwrap(),
        ];
        if let Some(ca) = ca {
            args.extend(["--ca", ca]);
        }
        Ayadns::start_in(site.path(), &args)
    };
    // Without the CA, the agent does not trust the server: nothing is delivered.
    let mut untrusting = agent(None);
    assert!(
        untrusting.wait_for_log("probe report not delivered", Duration::from_secs(5)),
        "{}",
        untrusting.log()
    );
    assert_eq!(first_a(site.dns), "198.51.100.10");
    untrusting.stop();
    // With it, its verdict (the eu check target is down) arrives and counts.
    let mut trusting = agent(Some("ca.pem"));
    assert!(
        eventually(Duration::from_secs(5), || first_a(site.dns) == "192.0.2.10"),
        "reports over TLS: {}\n{}",
        trusting.log(),
        server.log()
    );
    trusting.stop();
}
