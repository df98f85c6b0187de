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
    let generic = tokens.first().is_some_and(|t| !t.quoted && t.text == "\\#");
    let wire = match (generic, other_types::parse(rtype, tokens, origin)) {
        (false, Some(wire)) => wire?,
        _ => scan_wire(same_wire_as(rtype), tokens, origin)?,
    };
    from_wire(RecordType::from(rtype), &wire)
}

/// The record data of type `rtype` in wire form, through `domain`'s parser for the type.
fn scan_wire(rtype: u16, tokens: &[Token], origin: Option<&Name>) -> Result<Vec<u8>, String> {
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
    Ok(wire)
}

/// Types `domain` has no parser for whose presentation and wire formats are those of a type
/// it has: SPF is TXT (RFC 7208), SMIMEA is TLSA (RFC 8162), AFSDB, KX and LP are MX-shaped
/// (a 16-bit number and a name), DHCID is one base64 blob like OPENPGPKEY.
fn same_wire_as(rtype: u16) -> u16 {
    match rtype {
        99 => 16,            // SPF -> TXT
        53 => 52,            // SMIMEA -> TLSA
        18 | 36 | 107 => 15, // AFSDB, KX, LP -> MX
        49 => 61,            // DHCID -> OPENPGPKEY
        other => other,
    }
}

/// Types with their own presentation format that `domain` does not parse: URI, EUI48, EUI64,
/// L32, L64, NID, CSYNC, CERT and LOC.
mod other_types {
    use super::{Name, Token, scan_wire};

    /// The wire form of `tokens` for `rtype`, or None when the type is not one of these.
    pub fn parse(
        rtype: u16,
        t: &[Token],
        origin: Option<&Name>,
    ) -> Option<Result<Vec<u8>, String>> {
        let r = match rtype {
            256 => uri(t),
            108 => eui(t, 6),
            109 => eui(t, 8),
            105 => l32(t),
            104 | 106 => nid(t),
            62 => csync(t, origin),
            37 => cert(t),
            29 => loc(t),
            _ => return None,
        };
        Some(r)
    }

    fn exactly(t: &[Token], n: usize) -> Result<(), String> {
        if t.len() == n {
            Ok(())
        } else {
            Err(format!("expected {n} fields, found {}", t.len()))
        }
    }

    fn num<T: std::str::FromStr>(t: &Token) -> Result<T, String> {
        t.text
            .parse()
            .map_err(|_| format!("`{}` is not a valid number here", t.text))
    }

    fn uri(t: &[Token]) -> Result<Vec<u8>, String> {
        exactly(t, 3)?;
        let mut w = Vec::new();
        w.extend_from_slice(&num::<u16>(&t[0])?.to_be_bytes());
        w.extend_from_slice(&num::<u16>(&t[1])?.to_be_bytes());
        w.extend_from_slice(&super::TokenScanner::octets_of(&t[2].text).map_err(|e| e.0)?);
        Ok(w)
    }

    fn eui(t: &[Token], len: usize) -> Result<Vec<u8>, String> {
        exactly(t, 1)?;
        let parts: Vec<&str> = t[0].text.split('-').collect();
        if parts.len() != len || parts.iter().any(|p| p.len() != 2) {
            return Err(format!(
                "`{}` is not {len} hex pairs joined by -",
                t[0].text
            ));
        }
        parts
            .iter()
            .map(|p| u8::from_str_radix(p, 16).map_err(|_| format!("bad hex in `{}`", t[0].text)))
            .collect()
    }

    fn l32(t: &[Token]) -> Result<Vec<u8>, String> {
        exactly(t, 2)?;
        let mut w = num::<u16>(&t[0])?.to_be_bytes().to_vec();
        let a: std::net::Ipv4Addr = num(&t[1])?;
        w.extend_from_slice(&a.octets());
        Ok(w)
    }

    fn nid(t: &[Token]) -> Result<Vec<u8>, String> {
        exactly(t, 2)?;
        let mut w = num::<u16>(&t[0])?.to_be_bytes().to_vec();
        let groups: Vec<&str> = t[1].text.split(':').collect();
        if groups.len() != 4 || groups.iter().any(|g| g.is_empty() || g.len() > 4) {
            return Err(format!("`{}` is not four 16-bit hex groups", t[1].text));
        }
        for g in groups {
            let v =
                u16::from_str_radix(g, 16).map_err(|_| format!("bad hex in `{}`", t[1].text))?;
            w.extend_from_slice(&v.to_be_bytes());
        }
        Ok(w)
    }

