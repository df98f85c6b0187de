//! Black-box tests of the internet-facing protections: response rate limiting under a flood,
//! DNS cookies, and the TCP limits under a slowloris attack. The real binary, real sockets on
//! 127.0.0.0/8 (every 127.x address is local, so "clients in other networks" are real source
//! addresses), figures printed.
mod common;

use common::backend::http;
use common::site::{READ_TOKEN, Site};
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use socket2::{Domain, Socket, Type};
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NAME: &str = "status.gslb.example.com.";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sum of the samples of `metric` whose line starts with `prefix` (name and labels).
fn metric(body: &str, prefix: &str) -> u64 {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn scrape(site: &Site) -> String {
    let (status, body) = http(site.admin, "GET", "/metrics", Some(READ_TOKEN), None);
    assert_eq!(status, 200, "{body}");
    body
}

fn udp_from(ip: Ipv4Addr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).expect("bind a 127.x source")
}

/// One query from `sock` (already bound), waiting `timeout` for the answer.
fn ask(sock: &UdpSocket, to: SocketAddr, msg: &Message, timeout: Duration) -> Option<Message> {
    sock.set_read_timeout(Some(timeout)).unwrap();
    sock.send_to(&msg.to_vec().unwrap(), to).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            return None;
        };
        if let Ok(m) = Message::from_vec(&buf[..n])
            && m.metadata.id == msg.metadata.id
        {
            return Some(m);
        }
    }
    None
}

/// A query carrying a COOKIE option with `cookie` (client cookie, maybe a server cookie).
fn with_cookie(cookie: &[u8]) -> Message {
    let mut m = Q::new(NAME, RecordType::A).edns(1232).message();
    let edns = m.edns.as_mut().expect("EDNS");
    edns.options_mut()
        .insert(EdnsOption::Unknown(10, cookie.to_vec()));
    m
}

fn cookie_of(m: &Message) -> Option<Vec<u8>> {
    match m.edns.as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(10, d) => Some(d.clone()),
        _ => None,
    }
}

