//! Events: what happened (a transition, an override, a drill, a reload…), told to whoever
//! listens — the `[[notify]]` webhooks (`src/notify`).
//!
//! A leaf, so every service can emit without importing the one that delivers: the health
//! engine, ops, the reloader and the cluster get an [`Events`] handle at construction and call
//! [`Events::emit`] where something happens. Emitting never blocks, never fails and costs
//! nothing when nobody listens (no webhook configured): the listener ([`Sink`]) takes the
//! event into bounded queues and returns at once.
//!
//! [`Events::emit`] stamps the event: a unique id, the time from the one [`Clock`], and the
//! cluster node's name. In a cluster, each event should reach a webhook once, not once per
//! node:
//! - operator actions are emitted by the node that took the request, system actions (expiry,
//!   a drill's end) by the node whose guarded commit won, reloads and the cluster link by the
//!   node concerned (its name is in `node`);
//! - transitions are computed alike on every node (the same quorum over the same votes), so
//!   only the node that owns the target sends them: the rendezvous owner of `endpoint:NAME` /
//!   `pool:NAME` among the cluster's live members ([`Events::set_owner`]).

pub use crate::api::notify::{Event, EventKind, Topic};
use crate::clock::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whoever listens: takes an event without blocking.
pub trait Sink: Send + Sync {
    /// Take `event` (queue it, or drop it and count).
    fn offer(&self, event: Arc<Event>);
}

/// Whether this node sends the transitions of a target (`endpoint:NAME`, `pool:NAME`).
pub type Owner = Arc<dyn Fn(&str) -> bool + Send + Sync>;

struct Inner {
    sink: arc_swap::ArcSwapOption<Box<dyn Sink>>,
    clock: Clock,
    node: Option<String>,
    owner: std::sync::OnceLock<Owner>,
    /// The id prefix: node (or "ayadns") and the start time, so ids stay unique across
    /// restarts and nodes.
    prefix: String,
    next: AtomicU64,
}

/// The handle services emit through (cheap to clone). [`Events::none`] listens to nothing.
#[derive(Clone, Default)]
pub struct Events {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("listening", &self.listening())
            .finish()
    }
}

impl Events {
    /// A handle that drops everything (tests, tools).
    pub fn none() -> Events {
        Events { inner: None }
    }

    /// A handle stamping events with `clock`'s time and `node`'s name (`None`: a node alone).
    /// Nothing listens until [`Events::listen`].
    pub fn new(clock: Clock, node: Option<String>) -> Events {
        let started = clock
            .now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let prefix = format!("{}-{started:x}", node.as_deref().unwrap_or("ayadns"));
        Events {
            inner: Some(Arc::new(Inner {
                sink: arc_swap::ArcSwapOption::empty(),
                clock,
                node,
                owner: std::sync::OnceLock::new(),
                prefix,
                next: AtomicU64::new(0),
            })),
        }
    }

    /// From now on, send transitions only for the targets `owner` says are this node's (set
    /// once; later calls change nothing).
    pub fn set_owner(&self, owner: Owner) {
        if let Some(i) = &self.inner {
            let _ = i.owner.set(owner);
        }
    }

    /// Hand every event from now on to `sink` (replacing the previous listener).
    pub fn listen(&self, sink: Box<dyn Sink>) {
        if let Some(i) = &self.inner {
            i.sink.store(Some(Arc::new(sink)));
        }
    }

    /// Is anybody listening?
    pub fn listening(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.sink.load().is_some())
    }

    /// Tell the listener about `event` (stamped with an id, the time and the node). Never
    /// blocks; a no-op when nobody listens, and for a transition of a target another node owns.
    pub fn emit(&self, event: Event) {
        let Some(i) = &self.inner else { return };
        let sink = i.sink.load();
        let Some(sink) = sink.as_ref() else { return };
        if event.topic == Topic::Transitions
            && let (Some(owner), Some(target)) = (i.owner.get(), &event.target)
            && !owner(target)
        {
            return;
        }
        let n = i.next.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Event {
            id: format!("{}-{n}", i.prefix),
            at: i.clock.now(),
            node: i.node.clone(),
            ..event
        };
        sink.offer(Arc::new(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Keep(Arc<Mutex<Vec<Arc<Event>>>>);
    impl Sink for Keep {
        fn offer(&self, e: Arc<Event>) {
            self.0.lock().unwrap().push(e);
        }
    }

    #[test]
    fn events_are_stamped_and_go_nowhere_without_a_listener() {
        Events::none().emit(Event::new(EventKind::ReloadSucceeded));
        let ev = Events::new(Clock::test(std::time::Duration::from_secs(60)), None);
        ev.emit(Event::new(EventKind::ReloadSucceeded)); // nobody listens: dropped
        let got = Arc::new(Mutex::new(Vec::new()));
        ev.listen(Box::new(Keep(got.clone())));
        assert!(ev.listening());
        ev.clone()
            .emit(Event::new(EventKind::DrillStarted).target("drill-1"));
        ev.emit(Event::new(EventKind::DrillEnded).target("drill-1"));
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert_ne!(got[0].id, got[1].id);
        assert!(got[0].id.starts_with("ayadns-"), "{}", got[0].id);
        assert!(
            got[0].at > std::time::SystemTime::now(),
            "the test clock's time"
        );
        assert_eq!(got[1].kind, EventKind::DrillEnded);
    }

    #[test]
    fn transitions_go_out_from_their_owner_only() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let ev = Events::new(Clock::system(), Some("ns1".into()));
        ev.set_owner(Arc::new(|t: &str| t.ends_with(":mine")));
        ev.listen(Box::new(Keep(got.clone())));
        ev.emit(Event::new(EventKind::EndpointDown).target("endpoint:mine"));
        ev.emit(Event::new(EventKind::EndpointDown).target("endpoint:theirs"));
        // Not a transition: every node's own.
        ev.emit(Event::new(EventKind::OverrideCreated).target("pool:theirs"));
        let got = got.lock().unwrap();
        let targets: Vec<_> = got.iter().map(|e| e.target.clone().unwrap()).collect();
        assert_eq!(targets, ["endpoint:mine", "pool:theirs"]);
        assert_eq!(got[0].node.as_deref(), Some("ns1"));
        assert!(got[0].id.starts_with("ns1-"));
    }
}
