//! Black-box tests of the authoritative core: the real binary, real UDP and TCP sockets on
//! 127.0.0.x, real zone files, real signals.
mod common;

use common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, RecordType};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const BIG_ZONE: &str = r#"$ORIGIN big.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 120
  NS ns1
ns1 A 192.0.2.1
many TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
many TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
many TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3"
many TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4"
www A 192.0.2.80
"#;

/// A config serving the example zone and `big.test` on `addr`, written into `dir`.
fn write_config(dir: &Path, addr: SocketAddr, extra_server: &str) -> PathBuf {
    fs::write(dir.join("big.test.zone"), BIG_ZONE).unwrap();
    let example = repo().join("zones/gslb.example.com.zone");
    fs::copy(&example, dir.join("gslb.example.com.zone")).unwrap();
    let cfg = format!(
        r#"[server]
listen = ["{addr}"]
{extra_server}

[[zone]]
file = "gslb.example.com.zone"
allow_transfer = ["127.0.0.1/32"]

[[zone]]
file = "big.test.zone"
"#
    );
    let path = dir.join("ayadns.toml");
    fs::write(&path, cfg).unwrap();
    path
}

struct Served {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    addr: SocketAddr,
    server: Ayadns,
}

fn serve(extra_server: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let addr = unique_addr();
    let cfg = write_config(dir.path(), addr, extra_server);
    let mut server = Ayadns::start(&["serve", "--config", cfg.to_str().unwrap()]);
    server.wait_for_dns(addr, Duration::from_secs(10));
    Served {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        addr,
        server,
    }
}

fn soa_in_authority(m: &Message) -> bool {
    m.authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
}

#[test]
fn answers_are_authoritative_negative_answers_carry_the_soa_and_others_are_refused() {
    let s = serve("");
    for transport in ["udp", "tcp"] {
        let ask = |q: Q| {
            let m = q.message();
            if transport == "udp" {
                udp(s.addr, &m)
            } else {
                tcp(s.addr, &m)
            }
        };
        let r = ask(Q::new("status.gslb.example.com.", RecordType::A));
        assert_eq!(rcode(&r), ResponseCode::NoError, "{transport}");
        assert!(r.metadata.authoritative, "{transport}: AA");
        assert_eq!(
            records(&r.answers),
            vec!["status.gslb.example.com. 300 IN A 192.0.2.200"]
        );

        let r = ask(Q::new("nope.gslb.example.com.", RecordType::A));
        assert_eq!(rcode(&r), ResponseCode::NXDomain);
        assert!(soa_in_authority(&r));
        let soa = r
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .unwrap();
        assert_eq!(
            soa.ttl, 60,
            "negative SOA TTL = min(SOA TTL 300, MINIMUM 60)"
        );

        let r = ask(Q::new("status.gslb.example.com.", RecordType::AAAA));
        assert_eq!(
            (rcode(&r), r.answers.len()),
            (ResponseCode::NoError, 0),
            "NODATA"
        );
        assert!(soa_in_authority(&r));

        let r = ask(Q::new("example.org.", RecordType::A));
        assert_eq!(rcode(&r), ResponseCode::Refused);
        assert!(!r.metadata.authoritative);

        let r = ask(Q::new("status.gslb.example.com.", RecordType::TXT).class(DNSClass::CH));
        assert_eq!(rcode(&r), ResponseCode::Refused, "class CH is not served");
    }
}

#[test]
fn question_case_is_echoed_exactly() {
    let s = serve("");
    let q = Q::new("StAtUs.GsLb.ExAmPlE.CoM.", RecordType::A);
    let sent = q.bytes();
    let got = udp_raw(s.addr, &sent).expect("an answer");
    // header (12) then the question: the same bytes as sent
    let qlen = sent.len() - 12 - q.edns.as_ref().map_or(0, |_| 11);
    assert_eq!(&got[12..12 + qlen], &sent[12..12 + qlen]);
}

