//! Black-box tests of what happens by schedule: overrides and drills that start later,
//! recurring maintenance windows (`[[maintenance]]`), weights that follow the clock
//! (`[[pool.endpoint.weight_schedule]]`) — the real binary, its admin API and DNS over UDP,
//! with the test clock moved instead of waiting; and, with the `cluster` feature, a scheduled
//! override made on one node starting on every node, once.
mod common;

use common::backend::http;
use common::site::{ADMIN_TOKEN, READ_TOKEN, Site};
use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Two pools: eu-west first, us-east when eu-west is out.
const POOLS: &str = "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n[[pool.endpoint]]\nname = \"us-east-a\"\naddresses = [\"192.0.2.10\"]\n\
[[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\n\
[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"eu-west\", \"us-east\"]\nchain = [\"health\", \"failover\"]\n";

const EU: &str = "198.51.100.10";
const US: &str = "192.0.2.10";

struct Server {
    site: Site,
    cfg: PathBuf,
    proc: Option<Ayadns>,
}

impl Server {
    fn new(rest: &str) -> Server {
        let site = Site::new();
        let cfg = site.config("probers = []", rest);
        Server {
            site,
            cfg,
            proc: None,
        }
    }

    /// Start with the test clock `ahead` of the system clock.
    fn start(&mut self, ahead: &str) {
        self.proc = Some(self.site.start_with(&self.cfg, &["--test-clock", ahead]));
    }

    fn answer(&self) -> String {
        let r = udp(
            self.site.dns,
            &Q::new("www.gslb.example.com.", RecordType::A).message(),
        );
        r.answers
            .first()
            .map(|a| a.data.to_string())
            .unwrap_or_default()
    }

    fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (code, text) = http(self.site.admin, method, path, Some(ADMIN_TOKEN), body);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Move the test clock; what falls due is done before this returns. Returns the new time.
    fn advance(&self, by: &str) -> SystemTime {
        let (code, v) = self.api(
            "POST",
            "/api/v1/test/clock",
            Some(&format!("{{\"advance\": \"{by}\"}}")),
        );
        assert_eq!(code, 200, "advance the test clock: {v}");
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v["now"].as_f64().unwrap())
    }

    fn now(&self) -> SystemTime {
        self.advance("0s")
    }

    fn audit(&self) -> Vec<Value> {
        let (code, v) = self.api("GET", "/api/v1/audit?limit=1000", None);
        assert_eq!(code, 200, "{v}");
        v["audit"].as_array().unwrap().clone()
    }

    fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// How far to move a clock now at `t` to reach `offset` seconds into the next minute.
fn to_next_minute(t: SystemTime, offset: u64) -> String {
    format!("{}s", 60 - secs(t) % 60 + offset)
}

