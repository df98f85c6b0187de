//! Hostile input, black-box: the real binary on real sockets gets malformed and unsupported
//! packets built byte by byte. Each gets the RFC's answer (FORMERR, NOTIMP, REFUSED) or
//! silence where no answer is possible, and a normal query right after it is answered.
//! Spoofed packets from source port 0 get nothing and do not produce a log line each.
mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A DNS header: id 0x4242, flags as given, the four counts.
fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0x42, 0x42];
    for v in [flags, qd, an, ns, ar] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

fn name(n: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in n.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn question(n: &str, qtype: u16, qclass: u16) -> Vec<u8> {
    let mut q = name(n);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&qclass.to_be_bytes());
    q
}

/// An OPT record (root owner, payload 1232) holding `options`.
fn opt(options: &[(u16, &[u8])]) -> Vec<u8> {
    let mut data = Vec::new();
    for (code, d) in options {
        data.extend_from_slice(&code.to_be_bytes());
        data.extend_from_slice(&(d.len() as u16).to_be_bytes());
        data.extend_from_slice(d);
    }
    let mut r = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(&data);
    r
}

/// A well-formed query for `n`/A with the RD bit.
fn query(n: &str, qtype: u16) -> Vec<u8> {
    let mut m = header(0x0100, 1, 0, 0, 0);
    m.extend(question(n, qtype, 1));
    m
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const NAME: &str = "status.gslb.example.com.";

/// What a hostile packet must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Silence,
    Rcode(ResponseCode),
}

