//! `[[notify]]`: webhooks told about what happens — health transitions, overrides, drills,
//! maintenance windows, reloads, the cluster's link — by a signed JSON `POST`.
//!
//! ```toml
//! [[notify]]
//! url = "https://hooks.example.net/ayadns"   # http:// or https://
//! events = ["transitions", "drills", "overrides", "maintenance", "reloads", "cluster"]
//! secret_env = "AYADNS_WEBHOOK_SECRET"       # or secret_file = "webhook.secret"
//! # name = "oncall"      # the `webhook` label in metrics and status (default: the URL's host and path)
//! # timeout = "5s"       # per attempt (100ms … 1m)
//! # max_attempts = 5     # 1 … 20; then the event is dropped and counted
//! # backoff = "1s"       # wait after the first failed attempt, doubling (10ms … 10m) …
//! # backoff_max = "5m"   # … up to this (at least `backoff`, at most 1h)
//! # queue = 1000         # events waiting per webhook (1 … 100000); when full the oldest goes
//! ```
//!
//! The words of `events` ([`Topic`]):
//! - `transitions` — an endpoint's measured health goes up or down (after rise/fall and the
//!   quorum of regions), or a pool has no endpoint up any more / has one again;
//! - `overrides` — an override is created, removed, or expires;
//! - `drills` — a DR drill starts, or ends (stopped, or reverted by itself);
//! - `maintenance` — a scheduled override or maintenance window begins or ends;
//! - `reloads` — a reload is applied, or rejected (with its errors);
//! - `cluster` — this node loses or regains etcd, or its view falls behind by more than
//!   `[cluster] lag_alert` and catches up again.
//!
//! The secret is never in the config file itself: `secret_env` names an environment variable,
//! `secret_file` a file (relative to the config file's folder; surrounding whitespace is
//! ignored) holding it. Without either, deliveries are not signed. What a delivery looks like
//! and how a receiver checks it: README, "Notifications". Changes apply on reload.

use super::cluster::ConfigDuration;
use crate::diag::Diagnostic;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// What a webhook may be told about: the words of `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    /// Endpoint and pool health going up or down.
    Transitions,
    /// Overrides created, removed, expired.
    Overrides,
    /// Drills started and ended.
    Drills,
    /// Scheduled overrides and maintenance windows beginning and ending.
    Maintenance,
    /// Reloads applied or rejected.
    Reloads,
    /// This node's link to the cluster: lost, regained, lagging, caught up.
    Cluster,
}

impl Topic {
    /// Every topic, in the order the docs list them.
    pub const ALL: [Topic; 6] = [
        Topic::Transitions,
        Topic::Overrides,
        Topic::Drills,
        Topic::Maintenance,
        Topic::Reloads,
        Topic::Cluster,
    ];

    /// The word in config files and event bodies.
    pub fn word(self) -> &'static str {
        match self {
            Topic::Transitions => "transitions",
            Topic::Overrides => "overrides",
            Topic::Drills => "drills",
            Topic::Maintenance => "maintenance",
            Topic::Reloads => "reloads",
            Topic::Cluster => "cluster",
        }
    }
}

/// The most `[[notify]]` entries a config may have.
pub const MAX_WEBHOOKS: usize = 32;
/// Bounds of `timeout`.
pub const TIMEOUT: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(60));
/// Bounds of `max_attempts`.
pub const ATTEMPTS: (u32, u32) = (1, 20);
/// Bounds of `backoff`.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(600));
/// The most `backoff_max` may be.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Bounds of `queue`.
pub const QUEUE: (usize, usize) = (1, 100_000);
/// The longest URL.
pub const MAX_URL: usize = 2048;
/// The longest `name`.
pub const MAX_NAME: usize = 64;
/// The longest secret (bytes).
pub const MAX_SECRET: usize = 4096;

