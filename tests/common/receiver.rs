//! A webhook receiver for the `[[notify]]` tests: a real HTTP/1.1 server on a loopback
//! address that answers 200 to every request and keeps it, and the receiver-side check of
//! `X-Ayadns-Signature` with the same HMAC-SHA256.
#![allow(dead_code)]

use ayadns::api::notify::{Event, EventKind};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The secret the tests' `hook.secret` files hold.
pub const SECRET: &str = "webhook-secret-0123456789";

/// One POST as the receiver got it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn event(&self) -> Event {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not an event ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The signature header is the HMAC-SHA256 of the exact body under `secret`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some(hex_sig) = self.header("X-Ayadns-Signature").strip_prefix("sha256=") else {
            return false;
        };
        let Ok(sig) = hex::decode(hex_sig) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&sig).is_ok()
    }
}

/// A webhook receiver: a real HTTP/1.1 server on a loopback address, answering 200 to every
/// request and keeping it.
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Delivery>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(addr: SocketAddr) -> Receiver {
        assert!(addr.ip().is_loopback());
        let listener = TcpListener::bind(addr).expect("bind receiver");
        listener.set_nonblocking(true).unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let g = g.clone();
                        std::thread::spawn(move || serve(conn, &g));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver { addr, got, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/ayadns?source=test", self.addr)
    }

    pub fn all(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Every delivery of `kind` so far.
    pub fn of_kind(&self, kind: EventKind) -> Vec<Delivery> {
        self.all()
            .into_iter()
            .filter(|d| d.event().kind == kind)
            .collect()
    }

    /// The first delivery of `kind`, waiting up to `timeout`.
    pub fn wait_for(&self, kind: EventKind, timeout: Duration) -> Option<Delivery> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(d) = self.all().into_iter().find(|d| d.event().kind == kind) {
                return Some(d);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Read one request (headers, then Content-Length bytes), keep it, answer 200 and close.
fn serve(mut conn: TcpStream, got: &Mutex<Vec<Delivery>>) {
    conn.set_nonblocking(false).ok();
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    got.lock().unwrap().push(Delivery {
        path,
        headers,
        body: buf[head_end..head_end + len].to_vec(),
    });
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}
