//! Reading master files (RFC 1035 §5) as BIND, Knot and NSD read them.
//!
//! This layer is ours: it splits the text into entries (parentheses over several lines,
//! comments, quoted strings, escapes kept as written), follows the directives (`$ORIGIN`,
//! `$TTL`, `$INCLUDE`, `$GENERATE`), resolves owners (`@`, relative names, blank owner = the
//! previous one), TTLs (with units: `1h30m`) and classes, and knows the file and line of every
//! record. The record data of each type is parsed by [`super::rdata`] (NLnet Labs' `domain`
//! parsers). Every problem names `file:line`; the reader goes on after a bad record, so one
//! run reports all of them.
//!
//! `$INCLUDE` paths are relative to the including file; an included file must lie inside the
//! include root (by default the folder of the zone file) and includes nest at most
//! [`MAX_INCLUDE_DEPTH`] deep; a file including itself (directly or not) is an error.

use super::rdata::{Token, parse_name, parse_rdata};
use crate::diag::{Diagnostic, Diagnostics};
use domain::base::iana::Rtype;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// How deep `$INCLUDE`s may nest.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// The most records one `$GENERATE` may make.
pub const MAX_GENERATE: u64 = 65_536;
/// The TTL of records when the file gives none and has no `$TTL` (Knot's default).
pub const DEFAULT_TTL: u32 = 3600;

/// Where a record was read.
#[derive(Debug, Clone)]
pub struct Located {
    /// The record.
    pub record: Record,
    /// The file it is in (the zone file or an included one).
    pub file: Arc<Path>,
    /// Its first line.
    pub line: usize,
}

/// Reader settings.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The folder `$INCLUDE`d files must lie in; None: the zone file's folder.
    pub include_root: Option<PathBuf>,
}

/// One entry of a master file: a record or a directive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based first line.
    pub line: usize,
    /// True when the entry starts with white space (it reuses the previous owner).
    pub starts_blank: bool,
    /// The tokens.
    pub tokens: Vec<Token>,
}

