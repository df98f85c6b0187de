//! Black-box tests of the GSLB engine on the shipped example: the real binary, real UDP with
//! EDNS Client Subnet, the real sample GeoIP database, and real files replaced on disk.
mod common;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config, listening on `addr`, with `geoip` as its database, written to `dir`.
fn example_config(dir: &Path, addr: SocketAddr, geoip: &Path) -> PathBuf {
    let text = fs::read_to_string(repo().join("config.example.toml")).unwrap();
    let root = repo().display().to_string();
    let text = text
        .replace(
            "listen = [\"127.0.0.1:5353\"]",
            &format!("listen = [\"{addr}\"]"),
        )
        .replace("\"zones/", &format!("\"{root}/zones/"))
        .replace("\"geoip/sample.mmdb\"", &format!("\"{}\"", geoip.display()))
        .replace("check_interval = \"5s\"", "check_interval = \"200ms\"")
        // Health is not under test here: no probers (everything stays up), and the admin API
        // on an address of its own.
        .replace("probers = [\"us\", \"eu\", \"ap\"]", "probers = []")
        .replace(
            "listen = \"127.0.0.1:8053\"",
            &format!("listen = \"{}\"", unique_addr()),
        );
    let path = dir.join("ayadns.toml");
    fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, geoip: &Path) -> (Ayadns, SocketAddr, PathBuf) {
    let addr = unique_addr();
    let cfg = example_config(dir, addr, geoip);
    let mut a = Ayadns::start(&["serve", "--config", cfg.to_str().unwrap()]);
    a.wait_for_dns(addr, Duration::from_secs(10));
    (a, addr, cfg)
}

/// Answer addresses and the ECS scope of the response.
fn ask(
    addr: SocketAddr,
    name: &str,
    t: RecordType,
    ecs: Option<(&str, u8)>,
) -> (Vec<String>, Option<u8>, u32) {
    let mut q = Q::new(name, t);
    if let Some((a, p)) = ecs {
        q = q.ecs(a.parse().unwrap(), p);
    }
    let r: Message = udp(addr, &q.message());
    let scope = r
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Subnet) {
            Some(EdnsOption::Subnet(cs)) => Some(cs.scope_prefix()),
            _ => None,
        });
    let ttl = r.answers.first().map_or(0, |r| r.ttl);
    let mut ips: Vec<String> = r.answers.iter().map(|r| r.data.to_string()).collect();
    ips.sort();
    (ips, scope, ttl)
}

#[test]
fn example_answers_follow_the_client_and_set_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, addr, _) = start(dir.path(), &repo().join("geoip/sample.mmdb"));
    let www = "www.gslb.example.com.";
    let eu = vec!["198.51.100.10".to_string(), "198.51.100.11".to_string()];
    let ap = vec!["203.0.113.10".to_string(), "203.0.113.11".to_string()];
    let us = vec!["192.0.2.10".to_string(), "192.0.2.11".to_string()];

    let (ips, scope, ttl) = ask(addr, www, RecordType::A, Some(("81.2.69.0", 24)));
    assert_eq!(ips, eu, "London → eu-west");
    let scope = scope.expect("ECS echoed");
    assert!((1..=24).contains(&scope), "scope {scope}");
    assert_eq!(ttl, 30);

    let (ips, scope, _) = ask(addr, www, RecordType::A, Some(("175.16.199.0", 24)));
    assert_eq!(ips, ap, "Changchun → ap-southeast");
    assert_eq!(scope, Some(24));

    let (ips, scope, _) = ask(addr, www, RecordType::A, Some(("216.160.83.56", 29)));
    assert_eq!(ips, us, "Milton WA → us-east");
    assert_eq!(scope, Some(29), "the GeoIP network is a /29");

    // A wider query prefix caps the scope: never longer than the source prefix.
    let (_, scope, _) = ask(addr, www, RecordType::A, Some(("81.2.0.0", 16)));
    assert!(scope.unwrap() <= 16);

    // No ECS: the packet source (127.0.0.1, in no GeoIP network) → default region us.
    let (ips, scope, _) = ask(addr, www, RecordType::A, None);
    assert_eq!(ips, us);
    assert_eq!(scope, None, "no ECS in, no ECS out");

    // AAAA from the same pools.
    let (ips, _, _) = ask(addr, www, RecordType::AAAA, Some(("2001:480:10::", 48)));
    assert_eq!(
        ips,
        vec!["2001:db8:10::10".to_string()],
        "San Diego → us-east v6"
    );

    // Static records beside the service stay: TXT at www comes from the zone, scope 0.
    let (txt, scope, _) = ask(addr, www, RecordType::TXT, Some(("81.2.69.0", 24)));
    assert_eq!(txt, vec!["served by ayadns".to_string()]);
    assert_eq!(scope, Some(0));
}

#[test]
fn weighted_api_answers_split_about_3_to_1() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, addr, _) = start(dir.path(), &repo().join("geoip/sample.mmdb"));
    let mut heavy = 0;
    let n = 400;
    for _ in 0..n {
        let (ips, _, _) = ask(
            addr,
            "api.gslb.example.com.",
            RecordType::A,
            Some(("216.160.83.56", 29)),
        );
        assert_eq!(ips.len(), 1, "first_n(1)");
        match ips[0].as_str() {
            "192.0.2.10" => heavy += 1,
            "192.0.2.11" => {}
            other => panic!("api answered {other}: not the nearest pool"),
        }
    }
    let share = heavy as f64 / n as f64;
    // 400 draws: 3 standard deviations of a 0.75 share is about 0.065.
    assert!((0.68..=0.82).contains(&share), "weight-3 share {share}");
}

