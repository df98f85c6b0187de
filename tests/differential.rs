//! Differential test: ayadns against Knot DNS, a real authoritative server, on the same zones.
//!
//! Both servers load the zone files in `tests/data/diff/`; a corpus of queries generated from
//! those zones goes to both, and the responses are compared. Knot is the oracle: nothing here
//! hard-codes an expected answer. All differences are printed at the end in one table and the
//! test fails if there is any.
//!
//! Needs `knotd` (Debian/Ubuntu package `knot`), `nsd` and `named-compilezone` (packages
//! `nsd`, `bind9-utils`) for the second set; `scripts/test-deps.sh` installs them. The test
//! fails, and says so, when one is missing: it does not skip silently.
//!
//! Harness self-check: `AYADNS_DIFF_AGAINST=knot` compares Knot with a second Knot (must report
//! no difference), `AYADNS_DIFF_AGAINST=nsd` compares Knot with NSD (shows where two mature
//! servers legitimately differ; used to decide the exclusions listed below).
//!
//! What is compared, per query:
//! - a response arrives from both, with the query's id;
//! - the question section, byte-exact against what was sent (0x20 case preservation);
//! - RCODE, and the header flags QR AA TC RD RA AD CD;
//! - the answer section and the authority section as sets, TTLs included (names compared
//!   case-insensitively, RFC 4343; TXT data exactly);
//! - for referrals (NS records in authority): the glue, i.e. the A/AAAA records in additional
//!   for the NS targets;
//! - EDNS: OPT present iff it is in Knot's response, same version, DO bit echoed the same way.
//!
//! Deliberately NOT compared (RFCs leave these open, and Knot and NSD differ on them):
//! - additional-section contents of non-referral answers (RFC 1034 §4.3.2 step 6 and RFC 2181
//!   §5.4.1 make them optional: Knot adds A/AAAA of in-zone MX/SRV/NS targets, NSD adds more);
//! - the sections of a truncated (TC=1) response: RFC 2181 §9 only asks that incomplete RRsets
//!   are not used; Knot and NSD send empty sections, others send what fits. Only RCODE and flags
//!   (including TC itself) are compared then;
//! - which records an ANY query returns (RFC 8482 §4.1: one RRset, a subset, or a synthesized
//!   HINFO; Knot returns one RRset, NSD the SOA at the apex). Checked instead: the answer is
//!   non-empty exactly when Knot's is, and every record is a real record of that name (as Knot
//!   serves it for a specific type) or an RFC 8482 HINFO;
//! - EDNS payload size (each server advertises its own) and EDNS options: Knot has no ECS
//!   support without its geoip module and ignores the option, ayadns echoes ECS (RFC 7871);
//!   NSID is server identity.
//! - QCLASS ANY is not in the corpus: Knot answers it with AA=1, NSD with AA=0.
//!
//! Kept strict on purpose although NSD differs:
//! - the authority section of positive answers: NSD adds the apex NS RRset there, Knot sends
//!   minimal responses (as does hickory's Catalog), and minimal responses are what ayadns wants
//!   (smaller answers, fewer truncations);
//! - the question of a QCLASS HS query: NSD answers REFUSED with no question section, Knot
//!   echoes it (RFC 1035 §4.1.1 / RFC 6895: a response repeats the question).
//!
//! Two zone sets. `tests/data/diff` (walked with hickory's parser to generate the corpus) is
//! the protocol set. `tests/data/diff2` is the zone-file and zone-tree set, with a corpus
//! written by hand ([`corpus2`]): escaped labels, `@` and units in data, `$INCLUDE` (with and
//! without an origin), `$GENERATE`, DNSSEC and newer record types, RFC 3597 data, DNAME,
//! nested served zones with DS at the cut, CNAMEs across served zones, wildcard CNAMEs, CNAME
//! and DNAME loops, big RRsets that truncate. Knot does not read `$GENERATE`: the reference
//! servers get BIND's expansion of those files (`named-compilezone`, package bind9-utils).
//! Where Knot and NSD differ and ayadns answers as NSD does, NSD is the oracle for those
//! queries only ([`nsd_is_oracle`]).
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

const ZONE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/diff");
/// The second set: zone-file syntax (escapes, `@` in data, units, `$INCLUDE`, `$GENERATE`,
/// DNSSEC and newer record types, RFC 3597), DNAME, nested zones with DS at the cut, CNAMEs
/// across served zones, wildcard CNAMEs, CNAME loops, a big RRset.
const ZONE_DIR2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/diff2");

// ---------------------------------------------------------------------------------------------
// Reference servers
// ---------------------------------------------------------------------------------------------

/// The zone set in `from` (zone files and the folders they `$INCLUDE` from) copied into a
/// temp dir (neither server may write to the repo).
fn copy_zones(from: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("diff-zones-")
        .tempdir()
        .unwrap();
    fn copy_tree(from: &Path, to: &Path) {
        for e in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
            let p = e.unwrap().path();
            let dest = to.join(p.file_name().unwrap());
            if p.is_dir() {
                fs::create_dir_all(&dest).unwrap();
                copy_tree(&p, &dest);
            } else {
                fs::copy(&p, &dest).unwrap();
            }
        }
    }
    copy_tree(Path::new(from), dir.path());
    dir
}

