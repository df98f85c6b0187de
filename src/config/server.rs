//! `[server]` and `[log]`: listeners, protocol limits, logging.
//!
//! ```toml
//! [server]
//! listen = ["127.0.0.1:5353", "[::1]:5353"]  # UDP and TCP on each (default 127.0.0.1:5353)
//! max_udp_payload = 1232        # largest UDP answer, whatever the client advertises (EDNS)
//! tcp_idle_timeout = "10s"      # a TCP connection with no query for this long is closed
//! tcp_max_connections = 1000    # more concurrent TCP connections wait in the kernel backlog
//! threads = 0                   # DNS worker threads; 0 = one per CPU core
//!
//! [log]
//! level = "info"                # error, warn, info, debug, trace (or a tracing filter)
//! format = "text"               # text or json
//! ```

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
    /// Cap on concurrent TCP connections.
    #[serde(default = "default_tcp_max")]
    pub tcp_max_connections: usize,
    /// DNS worker threads (one current-thread runtime each); 0 = one per core.
    #[serde(default)]
    pub threads: usize,
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
            threads: 0,
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