/// One `[[notify]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NotifyConfig {
    /// Where deliveries are POSTed.
    pub url: Spanned<String>,
    /// What it is told about.
    pub events: Spanned<Vec<Spanned<Topic>>>,
    /// Its label in metrics and status.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<Spanned<String>>,
    /// The file holding the signing secret.
    #[serde(default)]
    pub secret_file: Option<Spanned<PathBuf>>,
    /// Per attempt.
    #[serde(default = "default_timeout")]
    pub timeout: Spanned<ConfigDuration>,
    /// Attempts per event.
    #[serde(default = "default_attempts")]
    pub max_attempts: Spanned<u32>,
    /// The first wait after a failed attempt.
    #[serde(default = "default_backoff")]
    pub backoff: Spanned<ConfigDuration>,
    /// The longest wait between attempts.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: Spanned<ConfigDuration>,
    /// Events waiting at most.
    #[serde(default = "default_queue")]
    pub queue: Spanned<usize>,
}

fn default_timeout() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration(Duration::from_secs(5)))
}
fn default_attempts() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}
fn default_backoff() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration(Duration::from_secs(1)))
}
fn default_backoff_max() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration(Duration::from_secs(300)))
}
fn default_queue() -> Spanned<usize> {
    Spanned::new(0..0, 1000)
}

impl NotifyConfig {
    /// Its label: `name`, else the URL without credentials, query or fragment.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.get_ref().clone(),
            None => public_url(self.url.get_ref()),
        }
    }

    /// The topics it is told about.
    pub fn topics(&self) -> Vec<Topic> {
        self.events.get_ref().iter().map(|t| *t.get_ref()).collect()
    }

    /// Per attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout.get_ref().0
    }

    /// The first wait after a failure.
    pub fn backoff(&self) -> Duration {
        self.backoff.get_ref().0
    }

    /// The longest wait between attempts.
    pub fn backoff_max(&self) -> Duration {
        self.backoff_max.get_ref().0
    }

    /// Make `secret_file` relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = &mut self.secret_file {
            let resolved = base.join(p.get_ref());
            *p.get_mut() = resolved;
        }
    }

    /// Everything wrong with the entry (not reading the secret: see [`NotifyConfig::secret`]).
    /// `at` turns a span of the config text into a diagnostic at its line.
    pub fn validate(&self, at: &dyn Fn(Range<usize>, String) -> Diagnostic) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut bad = |span: Range<usize>, msg: String| out.push(at(span, msg));
        if let Err(e) = check_url(self.url.get_ref()) {
            bad(self.url.span(), format!("notify.url: {e}"));
        }
        let events = self.events.get_ref();
        if events.is_empty() {
            bad(
                self.events.span(),
                format!(
                    "notify.events is empty: name at least one of {}",
                    words().join(", ")
                ),
            );
        }
        for (i, e) in events.iter().enumerate() {
            if events[..i].iter().any(|x| x.get_ref() == e.get_ref()) {
                bad(
                    e.span(),
                    format!("notify.events lists `{}` twice", e.get_ref().word()),
                );
            }
        }
        if let Some(n) = &self.name {
            let s = n.get_ref();
            if s.is_empty()
                || s.len() > MAX_NAME
                || s.chars().any(|c| c.is_control() || c == '"' || c == '\\')
            {
                bad(
                    n.span(),
                    format!(
                        "notify.name `{s}` must be 1 to {MAX_NAME} printable characters without quotes or backslashes"
                    ),
                );
            }
        }
        match (&self.secret_env, &self.secret_file) {
            (Some(_), Some(f)) => bad(
                f.span(),
                "notify.secret_env and notify.secret_file both set: name one".into(),
            ),
            (Some(e), None) => {
                let v = e.get_ref();
                if v.is_empty()
                    || v.len() > 256
                    || v.contains('=')
                    || v.contains('\0')
                    || v.chars().any(char::is_whitespace)
                {
                    bad(
                        e.span(),
                        format!("notify.secret_env `{v}` is not an environment variable name"),
                    );
                }
            }
            _ => {}
        }
        let range = |name: &str, v: Duration, (lo, hi): (Duration, Duration)| {
            (v < lo || v > hi).then(|| {
                format!(
                    "notify.{name} {} is out of range: between {} and {}",
                    humantime::format_duration(v),
                    humantime::format_duration(lo),
                    humantime::format_duration(hi)
                )
            })
        };
        if let Some(m) = range("timeout", self.timeout(), TIMEOUT) {
            bad(self.timeout.span(), m);
        }
        if let Some(m) = range("backoff", self.backoff(), BACKOFF) {
            bad(self.backoff.span(), m);
        }
        if let Some(m) = range(
            "backoff_max",
            self.backoff_max(),
            (self.backoff(), MAX_BACKOFF),
        ) {
            bad(self.backoff_max.span(), format!("{m} (at least `backoff`)"));
        }
        let n = *self.max_attempts.get_ref();
        if n < ATTEMPTS.0 || n > ATTEMPTS.1 {
            bad(
                self.max_attempts.span(),
                format!(
                    "notify.max_attempts {n} is out of range: between {} and {}",
                    ATTEMPTS.0, ATTEMPTS.1
                ),
            );
        }
        let q = *self.queue.get_ref();
        if q < QUEUE.0 || q > QUEUE.1 {
            bad(
                self.queue.span(),
                format!(
                    "notify.queue {q} is out of range: between {} and {}",
                    QUEUE.0, QUEUE.1
                ),
            );
        }
        out
    }

    /// Read the signing secret (`Ok(None)`: none configured). `Err` names the key's line when
    /// the variable is unset or empty, or the file unreadable, empty or too long.
    pub fn secret(
        &self,
        at: &dyn Fn(Range<usize>, String) -> Diagnostic,
    ) -> Result<Option<Vec<u8>>, Diagnostic> {
        let (value, span, what) = if let Some(e) = &self.secret_env {
            let v = std::env::var_os(e.get_ref()).map(|v| v.into_encoded_bytes());
            match v {
                Some(v) => (v, e.span(), format!("${}", e.get_ref())),
                None => {
                    return Err(at(
                        e.span(),
                        format!(
                            "notify.secret_env: the environment variable {} is not set",
                            e.get_ref()
                        ),
                    ));
                }
            }
        } else if let Some(f) = &self.secret_file {
            match std::fs::read(f.get_ref()) {
                Ok(v) => (v, f.span(), f.get_ref().display().to_string()),
                Err(e) => {
                    return Err(at(
                        f.span(),
                        format!(
                            "notify.secret_file: cannot read {}: {e}",
                            f.get_ref().display()
                        ),
                    ));
                }
            }
        } else {
            return Ok(None);
        };
        let trimmed = value.trim_ascii();
        if trimmed.is_empty() {
            return Err(at(span, format!("notify: the secret in {what} is empty")));
        }
        if trimmed.len() > MAX_SECRET {
            return Err(at(
                span,
                format!("notify: the secret in {what} is longer than {MAX_SECRET} bytes"),
            ));
        }
        Ok(Some(trimmed.to_vec()))
    }
}

