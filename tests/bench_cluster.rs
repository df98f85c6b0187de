//! The cluster's figures, run by `scripts/bench-cluster.sh` (ignored in the test suite: it
//! measures, it does not check): how fast an override sent to one node reaches every node's
//! answers, and how many probes one backend sees with 1, 2 and 3 nodes in its region.
#![cfg(feature = "cluster")]

mod common;
#[path = "common/etcd.rs"]
mod etcd;
#[path = "common/nodes.rs"]
mod nodes;

use common::backend::{Backend, http};
use common::site::ADMIN_TOKEN;
use etcd::EtcdCluster;
use nodes::Node;
use std::fs;
use std::time::{Duration, Instant};

/// A started node with a generous API rate limit (the bench sends hundreds of changes).
fn node(name: &str, etcd: &EtcdCluster, prefix: &str, health: &str, pools: &str) -> Node {
    let mut n = Node::with(name, etcd, prefix, health, pools);
    let text = fs::read_to_string(&n.cfg).unwrap().replace(
        "tokens_file = \"tokens.txt\"",
        "tokens_file = \"tokens.txt\"\nrate_limit = 100000",
    );
    fs::write(&n.cfg, text).unwrap();
    n.start();
    n
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

const POOLS_CHECKED: &str = "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n[[pool.endpoint]]\nname = \"us-east-a\"\naddresses = [\"192.0.2.10\"]\n\
[[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\nCHECK\
[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"eu-west\", \"us-east\"]\nchain = [\"health\", \"failover\"]\n";

#[test]
#[ignore]
fn bench_cluster() {
    let changes: usize = std::env::var("CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let etcd = EtcdCluster::start(3);
    let pools = POOLS_CHECKED.replace("CHECK", "");
    let nodes: Vec<Node> = ["ns1", "ns2", "ns3"]
        .iter()
        .map(|n| node(n, &etcd, "/bench/p/", "probers = []", &pools))
        .collect();
    // Propagation: each change sent to one node (in turn), timed until every node answers it.
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::new(); nodes.len()];
    let mut id = String::new();
    for i in 0..changes {
        let drain = i % 2 == 0;
        let want = if drain { "192.0.2.10" } else { "198.51.100.10" };
        let via = &nodes[i % nodes.len()];
        let t0 = Instant::now();
        if drain {
            let (code, body) = http(
                via.site.admin,
                "POST",
                "/api/v1/overrides",
                Some(ADMIN_TOKEN),
                Some(
                    r#"{"target": "pool:eu-west", "action": "drain", "reason": "bench", "expires_in": "1h"}"#,
                ),
            );
            assert_eq!(code, 201, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            id = v["id"].as_str().unwrap().to_string();
        } else {
            let (code, body) = http(
                via.site.admin,
                "DELETE",
                &format!("/api/v1/overrides/{id}"),
                Some(ADMIN_TOKEN),
                None,
            );
            assert_eq!(code, 200, "{body}");
        }
        let mut seen = vec![None; nodes.len()];
        while seen.iter().any(Option::is_none) {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "change {i} never arrived"
            );
            for (n, node) in nodes.iter().enumerate() {
                if seen[n].is_none() && node.answer() == want {
                    seen[n] = Some(t0.elapsed());
                }
            }
        }
        for (n, t) in seen.into_iter().enumerate() {
            per_node[n].push(t.unwrap());
        }
    }
    println!(
        "\nPropagation of {changes} changes (half drains, half removals), each sent to one node in turn, until that node's DNS answers changed:"
    );
    println!("{:<6} {:>10} {:>10} {:>10}", "node", "p50", "p99", "max");
    for (n, v) in per_node.iter_mut().enumerate() {
        let (p50, p99) = (pct(v, 0.5), pct(v, 0.99));
        let max = *v.iter().max().unwrap();
        println!(
            "ns{:<4} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
            n + 1,
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0
        );
    }
    drop(nodes);

    // Probe load on one backend, with 1, 2 and 3 nodes in its region.
    let backend = Backend::new();
    let pools = POOLS_CHECKED.replace("CHECK", &format!("check = \"{}\"\n", backend.url()));
    let health = "probers = []\ninterval = \"200ms\"\ntimeout = \"150ms\"";
    println!("\nProbe load on one backend (check interval 200 ms = 5 probes/s from one prober):");
    println!("{:<18} {:>12}", "nodes in region", "probes/s");
    let mut running = Vec::new();
    for (k, name) in ["ns1", "ns2", "ns3"].iter().enumerate() {
        running.push(node(name, &etcd, "/bench/h/", health, &pools));
        // Let ownership settle (the members list moves with the leases), then count.
        std::thread::sleep(Duration::from_millis(1500));
        let before = backend.hits();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let rate = (backend.hits() - before) as f64 / t.elapsed().as_secs_f64();
        println!("{:<18} {:>12.1}", k + 1, rate);
    }
}
