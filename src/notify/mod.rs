//! Notifications: the `[[notify]]` webhooks (settings: `src/config/notify.rs`).
//!
//! The [`Notifier`] listens on the [`Events`] handle every service emits through. Taking an
//! event is a push into the bounded queue of each webhook whose `events` name its topic —
//! never a wait: a full queue drops its oldest event and counts it. One task per webhook
//! delivers its queue in order ([`deliver`]): a signed `POST`, retried with exponential
//! backoff, given up (and counted) after `max_attempts`.
//!
//! A reload applies `[[notify]]` changes ([`Notifier::apply`]): a webhook keeps its queue and
//! counters while its `name` (or URL) stays, takes its new settings from the next attempt on;
//! a removed one stops, with what it still held; a new one starts.
//!
//! Counters and the last error of each webhook are in `GET /api/v1/status` (`notify`) and the
//! metrics (`ayadns_notify_*`).

pub mod deliver;
pub mod queue;

use crate::api::notify::{Topic, WebhookStatus};
use crate::clock::Clock;
use crate::config::Config;
use crate::config::notify::{NotifyConfig, public_url};
use crate::diag::Diagnostics;
use crate::events::{Event, Events, Sink};
use queue::Queue;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// A webhook's settings, compiled (secret read).
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Its label (`name`, or the public URL).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The URL without credentials, query or fragment.
    pub public: String,
    /// What it is told about.
    pub topics: Vec<Topic>,
    /// The HMAC key.
    pub secret: Option<Vec<u8>>,
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts per event.
    pub max_attempts: u32,
    /// The first wait after a failure.
    pub backoff: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// Queue bound.
    pub queue: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("url", &self.public)
            .field("topics", &self.topics)
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// One entry (reads its secret; `Err` names the key's line).
    pub fn compile(config: &Config, n: &NotifyConfig) -> Result<Settings, Diagnostics> {
        let secret = n
            .secret(&|span, msg| config.diag_at(span, msg))
            .map_err(Diagnostics::from)?;
        Ok(Settings {
            name: n.label(),
            url: n.url.get_ref().clone(),
            public: public_url(n.url.get_ref()),
            topics: n.topics(),
            secret,
            timeout: n.timeout(),
            max_attempts: *n.max_attempts.get_ref(),
            backoff: n.backoff(),
            backoff_max: n.backoff_max(),
            queue: *n.queue.get_ref(),
        })
    }

    /// Every `[[notify]]` entry of `config`, with every problem (secrets that cannot be read).
    pub fn all(config: &Config) -> Result<Vec<Settings>, Diagnostics> {
        let mut out = Vec::new();
        let mut problems = Diagnostics::default();
        for n in &config.notify {
            match Settings::compile(config, n) {
                Ok(s) => out.push(s),
                Err(p) => problems.0.extend(p.0),
            }
        }
        problems.into_result(out)
    }
}

/// A webhook's counters.
#[derive(Debug, Default)]
pub struct Stats {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    in_flight: AtomicBool,
    /// The last error, and when the last delivery succeeded.
    last: Mutex<(Option<String>, Option<SystemTime>)>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<String>, Option<SystemTime>)> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delivered(&self, at: SystemTime) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.lock().1 = Some(at);
    }

    fn failed(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.lock().0 = Some(why);
    }
}

/// One running webhook.
pub struct Webhook {
    settings: arc_swap::ArcSwap<Settings>,
    queue: Queue,
    stats: Stats,
    stop: CancellationToken,
}

impl Webhook {
    fn status(&self) -> WebhookStatus {
        let s = self.settings.load();
        let (last_error, last_success) = self.stats.lock().clone();
        WebhookStatus {
            name: s.name.clone(),
            url: s.public.clone(),
            events: s.topics.clone(),
            delivered: self.stats.delivered.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            queued: self.queue.len() + usize::from(self.stats.in_flight.load(Ordering::Relaxed)),
            last_error,
            last_success,
        }
    }

    /// Queue `event` if this webhook wants its topic.
    fn offer(&self, event: &Arc<Event>) {
        if !self.settings.load().topics.contains(&event.topic) {
            return;
        }
        let dropped = self.queue.push(event.clone());
        if dropped > 0 {
            self.stats
                .dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
    }
}

/// The webhooks, and what delivers to them. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    hooks: arc_swap::ArcSwap<Vec<Arc<Webhook>>>,
    /// Serialises [`Notifier::apply`].
    applying: Mutex<()>,
    client: Option<reqwest::Client>,
    clock: Clock,
    shutdown: CancellationToken,
}

struct Listener(Notifier);

