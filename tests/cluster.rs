//! The cluster module (`ayadns::cluster`) against real etcd (Debian's `etcd-server`) on
//! loopback: atomic commits with their audit entries, races with exactly one winner, the
//! watcher (speed, resume, compaction, etcd down and back), votes on leases, coarse latency,
//! exactly-once expiry, and the local cache that serves a node restarted while etcd is down.
#![cfg(feature = "cluster")]

#[path = "common/etcd.rs"]
mod etcd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ayadns::cluster::{
    Cluster, ClusterError, ClusterView, ControlOp, Guard, LocalCache, Restored, Settings, Verdict,
    rendezvous,
};
use etcd::EtcdCluster;
use serde_json::json;
use tokio::sync::watch;

/// Settings for `node` in `region` on `etcd`, under a prefix of the test's own, with a 2 s
/// lease and a 1 s request timeout (faults show quickly).
fn settings(etcd: &EtcdCluster, node: &str, region: &str) -> Settings {
    let mut s = Settings::new(node, region, etcd.endpoints());
    s.prefix = "/ayadns/test/".into();
    s.lease = Duration::from_secs(2);
    s.request_timeout = Duration::from_secs(1);
    s
}

/// A put of `value` at control `key`.
fn put(key: &str, value: impl serde::Serialize) -> ControlOp {
    ControlOp::put(key, &value).expect("serializable")
}

/// Commits `ops` unconditionally with an empty audit entry.
async fn commit(c: &Cluster, ops: &[ControlOp]) -> Result<i64, ClusterError> {
    c.commit(ops, &json!({}), &Guard::Always).await
}

/// A commit goes through and comes back in the node's own view, its registration with it.
async fn round_trip(c: &Cluster, what: &str) {
    let rev = commit(c, &[put("k", 1)]).await.unwrap();
    let mut rx = c.subscribe();
    wait_view(&mut rx, Duration::from_secs(3), what, |v| {
        v.revision() >= rev && v.nodes().contains_key(c.node())
    })
    .await;
}

fn start(s: Settings) -> Cluster {
    Cluster::start(s, None).expect("start the cluster handle")
}

/// Waits up to `within` for a view that satisfies `ok`; panics with the last view otherwise.
async fn wait_view(
    rx: &mut watch::Receiver<Arc<ClusterView>>,
    within: Duration,
    what: &str,
    ok: impl Fn(&ClusterView) -> bool,
) -> Arc<ClusterView> {
    let end = tokio::time::Instant::now() + within;
    loop {
        {
            let v = rx.borrow_and_update();
            if ok(&v) {
                return v.clone();
            }
        }
        match tokio::time::timeout_at(end, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!(
                "no view with {what} within {within:?}; last: {:#?}",
                rx.borrow().raw().keys().collect::<Vec<_>>()
            ),
        }
    }
}

/// Waits up to `within` for `ok()`, polling.
async fn wait_until(within: Duration, what: &str, ok: impl Fn() -> bool) {
    let end = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < end, "not {what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn has(v: &ClusterView, key: &str) -> bool {
    v.control().contains_key(key)
}

