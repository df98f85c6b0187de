//! The UDP path against the general path, and the UDP path under mutated packets.
//!
//! Differential: the same handler (same snapshot, same cookie key) is served on two real UDP
//! sockets — one through hickory-server's generic `Server` (the general path, as ayadns served
//! UDP before), one through our own loop (`dns::udp`: recvmmsg, `respond`, sendmmsg).
//! A corpus of queries generated from the test zones (every name × many types × EDNS, DO,
//! ECS, cookie, class, opcode and flag variants, plus malformed packets) goes to both; the
//! responses must be byte-identical, silence included.
//!
//! Property test (the bounded, CI-sized form of the fuzzers in tests/fuzz): many packets
//! mutated from the corpus go through `UdpAnswerer::answer` in-process; it must never panic,
//! every response must parse, carry the query's id, have QR=1 and fit 65,535 octets, and the
//! server must still answer a normal query afterwards. Packets the answer cache accepts are
//! also answered through it (a miss, then a hit), byte-identical to the uncached answer.

use ayadns::model::Source;
use ayadns::snapshot::Publisher;
use ayadns::testing::DnsHandler;
use ayadns::testing::{UdpAnswerer, udp};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const BIG: &str = "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 120\n  NS ns1\n\
ns1 A 192.0.2.1\nmany TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\"\n\
many TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2\"\n\
many TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3\"\n\
many TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4\"\n\
sub NS ns.sub\nns.sub A 192.0.2.99\n";

/// A config with the differential zones, the example zone, a big zone and two GSLB services
/// with deterministic chains (no random draw), written into `dir`.
fn write_site(dir: &Path) -> PathBuf {
    for f in ["diff.test.zone", "other.test.zone"] {
        fs::copy(repo().join("tests/data/diff").join(f), dir.join(f)).unwrap();
    }
    fs::copy(
        repo().join("zones/gslb.example.com.zone"),
        dir.join("gslb.example.com.zone"),
    )
    .unwrap();
    fs::write(dir.join("big.test.zone"), BIG).unwrap();
    let cfg = format!(
        r#"[server]
listen = ["127.0.0.1:0"]
[[zone]]
file = "diff.test.zone"
[[zone]]
file = "other.test.zone"
[[zone]]
file = "gslb.example.com.zone"
[[zone]]
file = "big.test.zone"
[geoip]
databases = ["{geo}"]
[health]
probers = []
state_file = "state.db"
[[region]]
name = "us"
location = [39.0, -98.0]
continents = ["NA", "SA"]
default = true
[[region]]
name = "eu"
location = [50.1, 8.7]
continents = ["EU", "AF"]
[[pool]]
name = "us-east"
region = "us"
[[pool.endpoint]]
name = "us-east-0"
addresses = ["192.0.2.10", "2001:db8::10"]
[[pool.endpoint]]
name = "us-east-1"
addresses = ["192.0.2.11"]
[[pool]]
name = "eu-west"
region = "eu"
[[pool.endpoint]]
name = "eu-west-0"
addresses = ["198.51.100.10", "2001:db8::20"]
[[service]]
name = "www.gslb.example.com."
types = ["A", "AAAA"]
ttl = 30
pools = ["us-east", "eu-west"]
chain = ["health", "geo", "failover", "first_n"]
answers = 2
[[service]]
name = "api.gslb.example.com."
types = ["A"]
ttl = 20
pools = ["us-east", "eu-west"]
chain = ["health", "nearest", "first_n"]
answers = 1
"#,
        geo = repo().join("geoip/sample.mmdb").display()
    );
    let p = dir.join("ayadns.toml");
    fs::write(&p, cfg).unwrap();
    p
}

fn handler(dir: &Path) -> DnsHandler {
    let (_config, model) = Source::ConfigFile(write_site(dir))
        .load()
        .unwrap_or_else(|e| panic!("{e}"));
    let publisher = Publisher::new(model);
    // The publisher must outlive the test: keep it.
    let shared = publisher.shared();
    std::mem::forget(publisher);
    DnsHandler::new(shared)
}