/// Knot and NSD do not read `$GENERATE` (a BIND extension): in the reference servers' copy,
/// a zone file that uses it is replaced by BIND's expansion of it (`named-compilezone`, from
/// the Debian package bind9-utils), so the oracle for `$GENERATE` is BIND's reader.
fn expand_generate_for_reference(dir: &Path) {
    for (origin, file) in zones_in(dir) {
        let path = dir.join(&file);
        let text = fs::read(&path).unwrap();
        if !text
            .split(|b| *b == b'\n')
            .any(|l| l.starts_with(b"$GENERATE"))
        {
            continue;
        }
        let compile = require("named-compilezone");
        let out = dir.join(format!("{file}.compiled"));
        let status = std::process::Command::new(compile)
            .args(["-q", "-i", "none", "-k", "ignore", "-n", "ignore", "-o"])
            .arg(&out)
            .arg(origin.to_string())
            .arg(&path)
            .current_dir(dir)
            .status()
            .expect("run named-compilezone");
        assert!(status.success(), "named-compilezone failed on {file}");
        fs::rename(&out, &path).unwrap();
    }
}

/// (origin, file name) of every `*.zone` in `dir`; the file is named after its origin.
fn zones_in(dir: &Path) -> Vec<(Name, String)> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "zone") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            v.push((
                Name::from_ascii(format!("{stem}.")).unwrap(),
                p.file_name().unwrap().to_string_lossy().into_owned(),
            ));
        }
    }
    v.sort();
    v
}