/// Split master-file text into entries. Errors are (line, message).
///
/// The text is bytes, not necessarily UTF-8 (Knot and BIND take 8-bit data as it is). Octets
/// that are not printable ASCII (UTF-8 in a TXT string, a tab inside quotes) are turned into
/// `\DDD` escapes here, so the data parsers see only printable ASCII and keep every octet.
pub fn split(text: &[u8]) -> Result<Vec<Entry>, (usize, String)> {
    let mut entries = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut line = 1usize;
    let mut entry_line = 1usize;
    let mut starts_blank = false;
    let mut at_line_start = true;
    let mut bytes = text.iter().copied().peekable();

    fn flush(tokens: &mut Vec<Token>, cur: &mut String, in_token: &mut bool) {
        if *in_token {
            tokens.push(Token {
                text: std::mem::take(cur),
                quoted: false,
            });
            *in_token = false;
        }
    }
    fn push(cur: &mut String, b: u8) {
        if (0x20..=0x7e).contains(&b) {
            cur.push(char::from(b));
        } else {
            cur.push_str(&format!("\\{b:03}"));
        }
    }
    // `\X`: kept as written when X is printable, else as the `\DDD` of X (the same octet).
    fn push_escape(cur: &mut String, n: u8) {
        if (0x20..=0x7e).contains(&n) {
            cur.push('\\');
            cur.push(char::from(n));
        } else {
            push(cur, n);
        }
    }

    while let Some(c) = bytes.next() {
        if at_line_start && depth == 0 {
            entry_line = line;
            starts_blank = c == b' ' || c == b'\t';
            at_line_start = false;
        }
        match c {
            b'"' => {
                // A quote right after unquoted text continues that token (`key="v w"`).
                let joined = in_token;
                if !joined {
                    cur.clear();
                }
                let start = line;
                let mut closed = false;
                while let Some(q) = bytes.next() {
                    match q {
                        b'\\' => {
                            if let Some(n) = bytes.next() {
                                if n == b'\n' {
                                    line += 1;
                                }
                                push_escape(&mut cur, n);
                            }
                        }
                        b'"' => {
                            closed = true;
                            break;
                        }
                        b'\n' => {
                            line += 1;
                            push(&mut cur, q);
                        }
                        _ => push(&mut cur, q),
                    }
                }
                if !closed {
                    return Err((start, "unclosed quoted string".into()));
                }
                tokens.push(Token {
                    text: std::mem::take(&mut cur),
                    quoted: !joined,
                });
                in_token = false;
            }
            b';' => {
                while let Some(&n) = bytes.peek() {
                    if n == b'\n' {
                        break;
                    }
                    bytes.next();
                }
            }
            b'(' => {
                flush(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
            }
            b')' => {
                flush(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    return Err((line, "closing parenthesis without an opening one".into()));
                }
                depth -= 1;
            }
            b'\\' => {
                in_token = true;
                match bytes.next() {
                    Some(n) => {
                        if n == b'\n' {
                            line += 1;
                        }
                        push_escape(&mut cur, n);
                    }
                    None => cur.push('\\'),
                }
            }
            b' ' | b'\t' | b'\r' => flush(&mut tokens, &mut cur, &mut in_token),
            b'\n' => {
                flush(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    if !tokens.is_empty() {
                        entries.push(Entry {
                            line: entry_line,
                            starts_blank,
                            tokens: std::mem::take(&mut tokens),
                        });
                    }
                    at_line_start = true;
                }
                line += 1;
            }
            _ => {
                push(&mut cur, c);
                in_token = true;
            }
        }
    }
    if depth > 0 {
        return Err((paren_line, "unclosed parenthesis".into()));
    }
    flush(&mut tokens, &mut cur, &mut in_token);
    if !tokens.is_empty() {
        entries.push(Entry {
            line: entry_line,
            starts_blank,
            tokens,
        });
    }
    Ok(entries)
}

/// A TTL: seconds, or a number with units (`1w2d3h4m5s`, any case).
pub fn parse_ttl(s: &str) -> Option<u32> {
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10)? + u64::from(d));
            if num? > u64::from(u32::MAX) {
                return None;
            }
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total += num.take()? * unit;
    }
    if let Some(n) = num {
        total += n;
    }
    u32::try_from(total).ok()
}

fn parse_class(s: &str) -> Option<DNSClass> {
    let u = s.to_ascii_uppercase();
    match u.as_str() {
        "IN" => Some(DNSClass::IN),
        "CH" | "CHAOS" => Some(DNSClass::CH),
        "HS" => Some(DNSClass::HS),
        "CS" => Some(DNSClass::Unknown(2)),
        _ => u
            .strip_prefix("CLASS")
            .and_then(|n| n.parse::<u16>().ok())
            .map(DNSClass::from),
    }
}

fn parse_type(s: &str) -> Option<u16> {
    let t = Rtype::from_str(s).ok()?;
    Some(t.to_int())
}

/// The state carried through one file.
struct FileState {
    origin: Option<Name>,
    ttl: Option<u32>,
    last_owner: Option<Name>,
}

/// The reader: records so far and problems so far, across included files.
struct Reader {
    root: PathBuf,
    records: Vec<Located>,
    errors: Diagnostics,
    /// Canonical paths of the files being read (the include chain).
    stack: Vec<PathBuf>,
}

