//! The dashboard at `GET /` in a real browser: the real server on 127.0.0.x, Debian's headless
//! Chromium driven by playwright-core (`tests/dashboard/check.mjs`, under node).
//!
//! The server gets health votes and RTTs from three agent regions (posted here as an agent
//! would), so one pool is degraded and the latency matrix is filled; a few DNS queries give the
//! traffic split something to show. The browser connects with a token, must show every pool,
//! previews a drill through the form, sees the drill this test starts through the API within
//! 10 s, takes a screenshot (`target/dashboard.png`), stops the drill from the page — with no
//! console error and no failed request on the way.
//!
//! Needs node, `/usr/bin/chromium` and `tests/dashboard/node_modules`: `scripts/test-deps.sh`
//! installs them; without them this test fails (it does not skip).
mod common;

use common::backend::{eventually, http};
use common::site::{ADMIN_TOKEN, AGENT_TOKEN, READ_TOKEN, Site};
use common::*;
use hickory_proto::rr::RecordType;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const REGIONS: [&str; 3] = ["us", "eu", "ap"];
/// (pool, region, first address octets, RTT in ms from us, eu, ap).
const POOLS: [(&str, &str, &str, [f64; 3]); 3] = [
    ("us-east", "us", "192.0.2.", [2.1, 84.0, 172.0]),
    ("eu-west", "eu", "198.51.100.", [81.0, 3.4, 158.0]),
    ("ap-southeast", "ap", "203.0.113.", [176.0, 149.0, 4.8]),
];
/// The endpoint the agents vote down: its pool shows as degraded.
const DOWN: &str = "ap-southeast-b";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where cargo puts build output (the screenshot goes there).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

fn missing(what: &str) -> ! {
    panic!(
        "{what}: run scripts/test-deps.sh (it installs Debian's chromium and node's playwright-core \
         into tests/dashboard/node_modules); CI runs it before the tests"
    )
}

/// node, chromium and playwright-core, or a failure naming scripts/test-deps.sh.
fn browser_tools() -> (PathBuf, PathBuf) {
    let node = find_program("node").unwrap_or_else(|| missing("node is not installed"));
    let chromium = std::env::var_os("AYADNS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        missing(&format!("{} is missing", chromium.display()));
    }
    let pw = repo().join("tests/dashboard/node_modules/playwright-core/package.json");
    if !pw.is_file() {
        missing("playwright-core is not installed in tests/dashboard/node_modules");
    }
    (node, chromium)
}

/// Pools with two endpoints each, checked (by the agents' reports only), and the service.
fn pools_and_service() -> String {
    let mut pools = String::new();
    for (name, region, base, _) in POOLS {
        pools.push_str(&format!(
            "[[pool]]\nname = \"{name}\"\nregion = \"{region}\"\n"
        ));
        for (i, suffix) in ["a", "b"].iter().enumerate() {
            // Never probed from here (no probers): the agents' reports decide.
            pools.push_str(&format!(
                "[[pool.endpoint]]\nname = \"{name}-{suffix}\"\naddresses = [\"{base}{}\"]\nweight = {}\ncheck = \"http://127.0.0.1:9/{name}-{suffix}\"\n",
                10 + i,
                3 - 2 * i
            ));
        }
        // A weight schedule that keeps the weight, so status reports scheduled weights.
        pools.push_str("[[pool.endpoint.weight_schedule]]\nschedule = \"0 0 1 1 *\"\nweight = 1\n");
    }
    // A maintenance window that is never open while the test runs (New Year only).
    pools.push_str(
        "[[maintenance]]\ntarget = \"pool:ap-southeast\"\nschedule = \"0 0 1 1 *\"\nduration = \"1m\"\n",
    );
    pools.push_str(
        "[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\nttl = 30\npools = [\"us-east\", \"eu-west\", \"ap-southeast\"]\nanswers = 2\n",
    );
    pools
}

const HEALTH: &str = "probers = []\nagents = [\"us\", \"eu\", \"ap\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1\nstale_after = \"10m\"";

