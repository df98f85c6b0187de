//! Record data from presentation format: NLnet Labs' `domain` parsers behind our tokenizer.
//!
//! The reader ([`super::reader`]) splits a zone file into entries and tokens, resolves owners,
//! TTLs, classes and directives itself (so it knows every file and line), and hands the RDATA
//! tokens of one record to [`parse_rdata`]. That implements `domain`'s [`Scanner`] over those
//! tokens, so the per-type syntax (DS digests, DNSKEY base64, NSEC bitmaps, NSEC3 base32hex,
//! RRSIG times, SVCB parameters, CAA, NAPTR, RFC 3597 `\# len hex`, …) is the one `domain`
//! implements, and converts the result to hickory's wire types through the wire format.
//! Relative names and `@` in RDATA are resolved against the current origin here.

use domain::base::charstr::{CharStr, CharStrBuilder};
use domain::base::iana::Rtype;
use domain::base::name::Name as DName;
use domain::base::rdata::ComposeRecordData;
use domain::base::scan::{ConvertSymbols, EntrySymbol, Scanner, ScannerError, Symbol, Symbols};
use domain::dep::octseq::builder::{EmptyBuilder, OctetsBuilder};
use domain::dep::octseq::str::Str;
use domain::rdata::ZoneRecordData;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, Restrict};
use std::fmt;

/// One token of an entry: its text with escapes as written, and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text, quotes removed, backslash escapes kept as written.
    pub text: String,
    /// True for a `"quoted"` token.
    pub quoted: bool,
}

/// A problem in record data.
#[derive(Debug, Clone)]
pub struct RdataError(pub String);

impl fmt::Display for RdataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RdataError {}

impl ScannerError for RdataError {
    fn custom(msg: &'static str) -> Self {
        RdataError(msg.to_string())
    }
    fn end_of_entry() -> Self {
        RdataError("record data ends too early".into())
    }
    fn short_buf() -> Self {
        RdataError("record data too long".into())
    }
    fn trailing_tokens() -> Self {
        RdataError("unexpected data after the record data".into())
    }
}

impl From<domain::dep::octseq::builder::ShortBuf> for RdataError {
    fn from(_: domain::dep::octseq::builder::ShortBuf) -> Self {
        RdataError::short_buf()
    }
}

/// Split a name as written into labels (raw octets), decoding `\X` and `\DDD`. Returns the
/// labels and whether the name is absolute (ends with an unescaped dot).
pub fn name_labels(text: &str) -> Result<(Vec<Vec<u8>>, bool), String> {
    if text == "." {
        return Ok((Vec::new(), true));
    }
    let bytes = text.as_bytes();
    let mut labels = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut absolute = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                let (octet, used) = unescape(&bytes[i..])?;
                cur.push(octet);
                i += used;
                continue;
            }
            b'@' => return Err(format!("`@` inside the name `{text}` (escape it as \\@)")),
            b'.' => {
                if cur.is_empty() {
                    return Err(format!("empty label in `{text}`"));
                }
                labels.push(std::mem::take(&mut cur));
                if i + 1 == bytes.len() {
                    absolute = true;
                }
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    if !cur.is_empty() {
        labels.push(cur);
    }
    if let Some(l) = labels.iter().find(|l| l.len() > 63) {
        return Err(format!(
            "label of {} octets in `{text}` (at most 63)",
            l.len()
        ));
    }
    Ok((labels, absolute))
}

/// Decode one escape at the start of `b` (which starts with a backslash): (octet, bytes used).
fn unescape(b: &[u8]) -> Result<(u8, usize), String> {
    match b.get(1) {
        Some(d) if d.is_ascii_digit() => {
            let digits = b.get(1..4).filter(|d| d.iter().all(u8::is_ascii_digit));
            let Some(digits) = digits else {
                return Err("a decimal escape needs three digits (\\DDD)".into());
            };
            let v = digits
                .iter()
                .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            if v > 255 {
                return Err(format!("decimal escape \\{v} is above 255"));
            }
            Ok((v as u8, 4))
        }
        Some(&c) => Ok((c, 2)),
        None => Err("a backslash ends the name".into()),
    }
}