fn cases() -> Vec<(&'static str, Vec<u8>, Want)> {
    use ResponseCode::*;
    use Want::*;
    let long_name = {
        // 5 labels of 60 octets: 306 octets on the wire, over the 255 limit.
        let l = "a".repeat(60);
        format!("{l}.{l}.{l}.{l}.{l}.gslb.example.com.")
    };
    let mut label64 = header(0, 1, 0, 0, 0);
    label64.push(64);
    label64.extend_from_slice(&[b'a'; 64]);
    label64.extend_from_slice(&[0, 0, 1, 0, 1]);
    vec![
        ("empty", vec![], Silence),
        (
            "truncated header",
            vec![0x42, 0x42, 0x01, 0x00, 0x00],
            Silence,
        ),
        (
            "header only, QDCOUNT 1",
            header(0x0100, 1, 0, 0, 0),
            Rcode(FormErr),
        ),
        ("QDCOUNT 0", header(0x0100, 0, 0, 0, 0), Rcode(FormErr)),
        (
            "QDCOUNT 65535",
            concat(&[&header(0x0100, 65535, 0, 0, 0), &question(NAME, 1, 1)]),
            Rcode(FormErr),
        ),
        (
            "QDCOUNT 2",
            concat(&[
                &header(0x0100, 2, 0, 0, 0),
                &question(NAME, 1, 1),
                &question(NAME, 28, 1),
            ]),
            Rcode(FormErr),
        ),
        (
            "compression loop",
            concat(&[&header(0, 1, 0, 0, 0), &[0xc0, 12, 0, 1, 0, 1]]),
            Rcode(FormErr),
        ),
        (
            "two-pointer loop",
            concat(&[&header(0, 1, 0, 0, 0), &[1, b'a', 0xc0, 14, 0, 1, 0, 1]]),
            Rcode(FormErr),
        ),
        (
            "forward pointer",
            concat(&[&header(0, 1, 0, 0, 0), &[0xc0, 18, 0, 1, 0, 1, 1, b'a', 0]]),
            Rcode(FormErr),
        ),
        (
            "pointer into the header",
            concat(&[
                &header(0, 1, 0, 0, 0),
                &[7],
                b"example",
                &[0xc0, 2, 0, 1, 0, 1],
            ]),
            Rcode(FormErr),
        ),
        (
            "pointer past the end",
            concat(&[&header(0, 1, 0, 0, 0), &[0xc0, 0xff, 0, 1, 0, 1]]),
            Rcode(FormErr),
        ),
        (
            "name over 255 octets",
            concat(&[&header(0, 1, 0, 0, 0), &question(&long_name, 1, 1)]),
            Rcode(FormErr),
        ),
        ("label of 64 octets", label64, Rcode(FormErr)),
        (
            "QR=1 (a response)",
            concat(&[&header(0x8000, 1, 0, 0, 0), &question(NAME, 1, 1)]),
            Silence,
        ),
        (
            "two OPT records",
            concat(&[
                &header(0, 1, 0, 0, 2),
                &question(NAME, 1, 1),
                &opt(&[]),
                &opt(&[]),
            ]),
            Rcode(FormErr),
        ),
        (
            "OPT RDLENGTH past the end",
            {
                let mut o = opt(&[]);
                o[10] = 40;
                concat(&[&header(0, 1, 0, 0, 1), &question(NAME, 1, 1), &o])
            },
            Rcode(FormErr),
        ),
        (
            "OPT option longer than its RDATA",
            {
                let mut o = opt(&[(8, &[0, 1, 24, 0, 81, 2, 69])]);
                o[14] = 30; // option length 30 > 7
                concat(&[&header(0, 1, 0, 0, 1), &question(NAME, 1, 1), &o])
            },
            Rcode(FormErr),
        ),
        (
            "ECS unknown family",
            concat(&[
                &header(0, 1, 0, 0, 1),
                &question(NAME, 1, 1),
                &opt(&[(8, &[0, 7, 8, 0, 1])]),
            ]),
            Rcode(FormErr),
        ),
        (
            "ECS prefix longer than the address",
            concat(&[
                &header(0, 1, 0, 0, 1),
                &question(NAME, 1, 1),
                &opt(&[(8, &[0, 1, 33, 0, 1, 2, 3, 4, 5])]),
            ]),
            Rcode(FormErr),
        ),
        (
            "COOKIE of 5 octets",
            concat(&[
                &header(0, 1, 0, 0, 1),
                &question(NAME, 1, 1),
                &opt(&[(10, &[1, 2, 3, 4, 5])]),
            ]),
            Rcode(FormErr),
        ),
        (
            "AXFR over UDP",
            query("gslb.example.com.", 252),
            Rcode(Refused),
        ),
        (
            "IXFR over UDP",
            query("gslb.example.com.", 251),
            Rcode(Refused),
        ),
        (
            "unknown opcode 3",
            concat(&[&header(3 << 11, 1, 0, 0, 0), &question(NAME, 1, 1)]),
            Rcode(NotImp),
        ),
        (
            "unknown opcode 15",
            concat(&[&header(15 << 11, 1, 0, 0, 0), &question(NAME, 1, 1)]),
            Rcode(NotImp),
        ),
        (
            "UPDATE",
            concat(&[&header(5 << 11, 1, 0, 0, 0), &question(NAME, 6, 1)]),
            Rcode(NotImp),
        ),
        (
            "class CH",
            concat(&[&header(0, 1, 0, 0, 0), &question(NAME, 16, 3)]),
            Rcode(Refused),
        ),
        (
            "unknown class 4242",
            concat(&[&header(0, 1, 0, 0, 0), &question(NAME, 1, 4242)]),
            Rcode(Refused),
        ),
        ("unknown type 65000", query(NAME, 65000), Rcode(NoError)),
        ("qtype OPT", query(NAME, 41), Rcode(FormErr)),
        (
            "name outside every zone",
            query("example.org.", 1),
            Rcode(Refused),
        ),
        // The counts say where the message ends; octets after it are ignored.
        (
            "trailing octets after the question",
            concat(&[&query(NAME, 1), &[0xde, 0xad, 0xbe, 0xef]]),
            Rcode(NoError),
        ),
        (
            "ARCOUNT past the end",
            concat(&[&header(0, 1, 0, 0, 3), &question(NAME, 1, 1)]),
            Rcode(FormErr),
        ),
    ]
}

struct Served {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    server: Ayadns,
}

fn serve(extra: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    fs::copy(
        repo().join("zones/gslb.example.com.zone"),
        dir.path().join("gslb.example.com.zone"),
    )
    .unwrap();
    let cfg = format!(
        "[server]\nlisten = [\"{addr}\"]\n{extra}\n[[zone]]\nfile = \"gslb.example.com.zone\"\n"
    );
    let path = dir.path().join("ayadns.toml");
    fs::write(&path, cfg).unwrap();
    let mut server = Ayadns::start_with(
        None,
        &["serve", "--config", path.to_str().unwrap()],
        &[("RUST_LOG", "debug")],
    );
    server.wait_for_dns(addr, Duration::from_secs(10));
    Served {
        _dir: dir,
        addr,
        server,
    }
}