#[tokio::test]
async fn cluster_commit_writes_state_and_audit_together() {
    let etcd = EtcdCluster::start(1);
    let a = start(settings(&etcd, "ns1", "eu"));
    let mut rx = a.subscribe();

    let ops = [
        put(
            "overrides/o1",
            json!({"target": "pool:eu-west", "action": "drain"}),
        ),
        put(
            "overrides/o2",
            json!({"target": "endpoint:web1", "action": "down"}),
        ),
    ];
    let rev = a
        .commit(&ops, &json!({"op": "drain", "by": "alice"}), &Guard::Always)
        .await
        .unwrap();
    assert!(rev > 0);
    let v = wait_view(&mut rx, Duration::from_secs(3), "both overrides", |v| {
        v.revision() >= rev
    })
    .await;
    assert_eq!(v.control()["overrides/o1"].value["action"], "drain");
    assert_eq!(
        v.control()["overrides/o1"].mod_revision,
        rev,
        "one revision for all"
    );
    assert_eq!(v.control()["overrides/o2"].mod_revision, rev);
    let trail = a.audit_trail(10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        trail[0].revision, rev,
        "the audit entry is in the same transaction"
    );
    assert_eq!(trail[0].node, "ns1");
    assert_eq!(trail[0].entry["by"], "alice");
    assert!(
        v.raw().keys().all(|k| !k.starts_with("audit/")),
        "no audit in the view"
    );

    // A failed guard writes neither the state nor the audit entry.
    let e = a
        .commit(
            &[ControlOp::delete("overrides/o1")],
            &json!({"op": "undrain"}),
            &Guard::UnchangedSince(rev - 1),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ClusterError::Conflict), "{e}");
    assert_eq!(a.audit_trail(10).await.unwrap().len(), 1);
    // Bad input is refused before anything is sent.
    for bad in ["", "a//b", "with space"] {
        let e = commit(&a, &[ControlOp::delete(bad)]).await.unwrap_err();
        assert!(matches!(e, ClusterError::Invalid(_)), "{bad:?}: {e}");
    }
    let too_many: Vec<_> = (0..101)
        .map(|i| ControlOp::delete(format!("k{i}")))
        .collect();
    let e = commit(&a, &too_many).await.unwrap_err();
    assert!(e.to_string().contains("at most 100"), "{e}");
    let big = put("big", "x".repeat(1_100_000));
    let e = commit(&a, &[big]).await.unwrap_err();
    assert!(matches!(e, ClusterError::Invalid(_)), "{e}");
    assert_eq!(
        a.audit_trail(10).await.unwrap().len(),
        1,
        "nothing else committed"
    );

    // A delete and a put in one commit land together.
    let rev2 = a
        .commit(
            &[
                ControlOp::delete("overrides/o1"),
                put("drills/d1", json!({"fail": ["pool:eu-west"]})),
            ],
            &json!({"op": "drill"}),
            &Guard::UnchangedSince(rev),
        )
        .await
        .unwrap();
    let v = wait_view(&mut rx, Duration::from_secs(3), "the drill", |v| {
        v.revision() >= rev2
    })
    .await;
    assert!(!has(&v, "overrides/o1") && has(&v, "drills/d1") && has(&v, "overrides/o2"));
    assert_eq!(v.control_under("overrides/").count(), 1);
    let trail = a.audit_trail(1).await.unwrap();
    assert_eq!(trail.len(), 1, "limit");
    assert_eq!(trail[0].entry["op"], "drill", "newest first");
    a.shutdown().await;
}

