//! Black-box test harness shared by every file in `tests/` (`mod common;`).
//!
//! - [`Ayadns`] / [`Daemon`]: spawn the real binary (or any other server, e.g. `knotd`) with its
//!   output captured to a log file, kill it by PID on drop (SIGTERM, then SIGKILL), print the log
//!   when a test panics while it is alive.
//! - [`unique_addr`]: a distinct loopback address and a port free for both UDP and TCP, so tests
//!   running in parallel never collide.
//! - [`wait_for_dns`] / [`wait_for_tcp`]: readiness polling, no fixed sleeps.
//! - [`Q`]: a query builder (name, type, class, RD, EDNS payload, DO, ECS, id), and the
//!   transports [`udp`], [`tcp`], [`udp_raw`], [`tcp_raw`] over plain std sockets with timeouts.
//! - Small assertion helpers: [`records`], [`records_canonical`], [`flags`], [`rcode`].
//!
//! Network rule: everything here talks only to loopback (127.0.0.0/8 or ::1).
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

/// Default time to wait for one DNS response.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`Daemon::stop`] waits after SIGTERM before it sends SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

#[allow(unused_imports)]
pub use libc::{SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child process whose stdout and stderr go to one log file; killed by PID on drop.
pub struct Daemon {
    name: String,
    child: Child,
    dir: PathBuf,
    log_path: PathBuf,
    /// Holds the log file (and, for [`Ayadns::start`], the working directory) alive.
    _tmp: tempfile::TempDir,
    _own_dir: Option<tempfile::TempDir>,
    exit: Option<ExitStatus>,
    /// Set once [`Daemon::fail`] has put the log in a panic message (Drop then skips it).
    log_shown: std::cell::Cell<bool>,
}

impl Daemon {
    /// Spawns `program args...` with working directory `dir` (a fresh temp dir when `None`) and
    /// the extra environment `envs`. Stdout and stderr both go to `<tempdir>/<name>.log`.
    pub fn spawn(
        program: impl AsRef<Path>,
        args: &[&str],
        dir: Option<&Path>,
        envs: &[(&str, &str)],
    ) -> Daemon {
        let program = program.as_ref();
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "daemon".into());
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{name}-log-"))
            .tempdir()
            .expect("create log tempdir");
        let (dir, own_dir) = match dir {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let d = tempfile::Builder::new()
                    .prefix(&format!("{name}-cwd-"))
                    .tempdir()
                    .expect("create work tempdir");
                (d.path().to_path_buf(), Some(d))
            }
        };
        let log_path = tmp.path().join(format!("{name}.log"));
        let log = File::create(&log_path).expect("create log file");
        let log2 = log.try_clone().expect("clone log file handle");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        Daemon {
            name,
            child,
            dir,
            log_path,
            _tmp: tmp,
            _own_dir: own_dir,
            exit: None,
            log_shown: std::cell::Cell::new(false),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The working directory the process runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the process printed so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("<cannot read log: {e}>"))
    }

    /// Waits until the log contains `needle`; false on timeout or if the process exits.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().contains(needle) {
                return true;
            }
            if self.try_exit().is_some() {
                return self.log().contains(needle);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends a signal (e.g. [`SIGHUP`] for a reload) to the process.
    pub fn send_signal(&self, sig: i32) {
        if self.exit.is_some() {
            panic!(
                "{}: cannot send signal {sig}: process already exited",
                self.name
            );
        }
        // SAFETY: kill(2) on the PID of our own (not yet reaped) child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(
            rc,
            0,
            "kill({}, {sig}): {}",
            self.child.id(),
            io::Error::last_os_error()
        );
    }

    /// The exit status if the process has exited (non-blocking).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_exit() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, wait up to [`KILL_GRACE`], then SIGKILL. Returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(st) = self.try_exit() {
            return st;
        }
        // SAFETY: signalling our own child by PID; it has not been reaped (try_wait said so).
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        if let Some(st) = self.wait_exit(KILL_GRACE) {
            return st;
        }
        let _ = self.child.kill(); // SIGKILL
        let st = self.child.wait().expect("wait for killed child");
        self.exit = Some(st);
        st
    }

    /// Panics with the log, with `what` as the reason.
    pub fn fail(&self, what: &str) -> ! {
        self.log_shown.set(true);
        panic!(
            "{what}\n----- {} log ({}) -----\n{}\n----- end of log -----",
            self.name,
            self.log_path.display(),
            self.log()
        )
    }

    /// Polls `addr` with a UDP query until any DNS response arrives; panics with the log on
    /// timeout or if the process exits first.
    pub fn wait_for_dns(&mut self, addr: SocketAddr, timeout: Duration) {
        let end = Instant::now() + timeout;
        let probe = Q::new(".", RecordType::SOA).message();
        loop {
            if let Some(st) = self.try_exit() {
                self.fail(&format!(
                    "{} exited ({st}) before answering DNS on {addr}",
                    self.name
                ));
            }
            if try_udp(addr, &probe, Duration::from_millis(100)).is_ok() {
                return;
            }
            if Instant::now() >= end {
                self.fail(&format!(
                    "{} did not answer DNS on {addr} within {timeout:?}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls until a TCP connect to `addr` succeeds; panics with the log on timeout/exit.
    pub fn wait_for_tcp(&mut self, addr: SocketAddr, timeout: Duration) {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_exit() {
                self.fail(&format!(
                    "{} exited ({st}) before listening on tcp {addr}",
                    self.name
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            if Instant::now() >= end {
                self.fail(&format!(
                    "{} did not accept TCP on {addr} within {timeout:?}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let alive = self.try_exit().is_none();
        self.stop();
        if std::thread::panicking() {
            // A test failed: keep the log file (its path may be in the panic message), and show
            // the log unless `fail` already put it in the panic message.
            let tmp = std::mem::replace(&mut self._tmp, tempfile::tempdir().expect("tempdir"));
            let kept = tmp.keep().join(format!("{}.log", self.name));
            if self.log_shown.get() {
                return;
            }
            eprintln!(
                "----- {} (pid {}, {}) log kept at {} -----\n{}\n----- end of {} log -----",
                self.name,
                self.child.id(),
                if alive { "was running" } else { "had exited" },
                kept.display(),
                self.log_tail(200),
                self.name
            );
        }
    }
}

impl Daemon {
    fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The ayadns binary under test.
pub struct Ayadns(pub Daemon);

impl Ayadns {
    /// Path of the binary cargo built for this test run.
    pub fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_ayadns")
    }

    /// Starts `ayadns args...` in a fresh temporary working directory.
    pub fn start(args: &[&str]) -> Ayadns {
        Ayadns::start_with(None, args, &[])
    }

    /// Starts `ayadns args...` with working directory `dir` (relative paths resolve there).
    pub fn start_in(dir: &Path, args: &[&str]) -> Ayadns {
        Ayadns::start_with(Some(dir), args, &[])
    }

    /// Full control: working directory and extra environment variables.
    /// `RUST_LOG` defaults to `info` unless given in `envs`.
    pub fn start_with(dir: Option<&Path>, args: &[&str], envs: &[(&str, &str)]) -> Ayadns {
        let mut all: Vec<(&str, &str)> = Vec::new();
        if !envs.iter().any(|(k, _)| *k == "RUST_LOG") {
            all.push(("RUST_LOG", "info"));
        }
        all.extend_from_slice(envs);
        Ayadns(Daemon::spawn(Ayadns::bin(), args, dir, &all))
    }

    /// `ayadns serve --zones DIR --listen ADDR`, waiting until it answers DNS.
    pub fn serve_zones(zones: &Path, addr: SocketAddr) -> Ayadns {
        let zones = zones.to_str().expect("utf-8 path");
        let listen = addr.to_string();
        let mut a = Ayadns::start(&["serve", "--zones", zones, "--listen", &listen]);
        a.wait_for_dns(addr, Duration::from_secs(10));
        a
    }
}

impl std::ops::Deref for Ayadns {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl std::ops::DerefMut for Ayadns {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.0
    }
}

/// Runs `ayadns args...` to completion (for `check`, `explain`, ...): (status, stdout, stderr).
pub fn run_ayadns(dir: Option<&Path>, args: &[&str]) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(Ayadns::bin());
    cmd.args(args).stdin(Stdio::null());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run ayadns");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Finds an executable in `$PATH`, then in the sbin directories (not always on a user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/local/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// Addresses and readiness
// ---------------------------------------------------------------------------------------------

static ADDR_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A distinct 127.0.0.x address (x in 2..=254, rotating per call, mixed with the process id so
/// that concurrently running test binaries start at different places) and a port that was free
/// for both UDP and TCP on it a moment ago.
pub fn unique_addr() -> SocketAddr {
    for _ in 0..200 {
        let n = ADDR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let x = 2 + ((std::process::id().wrapping_mul(37).wrapping_add(n)) % 253) as u8;
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, x));
        if let Some(port) = free_port_on(ip) {
            return SocketAddr::new(ip, port);
        }
    }
    panic!("unique_addr: found no free UDP+TCP port on 127.0.0.0/24");
}

/// A port on `ip` that binds for both UDP and TCP (sockets dropped before returning).
pub fn free_port_on(ip: IpAddr) -> Option<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).ok()?;
        let port = udp.local_addr().ok()?.port();
        if TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return Some(port);
        }
    }
    None
}

/// True once `addr` answers any DNS response to a UDP query within `timeout`.
pub fn wait_for_dns(addr: SocketAddr, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    let probe = Q::new(".", RecordType::SOA).message();
    while Instant::now() < end {
        if try_udp(addr, &probe, Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// True once a TCP connect to `addr` succeeds within `timeout`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

static NEXT_ID: AtomicU16 = AtomicU16::new(0);

fn next_id() -> u16 {
    // Distinct per call within a process; the pid mix keeps parallel processes apart.
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    n.wrapping_mul(7919).wrapping_add(std::process::id() as u16)
}

/// EDNS settings of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct EdnsOpts {
    pub payload: u16,
    pub dnssec_ok: bool,
    pub version: u8,
    /// Client subnet option: (address, source prefix). The address is sent as given.
    pub ecs: Option<(IpAddr, u8)>,
}

impl Default for EdnsOpts {
    fn default() -> Self {
        EdnsOpts {
            payload: 1232,
            dnssec_ok: false,
            version: 0,
            ecs: None,
        }
    }
}

/// A query builder. Defaults: class IN, RD off (we talk to an authoritative server), no EDNS,
/// a fresh id. The name keeps the case it is written in (for 0x20 tests); a missing final dot is
/// added.
#[derive(Clone, Debug)]
pub struct Q {
    pub name: Name,
    pub rtype: RecordType,
    pub class: DNSClass,
    pub rd: bool,
    pub cd: bool,
    pub id: u16,
    pub edns: Option<EdnsOpts>,
}

impl Q {
    pub fn new(name: &str, rtype: RecordType) -> Q {
        let mut n = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad name {name:?}: {e}"));
        n.set_fqdn(true);
        Q {
            name: n,
            rtype,
            class: DNSClass::IN,
            rd: false,
            cd: false,
            id: next_id(),
            edns: None,
        }
    }
    pub fn class(mut self, class: DNSClass) -> Q {
        self.class = class;
        self
    }
    pub fn rd(mut self, rd: bool) -> Q {
        self.rd = rd;
        self
    }
    pub fn cd(mut self, cd: bool) -> Q {
        self.cd = cd;
        self
    }
    pub fn id(mut self, id: u16) -> Q {
        self.id = id;
        self
    }
    /// Adds EDNS(0) with this UDP payload size (keeps DO/ECS if already set).
    pub fn edns(mut self, payload: u16) -> Q {
        self.edns.get_or_insert_with(EdnsOpts::default).payload = payload;
        self
    }
    pub fn no_edns(mut self) -> Q {
        self.edns = None;
        self
    }
    /// Sets the EDNS version (for BADVERS tests); implies EDNS.
    pub fn edns_version(mut self, version: u8) -> Q {
        self.edns.get_or_insert_with(EdnsOpts::default).version = version;
        self
    }
    /// Sets the DO bit; implies EDNS (payload 1232 unless set).
    pub fn dnssec_ok(mut self) -> Q {
        self.edns.get_or_insert_with(EdnsOpts::default).dnssec_ok = true;
        self
    }
    /// Adds an EDNS Client Subnet option; implies EDNS.
    pub fn ecs(mut self, addr: IpAddr, source_prefix: u8) -> Q {
        self.edns.get_or_insert_with(EdnsOpts::default).ecs = Some((addr, source_prefix));
        self
    }

    pub fn message(&self) -> Message {
        let mut m = Message::new(self.id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = self.rd;
        m.metadata.checking_disabled = self.cd;
        let mut q = Query::query(self.name.clone(), self.rtype);
        q.set_query_class(self.class);
        m.add_query(q);
        if let Some(o) = &self.edns {
            let mut e = Edns::new();
            e.set_max_payload(o.payload.max(512));
            e.set_version(o.version);
            e.set_dnssec_ok(o.dnssec_ok);
            if let Some((addr, prefix)) = o.ecs {
                e.options_mut()
                    .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
            }
            m.set_edns(e);
        }
        m
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.message().to_vec().expect("encode query")
    }

    /// Short description for tables: `WwW.diff.test. IN A +edns=1232 +do`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {} {}", self.name, self.class, self.rtype);
        if self.rd {
            s.push_str(" +rd");
        }
        if let Some(e) = &self.edns {
            s.push_str(&format!(" +edns={}", e.payload));
            if e.dnssec_ok {
                s.push_str(" +do");
            }
            if e.version != 0 {
                s.push_str(&format!(" +ednsver={}", e.version));
            }
            if let Some((a, p)) = e.ecs {
                s.push_str(&format!(" +ecs={a}/{p}"));
            }
        }
        s
    }
}

/// `Q::new(name, rtype).message()`.
pub fn query(name: &str, rtype: RecordType) -> Message {
    Q::new(name, rtype).message()
}

// ---------------------------------------------------------------------------------------------
// Transports (std sockets with timeouts)
// ---------------------------------------------------------------------------------------------

fn local_for(addr: SocketAddr) -> SocketAddr {
    assert!(
        addr.ip().is_loopback(),
        "tests talk to loopback only, not {addr}"
    );
    match addr {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
    }
}

/// Sends `bytes` and returns the first datagram that comes back within `timeout`
/// (`Ok(None)` on silence).
pub fn udp_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    let sock = UdpSocket::bind(local_for(addr))?;
    sock.connect(addr)?;
    sock.send(bytes)?;
    sock.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    let mut buf = vec![0u8; 65535];
    match sock.recv(&mut buf) {
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        // ICMP port unreachable for our packet: nobody listens there (yet).
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(e),
    }
}

/// Raw UDP for hostile-packet tests: the response bytes, or None on silence within 1 s.
pub fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    udp_exchange(addr, bytes, Duration::from_secs(1)).expect("udp socket error")
}

/// Like [`udp_raw`] with a chosen timeout.
pub fn udp_raw_timeout(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    udp_exchange(addr, bytes, timeout).expect("udp socket error")
}

/// Sends `msg` over UDP and returns (raw response bytes, parsed response). Errors on timeout,
/// parse failure or an id mismatch.
pub fn try_udp_bytes(
    addr: SocketAddr,
    msg: &Message,
    timeout: Duration,
) -> Result<(Vec<u8>, Message), String> {
    let bytes = msg.to_vec().map_err(|e| format!("encode: {e}"))?;
    let raw = udp_exchange(addr, &bytes, timeout)
        .map_err(|e| format!("udp {addr}: {e}"))?
        .ok_or_else(|| format!("udp {addr}: no response within {timeout:?}"))?;
    let resp =
        Message::from_vec(&raw).map_err(|e| format!("udp {addr}: cannot parse response: {e}"))?;
    if resp.metadata.id != msg.metadata.id {
        return Err(format!(
            "udp {addr}: id mismatch: sent {} got {}",
            msg.metadata.id, resp.metadata.id
        ));
    }
    Ok((raw, resp))
}

pub fn try_udp(addr: SocketAddr, msg: &Message, timeout: Duration) -> Result<Message, String> {
    try_udp_bytes(addr, msg, timeout).map(|(_, m)| m)
}

/// Query over UDP; panics on timeout or a malformed response.
pub fn udp(addr: SocketAddr, msg: &Message) -> Message {
    try_udp(addr, msg, TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one length-prefixed message on a new TCP connection and reads one length-prefixed
/// response (None if the server closes or stays silent within `timeout`).
pub fn tcp_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    assert!(
        addr.ip().is_loopback(),
        "tests talk to loopback only, not {addr}"
    );
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let len = u16::try_from(bytes.len()).expect("message longer than 65535");
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    s.write_all(&framed)?;
    read_tcp_frame(&mut s)
}

/// Reads one length-prefixed DNS message from a stream (None on EOF/timeout).
pub fn read_tcp_frame(s: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut lenb = [0u8; 2];
    match s.read_exact(&mut lenb) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::ConnectionReset
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; u16::from_be_bytes(lenb) as usize];
    match s.read_exact(&mut buf) {
        Ok(()) => Ok(Some(buf)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Raw TCP: frames `bytes` with the 2-byte length; returns the response payload or None.
pub fn tcp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    tcp_exchange(addr, bytes, Duration::from_secs(2)).expect("tcp error")
}

pub fn try_tcp_bytes(
    addr: SocketAddr,
    msg: &Message,
    timeout: Duration,
) -> Result<(Vec<u8>, Message), String> {
    let bytes = msg.to_vec().map_err(|e| format!("encode: {e}"))?;
    let raw = tcp_exchange(addr, &bytes, timeout)
        .map_err(|e| format!("tcp {addr}: {e}"))?
        .ok_or_else(|| format!("tcp {addr}: no response within {timeout:?}"))?;
    let resp =
        Message::from_vec(&raw).map_err(|e| format!("tcp {addr}: cannot parse response: {e}"))?;
    if resp.metadata.id != msg.metadata.id {
        return Err(format!(
            "tcp {addr}: id mismatch: sent {} got {}",
            msg.metadata.id, resp.metadata.id
        ));
    }
    Ok((raw, resp))
}

pub fn try_tcp(addr: SocketAddr, msg: &Message, timeout: Duration) -> Result<Message, String> {
    try_tcp_bytes(addr, msg, timeout).map(|(_, m)| m)
}

/// Query over TCP; panics on timeout or a malformed response.
pub fn tcp(addr: SocketAddr, msg: &Message) -> Message {
    try_tcp(addr, msg, TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// The wire bytes of the question section (QDCOUNT entries right after the 12-byte header),
/// so tests can compare it byte-exact (0x20 case preservation). None if malformed.
pub fn question_bytes(msg: &[u8]) -> Option<&[u8]> {
    if msg.len() < 12 {
        return None;
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]) as usize;
    let mut i = 12;
    for _ in 0..qd {
        loop {
            let l = *msg.get(i)? as usize;
            if l == 0 {
                i += 1;
                break;
            }
            if l & 0xC0 == 0xC0 {
                i += 2; // compression pointer ends the name
                break;
            }
            if l & 0xC0 != 0 {
                return None;
            }
            i += 1 + l;
        }
        i += 4; // type + class
    }
    msg.get(12..i)
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers
// ---------------------------------------------------------------------------------------------

/// Records in presentation format (`name ttl class type rdata`), exactly as received, sorted.
pub fn records(section: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = section.iter().map(|r| r.to_string()).collect();
    v.sort();
    v
}

/// Record types whose RDATA holds domain names (compared case-insensitively, RFC 4343).
fn rdata_has_names(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::NS
            | RecordType::CNAME
            | RecordType::PTR
            | RecordType::MX
            | RecordType::SRV
            | RecordType::SOA
            | RecordType::ANAME
            | RecordType::DNAME
    )
}

/// One record in a case-normalised presentation form: owner name lowercased, and the RDATA
/// lowercased when it consists of domain names (TXT etc. keep their case). TTL included.
pub fn record_canonical(r: &Record) -> String {
    let t = r.record_type();
    let data = r.data.to_string();
    let data = if rdata_has_names(t) {
        data.to_ascii_lowercase()
    } else {
        data
    };
    format!(
        "{} {} {} {} {}",
        r.name.to_lowercase(),
        r.ttl,
        r.dns_class,
        t,
        data
    )
}

/// [`record_canonical`] for a whole section, sorted: compare sections as sets.
pub fn records_canonical(section: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = section.iter().map(record_canonical).collect();
    v.sort();
    v
}

/// Records of one type from a section, canonical and sorted.
pub fn records_of(section: &[Record], t: RecordType) -> Vec<String> {
    let mut v: Vec<String> = section
        .iter()
        .filter(|r| r.record_type() == t)
        .map(record_canonical)
        .collect();
    v.sort();
    v
}

/// The full response code (extended bits from EDNS merged).
pub fn rcode(m: &Message) -> ResponseCode {
    m.metadata.response_code
}

/// Header flags as text, dig style: `qr aa tc rd ra ad cd` (only the set ones).
pub fn flags(m: &Message) -> String {
    let md = &m.metadata;
    let mut v = Vec::new();
    if md.message_type == MessageType::Response {
        v.push("qr");
    }
    if md.authoritative {
        v.push("aa");
    }
    if md.truncation {
        v.push("tc");
    }
    if md.recursion_desired {
        v.push("rd");
    }
    if md.recursion_available {
        v.push("ra");
    }
    if md.authentic_data {
        v.push("ad");
    }
    if md.checking_disabled {
        v.push("cd");
    }
    v.join(" ")
}

/// A short dig-like dump of a response, for failure messages.
pub fn dump(m: &Message) -> String {
    let mut s = format!(
        "id {} {:?} rcode {} flags [{}]\n",
        m.metadata.id,
        m.metadata.op_code,
        rcode(m),
        flags(m)
    );
    for q in &m.queries {
        s.push_str(&format!(
            ";question {} {} {}\n",
            q.name(),
            q.query_class(),
            q.query_type()
        ));
    }
    if let Some(e) = &m.edns {
        s.push_str(&format!(
            ";edns v{} payload {} do {} options {:?}\n",
            e.version(),
            e.max_payload(),
            e.flags().dnssec_ok,
            e.options()
        ));
    }
    for (name, sec) in [
        ("answer", &m.answers),
        ("authority", &m.authorities),
        ("additional", &m.additionals),
    ] {
        for r in sec.iter() {
            s.push_str(&format!("{name}: {r}\n"));
        }
    }
    s
}
pub mod backend;
pub mod site;
