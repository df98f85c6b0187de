//! Heap allocations per UDP query, counted by a global allocator around
//! `UdpAnswerer::answer` in steady state (after warm-up, buffers reused).
//!
//! Static hits, NODATA and NXDOMAIN repeated come from the worker's answer cache, and GSLB
//! answers (with or without ECS, from many client networks) from its plans: zero
//! allocations. Without the cache (the first time a question is seen) the path parses with
//! hickory's `Request` and builds a `Reply` of cloned records; those counts are printed and
//! held to ceilings so they only go down.

use ayadns::model::Source;
use ayadns::snapshot::Publisher;
use ayadns::testing::AnswerCache;
use ayadns::testing::DnsHandler;
use ayadns::testing::UdpAnswerer;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::PathBuf;

struct Counting;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn query(name: &str, t: RecordType, ecs: bool) -> Vec<u8> {
    query_from(name, t, ecs.then_some("81.2.69.0"))
}

fn query_from(name: &str, t: RecordType, subnet: Option<&str>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if let Some(net) = subnet {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        let cs = ClientSubnet::new(net.parse().unwrap(), 24, 0);
        e.options_mut().insert(EdnsOption::Subnet(cs));
        m.edns = Some(e);
    }
    m.to_vec().unwrap()
}

#[test]
fn allocations_per_query_stay_under_their_ceilings() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo();
    let cfg = fs::read_to_string(root.join("tests/fuzz/fuzz.toml")).unwrap();
    let path = dir.path().join("ayadns.toml");
    // The fuzzers' data, with paths made absolute.
    let cfg = cfg
        .replace("\"tests/", &format!("\"{}/tests/", root.display()))
        .replace("\"zones/", &format!("\"{}/zones/", root.display()))
        .replace("\"geoip/", &format!("\"{}/geoip/", root.display()));
    // And a service with the default chain, whose `weighted` step draws per query.
    let cfg = format!(
        "{cfg}\n[[service]]\nname = \"shop.gslb.example.com.\"\ntypes = [\"A\"]\nttl = 30\n\
         pools = [\"us-east\", \"eu-west\"]\nanswers = 1\n"
    );
    fs::write(&path, cfg).unwrap();
    let (_c, model) = Source::ConfigFile(path).load().unwrap();
    let publisher = Publisher::new(model);
    let answerer = UdpAnswerer::new(
        DnsHandler::new(publisher.shared()).with_cookies(false),
        None,
    );
    let src = "192.0.2.1:5300".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut report = Vec::new();
    let mut cache = AnswerCache::default();
    // (what, query, through the cache?, ceiling): 0 for the cached path; today's counts with a
    // little room for the others (lower them as they drop).
    for (what, q, cached, ceiling) in [
        (
            "static hit",
            query("www.diff.test.", RecordType::A, false),
            true,
            0,
        ),
        (
            "NODATA",
            query("www.diff.test.", RecordType::MX, false),
            true,
            0,
        ),
        (
            "NXDOMAIN",
            query("nx.diff.test.", RecordType::A, false),
            true,
            0,
        ),
        (
            "EDNS static hit",
            query("WWW.diff.test.", RecordType::AAAA, false),
            true,
            0,
        ),
        (
            "static hit, uncached",
            query("www.diff.test.", RecordType::A, false),
            false,
            20,
        ),
        (
            "NXDOMAIN, uncached",
            query("nx.diff.test.", RecordType::A, false),
            false,
            24,
        ),
        (
            "GSLB with ECS",
            query("www.gslb.example.com.", RecordType::A, true),
            true,
            0,
        ),
        (
            "GSLB without ECS",
            query("www.gslb.example.com.", RecordType::A, false),
            true,
            0,
        ),
        (
            "GSLB weighted draw with ECS",
            query_from(
                "shop.gslb.example.com.",
                RecordType::A,
                Some("216.160.83.0"),
            ),
            true,
            0,
        ),
        (
            "GSLB AAAA with ECS",
            query("www.gslb.example.com.", RecordType::AAAA, true),
            true,
            0,
        ),
    ] {
        let mut ask = |out: &mut Vec<u8>| {
            if cached {
                answerer.answer_cached(&mut cache, &q, src, out)
            } else {
                answerer.answer(&q, src, out)
            }
        };
        for _ in 0..100 {
            assert!(ask(&mut out));
        }
        let n = 1000u64;
        let before = COUNT.with(|c| c.get());
        for _ in 0..n {
            assert!(ask(&mut out));
        }
        let per = (COUNT.with(|c| c.get()) - before) as f64 / n as f64;
        report.push(format!(
            "{what}: {per:.1} allocations/query (ceiling {ceiling})"
        ));
        assert!(per <= ceiling as f64, "{what}: {per} allocations per query");
    }
    // Many client networks: after each has been seen once, none allocates.
    let subnets: Vec<String> = (0..200)
        .map(|i| format!("{}.{}.{}.0", [81, 175, 89, 2, 216][i % 5], i / 5, i % 251))
        .collect();
    let queries: Vec<Vec<u8>> = subnets
        .iter()
        .map(|n| query_from("www.gslb.example.com.", RecordType::A, Some(n)))
        .collect();
    for q in &queries {
        assert!(answerer.answer_cached(&mut cache, q, src, &mut out));
        assert!(answerer.answer_cached(&mut cache, q, src, &mut out));
    }
    let before = COUNT.with(|c| c.get());
    for _ in 0..5 {
        for q in &queries {
            assert!(answerer.answer_cached(&mut cache, q, src, &mut out));
        }
    }
    let per = (COUNT.with(|c| c.get()) - before) as f64 / (5 * queries.len()) as f64;
    report.push(format!(
        "GSLB with ECS from 200 networks: {per:.2} allocations/query (ceiling 0)"
    ));
    assert!(
        per == 0.0,
        "GSLB from many networks: {per} allocations per query"
    );
    // Names never asked before (a random-subdomain flood): after the zone's first NXDOMAIN,
    // each is written from the worker's template without allocating.
    let names: Vec<Vec<u8>> = (0..1100)
        .map(|i| query(&format!("r{i}x.diff.test."), RecordType::A, i % 2 == 0))
        .collect();
    for q in &names[..100] {
        assert!(answerer.answer_cached(&mut cache, q, src, &mut out));
    }
    let before = COUNT.with(|c| c.get());
    for q in &names[100..] {
        assert!(answerer.answer_cached(&mut cache, q, src, &mut out));
        assert_eq!(out[3] & 0x0F, 3, "NXDOMAIN");
    }
    let per = (COUNT.with(|c| c.get()) - before) as f64 / 1000.0;
    report.push(format!(
        "NXDOMAIN for 1,000 never-asked names: {per:.2} allocations/query (ceiling 0)"
    ));
    assert!(
        per == 0.0,
        "never-asked NXDOMAIN: {per} allocations per query"
    );
    println!("{}", report.join("\n"));
}