fn parse_zone(
    p: &Path,
) -> (
    Name,
    BTreeMap<hickory_proto::rr::RrKey, hickory_proto::rr::RecordSet>,
) {
    let text = fs::read_to_string(p).unwrap();
    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
    let origin = Name::from_ascii(format!("{stem}.")).unwrap();
    Parser::new(text, Some(p.to_path_buf()), Some(origin))
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn require(prog: &str) -> PathBuf {
    find_program(prog).unwrap_or_else(|| {
        panic!(
            "`{prog}` not found (looked in $PATH, /usr/sbin, /usr/local/sbin). The differential \
             test needs Knot DNS as its reference server: run `scripts/test-deps.sh` (installs \
             the Debian packages knot and knot-dnsutils)."
        )
    })
}

/// knotd on its own loopback address, serving the zones in `zones`.
fn start_knot(zones: &Path) -> (Daemon, SocketAddr, tempfile::TempDir) {
    let knotd = require("knotd");
    let addr = unique_addr();
    let run = tempfile::Builder::new()
        .prefix("knot-run-")
        .tempdir()
        .unwrap();
    fs::create_dir_all(run.path().join("db")).unwrap();
    let mut conf = format!(
        "server:\n    rundir: \"{run}\"\n    listen: {ip}@{port}\n    udp-workers: 1\n    \
         tcp-workers: 1\n    background-workers: 1\n\
         database:\n    storage: \"{run}/db\"\n\
         log:\n  - target: stderr\n    any: info\n\
         template:\n  - id: default\n    storage: \"{zones}\"\n    file: \"%s.zone\"\n    \
         zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n    \
         semantic-checks: off\n\
         zone:\n",
        run = run.path().display(),
        ip = addr.ip(),
        port = addr.port(),
        zones = zones.display(),
    );
    for (origin, _) in zones_in(zones) {
        // file "%s.zone" is the origin without the final dot: diff.test. -> diff.test.zone
        writeln!(conf, "  - domain: {origin}").unwrap();
    }
    let conf_path = run.path().join("knot.conf");
    fs::write(&conf_path, conf).unwrap();
    let conf_s = conf_path.to_str().unwrap().to_string();
    let mut d = Daemon::spawn(&knotd, &["-c", &conf_s], Some(run.path()), &[]);
    d.wait_for_dns(addr, Duration::from_secs(10));
    // knotd answers (REFUSED) before the zones are loaded: wait for every zone's SOA.
    for (origin, _) in zones_in(zones) {
        let mut ok = false;
        for _ in 0..500 {
            let soa = Q::new(&origin.to_string(), RecordType::SOA).message();
            if let Ok(m) = try_udp(addr, &soa, TIMEOUT)
                && rcode(&m) == ResponseCode::NoError
                && !m.answers.is_empty()
            {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !ok {
            d.fail(&format!("knotd did not load zone {origin}"));
        }
    }
    (d, addr, run)
}

/// NSD (for the harness self-check only: `AYADNS_DIFF_AGAINST=nsd`).
fn start_nsd(zones: &Path) -> (Daemon, SocketAddr, tempfile::TempDir) {
    let nsd = require("nsd");
    let addr = unique_addr();
    let run = tempfile::Builder::new()
        .prefix("nsd-run-")
        .tempdir()
        .unwrap();
    let r = run.path().display();
    let mut conf = format!(
        "server:\n    ip-address: {ip}@{port}\n    username: \"\"\n    chroot: \"\"\n    \
         zonesdir: \"{zones}\"\n    database: \"\"\n    pidfile: \"{r}/nsd.pid\"\n    \
         xfrdfile: \"{r}/xfrd.state\"\n    zonelistfile: \"{r}/zone.list\"\n    \
         server-count: 1\n    verbosity: 1\n    hide-identity: yes\n\
         remote-control:\n    control-enable: no\n",
        ip = addr.ip(),
        port = addr.port(),
        zones = zones.display(),
    );
    for (origin, file) in zones_in(zones) {
        writeln!(
            conf,
            "zone:\n    name: \"{origin}\"\n    zonefile: \"{file}\""
        )
        .unwrap();
    }
    let conf_path = run.path().join("nsd.conf");
    fs::write(&conf_path, conf).unwrap();
    let conf_s = conf_path.to_str().unwrap().to_string();
    let mut d = Daemon::spawn(&nsd, &["-d", "-c", &conf_s], Some(run.path()), &[]);
    d.wait_for_dns(addr, Duration::from_secs(10));
    (d, addr, run)
}

/// The server compared against Knot: ayadns, unless `AYADNS_DIFF_AGAINST` says otherwise.
struct Subject {
    name: String,
    addr: SocketAddr,
    _proc: Box<dyn std::any::Any>,
}

fn start_subject(zones: &Path) -> Subject {
    match std::env::var("AYADNS_DIFF_AGAINST")
        .unwrap_or_default()
        .as_str()
    {
        "" | "ayadns" => {
            let addr = unique_addr();
            let a = Ayadns::serve_zones(zones, addr);
            Subject {
                name: "ayadns".into(),
                addr,
                _proc: Box::new(a),
            }
        }
        "knot" => {
            let (d, addr, run) = start_knot(zones);
            Subject {
                name: "knot#2".into(),
                addr,
                _proc: Box::new((d, run)),
            }
        }
        "nsd" => {
            let (d, addr, run) = start_nsd(zones);
            Subject {
                name: "nsd".into(),
                addr,
                _proc: Box::new((d, run)),
            }
        }
        other => panic!("AYADNS_DIFF_AGAINST={other:?}: expected ayadns, knot or nsd"),
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Udp,
    Tcp,
}

#[derive(Clone)]
struct Case {
    q: Q,
    transport: Transport,
}

/// Flips the case of every other letter: `www.diff.test.` -> `WwW.DiFf.TeSt.` (0x20 style).
fn scramble_case(s: &str) -> String {
    let mut up = true;
    s.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                up = !up;
                if up {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// Queries generated from the zones: every owner name with common types and its own types,
/// names under wildcards, at and below delegations, empty non-terminals, nonexistent names,
/// mixed-case spellings, out-of-zone names, other classes; EDNS on about half of them.
fn corpus() -> Vec<Case> {
    use RecordType::*;
    let main = Path::new(ZONE_DIR).join("diff.test.zone");
    let (origin, rrsets) = parse_zone(&main);
    let o = origin.to_string(); // "diff.test."

    // owner (lowercase) -> (spelling in the zone file, types)
    // The parser lowercases owner names; take the spelling from the file's owner column.
    let spelled: BTreeMap<LowerName, Name> = fs::read_to_string(&main)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(|c: char| !c.is_whitespace() && c != ';' && c != '$' && c != '@'))
        .filter_map(|l| l.split_whitespace().next())
        // (Name::parse would lowercase; from_ascii keeps the case.)
        .filter_map(|owner| {
            let n = Name::from_ascii(owner).ok()?;
            if n.is_fqdn() {
                Some(n)
            } else {
                n.append_domain(&origin).ok()
            }
        })
        .map(|n| (LowerName::new(&n), n))
        .collect();
    let mut owners: BTreeMap<LowerName, (Name, BTreeSet<RecordType>)> = BTreeMap::new();
    for (k, set) in &rrsets {
        let spelling = spelled
            .get(k.name())
            .cloned()
            .unwrap_or_else(|| set.name().clone());
        let e = owners
            .entry(k.name().clone())
            .or_insert_with(|| (spelling, BTreeSet::new()));
        e.1.insert(k.record_type);
    }
    let apex = LowerName::new(&origin);
    let cuts: Vec<Name> = owners
        .iter()
        .filter(|(n, (_, t))| **n != apex && t.contains(&NS))
        .map(|(_, (n, _))| n.clone())
        .collect();

    let mut qs: Vec<Q> = Vec::new();
    let push = |qs: &mut Vec<Q>, name: String, t: RecordType| qs.push(Q::new(&name, t));

    for (lname, (spelling, types)) in &owners {
        let name = spelling.to_string();
        let mut want: BTreeSet<RecordType> = [A, TXT].into_iter().collect();
        want.extend(types.iter().copied());
        if *lname == apex {
            want.extend([AAAA, MX, NS, SOA, SRV, DS, ANY]);
        }
        if cuts.iter().any(|c| LowerName::new(c) == *lname) {
            want.extend([DS, NS, SOA, AAAA]);
        }
        if spelling.is_wildcard() {
            // The wildcard owner itself ("*.wild") is a valid query name too (RFC 4592 §2.2.1).
            let base = spelling.base_name().to_string();
            for t in &want {
                push(&mut qs, format!("w1.{base}"), *t);
            }
            push(&mut qs, format!("a.b.{base}"), A);
            push(&mut qs, format!("W2.{}", scramble_case(&base)), A);
            push(&mut qs, name.clone(), A);
            continue;
        }
        for t in &want {
            push(&mut qs, name.clone(), *t);
        }
        // The name as written in the file, lowercased, and 0x20-scrambled.
        if name != name.to_ascii_lowercase() {
            push(&mut qs, name.to_ascii_lowercase(), A);
        }
        push(&mut qs, scramble_case(&name), *types.iter().next().unwrap());
    }
    for cut in &cuts {
        let c = cut.to_string();
        push(&mut qs, format!("host.{c}"), A);
        push(&mut qs, format!("deep.host.{c}"), AAAA);
        push(&mut qs, format!("host.{c}"), DS);
        push(&mut qs, format!("HoSt.{}", scramble_case(&c)), MX);
    }
    // Nonexistent names, empty non-terminals, and their neighbours.
    for n in [
        "nx",
        "nx.nx",
        "b.c",
        "c",
        "x.b.c",
        "x.y.z",
        "y.z",
        "z",
        "nx.a.b.c",
        "ent.wild",
        "x.ent.wild",
        "foo.exists.wild",
        "exists.wild",
        "nx.www",
        "_udp",
        "_tcp",
        "CASE",
    ] {
        push(&mut qs, format!("{n}.{o}"), A);
    }
    push(&mut qs, format!("b.c.{o}"), TXT);
    push(&mut qs, format!("NX.{}", scramble_case(&o)), AAAA);
    push(&mut qs, format!("y.z.{o}"), ANY);
    for n in ["www", "chain1", "sub", "nx", "MiXeD"] {
        push(&mut qs, format!("{n}.{o}"), ANY);
    }
    // Other zone served by both, and names outside every zone (REFUSED).
    for (n, t) in [
        ("other.test.", SOA),
        ("mail2.other.test.", A),
        ("nx.other.test.", A),
        ("www.example.org.", A),
        ("test.", SOA),
        (".", NS),
        ("xdiff.test.", A),
        ("diff.test.example.", A),
        ("diff.test.other.test.", A),
    ] {
        push(&mut qs, n.to_string(), t);
    }

    // EDNS on about half the queries, DO on some, RD on a few.
    let mut cases: Vec<Case> = qs
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            let q = match i % 6 {
                0 | 2 => q.edns(1232),
                4 => q.edns(4096).dnssec_ok(),
                _ => q,
            };
            let q = if i % 11 == 5 { q.rd(true) } else { q };
            Case {
                q,
                transport: Transport::Udp,
            }
        })
        .collect();

    // Hand-picked variations.
    let extra = [
        // big TXT: no EDNS (TC), EDNS 1232 (TC: ~1.3 KB), EDNS 4096 (servers cap at 1232), TCP.
        (Q::new(&format!("big.{o}"), TXT), Transport::Udp),
        (Q::new(&format!("big.{o}"), TXT).edns(1232), Transport::Udp),
        (Q::new(&format!("big.{o}"), TXT).edns(4096), Transport::Udp),
        (Q::new(&format!("big.{o}"), TXT), Transport::Tcp),
        (Q::new(&format!("big.{o}"), TXT).edns(4096), Transport::Tcp),
        // other classes for a zone name
        (
            Q::new(&format!("www.{o}"), A).class(DNSClass::CH),
            Transport::Udp,
        ),
        (Q::new(&o, SOA).class(DNSClass::HS), Transport::Udp),
        (
            Q::new(&o, SOA).class(DNSClass::CH).edns(1232),
            Transport::Udp,
        ),
        // ECS on a static zone (only the sections are compared; see the module docs)
        (
            Q::new(&format!("www.{o}"), A).ecs(IpAddr::from([198, 51, 100, 0]), 24),
            Transport::Udp,
        ),
        (
            Q::new(&format!("nx.{o}"), A).ecs(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 48),
            Transport::Udp,
        ),
        // a few over TCP
        (Q::new(&format!("chain1.{o}"), A), Transport::Tcp),
        (Q::new(&format!("sub.{o}"), A), Transport::Tcp),
        (Q::new(&format!("nx.{o}"), A).edns(1232), Transport::Tcp),
    ];
    cases.extend(
        extra
            .into_iter()
            .map(|(q, transport)| Case { q, transport }),
    );
    // Drop repeats (a name can come from the zone walk and from the hand-written lists).
    let mut seen = BTreeSet::new();
    cases.retain(|c| seen.insert(format!("{:?} {}", c.transport, c.q.describe())));
    cases
}

/// The corpus of the second zone set, written by hand (hickory's parser, which the first
/// corpus walks, cannot read these zones): every owner with its own types and A/TXT, names
/// below DNAMEs, wildcards and cuts, the nested zones; EDNS and DO on some, 0x20 on some.
fn corpus2() -> Vec<Case> {
    use RecordType::*;
    let z = "zf.test.";
    let mut qs: Vec<(String, RecordType)> = Vec::new();
    let mut add = |name: &str, types: &[RecordType]| {
        let full = if name.is_empty() {
            z.to_string()
        } else if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.{z}")
        };
        for t in types {
            qs.push((full.clone(), *t));
        }
    };
    add(
        "",
        &[
            SOA,
            NS,
            MX,
            TXT,
            CAA,
            DNSKEY,
            CDNSKEY,
            NSEC3PARAM,
            A,
            AAAA,
            DS,
            ANY,
            RecordType::Unknown(65280),
        ],
    );
    add("ns1", &[A, AAAA]);
    add("ns2", &[A]);
    add("a\\.b", &[A, TXT]);
    add("A\\.B", &[A]);
    add("a.b", &[A]);
    add("b", &[A]);
    add("My\\032Printer._ipp._tcp", &[SRV, TXT, A]);
    add("my\\032printer._IPP._tcp", &[SRV]);
    add("_ipp._tcp", &[A, SRV]);
    add("_tcp", &[A]);
    add("printer", &[A]);
    add("semi\\;colon", &[TXT]);
    add("www", &[A, AAAA, SSHFP, TXT, ANY]);
    add("_443._tcp.www", &[TLSA, A]);
    add("_tcp.www", &[A]);
    add("alias", &[A, AAAA, CNAME, TXT]);
    add("apexalias", &[A, MX, SOA]);
    add("svc", &[SVCB, HTTPS, A]);
    add("svc0", &[HTTPS]);
    add("sip", &[NAPTR]);
    add("re", &[NAPTR]);
    add("signed", &[A, RRSIG, NSEC, AAAA]);
    add("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", &[NSEC3, A]);
    add(
        "unknown",
        &[RecordType::Unknown(731), RecordType::Unknown(732), A],
    );
    add("hinfo", &[HINFO]);
    add("apexdname.test.", &[SOA, NS, DNAME, A]);
    add("www.apexdname.test.", &[A, AAAA]);
    add("x.dn.apexdname.test.", &[A]);
    add("nx.apexdname.test.", &[A]);
    add("nottl.test.", &[SOA, NS]);
    add("ns.nottl.test.", &[A]);
    add("www.nottl.test.", &[A]);
    add("mail.nottl.test.", &[A]);
    add("t-spf", &[RecordType::Unknown(99), TXT]);
    add("t-smimea", &[SMIMEA]);
    add("t-afsdb", &[RecordType::Unknown(18)]);
    add("t-kx", &[RecordType::Unknown(36)]);
    add("t-lp", &[RecordType::Unknown(107)]);
    add("t-dhcid", &[RecordType::Unknown(49)]);
    add("t-uri", &[RecordType::Unknown(256)]);
    add("t-eui48", &[RecordType::Unknown(108)]);
    add("t-eui64", &[RecordType::Unknown(109)]);
    add("t-l32", &[RecordType::Unknown(105)]);
    add("t-l64", &[RecordType::Unknown(106)]);
    add("t-nid", &[RecordType::Unknown(104)]);
    add("t-csync", &[CSYNC]);
    add("t-cert", &[CERT]);
    add("t-loc", &[RecordType::Unknown(29)]);
    add("t-loc2", &[RecordType::Unknown(29)]);
    add("t-openpgpkey", &[OPENPGPKEY]);
    add("t-rp", &[RecordType::Unknown(17)]);
    add("t-ipseckey", &[RecordType::Unknown(45)]);
    add("t-zonemd", &[RecordType::Unknown(63)]);
    add("t-mixed", &[RecordType::Unknown(65534)]);
    add("t-hinfo-generic", &[HINFO]);
    add("t-a-generic", &[A]);
    // DNAME
    add("dn", &[DNAME, A, CNAME, ANY]);
    add("x.dn", &[A, TXT, AAAA, DNAME, CNAME, ANY, DS]);
    add("X.Dn", &[TXT]);
    add("nx.dn", &[A]);
    add("a.b.dn", &[A]);
    add("c.dn", &[A]);
    add("occluded.dn", &[A]);
    add("target", &[A, DNAME]);
    add("x.target", &[A, TXT]);
    add("www.out", &[A]);
    add("out", &[DNAME, A]);
    add("a.loopd", &[A]);
    add("x.dchain", &[A]);
    add("y.x.dchain", &[A]);
    add(
        "a123456789a123456789a123456789a123456789a123456789a123456789a12.\
         b123456789b123456789b123456789b123456789b123456789b123456789b12.\
         c123456789c123456789c123456789c123456789c123456789c123456789c12.\
         d123456789d123456789d123456789d12.loopd",
        &[A],
    );
    // wildcards with CNAMEs, CNAME loops
    add("a.wc", &[A, AAAA, CNAME, TXT]);
    add("b.c.wc", &[A]);
    add("*.wc", &[A, CNAME]);
    add("wc", &[A]);
    add("a.wcx", &[A]);
    add("a.wcl", &[A]);
    add("l1", &[A, CNAME]);
    add("q.wcd", &[A, TXT]);
    add("self", &[A, CNAME]);
    // CNAMEs into other served zones and into delegations
    add("tochild", &[A, AAAA]);
    add("tosib", &[A]);
    add("todel", &[A]);
    add("back.sib.test.", &[A]);
    add("www.dnx.sib.test.", &[A, AAAA]);
    add("x.dn.dnx.sib.test.", &[A]);
    add("up.child", &[A]);
    // nested zones: DS at the cut from the parent, the rest from the child
    add("child", &[DS, NS, SOA, A, AAAA, DNSKEY, ANY]);
    add("CHILD", &[DS]);
    add("www.child", &[A, DS]);
    add("nx.child", &[A]);
    add("ns.child", &[A]);
    add("deeper.child", &[DS, NS, A]);
    add("x.deeper.child", &[A]);
    // a delegation nobody here serves: referrals, DS from the parent
    add("del", &[DS, NS, A, SOA]);
    add("host.del", &[A, DS, MX]);
    add("ns.del", &[A, AAAA]);
    // big RRsets and $GENERATE (gen.test.), $INCLUDE
    add("big.gen.test.", &[A, AAAA, TXT]);
    add("host001.gen.test.", &[A]);
    add("host020.gen.test.", &[A]);
    add("host021.gen.test.", &[A]);
    add("gen-10.gen.test.", &[A]);
    add("gen-20.gen.test.", &[CNAME, A]);
    add("gen-30.gen.test.", &[A]);
    add("fa.hex.gen.test.", &[TXT]);
    add("FF.hex.gen.test.", &[TXT]);
    add("hex.gen.test.", &[TXT]);
    add("togen", &[A]);
    add("chain1.gen.test.", &[A]);
    add("chain10.gen.test.", &[A]);
    add("chain14.gen.test.", &[A]);
    add("chain20.gen.test.", &[A]);
    add("inc1", &[A]);
    add("inc2", &[A]);
    add("sub", &[A, MX]);
    add("deep.sub", &[MX, A]);
    add("after-include", &[TXT]);
    add("nx", &[A, TXT]);
    add("sib.test.", &[SOA, NS]);
    add("nx.sib.test.", &[A]);

    let mut cases: Vec<Case> = qs
        .into_iter()
        .enumerate()
        .map(|(i, (name, t))| {
            // (the 250-octet name is scrambled once, below, on purpose)
            let name = if i % 7 == 3 && name.len() < 200 {
                scramble_case(&name)
            } else {
                name
            };
            // hickory's Name::from_ascii refuses `\DDD` escapes: parse with ayadns' reader.
            let mut q = Q::new(".", t);
            q.name = ayadns::zone::rdata::parse_name(&name, None)
                .unwrap_or_else(|e| panic!("corpus name {name}: {e}"));
            let q = match i % 6 {
                0 | 2 => q.edns(1232),
                4 => q.edns(4096).dnssec_ok(),
                _ => q,
            };
            Case {
                q,
                transport: Transport::Udp,
            }
        })
        .collect();
    for (q, transport) in [
        (
            Q::new(
                &scramble_case(&format!(
                    "{}.{}.{}.{}.loopd.{z}",
                    "a123456789".repeat(6) + "a12",
                    "b123456789".repeat(6) + "b12",
                    "c123456789".repeat(6) + "c12",
                    "d123456789".repeat(3) + "d12",
                )),
                A,
            ),
            Transport::Udp,
        ),
        (Q::new("big.gen.test.", A), Transport::Udp),
        (Q::new("big.gen.test.", A).edns(1232), Transport::Udp),
        (Q::new("big.gen.test.", A).edns(512), Transport::Udp),
        (Q::new("big.gen.test.", A), Transport::Tcp),
        (Q::new("big.gen.test.", AAAA), Transport::Udp),
        (Q::new(&format!("a.wcl.{z}"), A), Transport::Tcp),
        (Q::new(&format!("x.dn.{z}"), A), Transport::Tcp),
        (Q::new(&format!("child.{z}"), DS), Transport::Tcp),
        (Q::new(&format!("host.del.{z}"), A), Transport::Tcp),
        (Q::new(z, ANY), Transport::Tcp),
        (Q::new(&format!("www.{z}"), ANY), Transport::Tcp),
    ] {
        cases.push(Case { q, transport });
    }
    let mut seen = BTreeSet::new();
    cases.retain(|c| seen.insert(format!("{:?} {}", c.transport, c.q.describe())));
    cases
}

#[test]
fn differential_against_knot_zone_syntax_and_nesting() {
    let cases = corpus2();
    assert!(cases.len() >= 150, "corpus too small: {}", cases.len());
    run_differential(ZONE_DIR2, &cases, "second zone set");
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

struct Resp {
    raw: Vec<u8>,
    msg: Message,
}

fn ask(addr: SocketAddr, c: &Case) -> Result<Resp, String> {
    let m = c.q.message();
    let r = match c.transport {
        Transport::Udp => try_udp_bytes(addr, &m, TIMEOUT),
        Transport::Tcp => try_tcp_bytes(addr, &m, TIMEOUT),
    };
    r.map(|(raw, msg)| Resp { raw, msg })
}

struct Diff {
    case: String,
    aspect: String,
    knot: String,
    other: String,
}

fn show(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join("\n")
    }
}

fn is_rfc8482_hinfo(r: &Record) -> bool {
    matches!(&r.data, RData::HINFO(_))
}

/// Glue: A/AAAA records in additional whose owner is an NS target in `authority`.
fn glue(authority: &[Record], additional: &[Record]) -> Vec<String> {
    let targets: BTreeSet<LowerName> = authority
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(LowerName::new(&ns.0)),
            _ => None,
        })
        .collect();
    let mut v: Vec<String> = additional
        .iter()
        .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
        .filter(|r| targets.contains(&LowerName::new(&r.name)))
        .map(record_canonical)
        .collect();
    v.sort();
    v
}

