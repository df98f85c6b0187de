//! Real etcd clusters for tests: 1 or 3 members of Debian's `etcd` (package `etcd-server`) on
//! loopback addresses, each with its own data folder (on tmpfs when `/dev/shm` exists), run with
//! `GOMAXPROCS=1` to stay light on a small machine, and stopped by PID.
//!
//! Faults are signals, since this machine has no netem or iptables: [`EtcdCluster::kill`]
//! (SIGKILL, the member's data stays for [`EtcdCluster::restart`]), [`EtcdCluster::pause`]
//! (SIGSTOP) and [`EtcdCluster::resume`] (SIGCONT). Dropping the cluster SIGCONTs and SIGKILLs
//! every member it started and waits for them, so no process outlives a test, even one that
//! panics.
//!
//! [`EtcdCluster::start_tls`] serves clients over TLS with client certificates required
//! (certificates made by [`TestPki`] with the `openssl` command). Readiness is always polled on
//! a plain-HTTP metrics listener (`/health`), so it works the same with and without TLS.
//!
//! Self-contained (std, libc, tempfile): include it with `#[path = "common/etcd.rs"] mod etcd;`
//! or as `pub mod etcd;` from `common/mod.rs`.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long [`EtcdCluster::start`] and [`EtcdCluster::restart`] wait for a healthy cluster.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The etcd program, or `None` when it is not installed (`scripts/test-deps.sh` installs it).
pub fn etcd_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin"].iter().map(PathBuf::from))
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

/// One member: its addresses, folders and (while it runs) its process.
pub struct Member {
    pub name: String,
    pub client: SocketAddr,
    pub peer: SocketAddr,
    /// Plain-HTTP `/health` and `/metrics`.
    pub metrics: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Member {
    /// `http://IP:PORT` (or https), the client URL.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.client)
    }

    /// The PID while the member runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The member's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

/// A 1- or 3-member etcd cluster on loopback.
pub struct EtcdCluster {
    pub members: Vec<Member>,
    tls: Option<ServerTls>,
    initial_cluster: String,
    token: String,
    program: PathBuf,
    _dir: tempfile::TempDir,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A 127.0.0.x address (x in 2..=254), different for each call within a test binary and mixed
/// with the PID so that test binaries running at once start at different places.
fn next_ip() -> Ipv4Addr {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let x = 2 + ((std::process::id().wrapping_mul(53).wrapping_add(n * 7)) % 253) as u8;
    Ipv4Addr::new(127, 0, 0, x)
}

/// Three TCP ports that were free on `ip` a moment ago.
fn free_ports(ip: Ipv4Addr) -> [u16; 3] {
    let l: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((ip, 0)).expect("bind a loopback port"))
        .collect();
    [0, 1, 2].map(|i| l[i].local_addr().expect("local addr").port())
}

/// The server side of TLS: etcd's certificate and key, and the CA its clients must present
/// certificates from.
#[derive(Clone)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// A throw-away CA with a server certificate valid for every 127.0.0.x and a client
/// certificate, made with the `openssl` command in a temp folder.
pub struct TestPki {
    pub ca: PathBuf,
    pub server: ServerTls,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes the files; panics with openssl's output when it fails.
    pub fn new() -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("ayadns-pki-")
            .tempdir()
            .expect("create the PKI folder");
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("run openssl (scripts/test-deps.sh installs it)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=ayadns test CA"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        run(&ca);
        let sans: Vec<String> = (1..=254).map(|x| format!("IP:127.0.0.{x}")).collect();
        fs::write(
            d.join("server.ext"),
            format!(
                "subjectAltName={}\nextendedKeyUsage=serverAuth,clientAuth\n",
                sans.join(",")
            ),
        )
        .expect("write server.ext");
        fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("write client.ext");
        for (name, cn) in [("server", "etcd"), ("client", "ayadns")] {
            let subj = format!("/CN={cn}");
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let mut req = vec!["req", "-subj", subj.as_str()];
            req.extend(ec);
            req.extend(["-keyout", key.as_str(), "-out", csr.as_str()]);
            run(&req);
            let pem = format!("{name}.pem");
            let ext = format!("{name}.ext");
            run(&[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ]);
        }
        TestPki {
            ca: d.join("ca.pem"),
            server: ServerTls {
                cert: d.join("server.pem"),
                key: d.join("server.key"),
                ca: d.join("ca.pem"),
            },
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            _dir: dir,
        }
    }
}

impl EtcdCluster {
    /// Starts `n` members (1 or 3) and waits until the cluster answers `/health` with a leader.
    /// Panics when etcd is not installed or does not become healthy within [`READY_TIMEOUT`].
    pub fn start(n: usize) -> EtcdCluster {
        Self::start_with(n, None)
    }

    /// Like [`EtcdCluster::start`], with clients served over TLS (client certificates
    /// required); the endpoints are `https://`.
    pub fn start_tls(n: usize, tls: &ServerTls) -> EtcdCluster {
        Self::start_with(n, Some(tls.clone()))
    }

