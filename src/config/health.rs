//! `[health]`, endpoint `check`s and `[admin]`: how health is measured and where results go.
//!
//! ```toml
//! [health]
//! probers = ["us", "eu", "ap"]   # regions probed from this process (vantage points)
//! agents = []                    # regions whose results come from `ayadns probe` agents
//! interval = "10s"               # default per check
//! timeout = "2s"                 # default per check; must be less than the interval
//! rise = 2                       # successes in a row to come up
//! fall = 3                       # failures in a row to go down
//! quorum = 0                     # regions that must say "up"; 0 = a majority of fresh regions
//! stale_after = "30s"            # a region's result older than this does not vote (default 3 × interval)
//! initial = "up"                 # state before the first result when nothing recent is stored
//! max_age = "5m"                 # warm start: stored state younger than this is used at start
//! state_file = "data/ayadns.db"  # SQLite: state, history (relative to the config file;
//!                                 # default: ayadns.db in [server] state_dir)
//! history_max_age = "7d"
//! history_max_rows = 100000
//! max_concurrent = 200           # probes in flight at once, all regions together
//!
//! [[pool.endpoint]]
//! check = "http://127.0.0.1:18011/health"          # short form
//! # or the long form:
//! [pool.endpoint.check]
//! url = "https://192.0.2.10/health"   # http, https or tcp://host:port
//! host = "www.example.com"            # Host header and TLS SNI (the URL's address is dialled)
//! method = "GET"
//! expect = ["200-299", "301"]         # status codes or ranges (default 200-299)
//! body = "ok"                         # the body must contain this
//! insecure = false                    # skip TLS verification (self-signed certificates)
//! follow_redirects = false
//! interval = "5s"                     # and timeout, rise, fall: override [health]
//!
//! [admin]
//! listen = "127.0.0.1:8053"           # the admin HTTP API
//! tokens_file = "tokens.txt"          # lines: NAME ROLE TOKEN (ROLE: admin, read, agent)
//! admin_token_env = "AYADNS_ADMIN_TOKEN"  # also accept an admin token from this variable
//! rate_limit = 50                     # requests per second per client (429 past it)
//! ```

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// `[health]`.
#[derive(Debug, Clone, Deserialize)]
pub struct HealthConfig {
    /// Regions probed from this process.
    #[serde(default)]
    pub probers: Vec<Spanned<String>>,
    /// Regions reported by remote agents.
    #[serde(default)]
    pub agents: Vec<Spanned<String>>,
    /// Default check interval.
    #[serde(default = "d_interval", with = "super::duration")]
    pub interval: Duration,
    /// Default check timeout.
    #[serde(default = "d_timeout", with = "super::duration")]
    pub timeout: Duration,
    /// Successes in a row to come up.
    #[serde(
        default = "d_rise",
        deserialize_with = "super::duration::within::<_, u32, 1, 100>"
    )]
    pub rise: u32,
    /// Failures in a row to go down.
    #[serde(
        default = "d_fall",
        deserialize_with = "super::duration::within::<_, u32, 1, 100>"
    )]
    pub fall: u32,
    /// Regions that must agree on "up"; 0 = a majority of the fresh ones.
    #[serde(
        default,
        deserialize_with = "super::duration::within::<_, usize, 0, 1000>"
    )]
    pub quorum: usize,
    /// Results older than this do not vote (default 3 × interval).
    #[serde(default, deserialize_with = "opt_duration")]
    pub stale_after: Option<Duration>,
    /// State before any result when nothing recent is stored.
    #[serde(default)]
    pub initial: Initial,
    /// Stored state younger than this is used at start.
    #[serde(default = "d_max_age", with = "super::duration")]
    pub max_age: Duration,
    /// The SQLite file.
    #[serde(default = "d_state_file")]
    pub state_file: PathBuf,
    /// History retention by age.
    #[serde(default = "d_history_age", with = "super::duration")]
    pub history_max_age: Duration,
    /// History retention by rows.
    #[serde(
        default = "d_history_rows",
        deserialize_with = "super::duration::within::<_, usize, 1, 1000000000>"
    )]
    pub history_max_rows: usize,
    /// Probes in flight at once.
    #[serde(
        default = "d_concurrent",
        deserialize_with = "super::duration::within::<_, usize, 1, 100000>"
    )]
    pub max_concurrent: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// The state endpoints start in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initial {
    /// Up: a cold start never empties answers (as Route 53 does).
    #[default]
    Up,
    /// Down until proven up.
    Down,
}