/// The words of `events`.
pub fn words() -> Vec<&'static str> {
    Topic::ALL.iter().map(|t| t.word()).collect()
}

/// `url` without credentials, query or fragment (for status pages, metrics and logs).
pub fn public_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".to_string(),
    }
}

/// A webhook URL: `http://` or `https://` with a host, at most [`MAX_URL`] characters.
fn check_url(s: &str) -> Result<(), String> {
    if s.len() > MAX_URL {
        return Err(format!("longer than {MAX_URL} characters"));
    }
    let u = reqwest::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("`{s}`: use http:// or https://"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{s}` has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("c.toml")) {
            Ok(l) => l.problems.0.iter().map(|d| d.to_string()).collect(),
            Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn notify_config_good_entry_and_defaults() {
        let text = "[[notify]]\nurl = \"http://user:pw@127.0.0.1:9/hook?k=v\"\nevents = [\"drills\", \"transitions\"]\n";
        let l = Config::parse(text, Path::new("c.toml")).unwrap();
        assert!(l.problems.0.is_empty(), "{}", l.problems);
        let n = &l.config.notify[0];
        assert_eq!(n.label(), "http://127.0.0.1:9/hook");
        assert_eq!(
            n.topics(),
            [super::Topic::Drills, super::Topic::Transitions]
        );
        assert_eq!(*n.max_attempts.get_ref(), 5);
        assert_eq!(*n.queue.get_ref(), 1000);
        assert_eq!(n.timeout(), std::time::Duration::from_secs(5));
        assert_eq!(
            n.secret(&|_, m| crate::diag::Diagnostic::file("c", m)),
            Ok(None)
        );
    }

    #[test]
    fn notify_config_every_problem_has_its_line() {
        let text = "[[notify]]\nurl = \"ftp://h/x\"\nevents = []\n\
            secret_env = \"A B\"\ntimeout = \"10ms\"\nmax_attempts = 0\nbackoff = \"2h\"\n\
            backoff_max = \"1s\"\nqueue = 0\nname = \"\"\n\
            [[notify]]\nurl = \"http://127.0.0.1:1/\"\nevents = [\"reloads\", \"reloads\"]\n\
            secret_env = \"X\"\nsecret_file = \"s\"\n";
        let p = problems(text);
        let want = [
            (
                "c.toml:2:",
                "notify.url: `ftp://h/x`: use http:// or https://",
            ),
            ("c.toml:3:", "notify.events is empty"),
            (
                "c.toml:4:",
                "notify.secret_env `A B` is not an environment variable",
            ),
            ("c.toml:5:", "notify.timeout 10ms is out of range"),
            (
                "c.toml:6:",
                "notify.max_attempts 0 is out of range: between 1 and 20",
            ),
            ("c.toml:7:", "notify.backoff 2h is out of range"),
            ("c.toml:8:", "notify.backoff_max 1s is out of range"),
            ("c.toml:9:", "notify.queue 0 is out of range"),
            ("c.toml:10:", "notify.name `` must be 1 to 64"),
            ("c.toml:13:", "notify.events lists `reloads` twice"),
            (
                "c.toml:15:",
                "notify.secret_env and notify.secret_file both set",
            ),
        ];
        for (at, msg) in want {
            assert!(
                p.iter().any(|d| d.starts_with(at) && d.contains(msg)),
                "missing {at} {msg} in {p:#?}"
            );
        }
        assert_eq!(p.len(), want.len(), "{p:#?}");
    }

    #[test]
    fn notify_config_unknown_words_and_keys_are_errors_with_lines() {
        let p = problems("[[notify]]\nurl = \"http://h/\"\nevents = [\"drils\"]\n");
        assert!(
            p.iter()
                .any(|d| d.starts_with("c.toml:3:") && d.contains("unknown variant `drils`")),
            "{p:?}"
        );
        let p =
            problems("[[notify]]\nurl = \"http://h/\"\nevents = [\"drills\"]\nsecret = \"x\"\n");
        assert!(
            p.iter()
                .any(|d| d.starts_with("c.toml:4:") && d.contains("secret")),
            "{p:?}"
        );
    }

    #[test]
    fn notify_secrets_come_from_the_environment_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "  s3cret\n").unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let at = |_: std::ops::Range<usize>, m: String| crate::diag::Diagnostic::file("c.toml", m);
        let cfg = |extra: &str| {
            let text = format!("[[notify]]\nurl = \"http://h/\"\nevents = [\"drills\"]\n{extra}\n");
            let mut l = Config::parse(&text, Path::new("c.toml")).unwrap();
            assert!(l.problems.0.is_empty(), "{}", l.problems);
            l.config.notify[0].resolve_paths(dir.path());
            l.config.notify.remove(0)
        };
        assert_eq!(
            cfg("secret_file = \"s\"").secret(&at).unwrap().as_deref(),
            Some(&b"s3cret"[..])
        );
        let e = cfg("secret_file = \"empty\"").secret(&at).unwrap_err();
        assert!(e.message.contains("is empty"), "{e}");
        let e = cfg("secret_file = \"missing\"").secret(&at).unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
        let e = cfg("secret_env = \"AYADNS_TEST_SURELY_UNSET_VAR\"")
            .secret(&at)
            .unwrap_err();
        assert!(e.message.contains("is not set"), "{e}");
    }
}
