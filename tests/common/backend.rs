//! Real HTTP/TCP backends for health tests, on loopback, that fail on command: refuse
//! connections, answer 503, hang past any timeout, answer the wrong body, or answer late.
//! Plus a minimal HTTP/1.1 client for the admin API (std sockets, loopback only).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a backend behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with body "ok".
    Ok,
    /// Connections refused (the listening socket is closed).
    Refuse,
    /// This status with body "ok".
    Status(u16),
    /// Accept, read, never answer.
    Hang,
    /// 200 with body "nope".
    WrongBody,
    /// Wait this long, then 200 "ok".
    Delay(Duration),
}

/// A backend on a loopback address.
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Backend {
    /// Start serving on a fresh loopback address (retrying if another socket took it
    /// between the free-port check and the bind).
    pub fn new() -> Backend {
        for _ in 0..20 {
            let addr = super::unique_addr();
            if let Ok(l) = TcpListener::bind(addr) {
                return Self::with_listener(addr, l);
            }
        }
        panic!("no free loopback address for a backend");
    }

    /// Start serving on `addr` (must be loopback).
    pub fn start(addr: SocketAddr) -> Backend {
        let first = TcpListener::bind(addr).expect("bind backend");
        Self::with_listener(addr, first)
    }

    fn with_listener(addr: SocketAddr, first: TcpListener) -> Backend {
        assert!(addr.ip().is_loopback());
        let mode = Arc::new(Mutex::new(Mode::Ok));
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, h, s) = (mode.clone(), hits.clone(), stop.clone());
        first.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let mut listener = Some(first);
            while !s.load(Ordering::Relaxed) {
                let current = *m.lock().unwrap();
                if current == Mode::Refuse {
                    listener = None; // closed: connections are refused
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                if listener.is_none() {
                    match TcpListener::bind(addr) {
                        Ok(l) => {
                            l.set_nonblocking(true).unwrap();
                            listener = Some(l);
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    }
                }
                match listener.as_ref().unwrap().accept() {
                    Ok((conn, _)) => {
                        let (m, h, s) = (m.clone(), h.clone(), s.clone());
                        std::thread::spawn(move || serve(conn, &m, &h, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend {
            addr,
            mode,
            hits,
            stop,
        }
    }

    /// Change behaviour.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Requests seen so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// The health URL of this backend.
    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut conn: TcpStream, mode: &Mutex<Mode>, hits: &AtomicUsize, stop: &AtomicBool) {
    conn.set_nonblocking(false).ok();
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    hits.fetch_add(1, Ordering::Relaxed);
    let m = *mode.lock().unwrap();
    let (status, body) = match m {
        Mode::Ok | Mode::Refuse => (200, "ok"),
        Mode::Status(s) => (s, "ok"),
        Mode::WrongBody => (200, "nope"),
        Mode::Delay(d) => {
            std::thread::sleep(d);
            (200, "ok")
        }
        Mode::Hang => {
            let until = Instant::now() + Duration::from_secs(30);
            while Instant::now() < until
                && !stop.load(Ordering::Relaxed)
                && *mode.lock().unwrap() == Mode::Hang
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(resp.as_bytes());
}

/// A minimal HTTP/1.1 request: returns (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    assert!(addr.ip().is_loopback());
    let mut s = TcpStream::connect(addr).expect("connect to admin API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, rest))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(rest)
        }
        Some((_, rest)) => rest.to_string(),
        None => String::new(),
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Poll `f` every 50 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