    fn csync(t: &[Token], origin: Option<&Name>) -> Result<Vec<u8>, String> {
        if t.len() < 2 {
            return Err("expected a serial, flags and types".into());
        }
        let mut w = num::<u32>(&t[0])?.to_be_bytes().to_vec();
        w.extend_from_slice(&num::<u16>(&t[1])?.to_be_bytes());
        // The type bitmap is NSEC's: parse `. TYPES…` as an NSEC and drop the root name.
        let mut nsec = vec![Token {
            text: ".".into(),
            quoted: false,
        }];
        nsec.extend_from_slice(&t[2..]);
        let bitmap = scan_wire(47, &nsec, origin)?;
        w.extend_from_slice(&bitmap[1..]);
        Ok(w)
    }

    fn cert(t: &[Token]) -> Result<Vec<u8>, String> {
        if t.len() < 4 {
            return Err("expected type, key tag, algorithm and certificate".into());
        }
        let ctype: u16 = match t[0].text.to_ascii_uppercase().as_str() {
            "PKIX" => 1,
            "SPKI" => 2,
            "PGP" => 3,
            "IPKIX" => 4,
            "ISPKI" => 5,
            "IPGP" => 6,
            "ACPKIX" => 7,
            "IACPKIX" => 8,
            "URI" => 253,
            "OID" => 254,
            _ => num(&t[0])?,
        };
        let alg: u8 = match t[2].text.to_ascii_uppercase().as_str() {
            "RSAMD5" => 1,
            "DH" => 2,
            "DSA" => 3,
            "RSASHA1" => 5,
            "DSA-NSEC3-SHA1" => 6,
            "RSASHA1-NSEC3-SHA1" => 7,
            "RSASHA256" => 8,
            "RSASHA512" => 10,
            "ECC-GOST" => 12,
            "ECDSAP256SHA256" => 13,
            "ECDSAP384SHA384" => 14,
            "ED25519" => 15,
            "ED448" => 16,
            _ => num(&t[2])?,
        };
        let mut w = ctype.to_be_bytes().to_vec();
        w.extend_from_slice(&num::<u16>(&t[1])?.to_be_bytes());
        w.push(alg);
        // the certificate: base64 over the remaining tokens, parsed as OPENPGPKEY's data
        w.extend_from_slice(&scan_wire(61, &t[3..], None)?);
        Ok(w)
    }

    /// One LOC angle (`d [m [s]] H`) starting at `words[*i]`, as RFC 1876 encodes it.
    fn loc_angle(
        words: &[&str],
        i: &mut usize,
        pos: &str,
        neg: &str,
        max: u64,
    ) -> Result<u32, String> {
        let mut parts = Vec::new();
        while *i < words.len() && parts.len() < 3 {
            let w = words[*i];
            if w.eq_ignore_ascii_case(pos) || w.eq_ignore_ascii_case(neg) {
                break;
            }
            parts.push(w);
            *i += 1;
        }
        let hemi = words
            .get(*i)
            .filter(|h| h.eq_ignore_ascii_case(pos) || h.eq_ignore_ascii_case(neg))
            .ok_or_else(|| format!("LOC: expected {pos} or {neg}"))?;
        *i += 1;
        let bad = || "LOC: bad angle".to_string();
        let deg: u64 = parts.first().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let min: u64 = parts
            .get(1)
            .map_or(Ok(0), |m| m.parse())
            .map_err(|_| bad())?;
        let sec: f64 = parts
            .get(2)
            .map_or(Ok(0.0), |s| s.parse())
            .map_err(|_| bad())?;
        if deg > max || min > 59 || !(0.0..60.0).contains(&sec) {
            return Err("LOC: angle out of range".into());
        }
        let ms = deg * 3_600_000 + min * 60_000 + (sec * 1000.0).round() as u64;
        if ms > max * 3_600_000 {
            return Err("LOC: angle out of range".into());
        }
        let ms = ms as i64;
        let signed = if hemi.eq_ignore_ascii_case(neg) {
            -ms
        } else {
            ms
        };
        Ok((2_147_483_648i64 + signed) as u32)
    }

