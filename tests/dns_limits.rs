//! The open-file limit at start-up, black-box: the real binary started under a chosen
//! RLIMIT_NOFILE. It raises a low soft limit to the hard one; when even the hard limit cannot
//! hold the configured connections and probes it refuses to start, naming the numbers.
mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(dir: &Path, addr: std::net::SocketAddr, tcp_max: usize) -> PathBuf {
    fs::copy(
        repo().join("zones/gslb.example.com.zone"),
        dir.join("gslb.example.com.zone"),
    )
    .unwrap();
    let p = dir.join("ayadns.toml");
    fs::write(
        &p,
        format!(
            "[server]\nlisten = [\"{addr}\"]\nthreads = 2\ntcp_max_connections = {tcp_max}\n\
             [health]\nmax_concurrent = 200\n[[zone]]\nfile = \"gslb.example.com.zone\"\n"
        ),
    )
    .unwrap();
    p
}

/// `ayadns serve --config cfg` with RLIMIT_NOFILE (soft, hard).
fn spawn_limited(cfg: &Path, soft: u64, hard: u64) -> std::process::Child {
    let mut cmd = Command::new(Ayadns::bin());
    cmd.args(["serve", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().expect("spawn ayadns")
}

#[test]
fn refuses_to_start_when_the_hard_limit_cannot_hold_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    let cfg = config(dir.path(), addr, 1000);
    let child = spawn_limited(&cfg, 512, 512);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for needle in [
        "RLIMIT_NOFILE) is 512",
        "needs 1332",
        "1000 TCP connections",
        "200 probes",
        "4 sockets",
        "not starting",
    ] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
}

#[test]
fn a_low_soft_limit_is_raised_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    let cfg = config(dir.path(), addr, 1000);
    let mut child = spawn_limited(&cfg, 256, 4096);
    let pid = child.id();
    let start = Instant::now();
    let mut limit = None;
    while start.elapsed() < Duration::from_secs(10) && limit.is_none() {
        if wait_for_dns(addr, Duration::from_millis(200)) {
            let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
            limit = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .map(|l| l.split_whitespace().nth(3).unwrap().to_string());
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert_eq!(
        limit.as_deref(),
        Some("4096"),
        "soft limit raised to the hard one"
    );
}