/// Every region reports every endpoint: up with the pool's RTT from that region, except
/// [`DOWN`], which all regions see failing.
fn report_health(admin: SocketAddr) {
    for (r, region) in REGIONS.iter().enumerate() {
        let mut results = Vec::new();
        for (name, _, _, rtt) in POOLS {
            for suffix in ["a", "b"] {
                let ep = format!("{name}-{suffix}");
                let ok = ep != DOWN;
                results.push(ayadns::api::ProbeResult {
                    target: format!("http://127.0.0.1:9/{ep}"),
                    ok,
                    rtt_ms: ok.then_some(rtt[r]),
                    error: (!ok).then(|| "HTTP 503".to_string()),
                });
            }
        }
        let body = common::site::report_body(region, results);
        let (code, text) = http(
            admin,
            "POST",
            "/api/v1/probe-reports",
            Some(AGENT_TOKEN),
            Some(&body),
        );
        assert_eq!(code, 202, "probe report from {region}: {text}");
    }
}

/// Move the server's test clock 10 s forward: the history takes a sample.
fn ten_seconds_later(admin: SocketAddr) {
    let (code, text) = http(
        admin,
        "POST",
        "/api/v1/test/clock",
        Some(ADMIN_TOKEN),
        Some(r#"{"advance":"10s"}"#),
    );
    assert_eq!(code, 200, "{text}");
}

fn status(admin: SocketAddr) -> serde_json::Value {
    let (code, body) = http(admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
    assert_eq!(code, 200, "GET /api/v1/status: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("status is not JSON ({e}): {body}"))
}

/// The browser script, its stdout as lines on a channel, its stderr kept for failures.
struct Check {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Check {
    fn start(node: &Path, chromium: &Path, url: &str, screenshot: &Path) -> Check {
        let pools: Vec<&str> = POOLS.iter().map(|p| p.0).collect();
        let mut child = Command::new(node)
            .arg(repo().join("tests/dashboard/check.mjs"))
            .arg(url)
            .arg(ADMIN_TOKEN)
            .arg(screenshot)
            .arg(pools.join(","))
            .arg("pool:eu-west")
            .env("AYADNS_CHROMIUM", chromium)
            .current_dir(repo().join("tests/dashboard"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", node.display()));
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Check {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// The next line, which must start with `prefix`; fails with everything the script said.
    fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    eprintln!("check.mjs: {line}");
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(_) => self.fail(&format!("no `{prefix}` line from check.mjs")),
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to check.mjs");
        stdin.flush().unwrap();
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        let err = stderr.join().unwrap_or_default();
        panic!(
            "{why}\n----- check.mjs stdout -----\n{}\n----- check.mjs stderr -----\n{err}",
            self.seen.join("\n")
        );
    }

    fn finish(mut self) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                if !st.success() {
                    self.fail(&format!("check.mjs exited with {st}"));
                }
                return;
            }
            if Instant::now() > end {
                self.fail("check.mjs did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn the_dashboard_shows_pools_health_and_a_running_drill_in_a_real_browser() {
    let started = Instant::now();
    let (node, chromium) = browser_tools();
    let site = Site::new();
    let (dns, admin) = (site.dns, site.admin);
    let cfg = site.config(HEALTH, &pools_and_service());
    // A test clock: the history samples every 10 s of the server's clock, moved below.
    let server = site.start_with(&cfg, &["--test-clock", "0s"]);

    // The page and its files need no token; the API still does.
    for (path, needle) in [
        ("/", "<script src=\"/dashboard.js\""),
        ("/dashboard.js", "/api/v1/status"),
        ("/dashboard.css", "--bg"),
    ] {
        let (code, body) = http(admin, "GET", path, None, None);
        assert_eq!(code, 200, "GET {path} without a token");
        assert!(
            body.contains(needle),
            "GET {path}: no `{needle}` in\n{body}"
        );
    }
    assert_eq!(http(admin, "GET", "/api/v1/status", None, None).0, 401);

    // Health votes and RTTs from the three agent regions, and some answers to count.
    report_health(admin);
    let degraded = eventually(Duration::from_secs(5), || {
        status(admin)["pools"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "ap-southeast" && p["endpoints_up"] == 1)
    });
    if !degraded {
        server.fail(&format!(
            "{DOWN} never went down: {:#}",
            status(admin)["pools"]
        ));
    }
    // Two rounds of real queries, each followed by 10 s on the server's clock: two history
    // samples with traffic (the second round twice the first).
    for round in 1..=2 {
        for (i, client) in ["81.2.69.0", "175.16.199.0", "216.160.83.56"]
            .iter()
            .enumerate()
        {
            for _ in 0..(12 - 4 * i) * round {
                let r = udp(
                    dns,
                    &Q::new("www.gslb.example.com.", RecordType::A)
                        .ecs(client.parse().unwrap(), 24)
                        .message(),
                );
                assert!(!r.answers.is_empty(), "no answer for {client}");
            }
        }
        ten_seconds_later(admin);
    }
    // The failover is an event once the state writer has stored it (every 200 ms).
    let history = || {
        let (code, text) = http(admin, "GET", "/api/v1/history", Some(READ_TOKEN), None);
        assert_eq!(code, 200, "{text}");
        let hist: ayadns::api::History = serde_json::from_str(&text).unwrap();
        (hist, text)
    };
    eventually(Duration::from_secs(2), || {
        history().0.events.iter().any(|e| e.kind == "down")
    });
    let (hist, text) = history();
    assert_eq!(hist.samples.len(), 2, "{text}");
    // 24 queries over 10 s (and the few ms the test took), then 48.
    assert!((hist.samples[0].qps - 2.4).abs() < 0.1, "{text}");
    assert!((hist.samples[1].qps - 4.8).abs() < 0.2, "{text}");
    assert!(hist.samples[1].pool_answers["eu-west"] > 0.0, "{text}");
    assert_eq!(hist.samples[1].pool_health["ap-southeast"], 0.5, "{text}");
    assert!(
        hist.events
            .iter()
            .any(|e| e.kind == "down" && e.text.contains(DOWN)),
        "the failover is an event: {text}"
    );

    // The browser: connect, pools, preview.
    let screenshot = target_dir().join("dashboard.png");
    let _ = fs::remove_file(&screenshot);
    let url = format!("http://{admin}/");
    let mut check = Check::start(&node, &chromium, &url, &screenshot);
    let ready = check.expect("ready", Duration::from_secs(45));
    for (pool, _, _, _) in POOLS {
        assert!(
            ready.contains(&format!("{pool}=")),
            "{pool} not shown: {ready}"
        );
    }
    assert!(ready.contains("ap-southeast=degraded"), "{ready}");
    assert!(ready.contains("eu-west=healthy"), "{ready}");
    assert!(
        ready.contains("eu>eu-west=3.4"),
        "latency not shown: {ready}"
    );
    // The split per client region: London's region on eu-west, Changchun's on ap-southeast.
    assert!(
        ready.contains("eu:eu-west"),
        "region split not shown: {ready}"
    );
    assert!(
        ready.contains("ap:ap-southeast"),
        "region split not shown: {ready}"
    );
    // The charts: two samples each, the failover as a marker.
    let charts = check.expect("charts", Duration::from_secs(15));
    assert!(
        charts.contains("qps=queries:2:4.8") || charts.contains("qps=queries:2:4.7"),
        "{charts}"
    );
    assert!(charts.contains("eu-west:2:"), "{charts}");
    assert!(
        charts.contains("health=") && charts.contains("ap-southeast:2:0.5"),
        "{charts}"
    );
    assert!(
        charts.contains("events=") && charts.contains("down"),
        "{charts}"
    );
    let explained = check.expect("explain", Duration::from_secs(15));
    assert!(explained.contains("region eu (continent EU"), "{explained}");
    assert!(explained.contains("198.51.100.10"), "{explained}");
    let audit = check.expect("audit", Duration::from_secs(15));
    // The refused call without a token, above, is in the audit trail.
    assert!(audit.contains("/api/v1/status"), "{audit}");
    let preview = check.expect("preview", Duration::from_secs(15));
    assert!(
        preview.contains("eu:eu-west->") && !preview.contains("eu:eu-west->eu-west"),
        "the preview should move eu's clients off eu-west: {preview}"
    );
    check.expect("waiting-for-drill", Duration::from_secs(5));

    // A drill started through the API appears on the page.
    let body = r#"{"fail":["pool:eu-west"],"reason":"game day: lose eu-west","duration":"15m"}"#;
    let (code, text) = http(
        admin,
        "POST",
        "/api/v1/drills",
        Some(ADMIN_TOKEN),
        Some(body),
    );
    if code == 404 {
        panic!(
            "POST /api/v1/drills answered 404: the drills API is not in this build yet ({text})"
        );
    }
    assert!(
        code == 200 || code == 201,
        "POST /api/v1/drills: {code} {text}"
    );
    let drill: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = drill["id"].as_str().unwrap_or_default().to_string();
    check.send(&format!("drill {id}"));
    let shown = check.expect("drill-shown", Duration::from_secs(15));
    assert!(shown.contains("pool:eu-west"), "{shown}");
    check.expect("drill-event", Duration::from_secs(15));
    let shot = check.expect("screenshot", Duration::from_secs(15));
    // Printed past the test harness's capture, so it shows in a passing run too.
    let _ = writeln!(
        std::io::stderr(),
        "dashboard screenshot: {shot} ({:.1} s into the test)",
        started.elapsed().as_secs_f64()
    );

    // Stopped from the page: gone from the API too.
    check.expect("drill-stopped", Duration::from_secs(15));
    check.expect("ok", Duration::from_secs(10));
    check.finish();
    assert!(
        status(admin)["drill"].is_null(),
        "the drill is still active after Stop: {}",
        status(admin)["drill"]
    );
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}

/// Every key of a JSON value, at every depth (map keys under `traffic`, `latency_ms` and
/// `regions` are names, not fields, and are left out).
fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                if !matches!(
                    k.as_str(),
                    "traffic" | "latency_ms" | "regions" | "queries" | "region_traffic"
                ) {
                    keys(v, out);
                } else if let serde_json::Value::Object(inner) = v {
                    for v in inner.values() {
                        keys(v, out);
                    }
                } else {
                    keys(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// The page reads the status by field name: every field it names must be one the server
/// sends (the body is `ayadns::api::Status`, typed once), so a renamed field fails here
/// rather than silently blanking the dashboard.
#[test]
fn the_dashboard_reads_only_fields_the_api_sends() {
    let site = Site::new();
    let admin = site.admin;
    let cfg = site.config(HEALTH, &pools_and_service());
    let _server = site.start_with(&cfg, &["--test-clock", "0s"]);
    report_health(admin);
    let mut sent = std::collections::BTreeSet::new();
    // A running drill and an override, so their fields are present too.
    let (code, body) = http(
        admin,
        "POST",
        "/api/v1/overrides",
        Some(ADMIN_TOKEN),
        Some(r#"{"target":"pool:eu-west","action":"drain","reason":"contract","expires_in":"1h"}"#),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = http(
        admin,
        "POST",
        "/api/v1/drills",
        Some(ADMIN_TOKEN),
        Some(r#"{"fail":["pool:us-east"],"reason":"contract","duration":"1h"}"#),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = http(
        admin,
        "POST",
        "/api/v1/drills/preview",
        Some(ADMIN_TOKEN),
        Some(r#"{"fail":["pool:ap-southeast"]}"#),
    );
    assert_eq!(code, 200, "{body}");
    keys(&serde_json::from_str(&body).unwrap(), &mut sent);
    let (_, body) = http(admin, "GET", "/api/v1/audit", Some(READ_TOKEN), None);
    keys(&serde_json::from_str(&body).unwrap(), &mut sent);
    // The history (charts), with a sample: 10 s on the server's clock.
    ten_seconds_later(admin);
    let (code, body) = http(admin, "GET", "/api/v1/history", Some(READ_TOKEN), None);
    assert_eq!(code, 200, "{body}");
    let hist: ayadns::api::History = serde_json::from_str(&body).expect("history is api::History");
    assert!(!hist.samples.is_empty(), "a sample after 10 s: {body}");
    keys(&serde_json::to_value(&hist).unwrap(), &mut sent);
    // The health transitions of the endpoint the reports take down.
    eventually(Duration::from_secs(5), || {
        status(admin)["transitions"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    });
    let st = status(admin);
    // Typed once: the body parses as the library's type.
    serde_json::from_value::<ayadns::api::Status>(st.clone()).expect("status is api::Status");
    keys(&st, &mut sent);
    sent.insert("*".into());

    let js = std::fs::read_to_string(repo().join("src/admin/dashboard/app.js")).unwrap();
    // Fields the page names: `status.X`, and every snake_case property (the page's own
    // identifiers and the browser's APIs are camelCase).
    let mut named = std::collections::BTreeSet::new();
    let b = js.as_bytes();
    for (i, _) in js.match_indices('.') {
        let word: String = js[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() || !word.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let before: String = js[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let snake = word.contains('_')
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
        if (before == "status" && b.get(i + 1) != Some(&b'(')) || snake {
            named.insert(word);
        }
    }
    assert!(
        named.contains("endpoints_up"),
        "the scan finds the page's fields: {named:?}"
    );
    let unknown: Vec<&String> = named.iter().filter(|w| !sent.contains(*w)).collect();
    assert!(
        unknown.is_empty(),
        "app.js reads fields the API does not send: {unknown:?}\nsent: {sent:?}"
    );
}