    fn loc_meters(w: &str) -> Result<f64, String> {
        w.trim_end_matches(['m', 'M'])
            .parse::<f64>()
            .map_err(|_| format!("LOC: `{w}` is not a distance in meters"))
    }

    /// A LOC size or precision: mantissa and power of ten of centimetres, in one octet.
    fn loc_precision(w: Option<&&str>, default: f64) -> Result<u8, String> {
        let m = match w {
            Some(w) => loc_meters(w)?,
            None => default,
        };
        if m < 0.0 {
            return Err("LOC: negative precision".into());
        }
        let mut cm = (m * 100.0).round() as u64;
        let mut exp = 0u8;
        while cm >= 10 && exp < 9 {
            cm /= 10;
            exp += 1;
        }
        if cm > 9 {
            return Err("LOC: precision too large".into());
        }
        Ok(((cm as u8) << 4) | exp)
    }

    /// RFC 1876: `d [m [s]] N|S d [m [s]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]`.
    fn loc(t: &[Token]) -> Result<Vec<u8>, String> {
        let words: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        let mut i = 0;
        let lat = loc_angle(&words, &mut i, "N", "S", 90)?;
        let lon = loc_angle(&words, &mut i, "E", "W", 180)?;
        let alt = loc_meters(words.get(i).ok_or("LOC: missing altitude")?)?;
        i += 1;
        let size = loc_precision(words.get(i), 1.0)?;
        let hp = loc_precision(words.get(i + 1), 10_000.0)?;
        let vp = loc_precision(words.get(i + 2), 10.0)?;
        if words.len() > i + 3 {
            return Err("LOC: too many fields".into());
        }
        if !(-100_000.0..=42_849_672.95).contains(&alt) {
            return Err("LOC: altitude out of range".into());
        }
        let alt_cm = (alt * 100.0).round() as i64 + 10_000_000;
        let alt_cm = u32::try_from(alt_cm).map_err(|_| "LOC: altitude out of range")?;
        let mut w = vec![0, size, hp, vp];
        w.extend_from_slice(&lat.to_be_bytes());
        w.extend_from_slice(&lon.to_be_bytes());
        w.extend_from_slice(&alt_cm.to_be_bytes());
        Ok(w)
    }
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
        // Typed only when hickory writes back exactly these octets (what is served is what
        // the file says, even where hickory would normalise or drop something).
        Ok(r) if d.is_empty() && (compressible(rtype) || r.to_bytes().is_ok_and(|b| b == wire)) => {
            Ok(r)
        }
        // Hickory may reject data other servers serve (it is stricter for a few types):
        // serve it as the bytes it is.
        _ => Ok(RData::Unknown {
            code: rtype,
            rdata: NULL::with(wire.to_vec()),
        }),
    }
}

/// The RFC 1035 types whose names may be compressed (RFC 3597 §4): hickory writes them
/// compressed, so their octets are not compared; their data is names and numbers only.
fn compressible(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::NS
            | RecordType::CNAME
            | RecordType::SOA
            | RecordType::PTR
            | RecordType::MX
            | RecordType::Unknown(3..=9)
            | RecordType::Unknown(14)
    )
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
        for (t, data) in [
            (RecordType::SRV, "0 0 631 printer"),
            (RecordType::SOA, "ns1 h 1 2 3 4 5"),
            (RecordType::NAPTR, "100 10 S SIP+D2U \"\" _sip._udp"),
            (RecordType::CAA, "0 issue ca.example.net"),
            (RecordType::TXT, "a b"),
        ] {
            let r = parse_rdata(u16::from(t), &toks(data), Some(&o)).unwrap();
            assert!(!matches!(r, RData::Unknown { .. }), "{t} kept typed: {r:?}");
        }
        let g = parse_rdata(123, &toks("\\# 3 abcdef"), None).unwrap();
        let RData::Unknown { rdata, .. } = g else {
            panic!()
        };
        assert_eq!(rdata.anything, &[0xab, 0xcd, 0xef]);
        assert!(parse_rdata(1, &toks("192.0.2.1 extra"), None).is_err());
        assert!(parse_rdata(13, &toks("\\# 8 03313233043132333400"), None).is_err());
        assert!(parse_rdata(13, &toks("\\# 2 0102 03"), None).is_err());
        assert!(parse_rdata(43, &toks("1 2 3 zz"), None).is_err());
    }
}
