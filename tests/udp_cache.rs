//! The UDP workers' caches of static answers never outlive the data: after a reload every
//! worker answers from the new zone (black-box: real binary, SIGHUP, queries from many source
//! ports so that every worker has the old answer cached first).
mod common;

use common::*;
use hickory_proto::rr::RecordType;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn a_reload_replaces_cached_answers_in_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    let zone = dir.path().join("gslb.example.com.zone");
    let good = fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("zones/gslb.example.com.zone"),
    )
    .unwrap();
    fs::write(&zone, &good).unwrap();
    let cfg = dir.path().join("ayadns.toml");
    fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"{addr}\"]\nthreads = 2\n[[zone]]\nfile = \"gslb.example.com.zone\"\n"
        ),
    )
    .unwrap();
    let mut server = Ayadns::start(&["serve", "--config", cfg.to_str().unwrap()]);
    server.wait_for_dns(addr, Duration::from_secs(10));
    let ask = || {
        let q = Q::new("status.gslb.example.com.", RecordType::A).no_edns();
        records(&udp(addr, &q.message()).answers)
    };
    for _ in 0..40 {
        assert_eq!(ask(), vec!["status.gslb.example.com. 300 IN A 192.0.2.200"]);
    }
    fs::write(&zone, good.replace("192.0.2.200", "192.0.2.201")).unwrap();
    server.send_signal(libc::SIGHUP);
    assert!(server.wait_for_log("reload ok", Duration::from_secs(10)));
    for i in 0..40 {
        assert_eq!(
            ask(),
            vec!["status.gslb.example.com. 300 IN A 192.0.2.201"],
            "query {i} after the reload"
        );
    }
}
