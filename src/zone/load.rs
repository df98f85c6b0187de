//! Loading a zone file: read it ([`super::reader`]), then check the rules a zone must obey.
//!
//! Syntax errors and rule violations are reported as [`Diagnostic`]s naming `file:line` (the
//! included file's, for records read through `$INCLUDE`). All problems of a zone are reported
//! together. The checks are the ones an authoritative server must refuse to serve without:
//! exactly one SOA, at the apex; NS records at the apex; every record at or below the apex;
//! no CNAME beside other data (RFC 1034 §3.6.2); at most one DNAME per name and none beside a
//! CNAME (RFC 6672 §2.4); class IN only.

use super::Zone;
use super::reader::{self, Located, ReadOptions};
use crate::diag::{Diagnostic, Diagnostics};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use std::collections::HashMap;
use std::path::Path;

/// The origin implied by a file name: `example.com.zone` → `example.com.`.
pub fn origin_from_file_name(path: &Path) -> Option<Name> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".zone")?;
    let mut name = Name::from_ascii(stem).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Load and check one zone file. `origin` is the configured origin, if any; otherwise the
/// origin comes from `$ORIGIN`/the SOA owner, else from the file name (`NAME.zone`).
pub fn load_zone_file(path: &Path, origin: Option<&Name>) -> Result<Zone, Diagnostics> {
    load_zone_file_with(path, origin, &ReadOptions::default())
}