#[test]
fn malformed_and_unsupported_queries_get_the_right_rcode_and_the_server_survives() {
    let s = serve("");
    // QDCOUNT 0 and 2 → FORMERR
    let mut none = Q::new("status.gslb.example.com.", RecordType::A)
        .no_edns()
        .message();
    none.queries.clear();
    assert_eq!(rcode(&udp(s.addr, &none)), ResponseCode::FormErr);
    let mut two = Q::new("status.gslb.example.com.", RecordType::A)
        .no_edns()
        .message();
    let extra = two.queries[0].clone();
    two.queries.push(extra);
    assert_eq!(rcode(&udp(s.addr, &two)), ResponseCode::FormErr);
    // opcodes other than QUERY → NOTIMP
    for op in [OpCode::Notify, OpCode::Status] {
        let mut m = Q::new("gslb.example.com.", RecordType::SOA).message();
        m.metadata.op_code = op;
        assert_eq!(rcode(&udp(s.addr, &m)), ResponseCode::NotImp, "{op:?}");
    }
    // EDNS version 1 → BADVERS, with an OPT record
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A)
            .edns_version(1)
            .message(),
    );
    // 16 is BADVERS (RFC 6891); hickory decodes the shared code 16 as BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert!(r.edns.is_some());
    // ECS with a bit set past the source prefix → FORMERR (built by hand: hickory masks it)
    let mut raw = Q::new("status.gslb.example.com.", RecordType::A)
        .no_edns()
        .bytes();
    raw[11] = 1; // ARCOUNT 1
    raw.extend_from_slice(&[
        0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 23, 0, 81, 2, 69,
    ]);
    let r = Message::from_vec(&udp_raw(s.addr, &raw).expect("FORMERR, not silence")).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    // garbage: silence or FORMERR, never a crash
    for junk in [
        &b""[..],
        &[1, 2, 3],
        &[0xff; 12],
        &[0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c],
    ] {
        if let Some(bytes) = udp_raw_timeout(s.addr, junk, Duration::from_millis(300)) {
            let m = Message::from_vec(&bytes).unwrap();
            assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{junk:?}");
        }
    }
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A).message(),
    );
    assert_eq!(
        rcode(&r),
        ResponseCode::NoError,
        "still serving after hostile packets"
    );
}

#[test]
fn edns_opt_ecs_echo_and_truncation() {
    let s = serve("");
    // An EDNS query gets OPT back; an ECS option is echoed with scope 0 for static data.
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A)
            .ecs("81.2.69.0".parse().unwrap(), 24)
            .message(),
    );
    let edns = r.edns.as_ref().expect("OPT in the response");
    match edns.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(cs)) => {
            assert_eq!((cs.source_prefix(), cs.scope_prefix()), (24, 0));
            assert_eq!(cs.addr().to_string(), "81.2.69.0");
        }
        other => panic!("no ECS echoed: {other:?}"),
    }
    // No EDNS: no OPT back.
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A)
            .no_edns()
            .message(),
    );
    assert!(r.edns.is_none());
    // A 4 x 200-byte TXT set does not fit 512 bytes: TC over UDP, full over TCP.
    let q = Q::new("many.big.test.", RecordType::TXT).no_edns();
    let r = udp(s.addr, &q.message());
    assert!(r.metadata.truncation, "TC=1 without EDNS");
    assert!(r.answers.is_empty(), "no partial RRset");
    let r = tcp(s.addr, &q.message());
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 4);
    // With EDNS 1232 it fits; with EDNS 512 it does not.
    let r = udp(
        s.addr,
        &Q::new("many.big.test.", RecordType::TXT)
            .edns(1232)
            .message(),
    );
    assert_eq!((r.metadata.truncation, r.answers.len()), (false, 4));
    let r = udp(
        s.addr,
        &Q::new("many.big.test.", RecordType::TXT)
            .edns(512)
            .message(),
    );
    assert!(r.metadata.truncation);
    assert!(r.edns.is_some(), "OPT kept in a truncated answer");
}

#[test]
fn any_is_minimal_over_udp_and_complete_over_tcp() {
    let s = serve("");
    let q = Q::new("status.gslb.example.com.", RecordType::ANY);
    let r = udp(s.addr, &q.message());
    assert_eq!(r.answers.len(), 1, "RFC 8482: one RRset over UDP");
    let r = tcp(s.addr, &q.message());
    assert_eq!(r.answers.len(), 2, "A and TXT over TCP");
}

