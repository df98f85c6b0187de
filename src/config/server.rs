//! `[server]` and `[log]`: listeners, protocol limits, logging.
//!
//! ```toml
//! [server]
//! listen = ["127.0.0.1:5353", "[::1]:5353"]  # UDP and TCP on each (default 127.0.0.1:5353)
//! max_udp_payload = 1232        # largest UDP answer, whatever the client advertises (EDNS)
//! tcp_idle_timeout = "10s"      # a TCP connection with no query for this long is closed
//! tcp_max_connections = 1000    # at the cap the oldest idle connection is closed for a new one
//! tcp_max_per_client = 32       # connections one client address may hold at once
//! tcp_io_timeout = "5s"         # a started query or an answer being written must finish in this
//! tcp_max_lifetime = "5m"       # a connection is closed (after its answer in flight) when this old
//! tcp_max_queries = 0           # ... or after answering this many queries (0 = no limit)
//! cookies = true                # DNS cookies (RFC 7873/9018); a valid one exempts from [rrl]
//! threads = 0                   # DNS worker threads; 0 = one per CPU core
//! cpu_affinity = false          # pin each UDP worker to its own core (see below)
//!
//! [log]
//! level = "info"                # error, warn, info, debug, trace (or a tracing filter)
//! format = "text"               # text or json
//! ```
//!
//! `cpu_affinity = true` pins UDP worker *i* to the *i*-th core the process may run on and
//! asks the kernel (`SO_INCOMING_CPU`) to hand each worker the datagrams processed on its
//! core: no cross-core wake-ups, bigger batches, less CPU per query (about a fifth less in
//! `scripts/bench.sh`). It suits a machine that serves DNS and little else; where other busy
//! programs share the cores, a pinned worker cannot move away from them and answers later.
//! With more workers than usable cores it is ignored (with a warning).

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;
use toml::Spanned;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    /// Addresses to serve DNS on, UDP and TCP each.
    #[serde(default = "default_listen")]
    pub listen: Vec<Spanned<SocketAddr>>,
    /// The largest UDP response sent, clamping the client's EDNS buffer size (RFC 6891).
    #[serde(default = "default_max_udp_payload")]
    pub max_udp_payload: u16,
    /// Idle timeout of a TCP connection (RFC 7766 §6.2.3).
    #[serde(default = "default_tcp_idle", with = "super::duration")]
    pub tcp_idle_timeout: Duration,
    /// Cap on concurrent TCP connections (1..=1,000,000).
    #[serde(default = "default_tcp_max", deserialize_with = "tcp_max")]
    pub tcp_max_connections: usize,
    /// Cap on concurrent TCP connections from one client address (1..=65,535).
    #[serde(
        default = "default_tcp_per_client",
        deserialize_with = "tcp_per_client"
    )]
    pub tcp_max_per_client: usize,
    /// Time allowed to finish reading a started query or writing an answer (100ms..=5m).
    #[serde(default = "default_tcp_io", deserialize_with = "tcp_io")]
    pub tcp_io_timeout: Duration,
    /// Age at which a TCP connection is closed after its answer in flight (1s..=24h).
    #[serde(default = "default_tcp_lifetime", deserialize_with = "tcp_lifetime")]
    pub tcp_max_lifetime: Duration,
    /// Queries answered on one TCP connection before it is closed (0 = no limit;
    /// at most 1,000,000).
    #[serde(default = "default_tcp_queries", deserialize_with = "tcp_queries")]
    pub tcp_max_queries: u32,
    /// Answer DNS cookies (RFC 7873, server cookies per RFC 9018).
    #[serde(default = "default_true")]
    pub cookies: bool,
    /// DNS worker threads (one current-thread runtime each); 0 = one per core.
    #[serde(default)]
    pub threads: usize,
    /// Pin each UDP worker to its own core (see the module doc).
    #[serde(default)]
    pub cpu_affinity: bool,
    /// Where the state file goes by default (relative to the config file's folder). Unset:
    /// `$STATE_DIRECTORY` when set (systemd's `StateDirectory=`, e.g. `/var/lib/ayadns`),
    /// else `data` next to the config file.
    #[serde(default)]
    pub state_dir: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            max_udp_payload: default_max_udp_payload(),
            tcp_idle_timeout: default_tcp_idle(),
            tcp_max_connections: default_tcp_max(),
            tcp_max_per_client: default_tcp_per_client(),
            tcp_io_timeout: default_tcp_io(),
            tcp_max_lifetime: default_tcp_lifetime(),
            tcp_max_queries: default_tcp_queries(),
            cookies: true,
            threads: 0,
            cpu_affinity: false,
            state_dir: None,
        }
    }
}

/// The state folder when `[server] state_dir` is unset: systemd's `$STATE_DIRECTORY` (its
/// first entry), else `data`.
pub fn default_state_dir() -> std::path::PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|v| {
            v.to_str()
                .and_then(|s| s.split(':').next())
                .filter(|s| !s.is_empty())
                .map(std::path::PathBuf::from)
        })
        .unwrap_or_else(|| std::path::PathBuf::from("data"))
}

fn default_listen() -> Vec<Spanned<SocketAddr>> {
    vec![Spanned::new(0..0, SocketAddr::from(([127, 0, 0, 1], 5353)))]
}
fn default_max_udp_payload() -> u16 {
    1232
}
fn default_tcp_idle() -> Duration {
    Duration::from_secs(10)
}
fn default_tcp_max() -> usize {
    1000
}
fn default_tcp_per_client() -> usize {
    32
}
fn default_tcp_io() -> Duration {
    Duration::from_secs(5)
}
fn default_tcp_lifetime() -> Duration {
    Duration::from_secs(300)
}
fn default_tcp_queries() -> u32 {
    0
}
fn default_true() -> bool {
    true
}

/// A number from the config, rejected (with the value's line) outside `lo..=hi`.
pub(crate) fn in_range<'de, D, T>(d: D, key: &str, lo: T, hi: T) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + std::fmt::Display,
{
    let v = T::deserialize(d)?;
    if v < lo || v > hi {
        return Err(serde::de::Error::custom(format!(
            "{key} = {v} is out of range: it must be between {lo} and {hi}"
        )));
    }
    Ok(v)
}

/// A duration from the config, rejected (with the value's line) outside `lo..=hi`.
fn duration_in<'de, D>(d: D, key: &str, lo: Duration, hi: Duration) -> Result<Duration, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = super::duration::deserialize(d)?;
    if v < lo || v > hi {
        return Err(serde::de::Error::custom(format!(
            "{key} = {} is out of range: it must be between {} and {}",
            humantime::format_duration(v),
            humantime::format_duration(lo),
            humantime::format_duration(hi)
        )));
    }
    Ok(v)
}

fn tcp_max<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    in_range(d, "tcp_max_connections", 1, 1_000_000)
}
fn tcp_per_client<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    in_range(d, "tcp_max_per_client", 1, 65_535)
}
fn tcp_queries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "tcp_max_queries", 0, 1_000_000)
}
fn tcp_io<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let (lo, hi) = (Duration::from_millis(100), Duration::from_secs(300));
    duration_in(d, "tcp_io_timeout", lo, hi)
}
fn tcp_lifetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let (lo, hi) = (Duration::from_secs(1), Duration::from_secs(86_400));
    duration_in(d, "tcp_max_lifetime", lo, hi)
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    /// A level (`info`) or a full tracing filter (`info,ayadns::health=debug`).
    #[serde(default = "default_level")]
    pub level: String,
    /// Text for people, JSON for log pipelines.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}