/// Read the zone file at `path` (with `origin` as its initial origin, if known).
pub fn read_zone_file(
    path: &Path,
    origin: Option<&Name>,
    opts: &ReadOptions,
) -> Result<Vec<Located>, Diagnostics> {
    let text = std::fs::read(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot read zone file: {e}")))?;
    read_zone_bytes(&text, path, origin, opts)
}

/// Read zone `text` as if from `path`.
pub fn read_zone_text(
    text: &str,
    path: &Path,
    origin: Option<&Name>,
    opts: &ReadOptions,
) -> Result<Vec<Located>, Diagnostics> {
    read_zone_bytes(text.as_bytes(), path, origin, opts)
}

/// Read the zone file contents `text` as if from `path`.
pub fn read_zone_bytes(
    text: &[u8],
    path: &Path,
    origin: Option<&Name>,
    opts: &ReadOptions,
) -> Result<Vec<Located>, Diagnostics> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let root = opts.include_root.clone().unwrap_or(dir);
    let root = root.canonicalize().unwrap_or(root);
    let mut reader = Reader {
        root,
        records: Vec::new(),
        errors: Diagnostics::default(),
        stack: vec![path.canonicalize().unwrap_or_else(|_| path.to_path_buf())],
    };
    let mut state = FileState {
        origin: origin.cloned(),
        ttl: None,
        last_owner: None,
    };
    reader.read_text(text, path, &mut state);
    if reader.errors.is_empty() {
        Ok(reader.records)
    } else {
        Err(reader.errors)
    }
}

impl Reader {
    fn read_text(&mut self, text: &[u8], path: &Path, st: &mut FileState) {
        let file: Arc<Path> = Arc::from(path);
        let entries = match split(text) {
            Ok(e) => e,
            Err((line, msg)) => {
                self.errors
                    .push(Diagnostic::at(path, line, format!("syntax error: {msg}")));
                return;
            }
        };
        for e in &entries {
            if let Err(msg) = self.entry(e, &file, st) {
                self.errors.push(Diagnostic::at(path, e.line, msg));
            }
        }
    }

    fn entry(&mut self, e: &Entry, file: &Arc<Path>, st: &mut FileState) -> Result<(), String> {
        let first = &e.tokens[0];
        if !e.starts_blank && !first.quoted && first.text.starts_with('$') {
            return self.directive(e, file, st);
        }
        let (owner, rest) = if e.starts_blank {
            let owner = st
                .last_owner
                .clone()
                .ok_or("syntax error: the first record has no owner name")?;
            (owner, &e.tokens[..])
        } else {
            let owner = parse_name(&first.text, st.origin.as_ref())
                .map_err(|m| format!("syntax error: {m}"))?;
            st.last_owner = Some(owner.clone());
            (owner, &e.tokens[1..])
        };
        let record = self.record(owner, rest, st)?;
        self.records.push(Located {
            record,
            file: file.clone(),
            line: e.line,
        });
        Ok(())
    }

    /// `[TTL] [CLASS] TYPE RDATA` or `[CLASS] [TTL] TYPE RDATA` after the owner.
    fn record(&self, owner: Name, rest: &[Token], st: &FileState) -> Result<Record, String> {
        let mut ttl = None;
        let mut class = None;
        let mut i = 0;
        let rtype = loop {
            let Some(t) = rest.get(i) else {
                return Err("syntax error: no record type".into());
            };
            i += 1;
            if t.quoted {
                return Err(format!(
                    "syntax error: expected a record type, not \"{}\"",
                    t.text
                ));
            }
            if ttl.is_none()
                && let Some(v) = parse_ttl(&t.text)
            {
                ttl = Some(v);
                continue;
            }
            if class.is_none()
                && let Some(c) = parse_class(&t.text)
            {
                class = Some(c);
                continue;
            }
            match parse_type(&t.text) {
                Some(code) => break code,
                None => {
                    return Err(format!(
                        "syntax error: `{}` is not a record type, TTL or class",
                        t.text
                    ));
                }
            }
        };
        let mut rdata_tokens = &rest[i..];
        // SOA timers may carry units too (`1h`): turn them into seconds for the data parser.
        let converted: Vec<Token>;
        if rtype == u16::from(RecordType::SOA) && rdata_tokens.len() == 7 {
            converted = rdata_tokens
                .iter()
                .enumerate()
                .map(|(k, t)| match (k >= 3, parse_ttl(&t.text)) {
                    (true, Some(v)) if !t.quoted => Token {
                        text: v.to_string(),
                        quoted: false,
                    },
                    _ => t.clone(),
                })
                .collect();
            rdata_tokens = &converted;
        }
        let rtype_h = RecordType::from(rtype);
        let data = parse_rdata(rtype, rdata_tokens, st.origin.as_ref())
            .map_err(|m| format!("syntax error: {rtype_h} record data: {m}"))?;
        let mut r = Record::from_rdata(owner, ttl.or(st.ttl).unwrap_or(DEFAULT_TTL), data);
        r.dns_class = class.unwrap_or(DNSClass::IN);
        Ok(r)
    }

