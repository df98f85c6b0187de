//! `/readyz` on a clustered node: ready only once its view of the shared state has synced
//! with a real etcd member (on loopback).
#![cfg(feature = "cluster")]

mod common;
#[path = "common/etcd.rs"]
mod etcd;

use ayadns::api::Readiness;
use common::backend::{eventually, http};
use common::site::Site;
use etcd::EtcdCluster;
use std::time::Duration;

const POOLS: &str = "[[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\n\
[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"eu-west\"]\n";

#[test]
fn a_clustered_node_is_ready_once_synced_with_etcd() {
    let etcd = EtcdCluster::start(1);
    let site = Site::new();
    let cfg = site.config("probers = []", POOLS);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[cluster]\nnode = \"ns1\"\netcd = [\"{}\"]\nprefix = \"/ready-test/\"\nregion = \"eu\"\nlease = \"2s\"\n",
        etcd.endpoints()[0]
    ));
    std::fs::write(&cfg, text).unwrap();
    let mut node = site.start(&cfg);
    let ready = || {
        let (code, body) = http(site.admin, "GET", "/readyz", None, None);
        let r: Readiness = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (code, r)
    };
    assert!(
        eventually(Duration::from_secs(2), || ready().0 == 200),
        "never ready: {:?}",
        ready().1
    );
    let (_, r) = ready();
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "cluster")
        .expect("a clustered node checks the cluster");
    assert!(c.ok && c.detail.contains("ns1"), "{c:?}");
    node.stop();
}