impl Sink for Listener {
    fn offer(&self, event: Arc<Event>) {
        for hook in self.0.inner.hooks.load().iter() {
            hook.offer(&event);
        }
    }
}

impl Notifier {
    /// Start delivering to `hooks`, listening on `events` (inside a tokio runtime). Stops at
    /// `shutdown`.
    pub fn start(
        hooks: Vec<Settings>,
        events: &Events,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> Notifier {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ayadns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::error!(error = %e, "no HTTP client: webhooks will not be called"))
            .ok();
        let n = Notifier {
            inner: Arc::new(Inner {
                hooks: arc_swap::ArcSwap::from_pointee(Vec::new()),
                applying: Mutex::new(()),
                client,
                clock,
                shutdown,
            }),
        };
        n.apply(hooks);
        events.listen(Box::new(Listener(n.clone())));
        n
    }

    /// Deliver to `hooks` from now on: a webhook whose name stays keeps its queue and counters
    /// and takes the new settings; others stop or start.
    pub fn apply(&self, hooks: Vec<Settings>) {
        let _one = self
            .inner
            .applying
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let old = self.inner.hooks.load_full();
        let mut next = Vec::with_capacity(hooks.len());
        for s in hooks {
            if let Some(h) = old.iter().find(|h| h.settings.load().name == s.name) {
                let dropped = h.queue.set_cap(s.queue);
                h.stats.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
                h.settings.store(Arc::new(s));
                next.push(h.clone());
                continue;
            }
            if s.secret.is_none() {
                tracing::warn!(webhook = %s.name, "[[notify]] without secret_env or secret_file: deliveries are not signed");
            }
            let hook = Arc::new(Webhook {
                queue: Queue::new(s.queue),
                settings: arc_swap::ArcSwap::from_pointee(s),
                stats: Stats::default(),
                stop: self.inner.shutdown.child_token(),
            });
            if let Some(client) = &self.inner.client {
                tokio::spawn(deliver::run(
                    hook.clone(),
                    client.clone(),
                    self.inner.clock.clone(),
                ));
            }
            next.push(hook);
        }
        for h in old.iter() {
            if !next.iter().any(|n| Arc::ptr_eq(n, h)) {
                h.stop.cancel();
            }
        }
        self.inner.hooks.store(Arc::new(next));
    }

    /// Every webhook's counters (for status and metrics).
    pub fn status(&self) -> Vec<WebhookStatus> {
        self.inner.hooks.load().iter().map(|h| h.status()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    fn settings(name: &str, topics: Vec<Topic>, queue: usize) -> Settings {
        Settings {
            name: name.into(),
            // Nothing listens on port 9 of 127.0.0.1 (discard, never run here): attempts fail
            // at once, and the long backoff keeps the first event in flight.
            url: "http://127.0.0.1:9/".into(),
            public: "http://127.0.0.1:9/".into(),
            topics,
            secret: None,
            timeout: Duration::from_secs(1),
            max_attempts: 20,
            backoff: Duration::from_secs(600),
            backoff_max: Duration::from_secs(600),
            queue,
        }
    }

    #[tokio::test]
    async fn events_reach_the_webhooks_that_want_them_and_a_full_queue_counts_its_drops() {
        let events = Events::new(Clock::system(), None);
        let stop = CancellationToken::new();
        let n = Notifier::start(
            vec![
                settings("drills", vec![Topic::Drills], 2),
                settings("reloads", vec![Topic::Reloads], 10),
            ],
            &events,
            Clock::system(),
            stop.clone(),
        );
        for _ in 0..5 {
            events.emit(Event::new(EventKind::DrillStarted));
        }
        events.emit(Event::new(EventKind::ReloadFailed));
        // Wait until the drills webhook holds its first event in flight.
        for _ in 0..200 {
            if n.status()[0].failed > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let st = n.status();
        assert_eq!(st[0].name, "drills");
        // 5 events, a queue of 2 (+1 in flight) whatever the timing: some dropped, never more
        // held than the bound allows.
        assert!(st[0].queued <= 3, "{st:?}");
        assert_eq!(st[0].queued as u64 + st[0].dropped, 5, "{st:?}");
        assert!(st[0].dropped >= 2, "{st:?}");
        assert_eq!(st[1].queued, 1, "waiting or in flight: {st:?}");
        assert!(st[0].last_error.is_some(), "{st:?}");

        // A reload that keeps the name keeps the counters; one that drops it stops it.
        let before = n.status()[0].dropped;
        n.apply(vec![settings("drills", vec![Topic::Drills], 1)]);
        let st = n.status();
        assert_eq!(st.len(), 1);
        assert!(st[0].dropped >= before, "{st:?}");
        assert!(st[0].queued <= 2, "{st:?}");
        stop.cancel();
    }
}
