//! Zone files as operators bring them: `ayadns check` and `ayadns serve` on real files with
//! `$INCLUDE`, `$GENERATE`, escapes and DNSSEC records, and the messages for what is wrong
//! (syntax errors in included files with their own file:line, include loops, includes outside
//! the zone folder, the `include_root` setting that allows them).
mod common;

use common::*;
use hickory_proto::rr::RecordType;
use std::fs;
use std::path::Path;

const HEAD: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n  NS ns1\nns1 A 192.0.2.1\n";

fn config(dir: &Path, zones: &[(&str, Option<&str>)]) -> std::path::PathBuf {
    let mut cfg = String::from("[server]\nlisten = [\"127.0.0.1:0\"]\n");
    for (file, root) in zones {
        cfg.push_str(&format!("\n[[zone]]\nfile = \"{file}\"\n"));
        if let Some(r) = root {
            cfg.push_str(&format!("include_root = \"{r}\"\n"));
        }
    }
    let p = dir.join("ayadns.toml");
    fs::write(&p, cfg).unwrap();
    p
}

#[test]
fn check_names_included_files_loops_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("zones/inc")).unwrap();
    fs::create_dir_all(d.join("shared")).unwrap();
    // a syntax error inside an included file: that file's name and line
    fs::write(
        d.join("zones/syntax.test.zone"),
        format!("{HEAD}$INCLUDE inc/hosts.inc\n"),
    )
    .unwrap();
    fs::write(
        d.join("zones/inc/hosts.inc"),
        "ok A 192.0.2.2\n\nbad DS 1 2 3 not-hex\n",
    )
    .unwrap();
    // an include loop: a -> b -> a
    fs::write(
        d.join("zones/loop.test.zone"),
        format!("{HEAD}$INCLUDE inc/a.inc\n"),
    )
    .unwrap();
    fs::write(d.join("zones/inc/a.inc"), "$INCLUDE b.inc\n").unwrap();
    fs::write(d.join("zones/inc/b.inc"), "x A 192.0.2.3\n$INCLUDE a.inc\n").unwrap();
    // a file outside the zone folder
    fs::write(
        d.join("zones/out.test.zone"),
        format!("{HEAD}$INCLUDE ../shared/common.inc\n"),
    )
    .unwrap();
    fs::write(d.join("shared/common.inc"), "mx MX 10 ns1\n").unwrap();
    let cfg = config(
        d,
        &[
            ("zones/syntax.test.zone", None),
            ("zones/loop.test.zone", None),
            ("zones/out.test.zone", None),
        ],
    );
    let (status, _out, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("zones/inc/hosts.inc:3: syntax error: DS record data"),
        "{err}"
    );
    assert!(err.contains("zones/inc/b.inc:2: $INCLUDE loop: "), "{err}");
    assert!(err.contains("a.inc -> "), "{err}");
    assert!(
        err.contains("zones/out.test.zone:5: $INCLUDE ")
            && err.contains("is outside the zone folder"),
        "{err}"
    );
    assert!(err.contains("3 error(s)"), "{err}");

    // include_root (relative to the zone file's folder) allows the shared folder
    fs::write(
        d.join("zones/loop.test.zone"),
        format!("{HEAD}$GENERATE 1-3 h$ A 192.0.2.$\n"),
    )
    .unwrap();
    fs::write(d.join("zones/inc/hosts.inc"), "ok A 192.0.2.2\n").unwrap();
    let cfg = config(
        d,
        &[
            ("zones/syntax.test.zone", None),
            ("zones/loop.test.zone", None),
            ("zones/out.test.zone", Some("..")),
        ],
    );
    let (status, out, err) = run_ayadns(None, &["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(status.code(), Some(0), "{out}{err}");
}

#[test]
fn serve_answers_from_escaped_generated_and_dnssec_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("ex.test.zone"),
        format!(
            "{HEAD}My\\032Printer._ipp._tcp SRV 0 0 631 ns1\n\
             $GENERATE 1-3 h$ A 192.0.2.$\n\
             @ DS 60485 13 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A\n\
             d DNAME h1\n\
             mx MX 10 @\n"
        ),
    )
    .unwrap();
    let addr = unique_addr();
    let _server = Ayadns::serve_zones(d, addr);
    let mut q = Q::new(".", RecordType::SRV);
    q.name = ayadns::zone::rdata::parse_name("My\\032Printer._ipp._tcp.ex.test.", None).unwrap();
    let r = udp(addr, &q.message());
    assert_eq!(r.answers.len(), 1, "{r:?}");
    assert_eq!(r.answers[0].name.iter().next().unwrap(), b"My Printer");
    let r = udp(addr, &Q::new("h3.ex.test.", RecordType::A).message());
    assert_eq!(records(&r.answers), vec!["h3.ex.test. 300 IN A 192.0.2.3"]);
    let r = udp(addr, &Q::new("ex.test.", RecordType::DS).message());
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].record_type(), RecordType::DS);
    let r = udp(addr, &Q::new("x.d.ex.test.", RecordType::A).message());
    let types: Vec<_> = r.answers.iter().map(|a| a.record_type()).collect();
    assert_eq!(types, vec![RecordType::DNAME, RecordType::CNAME], "{r:?}");
    let r = udp(addr, &Q::new("mx.ex.test.", RecordType::MX).message());
    assert_eq!(
        records(&r.answers),
        vec!["mx.ex.test. 300 IN MX 10 ex.test."]
    );
}