/// Every record Knot serves at `name` for a specific type (owner == name), for ANY checks.
fn known_records(knot: SocketAddr, name: &Name) -> BTreeSet<String> {
    use RecordType::*;
    let lname = LowerName::new(name);
    let mut set = BTreeSet::new();
    for t in [
        SOA,
        NS,
        A,
        AAAA,
        MX,
        TXT,
        SRV,
        CNAME,
        DS,
        CAA,
        HINFO,
        PTR,
        NAPTR,
        SSHFP,
        TLSA,
        DNAME,
        DNSKEY,
        CDNSKEY,
        CDS,
        NSEC,
        NSEC3PARAM,
        RRSIG,
        SVCB,
        HTTPS,
        RecordType::Unknown(65280),
    ] {
        let m = Q::new(&name.to_string(), t).message();
        if let Ok(r) = try_tcp(knot, &m, TIMEOUT) {
            for rec in r
                .answers
                .iter()
                .filter(|r| LowerName::new(&r.name) == lname)
            {
                set.insert(record_canonical(rec));
            }
        }
    }
    set
}

fn compare(
    c: &Case,
    knot_addr: SocketAddr,
    k: &Resp,
    s: &Resp,
    subject: &str,
) -> Vec<(String, String, String)> {
    let mut d: Vec<(String, String, String)> = Vec::new();
    fn diff_into(d: &mut Vec<(String, String, String)>, aspect: &str, a: String, b: String) {
        if a != b {
            d.push((aspect.to_string(), a, b));
        }
    }
    macro_rules! diff {
        ($aspect:expr, $a:expr, $b:expr $(,)?) => {
            diff_into(&mut d, $aspect, $a, $b)
        };
    }
    let sent = c.q.bytes();
    let sent_q = question_bytes(&sent).unwrap().to_vec();
    // Question echoed byte-exact. Knot is checked too: a failure there means the harness is off.
    let qtext = |raw: &[u8]| match question_bytes(raw) {
        Some(q) if q == sent_q.as_slice() => "as sent".to_string(),
        Some([]) => "missing (QDCOUNT 0)".to_string(),
        Some(q) => format!(
            "differs from sent: {}",
            String::from_utf8_lossy(q).escape_debug()
        ),
        None => "malformed".to_string(),
    };
    diff!("question (byte-exact)", qtext(&k.raw), qtext(&s.raw));
    let (km, sm) = (&k.msg, &s.msg);
    diff!("rcode", rcode(km).to_string(), rcode(sm).to_string());
    diff!(
        "opcode",
        format!("{:?}", km.metadata.op_code),
        format!("{:?}", sm.metadata.op_code)
    );
    diff!("flags", flags(km), flags(sm));

    let edns = |m: &Message| match &m.edns {
        None => "no OPT".to_string(),
        Some(e) => format!("OPT v{} do={}", e.version(), e.flags().dnssec_ok),
    };
    diff!("edns", edns(km), edns(sm));

    if km.metadata.truncation && sm.metadata.truncation {
        // Contents of truncated responses are the server's choice (module docs).
        return d;
    }

    if c.q.rtype == RecordType::ANY {
        // RFC 8482: check non-emptiness and that every record is real (module docs).
        diff!(
            "answer (ANY) non-empty",
            (!km.answers.is_empty()).to_string(),
            (!sm.answers.is_empty()).to_string(),
        );
        // Through a DNAME the answer holds the DNAME and the synthesized CNAME (other owners):
        // every record is checked against what Knot serves at its own owner.
        let mut known = known_records(knot_addr, &c.q.name);
        let owners: BTreeSet<LowerName> = sm
            .answers
            .iter()
            .map(|r| LowerName::new(&r.name))
            .filter(|n| *n != LowerName::new(&c.q.name))
            .collect();
        for o in owners {
            known.extend(known_records(knot_addr, &Name::from(o)));
        }
        let bogus: Vec<String> = sm
            .answers
            .iter()
            .filter(|r| !is_rfc8482_hinfo(r))
            .map(record_canonical)
            .filter(|r| !known.contains(r))
            .collect();
        if !bogus.is_empty() {
            d.push((
                "answer (ANY) records not at this name".into(),
                format!(
                    "knot serves at this name:\n{}",
                    show(&known.into_iter().collect::<Vec<_>>())
                ),
                format!("{subject} also returned:\n{}", show(&bogus)),
            ));
        }
    } else {
        diff!(
            "answer",
            show(&records_canonical(&km.answers)),
            show(&records_canonical(&sm.answers))
        );
    }
    diff!(
        "authority",
        show(&records_canonical(&km.authorities)),
        show(&records_canonical(&sm.authorities))
    );
    if km
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::NS)
    {
        diff!(
            "glue (additional A/AAAA of NS targets)",
            show(&glue(&km.authorities, &km.additionals)),
            show(&glue(&sm.authorities, &sm.additionals)),
        );
    }
    d
}

