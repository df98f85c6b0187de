//! [`StateWriter`]: writes health state to the database on its own thread, in batches.
//!
//! Health code calls [`StateWriter::record`] and [`StateWriter::transition`], which only put
//! the value on an unbounded channel: they never wait for SQLite, so neither the probers nor
//! (through them) the query path ever do. One std thread owns the [`StateStore`] and:
//!
//! - **coalesces**: of several updates of one (endpoint, region) before a flush only the
//!   newest is written; transitions are all kept, in the order sent;
//! - **batches**: writes one transaction when `flush_every` has passed since the first
//!   unflushed update, or when [`MAX_PENDING`] updates are waiting, or on [`flush`];
//! - **prunes** history with its [`Retention`] about once a minute;
//! - **survives errors**: a failed write is logged (`tracing::warn!`) and kept for a retry
//!   (after at least a second); the thread goes on.
//!
//! Because each flush is one transaction over a prefix of what was sent, the database always
//! holds a prefix of the update stream, even after a crash.
//!
//! [`flush`]: StateWriter::flush

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::{EndpointState, Retention, StateStore, Transition};

/// Flush as soon as this many updates (states and transitions) are waiting.
pub const MAX_PENDING: usize = 1000;

/// How often history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// After a failed write, wait at least this long before trying again (unless flushed).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// While writes keep failing, keep at most this many transitions (dropping the oldest).
const MAX_HELD_TRANSITIONS: usize = 100_000;

enum Msg {
    State(EndpointState),
    Transition(Transition),
    /// Write everything pending, then answer.
    Flush(SyncSender<()>),
    /// Write everything pending, answer, and end the thread.
    Stop(SyncSender<()>),
}

/// A cheap, cloneable handle onto the background writer thread.
///
/// Dropping every handle without [`close`](Self::close) still writes what is pending (the
/// thread sees the channel close), but nothing waits for it.
#[derive(Clone)]
pub struct StateWriter {
    tx: Sender<Msg>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for StateWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWriter").finish_non_exhaustive()
    }
}

impl StateWriter {
    /// Spawns the writer thread, which owns `store`. It flushes when `flush_every` has passed
    /// since the first unflushed update or when [`MAX_PENDING`] updates are waiting; later
    /// updates of one (endpoint, region) replace earlier ones in a batch, transitions are all
    /// kept in order. It prunes history with `retention` at start and about once a minute.
    /// Write errors are logged and retried, never fatal.
    pub fn spawn(store: StateStore, flush_every: Duration, retention: Retention) -> StateWriter {
        Self::spawn_with(store, flush_every, retention, PRUNE_EVERY)
    }

    pub(super) fn spawn_with(
        store: StateStore,
        flush_every: Duration,
        retention: Retention,
        prune_every: Duration,
    ) -> StateWriter {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ayadns-state".into())
            .spawn(move || {
                Worker {
                    store,
                    flush_every,
                    retention,
                    prune_every,
                    pending: Pending::default(),
                }
                .run(rx);
            });
        let thread = match thread {
            Ok(h) => Some(h),
            Err(e) => {
                // Out of threads: health still works, it is just not persisted.
                tracing::error!(error = %e, "cannot start the state writer thread; health state will not be saved");
                None
            }
        };
        StateWriter {
            tx,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    /// Queue the newest state of an (endpoint, region). Never blocks.
    pub fn record(&self, state: EndpointState) {
        self.send(Msg::State(state));
    }

    /// Queue a transition. Never blocks.
    pub fn transition(&self, t: Transition) {
        self.send(Msg::Transition(t));
    }

    /// Write everything queued so far and wait until it is written (or the write failed and
    /// was logged). Blocks: from async code, call it in `spawn_blocking`.
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Write everything queued and stop the thread, waiting for it. Other handles' later
    /// updates are dropped.
    pub fn close(self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Stop(done)).is_ok() {
            let _ = wait.recv();
        }
        let handle = match self.thread.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!("the state writer thread panicked");
        }
    }

    fn send(&self, msg: Msg) {
        if self.tx.send(msg).is_err() {
            tracing::debug!("state writer is closed; update dropped");
        }
    }
}