#[tokio::test]
async fn cluster_racing_commits_have_one_winner() {
    let etcd = EtcdCluster::start(1);
    let a = start(settings(&etcd, "ns1", "eu"));
    let b = start(settings(&etcd, "ns2", "us"));
    let base = commit(&a, &[put("x", 0)]).await.unwrap();
    for round in 0..10 {
        let since = a
            .commit(&[], &json!({"round": round}), &Guard::Always)
            .await
            .unwrap();
        let op_a = [put("x", format!("a{round}"))];
        let op_b = [put("x", format!("b{round}"))];
        let ja = json!({"by": "a"});
        let jb = json!({"by": "b"});
        let ga = Guard::UnchangedSince(since);
        let gb = Guard::UnchangedSince(since);
        let (ra, rb) = tokio::join!(a.commit(&op_a, &ja, &ga), b.commit(&op_b, &jb, &gb));
        let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {ra:?} {rb:?}");
        for r in [&ra, &rb] {
            if let Err(e) = r {
                assert!(matches!(e, ClusterError::Conflict), "{e}");
            }
        }
    }
    // Creating the same key (guard: absent) races the same way.
    let guard = Guard::KeysAt(vec![("drills/d".into(), 0)]);
    let pa = [put("drills/d", "a")];
    let pb = [put("drills/d", "b")];
    let empty = json!({});
    let (ra, rb) = tokio::join!(a.commit(&pa, &empty, &guard), b.commit(&pb, &empty, &guard));
    assert_eq!(
        [&ra, &rb].iter().filter(|r| r.is_ok()).count(),
        1,
        "{ra:?} {rb:?}"
    );
    // 10 rounds × (1 marker + 1 winner) + the base + the drill.
    assert_eq!(a.audit_trail(100).await.unwrap().len(), 22);
    assert!(base > 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn cluster_expiry_happens_once() {
    let etcd = EtcdCluster::start(1);
    let nodes: Vec<Cluster> = ["ns1", "ns2", "ns3"]
        .iter()
        .map(|n| start(settings(&etcd, n, "eu")))
        .collect();
    let rev = nodes[0]
        .commit(
            &[put("overrides/o", json!({"expires_at": 1}))],
            &json!({"op": "create"}),
            &Guard::Always,
        )
        .await
        .unwrap();
    let audit = json!({"op": "expire"});
    let (r1, r2, r3) = tokio::join!(
        nodes[0].delete_if_unchanged("overrides/o", rev, &audit),
        nodes[1].delete_if_unchanged("overrides/o", rev, &audit),
        nodes[2].delete_if_unchanged("overrides/o", rev, &audit),
    );
    let results = [r1.unwrap(), r2.unwrap(), r3.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_some()).count(),
        1,
        "{results:?}"
    );
    let trail = nodes[0].audit_trail(10).await.unwrap();
    let expiries = trail.iter().filter(|r| r.entry["op"] == "expire").count();
    assert_eq!(expiries, 1, "one audit entry for one expiry");
    // Too late, or changed since: no-op.
    assert_eq!(
        nodes[1]
            .delete_if_unchanged("overrides/o", rev, &audit)
            .await
            .unwrap(),
        None
    );
    let e = nodes[1]
        .delete_if_unchanged("overrides/o", 0, &audit)
        .await
        .unwrap_err();
    assert!(matches!(e, ClusterError::Invalid(_)), "{e}");
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn cluster_watcher_sees_another_nodes_commit_fast() {
    let etcd = EtcdCluster::start(1);
    let a = start(settings(&etcd, "ns1", "eu"));
    let b = start(settings(&etcd, "ns2", "us"));
    let mut rx = b.subscribe();
    wait_view(&mut rx, Duration::from_secs(5), "both nodes", |v| {
        v.nodes().len() == 2
    })
    .await;
    wait_until(Duration::from_secs(3), "connected", || {
        b.counters().connected()
    })
    .await;

    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let key = format!("overrides/fast{i}");
        let t0 = Instant::now();
        let rev = commit(&a, &[ControlOp::put(key.as_str(), &i).unwrap()])
            .await
            .unwrap();
        let v = wait_view(&mut rx, Duration::from_secs(2), &key, |v| has(v, &key)).await;
        worst = worst.max(t0.elapsed());
        assert!(v.revision() >= rev, "{} < {rev}", v.revision());
        assert!(b.counters().revision() >= rev);
        assert_eq!(v.control_revision(), rev);
    }
    eprintln!("commit on ns1 → view on ns2: worst {worst:?}");
    // Each node tells which control state it applies: both reach the last commit.
    let last = b.view().control_revision();
    assert!(last > 0);
    wait_view(
        &mut rx,
        Duration::from_secs(3),
        "both nodes at the last commit",
        |v| v.nodes().len() == 2 && v.nodes().values().all(|n| n.control_revision == last),
    )
    .await;
    assert!(
        worst < Duration::from_millis(300),
        "propagation took {worst:?}"
    );
    assert!(b.counters().sync_age().unwrap() < Duration::from_secs(2));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn cluster_watcher_resumes_and_relists_after_compaction() {
    let etcd = EtcdCluster::start(1);
    let writer = start(settings(&etcd, "w", "eu"));
    let s = settings(&etcd, "ns1", "eu");
    let a = start(s.clone());
    let mut rx = a.subscribe();
    for k in ["keep", "gone", "changed"] {
        commit(&writer, &[put(k, 1)]).await.unwrap();
    }
    let seen = wait_view(&mut rx, Duration::from_secs(3), "three keys", |v| {
        has(v, "keep") && has(v, "gone") && has(v, "changed")
    })
    .await;
    // Pause this node's consumption: stop its tasks, keep its last view.
    a.abandon().await;

    // 1. Resume: changes while away, deletes included, arrive from revision + 1.
    commit(&writer, &[ControlOp::delete("gone"), put("changed", 2)])
        .await
        .unwrap();
    let restored = Restored {
        view: (*seen).clone(),
        synced_at_ms: 1,
    };
    let a2 = Cluster::start(s.clone(), Some(restored)).unwrap();
    assert_eq!(
        a2.view().revision(),
        seen.revision(),
        "serves the old view at once"
    );
    let mut rx2 = a2.subscribe();
    let v = wait_view(&mut rx2, Duration::from_secs(3), "the changes", |v| {
        !has(v, "gone") && v.control().get("changed").is_some_and(|e| e.value == 2)
    })
    .await;
    assert!(has(&v, "keep"));
    let resumed = (*v).clone();
    a2.abandon().await;

    // 2. Compaction past the view: the resumed watch fails, the watcher lists again.
    commit(&writer, &[ControlOp::delete("keep"), put("new", 3)])
        .await
        .unwrap();
    let top = commit(&writer, &[]).await.unwrap();
    let mut raw = etcd_client::Client::connect(etcd.endpoints(), None)
        .await
        .unwrap();
    raw.compact(top, None).await.unwrap();
    let a3 = Cluster::start(
        s.clone(),
        Some(Restored {
            view: resumed,
            synced_at_ms: 1,
        }),
    )
    .unwrap();
    let mut rx3 = a3.subscribe();
    let v = wait_view(
        &mut rx3,
        Duration::from_secs(3),
        "the state after compaction",
        |v| v.revision() >= top,
    )
    .await;
    assert!(
        !has(&v, "keep") && !has(&v, "gone") && has(&v, "new"),
        "{:?}",
        v.control()
    );
    // It equals what a fresh node lists.
    let fresh = start(settings(&etcd, "fresh", "eu"));
    let mut rxf = fresh.subscribe();
    let f = wait_view(&mut rxf, Duration::from_secs(3), "a listing", |v| {
        v.revision() >= top
    })
    .await;
    assert_eq!(f.control(), v.control());
    // And it keeps watching.
    let rev = commit(&writer, &[put("after", 4)]).await.unwrap();
    wait_view(&mut rx3, Duration::from_secs(2), "a later commit", |v| {
        v.revision() >= rev
    })
    .await;
    for c in [&writer, &a3, &fresh] {
        c.shutdown().await;
    }
}

#[tokio::test]
async fn cluster_survives_etcd_down_and_converges_when_back() {
    let mut etcd = EtcdCluster::start(3);
    let a = start(settings(&etcd, "ns1", "eu"));
    let b = start(settings(&etcd, "ns2", "us"));
    let mut rxb = b.subscribe();
    let rev = commit(&a, &[put("overrides/o", "drain")]).await.unwrap();
    wait_view(&mut rxb, Duration::from_secs(3), "the override", |v| {
        v.revision() >= rev
    })
    .await;
    wait_view(&mut rxb, Duration::from_secs(3), "both nodes", |v| {
        v.nodes().len() == 2
    })
    .await;
    let before = b.view();

    etcd.kill_all();
    let t0 = Instant::now();
    let e = commit(&a, &[put("overrides/p", 1)]).await.unwrap_err();
    let took = t0.elapsed();
    assert!(e.is_unavailable(), "{e}");
    assert!(e.to_string().starts_with("etcd is unreachable ("), "{e}");
    assert!(
        took < Duration::from_millis(1500),
        "commit failed after {took:?}"
    );
    let e = b
        .publish_vote("web1", "us", Verdict::Down)
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    wait_until(Duration::from_secs(5), "disconnected", || {
        !b.counters().connected()
    })
    .await;
    // The last view stays.
    let v = b.view();
    assert_eq!(*v, *before);
    assert_eq!(b.counters().revision(), before.revision());
    assert!(has(&v, "overrides/o"));

    etcd.restart_all();
    wait_until(Duration::from_secs(8), "reconnected", || {
        a.counters().connected() && b.counters().connected()
    })
    .await;
    // The vote kept while etcd was down is written now; a commit goes through and reaches b.
    let rev2 = commit(&a, &[put("overrides/p", 2)]).await.unwrap();
    let v = wait_view(
        &mut rxb,
        Duration::from_secs(3),
        "the vote and the commit",
        |v| v.revision() >= rev2 && v.votes_for("web1").any(|x| x.node == "ns2"),
    )
    .await;
    assert!(has(&v, "overrides/p"));
    assert_eq!(
        v.nodes().len(),
        2,
        "both still registered: {:?}",
        v.nodes().keys()
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn cluster_votes_live_on_the_lease() {
    let etcd = EtcdCluster::start(1);
    let a = start(settings(&etcd, "ns1", "eu"));
    let b = start(settings(&etcd, "ns2", "eu"));
    let c = start(settings(&etcd, "ns3", "us"));
    let mut rx = c.subscribe();
    wait_until(Duration::from_secs(3), "leases", || {
        a.lease_id().is_some() && b.lease_id().is_some()
    })
    .await;
    let target = "http://127.0.0.1:8080/health host=www";
    assert!(a.publish_vote(target, "eu", Verdict::Down).await.unwrap());
    assert!(
        !a.publish_vote(target, "eu", Verdict::Down).await.unwrap(),
        "unchanged"
    );
    assert!(b.publish_vote(target, "eu", Verdict::Up).await.unwrap());
    assert!(
        a.publish_vote(target, "agent-ap", Verdict::Up)
            .await
            .unwrap(),
        "relayed"
    );
    let v = wait_view(&mut rx, Duration::from_secs(3), "three votes", |v| {
        v.votes_for(target).count() == 3 && v.nodes().len() == 3
    })
    .await;
    let down: Vec<_> = v
        .votes_for(target)
        .filter(|x| x.verdict == Verdict::Down)
        .collect();
    assert_eq!(down.len(), 1);
    assert_eq!(
        (down[0].node.as_str(), down[0].vantage.as_str()),
        ("ns1", "eu")
    );
    assert_eq!(v.members("eu"), ["ns1", "ns2"]);
    let owners: Vec<_> = (0..50)
        .map(|i| rendezvous::owner(&v.members("eu"), &format!("t{i}")).unwrap())
        .collect();
    assert!(owners.contains(&"ns1") && owners.contains(&"ns2"));

    // ns1 stops without a word: its votes and registration expire with its 2 s lease.
    let t0 = Instant::now();
    a.abandon().await;
    let v = wait_view(&mut rx, Duration::from_secs(5), "ns1 gone", |v| {
        !v.nodes().contains_key("ns1") && v.votes().all(|x| x.node != "ns1")
    })
    .await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1000),
        "expired after {took:?}, before the lease"
    );
    assert_eq!(v.votes_for(target).count(), 1);
    assert_eq!(v.members("eu"), ["ns2"]);
    // Every target now belongs to the one member left.
    assert!((0..50).all(|i| rendezvous::owner(&v.members("eu"), &format!("t{i}")) == Some("ns2")));

    // A clean shutdown removes votes at once.
    let t0 = Instant::now();
    b.shutdown().await;
    wait_view(&mut rx, Duration::from_secs(1), "ns2 gone", |v| {
        v.votes().count() == 0
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(1));
    c.shutdown().await;
}

#[tokio::test]
async fn cluster_latency_is_published_coarsely() {
    let etcd = EtcdCluster::start(1);
    let mut s = settings(&etcd, "ns1", "eu");
    s.latency_interval = Duration::from_millis(800);
    let a = start(s);
    let mut rx = a.subscribe();
    wait_until(Duration::from_secs(3), "a lease", || a.lease_id().is_some()).await;
    let ms = Duration::from_millis;
    assert!(
        a.publish_latency("eu-west", "eu", ms(100)).await.unwrap(),
        "first"
    );
    assert!(
        !a.publish_latency("eu-west", "eu", ms(105)).await.unwrap(),
        "5 %: not worth it"
    );
    assert!(
        !a.publish_latency("eu-west", "eu", ms(150)).await.unwrap(),
        "too soon"
    );
    let v = wait_view(&mut rx, Duration::from_secs(2), "the first report", |v| {
        v.latency().count() == 1
    })
    .await;
    assert_eq!(v.latency().next().unwrap().rtt_ms, 100.0);
    // The held-back value is written once the interval has passed, by the background task.
    let t0 = Instant::now();
    let v = wait_view(&mut rx, Duration::from_secs(3), "the newer report", |v| {
        v.latency().next().is_some_and(|l| l.rtt_ms == 150.0)
    })
    .await;
    assert!(t0.elapsed() >= ms(400), "rate limit not kept");
    assert_eq!(v.latency().count(), 1);
    let e = a
        .publish_latency("eu-west", "eu", Duration::from_secs(7200))
        .await
        .unwrap_err();
    assert!(matches!(e, ClusterError::Invalid(_)), "{e}");
    a.shutdown().await;
}

#[tokio::test]
async fn cluster_restart_while_etcd_is_down_serves_the_cached_view() {
    let mut etcd = EtcdCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let s = settings(&etcd, "ns1", "eu");
    let a = start(s.clone());
    let writer = LocalCache::open(&db, &s.prefix)
        .unwrap()
        .spawn_writer(a.subscribe());
    let rev = commit(&a, &[put("drills/d1", json!({"fail": ["pool:eu-west"]}))])
        .await
        .unwrap();
    let reader = LocalCache::open(&db, &s.prefix).unwrap();
    wait_until(Duration::from_secs(3), "saved", || {
        reader
            .load()
            .unwrap()
            .is_some_and(|r| r.view.revision() >= rev)
    })
    .await;
    a.shutdown().await;
    drop(a);
    writer.await.unwrap();

    etcd.kill_all();
    let restored = LocalCache::open(&db, &s.prefix)
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    let a = Cluster::start(s.clone(), Some(restored)).unwrap();
    // From the first look, before etcd is reachable: the drill is there.
    let v = a.view();
    assert!(v.revision() >= rev);
    assert_eq!(v.control()["drills/d1"].value["fail"][0], "pool:eu-west");
    assert_eq!(a.counters().revision(), v.revision());
    assert!(!a.counters().connected());
    assert!(a.counters().sync_age().is_some());

    etcd.restart_all();
    wait_until(Duration::from_secs(8), "reconnected", || {
        a.counters().connected()
    })
    .await;
    let mut rx = a.subscribe();
    let v = wait_view(&mut rx, Duration::from_secs(3), "registered again", |v| {
        v.nodes().contains_key("ns1")
    })
    .await;
    assert!(has(&v, "drills/d1"));
    a.shutdown().await;
}

#[tokio::test]
async fn cluster_one_paused_member_does_not_stop_the_cluster() {
    // SIGSTOP keeps the member's sockets open and answers nothing: the worst kind of failure
    // for a client (no error, just silence). Each member in turn, the leader included.
    let mut etcd = EtcdCluster::start(3);
    let a = start(settings(&etcd, "ns1", "eu"));
    let b = start(settings(&etcd, "ns2", "us"));
    let mut rxb = b.subscribe();
    wait_view(&mut rxb, Duration::from_secs(3), "both nodes", |v| {
        v.nodes().len() == 2
    })
    .await;
    for victim in 0..3 {
        etcd.pause(victim);
        let t0 = Instant::now();
        let mut failures = 0;
        for i in 0..5 {
            let key = format!("k{victim}-{i}");
            let op = [put(&key, i)];
            let rev = loop {
                match commit(&a, &op).await {
                    Ok(rev) => break rev,
                    Err(e) => {
                        assert!(e.is_unavailable(), "{e}");
                        failures += 1;
                        eprintln!(
                            "member {victim} paused, commit {i}: {e} after {:?}",
                            t0.elapsed()
                        );
                        assert!(
                            t0.elapsed() < Duration::from_secs(8),
                            "no commit with member {victim} paused: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            wait_view(&mut rxb, Duration::from_secs(5), &key, |v| {
                v.revision() >= rev
            })
            .await;
        }
        eprintln!(
            "member {victim} paused: 5 commits seen by ns2 in {:?}, {failures} failed tries",
            t0.elapsed()
        );
        // Requests fail over to a live member, and wait out the election after a paused
        // leader (within three request timeouts: one election on a busy machine may take
        // longer, hence one failed try allowed).
        assert!(
            failures <= 1,
            "{failures} commits failed with member {victim} paused"
        );
        etcd.resume(victim);
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn cluster_over_tls_with_a_client_certificate() {
    let pki = etcd::TestPki::new();
    let etcd = EtcdCluster::start_tls(1, &pki.server);
    assert!(etcd.endpoints()[0].starts_with("https://"));
    let mut s = settings(&etcd, "ns1", "eu");
    s.ca = Some(pki.ca.clone());
    s.identity = Some((pki.client_cert.clone(), pki.client_key.clone()));
    let a = start(s.clone());
    round_trip(&a, "the commit over TLS").await;
    a.shutdown().await;

    // Without the client certificate etcd refuses the handshake: unreachable, not a panic.
    let mut no_cert = s.clone();
    no_cert.identity = None;
    let b = start(no_cert);
    let e = commit(&b, &[]).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    b.shutdown().await;

    // A missing CA file is an error at start, naming the file.
    let mut missing = s.clone();
    missing.ca = Some(pki.ca.with_file_name("nope.pem"));
    let e = Cluster::start(missing, None).unwrap_err();
    assert!(e.to_string().contains("nope.pem"), "{e}");
}

#[tokio::test]
async fn cluster_with_etcd_authentication() {
    let etcd = EtcdCluster::start(1);
    let mut root = etcd_client::Client::connect(etcd.endpoints(), None)
        .await
        .unwrap();
    root.user_add("root", "rootpw", None).await.unwrap();
    root.user_grant_role("root", "root").await.unwrap();
    root.user_add("ayadns", "s3cret", None).await.unwrap();
    root.role_add("ayadns").await.unwrap();
    root.role_grant_permission(
        "ayadns",
        etcd_client::Permission::read_write("/ayadns/test/").with_prefix(),
    )
    .await
    .unwrap();
    root.user_grant_role("ayadns", "ayadns").await.unwrap();
    root.auth_enable().await.unwrap();

    let mut s = settings(&etcd, "ns1", "eu");
    s.user = Some(("ayadns".into(), "s3cret".into()));
    let a = start(s.clone());
    round_trip(&a, "the commit with a user").await;
    assert!(format!("{s:?}").contains("ayadns") && !format!("{s:?}").contains("s3cret"));
    a.shutdown().await;

    // A wrong password is refused, and says so.
    s.user = Some(("ayadns".into(), "wrong".into()));
    let b = start(s.clone());
    let e = commit(&b, &[]).await.unwrap_err();
    assert!(matches!(e, ClusterError::Refused(_)), "{e}");
    assert!(e.to_string().contains("authentication failed"), "{e}");
    b.shutdown().await;
    // Without a user: no permission.
    s.user = None;
    let c = start(s);
    let e = commit(&c, &[]).await.unwrap_err();
    assert!(matches!(e, ClusterError::Refused(_)), "{e}");
    c.shutdown().await;
}

#[tokio::test]
async fn cluster_a_lost_lease_is_replaced_and_votes_written_again() {
    let etcd = EtcdCluster::start(1);
    let a = start(settings(&etcd, "ns1", "eu"));
    let mut rx = a.subscribe();
    wait_until(Duration::from_secs(3), "a lease", || a.lease_id().is_some()).await;
    let first = a.lease_id().unwrap();
    assert!(a.publish_vote("web1", "eu", Verdict::Down).await.unwrap());
    assert!(
        a.publish_latency("eu-west", "eu", Duration::from_millis(20))
            .await
            .unwrap()
    );
    wait_view(&mut rx, Duration::from_secs(3), "the vote", |v| {
        v.votes().count() == 1
    })
    .await;

    // The lease disappears behind the node's back (as when etcd expired it while this node
    // could not reach it): its keys go with it ...
    let mut raw = etcd_client::Client::connect(etcd.endpoints(), None)
        .await
        .unwrap();
    raw.lease_revoke(first).await.unwrap();
    wait_view(&mut rx, Duration::from_secs(2), "the keys gone", |v| {
        v.votes().count() == 0 && v.nodes().is_empty()
    })
    .await;
    // ... and come back under a new lease, without anyone publishing again.
    let v = wait_view(&mut rx, Duration::from_secs(5), "the keys back", |v| {
        v.votes().count() == 1 && v.latency().count() == 1 && v.nodes().contains_key("ns1")
    })
    .await;
    assert_ne!(a.lease_id(), Some(first));
    assert_eq!(v.raw()["nodes/ns1"].lease, a.lease_id().unwrap());
    assert_eq!(v.votes().next().unwrap().verdict, Verdict::Down);
    a.shutdown().await;
}

/// The audit trail in etcd is kept bounded: by age, then by count, oldest first.
#[tokio::test]
async fn cluster_audit_trail_is_pruned_by_age_and_count() {
    let etcd = EtcdCluster::start(1);
    let c = start(settings(&etcd, "ns1", "eu"));
    for i in 0..12 {
        c.commit(&[], &json!({ "n": i }), &Guard::Always)
            .await
            .unwrap();
    }
    assert_eq!(c.audit_trail(100).await.unwrap().len(), 12);
    // Nothing is older than a minute ago; keep the newest 5.
    let minute_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 60_000;
    let gone = c.prune_audit(minute_ago, 5).await.unwrap();
    assert_eq!(gone, 7);
    let left: Vec<i64> = c
        .audit_trail(100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.entry["n"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [11, 10, 9, 8, 7], "the newest stay");
    // Everything before now goes.
    let now = minute_ago + 120_000;
    assert_eq!(c.prune_audit(now, 100).await.unwrap(), 5);
    assert!(c.audit_trail(100).await.unwrap().is_empty());
    c.shutdown().await;
}