fn d_interval() -> Duration {
    Duration::from_secs(10)
}
fn d_timeout() -> Duration {
    Duration::from_secs(2)
}
fn d_rise() -> u32 {
    2
}
fn d_fall() -> u32 {
    3
}
fn d_max_age() -> Duration {
    Duration::from_secs(300)
}
/// Empty: `ayadns.db` in `[server] state_dir` (resolved by `Config::resolve_paths`).
fn d_state_file() -> PathBuf {
    PathBuf::new()
}
fn d_history_age() -> Duration {
    Duration::from_secs(7 * 86400)
}
fn d_history_rows() -> usize {
    100_000
}
fn d_concurrent() -> usize {
    200
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    super::duration::deserialize(d).map(Some)
}

/// An endpoint's health check, short (a URL) or long (a table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// `http://…`, `https://…` or `tcp://host:port`.
    pub url: String,
    /// Host header and SNI.
    #[serde(default)]
    pub host: Option<String>,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Expected status codes or ranges.
    #[serde(default)]
    pub expect: Vec<StatusRange>,
    /// A substring the body must contain.
    #[serde(default)]
    pub body: Option<String>,
    /// Skip TLS verification.
    #[serde(default)]
    pub insecure: bool,
    /// Follow redirects.
    #[serde(default)]
    pub follow_redirects: bool,
    /// Interval override.
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Timeout override.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Rise override.
    #[serde(
        default,
        deserialize_with = "super::duration::within_opt::<_, u32, 1, 100>"
    )]
    pub rise: Option<u32>,
    /// Fall override.
    #[serde(
        default,
        deserialize_with = "super::duration::within_opt::<_, u32, 1, 100>"
    )]
    pub fall: Option<u32>,
}

/// The timing of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// Successes in a row to come up.
    pub rise: u32,
    /// Failures in a row to go down.
    pub fall: u32,
}

/// A check spec, parsed: what to dial and what to ask.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckTarget {
    /// TCP connect to this address.
    Tcp(SocketAddr),
    /// An HTTP(S) request.
    Http(HttpTarget),
}

/// An HTTP(S) check, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    /// The URL asked for (with the `host` setting as its host, when set).
    pub url: reqwest::Url,
    /// With `host`: the name spoken (Host header, SNI) and the address dialled for it.
    pub dial: Option<(String, SocketAddr)>,
    /// The method.
    pub method: reqwest::Method,
    /// Expected status ranges (default 200–299).
    pub expect: Vec<StatusRange>,
    /// A substring the body must contain.
    pub body: Option<String>,
    /// Skip TLS verification.
    pub insecure: bool,
    /// Follow redirects.
    pub follow_redirects: bool,
}

fn ip_of(host: &str) -> Option<std::net::IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

impl CheckSpec {
    /// Parse the URL and options (the one place a check spec is read).
    pub fn parse(&self) -> Result<CheckTarget, String> {
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| format!("bad URL `{}`: {e}", self.url))?;
        match url.scheme() {
            "tcp" => {
                let host = url.host_str().ok_or("tcp:// needs host:port")?;
                let port = url.port().ok_or("tcp:// needs a port")?;
                let ip = ip_of(host)
                    .ok_or_else(|| format!("tcp:// needs an IP address, not `{host}`"))?;
                Ok(CheckTarget::Tcp(SocketAddr::new(ip, port)))
            }
            "http" | "https" => {
                let method = self
                    .method
                    .as_deref()
                    .unwrap_or("GET")
                    .parse::<reqwest::Method>()
                    .map_err(|_| {
                        format!("bad method `{}`", self.method.as_deref().unwrap_or(""))
                    })?;
                let host = url.host_str().ok_or("URL has no host")?.to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let mut url = url.clone();
                let dial = match &self.host {
                    None => None,
                    Some(vhost) => {
                        // Dial the URL's address, but speak to `vhost` (Host header and SNI).
                        let ip =
                            ip_of(&host).ok_or("with `host`, the URL must name an IP address")?;
                        url.set_host(Some(vhost))
                            .map_err(|e| format!("bad host `{vhost}`: {e}"))?;
                        Some((vhost.clone(), SocketAddr::new(ip, port)))
                    }
                };
                Ok(CheckTarget::Http(HttpTarget {
                    url,
                    dial,
                    method,
                    expect: if self.expect.is_empty() {
                        vec![StatusRange(200, 299)]
                    } else {
                        self.expect.clone()
                    },
                    body: self.body.clone(),
                    insecure: self.insecure,
                    follow_redirects: self.follow_redirects,
                }))
            }
            other => Err(format!(
                "unsupported check scheme `{other}` (http, https, tcp)"
            )),
        }
    }

    /// The timing of this check, defaults from `[health]`.
    pub fn timing(&self, defaults: &HealthConfig) -> Timing {
        Timing {
            interval: self.interval.unwrap_or(defaults.interval),
            timeout: self.timeout.unwrap_or(defaults.timeout),
            rise: self.rise.unwrap_or(defaults.rise),
            fall: self.fall.unwrap_or(defaults.fall),
        }
    }

    /// Check the spec for errors (for `ayadns check` and reloads).
    pub fn validate(&self, defaults: &HealthConfig) -> Result<(), String> {
        self.parse()?;
        let t = self.timing(defaults);
        if t.timeout >= t.interval {
            return Err(format!(
                "timeout {:?} must be less than interval {:?}",
                t.timeout, t.interval
            ));
        }
        if t.rise == 0 || t.fall == 0 {
            return Err("rise and fall must be at least 1".into());
        }
        Ok(())
    }
}

