//! `[[notify]]` in a cluster: two real ayadns nodes on a real etcd member, both configured with
//! the same webhook. An event reaches the webhook once, not once per node: a transition (every
//! node computes it) from its target's owner, a drill's start from the node that took it, its
//! end from the node whose commit won; the cluster link is each node's own.
#![cfg(feature = "cluster")]

mod common;
#[path = "common/etcd.rs"]
mod etcd;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/receiver.rs"]
mod receiver;

use ayadns::api::notify::EventKind;
use common::backend::{Backend, Mode, eventually};
use etcd::EtcdCluster;
use nodes::Node;
use receiver::{Receiver, SECRET};
use std::time::Duration;

#[test]
fn each_event_reaches_the_webhook_once_from_a_cluster() {
    let mut etcd = EtcdCluster::start(1);
    let backend = Backend::new();
    let receiver = Receiver::start(common::unique_addr());
    let pools = format!(
        "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n\
         [[pool.endpoint]]\nname = \"us-east-1\"\naddresses = [\"192.0.2.10\"]\ncheck = \"{check}\"\n\
         [[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n\
         [[pool.endpoint]]\nname = \"eu-west-1\"\naddresses = [\"198.51.100.10\"]\n\
         [[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"us-east\", \"eu-west\"]\n\
         [[notify]]\nurl = \"{url}\"\nevents = [\"transitions\", \"drills\", \"cluster\"]\n\
         secret_file = \"hook.secret\"\nbackoff = \"100ms\"\nbackoff_max = \"200ms\"\n",
        check = backend.url(),
        url = receiver.url(),
    );
    let health = "probers = []\ninterval = \"200ms\"\ntimeout = \"150ms\"\nrise = 2\nfall = 3";
    let mut nodes: Vec<Node> = ["ns1", "ns2"]
        .iter()
        .map(|n| Node::with(n, &etcd, "/ayadns/notify/", health, &pools))
        .collect();
    for n in &mut nodes {
        std::fs::write(n.site.path().join("hook.secret"), SECRET).unwrap();
        n.start();
    }
    // Both nodes see each other before anything happens (the owner rule needs the members).
    assert!(eventually(Duration::from_secs(10), || {
        nodes.iter().all(|n| {
            let (_, st) = n.api("GET", "/api/v1/status", None);
            st["cluster"]["nodes"].as_array().map_or(0, Vec::len) == 2
        })
    }));

    // A transition: both nodes compute it, one tells.
    backend.set(Mode::Refuse);
    let down = receiver
        .wait_for(EventKind::EndpointDown, Duration::from_secs(15))
        .expect("endpoint.down delivered");
    assert!(down.signed_with(SECRET));
    let sender = down.event().node.expect("a cluster event names its node");
    assert!(["ns1", "ns2"].contains(&sender.as_str()), "{sender}");
    assert!(eventually(Duration::from_secs(10), || nodes
        .iter()
        .all(|n| n.answer() == "198.51.100.10")));

    // A drill started on ns2 is told by ns2; its end, with both clocks past it, once.
    let (code, d) = nodes[1].api(
        "POST",
        "/api/v1/drills",
        Some(r#"{"fail": ["pool:eu-west"], "reason": "cluster drill", "duration": "1m"}"#),
    );
    assert_eq!(code, 201, "{d}");
    let started = receiver
        .wait_for(EventKind::DrillStarted, Duration::from_secs(10))
        .expect("drill.started delivered");
    assert_eq!(started.event().node.as_deref(), Some("ns2"));
    for n in &nodes {
        n.advance("61s");
    }
    let ended = receiver
        .wait_for(EventKind::DrillEnded, Duration::from_secs(10))
        .expect("drill.ended delivered");
    assert!(ended.event().detail.contains("reverted by itself"));

    // Let any repeat arrive before counting.
    std::thread::sleep(Duration::from_secs(2));
    for kind in [
        EventKind::EndpointDown,
        EventKind::DrillStarted,
        EventKind::DrillEnded,
    ] {
        let got = receiver.of_kind(kind);
        assert_eq!(got.len(), 1, "{kind:?} once: {got:?}");
    }
    let pool_down: Vec<_> = receiver
        .of_kind(EventKind::PoolDown)
        .into_iter()
        .map(|d| d.event().target)
        .collect();
    let mut unique = pool_down.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        pool_down.len(),
        "each pool.down once: {pool_down:?}"
    );

    // etcd goes away: each node tells of its own link.
    etcd.kill_all();
    assert!(
        eventually(Duration::from_secs(20), || {
            let mut from: Vec<String> = receiver
                .of_kind(EventKind::ClusterDisconnected)
                .into_iter()
                .filter_map(|d| d.event().node)
                .collect();
            from.sort();
            from == ["ns1", "ns2"]
        }),
        "{:?}",
        receiver.all()
    );
}
