//! Request bytes → response bytes through the UDP path (`UdpAnswerer::answer`: parsing,
//! `respond`, cookies, rate limiting, fitting, encoding) over the example and test zones with
//! two GSLB services. Every response must be a well-formed DNS response to the query, and a
//! query the worker's answer cache accepts must get the same bytes through it (miss and hit).
#![no_main]

use ayadns::model::Model;
use ayadns::snapshot::Publisher;
use ayadns::testing::AnswerCache;
use ayadns::testing::Config;
use ayadns::testing::Diagnostics;
use ayadns::testing::DnsHandler;
use ayadns::testing::UdpAnswerer;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The answerer, and the publisher whose snapshot it reads (kept here, reachable: not a leak).
struct Setup {
    answerer: UdpAnswerer,
    _publisher: Arc<Publisher>,
}

fn answerer() -> &'static UdpAnswerer {
    static A: OnceLock<Setup> = OnceLock::new();
    &A.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("tests/fuzz/fuzz.toml")).unwrap();
        let path = root.join("tests/fuzz/fuzz.toml");
        let mut loaded = Config::parse(&text, &path).unwrap();
        loaded.config.resolve_paths(&root);
        let model = Model::load(&loaded.config, Diagnostics::default()).unwrap();
        let publisher = Publisher::new(model);
        let handler = DnsHandler::new(publisher.shared());
        let rrl = ayadns::testing::Rrl::new(&loaded.config.rrl).map(Arc::new);
        Setup {
            answerer: UdpAnswerer::new(handler, rrl),
            _publisher: publisher,
        }
    })
    .answerer
}

thread_local! {
    static CACHE: std::cell::RefCell<AnswerCache> = std::cell::RefCell::new(AnswerCache::default());
}

fuzz_target!(|data: &[u8]| {
    let src: SocketAddr = "192.0.2.9:5300".parse().unwrap();
    let mut out = Vec::new();
    let sent = answerer().answer(data, src, &mut out);
    if sent {
        assert!(out.len() >= 12 && out.len() <= 1232, "{} octets", out.len());
        assert_eq!(out[..2], data[..2], "id echoed");
        assert!(out[2] & 0x80 != 0, "QR set");
        hickory_like_parse(&out);
    }
    if ayadns::testing::cache::key(data).is_some() {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            for _ in 0..2 {
                let mut again = Vec::new();
                let s = answerer().answer_cached(&mut c, data, src, &mut again);
                assert_eq!((s, &again), (sent, &out), "cached answer differs");
            }
        });
    }
});

/// The response must parse (as a client would read it).
fn hickory_like_parse(out: &[u8]) {
    if let Err(e) = ayadns_fuzz_parse(out) {
        panic!("unparseable response: {e}");
    }
}

fn ayadns_fuzz_parse(out: &[u8]) -> Result<(), String> {
    use hickory_proto::op::Message;
    Message::from_vec(out)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
