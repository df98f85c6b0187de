//! Logging: `tracing` to stderr, as text or JSON.
//!
//! hickory-server logs two INFO lines for *every* query; its crates are held at WARN unless the
//! configured filter names them, so a busy server's log stays readable and cheap.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `RUST_LOG`, when set, wins over the config.
pub fn init(cfg: &LogConfig) {
    let mut filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.level.clone());
    for noisy in ["hickory_server", "hickory_proto", "hickory_net"] {
        if !filter.contains(noisy) {
            filter.push_str(&format!(",{noisy}=warn"));
        }
    }
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter {filter:?} ({e}); using info");
        EnvFilter::new("info,hickory_server=warn,hickory_proto=warn,hickory_net=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match cfg.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
