//! The watcher: keeps this node's [`ClusterView`] equal to etcd's state under the prefix.
//!
//! It lists the prefix (at one revision, in pages), then watches from that revision + 1 and
//! applies every event, publishing the whole view after each etcd response — all events of a
//! transaction come in one response, so no reader ever sees half a commit. When the
//! connection drops it keeps the last view (the node goes on serving it), retries with
//! backoff, and resumes the watch from its revision + 1, so nothing is missed; when etcd has
//! compacted that revision away (ErrCompacted: the watch is cancelled with a compact
//! revision), or etcd is behind the view (restored from a backup), it lists again and
//! replaces the view. A view restored from the local cache starts the same way: resume, or
//! list when compacted.
//!
//! Every second it asks etcd for a progress notification: the answer proves the view is
//! current (the sync age); three seconds of silence count as a lost connection even when TCP
//! says nothing (a paused member).

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, KeyValue, WatchOptions};
use tokio::time::Instant;

use super::node::{Backoff, Inner};
use super::{ClusterError, ClusterView, RawEntry, keys};

/// Keys per page when listing.
const PAGE: i64 = 500;
/// How often the watcher asks etcd to confirm progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Silence after which the watch counts as lost.
const SILENCE: Duration = Duration::from_secs(3);

enum End {
    Cancelled,
    Relist(String),
    Lost(String),
}

pub(crate) async fn run(inner: Arc<Inner>, mut view: ClusterView) {
    let mut backoff = Backoff::new();
    let mut relist = view.revision() == 0;
    loop {
        if inner.cancel.is_cancelled() {
            return;
        }
        if relist {
            match list(&inner).await {
                Ok(v) => {
                    tracing::debug!(
                        revision = v.revision(),
                        keys = v.raw().len(),
                        "cluster: listed"
                    );
                    view = v;
                    publish(&inner, &view);
                    relist = false;
                }
                Err(e) => {
                    lost(&inner, &e.to_string());
                    if !backoff.wait(&inner.cancel).await {
                        return;
                    }
                    continue;
                }
            }
        }
        match session(&inner, &mut view, &mut backoff).await {
            End::Cancelled => return,
            End::Relist(why) => {
                tracing::info!(reason = %why, "cluster: listing the state again");
                relist = true;
            }
            End::Lost(why) => {
                lost(&inner, &why);
                if !backoff.wait(&inner.cancel).await {
                    return;
                }
            }
        }
    }
}

fn lost(inner: &Inner, why: &str) {
    if inner.counters.connected() {
        tracing::warn!(reason = %why, "cluster: lost etcd; serving the last known state");
    } else {
        tracing::debug!(reason = %why, "cluster: etcd still unreachable");
    }
    inner.counters.set_connected(false);
}

fn publish(inner: &Inner, view: &ClusterView) {
    let control = view.control_revision();
    if inner
        .applied_control
        .swap(control, std::sync::atomic::Ordering::Relaxed)
        != control
    {
        // Tell the others which control state this node now applies (the flush task writes it).
        inner.pending.notify_one();
    }
    inner.counters.set_revision(view.revision());
    inner.counters.synced_now();
    inner.view_tx.send_replace(Arc::new(view.clone()));
}

/// The key relative to the prefix, `None` for keys outside it or not UTF-8.
fn relative<'a>(inner: &Inner, kv: &'a KeyValue) -> Option<&'a str> {
    let key = std::str::from_utf8(kv.key()).ok()?;
    key.strip_prefix(inner.settings.prefix.as_str())
}

fn raw(kv: &KeyValue) -> RawEntry {
    RawEntry {
        value: kv.value().to_vec(),
        mod_revision: kv.mod_revision(),
        create_revision: kv.create_revision(),
        lease: kv.lease(),
    }
}

/// Everything under the prefix but the audit trail, at one revision.
async fn list(inner: &Inner) -> Result<ClusterView, ClusterError> {
    let prefix = inner.settings.prefix.as_bytes();
    let audit = inner.key(keys::AUDIT).into_bytes();
    let mut entries = Vec::new();
    let rev = range(inner, prefix.to_vec(), audit.clone(), 0, &mut entries).await?;
    range(
        inner,
        keys::range_end(&audit),
        keys::range_end(prefix),
        rev,
        &mut entries,
    )
    .await?;
    Ok(ClusterView::from_entries(rev, entries))
}

