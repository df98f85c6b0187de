//! What ayadns relies on from the `etcd-client` crate, checked against the etcd this project
//! ships with (Debian bookworm's 3.4.23; the crate's own CI tests 3.5+): transactions with
//! revision compares (also on absent keys), watches resumed from a revision, the compaction
//! error of a watch that starts below the compacted revision, progress requests, and leases
//! whose keys vanish when they expire.
#![cfg(feature = "cluster")]

#[path = "common/etcd.rs"]
mod etcd;

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn etcd34_txn_watch_resume_compaction_progress_lease() {
    let cluster = etcd::EtcdCluster::start(1);
    let mut c = Client::connect(cluster.endpoints(), None).await.unwrap();

    // Txn guarded by mod_revision; an absent key compares as mod_revision 0.
    let r1 = c.put("/t/a", "1", None).await.unwrap();
    let rev_a = r1.header().unwrap().revision();
    let ok = c
        .txn(
            Txn::new()
                .when([
                    Compare::mod_revision("/t/a", CompareOp::Equal, rev_a),
                    Compare::mod_revision("/t/absent", CompareOp::Equal, 0),
                ])
                .and_then([TxnOp::put("/t/a", "2", None), TxnOp::put("/t/b", "x", None)]),
        )
        .await
        .unwrap();
    assert!(ok.succeeded(), "first guarded txn wins");
    let stale = c
        .txn(
            Txn::new()
                .when([Compare::mod_revision("/t/a", CompareOp::Equal, rev_a)])
                .and_then([TxnOp::put("/t/a", "3", None)]),
        )
        .await
        .unwrap();
    assert!(!stale.succeeded(), "a stale guard loses");
    // Range compare: every key under /t/ older than the current revision + 1.
    let now = stale.header().unwrap().revision();
    let range_ok = c
        .txn(
            Txn::new().when([Compare::mod_revision("/t/", CompareOp::Less, now + 1).with_prefix()]),
        )
        .await
        .unwrap();
    assert!(range_ok.succeeded());

    // Watch from an old revision replays history in order.
    let mut w = c
        .watch(
            "/t/",
            Some(WatchOptions::new().with_prefix().with_start_revision(rev_a)),
        )
        .await
        .unwrap();
    let created = timeout(T, w.message()).await.unwrap().unwrap().unwrap();
    assert!(created.created(), "{created:?}");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let m = timeout(T, w.message()).await.unwrap().unwrap().unwrap();
        for e in m.events() {
            let kv = e.kv().unwrap();
            seen.push((kv.key_str().unwrap().to_string(), kv.mod_revision()));
        }
    }
    assert_eq!(seen[0], ("/t/a".to_string(), rev_a));
    assert_eq!(seen[1].0, "/t/a");
    assert_eq!(seen[2].0, "/t/b");

    // Progress request: 3.4 answers with an empty response carrying the current revision.
    w.request_progress().await.unwrap();
    let p = timeout(T, w.message()).await.unwrap().unwrap().unwrap();
    assert!(p.events().is_empty(), "{p:?}");
    assert_eq!(p.header().unwrap().revision(), now);

    // Compaction: a watch from below the compacted revision is cancelled with the revision.
    c.put("/t/c", "y", None).await.unwrap();
    let top = c
        .put("/t/c", "z", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    c.compact(top, None).await.unwrap();
    let mut w2 = c
        .watch(
            "/t/",
            Some(WatchOptions::new().with_prefix().with_start_revision(rev_a)),
        )
        .await
        .unwrap();
    let mut compacted = None;
    for _ in 0..3 {
        let m = timeout(T, w2.message()).await.unwrap().unwrap().unwrap();
        if m.canceled() || m.compact_revision() > 0 {
            compacted = Some((m.canceled(), m.compact_revision()));
            break;
        }
    }
    assert_eq!(
        compacted,
        Some((true, top)),
        "watch below compaction is cancelled"
    );
    // Reading at a compacted revision fails too.
    let e = c
        .get("/t/a", Some(GetOptions::new().with_revision(rev_a)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("compacted"), "{e}");

    // Leases: keys attached vanish after expiry (seen as a delete event).
    let lease = c.lease_grant(1, None).await.unwrap();
    assert!(lease.ttl() >= 1);
    c.put("/t/l", "v", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();
    let mut deleted = false;
    let end = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < end && !deleted {
        let m = timeout(T, w.message()).await.unwrap().unwrap().unwrap();
        deleted = m
            .events()
            .iter()
            .any(|e| e.event_type() == EventType::Delete && e.kv().unwrap().key() == b"/t/l");
    }
    assert!(deleted, "the leased key was deleted at expiry");
    // Keep-alive on an expired lease: etcd answers TTL 0, which the client reports as an error
    // when it opens the keep-alive stream (it sends a first keep-alive itself).
    let e = c.lease_keep_alive(lease.id()).await.unwrap_err();
    assert!(e.to_string().contains("lease not found"), "{e}");
    // A put attached to it is refused.
    let e = c
        .put("/t/l", "v", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("lease not found"), "{e}");
}
