//! NXDOMAIN for names never asked before, written from the query's octets.
//!
//! The answer cache ([`super::cache`]) helps repeated questions; a flood of random names under
//! a served zone never repeats one. Every such name gets the same answer but for the
//! question: NXDOMAIN, the zone's SOA in the authority section, the OPT record. So the UDP
//! path keeps, per zone and per query shape (everything the cache key holds but the name:
//! type, class, flags, EDNS fields, ECS family and prefix), a [`Template`] taken from the
//! general path's first NXDOMAIN answer of that shape, and writes the next one itself when
//! [`crate::zone::wire::WireNames::missing`] shows from the octets alone that the name does
//! not exist and that the general lookup would answer NXDOMAIN.
//!
//! A template is kept only when the general answer has exactly the plain shape (question,
//! one SOA record whose names end in the root or in compression pointers at or after the
//! origin's place in the question, the OPT record): anything else — an answer with
//! denial-of-existence records, say — is never templated and keeps going the general way. A
//! written answer differs from the template only where the general path's would: the ID, the
//! question, the pointers (moved by the difference in name length) and the echoed ECS
//! address. Should the general encoder compress against the question (a template's pointer
//! reaching into it), queries it would compress differently (the origin in other letter
//! case, a name ending in one of the SOA's own names) go the general way.

use super::cache::Key;
use crate::model::Model;
use crate::zone::wire::{Missing, NAME_MAX, lower};
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::BinEncodable;
use smallvec::SmallVec;

/// A negative answer of one zone and query shape, to be written for other names.
#[derive(Debug)]
pub struct Template {
    /// Octets 2..4 of the header.
    flags: [u8; 2],
    /// ARCOUNT: 1 with an OPT record.
    ar: u8,
    /// The origin as spelled by the question the template was made from.
    origin: Box<[u8]>,
    /// Where that origin started in the message.
    origin_at: usize,
    /// The SOA record as written after the question.
    soa: Box<[u8]>,
    /// Where the compression pointers are in `soa`.
    pointers: SmallVec<[u8; 4]>,
    /// True when a pointer reaches into the question (the encoder compresses against it):
    /// then the origin's letter case and the SOA's names below the origin matter.
    into_question: bool,
    /// The OPT record, with the echoed ECS address last (patched per query).
    opt: Box<[u8]>,
    /// The SOA's own names below the origin (lower-case wire): a query name ending in one
    /// of them is compressed against it by the general encoder.
    avoid: SmallVec<[Box<[u8]>; 2]>,
    /// The largest response the client takes.
    limit: usize,
}

/// The names of `zone`'s SOA data that are at or below the origin but not it, with their
/// ancestors down to (not including) the origin, in lower-case wire form.
fn soa_names_below_origin(model: &Model, zone: usize) -> Option<SmallVec<[Box<[u8]>; 2]>> {
    let zone = model.zones.iter().nth(zone)?;
    let RData::SOA(soa) = &zone.negative_soa.data else {
        return None;
    };
    let origin = zone.origin.to_lowercase();
    let mut out = SmallVec::new();
    for name in [&soa.mname, &soa.rname] {
        let mut n = name.to_lowercase();
        n.set_fqdn(true);
        while n.num_labels() > origin.num_labels() && origin.zone_of(&n) {
            out.push(n.to_bytes().ok()?.into_boxed_slice());
            n = n.base_name();
        }
    }
    Some(out)
}