    fn directive(&mut self, e: &Entry, file: &Arc<Path>, st: &mut FileState) -> Result<(), String> {
        let name = e.tokens[0].text.to_ascii_uppercase();
        let args = &e.tokens[1..];
        match name.as_str() {
            "$ORIGIN" => {
                let [o] = args else {
                    return Err("syntax error: $ORIGIN takes one name".into());
                };
                let origin = parse_name(&o.text, st.origin.as_ref())
                    .map_err(|m| format!("syntax error: $ORIGIN: {m}"))?;
                st.origin = Some(origin);
                Ok(())
            }
            "$TTL" => {
                let [t] = args else {
                    return Err("syntax error: $TTL takes one TTL".into());
                };
                let v = parse_ttl(&t.text)
                    .ok_or_else(|| format!("syntax error: $TTL: `{}` is not a TTL", t.text))?;
                st.ttl = Some(v);
                Ok(())
            }
            "$INCLUDE" => self.include(args, file, st),
            "$GENERATE" => self.generate(e, args, file, st),
            _ => Err(format!(
                "syntax error: unknown directive {}",
                e.tokens[0].text
            )),
        }
    }

    fn include(
        &mut self,
        args: &[Token],
        file: &Arc<Path>,
        st: &mut FileState,
    ) -> Result<(), String> {
        let (target, origin) = match args {
            [p] => (p, None),
            [p, o] => (p, Some(o)),
            _ => {
                return Err(
                    "syntax error: $INCLUDE takes a file name and an optional origin".into(),
                );
            }
        };
        let origin = match origin {
            Some(o) => Some(
                parse_name(&o.text, st.origin.as_ref())
                    .map_err(|m| format!("syntax error: $INCLUDE origin: {m}"))?,
            ),
            None => st.origin.clone(),
        };
        let rel = PathBuf::from(&target.text);
        let path = if rel.is_absolute() {
            rel
        } else {
            file.parent().unwrap_or(Path::new(".")).join(rel)
        };
        let canon = path
            .canonicalize()
            .map_err(|e| format!("$INCLUDE {}: cannot read: {e}", path.display()))?;
        if !canon.starts_with(&self.root) {
            return Err(format!(
                "$INCLUDE {}: the file is outside the zone folder {} (set include_root in the \
                 [[zone]] table to allow it)",
                path.display(),
                self.root.display()
            ));
        }
        if let Some(i) = self.stack.iter().position(|p| *p == canon) {
            let chain: Vec<String> = self.stack[i..]
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| p.display().to_string())
                .collect();
            return Err(format!("$INCLUDE loop: {}", chain.join(" -> ")));
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "$INCLUDE {}: includes nest more than {MAX_INCLUDE_DEPTH} deep",
                path.display()
            ));
        }
        let text = std::fs::read(&canon)
            .map_err(|e| format!("$INCLUDE {}: cannot read: {e}", path.display()))?;
        // The included file starts with the given (or current) origin; nothing it changes
        // carries back to the including file (RFC 1035 §5.1).
        let mut inner = FileState {
            origin,
            ttl: st.ttl,
            last_owner: st.last_owner.clone(),
        };
        self.stack.push(canon);
        self.read_text(&text, &path, &mut inner);
        self.stack.pop();
        Ok(())
    }

    /// `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs…` (BIND's syntax, as Knot reads
    /// it): `$` is the iterator, `${offset,width,base}` formats it, `\$` is a dollar sign.
    fn generate(
        &mut self,
        e: &Entry,
        args: &[Token],
        file: &Arc<Path>,
        st: &mut FileState,
    ) -> Result<(), String> {
        if args.len() < 3 {
            return Err("syntax error: $GENERATE takes a range, an owner, a type and data".into());
        }
        let (start, stop, step) = parse_range(&args[0].text)
            .ok_or_else(|| format!("syntax error: $GENERATE range `{}`", args[0].text))?;
        if (stop - start) / step >= MAX_GENERATE {
            return Err(format!("$GENERATE makes more than {MAX_GENERATE} records"));
        }
        let mut i = start;
        while i <= stop {
            let mut tokens = Vec::with_capacity(args.len() - 1);
            for t in &args[1..] {
                tokens.push(Token {
                    text: substitute(&t.text, i)?,
                    quoted: t.quoted,
                });
            }
            let owner = parse_name(&tokens[0].text, st.origin.as_ref())
                .map_err(|m| format!("syntax error: $GENERATE owner: {m}"))?;
            let record = self.record(owner, &tokens[1..], st)?;
            self.records.push(Located {
                record,
                file: file.clone(),
                line: e.line,
            });
            i += step;
        }
        Ok(())
    }
}

