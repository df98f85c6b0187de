//! Several ayadns nodes as one load balancer: real binaries sharing state through real etcd
//! members on loopback. A drain or a drill sent to one node changes every node's answers;
//! with etcd gone the nodes keep answering from the last state, refuse changes with 503, and
//! converge when it is back; a node restarted while etcd is down serves the last state.
#![cfg(feature = "cluster")]

mod common;
#[path = "common/etcd.rs"]
mod etcd;
#[path = "common/nodes.rs"]
mod nodes;

use common::backend::{eventually, http};
use common::site::{ADMIN_TOKEN, READ_TOKEN};
use common::*;
use etcd::EtcdCluster;
use nodes::{Node, POOLS, all};
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn a_drain_on_one_node_moves_every_node_and_a_drill_reverts_everywhere() {
    let etcd = EtcdCluster::start(3);
    let mut nodes: Vec<Node> = ["ns1", "ns2", "ns3"]
        .iter()
        .map(|n| Node::new(n, &etcd, "/ayadns/t1/"))
        .collect();
    for n in &mut nodes {
        n.start();
    }
    assert!(all(&nodes, "198.51.100.10"), "eu-west first everywhere");
    // A drain on node 1 …
    let (code, o) = nodes[0].api(
        "POST",
        "/api/v1/overrides",
        Some(r#"{"target": "pool:eu-west", "action": "drain", "reason": "maintenance", "expires_in": "10m"}"#),
    );
    assert_eq!(code, 201, "{o}");
    // … applies on node 1 when the API answers, and on the others within a second.
    assert_eq!(nodes[0].answer(), "192.0.2.10");
    let t = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || all(&nodes, "192.0.2.10")),
        "drain did not reach every node: {}",
        nodes[2].log()
    );
    println!("drain reached every node within {:?}", t.elapsed());
    // Removed on node 3: back everywhere.
    let id = o["id"].as_str().unwrap().to_string();
    let (code, body) = nodes[2].api("DELETE", &format!("/api/v1/overrides/{id}"), None);
    assert_eq!(code, 200, "{body}");
    assert!(eventually(Duration::from_secs(2), || all(
        &nodes,
        "198.51.100.10"
    )));
    // A drill started on node 2 moves everyone; a second drill, on another node, is refused.
    let (code, d) = nodes[1].api(
        "POST",
        "/api/v1/drills",
        Some(r#"{"fail": ["pool:eu-west"], "reason": "DR drill", "duration": "30s"}"#),
    );
    assert_eq!(code, 201, "{d}");
    assert!(eventually(Duration::from_secs(2), || all(
        &nodes,
        "192.0.2.10"
    )));
    let (code, body) = nodes[0].api(
        "POST",
        "/api/v1/drills",
        Some(r#"{"fail": ["pool:us-east"], "reason": "another", "duration": "30s"}"#),
    );
    assert_eq!(code, 409, "one drill at a time, cluster-wide: {body}");
    // It reverts by itself — once, whichever node's clock passes its end first.
    nodes[2].advance("31s");
    assert!(
        eventually(Duration::from_secs(2), || all(&nodes, "198.51.100.10")),
        "the drill did not revert everywhere"
    );
    // The trail is shared, and says which node took each request.
    let (code, audit) = nodes[0].api("GET", "/api/v1/audit?limit=100", None);
    assert_eq!(code, 200);
    let entries = audit["audit"].as_array().unwrap();
    let took = |method: &str, node: &str| {
        entries
            .iter()
            .any(|e| e["method"] == method && e["node"] == node && e["status"].as_u64() < Some(300))
    };
    assert!(
        took("POST", "ns1") && took("DELETE", "ns3") && took("POST", "ns2"),
        "{audit}"
    );
    let ends = entries.iter().filter(|e| e["method"] == "end").count();
    assert_eq!(ends, 1, "the drill ended exactly once: {audit}");
    // Status, metrics and ctl show the nodes.
    let (_, st) = nodes[1].api("GET", "/api/v1/status", None);
    let listed: Vec<&str> = st["cluster"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["ns1", "ns2", "ns3"], "{st}");
    assert_eq!(st["cluster"]["connected"], true);
    let (_, metrics) = http(
        nodes[1].site.admin,
        "GET",
        "/metrics",
        Some(READ_TOKEN),
        None,
    );
    assert!(
        metrics.lines().any(|l| l == "ayadns_cluster_connected 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ayadns_cluster_sync_age_seconds "),
        "{metrics}"
    );
    let token = nodes[1].site.path().join("admin.token");
    fs::write(&token, ADMIN_TOKEN).unwrap();
    let server = format!("http://{}", nodes[1].site.admin);
    let (status, out, err) = run_ayadns(
        None,
        &[
            "ctl",
            "--server",
            &server,
            "--token-file",
            token.to_str().unwrap(),
            "status",
        ],
    );
    assert!(status.success(), "{err}");
    assert!(
        out.contains("connected to etcd") && out.contains("ns3"),
        "{out}"
    );
}

#[test]
fn with_etcd_gone_nodes_keep_answering_refuse_changes_and_converge_when_it_is_back() {
    let mut etcd = EtcdCluster::start(1);
    let mut nodes: Vec<Node> = ["ns1", "ns2"]
        .iter()
        .map(|n| Node::new(n, &etcd, "/ayadns/t2/"))
        .collect();
    for n in &mut nodes {
        n.start();
    }
    let (code, _) = nodes[0].api(
        "POST",
        "/api/v1/overrides",
        Some(r#"{"target": "pool:eu-west", "action": "drain", "reason": "before the outage", "expires_in": "1h"}"#),
    );
    assert_eq!(code, 201);
    assert!(eventually(Duration::from_secs(2), || all(
        &nodes,
        "192.0.2.10"
    )));
    etcd.kill_all();
    // Queries keep their answers, never SERVFAIL (checked in `answer`).
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < Duration::from_secs(2) {
        for node in &nodes {
            assert_eq!(node.answer(), "192.0.2.10");
            n += 1;
        }
    }
    println!("{n} queries while etcd was down: every one answered, unchanged");
    // A change cannot be made, and says why.
    let t = Instant::now();
    let (code, body) = nodes[1].api(
        "POST",
        "/api/v1/overrides",
        Some(r#"{"target": "pool:us-east", "action": "drain", "reason": "during", "expires_in": "1h"}"#),
    );
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("etcd"),
        "{body}"
    );
    println!("a change while etcd was down: 503 in {:?}", t.elapsed());
    // A node restarted while etcd is down serves the last state from its first answer.
    nodes[1].proc.take().unwrap().stop();
    nodes[1].start();
    assert_eq!(
        nodes[1].answer(),
        "192.0.2.10",
        "restored from the state file"
    );
    // etcd back: a change on one node reaches the other, no restart.
    etcd.restart_all();
    etcd.wait_healthy(Duration::from_secs(10));
    let ok = eventually(Duration::from_secs(10), || {
        nodes[1]
            .api(
                "POST",
                "/api/v1/overrides",
                Some(r#"{"target": "pool:us-east", "action": "down", "reason": "after", "expires_in": "1h"}"#),
            )
            .0
            == 201
    });
    assert!(ok, "changes work again: {}", nodes[1].log());
    let (_, st) = nodes[0].api("GET", "/api/v1/overrides", None);
    let _ = READ_TOKEN;
    assert!(
        eventually(Duration::from_secs(3), || {
            let (_, st) = nodes[0].api("GET", "/api/v1/overrides", None);
            st["overrides"].as_array().map_or(0, |a| a.len()) == 2
        }),
        "node 1 converged: {st}"
    );
}

#[test]
fn health_is_decided_once_for_the_cluster_and_survives_a_paused_node() {
    use common::backend::{Backend, Mode};
    let etcd = EtcdCluster::start(1);
    let eu = Backend::new();
    let us = Backend::new();
    let pools = POOLS
        .replace(
            "addresses = [\"192.0.2.10\"]\n",
            &format!("addresses = [\"192.0.2.10\"]\ncheck = \"{}\"\n", us.url()),
        )
        .replace(
            "addresses = [\"198.51.100.10\"]\n",
            &format!(
                "addresses = [\"198.51.100.10\"]\ncheck = \"{}\"\n",
                eu.url()
            ),
        );
    let health = "probers = []\ninterval = \"200ms\"\ntimeout = \"150ms\"\nrise = 1\nfall = 1";
    let names = ["ns1", "ns2", "ns3"];
    let mut nodes: Vec<Node> = names
        .iter()
        .map(|n| Node::with(n, &etcd, "/ayadns/t3/", health, &pools))
        .collect();
    for n in &mut nodes {
        n.start();
    }
    assert!(eventually(Duration::from_secs(3), || all(
        &nodes,
        "198.51.100.10"
    )));
    // Probing is shared: three nodes in one region, but each target probed by one of them.
    let before = eu.hits();
    std::thread::sleep(Duration::from_millis(1000));
    let per_second = eu.hits() - before;
    println!("eu-west's backend: {per_second} probes per second from 3 nodes at a 200 ms interval");
    assert!(per_second <= 8, "{per_second} probes/s: not shared");
    // The backend dies: every node changes its answer, within a second of each other.
    eu.set(Mode::Status(503));
    let t0 = Instant::now();
    let mut moved: Vec<Option<Duration>> = vec![None; nodes.len()];
    while moved.iter().any(Option::is_none) && t0.elapsed() < Duration::from_secs(5) {
        for (i, n) in nodes.iter().enumerate() {
            if moved[i].is_none() && n.answer() == "192.0.2.10" {
                moved[i] = Some(t0.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let times: Vec<Duration> = moved.iter().map(|m| m.expect("every node moved")).collect();
    let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    println!("the nodes moved after {times:?} (spread {spread:?})");
    assert!(spread < Duration::from_secs(1), "spread {spread:?}");
    eu.set(Mode::Ok);
    assert!(eventually(Duration::from_secs(3), || all(
        &nodes,
        "198.51.100.10"
    )));
    // The node that probes eu-west stops (SIGSTOP): its lease ends, its votes go, another
    // node of the region takes the target over and the others decide without it.
    let owner = ayadns::cluster::rendezvous::owner(&names, &eu.url()).unwrap();
    let i = names.iter().position(|n| *n == owner).unwrap();
    let paused = nodes.remove(i);
    paused.proc.as_ref().unwrap().send_signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500)); // the 2 s lease runs out
    eu.set(Mode::Status(503));
    let took_over = eventually(Duration::from_secs(3), || all(&nodes, "192.0.2.10"));
    paused.proc.as_ref().unwrap().send_signal(libc::SIGCONT);
    assert!(
        took_over,
        "the target was not taken over: {}\n{}",
        nodes[0].log(),
        nodes[1].log()
    );
}