#[test]
fn explain_prints_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = example_config(dir.path(), unique_addr(), &repo().join("geoip/sample.mmdb"));
    for (client, region, pool) in [
        ("81.2.69.0/24", "eu", "198.51.100.1"),
        ("175.16.199.0/24", "ap", "203.0.113.1"),
        ("216.160.83.56/29", "us", "192.0.2.1"),
    ] {
        let (status, out, err) = run_ayadns(
            None,
            &[
                "explain",
                "www.gslb.example.com",
                "A",
                "--client",
                client,
                "--config",
                cfg.to_str().unwrap(),
            ],
        );
        assert!(status.success(), "{err}");
        assert!(out.contains(&format!("region  {region} (")), "{out}");
        for step in [
            "1. health",
            "2. geo",
            "3. failover",
            "4. weighted",
            "5. first_n",
        ] {
            assert!(out.contains(step), "{step} missing:\n{out}");
        }
        assert!(out.contains("geoip   "), "{out}");
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(pool)),
            "{out}"
        );
        assert!(out.contains("ttl 30  ecs scope /"), "{out}");
    }
}

#[test]
fn a_replaced_geoip_file_is_picked_up_and_a_truncated_one_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("geo.mmdb");
    fs::copy(repo().join("geoip/sample.mmdb"), &db).unwrap();
    let (mut a, addr, _) = start(dir.path(), &db);
    let www = "www.gslb.example.com.";
    let (ips, _, _) = ask(addr, www, RecordType::A, Some(("81.2.69.0", 24)));
    assert!(ips[0].starts_with("198.51.100."), "{ips:?}");

    // A new database in which 81.2.69.0/24 is in Australia: answers move to ap-southeast.
    let csv = dir.path().join("moved.csv");
    fs::write(&csv, "network,country,continent,latitude,longitude,city\n81.2.69.0/24,AU,OC,-33.87,151.21,Sydney\n").unwrap();
    let new = dir.path().join("new.mmdb");
    let (status, _, err) = run_ayadns(
        None,
        &[
            "geoip",
            "build",
            csv.to_str().unwrap(),
            "-o",
            new.to_str().unwrap(),
        ],
    );
    assert!(status.success(), "{err}");
    fs::rename(&new, &db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ips, _, _) = ask(addr, www, RecordType::A, Some(("81.2.69.0", 24)));
        if ips[0].starts_with("203.0.113.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new database not picked up: {ips:?}\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A truncated replacement is rejected with a log line, and the previous data stays.
    let bytes = fs::read(&db).unwrap();
    let tmp = dir.path().join("trunc.mmdb");
    fs::write(&tmp, &bytes[..bytes.len() / 2]).unwrap();
    fs::rename(&tmp, &db).unwrap();
    assert!(
        a.wait_for_log("geo.mmdb", Duration::from_secs(10)),
        "{}",
        a.log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.log().to_lowercase().contains("kept") && !a.log().to_lowercase().contains("keep") {
        assert!(
            Instant::now() < deadline,
            "no rejection logged:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ips, _, _) = ask(addr, www, RecordType::A, Some(("81.2.69.0", 24)));
    assert!(
        ips[0].starts_with("203.0.113."),
        "old database still answers: {ips:?}"
    );
}

#[test]
fn the_shipped_sample_database_is_the_one_built_from_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("sample.mmdb");
    let (status, _, err) = run_ayadns(
        None,
        &[
            "geoip",
            "build",
            repo().join("geoip/sample.csv").to_str().unwrap(),
            "-o",
            built.to_str().unwrap(),
        ],
    );
    assert!(status.success(), "{err}");
    for ip in [
        "81.2.69.142",
        "89.160.20.113",
        "216.160.83.57",
        "175.16.199.3",
        "202.196.224.1",
        "2001:480:10::1",
        "127.0.0.1",
    ] {
        let shipped = run_ayadns(
            None,
            &[
                "geoip",
                "lookup",
                ip,
                repo().join("geoip/sample.mmdb").to_str().unwrap(),
            ],
        );
        let fresh = run_ayadns(None, &["geoip", "lookup", ip, built.to_str().unwrap()]);
        let strip = |s: &str| s.split(" in ").next().unwrap_or("").to_string();
        assert_eq!(
            strip(&shipped.1),
            strip(&fresh.1),
            "{ip}: rebuild geoip/sample.mmdb from geoip/sample.csv"
        );
    }
}

#[test]
fn check_names_invalid_gslb_config_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = example_config(dir.path(), unique_addr(), &repo().join("geoip/sample.mmdb"));
    let text = fs::read_to_string(&cfg).unwrap();
    let bad = text
        .replacen("region = \"eu\"", "region = \"europe\"", 1)
        .replacen("weight = 1\n", "weight = -2\n", 1)
        .replacen(
            "name = \"api.gslb.example.com.\"",
            "name = \"api.example.net.\"",
            1,
        )
        .replace(
            "chain = [\"health\", \"nearest\", \"weighted\", \"first_n\"]",
            "chain = [\"health\", \"nearest\", \"wieghted\", \"latency\"]",
        )
        .replace("probers = [\"us\", \"eu\", \"ap\"]", "probers = []");
    fs::write(&cfg, &bad).unwrap();
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (status, _, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    let c = cfg.display().to_string();
    for (needle, what) in [
        ("region = \"europe\"", "unknown region `europe`"),
        ("weight = -2", "negative"),
        ("name = \"api.example.net.\"", "outside every served zone"),
        ("\"wieghted\"", "unknown chain step `wieghted`"),
        ("\"wieghted\"", "needs prober regions"),
    ] {
        let at = format!("{c}:{}:", line_of(needle));
        assert!(
            err.lines().any(|l| l.starts_with(&at) && l.contains(what)),
            "want {at} … {what}\n{err}"
        );
    }
    let _ = IpAddr::from([127, 0, 0, 1]);
}