/// Parse a name as written: `@` is the origin, names without a final dot are relative to it.
pub fn parse_name(text: &str, origin: Option<&Name>) -> Result<Name, String> {
    if text == "@" {
        return origin
            .cloned()
            .ok_or_else(|| "`@` used but no origin is known".to_string());
    }
    let (labels, absolute) = name_labels(text)?;
    let mut name = Name::from_labels(labels).map_err(|e| format!("bad name `{text}`: {e}"))?;
    if absolute {
        name.set_fqdn(true);
        return Ok(name);
    }
    let Some(origin) = origin else {
        return Err(format!(
            "relative name `{text}` but no origin is known (add $ORIGIN)"
        ));
    };
    name = name
        .append_domain(origin)
        .map_err(|e| format!("bad name `{text}`: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// Parse the RDATA `tokens` of a record of type `rtype` (the numeric code) into hickory's
/// representation. Types hickory decodes get their typed form; the rest (DS, DNSKEY, RRSIG,
/// NSEC, NSEC3, DNAME, …) are kept as opaque wire data, which is how they are served.
pub fn parse_rdata(rtype: u16, tokens: &[Token], origin: Option<&Name>) -> Result<RData, String> {
    let mut scanner = TokenScanner {
        tokens,
        pos: 0,
        origin,
    };
    let data =
        ZoneRecordData::<Vec<u8>, DName<Vec<u8>>>::scan(Rtype::from_int(rtype), &mut scanner)
            .map_err(|e| e.0)?;
    if scanner.pos < tokens.len() {
        return Err(format!(
            "unexpected data after the record data: `{}`",
            tokens[scanner.pos].text
        ));
    }
    let mut wire: Vec<u8> = Vec::new();
    data.compose_rdata(&mut wire)
        .map_err(|_| "record data too long".to_string())?;
    from_wire(RecordType::from(rtype), &wire)
}

/// Hickory's form of the RDATA `wire` of type `rtype`.
pub fn from_wire(rtype: RecordType, wire: &[u8]) -> Result<RData, String> {
    if wire.len() > usize::from(u16::MAX) {
        return Err("record data longer than 65535 octets".into());
    }
    if wire.is_empty() {
        return Ok(RData::Update0(rtype));
    }
    let mut d = BinDecoder::new(wire);
    match RData::read(&mut d, rtype, Restrict::new(wire.len() as u16)) {
        Ok(r) if d.is_empty() => Ok(r),
        // Hickory may reject data other servers serve (it is stricter for a few types):
        // serve it as the bytes it is.
        _ => Ok(RData::Unknown {
            code: rtype,
            rdata: NULL::with(wire.to_vec()),
        }),
    }
}

/// The target of a DNAME whose RDATA is `rdata` (kept as wire data, see [`from_wire`]).
pub fn dname_target(rdata: &RData) -> Option<Name> {
    let RData::Unknown { rdata, .. } = rdata else {
        return None;
    };
    let bytes = &rdata.anything;
    let mut d = BinDecoder::new(bytes);
    Name::read(&mut d).ok()
}

/// `domain`'s scanner interface over the RDATA tokens of one record.
struct TokenScanner<'a> {
    tokens: &'a [Token],
    pos: usize,
    origin: Option<&'a Name>,
}

impl TokenScanner<'_> {
    fn next(&mut self) -> Result<&Token, RdataError> {
        let t = self
            .tokens
            .get(self.pos)
            .ok_or_else(RdataError::end_of_entry)?;
        self.pos += 1;
        Ok(t)
    }

    fn octets_of(text: &str) -> Result<Vec<u8>, RdataError> {
        let mut out = Vec::with_capacity(text.len());
        let mut syms = Symbols::new(text.chars());
        for s in &mut syms {
            out.push(
                s.into_octet()
                    .map_err(|_| RdataError("bad character in data".into()))?,
            );
        }
        syms.ok()
            .map_err(|_| RdataError(format!("bad escape in `{text}`")))?;
        Ok(out)
    }
}

impl Scanner for TokenScanner<'_> {
    type Octets = Vec<u8>;
    type OctetsBuilder = Vec<u8>;
    type Name = DName<Vec<u8>>;
    type Error = RdataError;

    fn has_space(&self) -> bool {
        true
    }

    fn continues(&mut self) -> bool {
        self.pos < self.tokens.len()
    }

    fn scan_symbols<F>(&mut self, mut op: F) -> Result<(), Self::Error>
    where
        F: FnMut(Symbol) -> Result<(), Self::Error>,
    {
        let t = self.next()?;
        for s in Symbols::new(t.text.chars()) {
            op(s)?;
        }
        Ok(())
    }

    fn scan_entry_symbols<F>(&mut self, mut op: F) -> Result<(), Self::Error>
    where
        F: FnMut(EntrySymbol) -> Result<(), Self::Error>,
    {
        while self.pos < self.tokens.len() {
            let t = self.next()?;
            for s in Symbols::new(t.text.chars()) {
                op(s.into())?;
            }
            op(EntrySymbol::EndOfToken)?;
        }
        Ok(())
    }

    fn convert_token<C: ConvertSymbols<Symbol, Self::Error>>(
        &mut self,
        mut convert: C,
    ) -> Result<Self::Octets, Self::Error> {
        let t = self.next()?;
        let mut out = Vec::new();
        for s in Symbols::new(t.text.chars()) {
            if let Some(d) = convert.process_symbol(s)? {
                out.extend_from_slice(d);
            }
        }
        if let Some(d) = convert.process_tail()? {
            out.extend_from_slice(d);
        }
        Ok(out)
    }

    fn convert_entry<C: ConvertSymbols<EntrySymbol, Self::Error>>(
        &mut self,
        mut convert: C,
    ) -> Result<Self::Octets, Self::Error> {
        let mut out = Vec::new();
        while self.pos < self.tokens.len() {
            let t = self.next()?;
            for s in Symbols::new(t.text.chars()) {
                if let Some(d) = convert.process_symbol(s.into())? {
                    out.extend_from_slice(d);
                }
            }
            if let Some(d) = convert.process_symbol(EntrySymbol::EndOfToken)? {
                out.extend_from_slice(d);
            }
        }
        if let Some(d) = convert.process_tail()? {
            out.extend_from_slice(d);
        }
        Ok(out)
    }

    fn scan_octets(&mut self) -> Result<Self::Octets, Self::Error> {
        let t = self.next()?.text.clone();
        Self::octets_of(&t)
    }

    fn scan_svcb_octets(&mut self) -> Result<Self::Octets, Self::Error> {
        // The tokenizer already joins `key="quoted value"` into one token.
        self.scan_octets()
    }

    fn scan_ascii_str<F, T>(&mut self, op: F) -> Result<T, Self::Error>
    where
        F: FnOnce(&str) -> Result<T, Self::Error>,
    {
        let t = self.next()?.text.clone();
        let octets = Self::octets_of(&t)?;
        match std::str::from_utf8(&octets) {
            Ok(s) if s.is_ascii() => op(s),
            _ => Err(RdataError(format!("`{t}`: only ASCII is allowed here"))),
        }
    }

    fn scan_name(&mut self) -> Result<Self::Name, Self::Error> {
        let t = self.next()?.text.clone();
        let name = parse_name(&t, self.origin).map_err(RdataError)?;
        let wire = name
            .to_bytes()
            .map_err(|e| RdataError(format!("bad name `{t}`: {e}")))?;
        DName::from_octets(wire).map_err(|_| RdataError(format!("bad name `{t}`")))
    }

    fn scan_charstr(&mut self) -> Result<CharStr<Self::Octets>, Self::Error> {
        let t = self.next()?.text.clone();
        let octets = Self::octets_of(&t)?;
        let mut b = CharStrBuilder::<Vec<u8>>::new();
        b.append_slice(&octets)
            .map_err(|_| RdataError(format!("`{t}` is longer than 255 octets")))?;
        Ok(b.finish())
    }

    fn scan_string(&mut self) -> Result<Str<Self::Octets>, Self::Error> {
        let t = self.next()?.text.clone();
        let octets = Self::octets_of(&t)?;
        Str::from_utf8(octets).map_err(|_| RdataError(format!("`{t}` is not UTF-8")))
    }

    fn scan_charstr_entry(&mut self) -> Result<Self::Octets, Self::Error> {
        let mut out = Vec::new();
        while self.pos < self.tokens.len() {
            let t = self.next()?.text.clone();
            let octets = Self::octets_of(&t)?;
            for chunk in octets.chunks(255) {
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
            if octets.is_empty() {
                out.push(0);
            }
        }
        Ok(out)
    }

    fn scan_opt_unknown_marker(&mut self) -> Result<bool, Self::Error> {
        match self.tokens.get(self.pos) {
            Some(t) if !t.quoted && t.text == "\\#" => {
                self.pos += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn octets_builder(&mut self) -> Result<Self::OctetsBuilder, Self::Error> {
        Ok(Vec::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split_whitespace()
            .map(|t| Token {
                text: t.to_string(),
                quoted: false,
            })
            .collect()
    }

    #[test]
    fn names_with_escapes_and_origin() {
        let o = Name::from_ascii("ex.test.").unwrap();
        let n = parse_name("a\\.b", Some(&o)).unwrap();
        assert_eq!(n.num_labels(), 3);
        assert_eq!(n.iter().next().unwrap(), b"a.b");
        let n = parse_name("My\\032Printer._ipp", Some(&o)).unwrap();
        assert_eq!(n.iter().next().unwrap(), b"My Printer");
        assert_eq!(parse_name("@", Some(&o)).unwrap(), o);
        assert!(parse_name("a..b", Some(&o)).is_err());
        assert!(parse_name("host.@", Some(&o)).is_err());
        assert_eq!(
            parse_name("a\\@b", Some(&o))
                .unwrap()
                .iter()
                .next()
                .unwrap(),
            b"a@b"
        );
        assert!(parse_name("a\\256", Some(&o)).is_err());
        assert!(parse_name("rel", None).is_err());
    }

    #[test]
    fn typed_and_opaque_rdata() {
        let o = Name::from_ascii("ex.test.").unwrap();
        let r = parse_rdata(u16::from(RecordType::MX), &toks("10 @"), Some(&o)).unwrap();
        let RData::MX(mx) = r else { panic!("{r:?}") };
        assert_eq!(mx.exchange, o);
        let ds = parse_rdata(
            43,
            &toks("60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            None,
        )
        .unwrap();
        assert!(matches!(ds, RData::Unknown { .. }), "{ds:?}");
        let d = parse_rdata(39, &toks("target"), Some(&o)).unwrap();
        assert_eq!(
            dname_target(&d).unwrap(),
            Name::from_ascii("target.ex.test.").unwrap()
        );
        let g = parse_rdata(123, &toks("\\# 3 abcdef"), None).unwrap();
        let RData::Unknown { rdata, .. } = g else {
            panic!()
        };
        assert_eq!(rdata.anything, &[0xab, 0xcd, 0xef]);
        assert!(parse_rdata(1, &toks("192.0.2.1 extra"), None).is_err());
        assert!(parse_rdata(43, &toks("1 2 3 zz"), None).is_err());
    }
}