const NAMES: &[&str] = &[
    "diff.test.",
    "www.diff.test.",
    "WwW.DiFf.TeSt.",
    "mail.diff.test.",
    "txt.diff.test.",
    "_sip._udp.diff.test.",
    "MiXeD.diff.test.",
    "upper.case.diff.test.",
    "chain1.diff.test.",
    "dangling.diff.test.",
    "dangling2.diff.test.",
    "outside.diff.test.",
    "tomail.diff.test.",
    "totxt.diff.test.",
    "toapex.diff.test.",
    "todeleg.diff.test.",
    "towild.diff.test.",
    "foo.wild.diff.test.",
    "exists.wild.diff.test.",
    "x.ent.wild.diff.test.",
    "ent.wild.diff.test.",
    "q.wc.diff.test.",
    "q.wcd.diff.test.",
    "q.wctgt.diff.test.",
    "b.c.diff.test.",
    "a.b.c.diff.test.",
    "sub.diff.test.",
    "host.sub.diff.test.",
    "nx.diff.test.",
    "deep.nx.diff.test.",
    // Never-asked names: after the first NXDOMAIN of a zone and query shape, the UDP loop
    // writes these from its template; where the general encoder would compress otherwise
    // (the origin in other letter case, a name ending in the SOA's own names) it must not.
    "nx2.diff.test.",
    "a.b.nx3.diff.test.",
    "NX4.DIFF.TEST.",
    "nx5.Diff.Test.",
    "x.ns1.diff.test.",
    "ns1x.diff.test.",
    "hostmaster.diff.test.",
    "x.hostmaster.diff.test.",
    "x.y.z.b.c.diff.test.",
    "nx.big.test.",
    "hostmaster.big.test.",
    "a.ns1.big.test.",
    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww.big.test.",
    "nx.other.test.",
    "nx.gslb.example.com.",
    "other.test.",
    "www.other.test.",
    "gslb.example.com.",
    "status.gslb.example.com.",
    "docs.gslb.example.com.",
    "www.gslb.example.com.",
    "api.gslb.example.com.",
    "nope.gslb.example.com.",
    "many.big.test.",
    "sub.big.test.",
    "x.sub.big.test.",
    "example.org.",
    ".",
];

const TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::NS,
    RecordType::SOA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::CNAME,
    RecordType::ANY,
    RecordType::PTR,
    RecordType::CAA,
    RecordType::DS,
    RecordType::AXFR,
    RecordType::IXFR,
    RecordType::Unknown(65000),
];

