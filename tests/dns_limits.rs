//! Start-up resources, black-box.
//!
//! The open-file limit: the real binary started under a chosen RLIMIT_NOFILE. It raises a low
//! soft limit to the hard one; when even the hard limit cannot hold the configured
//! connections and probes it refuses to start, naming the numbers.
//!
//! CPU affinity (`[server] cpu_affinity`): which cores the worker threads may run on, read
//! from `/proc`.
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

/// The cores each thread named `name` of process `pid` may run on (`Cpus_allowed_list`).
fn allowed_cpus(pid: u32, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let status = fs::read_to_string(task.path().join("status")).unwrap_or_default();
        if let Some(l) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
            out.push(l.split_whitespace().nth(1).unwrap_or("").to_string());
        }
    }
    out
}

/// The cores this test process may run on, as the kernel lists them.
fn own_cpus() -> String {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let l = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    l.split_whitespace().nth(1).unwrap().to_string()
}

/// `[server] cpu_affinity`: each UDP worker runs on one core of its own (the first ones the
/// process may use), and still answers; without it, or with more workers than cores, no
/// thread is pinned (the latter with a warning).
#[test]
fn cpu_affinity_pins_each_udp_worker_to_its_own_core() {
    let mine = own_cpus();
    let first: String = mine.split([',', '-']).next().unwrap().to_string();
    let cores = std::thread::available_parallelism().unwrap().get();
    for (affinity, threads, pinned) in
        [(true, 1, true), (false, 1, false), (true, cores + 1, false)]
    {
        let dir = tempfile::tempdir().unwrap();
        let addr = unique_addr();
        let cfg = config(dir.path(), addr, 100);
        let text = fs::read_to_string(&cfg).unwrap().replace(
            "threads = 2",
            &format!("threads = {threads}\ncpu_affinity = {affinity}"),
        );
        fs::write(&cfg, text).unwrap();
        let mut a = Ayadns::start(&["serve", "--config", cfg.to_str().unwrap()]);
        a.wait_for_dns(addr, Duration::from_secs(10));
        let udp = allowed_cpus(a.pid(), "dns-udp-0");
        let tcp = allowed_cpus(a.pid(), "dns-tcp-0");
        assert_eq!(udp.len(), 1, "one thread dns-udp-0");
        if pinned {
            assert_eq!(udp[0], first, "UDP worker 0 on the first usable core");
            assert_eq!(tcp, vec![mine.clone()], "TCP workers are not pinned");
            assert!(!a.log().contains("cpu_affinity"), "no warning: {}", a.log());
        } else {
            assert_eq!(
                udp[0], mine,
                "not pinned (affinity {affinity}, {threads} threads)"
            );
        }
        if threads > cores {
            assert!(
                a.wait_for_log("more DNS workers than usable cores", Duration::from_secs(5)),
                "{}",
                a.log()
            );
        }
    }
}
