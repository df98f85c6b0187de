//! Loading a zone file: parse with hickory-proto, then check the rules a zone must obey.
//!
//! Parse errors and rule violations are reported as [`Diagnostic`]s naming `file:line`
//! (see [`super::entries`] for how lines are found). All rule violations of a file are reported
//! together. The checks are the ones an authoritative server must refuse to serve without:
//! exactly one SOA, at the apex; NS records at the apex; every record at or below the apex;
//! no CNAME beside other data (RFC 1034 §3.6.2); class IN only; no DNAME (not implemented, so
//! refused rather than answered wrongly).

use super::Zone;
use super::entries::{self, LineIndex};
use crate::diag::{Diagnostic, Diagnostics};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use std::collections::HashMap;
use std::path::Path;

/// The origin implied by a file name: `example.com.zone` → `example.com.`.
pub fn origin_from_file_name(path: &Path) -> Option<Name> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".zone")?;
    let mut name = Name::from_ascii(stem).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Parse `text` with hickory's master-file parser.
fn parse(text: &str, path: &Path, origin: Option<&Name>) -> Result<Vec<Record>, String> {
    let parser = Parser::new(text, Some(path.to_path_buf()), origin.cloned());
    let (_, sets) = parser.parse().map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for set in sets.into_values() {
        records.extend(set.records_without_rrsigs().cloned());
    }
    Ok(records)
}

/// Find the line of the first entry whose inclusion makes the parse fail (the parser's errors
/// carry no position). Parsing a prefix is monotone: once the bad entry is in, it fails.
fn locate_parse_error(
    text: &str,
    path: &Path,
    origin: Option<&Name>,
    entries: &[entries::Entry],
) -> Option<usize> {
    let fails = |k: usize| parse(&text[..entries[k].end_offset], path, origin).is_err();
    if entries.is_empty() || !fails(entries.len() - 1) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, entries.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(mid) { hi = mid } else { lo = mid + 1 }
    }
    Some(entries[lo].line)
}

/// Load and check one zone file. `origin` is the configured origin, if any; otherwise the
/// origin comes from `$ORIGIN`/the SOA owner, else from the file name (`NAME.zone`).
pub fn load_zone_file(path: &Path, origin: Option<&Name>) -> Result<Zone, Diagnostics> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot read zone file: {e}")))?;
    load_zone_text(&text, path, origin)
}

/// Load and check zone text (as if read from `path`).
pub fn load_zone_text(text: &str, path: &Path, origin: Option<&Name>) -> Result<Zone, Diagnostics> {
    let entries = entries::split(text).map_err(|(line, msg)| Diagnostic::at(path, line, msg))?;
    let default_origin = origin.cloned().or_else(|| origin_from_file_name(path));
    let records = match parse(text, path, default_origin.as_ref()) {
        Ok(r) => r,
        Err(msg) => {
            let line = locate_parse_error(text, path, default_origin.as_ref(), &entries);
            let d = match line {
                Some(line) => Diagnostic::at(path, line, format!("syntax error: {msg}")),
                None => Diagnostic::file(path, format!("syntax error: {msg}")),
            };
            return Err(d.into());
        }
    };
    let index = LineIndex::new(&entries, default_origin.as_ref());
    let at = |name: &Name, rtype: Option<RecordType>, msg: String| match index.line_of(name, rtype)
    {
        Some(line) => Diagnostic::at(path, line, msg),
        None => Diagnostic::file(path, msg),
    };
    let mut errors = Diagnostics::default();

    // The apex is the SOA owner; there must be exactly one SOA.
    let soas: Vec<&Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .collect();
    let apex = match soas.as_slice() {
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
                    extra.name
                );
                errors.push(at(&extra.name, Some(RecordType::SOA), msg));
            }
            soa.name.clone()
        }
    };
    if let Some(o) = origin
        && *o != apex
    {
        let msg = format!("the SOA is at {apex} but the zone is configured as {o}");
        errors.push(at(&apex, Some(RecordType::SOA), msg));
    }

    let mut types_at: HashMap<&Name, Vec<RecordType>> = HashMap::new();
    for r in &records {
        let rtype = r.record_type();
        if !apex.zone_of(&r.name) {
            let msg = format!("{} is outside the zone {apex}", r.name);
            errors.push(at(&r.name, Some(rtype), msg));
            continue;
        }
        if r.dns_class != DNSClass::IN {
            let msg = format!(
                "{} {rtype}: class {} is not served (IN only)",
                r.name, r.dns_class
            );
            errors.push(at(&r.name, Some(rtype), msg));
        }
        if rtype == RecordType::DNAME {
            let msg = format!("{} DNAME: DNAME records are not supported", r.name);
            errors.push(at(&r.name, Some(rtype), msg));
        }
        types_at.entry(&r.name).or_default().push(rtype);
    }
    for (name, types) in &types_at {
        if types.contains(&RecordType::CNAME) && types.iter().any(|t| *t != RecordType::CNAME) {
            let msg = format!("{name} has a CNAME and other data (RFC 1034 section 3.6.2)");
            errors.push(at(name, Some(RecordType::CNAME), msg));
        }
    }
    if !types_at
        .get(&apex)
        .is_some_and(|t| t.contains(&RecordType::NS))
    {
        errors.push(at(
            &apex,
            Some(RecordType::SOA),
            format!("no NS records at the apex {apex}"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let records = records
        .into_iter()
        .filter(|r| apex.zone_of(&r.name))
        .collect();
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