/// What has been received and not yet written.
#[derive(Default)]
struct Pending {
    states: HashMap<(String, String), EndpointState>,
    transitions: Vec<Transition>,
    /// Updates received since the last successful write (coalesced ones count).
    updates: usize,
    /// When the first of them arrived.
    since: Option<Instant>,
    /// After a failed write: not before then (except an explicit flush).
    retry_at: Option<Instant>,
}

impl Pending {
    fn add(&mut self, msg_now: Instant) {
        self.updates += 1;
        self.since.get_or_insert(msg_now);
    }

    fn is_empty(&self) -> bool {
        self.states.is_empty() && self.transitions.is_empty()
    }

    /// When the next timed flush is due, if anything is pending.
    fn due(&self, flush_every: Duration) -> Option<Instant> {
        let since = self.since?;
        let due = since.checked_add(flush_every).unwrap_or(since);
        Some(self.retry_at.map_or(due, |r| r.max(due)))
    }
}

struct Worker {
    store: StateStore,
    flush_every: Duration,
    retention: Retention,
    prune_every: Duration,
    pending: Pending,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut next_prune = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_prune {
                self.prune();
                next_prune = now.checked_add(self.prune_every).unwrap_or(now);
            }
            let wake = self
                .pending
                .due(self.flush_every)
                .map_or(next_prune, |d| d.min(next_prune));
            match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Msg::State(s)) => {
                    self.pending.add(Instant::now());
                    self.pending
                        .states
                        .insert((s.endpoint.clone(), s.region.clone()), s);
                }
                Ok(Msg::Transition(t)) => {
                    self.pending.add(Instant::now());
                    self.pending.transitions.push(t);
                }
                Ok(Msg::Flush(done)) => {
                    self.flush();
                    let _ = done.send(());
                }
                Ok(Msg::Stop(done)) => {
                    self.flush();
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    return;
                }
            }
            let now = Instant::now();
            let may_retry = self.pending.retry_at.is_none_or(|r| now >= r);
            let full = self.pending.updates >= MAX_PENDING;
            let due = self.pending.due(self.flush_every).is_some_and(|d| now >= d);
            if (full && may_retry) || due {
                self.flush();
            }
        }
    }

    /// Write what is pending in one transaction; on failure keep it for a retry.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            self.pending.since = None;
            self.pending.updates = 0;
            return;
        }
        let states: Vec<EndpointState> = self.pending.states.drain().map(|(_, s)| s).collect();
        let transitions = std::mem::take(&mut self.pending.transitions);
        match self.store.write_batch(&states, &transitions) {
            Ok(()) => self.pending = Pending::default(),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    states = states.len(),
                    transitions = transitions.len(),
                    "cannot save health state; will retry"
                );
                // Nothing arrived meanwhile (this thread is the only consumer): put it back.
                for s in states {
                    self.pending
                        .states
                        .insert((s.endpoint.clone(), s.region.clone()), s);
                }
                let mut transitions = transitions;
                if transitions.len() > MAX_HELD_TRANSITIONS {
                    let drop = transitions.len() - MAX_HELD_TRANSITIONS;
                    tracing::warn!(
                        dropped = drop,
                        "state writer: dropping the oldest unsaved transitions"
                    );
                    transitions.drain(..drop);
                }
                self.pending.transitions = transitions;
                let now = Instant::now();
                self.pending.since = Some(now);
                self.pending.retry_at = Some(
                    now.checked_add(RETRY_AFTER.max(self.flush_every))
                        .unwrap_or(now),
                );
            }
        }
    }

    fn prune(&mut self) {
        match self.store.prune(&self.retention, SystemTime::now()) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "pruned health history"),
            Err(e) => tracing::warn!(error = %e, "cannot prune health history"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::UNIX_EPOCH;

    fn state(endpoint: &str, n: u32) -> EndpointState {
        EndpointState {
            endpoint: endpoint.into(),
            region: "r".into(),
            up: true,
            successes: n,
            failures: 0,
            last_rtt_ms: Some(f64::from(n)),
            last_change: UNIX_EPOCH + Duration::from_millis(u64::from(n)),
            last_error: None,
            updated_at: UNIX_EPOCH + Duration::from_millis(u64::from(n)),
        }
    }

    fn transition(reason: &str, at: SystemTime) -> Transition {
        Transition {
            endpoint: "e".into(),
            region: "*".into(),
            from_up: false,
            to_up: true,
            at,
            reason: reason.into(),
        }
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn reader(path: &Path) -> StateStore {
        StateStore::open(path).unwrap()
    }

    #[test]
    fn state_writer_flushes_on_the_timer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let w = StateWriter::spawn(
            StateStore::open(&path).unwrap(),
            Duration::from_millis(30),
            Retention::default(),
        );
        let r = reader(&path);
        w.record(state("a", 1));
        w.record(state("a", 2));
        wait_until("the timed flush", || !r.load_states().unwrap().is_empty());
        assert_eq!(r.load_states().unwrap(), [state("a", 2)]);
        w.close();
    }

    #[test]
    fn state_writer_flushes_when_max_pending_updates_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let w = StateWriter::spawn(
            StateStore::open(&path).unwrap(),
            Duration::from_secs(3600),
            Retention::default(),
        );
        let r = reader(&path);
        for n in 1..MAX_PENDING as u32 {
            w.record(state("a", n));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            r.load_states().unwrap().is_empty(),
            "wrote before {MAX_PENDING} updates"
        );
        w.record(state("a", MAX_PENDING as u32));
        wait_until("the flush at MAX_PENDING", || {
            !r.load_states().unwrap().is_empty()
        });
        assert_eq!(r.load_states().unwrap(), [state("a", MAX_PENDING as u32)]);
        w.close();
    }

    #[test]
    fn state_writer_survives_a_locked_database_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = StateStore::open(&path).unwrap();
        store.set_busy_timeout(Duration::from_millis(50));
        let w = StateWriter::spawn(store, Duration::from_millis(20), Retention::default());
        w.flush(); // let the start-up prune finish before the lock is taken
        // Another connection takes the write lock and holds it.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        w.record(state("a", 1));
        w.transition(transition("first", SystemTime::now()));
        w.flush(); // fails (locked), is logged, is kept
        w.record(state("a", 2));
        w.transition(transition("second", SystemTime::now()));
        w.flush(); // fails again
        other.execute_batch("ROLLBACK").unwrap();
        w.flush(); // the thread is alive and writes everything held
        let r = reader(&path);
        assert_eq!(r.load_states().unwrap(), [state("a", 2)]);
        let reasons: Vec<_> = r
            .history(10, None)
            .unwrap()
            .into_iter()
            .map(|t| t.reason)
            .collect();
        assert_eq!(reasons, ["second", "first"]);
        w.close();
    }

    #[test]
    fn state_writer_prunes_periodically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let retention = Retention {
            max_age: Duration::from_secs(3600),
            max_rows: 3,
        };
        let w = StateWriter::spawn_with(
            StateStore::open(&path).unwrap(),
            Duration::from_millis(10),
            retention,
            Duration::from_millis(50),
        );
        let now = SystemTime::now();
        let old = now - Duration::from_secs(7200);
        w.transition(transition("too old", old));
        for i in 0..5 {
            w.transition(transition(&format!("t{i}"), now));
        }
        w.flush();
        let r = reader(&path);
        wait_until("the periodic prune", || {
            r.history(100, None).unwrap().len() == 3
        });
        let reasons: Vec<_> = r
            .history(100, None)
            .unwrap()
            .into_iter()
            .map(|t| t.reason)
            .collect();
        assert_eq!(reasons, ["t4", "t3", "t2"]);
        w.close();
    }

    #[test]
    fn state_writer_dropping_every_handle_still_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let w = StateWriter::spawn(
            StateStore::open(&path).unwrap(),
            Duration::from_secs(3600),
            Retention::default(),
        );
        let thread = w.thread.clone();
        w.record(state("a", 5));
        drop(w);
        let h = thread.lock().unwrap().take().unwrap();
        h.join().unwrap();
        assert_eq!(reader(&path).load_states().unwrap(), [state("a", 5)]);
    }
}
