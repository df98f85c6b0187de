//! A test site: a temp folder holding the example zone, a tokens file and a config assembled
//! from parts, served on unique loopback addresses (DNS and admin API on different ones, so
//! their ports cannot collide). Shared by the black-box tests that need the admin API.

use super::backend::eventually;
use super::{Ayadns, unique_addr};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An admin token in every site's tokens file (name `ops`).
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
/// A read-only token (name `viewer`).
pub const READ_TOKEN: &str = "read-token-0123456789";
/// An agent token (name `agents`), bound to the regions us, eu and ap.
pub const AGENT_TOKEN: &str = "agent-token-0123456789";

/// The three regions of the example: us (the Americas, default), eu (Europe, Africa), ap.
pub const REGIONS: &str = r#"[[region]]
name = "us"
location = [39.0, -98.0]
continents = ["NA", "SA"]
default = true
[[region]]
name = "eu"
location = [50.1, 8.7]
continents = ["EU", "AF"]
[[region]]
name = "ap"
location = [1.3, 103.8]
continents = ["AS", "OC"]
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One site.
pub struct Site {
    dir: tempfile::TempDir,
    /// DNS, UDP and TCP.
    pub dns: SocketAddr,
    /// The admin API.
    pub admin: SocketAddr,
}

impl Site {
    /// A fresh folder with the zone and the tokens file.
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(
            repo().join("zones/gslb.example.com.zone"),
            dir.path().join("gslb.example.com.zone"),
        )
        .unwrap();
        fs::write(
            dir.path().join("tokens.txt"),
            format!(
                "ops admin {ADMIN_TOKEN}\nviewer read {READ_TOKEN}\nagents agent:us,eu,ap {AGENT_TOKEN}\n"
            ),
        )
        .unwrap();
        Site {
            dir,
            dns: unique_addr(),
            admin: unique_addr(),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `ayadns.toml`: listeners, the zone, the sample GeoIP database, `[health]` with
    /// `health` as its body (plus `state_file = "state.db"`), the three regions, then `rest`
    /// (pools and services).
    pub fn config(&self, health: &str, rest: &str) -> PathBuf {
        let cfg = format!(
            "[server]\nlisten = [\"{dns}\"]\n[admin]\nlisten = \"{admin}\"\ntokens_file = \"tokens.txt\"\n\
             [[zone]]\nfile = \"gslb.example.com.zone\"\n[geoip]\ndatabases = [\"{geo}\"]\n\
             [health]\n{health}\nstate_file = \"state.db\"\n{REGIONS}{rest}",
            dns = self.dns,
            admin = self.admin,
            geo = repo().join("geoip/sample.mmdb").display(),
        );
        let p = self.path().join("ayadns.toml");
        fs::write(&p, cfg).unwrap();
        p
    }

    /// Start the server on `cfg`; returns once DNS answers and the admin API listens.
    pub fn start(&self, cfg: &Path) -> Ayadns {
        self.start_with(cfg, &[])
    }

    /// As [`Site::start`], with more arguments for `serve` (e.g. `--test-clock 0s`).
    pub fn start_with(&self, cfg: &Path, extra: &[&str]) -> Ayadns {
        let mut args = vec!["serve", "--config", cfg.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut a = Ayadns::start_in(self.path(), &args);
        a.wait_for_dns(self.dns, Duration::from_secs(15));
        assert!(
            eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
                self.admin
            )
            .is_ok()),
            "admin API not listening"
        );
        a
    }
}

/// A probe report body as an agent sends it: sent now, with a fresh sequence number.
pub fn report_body(region: &str, results: Vec<ayadns::api::ProbeResult>) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    serde_json::to_string(&ayadns::api::ProbeReports {
        region: region.to_string(),
        sent_at: now.as_secs_f64(),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        results,
    })
    .unwrap()
}