fn run_differential(zone_dir: &str, cases: &[Case], label: &str) {
    let zones = copy_zones(zone_dir);
    let reference_zones = copy_zones(zone_dir);
    expand_generate_for_reference(reference_zones.path());
    let (knot, knot_addr, _knot_run) = start_knot(reference_zones.path());
    let nsd_oracle = cases
        .iter()
        .any(nsd_is_oracle)
        .then(|| start_nsd(reference_zones.path()));
    let subject = match std::env::var("AYADNS_DIFF_AGAINST").as_deref() {
        Ok("knot") | Ok("nsd") => start_subject(reference_zones.path()),
        _ => start_subject(zones.path()),
    };
    let sname = subject.name.clone();

    let mut diffs: Vec<Diff> = Vec::new();
    let mut compared = 0usize;
    for c in cases {
        let case = format!(
            "{} {}",
            if c.transport == Transport::Tcp {
                "TCP"
            } else {
                "UDP"
            },
            c.q.describe()
        );
        let oracle = match &nsd_oracle {
            Some((_, addr, _)) if nsd_is_oracle(c) => *addr,
            _ => knot_addr,
        };
        let k = match ask(oracle, c) {
            Ok(r) => r,
            // Silence from Knot is the oracle's answer too: the subject must also be silent.
            Err(e) => {
                if let Ok(s) = ask(subject.addr, c) {
                    diffs.push(Diff {
                        case,
                        aspect: "response".into(),
                        knot: format!("none ({e})"),
                        other: format!("answered rcode {}", rcode(&s.msg)),
                    });
                }
                compared += 1;
                continue;
            }
        };
        compared += 1;
        let s = match ask(subject.addr, c) {
            Ok(r) => r,
            Err(e) => {
                diffs.push(Diff {
                    case,
                    aspect: "response".into(),
                    knot: format!("rcode {}", rcode(&k.msg)),
                    other: format!("none: {e}"),
                });
                continue;
            }
        };
        for (aspect, kv, sv) in compare(c, oracle, &k, &s, &sname) {
            diffs.push(Diff {
                case: case.clone(),
                aspect,
                knot: kv,
                other: sv,
            });
        }
    }
    drop(knot);

    eprintln!(
        "differential ({label}): {compared} queries compared, knot vs {sname}: {} differences",
        diffs.len()
    );
    if diffs.is_empty() {
        return;
    }
    let mut out = String::new();
    let mut by_case: BTreeMap<usize, Vec<&Diff>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for d in &diffs {
        let i = order.iter().position(|c| *c == d.case).unwrap_or_else(|| {
            order.push(d.case.clone());
            order.len() - 1
        });
        by_case.entry(i).or_default().push(d);
    }
    // Patterns first: how many queries differ in each aspect.
    let mut per_aspect: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &diffs {
        *per_aspect.entry(d.aspect.as_str()).or_default() += 1;
    }
    writeln!(out, "differences per aspect:").unwrap();
    for (a, n) in &per_aspect {
        writeln!(out, "  {n:>4}  {a}").unwrap();
    }
    let w = sname.len().max(4);
    for (i, ds) in by_case {
        writeln!(out, "\n#{:<3} {}", i + 1, order[i]).unwrap();
        for d in ds {
            writeln!(out, "     {}:", d.aspect).unwrap();
            for (who, v) in [("knot", &d.knot), (sname.as_str(), &d.other)] {
                for (j, line) in v.lines().enumerate() {
                    let lead = if j == 0 {
                        format!("{who:>w$} | ")
                    } else {
                        format!("{:>w$} | ", "")
                    };
                    writeln!(out, "       {lead}{line}").unwrap();
                }
            }
        }
    }
    panic!(
        "differential ({label}): {} of {compared} queries differ between knot (the oracle) and {sname} \
         ({} differences):\n{out}",
        by_case_len(&diffs),
        diffs.len()
    );
}