/// A status code or an inclusive range of them: `200`, `"200-299"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusRange(pub u16, pub u16);

impl StatusRange {
    /// Is `code` in the range?
    pub fn contains(&self, code: u16) -> bool {
        (self.0..=self.1).contains(&code)
    }
}

impl<'de> Deserialize<'de> for StatusRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code (200) or range (\"200-299\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusRange, E> {
                let c = u16::try_from(v).map_err(|_| E::custom(format!("bad status code {v}")))?;
                Ok(StatusRange(c, c))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusRange, E> {
                let bad = || E::custom(format!("bad status range `{v}` (try \"200-299\")"));
                let (a, b) = v.split_once('-').unwrap_or((v, v));
                let a: u16 = a.trim().parse().map_err(|_| bad())?;
                let b: u16 = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                Ok(StatusRange(a, b))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for CheckSpecOrUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CheckSpecOrUrl;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a check URL or a table with `url`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CheckSpecOrUrl, E> {
                Ok(CheckSpecOrUrl(CheckSpec {
                    url: v.to_string(),
                    ..CheckSpec::default()
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CheckSpecOrUrl, A::Error> {
                CheckSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(CheckSpecOrUrl)
            }
        }
        d.deserialize_any(V)
    }
}

/// The deserialized form of an endpoint's `check`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSpecOrUrl(pub CheckSpec);

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminConfig {
    /// Where the admin API listens; absent = no admin API.
    #[serde(default)]
    pub listen: Option<Spanned<SocketAddr>>,
    /// Token file: lines `NAME ROLE TOKEN`.
    #[serde(default)]
    pub tokens_file: Option<Spanned<PathBuf>>,
    /// An environment variable holding an admin token.
    #[serde(default)]
    pub admin_token_env: Option<String>,
    /// A second listener serving only `GET /metrics`, without a token (for Prometheus on a
    /// network the admin API should not be reachable from); absent = none.
    #[serde(default)]
    pub metrics_listen: Option<Spanned<SocketAddr>>,
    /// TLS for the admin API: the certificate chain (PEM), with `tls_key`.
    #[serde(default)]
    pub tls_cert: Option<Spanned<PathBuf>>,
    /// TLS for the admin API: the private key (PEM).
    #[serde(default)]
    pub tls_key: Option<Spanned<PathBuf>>,
    /// Time a client has to send a request's headers (and to start the next one on a kept-alive
    /// connection) before the connection is closed.
    #[serde(default = "d_header_timeout", with = "super::duration")]
    pub header_timeout: Duration,
    /// Requests per second per client address (bursts of twice that), 1 to 100000.
    #[serde(
        default = "d_rate",
        deserialize_with = "super::duration::within::<_, u32, 1, 100000>"
    )]
    pub rate_limit: u32,
    /// Audit entries older than this are deleted.
    #[serde(default = "d_audit_age", with = "super::duration")]
    pub audit_max_age: Duration,
    /// At most this many audit entries are kept (the oldest go first).
    #[serde(
        default = "d_audit_rows",
        deserialize_with = "super::duration::within::<_, u64, 100, 1000000000>"
    )]
    pub audit_max_rows: u64,
}

fn d_rate() -> u32 {
    50
}
fn d_header_timeout() -> Duration {
    Duration::from_secs(5)
}
fn d_audit_age() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}
fn d_audit_rows() -> u64 {
    100_000
}

impl Default for AdminConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}