/// Reads `[start, end)` at `rev` (0 = now) in pages into `out`; returns the revision read at.
async fn range(
    inner: &Inner,
    start: Vec<u8>,
    end: Vec<u8>,
    mut rev: i64,
    out: &mut Vec<(String, RawEntry)>,
) -> Result<i64, ClusterError> {
    let mut from = start;
    loop {
        let opts = GetOptions::new()
            .with_range(end.clone())
            .with_limit(PAGE)
            .with_revision(rev);
        let key = from.clone();
        let resp = inner
            .call("list the cluster state", |mut c| {
                let (key, opts) = (key.clone(), opts.clone());
                async move { c.get(key, Some(opts)).await }
            })
            .await?;
        if rev == 0 {
            rev = resp.header().map_or(0, |h| h.revision());
        }
        for kv in resp.kvs() {
            if let Some(k) = relative(inner, kv) {
                out.push((k.to_string(), raw(kv)));
            }
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                from = last.key().to_vec();
                from.push(0);
            }
            _ => return Ok(rev),
        }
    }
}

/// One watch stream, from the view's revision + 1 until it fails.
async fn session(inner: &Inner, view: &mut ClusterView, backoff: &mut Backoff) -> End {
    let start = view.revision() + 1;
    let prefix = inner.settings.prefix.clone();
    let opened = inner
        .call_at("watch", |mut c| {
            let prefix = prefix.clone();
            async move {
                let opts = WatchOptions::new().with_prefix().with_start_revision(start);
                c.watch(prefix, Some(opts)).await
            }
        })
        .await;
    let (idx, mut stream) = match opened {
        Ok(s) => s,
        Err(e) => return End::Lost(e.to_string()),
    };
    // A watch that breaks moves this node to the next endpoint.
    let lost = |why: String| {
        inner.failed(idx);
        End::Lost(why)
    };
    let audit = keys::AUDIT;
    let mut heard = Instant::now();
    let mut created = false;
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => return End::Cancelled,
            _ = tick.tick() => {
                if heard.elapsed() > SILENCE {
                    return lost(format!(
                        "no answer on the watch for {}",
                        humantime::format_duration(SILENCE)
                    ));
                }
                if created && let Err(e) = stream.request_progress().await {
                    return lost(e.to_string());
                }
            }
            msg = stream.message() => {
                let resp = match msg {
                    Ok(Some(r)) => r,
                    Ok(None) => return lost("the watch stream closed".into()),
                    Err(e) => return lost(ClusterError::from_etcd(&inner.settings.endpoints, e).to_string()),
                };
                heard = Instant::now();
                if resp.compact_revision() > 0 {
                    return End::Relist(format!(
                        "etcd compacted its history up to revision {}, past this view's {}",
                        resp.compact_revision(),
                        view.revision()
                    ));
                }
                if resp.canceled() {
                    return lost(format!("etcd cancelled the watch: {}", resp.cancel_reason()));
                }
                let etcd_rev = resp.header().map_or(0, |h| h.revision());
                if resp.created() {
                    created = true;
                    if etcd_rev < view.revision() {
                        return End::Relist(format!(
                            "etcd is at revision {etcd_rev}, behind this view's {} (restored from a backup?)",
                            view.revision()
                        ));
                    }
                    if !inner.counters.connected() {
                        tracing::info!(revision = view.revision(), "cluster: watching etcd");
                    }
                    inner.counters.set_connected(true);
                    if etcd_rev == view.revision() {
                        // Nothing to replay: current now. Otherwise the replay and the next
                        // progress notification say so.
                        inner.counters.synced_now();
                    }
                    backoff.reset();
                    continue;
                }
                if resp.events().is_empty() {
                    // A progress notification: everything up to etcd_rev has been sent.
                    inner.counters.synced_now();
                    continue;
                }
                let mut rev = view.revision();
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    rev = rev.max(kv.mod_revision());
                    let Some(k) = relative(inner, kv) else { continue };
                    if k.starts_with(audit) {
                        continue;
                    }
                    match ev.event_type() {
                        EventType::Put => view.put(k.to_string(), raw(kv)),
                        EventType::Delete => view.delete(k),
                    }
                }
                view.set_revision(rev);
                publish(inner, view);
            }
        }
    }
}