fn check_normal(addr: SocketAddr, after: &str, tcp: bool) {
    let q = Q::new(NAME, RecordType::A).message();
    let r = if tcp {
        try_tcp(addr, &q, Duration::from_secs(2))
    } else {
        try_udp(addr, &q, Duration::from_secs(2))
    };
    match r {
        Ok(m) => assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "after {after}"
        ),
        Err(e) => panic!("normal query after `{after}` not answered: {e}"),
    }
}

#[test]
fn every_hostile_packet_gets_its_answer_or_silence_and_the_next_query_is_answered() {
    let mut s = serve("");
    let mut failures = Vec::new();
    for (what, bytes, want) in cases() {
        // UDP
        let wait = match want {
            Want::Silence => Duration::from_millis(250),
            Want::Rcode(_) => Duration::from_secs(2),
        };
        let got = udp_raw_timeout(s.addr, &bytes, wait);
        let got = got.map(|b| {
            let m = Message::from_vec(&b)
                .unwrap_or_else(|e| panic!("{what}: unparseable response {b:?}: {e}"));
            assert_eq!(m.metadata.id, 0x4242, "{what}: id echoed");
            m.metadata.response_code
        });
        let want_rc = match want {
            Want::Silence => None,
            Want::Rcode(rc) => Some(rc),
        };
        if got != want_rc {
            failures.push(format!("udp {what}: want {want:?}, got {got:?}"));
        }
        check_normal(s.addr, what, false);
        // TCP: the same message framed; a FORMERR-or-better over TCP too, and the server
        // still serves (a packet needing silence closes nothing).
        if !bytes.is_empty() && bytes.len() >= 12 {
            let got = tcp_exchange(s.addr, &bytes, Duration::from_millis(500))
                .ok()
                .flatten()
                .and_then(|b| Message::from_vec(&b).ok())
                .map(|m| m.metadata.response_code);
            // Transfers are refused over TCP too: this client is not in allow_transfer.
            if got != want_rc {
                failures.push(format!("tcp {what}: want {want_rc:?}, got {got:?}"));
            }
            check_normal(s.addr, what, true);
        }
    }
    assert!(s.server.is_running(), "server alive");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A UDP datagram with source port 0, sent through a raw socket (needs CAP_NET_RAW; the tests
/// run as root in CI).
fn send_from_port_0(to: SocketAddr, payload: &[u8]) -> std::io::Result<()> {
    let SocketAddr::V4(to4) = to else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a descriptor we own and close.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut dgram = Vec::new();
        dgram.extend_from_slice(&0u16.to_be_bytes()); // source port 0
        dgram.extend_from_slice(&to.port().to_be_bytes());
        dgram.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        dgram.extend_from_slice(&[0, 0]); // no checksum (allowed for IPv4)
        dgram.extend_from_slice(payload);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(*to4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let n = libc::sendto(
            fd,
            dgram.as_ptr().cast(),
            dgram.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if n < 0 {
            return Err(err);
        }
    }
    Ok(())
}

#[test]
fn spoofed_packets_from_port_0_get_nothing_and_log_nothing() {
    let mut s = serve("");
    check_normal(s.addr, "start", false);
    std::thread::sleep(Duration::from_millis(200));
    let lines_before = s.server.log().lines().count();
    let q = query(NAME, 1);
    for _ in 0..500 {
        send_from_port_0(s.addr, &q).expect("raw socket (run the tests as root)");
    }
    // A normal client right after is answered; the spoofed ones produced no log lines
    // (the server runs at debug level here).
    check_normal(s.addr, "500 spoofed packets", false);
    std::thread::sleep(Duration::from_millis(200));
    let log = s.server.log();
    let added = log.lines().count() - lines_before;
    assert!(
        added < 5,
        "{added} log lines for 500 spoofed packets:\n{log}"
    );
    assert!(s.server.is_running());
}

#[test]
fn garbage_over_tcp_gets_formerr_and_the_connection_keeps_serving() {
    let s = serve("");
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let start = Instant::now();
    for (what, bytes, want) in cases() {
        if bytes.len() < 12 || want == Want::Silence {
            continue;
        }
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        c.write_all(&framed).unwrap();
        let r = read_tcp_frame(&mut c)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|| panic!("{what}: connection closed"));
        let m = Message::from_vec(&r).unwrap();
        if let Want::Rcode(rc) = want {
            assert_eq!(m.metadata.response_code, rc, "{what}");
        }
    }
    let q = Q::new(NAME, RecordType::A).bytes();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    c.write_all(&framed).unwrap();
    let m = Message::from_vec(&read_tcp_frame(&mut c).unwrap().unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(start.elapsed() < Duration::from_secs(5));
}