impl Template {
    /// The template of the general path's NXDOMAIN `response` to `query` (with `key`), whose
    /// name `missing` placed; `None` when the response is not of the plain shape.
    pub fn from_answer(
        model: &Model,
        key: &Key,
        query: &[u8],
        response: &[u8],
        missing: Missing,
    ) -> Option<Template> {
        let u16_at = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes([
                *response.get(at)?,
                *response.get(at + 1)?,
            ]))
        };
        let qe = key.question_end;
        let with_opt = key.payload.is_some();
        if response.get(..2)? != query.get(..2)?
            || response[2] & 0x02 != 0 // TC
            || response[3] & 0x0F != 3 // NXDOMAIN
            || u16_at(4)? != 1
            || u16_at(6)? != 0
            || u16_at(8)? != 1
            || u16_at(10)? != with_opt as u16
            || response.get(12..qe)? != query.get(12..qe)?
        {
            return None;
        }
        let origin_at = 12 + missing.origin_at;
        let start = qe;
        // The names of the record (owner, then the SOA's MNAME and RNAME): labels, ending
        // in the root or in a pointer at or after the origin in the question.
        let mut pointers = SmallVec::new();
        let mut into_question = false;
        let mut at = start;
        let mut name_end = |at: &mut usize| -> Option<()> {
            loop {
                let l = *response.get(*at)?;
                match l {
                    0 => {
                        *at += 1;
                        return Some(());
                    }
                    1..=63 => *at += 1 + l as usize,
                    0xC0.. => {
                        let target = (u16_at(*at)? & 0x3FFF) as usize;
                        if target < origin_at || target >= *at {
                            return None;
                        }
                        into_question |= target < start;
                        pointers.push(u8::try_from(*at - start).ok()?);
                        *at += 2;
                        return Some(());
                    }
                    _ => return None,
                }
            }
        };
        name_end(&mut at)?;
        let rr = response.get(at..at + 10)?;
        if rr[..4] != [0, 6, 0, 1] {
            return None;
        }
        let rdlen = u16::from_be_bytes([rr[8], rr[9]]) as usize;
        at += 10;
        let end = at + rdlen;
        name_end(&mut at)?;
        name_end(&mut at)?;
        if at + 20 != end {
            return None;
        }
        let soa: Box<[u8]> = response.get(start..end)?.into();
        let opt: Box<[u8]> = match with_opt {
            false => Box::default(),
            true => {
                let fixed = response.get(end..end + 11)?;
                let len = u16_at(end + 9)? as usize;
                let data = response.get(end + 11..end + 11 + len)?;
                let expected = key.ecs.as_ref().map_or(0, |(_, r)| 4 + r.len());
                if fixed[..3] != [0, 0, 41] || len != expected || (len > 0 && data[..2] != [0, 8]) {
                    return None;
                }
                response[end..end + 11 + len].into()
            }
        };
        if end + opt.len() != response.len() {
            return None;
        }
        let limit = match key.payload {
            Some(p) => p.clamp(512, model.dns.max_udp_payload) as usize,
            None => 512,
        };
        Some(Template {
            flags: [response[2], response[3]],
            ar: with_opt as u8,
            origin: query.get(origin_at..qe - 4)?.into(),
            origin_at,
            soa,
            pointers,
            into_question,
            opt,
            avoid: soa_names_below_origin(model, missing.zone)?,
            limit,
        })
    }

    /// Write the answer to `query` (with `key`), whose lower-cased name is `lowered` and was
    /// placed by `missing`, into `out`; false (and `out` untouched) when the general path
    /// must answer (see the module doc).
    pub fn write(
        &self,
        key: &Key,
        query: &[u8],
        lowered: &[u8],
        missing: Missing,
        out: &mut Vec<u8>,
    ) -> bool {
        let qe = key.question_end;
        let origin_at = 12 + missing.origin_at;
        let compressed_otherwise = self.into_question
            && (query.get(origin_at..qe - 4) != Some(&*self.origin)
                || self.avoid.iter().any(|a| lowered.ends_with(a)));
        if compressed_otherwise || qe + self.soa.len() + self.opt.len() > self.limit {
            return false;
        }
        let delta = origin_at as isize - self.origin_at as isize;
        let moved = |p: u16| -> Option<u16> {
            let t = ((p & 0x3FFF) as isize + delta) as usize;
            (t <= 0x3FFF).then_some(0xC000 | t as u16)
        };
        // Every pointer moves by the same amount; check before writing.
        if self.pointers.iter().any(|&p| {
            let p = p as usize;
            moved(u16::from_be_bytes([self.soa[p], self.soa[p + 1]])).is_none()
        }) {
            return false;
        }
        out.extend_from_slice(&query[..2]);
        out.extend_from_slice(&self.flags);
        out.extend_from_slice(&[0, 1, 0, 0, 0, 1, 0, self.ar]);
        out.extend_from_slice(&query[12..qe]);
        let soa_at = out.len();
        out.extend_from_slice(&self.soa);
        for &p in &self.pointers {
            let at = soa_at + p as usize;
            let old = u16::from_be_bytes([out[at], out[at + 1]]);
            let new = moved(old).unwrap_or(old);
            out[at..at + 2].copy_from_slice(&new.to_be_bytes());
        }
        out.extend_from_slice(&self.opt);
        if let Some((_, r)) = &key.ecs {
            let address = &query[r.start + 4..r.end];
            let at = out.len() - address.len();
            out[at..].copy_from_slice(address);
        }
        true
    }
}

/// The query's name in lower case, and where the table places it when it does not exist.
pub fn place<'b>(
    model: &Model,
    key: &Key,
    query: &[u8],
    buf: &'b mut [u8; NAME_MAX],
) -> Option<(&'b [u8], Missing)> {
    let lowered = lower(query.get(12..key.question_end - 4)?, buf)?;
    let missing = model.zones.wire_names().missing(lowered)?;
    Some((lowered, missing))
}