/// [`load_zone_file`] with reader settings (where `$INCLUDE`d files may come from).
pub fn load_zone_file_with(
    path: &Path,
    origin: Option<&Name>,
    opts: &ReadOptions,
) -> Result<Zone, Diagnostics> {
    let text = std::fs::read(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot read zone file: {e}")))?;
    load_zone_bytes(&text, path, origin, opts)
}

/// Load and check zone text (as if read from `path`).
pub fn load_zone_text(text: &str, path: &Path, origin: Option<&Name>) -> Result<Zone, Diagnostics> {
    load_zone_bytes(text.as_bytes(), path, origin, &ReadOptions::default())
}

fn load_zone_bytes(
    text: &[u8],
    path: &Path,
    origin: Option<&Name>,
    opts: &ReadOptions,
) -> Result<Zone, Diagnostics> {
    let default_origin = origin.cloned().or_else(|| origin_from_file_name(path));
    let located = reader::read_zone_bytes(text, path, default_origin.as_ref(), opts)?;
    let at = |l: &Located, msg: String| Diagnostic::at(&l.file, l.line, msg);
    let mut errors = Diagnostics::default();

    // The apex is the SOA owner; there must be exactly one SOA.
    let soas: Vec<&Located> = located
        .iter()
        .filter(|l| l.record.record_type() == RecordType::SOA)
        .collect();
    let (apex, soa_at) = match soas.as_slice() {
        [] => {
            errors.push(Diagnostic::file(
                path,
                "no SOA record: a zone needs one at its apex",
            ));
            return Err(errors);
        }
        [soa, rest @ ..] => {
            for extra in rest {
                let msg = format!(
                    "second SOA record (at {}): a zone has exactly one",
                    extra.record.name
                );
                errors.push(at(extra, msg));
            }
            (soa.record.name.clone(), *soa)
        }
    };
    if let Some(o) = origin
        && *o != apex
    {
        let msg = format!("the SOA is at {apex} but the zone is configured as {o}");
        errors.push(at(soa_at, msg));
    }

    let mut types_at: HashMap<&Name, (Vec<RecordType>, &Located)> = HashMap::new();
    for l in &located {
        let r = &l.record;
        let rtype = r.record_type();
        if !apex.zone_of(&r.name) {
            let msg = format!("{} is outside the zone {apex}", r.name);
            errors.push(at(l, msg));
            continue;
        }
        if r.dns_class != DNSClass::IN {
            let msg = format!(
                "{} {rtype}: class {} is not served (IN only)",
                r.name, r.dns_class
            );
            errors.push(at(l, msg));
        }
        let e = types_at.entry(&r.name).or_insert_with(|| (Vec::new(), l));
        if rtype == RecordType::DNAME
            && e.0.contains(&RecordType::DNAME)
            && e.1.record.data != r.data
        {
            let msg = format!("{} has a second DNAME (RFC 6672 section 2.4)", r.name);
            errors.push(at(l, msg));
        }
        if rtype == RecordType::CNAME
            && e.0.contains(&RecordType::CNAME)
            && e.1.record.data != r.data
        {
            let msg = format!("{} has a second CNAME (RFC 2181 section 10.1)", r.name);
            errors.push(at(l, msg));
        }
        if matches!(rtype, RecordType::CNAME | RecordType::DNAME) {
            e.1 = l;
        }
        e.0.push(rtype);
    }
    // Nothing may live below a DNAME (RFC 6672 §2.3; Knot refuses such a zone too).
    let dnames: Vec<&Name> = types_at
        .iter()
        .filter(|(_, (t, _))| t.contains(&RecordType::DNAME))
        .map(|(n, _)| *n)
        .collect();
    if !dnames.is_empty() {
        for l in &located {
            let name = &l.record.name;
            if let Some(d) = dnames.iter().find(|d| **d != name && d.zone_of(name)) {
                let msg = format!("{name} is below the DNAME at {d} (RFC 6672 section 2.3)");
                errors.push(at(l, msg));
            }
        }
    }
    for (name, (types, l)) in &types_at {
        if types.contains(&RecordType::CNAME) && types.iter().any(|t| *t != RecordType::CNAME) {
            let msg = format!("{name} has a CNAME and other data (RFC 1034 section 3.6.2)");
            errors.push(at(l, msg));
        }
    }
    if !types_at
        .get(&apex)
        .is_some_and(|(t, _)| t.contains(&RecordType::NS))
    {
        errors.push(at(soa_at, format!("no NS records at the apex {apex}")));
    }
    if !errors.is_empty() {
        errors
            .0
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        return Err(errors);
    }
    let records: Vec<Record> = located.into_iter().map(|l| l.record).collect();
    Zone::from_records(apex, path.to_path_buf(), records)
        .ok_or_else(|| Diagnostic::file(path, "no SOA record at the apex").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Zone, Diagnostics> {
        load_zone_text(text, Path::new("t/example.test.zone"), None)
    }

    const GOOD: &str = "$TTL 300\n@ SOA ns1 admin 1 3600 600 86400 60\n  NS ns1\nns1 A 192.0.2.1\na.b.c A 192.0.2.2\n";

    #[test]
    fn origin_comes_from_the_file_name_when_the_file_has_none() {
        let z = load(GOOD).unwrap();
        assert_eq!(z.origin, Name::from_ascii("example.test.").unwrap());
        assert_eq!(z.record_count, 4);
        // empty non-terminals exist
        assert!(
            z.node(&Name::from_ascii("b.c.example.test.").unwrap())
                .is_some()
        );
        assert!(
            z.node(&Name::from_ascii("c.example.test.").unwrap())
                .is_some()
        );
        assert_eq!(z.negative_soa.ttl, 60);
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let text = format!("{GOOD}ok A 192.0.2.3\nbad A 999.1.2.3\nlater A 192.0.2.4\n");
        let e = load(&text).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].line, Some(7), "{e}");
        let e = load(&format!("{GOOD}x TXT \"unclosed\n")).unwrap_err();
        assert_eq!(e.0[0].line, Some(6), "{e}");
    }

    #[test]
    fn rule_violations_are_all_reported_with_lines() {
        let text =
            format!("{GOOD}www CNAME a.b.c\nwww A 192.0.2.9\nfar.example.org. A 192.0.2.1\n");
        let e = load(&text).unwrap_err();
        let s = e.to_string();
        assert_eq!(e.0.len(), 2, "{s}");
        assert!(
            s.contains("t/example.test.zone:8: far.example.org. is outside"),
            "{s}"
        );
        assert!(
            s.contains("t/example.test.zone:6: www.example.test. has a CNAME"),
            "{s}"
        );
    }

    #[test]
    fn dname_rules_and_new_syntax() {
        let text = format!("{GOOD}d DNAME t.example.test.\nx.d A 192.0.2.1\nd DNAME u.\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(
            e.contains(":7: x.d.example.test. is below the DNAME"),
            "{e}"
        );
        assert!(e.contains(":8: d.example.test. has a second DNAME"), "{e}");
        let text = format!(
            "{GOOD}a\\.b MX 10 @\nds DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n\
             $GENERATE 1-3 g$ CNAME a\\.b\n"
        );
        let z = load(&text).unwrap();
        assert_eq!(z.record_count, 9);
        assert!(
            load(&format!("{GOOD}x CNAME a\nx CNAME a\n")).is_ok(),
            "duplicates merge"
        );
        let e = load(&format!("{GOOD}x CNAME a\nx CNAME b\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":7: x.example.test. has a second CNAME"), "{e}");
    }

    #[test]
    fn a_zone_without_soa_or_ns_is_refused() {
        assert!(
            load("www 60 A 192.0.2.1\n")
                .unwrap_err()
                .to_string()
                .contains("no SOA")
        );
        let e = load("$TTL 60\n@ SOA ns1 admin 1 2 3 4 5\n").unwrap_err();
        assert!(
            e.to_string().contains(":2: no NS records at the apex"),
            "{e}"
        );
    }
}