#[test]
fn a_flooding_network_is_limited_with_slips_while_others_are_answered_in_full() {
    const RATE: u64 = 100;
    const BURST: u64 = 100;
    const FLOOD: Duration = Duration::from_millis(2500);
    let site = Site::new();
    let cfg = site.config(
        "probers = []",
        &format!(
            "[rrl]\nrate = {RATE}\nburst = {BURST}\nslip = 2\nipv4_prefix = 24\n\
             exempt = [\"127.0.7.0/24\"]\n"
        ),
    );
    let _server = site.start(&cfg);
    let dns = site.dns;

    // A client in the flooded network gets a server cookie before the flood.
    let cookie_sock = udp_from(Ipv4Addr::new(127, 0, 5, 77));
    let first = ask(
        &cookie_sock,
        dns,
        &with_cookie(b"clientck"),
        Duration::from_secs(2),
    )
    .expect("answer with a cookie");
    let cookie = cookie_of(&first).expect("server cookie in the response");
    assert_eq!(cookie.len(), 24, "client cookie + 16-octet server cookie");
    assert_eq!(&cookie[..8], b"clientck");

    // The flood: 4 sources in 127.0.5.0/24, ~4,000 queries/s in all, for FLOOD.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let truncated = Arc::new(AtomicU64::new(0));
    let mut socks = Vec::new();
    let mut receivers = Vec::new();
    for i in 1..=4u8 {
        let s = udp_from(Ipv4Addr::new(127, 0, 5, i));
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let r = s.try_clone().unwrap();
        let (stop, answered, truncated) = (stop.clone(), answered.clone(), truncated.clone());
        receivers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = r.recv(&mut buf)
                    && n >= 12
                {
                    if buf[2] & 0x02 != 0 {
                        truncated.fetch_add(1, Ordering::Relaxed);
                    } else {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
        socks.push(s);
    }
    let query = Q::new(NAME, RecordType::A).bytes();
    let sent = Arc::new(AtomicU64::new(0));
    let flood_done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sent, flood_done) = (sent.clone(), flood_done.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut tick = 0u32;
            while start.elapsed() < FLOOD {
                for s in &socks {
                    for _ in 0..10 {
                        if s.send_to(&query, dns).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tick += 1;
                let next = Duration::from_millis(10) * tick;
                if let Some(wait) = next.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            flood_done.store(true, Ordering::Relaxed);
            start.elapsed()
        })
    };

    // Meanwhile: another network, an exempt network, the cookie client and TCP from the
    // flooded network are all answered.
    let other = udp_from(Ipv4Addr::new(127, 0, 9, 1));
    let exempt = udp_from(Ipv4Addr::new(127, 0, 7, 1));
    let mut server_cookie = b"clientck".to_vec();
    server_cookie.extend_from_slice(&cookie[8..]);
    let (mut asked, mut other_ok, mut exempt_ok, mut cookie_ok, mut tcp_ok) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut round = 0u64;
    while !flood_done.load(Ordering::Relaxed) {
        round += 1;
        if round % 4 == 1 {
            asked += 1;
            let q = Q::new(NAME, RecordType::A).message();
            let t = Instant::now();
            if ask(&other, dns, &q, Duration::from_secs(1)).is_some() {
                other_ok += 1;
            } else {
                eprintln!(
                    "127.0.9.1: query {asked} (id {}) unanswered after {:?}",
                    q.metadata.id,
                    t.elapsed()
                );
            }
        }
        for _ in 0..5 {
            let q = Q::new(NAME, RecordType::A).message();
            if ask(&exempt, dns, &q, Duration::from_secs(1)).is_some_and(|m| !m.metadata.truncation)
            {
                exempt_ok += 1;
            }
        }
        let q = with_cookie(&server_cookie);
        if ask(&cookie_sock, dns, &q, Duration::from_secs(1))
            .is_some_and(|m| !m.metadata.truncation)
        {
            cookie_ok += 1;
        }
        if round.is_multiple_of(10)
            && try_tcp(
                dns,
                &Q::new(NAME, RecordType::A).message(),
                Duration::from_secs(1),
            )
            .is_ok()
        {
            tcp_ok += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = sender.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for r in receivers {
        r.join().unwrap();
    }
    let sent = sent.load(Ordering::Relaxed);
    let answered = answered.load(Ordering::Relaxed);
    let truncated = truncated.load(Ordering::Relaxed);
    let body = scrape(&site);
    let dropped_m = metric(&body, "ayadns_dns_rrl_dropped_total");
    let slipped_m = metric(&body, "ayadns_dns_rrl_slipped_total");
    let cookie_exempt = metric(&body, "ayadns_dns_rrl_exempt_total{why=\"cookie\"}");
    let net_exempt = metric(&body, "ayadns_dns_rrl_exempt_total{why=\"network\"}");
    let bound = (RATE as f64 * elapsed.as_secs_f64()) as u64 + BURST;
    println!(
        "flood from 127.0.5.0/24 for {elapsed:.2?}: sent {sent}, answered {answered} \
         (bound rate x time + burst = {bound}), slipped TC {truncated}, silent {}; \
         server: dropped {dropped_m}, slipped {slipped_m} (slip ratio {:.3}); \
         127.0.9.1 answered {other_ok}/{asked}; exempt 127.0.7.1 {exempt_ok}/{}; \
         cookie client {cookie_ok}/{round} (server counted {cookie_exempt}); TCP from the \
         flooded network {tcp_ok}/{}",
        sent - answered - truncated,
        slipped_m as f64 / (dropped_m + slipped_m).max(1) as f64,
        round * 5,
        round / 10,
    );
    assert!(
        sent > 20 * bound,
        "the flood is far above the rate ({sent} sent)"
    );
    assert!(answered <= bound + 1, "answered {answered} > {bound}");
    assert!(
        answered >= bound / 2,
        "answered {answered}: limited far below the rate"
    );
    let over = dropped_m + slipped_m;
    assert!(
        over + answered + 50 >= sent,
        "every query of the flood is answered, dropped or slipped by the server"
    );
    let ratio = slipped_m as f64 / over as f64;
    assert!(
        (0.45..=0.55).contains(&ratio),
        "slip ratio {ratio} for slip = 2"
    );
    assert!(
        truncated <= slipped_m && truncated + 50 >= slipped_m,
        "TC seen {truncated} vs slipped {slipped_m}"
    );
    assert_eq!(other_ok, asked, "the other network is answered in full");
    assert_eq!(
        exempt_ok,
        round * 5,
        "the exempt network is answered in full"
    );
    assert_eq!(
        cookie_ok, round,
        "a client with a valid server cookie is not limited"
    );
    assert!(cookie_exempt >= round, "cookie exemptions counted");
    assert!(net_exempt >= round * 5, "network exemptions counted");
    assert_eq!(tcp_ok, round / 10, "TCP is not rate limited");
    assert_eq!(
        metric(&body, "ayadns_rate_limited_total"),
        0,
        "the admin API's counter is not DNS's"
    );
}

#[test]
fn cookies_are_answered_and_a_forged_server_cookie_is_not_honoured() {
    let site = Site::new();
    let cfg = site.config("probers = []", "[rrl]\nrate = 5\nslip = 0\n");
    let _server = site.start(&cfg);
    let sock = udp_from(Ipv4Addr::new(127, 0, 12, 1));
    let r = ask(
        &sock,
        site.dns,
        &with_cookie(b"abcdefgh"),
        Duration::from_secs(2),
    )
    .unwrap();
    let good = cookie_of(&r).unwrap();
    // Forged: one bit of the hash flipped. It is answered with a fresh cookie while within
    // the limit, but not exempt: over the limit (slip 0) it gets silence.
    let mut forged = good.clone();
    forged[23] ^= 1;
    // 20 at once: the burst of 5 is answered, the rest is silence.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    for _ in 0..20 {
        let q = with_cookie(&forged).to_vec().unwrap();
        sock.send_to(&q, site.dns).unwrap();
    }
    let mut answered_forged = 0;
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(&cookie_of(&m).unwrap()[..8], b"abcdefgh");
        answered_forged += 1;
    }
    assert!(
        (1..=8).contains(&answered_forged),
        "forged cookie answered {answered_forged} times (burst 5, rate 5/s)"
    );
    for _ in 0..20 {
        let m = ask(&sock, site.dns, &with_cookie(&good), Duration::from_secs(1))
            .expect("a valid server cookie is exempt from the limit");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let c = cookie_of(&m).unwrap();
        assert_eq!((&c[..8], c.len()), (&b"abcdefgh"[..], 24));
    }
    // The cookie is bound to the client address: from another address it is just invalid.
    let elsewhere = udp_from(Ipv4Addr::new(127, 0, 13, 1));
    let m = ask(
        &elsewhere,
        site.dns,
        &with_cookie(&good),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_ne!(cookie_of(&m).unwrap()[8..], good[8..]);
    let body = scrape(&site);
    assert!(metric(&body, "ayadns_dns_cookies_total{result=\"valid\"}") >= 20);
    assert!(metric(&body, "ayadns_dns_cookies_total{result=\"invalid\"}") >= 21);
}

/// A TCP connection from a chosen 127.x source address.
fn tcp_from(ip: Ipv4Addr, to: SocketAddr, small_rcvbuf: bool) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if small_rcvbuf {
        s.set_recv_buffer_size(4096)?;
    }
    s.bind(&SocketAddr::new(IpAddr::V4(ip), 0).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(1))?;
    Ok(s.into())
}

/// True when the server has closed `s` (EOF or reset) within `wait`.
fn closed_within(s: &TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut s = s;
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn framed(q: &[u8]) -> Vec<u8> {
    let mut f = (q.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(q);
    f
}

#[test]
fn slowloris_idle_half_sent_and_never_reading_connections_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    fs::copy(
        repo().join("zones/gslb.example.com.zone"),
        dir.path().join("gslb.example.com.zone"),
    )
    .unwrap();
    let cfg = format!(
        "[server]\nlisten = [\"{addr}\"]\ntcp_max_connections = 40\ntcp_max_per_client = 8\n\
         tcp_idle_timeout = \"4s\"\ntcp_io_timeout = \"1s\"\ntcp_max_queries = 1000000\n\n\
         [[zone]]\nfile = \"gslb.example.com.zone\"\n"
    );
    let path = dir.path().join("ayadns.toml");
    fs::write(&path, cfg).unwrap();
    let mut server = Ayadns::start(&["serve", "--config", path.to_str().unwrap()]);
    server.wait_for_dns(addr, Duration::from_secs(10));
    let start = Instant::now();

    // 1. One source opens 20 connections: 8 are kept, the others are closed at once.
    let attacker = Ipv4Addr::new(127, 0, 6, 1);
    let mut conns: Vec<TcpStream> = (0..20)
        .map(|_| tcp_from(attacker, addr, false).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed = conns
        .iter_mut()
        .filter(|c| closed_within(c, Duration::from_millis(50)))
        .count();
    assert_eq!(closed, 12, "per-client cap of 8 out of 20");

    // 2. Half-sent queries (one octet of the length, or the length and half a message).
    let q = Q::new(NAME, RecordType::A).bytes();
    let half: Vec<TcpStream> = (0..8)
        .map(|i| {
            let mut c = tcp_from(Ipv4Addr::new(127, 0, 6, 2), addr, false).unwrap();
            let f = framed(&q);
            let part = if i % 2 == 0 {
                &f[..1]
            } else {
                &f[..f.len() / 2]
            };
            c.write_all(part).unwrap();
            c
        })
        .collect();

    // 3. Idle connections from five more sources fill the global cap of 40.
    let mut fillers = Vec::new();
    for x in 4..=8u8 {
        for _ in 0..8 {
            if let Ok(c) = tcp_from(Ipv4Addr::new(127, 0, 6, x), addr, false) {
                fillers.push(c);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));

    // 4. Two connections (admitted at the cap by closing idle ones) pipeline queries and never read.
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = tcp_from(Ipv4Addr::new(127, 0, 6, 3), addr, true).unwrap();
            c.set_write_timeout(Some(Duration::from_secs(8))).unwrap();
            let q = q.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let batch: Vec<u8> = (0..200).flat_map(|_| framed(&q)).collect();
                while t.elapsed() < Duration::from_secs(8) {
                    if c.write_all(&batch).is_err() {
                        return Some(t.elapsed());
                    }
                }
                None
            })
        })
        .collect();

    // Others are served: UDP, and a fresh TCP client from another address (admitted by
    // closing the longest-idle connection).
    let r = udp(addr, &Q::new(NAME, RecordType::A).message());
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    for i in 0..5u8 {
        let t = Instant::now();
        let mut c = tcp_from(Ipv4Addr::new(127, 0, 8, 1 + i), addr, false).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let m = Q::new(NAME, RecordType::A).message();
        c.write_all(&framed(&m.to_vec().unwrap())).unwrap();
        let r = read_tcp_frame(&mut c)
            .unwrap()
            .expect("fresh TCP client answered");
        let r = Message::from_vec(&r).unwrap();
        assert_eq!(r.metadata.id, m.metadata.id);
        println!("fresh TCP client {i} answered in {:?}", t.elapsed());
    }

    // Half-sent connections are closed after the I/O timeout (1 s), never-reading ones
    // once a write has waited that long.
    for (i, c) in half.into_iter().enumerate() {
        assert!(
            closed_within(&c, Duration::from_millis(2500)),
            "half-sent {i} still open"
        );
    }
    for (i, w) in writers.into_iter().enumerate() {
        let at = w.join().unwrap();
        assert!(
            at.is_some(),
            "never-reading connection {i} not closed within 8 s"
        );
        println!(
            "never-reading connection {i} closed after {:?}",
            at.unwrap()
        );
    }
    let evicted = fillers
        .iter_mut()
        .filter(|c| closed_within(c, Duration::from_millis(10)))
        .count();
    println!(
        "slowloris: 12/20 refused by the per-client cap, {evicted} idle connections evicted at \
         the global cap, whole test {:?}",
        start.elapsed()
    );
    assert!(evicted >= 5, "the fresh clients displaced idle connections");
    let r = udp(addr, &Q::new(NAME, RecordType::A).message());
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(server.is_running());
}

#[test]
fn tcp_connections_end_after_max_queries_and_max_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    fs::copy(
        repo().join("zones/gslb.example.com.zone"),
        dir.path().join("gslb.example.com.zone"),
    )
    .unwrap();
    let cfg = format!(
        "[server]\nlisten = [\"{addr}\"]\ntcp_max_queries = 3\ntcp_max_lifetime = \"1s\"\n\n\
         [[zone]]\nfile = \"gslb.example.com.zone\"\n"
    );
    let path = dir.path().join("ayadns.toml");
    fs::write(&path, cfg).unwrap();
    let mut server = Ayadns::start(&["serve", "--config", path.to_str().unwrap()]);
    server.wait_for_dns(addr, Duration::from_secs(10));
    let q = framed(&Q::new(NAME, RecordType::A).bytes());
    // Five pipelined queries: three answers, then the server closes.
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c.write_all(&q.repeat(5)).unwrap();
    let mut answers = 0;
    while let Ok(Some(_)) = read_tcp_frame(&mut c) {
        answers += 1;
    }
    assert_eq!(answers, 3, "tcp_max_queries = 3");
    // Lifetime 1 s (the idle timeout is 10 s): one answer, then the server closes at ~1 s.
    let born = Instant::now();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(&q).unwrap();
    assert!(read_tcp_frame(&mut c).unwrap().is_some());
    let mut one = [0u8; 1];
    assert_eq!(c.read(&mut one).unwrap_or(0), 0, "closed by the server");
    let closed_at = born.elapsed();
    assert!(
        closed_at >= Duration::from_millis(900) && closed_at < Duration::from_millis(2500),
        "closed after {closed_at:?}"
    );
}