/// Query variants: (label, how to change the message).
type Variant = (&'static str, fn(&mut Message));

fn edns(m: &mut Message, payload: u16) -> &mut Edns {
    let mut e = Edns::new();
    e.set_max_payload(payload);
    m.edns = Some(e);
    m.edns.as_mut().unwrap()
}

const VARIANTS: &[Variant] = &[
    ("plain", |_| {}),
    ("edns1232", |m| {
        edns(m, 1232);
    }),
    ("edns512", |m| {
        edns(m, 512);
    }),
    ("edns4096-do", |m| {
        edns(m, 4096).set_dnssec_ok(true);
    }),
    ("ecs-eu", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("81.2.69.0".parse().unwrap(), 24, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    // More client networks for the same questions: after the first, GSLB answers come
    // from the UDP worker's plans, not from the general path.
    ("ecs-us", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("216.160.83.0".parse().unwrap(), 24, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    ("ecs-cn-16", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("175.16.0.0".parse().unwrap(), 16, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    ("ecs-eu-again", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("81.2.69.0".parse().unwrap(), 24, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    ("ecs-v6", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("2a02:d3c0::".parse().unwrap(), 56, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    ("ecs-v6-zero", |m| {
        let e = edns(m, 1232);
        let cs = ClientSubnet::new("::".parse().unwrap(), 0, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
    }),
    ("edns-v1", |m| {
        edns(m, 1232).set_version(1);
    }),
    ("cookie", |m| {
        edns(m, 1232)
            .options_mut()
            .insert(EdnsOption::Unknown(10, b"12345678".to_vec()));
    }),
    ("bad-cookie", |m| {
        edns(m, 1232)
            .options_mut()
            .insert(EdnsOption::Unknown(10, b"1234".to_vec()));
    }),
    ("no-rd-cd", |m| {
        m.metadata.recursion_desired = false;
        m.metadata.checking_disabled = true;
    }),
    ("class-ch", |m| {
        let q = m.queries[0].clone();
        let mut q2 = Query::query(q.name().clone(), q.query_type());
        q2.set_query_class(DNSClass::CH);
        m.queries[0] = q2;
    }),
    ("notify", |m| m.metadata.op_code = OpCode::Notify),
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut id = 1u16;
    for n in NAMES {
        for t in TYPES {
            for (label, f) in VARIANTS {
                let mut m = Message::query();
                m.metadata.id = id;
                id = id.wrapping_add(1);
                m.metadata.recursion_desired = true;
                m.add_query(Query::query(Name::from_ascii(n).unwrap(), *t));
                f(&mut m);
                out.push((format!("{n} {t} {label}"), m.to_vec().unwrap()));
            }
        }
    }
    // Malformed packets: both paths must agree (FORMERR or silence).
    let base = out[0].1.clone();
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("short", base[..7].to_vec()),
        ("header only", base[..12].to_vec()),
        ("cut question", base[..base.len() - 3].to_vec()),
        ("QR=1", {
            let mut b = base.clone();
            b[2] |= 0x80;
            b
        }),
        ("compression loop", {
            let mut b = base[..12].to_vec();
            b.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            b
        }),
        ("qdcount 0", {
            let mut b = base[..12].to_vec();
            b[5] = 0;
            b
        }),
        ("opcode 9", {
            let mut b = base.clone();
            b[2] = (b[2] & 0x87) | (9 << 3);
            b
        }),
    ];
    for (l, b) in bad.drain(..) {
        out.push((l.to_string(), b));
    }
    out
}

/// Send `q` to `to` from `sock` and return the answer, or None after `wait`.
fn exchange(sock: &UdpSocket, to: SocketAddr, q: &[u8], wait: Duration) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.send_to(q, to).unwrap();
    let mut buf = vec![0u8; 65535];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == to => {
                // Late answers of an earlier (silent-expected) query are skipped by id.
                if n >= 2 && q.len() >= 2 && buf[..2] != q[..2] {
                    continue;
                }
                return Some(buf[..n].to_vec());
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn the_udp_loop_answers_byte_for_byte_what_the_general_path_answers() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler(dir.path());

    // The general path: hickory-server's Server over the same handler.
    let general = UdpSocket::bind("127.0.0.1:0").unwrap();
    general.set_nonblocking(true).unwrap();
    let general_addr = general.local_addr().unwrap();
    let gh = h.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut server = hickory_server::Server::new(gh);
            server.register_socket(tokio::net::UdpSocket::from_std(general).unwrap());
            let _ = server.block_until_done().await;
        });
    });
    // Our loop.
    let ours = UdpSocket::bind("127.0.0.1:0").unwrap();
    ours.set_nonblocking(true).unwrap();
    let ours_addr = ours.local_addr().unwrap();
    let stop = CancellationToken::new();
    let s2 = stop.clone();
    let answerer = UdpAnswerer::new(h.clone(), None);
    let t = std::thread::spawn(move || udp::serve(vec![ours], answerer, s2));

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let corpus = corpus();
    // `AYADNS_WRITE_FUZZ_CORPUS=DIR`: also write every 8th query there (the request fuzzer's
    // seed corpus, tests/fuzz/corpus/request).
    if let Ok(d) = std::env::var("AYADNS_WRITE_FUZZ_CORPUS") {
        for (i, (_, q)) in corpus.iter().enumerate().filter(|(i, _)| i % 8 == 0) {
            fs::write(Path::new(&d).join(format!("seed-{i:05}")), q).unwrap();
        }
    }
    let mut diffs = Vec::new();
    let mut answered = 0;
    let started = Instant::now();
    // Twice: the second round is answered from the workers' caches of static answers.
    for (label, q) in corpus.iter().chain(corpus.iter()) {
        let mut tries = 0;
        loop {
            // Silence is expected only for malformed input: a short wait there.
            let wait = if q.len() < 12 || q[2] & 0x80 != 0 {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(2)
            };
            let a = exchange(&client, general_addr, q, wait);
            let b = exchange(&client, ours_addr, q, wait);
            if a == b {
                answered += a.is_some() as usize;
                break;
            }
            // A cookie's timestamp may cross a second between the two: ask again once.
            tries += 1;
            if tries == 2 {
                diffs.push(format!("{label}:\n  general {a:?}\n  ours    {b:?}"));
                break;
            }
        }
    }
    println!(
        "{} queries (the corpus twice), {answered} answered identically by both paths, {} \
         differences, {:?}",
        corpus.len() * 2,
        diffs.len(),
        started.elapsed()
    );
    stop.cancel();
    t.join().unwrap();
    assert!(
        answered > corpus.len() * 9 / 10,
        "most queries are answered"
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// xorshift64*: deterministic mutations without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation of `b`: flip bits, set interesting octets, cut, insert, duplicate a
/// span, or splice another packet in.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: &[u8] = &[0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff, 12, 41];
    match rng.below(7) {
        0 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if !b.is_empty() => {
            let n = rng.below(b.len());
            b.truncate(n);
        }
        3 => {
            let i = rng.below(b.len() + 1);
            b.insert(i, rng.next() as u8);
        }
        4 if b.len() > 2 => {
            let s = rng.below(b.len());
            let e = (s + 1 + rng.below(16)).min(b.len());
            let span = b[s..e].to_vec();
            let at = rng.below(b.len());
            b.splice(at..at, span);
        }
        5 if b.len() >= 12 => {
            // Header counts: the fields parsers trust most.
            let i = 4 + rng.below(8);
            b[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        _ if !other.is_empty() => {
            let cut = rng.below(b.len() + 1);
            let from = rng.below(other.len());
            b.truncate(cut);
            b.extend_from_slice(&other[from..]);
        }
        _ => {}
    }
}

#[test]
fn mutated_packets_never_panic_and_every_response_is_a_well_formed_answer() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler(dir.path());
    let rrl = ayadns::testing::Rrl::new(&ayadns::testing::RrlConfig {
        rate: 1_000_000,
        ..Default::default()
    })
    .map(std::sync::Arc::new);
    let answerer = UdpAnswerer::new(h, rrl);
    let corpus = corpus();
    let seed = std::env::var("AYADNS_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001u64);
    let cases: usize = std::env::var("AYADNS_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut rng = Rng(seed);
    let src: SocketAddr = "192.0.2.77:5300".parse().unwrap();
    let mut out = Vec::new();
    let mut cached = Vec::new();
    let mut cache = ayadns::testing::AnswerCache::default();
    let mut via_cache = 0usize;
    let (mut answered, mut silent) = (0usize, 0usize);
    let started = Instant::now();
    for case in 0..cases {
        let (_, base) = &corpus[rng.below(corpus.len())];
        let (_, other) = &corpus[rng.below(corpus.len())];
        let mut q = base.clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut q, other);
        }
        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            answerer.answer(&q, src, &mut out)
        }))
        .unwrap_or_else(|_| panic!("panic on case {case} (seed {seed:#x}): {q:?}"));
        // Through the worker cache (first a miss that may store it, then a hit): the same
        // bytes as without it.
        if ayadns::testing::cache::key(&q).is_some() {
            for round in ["miss", "hit"] {
                let again = answerer.answer_cached(&mut cache, &q, src, &mut cached);
                assert_eq!(
                    (again, &cached),
                    (sent, &out),
                    "case {case} ({round}): cached answer differs for {q:?}"
                );
            }
            via_cache += 1;
        }
        if !sent {
            silent += 1;
            continue;
        }
        answered += 1;
        assert!(out.len() <= 65_535 && out.len() >= 12, "case {case}: {q:?}");
        assert_eq!(out[..2], q[..2], "case {case}: id echoed: {q:?}");
        let m = Message::from_vec(&out)
            .unwrap_or_else(|e| panic!("case {case}: unparseable answer ({e}) to {q:?}"));
        assert_eq!(
            m.metadata.message_type,
            MessageType::Response,
            "case {case}"
        );
        // Over UDP the answer fits what the query allowed (512 without EDNS).
        assert!(out.len() <= 1232, "case {case}: {} octets", out.len());
    }
    println!(
        "{cases} mutated packets (seed {seed:#x}): {answered} answered, {silent} silent, \
         {via_cache} also through the answer cache, identical; {:?}",
        started.elapsed()
    );
    // Still answering normally.
    let mut m = Message::query();
    m.add_query(Query::query(
        Name::from_ascii("www.diff.test.").unwrap(),
        RecordType::A,
    ));
    assert!(answerer.answer(&m.to_vec().unwrap(), src, &mut out));
    assert!(answered > cases / 4 && silent > 0);
}