#[test]
fn an_override_scheduled_3s_ahead_changes_answers_only_from_its_start_and_reverts_after_its_duration()
 {
    let mut s = Server::new(POOLS);
    s.start("0s");
    let now = s.now();
    // Bad starts are refused with 400 and change nothing.
    for bad in [
        rfc3339(now - Duration::from_secs(5)),
        rfc3339(now + Duration::from_secs(400 * 24 * 3600)),
        "tomorrow".to_string(),
    ] {
        let body = format!(
            r#"{{"target": "pool:eu-west", "action": "drain", "reason": "r", "starts_at": "{bad}"}}"#
        );
        let (code, v) = s.api("POST", "/api/v1/overrides", Some(&body));
        assert_eq!(code, 400, "starts_at {bad}: {v}");
    }
    let start = now + Duration::from_secs(3);
    let body = format!(
        r#"{{"target": "pool:eu-west", "action": "drain", "reason": "planned", "expires_in": "10s", "starts_at": "{}"}}"#,
        rfc3339(start)
    );
    let (code, o) = s.api("POST", "/api/v1/overrides", Some(&body));
    assert_eq!(code, 201, "{o}");
    assert_eq!(o["scheduled"], true, "{o}");
    let id = o["id"].as_str().unwrap().to_string();
    // A second one, cancelled before its start, never applies.
    let body2 = format!(
        r#"{{"target": "pool:us-east", "action": "down", "reason": "cancelled", "starts_at": "{}"}}"#,
        rfc3339(now + Duration::from_secs(2))
    );
    let (code, o2) = s.api("POST", "/api/v1/overrides", Some(&body2));
    assert_eq!(code, 201, "{o2}");
    let id2 = o2["id"].as_str().unwrap().to_string();
    let (code, v) = s.api("DELETE", &format!("/api/v1/overrides/{id2}"), None);
    assert_eq!(code, 200, "cancel before its start: {v}");
    // Before its start: listed with its start, shown as scheduled, not in force.
    assert_eq!(s.answer(), EU, "not before its start");
    let (_, list) = s.api("GET", "/api/v1/overrides", None);
    let listed = &list["overrides"][0];
    assert_eq!(listed["id"], id.as_str(), "{list}");
    assert_eq!(listed["starts_at"].as_f64().unwrap() as u64, secs(start));
    let (_, st) = http(
        s.site.admin,
        "GET",
        "/api/v1/status",
        Some(READ_TOKEN),
        None,
    );
    let st: Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["scheduled"]["overrides"][0]["id"], id.as_str(), "{st}");
    assert_eq!(st["overrides"].as_array().unwrap().len(), 0, "not in force");
    // From its start on, the answers change …
    s.advance("4s");
    assert_eq!(s.answer(), US, "drained from its start: {}", s.log());
    s.advance("5s");
    assert_eq!(s.answer(), US, "still in force");
    // … and revert 10 s after its start.
    s.advance("5s");
    assert_eq!(s.answer(), EU, "expired 10 s after its start");
    // Audited: made by the operator, started once by the system, expired; the cancelled one
    // never started.
    let audit = s.audit();
    let path = format!("/api/v1/overrides/{id}");
    let count = |method: &str, p: &str| {
        audit
            .iter()
            .filter(|e| e["method"] == method && e["path"] == p)
            .count()
    };
    assert_eq!(count("start", &path), 1, "{audit:?}");
    assert_eq!(count("expire", &path), 1, "{audit:?}");
    assert_eq!(
        count("start", &format!("/api/v1/overrides/{id2}")),
        0,
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|e| e["method"] == "start" && e["token"] == "system"),
        "{audit:?}"
    );
}

#[test]
fn a_scheduled_drill_starts_at_its_instant_once_and_a_conflicting_one_is_skipped() {
    let mut s = Server::new(POOLS);
    s.start("0s");
    let now = s.now();
    let at = rfc3339(now + Duration::from_secs(3));
    let drill = |fail: &str| {
        format!(
            r#"{{"fail": ["{fail}"], "reason": "planned drill", "duration": "20s", "starts_at": "{at}"}}"#
        )
    };
    let (code, d) = s.api("POST", "/api/v1/drills", Some(&drill("pool:eu-west")));
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["scheduled"], true);
    let id = d["id"].as_str().unwrap().to_string();
    // A second drill at the same instant: accepted now, refused at its start.
    let (code, d2) = s.api("POST", "/api/v1/drills", Some(&drill("pool:us-east")));
    assert_eq!(code, 201, "{d2}");
    let id2 = d2["id"].as_str().unwrap().to_string();
    // A third, cancelled before its start.
    let (code, d3) = s.api("POST", "/api/v1/drills", Some(&drill("pool:us-east")));
    assert_eq!(code, 201, "{d3}");
    let id3 = d3["id"].as_str().unwrap().to_string();
    let (code, v) = s.api("DELETE", &format!("/api/v1/drills/{id3}"), None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(s.answer(), EU, "not before its start");
    s.advance("4s");
    assert_eq!(
        s.answer(),
        US,
        "the drill runs from its start: {:?} {:?}",
        s.audit(),
        s.api("GET", &format!("/api/v1/drills/{id}"), None)
    );
    let (_, d) = s.api("GET", &format!("/api/v1/drills/{id}"), None);
    assert_eq!(d["scheduled"], false, "{d}");
    assert!(d["ended_at"].is_null(), "{d}");
    let (_, d2) = s.api("GET", &format!("/api/v1/drills/{id2}"), None);
    assert!(
        !d2["ended_at"].is_null(),
        "the conflicting drill is over: {d2}"
    );
    // It reverts after its duration.
    s.advance("20s");
    assert_eq!(s.answer(), EU, "reverted");
    let audit = s.audit();
    let count = |method: &str, id: &str| {
        audit
            .iter()
            .filter(|e| e["method"] == method && e["path"] == format!("/api/v1/drills/{id}"))
            .count()
    };
    assert_eq!(count("start", &id), 1, "{audit:?}");
    assert_eq!(count("skip", &id2), 1, "{audit:?}");
    assert_eq!(count("start", &id2), 0, "{audit:?}");
    assert_eq!(count("start", &id3) + count("skip", &id3), 0, "{audit:?}");
}