    fn start_with(n: usize, tls: Option<ServerTls>) -> EtcdCluster {
        assert!(n == 1 || n == 3, "an etcd test cluster has 1 or 3 members");
        let program = etcd_program()
            .expect("etcd is not installed: run scripts/test-deps.sh (Debian package etcd-server)");
        let base = if Path::new("/dev/shm").is_dir() {
            tempfile::Builder::new()
                .prefix("ayadns-etcd-")
                .tempdir_in("/dev/shm")
        } else {
            tempfile::Builder::new().prefix("ayadns-etcd-").tempdir()
        }
        .expect("create the etcd test folder");
        let mut members = Vec::new();
        for i in 0..n {
            let ip = next_ip();
            let [cp, pp, mp] = free_ports(ip);
            let name = format!("m{i}");
            members.push(Member {
                client: SocketAddr::from((ip, cp)),
                peer: SocketAddr::from((ip, pp)),
                metrics: SocketAddr::from((ip, mp)),
                scheme: if tls.is_some() { "https" } else { "http" },
                data_dir: base.path().join(format!("{name}.etcd")),
                log_path: base.path().join(format!("{name}.log")),
                name,
                child: None,
                paused: false,
            });
        }
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!(
            "ayadns-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut cluster = EtcdCluster {
            members,
            tls,
            initial_cluster,
            token,
            program,
            _dir: base,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.wait_healthy(READY_TIMEOUT);
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let m = &self.members[i];
        assert!(m.child.is_none(), "member {} is already running", m.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&m.log_path)
            .expect("open the etcd log");
        let log2 = log.try_clone().expect("clone the log handle");
        let client = m.url();
        let peer = format!("http://{}", m.peer);
        let metrics = format!("http://{}", m.metrics);
        let mut tls_args: Vec<String> = Vec::new();
        if let Some(t) = &self.tls {
            for (flag, path) in [
                ("--cert-file", &t.cert),
                ("--key-file", &t.key),
                ("--trusted-ca-file", &t.ca),
            ] {
                tls_args.push(flag.into());
                tls_args.push(path.to_string_lossy().into_owned());
            }
            tls_args.push("--client-cert-auth".into());
        }
        let child = Command::new(&self.program)
            .args(&tls_args)
            .args([
                "--listen-metrics-urls",
                &metrics,
                "--name",
                &m.name,
                "--data-dir",
                &m.data_dir.to_string_lossy(),
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
                "--initial-cluster",
                &self.initial_cluster,
                "--initial-cluster-token",
                &self.token,
                "--initial-cluster-state",
                "new",
                // Fast elections keep restarts short; leases keep a 1 s minimum TTL.
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
                "--log-level",
                "warn",
            ])
            .env("GOMAXPROCS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        let m = &mut self.members[i];
        m.child = Some(child);
        m.paused = false;
    }

    /// The client URLs of every member (running or not), for a client's endpoint list.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::url).collect()
    }

    /// Sends `sig` to member `i` by PID (nothing when it is not running).
    fn signal(&self, i: usize, sig: i32) {
        if let Some(pid) = self.members[i].pid() {
            // SAFETY: kill(2) on the PID of our own child, not reaped yet (we hold its Child).
            unsafe { libc::kill(pid as libc::pid_t, sig) };
        }
    }

    /// SIGKILLs member `i` and reaps it; its data folder stays for [`EtcdCluster::restart`].
    pub fn kill(&mut self, i: usize) {
        self.signal(i, libc::SIGCONT);
        let m = &mut self.members[i];
        if let Some(mut child) = m.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        m.paused = false;
    }

    /// SIGKILLs every member.
    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }

    /// SIGSTOPs member `i`: it keeps its sockets but answers nothing.
    pub fn pause(&mut self, i: usize) {
        self.signal(i, libc::SIGSTOP);
        self.members[i].paused = true;
    }

    /// SIGCONTs member `i`.
    pub fn resume(&mut self, i: usize) {
        self.signal(i, libc::SIGCONT);
        self.members[i].paused = false;
    }

    /// Starts member `i` again on its data folder (after [`EtcdCluster::kill`]). Does not wait.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
    }

    /// Restarts every member that is not running and waits until the cluster is healthy.
    pub fn restart_all(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_none() {
                self.spawn(i);
            }
        }
        self.wait_healthy(READY_TIMEOUT);
    }

    /// Waits until some running member answers `/health` with `"health":"true"` (which needs a
    /// leader). Panics with the members' logs after `timeout`.
    pub fn wait_healthy(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            for i in 0..self.members.len() {
                if let Some(child) = self.members[i].child.as_mut()
                    && let Ok(Some(st)) = child.try_wait()
                {
                    self.members[i].child = None;
                    panic!(
                        "etcd member {} exited ({st}):\n{}",
                        self.members[i].name,
                        self.members[i].log()
                    );
                }
                let m = &self.members[i];
                if m.child.is_some() && !m.paused && healthy(m.metrics) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("--- {} ---\n{}", m.name, m.log()))
            .collect();
        panic!(
            "etcd did not become healthy within {timeout:?}\n{}",
            logs.join("\n")
        );
    }
}

/// True when `GET /health` on `addr` says `"health":"true"`.
pub fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    let req = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.take(4096).read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}