fn parse_range(s: &str) -> Option<(u64, u64, u64)> {
    let (range, step) = match s.split_once('/') {
        Some((r, st)) => (r, st.parse::<u64>().ok()?),
        None => (s, 1),
    };
    let (a, b) = range.split_once('-')?;
    let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
    (a <= b && step > 0 && b <= u64::from(u32::MAX)).then_some((a, b, step))
}

/// Replace `$` and `${offset[,width[,base]]}` in a `$GENERATE` template with `i`.
fn substitute(tpl: &str, i: u64) -> Result<String, String> {
    let mut out = String::with_capacity(tpl.len() + 8);
    let mut chars = tpl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // `\$` is a literal dollar; other escapes stay for the name/data parser.
                match chars.next() {
                    Some('$') => out.push('$'),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let mut parts = spec.split(',');
                let offset: i64 = parts
                    .next()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.trim().parse())
                    .transpose()
                    .map_err(|_| format!("$GENERATE: bad modifier `${{{spec}}}`"))?
                    .unwrap_or(0);
                let width: usize = parts
                    .next()
                    .map(|p| p.trim().parse())
                    .transpose()
                    .map_err(|_| format!("$GENERATE: bad width in `${{{spec}}}`"))?
                    .unwrap_or(0);
                let base = parts.next().unwrap_or("d").trim();
                if width > 63 {
                    return Err(format!("$GENERATE: width in `${{{spec}}}` above 63"));
                }
                let v = (i as i64).checked_add(offset).unwrap_or(-1);
                if v < 0 {
                    return Err(format!("$GENERATE: `${{{spec}}}` gives a negative number"));
                }
                let v = v as u64;
                let s = match base {
                    "d" => format!("{v:0width$}"),
                    "o" => format!("{v:0width$o}"),
                    "x" => format!("{v:0width$x}"),
                    "X" => format!("{v:0width$X}"),
                    _ => return Err(format!("$GENERATE: base `{base}` (d, o, x or X)")),
                };
                out.push_str(&s);
            }
            '$' => out.push_str(&i.to_string()),
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Located>, Diagnostics> {
        let o = Name::from_ascii("ex.test.").unwrap();
        read_zone_text(
            text,
            Path::new("t/ex.test.zone"),
            Some(&o),
            &ReadOptions::default(),
        )
    }

    #[test]
    fn entries_follow_parentheses_quotes_and_comments() {
        let text = "$ORIGIN ex.\n@ SOA ns ( host ; c\n 1 2 3 4 5 )\n\nwww A 1.2.3.4 ; c\n  TXT \"a ; (\" b\nsvc HTTPS 1 . alpn=\"h2,h3\" port=8443\n";
        let e = split(text.as_bytes()).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(e[1].line, 2);
        assert_eq!(e[1].tokens.len(), 9);
        assert_eq!(e[2].line, 5);
        let t: Vec<_> = e[3].tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(t, vec!["TXT", "a ; (", "b"]);
        assert!(e[3].tokens[1].quoted && e[3].starts_blank);
        assert_eq!(e[4].tokens[4].text, "alpn=h2,h3");
        assert_eq!(split(b"a A 1\nb TXT \"open\n").unwrap_err().0, 2);
        assert_eq!(split(b"a A 1\n\nb SOA ( 1 2\n").unwrap_err().0, 3);
        assert_eq!(split(b"a A 1 )\n").unwrap_err().0, 1);
    }

    #[test]
    fn eight_bit_data_is_kept_as_octets() {
        let e = split("t TXT \"caf\u{e9}\ttab\" \\\u{e9}\n".as_bytes()).unwrap();
        assert_eq!(e[0].tokens[2].text, "caf\\195\\169\\009tab");
        assert_eq!(e[0].tokens[3].text, "\\195\\169");
        let r = read_zone_bytes(
            b"t TXT \"\xff\"\n",
            Path::new("t/ex.test.zone"),
            Some(&Name::from_ascii("ex.test.").unwrap()),
            &ReadOptions::default(),
        )
        .unwrap();
        let hickory_proto::rr::RData::TXT(t) = &r[0].record.data else {
            panic!()
        };
        assert_eq!(&*t.txt_data[0], &[0xff]);
    }

    #[test]
    fn odd_input_gives_errors_not_panics() {
        let types = [
            "A",
            "AAAA",
            "NS",
            "MX",
            "SOA",
            "TXT",
            "SRV",
            "DS",
            "DNSKEY",
            "RRSIG",
            "NSEC",
            "NSEC3",
            "NSEC3PARAM",
            "TLSA",
            "SSHFP",
            "SVCB",
            "HTTPS",
            "CAA",
            "NAPTR",
            "LOC",
            "CERT",
            "CSYNC",
            "URI",
            "EUI48",
            "EUI64",
            "L32",
            "L64",
            "NID",
            "DNAME",
            "TYPE999",
            "SPF",
            "HINFO",
            "APL",
            "ZONEMD",
            "IPSECKEY",
            "OPENPGPKEY",
        ];
        let data = [
            "",
            "\\#",
            "\\# 70000 00",
            "\\# 1 zz",
            "99999999999999999999 N 1 E 0",
            "90 0 60 N 180 E 99999999999999m 9e99 nan inf",
            "1 2 3 4 5 6 7 8 9 10 11 12",
            "@ @ @",
            "\"unterminated",
            "a..b",
            "\\999",
            "1 . key65535=\"\" alpn=,, port=x",
            "-1 -1 -1",
            "1 1 1 -",
        ];
        for t in types {
            for d in data {
                let _ = read(&format!("x {t} {d}\n"));
            }
        }
        for g in [
            "$GENERATE 1-2 ${99999999999999999999} A 1.2.3.4",
            "$GENERATE 1-2 ${-9223372036854775808} A 1.2.3.4",
            "$GENERATE 1-2 ${0,999999999} A 1.2.3.4",
            "$GENERATE 1-2 ${0,3,q} A 1.2.3.4",
            "$GENERATE 0-4294967295 x A 1.2.3.4",
            "$GENERATE x",
            "$INCLUDE",
            "$INCLUDE /nonexistent/file",
            "$ORIGIN",
            "$TTL 1y",
        ] {
            assert!(read(&format!("{g}\n")).is_err(), "{g}");
        }
    }

    #[test]
    fn ttls_with_units() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("1W"), Some(604_800));
        assert_eq!(parse_ttl("2d1"), Some(172_801));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("1x"), None);
        assert_eq!(parse_ttl("99999999999"), None);
    }

    #[test]
    fn generate_expands_with_modifiers() {
        let recs =
            read("$GENERATE 1-3 host-$ A 192.0.2.$\n$GENERATE 0-4/2 ${10,3,x}.r PTR h${1}\n")
                .unwrap();
        assert_eq!(recs.len(), 6);
        assert_eq!(recs[2].record.name.to_string(), "host-3.ex.test.");
        assert_eq!(recs[4].record.name.to_string(), "00c.r.ex.test.");
        assert!(recs[4].record.data.to_string().starts_with("h3.ex.test."));
        assert!(read("$GENERATE 1-100000000 h$ A 192.0.2.1\n").is_err());
        assert!(read("$GENERATE 5-1 h$ A 192.0.2.1\n").is_err());
    }

    #[test]
    fn errors_name_lines_and_reading_goes_on() {
        let e = read("a A 192.0.2.1\nb A 999.0.0.1\nc FOO x\n  A 192.0.2.3\nd DS 1 2 3 zz\n")
            .unwrap_err();
        let lines: Vec<_> = e.0.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(2), Some(3), Some(5)], "{e}");
    }

    #[test]
    fn owners_ttl_class_orders() {
        let r = read("$TTL 1h\na IN 60 A 192.0.2.1\n 120 IN AAAA ::1\nb A 192.0.2.2\n").unwrap();
        let got: Vec<_> = r
            .iter()
            .map(|l| (l.record.name.to_string(), l.record.ttl))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.ex.test.".to_string(), 60),
                ("a.ex.test.".to_string(), 120),
                ("b.ex.test.".to_string(), 3600)
            ]
        );
    }

    #[test]
    fn includes_nest_and_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("inc")).unwrap();
        std::fs::write(d.join("inc/a.inc"), "x A 192.0.2.1\n$INCLUDE b.inc sub\n").unwrap();
        std::fs::write(d.join("inc/b.inc"), "y A 192.0.2.2\n").unwrap();
        std::fs::write(d.join("z.zone"), "$INCLUDE inc/a.inc\nw A 192.0.2.3\n").unwrap();
        let o = Name::from_ascii("ex.test.").unwrap();
        let opts = ReadOptions::default();
        let r = read_zone_file(&d.join("z.zone"), Some(&o), &opts).unwrap();
        let names: Vec<_> = r.iter().map(|l| l.record.name.to_string()).collect();
        assert_eq!(names, vec!["x.ex.test.", "y.sub.ex.test.", "w.ex.test."]);
        assert!(r[1].file.ends_with("inc/b.inc") && r[1].line == 1);

        std::fs::write(d.join("inc/b.inc"), "$INCLUDE a.inc\n").unwrap();
        let e = read_zone_file(&d.join("z.zone"), Some(&o), &opts).unwrap_err();
        assert!(e.to_string().contains("$INCLUDE loop"), "{e}");

        let sub = d.join("zones");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("z.zone"), "$INCLUDE ../inc/b.inc\n").unwrap();
        std::fs::write(d.join("inc/b.inc"), "y A 192.0.2.2\n").unwrap();
        let e = read_zone_file(&sub.join("z.zone"), Some(&o), &opts).unwrap_err();
        assert!(e.to_string().contains("outside the zone folder"), "{e}");
        let opts = ReadOptions {
            include_root: Some(d.to_path_buf()),
        };
        assert!(read_zone_file(&sub.join("z.zone"), Some(&o), &opts).is_ok());
    }
}