#[test]
fn zone_transfer_only_for_allowed_clients_over_tcp() {
    let s = serve("");
    // UDP: refused.
    let r = udp(
        s.addr,
        &Q::new("gslb.example.com.", RecordType::AXFR)
            .no_edns()
            .message(),
    );
    assert_eq!(rcode(&r), ResponseCode::Refused);
    // big.test has no allow_transfer: refused over TCP too.
    let r = tcp(
        s.addr,
        &Q::new("big.test.", RecordType::AXFR).no_edns().message(),
    );
    assert_eq!(rcode(&r), ResponseCode::Refused);
    // gslb.example.com allows 127.0.0.1/32; our tests connect from 127.0.0.1.
    let mut conn = TcpStream::connect(s.addr).unwrap();
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    let q = Q::new("gslb.example.com.", RecordType::AXFR)
        .no_edns()
        .bytes();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    conn.write_all(&framed).unwrap();
    let mut all = Vec::new();
    while let Ok(Some(frame)) = read_tcp_frame(&mut conn) {
        let m = Message::from_vec(&frame).unwrap();
        all.extend(m.answers.clone());
        if all.len() > 1 && all.last().unwrap().record_type() == RecordType::SOA {
            break;
        }
    }
    assert_eq!(all.first().unwrap().record_type(), RecordType::SOA);
    assert_eq!(all.last().unwrap().record_type(), RecordType::SOA);
    assert_eq!(all.len(), 11 + 1, "every record once, SOA twice");
}