/// Where Knot and NSD answer differently and ayadns answers as NSD does, NSD is the oracle:
/// a 0x20-scrambled 250-octet name through a DNAME that loops on itself. Knot repeats the
/// synthesized CNAME up to its chain limit, as ayadns does, and compresses names without
/// regard to case, so its answer fits in 512 octets; hickory's encoder compresses only names
/// of the same case, so ayadns, like NSD, sends TC=1 (the client then asks over TCP).
fn nsd_is_oracle(c: &Case) -> bool {
    let name = c.q.name.to_ascii();
    name != name.to_ascii_lowercase() && name.to_ascii_lowercase().ends_with("d12.loopd.zf.test.")
}

fn by_case_len(d: &[Diff]) -> usize {
    d.iter().map(|d| &d.case).collect::<BTreeSet<_>>().len()
}

#[test]
fn differential_against_knot() {
    let cases = corpus();
    assert!(cases.len() >= 80, "corpus too small: {}", cases.len());
    run_differential(ZONE_DIR, &cases, "UDP corpus + TCP extras");
}

/// The same comparison over TCP for a subset of the corpus (every third query, plus all the
/// hand-picked ones): no truncation, so sections are always compared.
#[test]
fn differential_against_knot_tcp() {
    let all = corpus();
    let mut seen = BTreeSet::new();
    let cases: Vec<Case> = all
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            i % 3 == 0 || c.q.name.to_ascii().starts_with("big.") || c.q.rtype == RecordType::ANY
        })
        .map(|(_, c)| Case {
            q: c.q.clone(),
            transport: Transport::Tcp,
        })
        .filter(|c| seen.insert(c.q.describe()))
        .collect();
    run_differential(ZONE_DIR, &cases, "TCP subset");
}

/// The corpus itself is well-formed: every query encodes, and the question bytes are found.
#[test]
fn corpus_is_well_formed() {
    for (i, c) in corpus().iter().enumerate() {
        println!("{:>3} {:?} {}", i + 1, c.transport, c.q.describe()); // --nocapture lists it
        let b = c.q.bytes();
        assert!(question_bytes(&b).is_some(), "{}", c.q.describe());
        assert!(Message::from_vec(&b).is_ok(), "{}", c.q.describe());
    }
}