#[test]
fn a_recurring_window_opens_at_each_instant_closes_after_its_duration_and_follows_reloads() {
    let window = "[[maintenance]]\nname = \"eu-patch\"\ntarget = \"pool:eu-west\"\nschedule = \"* * * * *\"\nduration = \"20s\"\nreason = \"patching\"\n";
    let mut s = Server::new(&format!("{POOLS}{window}"));
    // Started 5 s into a window: it is open from the first answer.
    let wall = SystemTime::now();
    s.start(&to_next_minute(wall, 5));
    assert_eq!(
        s.answer(),
        US,
        "started inside a window: {} {:?} {:?} {:?}",
        s.log(),
        s.audit(),
        s.api("GET", "/api/v1/overrides", None),
        s.now()
    );
    // Its end, then the next minute's start.
    let now = s.now();
    s.advance(&format!("{}s", 21 - secs(now) % 60));
    assert_eq!(s.answer(), EU, "closed after 20 s");
    let now = s.now();
    s.advance(&to_next_minute(now, 1));
    assert_eq!(s.answer(), US, "opened again at the next minute");
    // Listed and in status, with its next start; it cannot be removed through the API.
    let (_, st) = s.api("GET", "/api/v1/status", None);
    let m = &st["scheduled"]["maintenance"][0];
    assert_eq!(m["name"], "eu-patch", "{st}");
    assert_eq!(m["next_start"].as_f64().unwrap() as u64 % 60, 0, "{st}");
    assert!(!m["open_until"].is_null(), "{st}");
    let (_, list) = s.api("GET", "/api/v1/overrides", None);
    let o = &list["overrides"][0];
    assert_eq!(o["maintenance"], "eu-patch", "{list}");
    let (code, v) = s.api(
        "DELETE",
        &format!("/api/v1/overrides/{}", o["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(code, 409, "{v}");
    // A reload without the window closes it at once.
    fs::write(
        &s.cfg,
        fs::read_to_string(&s.cfg).unwrap().replace(window, ""),
    )
    .unwrap();
    let (code, v) = s.api("POST", "/api/v1/reload", None);
    assert_eq!(code, 200, "{v}");
    s.advance("0s");
    assert_eq!(s.answer(), EU, "closed by the reload");
    let audit = s.audit();
    let count = |m: &str| audit.iter().filter(|e| e["method"] == m).count();
    assert_eq!(count("maintenance start"), 2, "{audit:?}");
    assert_eq!(count("maintenance end"), 2, "{audit:?}");
    assert!(
        audit.iter().any(|e| e["method"] == "maintenance end"
            && e["result"]
                .as_str()
                .unwrap()
                .contains("changed in the config")),
        "{audit:?}"
    );
}

#[test]
fn a_weight_schedule_flips_the_share_of_answers_at_its_instant() {
    // a: weight 9 from every even minute, 1 from every odd one; b: always 1.
    let pools = "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n\
[[pool.endpoint]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\nweight = 1\n\
[[pool.endpoint.weight_schedule]]\nschedule = \"*/2 * * * *\"\nweight = 9\n\
[[pool.endpoint.weight_schedule]]\nschedule = \"1-59/2 * * * *\"\nweight = 1\n\
[[pool.endpoint]]\nname = \"b\"\naddresses = [\"192.0.2.2\"]\n\
[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"us-east\"]\nchain = [\"weighted\", \"first_n\"]\n";
    let mut s = Server::new(pools);
    s.start("0s");
    let share = |s: &Server| {
        let n = 400;
        let a = (0..n).filter(|_| s.answer() == "192.0.2.1").count();
        a as f64 / n as f64
    };
    // To the next even minute.
    let now = s.now();
    let to_even = 60 - secs(now) % 60
        + if (secs(now) / 60).is_multiple_of(2) {
            60
        } else {
            0
        }
        + 1;
    s.advance(&format!("{to_even}s"));
    let even = share(&s);
    // 400 draws: 3 standard deviations of a 0.9 share is 0.045, of 0.5 is 0.075.
    assert!((0.84..=0.96).contains(&even), "weight 9:1 share {even}");
    let (_, st) = s.api("GET", "/api/v1/status", None);
    let w = &st["scheduled"]["weights"][0];
    assert_eq!(
        (w["endpoint"].as_str(), w["weight"].as_u64()),
        (Some("a"), Some(9)),
        "{st}"
    );
    assert_eq!(w["next_weight"], 1, "{st}");
    let ep = st["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "a")
        .unwrap();
    assert_eq!(ep["weight"], 9, "status shows the weight in force");
    let (_, ex) = s.api(
        "GET",
        "/api/v1/explain?name=www.gslb.example.com.&type=A&client=192.0.2.99",
        None,
    );
    assert!(
        ex["trace"]
            .as_str()
            .unwrap()
            .contains("a=9 (scheduled; configured 1)"),
        "{ex}"
    );
    // The next (odd) minute: back to 1:1.
    s.advance("60s");
    let odd = share(&s);
    assert!((0.42..=0.58).contains(&odd), "weight 1:1 share {odd}");
}

#[test]
fn a_preview_at_a_future_time_counts_the_overrides_scheduled_then() {
    let mut s = Server::new(POOLS);
    s.start("0s");
    let now = s.now();
    let start = now + Duration::from_secs(3600);
    let body = format!(
        r#"{{"target": "pool:eu-west", "action": "drain", "reason": "planned", "expires_in": "1h", "starts_at": "{}"}}"#,
        rfc3339(start)
    );
    assert_eq!(s.api("POST", "/api/v1/overrides", Some(&body)).0, 201);
    let eu_now = |p: &Value, when: &str| {
        p["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == "eu")
            .unwrap()[when]
            .clone()
    };
    // Now: eu-west, and us-east with us-east failed.
    let (code, p) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(r#"{"fail": ["pool:us-east"]}"#),
    );
    assert_eq!(code, 200, "{p}");
    assert_eq!(eu_now(&p, "now"), "eu-west", "{p}");
    // In the scheduled hour: us-east (eu-west drained).
    let at = rfc3339(start + Duration::from_secs(60));
    let (code, p) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(&format!(r#"{{"fail": [], "at": "{at}"}}"#)),
    );
    assert_eq!(code, 200, "{p}");
    assert_eq!(eu_now(&p, "now"), "us-east", "{p}");
    // After it expired: eu-west again.
    let at = rfc3339(start + Duration::from_secs(7200));
    let (_, p) = s.api(
        "POST",
        "/api/v1/drills/preview",
        Some(&format!(r#"{{"fail": [], "at": "{at}"}}"#)),
    );
    assert_eq!(eu_now(&p, "now"), "eu-west", "{p}");
}

#[test]
fn check_names_the_line_of_every_bad_schedule() {
    let site = Site::new();
    let rest = format!(
        "{POOLS}\
[[maintenance]]\ntarget = \"pool:nowhere\"\nschedule = \"0 2 * * SUN\"\nduration = \"2h\"\n\
[[maintenance]]\ntarget = \"pool:eu-west\"\nschedule = \"0 61 * * *\"\nduration = \"2h\"\n\
[[maintenance]]\ntarget = \"pool:eu-west\"\nschedule = \"0 * * * *\"\nduration = \"2h\"\n"
    );
    let cfg = site.config("probers = []", &rest);
    let text = fs::read_to_string(&cfg).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (status, out, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert!(!status.success(), "{all}");
    let name = cfg.display().to_string();
    for (needle, why) in [
        ("pool:nowhere", "unknown pool `nowhere`"),
        ("0 61 * * *", "not a cron schedule"),
        ("duration = \"2h\"", "windows would overlap"),
    ] {
        let at = if needle.starts_with("duration") {
            // the third window's duration: the last such line
            text.lines()
                .collect::<Vec<_>>()
                .iter()
                .rposition(|l| l.contains(needle))
                .unwrap()
                + 1
        } else {
            line(needle)
        };
        assert!(
            all.contains(&format!("{name}:{at}")) && all.contains(why),
            "expected {why} at line {at}: {all}"
        );
    }
    // A weight schedule out of bounds.
    let pools = POOLS.replace(
        "addresses = [\"192.0.2.10\"]\n",
        "addresses = [\"192.0.2.10\"]\n[[pool.endpoint.weight_schedule]]\nschedule = \"0 7 * * *\"\nweight = 5000\n",
    );
    let cfg = site.config("probers = []", &pools);
    let text = fs::read_to_string(&cfg).unwrap();
    let at = text
        .lines()
        .position(|l| l.contains("weight = 5000"))
        .unwrap()
        + 1;
    let (status, out, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert!(!status.success(), "{all}");
    assert!(
        all.contains(&format!(":{at}")) && all.contains("between 0 and 1000"),
        "{all}"
    );
}

#[cfg(feature = "cluster")]
#[path = "common/etcd.rs"]
mod etcd;
#[cfg(feature = "cluster")]
#[path = "common/nodes.rs"]
mod nodes;

#[cfg(feature = "cluster")]
#[test]
fn a_scheduled_override_made_on_one_node_starts_on_every_node_once() {
    use common::backend::eventually;
    let etcd = etcd::EtcdCluster::start(1);
    let mut nodes: Vec<nodes::Node> = ["ns1", "ns2", "ns3"]
        .iter()
        .map(|n| nodes::Node::new(n, &etcd, "/ayadns/sched/"))
        .collect();
    for n in &mut nodes {
        n.start();
    }
    assert!(nodes::all(&nodes, EU), "eu-west first everywhere");
    let (code, v) = nodes[0].api("POST", "/api/v1/test/clock", Some(r#"{"advance": "0s"}"#));
    assert_eq!(code, 200, "{v}");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v["now"].as_f64().unwrap());
    let body = format!(
        r#"{{"target": "pool:eu-west", "action": "drain", "reason": "planned", "expires_in": "1h", "starts_at": "{}"}}"#,
        rfc3339(now + Duration::from_secs(3))
    );
    let (code, o) = nodes[0].api("POST", "/api/v1/overrides", Some(&body));
    assert_eq!(code, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_string();
    // Every node lists it as scheduled, and none applies it yet.
    assert!(eventually(Duration::from_secs(2), || nodes.iter().all(
        |n| { n.api("GET", "/api/v1/overrides", None).1["overrides"][0]["scheduled"] == true }
    )));
    assert!(nodes::all(&nodes, EU), "not before its start");
    // Every node's clock passes its start: all apply it; one of them records the start.
    for n in &nodes {
        n.advance("4s");
    }
    assert!(
        eventually(Duration::from_secs(3), || nodes::all(&nodes, US)),
        "started everywhere: {}",
        nodes[2].log()
    );
    // Give the other nodes' ticks time to try (and lose) as well.
    std::thread::sleep(Duration::from_millis(2500));
    let (_, audit) = nodes[1].api("GET", "/api/v1/audit?limit=1000", None);
    let starts: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "start" && e["path"] == format!("/api/v1/overrides/{id}"))
        .collect();
    assert_eq!(starts.len(), 1, "started once for the cluster: {audit}");
    assert!(nodes.iter().all(|n| {
        n.api("GET", "/api/v1/overrides", None).1["overrides"][0]["scheduled"] == false
    }));
}