#[test]
fn tcp_pipelining_idle_timeout_and_connection_cap() {
    let s = serve("tcp_idle_timeout = \"1s\"\ntcp_max_connections = 2");
    // Three queries in one write; three answers in order.
    let mut c1 = TcpStream::connect(s.addr).unwrap();
    c1.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut batch = Vec::new();
    for (i, name) in [
        "status.gslb.example.com.",
        "ns1.gslb.example.com.",
        "nope.gslb.example.com.",
    ]
    .iter()
    .enumerate()
    {
        let b = Q::new(name, RecordType::A).id(100 + i as u16).bytes();
        batch.extend_from_slice(&(b.len() as u16).to_be_bytes());
        batch.extend_from_slice(&b);
    }
    c1.write_all(&batch).unwrap();
    for i in 0..3u16 {
        let m = Message::from_vec(&read_tcp_frame(&mut c1).unwrap().unwrap()).unwrap();
        assert_eq!(m.metadata.id, 100 + i);
    }
    // Cap of 2: a second connection is served; a third is admitted by closing the connection
    // idle longest (c1, whose answers are all written), not by waiting.
    let mut c2 = TcpStream::connect(s.addr).unwrap();
    c2.set_read_timeout(Some(TIMEOUT)).unwrap();
    let q = Q::new("status.gslb.example.com.", RecordType::A).bytes();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    c2.write_all(&framed).unwrap();
    assert!(read_tcp_frame(&mut c2).unwrap().is_some());
    let mut c3 = TcpStream::connect(s.addr).unwrap();
    c3.set_read_timeout(Some(TIMEOUT)).unwrap();
    c3.write_all(&framed).unwrap();
    assert!(
        read_tcp_frame(&mut c3).unwrap().is_some(),
        "third connection served at the cap"
    );
    let mut one = [0u8; 1];
    assert_eq!(c1.read(&mut one).unwrap_or(0), 0, "oldest idle closed");
    // Idle timeout: c2 is closed by the server after ~1 s of silence.
    let start = Instant::now();
    c2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(c2.read(&mut one).unwrap_or(0), 0, "closed by the server");
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn check_reports_every_error_with_file_and_line_and_serve_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("bad.test.zone"),
        "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\nwww A 300.1.2.3\n",
    )
    .unwrap();
    let cfg = "[server]\nlisten = [\"127.0.0.1:0\"]\nmax_udp_paylod = 1400\n\n[[zone]]\nfile = \"missing.zone\"\n\n[[zone]]\nfile = \"bad.test.zone\"\n";
    fs::write(d.join("ayadns.toml"), cfg).unwrap();
    let cfgp = d.join("ayadns.toml");
    let (status, _out, err) = run_ayadns(None, &["check", "--config", cfgp.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{err}");
    let toml = cfgp.display().to_string();
    assert!(
        err.contains(&format!("{toml}:3:1: unknown key `server.max_udp_paylod`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{toml}:6:8: zone file"))
            && err.contains("missing.zone does not exist"),
        "{err}"
    );
    assert!(err.contains("bad.test.zone:5: syntax error"), "{err}");
    assert!(err.contains("3 error(s)"), "{err}");
    // serve refuses to start, with the same messages
    let (status, _out, serr) = run_ayadns(None, &["serve", "--config", cfgp.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    for line in err.lines().filter(|l| l.contains(": ")) {
        assert!(serr.contains(line), "serve did not say: {line}\n{serr}");
    }
}

#[test]
fn sighup_with_a_broken_zone_keeps_serving_the_old_data_and_a_good_one_applies() {
    let mut s = serve("");
    let zone = s.dir.join("gslb.example.com.zone");
    let good = fs::read_to_string(&zone).unwrap();
    fs::write(&zone, format!("{good}broken IN A not-an-address\n")).unwrap();
    s.server.send_signal(SIGHUP);
    assert!(
        s.server
            .wait_for_log("reload rejected", Duration::from_secs(10)),
        "{}",
        s.server.log()
    );
    assert!(
        s.server.log().contains("gslb.example.com.zone:"),
        "the error names the file"
    );
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A).message(),
    );
    assert_eq!(
        records(&r.answers),
        vec!["status.gslb.example.com. 300 IN A 192.0.2.200"]
    );
    // A good change is applied.
    fs::write(&zone, good.replace("192.0.2.200", "192.0.2.201")).unwrap();
    s.server.send_signal(SIGHUP);
    assert!(s.server.wait_for_log("reload ok", Duration::from_secs(10)));
    let r = udp(
        s.addr,
        &Q::new("status.gslb.example.com.", RecordType::A).message(),
    );
    assert_eq!(
        records(&r.answers),
        vec!["status.gslb.example.com. 300 IN A 192.0.2.201"]
    );
}

#[test]
fn sigterm_stops_cleanly() {
    let mut s = serve("");
    s.server.send_signal(SIGTERM);
    let status = s
        .server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn quick_mode_serves_a_folder_of_zones_on_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.test.zone"), BIG_ZONE).unwrap();
    // A file without $ORIGIN: the origin comes from the file name.
    fs::write(
        dir.path().join("plain.test.zone"),
        "$TTL 60\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.9\n",
    )
    .unwrap();
    let v4 = unique_addr();
    let v6: SocketAddr = format!("[::1]:{}", v4.port()).parse().unwrap();
    let v6_ok = std::net::UdpSocket::bind("[::1]:0").is_ok();
    let mut args = vec!["serve", "--zones", dir.path().to_str().unwrap()];
    let (l4, l6) = (v4.to_string(), v6.to_string());
    args.extend(["--listen", &l4]);
    if v6_ok {
        args.extend(["--listen", &l6]);
    }
    let mut a = Ayadns::start(&args);
    a.wait_for_dns(v4, Duration::from_secs(10));
    let r = udp(v4, &Q::new("ns.plain.test.", RecordType::A).message());
    assert_eq!(
        records(&r.answers),
        vec!["ns.plain.test. 60 IN A 192.0.2.9"]
    );
    if v6_ok {
        let r = tcp(v6, &Q::new("www.big.test.", RecordType::A).message());
        assert_eq!(
            records(&r.answers),
            vec!["www.big.test. 300 IN A 192.0.2.80"]
        );
        let r = udp(v6, &Q::new("www.big.test.", RecordType::A).message());
        assert_eq!(rcode(&r), ResponseCode::NoError);
    }
}
