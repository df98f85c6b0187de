//! Black-box tests of `[[notify]]` webhooks: the real binary, a real HTTP receiver in the test
//! on 127.0.0.x that records every POST, a real backend killed on command, drills through the
//! admin API and the test clock, the signature checked here with the same HMAC-SHA256.
mod common;
#[path = "common/receiver.rs"]
mod receiver;

use ayadns::api::notify::EventKind;
use common::backend::{Backend, Mode, eventually, http};
use common::site::{ADMIN_TOKEN, READ_TOKEN, Site};
use common::*;
use hickory_proto::rr::RecordType;
use receiver::{Receiver, SECRET};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FAST: &str =
    "probers = [\"us\"]\ninterval = \"200ms\"\ntimeout = \"150ms\"\nrise = 2\nfall = 3";

/// A site with pool us-east (one endpoint, checked at `check`) and eu-west (not checked), the
/// service www, and `notify` appended.
fn config(site: &Site, check: &str, notify: &str) -> PathBuf {
    std::fs::write(site.path().join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let rest = format!(
        "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n\
         [[pool.endpoint]]\nname = \"us-east-1\"\naddresses = [\"192.0.2.10\"]\ncheck = \"{check}\"\n\
         [[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n\
         [[pool.endpoint]]\nname = \"eu-west-1\"\naddresses = [\"198.51.100.10\"]\n\
         [[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\nttl = 30\npools = [\"us-east\", \"eu-west\"]\n\
         {notify}\n"
    );
    site.config(FAST, &rest)
}

fn api(site: &Site, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let token = if method == "GET" {
        READ_TOKEN
    } else {
        ADMIN_TOKEN
    };
    let (code, text) = http(site.admin, method, path, Some(token), body);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The `notify` section of the status.
fn webhooks(site: &Site) -> Vec<Value> {
    let (code, st) = api(site, "GET", "/api/v1/status", None);
    assert_eq!(code, 200, "{st}");
    st["notify"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_webhook_gets_signed_posts_for_a_transition_and_a_drills_start_and_end() {
    let site = Site::new();
    let backend = Backend::new();
    let receiver = Receiver::start(unique_addr());
    let cfg = config(
        &site,
        &backend.url(),
        &format!(
            "[[notify]]\nname = \"oncall\"\nurl = \"{}\"\nevents = [\"transitions\", \"drills\"]\nsecret_file = \"hook.secret\"\n",
            receiver.url()
        ),
    );
    let _server = site.start_with(&cfg, &["--test-clock", "0s"]);

    // A transition: the backend dies, the endpoint goes down after `fall` failures.
    backend.set(Mode::Refuse);
    let down = receiver
        .wait_for(EventKind::EndpointDown, Duration::from_secs(15))
        .expect("endpoint.down delivered");
    let ev = down.event();
    assert_eq!(ev.target.as_deref(), Some("endpoint:us-east-1"));
    assert_eq!(ev.topic.word(), "transitions");
    assert!(down.signed_with(SECRET), "signature: {down:?}");
    assert!(!down.signed_with("another secret"), "a wrong key fails");
    assert_eq!(down.header("X-Ayadns-Event"), "endpoint.down");
    assert_eq!(down.header("X-Ayadns-Delivery"), ev.id);
    assert_eq!(down.header("Content-Type"), "application/json");
    assert_eq!(down.path, "/hooks/ayadns?source=test");
    assert_eq!(ev.node, None, "a node alone");
    // The pool lost its only endpoint: a pool transition too.
    let pool = receiver
        .wait_for(EventKind::PoolDown, Duration::from_secs(5))
        .expect("pool.down delivered");
    assert_eq!(pool.event().target.as_deref(), Some("pool:us-east"));

    // A drill's start (by the operator's token) and its end (the test clock passes its end).
    let (code, d) = api(
        &site,
        "POST",
        "/api/v1/drills",
        Some(r#"{"fail": ["pool:eu-west"], "reason": "game day", "duration": "1m"}"#),
    );
    assert_eq!(code, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    let started = receiver
        .wait_for(EventKind::DrillStarted, Duration::from_secs(10))
        .expect("drill.started delivered");
    let ev = started.event();
    assert!(started.signed_with(SECRET));
    assert_eq!(ev.target.as_deref(), Some(id.as_str()));
    assert_eq!(ev.actor.as_deref(), Some("ops"));
    assert!(
        ev.detail.contains("pool:eu-west") && ev.detail.contains("game day"),
        "{ev:?}"
    );
    assert!(
        receiver
            .wait_for(EventKind::DrillEnded, Duration::from_millis(300))
            .is_none(),
        "the drill has not ended yet"
    );
    let (code, v) = api(
        &site,
        "POST",
        "/api/v1/test/clock",
        Some(r#"{"advance": "61s"}"#),
    );
    assert_eq!(code, 200, "{v}");
    let ended = receiver
        .wait_for(EventKind::DrillEnded, Duration::from_secs(10))
        .expect("drill.ended delivered");
    let ev = ended.event();
    assert!(ended.signed_with(SECRET));
    assert_eq!(ev.target.as_deref(), Some(id.as_str()));
    assert!(ev.detail.contains("reverted by itself"), "{ev:?}");
    assert_eq!(ev.actor, None, "nobody stopped it");
    assert!(
        ended.event().at > started.event().at + Duration::from_secs(60),
        "stamped with the server's (moved) clock"
    );

    // The drill took eu-west out of the view served, and its end put it back: told as pool
    // transitions too (the last event of this test).
    let pools: Vec<(EventKind, Option<String>)> = receiver
        .all()
        .iter()
        .map(|d| (d.event().kind, d.event().target))
        .filter(|(k, _)| matches!(k, EventKind::PoolDown | EventKind::PoolUp))
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || receiver
            .of_kind(EventKind::PoolUp)
            .iter()
            .any(|d| d.event().target.as_deref() == Some("pool:eu-west"))),
        "pool.up for eu-west after the drill: {pools:?}"
    );
    assert!(
        receiver
            .of_kind(EventKind::PoolDown)
            .iter()
            .any(|d| d.event().target.as_deref() == Some("pool:eu-west")),
        "pool.down for eu-west during the drill"
    );

    // Only the topics asked for: no reload, override or cluster event; every id unique.
    let all = receiver.all();
    assert!(
        all.iter()
            .all(|d| matches!(d.event().topic.word(), "transitions" | "drills")),
        "{all:?}"
    );
    let mut ids: Vec<String> = all.iter().map(|d| d.event().id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "one delivery per event");

    // Status and metrics count them.
    assert!(eventually(Duration::from_secs(5), || {
        let w = webhooks(&site);
        w.len() == 1 && w[0]["delivered"].as_u64() == Some(all.len() as u64)
    }));
    let w = &webhooks(&site)[0];
    assert_eq!(w["name"], "oncall");
    assert_eq!(w["url"], format!("http://{}/hooks/ayadns", receiver.addr));
    assert_eq!(
        (w["failed"].as_u64(), w["dropped"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(w["last_success"].is_number(), "{w}");
    let (_, metrics) = http(site.admin, "GET", "/metrics", Some(READ_TOKEN), None);
    assert!(
        metrics.contains(&format!(
            "ayadns_notify_delivered_total{{webhook=\"oncall\"}} {}",
            all.len()
        )),
        "{metrics}"
    );
    assert!(metrics.contains("ayadns_notify_queue_depth{webhook=\"oncall\"} 0"));
    // `ayadns ctl status` shows the webhook with its counters.
    let cfg_arg = cfg.to_str().unwrap();
    let (st, out, err) = run_ayadns(None, &["ctl", "--config", cfg_arg, "status"]);
    assert!(st.success(), "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("oncall "))
        .unwrap_or_else(|| panic!("no webhook row in:\n{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], all.len().to_string(), "DELIVERED: {out}");
    assert!(
        out.contains("WEBHOOK") && out.contains("LAST ERROR"),
        "{out}"
    );
}

#[test]
fn with_the_receiver_down_dns_keeps_answering_and_the_delivery_is_retried() {
    let site = Site::new();
    let backend = Backend::new();
    // Nothing listens here yet: every attempt is refused.
    let hook_addr = unique_addr();
    let cfg = config(
        &site,
        &backend.url(),
        &format!(
            "[[notify]]\nurl = \"http://{hook_addr}/hook\"\nevents = [\"drills\"]\nsecret_file = \"hook.secret\"\n\
             timeout = \"1s\"\nmax_attempts = 20\nbackoff = \"100ms\"\nbackoff_max = \"300ms\"\n"
        ),
    );
    let _server = site.start(&cfg);
    let label = format!("http://{hook_addr}/hook");

    let asked = Instant::now();
    let (code, d) = api(
        &site,
        "POST",
        "/api/v1/drills",
        Some(r#"{"fail": ["pool:us-east"], "reason": "receiver down", "duration": "10m"}"#),
    );
    assert_eq!(code, 201, "{d}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the drill does not wait for the webhook"
    );

    // Attempts fail and are counted; DNS answers meanwhile (from the drill's pool).
    assert!(
        eventually(Duration::from_secs(10), || {
            webhooks(&site)[0]["failed"].as_u64().unwrap_or(0) >= 3
        }),
        "{:?}",
        webhooks(&site)
    );
    let w = &webhooks(&site)[0];
    assert_eq!(w["name"], label.as_str());
    assert_eq!(w["delivered"].as_u64(), Some(0));
    assert_eq!(w["queued"].as_u64(), Some(1), "{w}");
    assert!(
        w["last_error"].as_str().unwrap_or("").contains("attempt"),
        "{w}"
    );
    for _ in 0..20 {
        let r = udp(
            site.dns,
            &Q::new("www.gslb.example.com.", RecordType::A).message(),
        );
        let got: Vec<String> = r.answers.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(got, ["198.51.100.10"], "answers during the outage");
    }
    let (_, metrics) = http(site.admin, "GET", "/metrics", Some(READ_TOKEN), None);
    let failed = format!("ayadns_notify_failed_total{{webhook=\"{label}\"}} ");
    assert!(metrics.contains(&failed), "{metrics}");

    // The receiver comes up: the retry delivers the same event, signed.
    let receiver = Receiver::start(hook_addr);
    let got = receiver
        .wait_for(EventKind::DrillStarted, Duration::from_secs(10))
        .expect("delivered once the receiver is up");
    assert!(got.signed_with(SECRET));
    assert_eq!(got.event().target.as_deref(), d["id"].as_str());
    assert!(eventually(Duration::from_secs(5), || {
        let w = &webhooks(&site)[0];
        w["delivered"].as_u64() == Some(1) && w["queued"].as_u64() == Some(0)
    }));
    assert_eq!(receiver.all().len(), 1, "delivered once");
}

#[test]
fn notify_changes_apply_on_reload_and_a_missing_secret_is_refused_with_its_line() {
    let site = Site::new();
    let backend = Backend::new();
    let receiver = Receiver::start(unique_addr());
    let cfg = config(&site, &backend.url(), "");
    let server = site.start(&cfg);
    assert!(webhooks(&site).is_empty());

    // A webhook added by a reload applies with it: it is told of that reload.
    let hook = format!(
        "[[notify]]\nname = \"audit\"\nurl = \"{}\"\nevents = [\"reloads\", \"overrides\"]\nsecret_file = \"hook.secret\"\n",
        receiver.url()
    );
    config(&site, &backend.url(), &hook);
    let (code, v) = api(&site, "POST", "/api/v1/reload", None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(webhooks(&site).len(), 1);
    let ok = receiver
        .wait_for(EventKind::ReloadSucceeded, Duration::from_secs(10))
        .expect("reload.succeeded delivered");
    assert!(ok.signed_with(SECRET));

    // A reload whose secret file is gone is rejected, naming the line; webhooks hear of it.
    std::fs::remove_file(site.path().join("hook.secret")).unwrap();
    let (code, v) = api(&site, "POST", "/api/v1/reload", None);
    assert_eq!(code, 422, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("ayadns.toml:") && text.contains("notify.secret_file: cannot read"),
        "{text}"
    );
    let failed = receiver
        .wait_for(EventKind::ReloadFailed, Duration::from_secs(10))
        .expect("reload.failed delivered");
    assert!(
        failed.signed_with(SECRET),
        "signed with the secret in force"
    );
    assert!(
        failed.event().detail.contains("notify.secret_file"),
        "{:?}",
        failed.event()
    );

    // An override is told with the operator's name.
    let (code, o) = api(
        &site,
        "POST",
        "/api/v1/overrides",
        Some(r#"{"target": "pool:eu-west", "action": "drain", "reason": "maint"}"#),
    );
    assert_eq!(code, 201, "{o}");
    let created = receiver
        .wait_for(EventKind::OverrideCreated, Duration::from_secs(10))
        .expect("override.created delivered");
    assert_eq!(created.event().target.as_deref(), Some("pool:eu-west"));
    assert_eq!(created.event().actor.as_deref(), Some("ops"));

    // The webhook removed by a reload is no longer told.
    config(&site, &backend.url(), "");
    let (code, v) = api(&site, "POST", "/api/v1/reload", None);
    assert_eq!(code, 200, "{v}");
    assert!(webhooks(&site).is_empty());
    let before = receiver.all().len();
    let oks = |s: &Ayadns| s.log().matches("reload ok").count();
    let done = oks(&server);
    server.send_signal(SIGHUP);
    assert!(eventually(Duration::from_secs(10), || oks(&server) > done));
    let (code, _) = api(
        &site,
        "POST",
        "/api/v1/overrides",
        Some(r#"{"target": "pool:us-east", "action": "drain", "reason": "x"}"#),
    );
    assert_eq!(code, 201);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.all().len(), before, "{:?}", receiver.all());
}

/// A `[[maintenance]]` window tells the webhook when it opens and when it closes.
#[test]
fn a_maintenance_window_is_announced_when_it_opens_and_closes() {
    let site = Site::new();
    let backend = Backend::new();
    let receiver = Receiver::start(unique_addr());
    let cfg = config(
        &site,
        &backend.url(),
        &format!(
            "[[notify]]\nname = \"oncall\"\nurl = \"{}\"\nevents = [\"maintenance\"]\nsecret_file = \"hook.secret\"\n\
             [[maintenance]]\nname = \"patching\"\ntarget = \"pool:eu-west\"\nschedule = \"* * * * *\"\nduration = \"30s\"\n",
            receiver.url()
        ),
    );
    let _server = site.start_with(&cfg, &["--test-clock", "0s"]);
    let advance = |by: &str| {
        let (code, v) = api(
            &site,
            "POST",
            "/api/v1/test/clock",
            Some(&format!(r#"{{"advance": "{by}"}}"#)),
        );
        assert_eq!(code, 200, "{v}");
    };
    // Open now, or at the next minute: the clock is moved to one second into the next
    // window (a window that opened by itself meanwhile and was jumped over is not missed:
    // the jump lands inside the one after it).
    let opened = match receiver.wait_for(EventKind::MaintenanceStarted, Duration::from_secs(3)) {
        Some(d) => d,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            advance(&format!("{}s", 60 - now % 60 + 1));
            receiver
                .wait_for(EventKind::MaintenanceStarted, Duration::from_secs(10))
                .expect("maintenance.started delivered")
        }
    };
    let ev = opened.event();
    assert!(opened.signed_with(SECRET));
    assert_eq!(ev.target.as_deref(), Some("pool:eu-west"));
    assert!(ev.detail.contains("patching"), "{ev:?}");
    advance("31s");
    let closed = receiver
        .wait_for(EventKind::MaintenanceEnded, Duration::from_secs(10))
        .expect("maintenance.ended delivered");
    assert_eq!(closed.event().target.as_deref(), Some("pool:eu-west"));
    assert!(closed.event().at > ev.at, "{:?}", closed.event());
}
