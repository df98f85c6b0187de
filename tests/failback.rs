//! Black-box tests of gradual failback and capacity: the real binary probing real HTTP
//! backends on loopback, many ECS client subnets over UDP, the admin API, and `ayadns check`.
mod common;

use common::backend::{Backend, Mode, eventually, http};
use common::site::{ADMIN_TOKEN, READ_TOKEN, Site};
use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How many distinct client /24s each share is measured over.
const CLIENTS: u32 = 200;

/// Two regions: eu holds the clients of 10.20.0.0/16 (one /24 per client), us the rest.
const REGIONS: &str = r#"[[region]]
name = "us"
location = [39.0, -98.0]
default = true
[[region]]
name = "eu"
location = [50.1, 8.7]
networks = ["10.20.0.0/16"]
"#;

/// The config: eu-west's two endpoints are checked against `backends` (probed from eu every
/// second, rise 1, fall 1); us-east is not checked (always up). `service` is appended to the
/// www service.
fn write_config(site: &Site, backends: &[&Backend], pools_extra: &str, service: &str) -> PathBuf {
    let text = format!(
        "[server]\nlisten = [\"{dns}\"]\n[admin]\nlisten = \"{admin}\"\ntokens_file = \"tokens.txt\"\n\
         [[zone]]\nfile = \"gslb.example.com.zone\"\n\
         [health]\nprobers = [\"eu\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1\n\
         stale_after = \"10m\"\nstate_file = \"state.db\"\n{REGIONS}\
         [[pool]]\nname = \"us-east\"\nregion = \"us\"\n{pools_extra}\
         [[pool.endpoint]]\nname = \"us-east-a\"\naddresses = [\"192.0.2.10\"]\n\
         [[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n\
         [[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\ncheck = \"{a}\"\n\
         [[pool.endpoint]]\nname = \"eu-west-b\"\naddresses = [\"198.51.100.11\"]\ncheck = \"{b}\"\n\
         [[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"us-east\", \"eu-west\"]\n{service}",
        dns = site.dns,
        admin = site.admin,
        a = backends[0].url(),
        b = backends[1].url(),
    );
    let p = site.path().join("ayadns.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The first address answered to the client subnet 10.20.i.0/24.
fn first_answer(dns: SocketAddr, i: u32) -> String {
    let ip = format!("10.20.{}.0", i % 256).parse().unwrap();
    let r = udp(
        dns,
        &Q::new("www.gslb.example.com.", RecordType::A)
            .ecs(ip, 24)
            .message(),
    );
    r.answers
        .first()
        .map(|r| r.data.to_string())
        .unwrap_or_default()
}

/// The eu client subnets answered from eu-west.
fn eu_clients(dns: SocketAddr) -> Vec<u32> {
    (0..CLIENTS)
        .filter(|&i| first_answer(dns, i).starts_with("198.51.100."))
        .collect()
}

/// The share of the eu client subnets answered from eu-west.
fn eu_share(dns: SocketAddr) -> f64 {
    eu_clients(dns).len() as f64 / f64::from(CLIENTS)
}

fn status(admin: SocketAddr) -> Value {
    let (code, body) = http(admin, "GET", "/api/v1/status", Some(READ_TOKEN), None);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn pool(st: &Value, name: &str) -> Value {
    st["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no pool {name} in {st}"))
}

/// Move the server's test clock forward; the engine republishes the ramp before it returns.
fn advance(admin: SocketAddr, by: &str) {
    let body = format!("{{\"advance\": \"{by}\"}}");
    let (code, text) = http(
        admin,
        "POST",
        "/api/v1/test/clock",
        Some(ADMIN_TOKEN),
        Some(&body),
    );
    assert_eq!(code, 200, "{text}");
}

/// After eu-west's checks fail and pass again, its share of its clients rises over the 10 s
/// ramp (moved on the test clock) instead of jumping back: near nothing at first, then about
/// a quarter, a half, three quarters, then all — the same clients staying admitted as it
/// rises; status and explain show the ramp.
#[test]
fn a_recovered_pool_ramps_its_clients_back() {
    let site = Site::new();
    let backends = [Backend::new(), Backend::new()];
    let cfg = write_config(
        &site,
        &[&backends[0], &backends[1]],
        "",
        "[service.failover]\nramp = \"10s\"\n",
    );
    let _server = site.start_with(&cfg, &["--test-clock", "0s"]);
    assert!(
        eventually(Duration::from_secs(10), || eu_share(site.dns) == 1.0),
        "all eu clients on eu-west at first"
    );
    assert!(pool(&status(site.admin), "eu-west")["ramp_admitted"].is_null());

    // The data center goes away: every eu client moves to us-east.
    for b in &backends {
        b.set(Mode::Refuse);
    }
    assert!(
        eventually(Duration::from_secs(10), || {
            pool(&status(site.admin), "eu-west")["endpoints_up"] == 0
        }),
        "eu-west down"
    );
    assert_eq!(eu_share(site.dns), 0.0);

    // It comes back: the checks pass again, but its clients return over the ramp.
    for b in &backends {
        b.set(Mode::Ok);
    }
    assert!(
        eventually(Duration::from_secs(10), || {
            pool(&status(site.admin), "eu-west")["endpoints_up"] == 2
        }),
        "eu-west up again"
    );
    let st = status(site.admin);
    let admitted = pool(&st, "eu-west")["ramp_admitted"].as_f64();
    assert!(
        admitted.is_some_and(|a| a < 0.3),
        "status shows the ramp: {st}"
    );
    // The share the server admits (status) before and after a pass over the clients: the
    // share measured must lie between them (the ramp also moves with real time meanwhile).
    let ramp_now = || {
        pool(&status(site.admin), "eu-west")["ramp_admitted"]
            .as_f64()
            .unwrap_or(1.0)
    };
    let mut shares = Vec::new();
    let mut admitted_before: Vec<u32> = Vec::new();
    for step in 0..5 {
        if step == 4 {
            advance(site.admin, "3s");
        } else if step > 0 {
            advance(site.admin, "2500ms");
        }
        let low = ramp_now();
        let on_eu = eu_clients(site.dns);
        let high = ramp_now();
        let share = on_eu.len() as f64 / f64::from(CLIENTS);
        assert!(
            share > low - 0.12 && share < high + 0.12,
            "step {step}: {share} of the clients on eu-west, status said {low} then {high}"
        );
        // A rising share only adds clients: who was admitted stays admitted.
        assert!(
            admitted_before.iter().all(|i| on_eu.contains(i)),
            "a client admitted earlier lost eu-west: {admitted_before:?} → {on_eu:?}"
        );
        admitted_before = on_eu;
        shares.push((share, low, high));
        if step == 2 {
            // Explain, mid-ramp, says so for a client.
            let (code, body) = http(
                site.admin,
                "GET",
                "/api/v1/explain?name=www.gslb.example.com.&client=10.20.7.0/24",
                Some(READ_TOKEN),
                None,
            );
            assert_eq!(code, 200, "{body}");
            assert!(
                body.contains("pool eu-west ramping: ") && body.contains("% admitted; this client"),
                "{body}"
            );
        }
    }
    eprintln!(
        "eu-west's share of its clients (measured, status before, after), 2.5 s apart on the server's clock: {shares:?}"
    );
    let s: Vec<f64> = shares.iter().map(|x| x.0).collect();
    assert!(s[0] < 0.25, "not back at once: {s:?}");
    // About a quarter, a half, three quarters (plus the real time the test takes).
    for (k, want) in [0.25, 0.5, 0.75].iter().enumerate() {
        assert!(
            s[k + 1] > want - 0.12 && s[k + 1] < want + 0.24 && s[k + 1] < 0.98,
            "after {} s: {}, want about {want}: {s:?}",
            2.5 * (k + 1) as f64,
            s[k + 1]
        );
    }
    assert!(
        s.windows(2).all(|w| w[0] < w[1]),
        "rises step by step: {s:?}"
    );
    assert_eq!(s[4], 1.0, "the ramp is over: {s:?}");
    assert!(pool(&status(site.admin), "eu-west")["ramp_admitted"].is_null());
}

/// Without a ramp the same recovery brings every client back at once (the ramp above is
/// what makes the difference).
#[test]
fn without_a_ramp_a_recovered_pool_takes_everyone_back() {
    let site = Site::new();
    let backends = [Backend::new(), Backend::new()];
    let cfg = write_config(&site, &[&backends[0], &backends[1]], "", "");
    let _server = site.start_with(&cfg, &["--test-clock", "0s"]);
    for b in &backends {
        b.set(Mode::Refuse);
    }
    assert!(eventually(Duration::from_secs(10), || eu_share(site.dns) == 0.0));
    for b in &backends {
        b.set(Mode::Ok);
    }
    assert!(
        eventually(Duration::from_secs(10), || {
            pool(&status(site.admin), "eu-west")["endpoints_up"] == 2
        }),
        "eu-west up again"
    );
    assert_eq!(eu_share(site.dns), 1.0);
}

/// A drill preview weighs the recent queries per second against the declared capacities:
/// failing eu-west sends its clients to us-east, whose capacity (5 queries/s) is under 1.5 ×
/// what it would receive; `ctl drill preview` prints the warning too.
#[test]
fn a_drill_preview_flags_a_survivor_under_headroom() {
    let site = Site::new();
    let backends = [Backend::new(), Backend::new()];
    let cfg = write_config(&site, &[&backends[0], &backends[1]], "capacity = 5\n", "");
    let _server = site.start(&cfg);
    // About two seconds of traffic from the eu clients (and a little from us).
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let mut n = 0u32;
    while std::time::Instant::now() < until {
        first_answer(site.dns, n);
        n += 1;
    }
    assert!(n > 100, "only {n} queries sent");
    let preview = |fail: &str| -> Value {
        let body = format!("{{\"fail\": [\"{fail}\"]}}");
        let (code, text) = http(
            site.admin,
            "POST",
            "/api/v1/drills/preview",
            Some(ADMIN_TOKEN),
            Some(&body),
        );
        assert_eq!(code, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    // The rates are measured once a second: wait for the first.
    assert!(
        eventually(Duration::from_secs(5), || {
            preview("pool:eu-west")["loads"]
                .as_array()
                .is_some_and(|l| l.iter().any(|r| r["expected_qps"].as_f64() > Some(10.0)))
        }),
        "the preview sees the load: {}",
        preview("pool:eu-west")
    );
    let p = preview("pool:eu-west");
    let loads = p["loads"].as_array().unwrap();
    let us = loads
        .iter()
        .find(|l| l["pool"] == "us-east")
        .unwrap_or_else(|| panic!("us-east gets the traffic: {p}"));
    assert_eq!(us["capacity"], 5.0);
    assert_eq!(us["headroom"], 1.5);
    assert_eq!(us["ok"], false, "{p}");
    assert!(
        p["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with("us-east: capacity 5 queries/s is under headroom 1.5")),
        "{p}"
    );
    // Failing us-east instead: eu-west (no declared capacity) takes it, no warning.
    let p = preview("pool:us-east");
    assert!(p["warnings"].as_array().unwrap().is_empty(), "{p}");
    assert!(
        p["loads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["ok"] == true),
        "{p}"
    );
    // The same through ctl.
    let tok = site.path().join("admin.token");
    std::fs::write(&tok, ADMIN_TOKEN).unwrap();
    let (ok, out, err) = run_ayadns(
        Some(site.path()),
        &[
            "ctl",
            "--server",
            &format!("http://{}", site.admin),
            "--token-file",
            tok.to_str().unwrap(),
            "drill",
            "preview",
            "--fail",
            "pool:eu-west",
        ],
    );
    assert!(ok.success(), "{out}{err}");
    assert!(out.contains("UNDER 1.5x"), "{out}");
    assert!(out.contains("warning: us-east: capacity 5"), "{out}");
}

/// With the `capacity` step, a pool asked for more than its capacity keeps only that share
/// of its clients; the rest spill to the next pool. eu-west (capacity 40) is asked for about
/// 100–200 queries/s by its clients (paced): a part of them move to us-east — the same part
/// query after query — and status says so.
#[test]
fn the_capacity_step_spills_clients_above_capacity() {
    let site = Site::new();
    let backends = [Backend::new(), Backend::new()];
    let cfg = write_config(
        &site,
        &[&backends[0], &backends[1]],
        "",
        "chain = [\"health\", \"geo\", \"capacity\", \"failover\", \"first_n\"]\n",
    );
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "name = \"eu-west\"\nregion = \"eu\"\n",
        "name = \"eu-west\"\nregion = \"eu\"\ncapacity = 40\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let _server = site.start(&cfg);
    // One pass over the clients, paced to about 200 queries/s: which of them get eu-west.
    let pass = || -> Vec<u32> {
        (0..CLIENTS)
            .filter(|&i| {
                std::thread::sleep(Duration::from_millis(5));
                let a = first_answer(site.dns, i);
                // A spilled client gets the next pool, never nothing.
                assert!(
                    a.starts_with("198.51.100.") || a.starts_with("192.0.2."),
                    "{a}"
                );
                a.starts_with("198.51.100.")
            })
            .collect()
    };
    // A few queries are well under capacity: every client on eu-west.
    for i in 0..10 {
        assert!(
            first_answer(site.dns, i).starts_with("198.51.100."),
            "under capacity at first"
        );
    }
    // Keep asking until the spill shows (the demand is measured once a second).
    let mut on_eu = pass();
    for _ in 0..8 {
        if (on_eu.len() as u32) < CLIENTS / 2 {
            break;
        }
        on_eu = pass();
    }
    let share = on_eu.len() as f64 / f64::from(CLIENTS);
    eprintln!("eu-west keeps {share} of its clients over capacity");
    assert!(
        share < 0.5,
        "eu-west kept {share} of its clients over capacity"
    );
    assert!(share > 0.02, "some clients stay: {share}");
    let st = status(site.admin);
    let admitted = pool(&st, "eu-west")["capacity_admitted"].as_f64();
    assert!(admitted.is_some_and(|a| a < 0.9), "{st}");
    assert_eq!(pool(&st, "eu-west")["capacity"], 40.0);
}

/// `ayadns check` warns (exit 0) when losing one region would leave the others' capacity
/// under headroom × the declared demand, and is quiet when it would not — and the shipped
/// example passes without a warning.
#[test]
fn check_warns_when_losing_a_region_breaks_headroom() {
    let site = Site::new();
    let backends = [Backend::new(), Backend::new()];
    let with = |us: u32, eu: u32, demand: &str| {
        let cfg = write_config(
            &site,
            &[&backends[0], &backends[1]],
            &format!("capacity = {us}\n"),
            "",
        );
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "name = \"eu-west\"\nregion = \"eu\"\n",
            &format!("name = \"eu-west\"\nregion = \"eu\"\ncapacity = {eu}\n"),
        ) + &format!("[capacity]\ndemand = {{ {demand} }}\n");
        std::fs::write(&cfg, text).unwrap();
        run_ayadns(
            Some(site.path()),
            &["check", "--config", cfg.to_str().unwrap()],
        )
    };
    // Demand 1000: losing eu leaves us-east's 1200 < 1500.
    let (ok, out, err) = with(1200, 3000, "us = 600, eu = 400");
    assert!(ok.success(), "a warning is not an error: {out}{err}");
    assert!(
        err.contains("warning: losing region eu: the other regions' pools can serve 1200 queries/s, less than headroom 1.5 × the demand of 1000 queries/s (1500)"),
        "{err}"
    );
    assert!(!err.contains("losing region us"), "{err}");
    // Enough everywhere: quiet.
    let (ok, _, err) = with(2000, 3000, "us = 600, eu = 400");
    assert!(ok.success());
    assert!(!err.contains("warning"), "{err}");
    // A bad headroom is an error with its line.
    let cfg = site.path().join("ayadns.toml");
    let text = std::fs::read_to_string(&cfg).unwrap() + "";
    std::fs::write(
        &cfg,
        text.replace("[capacity]\n", "[capacity]\nheadroom = 0.5\n"),
    )
    .unwrap();
    let (ok, _, err) = run_ayadns(
        Some(site.path()),
        &["check", "--config", cfg.to_str().unwrap()],
    );
    assert!(!ok.success());
    assert!(
        err.contains("ayadns.toml:")
            && err.contains("[capacity] headroom 0.5 is not between 1 and 10"),
        "{err}"
    );
    // The shipped example declares capacities and demand that hold.
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let (ok, out, err) = run_ayadns(None, &["check", "--config", example.to_str().unwrap()]);
    assert!(ok.success(), "{out}{err}");
    assert!(!err.contains("warning"), "{err}");
}
