//! Per-worker cache of UDP answers: the allocation-free path for repeated static hits,
//! NODATA and NXDOMAIN, and for GSLB answers.
//!
//! A query qualifies when its bytes say everything about it: opcode QUERY, one question with
//! an uncompressed name, no other records except at most one OPT with no option or only a
//! well-formed ECS option (no cookie), nothing after that. The key is then every octet of the
//! query except the ID and the ECS address: the name as sent (answers echo its case in owner
//! names, so `WwW` and `www` are two entries), flags, type, class, OPT payload size, version,
//! DO, and the ECS family and source prefix.
//!
//! **Static answers** are stored when no GSLB service took part, for the model they were made
//! from (a reload empties the cache; health and GeoIP changes only touch GSLB answers). A hit
//! copies the stored answer, sets the query's ID and is done: no parsing into hickory types,
//! no lookup, no allocation.
//!
//! **GSLB answers** depend on the client and on the moment, so the answer itself is not
//! stored. What is stored is what the general path's first answer to the question showed
//! about its shape (header flags, the OPT record, the size limit; kept only when it is the
//! plain shape the fast path writes: the question, then one A/AAAA record per address with a
//! compressed owner, then the OPT record), and, per client network, the service's
//! [`Plan`] — the decision up to its seeded steps, valid for every client of the network
//! ([`Plan::holds_for`]) until the snapshot changes. A query then costs one plan lookup per
//! distinct network length, the seeded steps (`weighted`), and writing the records: no
//! GeoIP lookup, no policy chain, no allocation. Anything else (NODATA, fallback, a CNAME
//! service, an answer too large for the client) goes the general way.
//!
//! The cache belongs to one UDP worker thread (no lock, no sharing) and is bounded: when full
//! it is emptied, so a random-name or random-subnet flood costs the flooder the slow path and
//! nothing more.

use super::counters::Kind;
use super::ecs::{self, ClientSubnet, Ecs};
use super::negative::Template;
use crate::counters::{GslbTally, Tally};
use crate::gslb::decide::{AnswerKind, Asker, Drawn, Plan, family};
use crate::gslb::{Client, ServiceId, ServiceKind};
use crate::model::Model;
use crate::snapshot::Snapshot;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use smallvec::SmallVec;
use std::collections::HashMap;

/// The hasher of the per-worker maps: fast on short keys, and keyed at random per process
/// (keys come from the network).
type Hasher = foldhash::fast::RandomState;
use std::net::IpAddr;
use std::sync::Arc;

/// Entries per worker before the cache is emptied.
pub const MAX_ENTRIES: usize = 16_384;

/// Client networks with a plan, per GSLB question and worker, before they are forgotten.
pub const MAX_PLANS: usize = 4_096;

/// Longest key: a 255-octet name plus type, class, flags, the OPT fields and the ECS family
/// and source prefix.
const KEY_MAX: usize = 255 + 4 + 2 + 1 + 2 + 4 + 4;

/// A cached answer.
#[derive(Debug)]
pub struct Entry {
    /// The encoded response (ID and question octets are patched per query).
    pub bytes: Box<[u8]>,
    /// What the metrics count.
    pub tally: Tally,
    /// The query type (for the metrics).
    pub qtype: RecordType,
    /// The response code (for the metrics).
    pub rcode: ResponseCode,
    /// The kind of response (for rate limiting).
    pub kind: Kind,
    /// Where the echoed ECS address is in `bytes` (patched per query), when the query
    /// carried ECS.
    pub ecs_at: Option<usize>,
}

impl Entry {
    /// Where `response` (to a query with `key`) echoes the query's ECS address: `Some(None)`
    /// when the query had no ECS, `Some(Some(at))` when the answer ends with the option (as
    /// every answer to an ECS query does), `None` when it cannot be patched for other
    /// clients (then it is not stored).
    pub fn ecs_at(key: &Key, query: &[u8], response: &[u8]) -> Option<Option<usize>> {
        let Some((_, r)) = &key.ecs else {
            return Some(None);
        };
        let data = &query[r.clone()];
        let at = response.len().checked_sub(data.len())?;
        let tail = &response[at..];
        // family and source prefix as asked; the scope may differ; the address as asked
        (tail[..3] == data[..3] && tail[4..] == data[4..]).then_some(Some(at + 4))
    }
}

/// The key of a qualifying query, built in place (no allocation), and what the fast paths
/// need to know of the query.
pub struct Key {
    buf: [u8; KEY_MAX],
    len: usize,
    /// Octets 12..question_end of the query are its question.
    pub question_end: usize,
    /// The query type.
    pub qtype: u16,
    /// The OPT record's UDP payload size, when the query has one.
    pub payload: Option<u16>,
    /// The ECS option, when the query has one, and where its data is in the query (echoed).
    pub ecs: Option<(ClientSubnet, std::ops::Range<usize>)>,
}

impl Key {
    /// The key octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The key without the name: what a query says besides its name (type, class, flags,
    /// EDNS fields, ECS family and prefix).
    pub fn shape(&self) -> &[u8] {
        &self.buf[self.question_end - 16..self.len]
    }

    fn push(&mut self, b: &[u8]) -> Option<()> {
        let end = self.len + b.len();
        self.buf.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }
}

/// The key of `q` if it qualifies (see the module doc).
pub fn key(q: &[u8]) -> Option<Key> {
    if q.len() < 12 || q[2] & 0xF8 != 0 {
        return None; // a response, or an opcode other than QUERY
    }
    let counts = &q[4..12];
    let ar = match counts {
        [0, 1, 0, 0, 0, 0, 0, ar] if *ar <= 1 => *ar,
        _ => return None,
    };
    let mut k = Key {
        buf: [0; KEY_MAX],
        len: 0,
        question_end: 0,
        qtype: 0,
        payload: None,
        ecs: None,
    };
    let mut at = 12;
    let mut name_len = 0usize;
    loop {
        let l = *q.get(at)? as usize;
        if l == 0 {
            k.push(&[0])?;
            at += 1;
            break;
        }
        if l > 63 {
            return None; // compression (or worse): the general path decides
        }
        let label = q.get(at + 1..at + 1 + l)?;
        name_len += l + 1;
        if name_len + 1 > 255 {
            return None;
        }
        k.push(&[l as u8])?;
        k.push(label)?;
        at += 1 + l;
    }
    let tail = q.get(at..at + 4)?;
    k.qtype = u16::from_be_bytes([tail[0], tail[1]]);
    k.push(tail)?;
    at += 4;
    k.question_end = at;
    k.push(&[q[2], q[3], ar])?;
    if ar == 1 {
        // OPT: root owner, type 41, payload, extended rcode/version/flags, and no option or
        // one well-formed ECS option.
        let opt = q.get(at..at + 11)?;
        if opt[0] != 0 || opt[1..3] != [0, 41] {
            return None;
        }
        k.payload = Some(u16::from_be_bytes([opt[3], opt[4]]));
        k.push(&opt[3..9])?;
        let rdlen = u16::from_be_bytes([opt[9], opt[10]]) as usize;
        at += 11;
        if rdlen > 0 {
            let data = q.get(at..at + rdlen)?;
            let len = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]) as usize;
            if data[..2] != [0, 8] || 4 + len != rdlen {
                return None;
            }
            let Ecs::Present(cs) = ecs::check(&data[4..]) else {
                return None;
            };
            k.push(&[1, data[4], data[5], data[6]])?; // ECS, family, source prefix
            k.ecs = Some((cs, at + 4..at + rdlen));
            at += rdlen;
        }
    }
    (at == q.len()).then_some(k)
}

/// What a GSLB question's answers look like, and the plans of the client networks asking it.
#[derive(Debug)]
pub struct GslbEntry {
    /// The service.
    pub service: ServiceId,
    /// True for AAAA.
    pub v6: bool,
    /// Octets 2..4 of the response header.
    pub flags: [u8; 2],
    /// The first answer record's owner as the general path writes it.
    pub owner: Box<[u8]>,
    /// The other answer records' owner (a pointer to the first's).
    pub next_owner: [u8; 2],
    /// The response's OPT record up to (not including) its RDLENGTH, when the query had one.
    pub opt: Option<[u8; 9]>,
    /// The largest response the client takes.
    pub limit: usize,
    /// What the metrics count (the zone, ECS); the GSLB part is filled per query.
    pub tally: Tally,
    /// Plans by client network (address cut to the prefix, prefix).
    plans: HashMap<(IpAddr, u8), (Client, Plan), Hasher>,
    /// The prefix lengths of `plans`, longest first.
    lengths: SmallVec<[u8; 4]>,
    /// The plan for every client, when the decision does not depend on the client.
    everyone: Option<(Client, Plan)>,
    /// The snapshot generation the plans belong to.
    generation: u64,
    /// Scratch for drawing.
    pub drawn: Drawn,
}

impl GslbEntry {
    /// The entry for a question whose general answer was `response` (to `query`, with `key`),
    /// when that answer has the shape the fast path writes; `None` otherwise.
    pub fn from_answer(
        model: &Model,
        key: &Key,
        query: &[u8],
        response: &[u8],
        tally: Tally,
    ) -> Option<GslbEntry> {
        let gslb = tally.gslb?;
        let svc = model.gslb.services.get(gslb.service)?;
        let qtype = RecordType::from(key.qtype);
        let v6 = match qtype {
            RecordType::A => false,
            RecordType::AAAA => true,
            _ => return None,
        };
        if !matches!(svc.kind, ServiceKind::Addresses { .. }) || family(svc, qtype) != Some(v6) {
            return None;
        }
        let u16_at = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes([
                *response.get(at)?,
                *response.get(at + 1)?,
            ]))
        };
        let answers = u16_at(6)? as usize;
        let with_opt = key.payload.is_some();
        if response.get(..2)? != query.get(..2)?
            || response[2] & 0x02 != 0 // TC
            || response[3] & 0x0F != 0 // NOERROR
            || u16_at(4)? != 1
            || answers == 0
            || u16_at(8)? != 0
            || u16_at(10)? != with_opt as u16
            || response.get(12..key.question_end)? != &query[12..key.question_end]
        {
            return None;
        }
        let (rtype, rdlen) = if v6 { (28u16, 16u16) } else { (1, 4) };
        // The first record's owner as written (the name in full, or a pointer to the
        // question's); the others point to it.
        let first = key.question_end;
        let owner: Box<[u8]> = match response.get(first)? {
            0xC0.. => response.get(first..first + 2)?.into(),
            _ => {
                let name = &query[12..key.question_end - 4];
                (response.get(first..first + name.len())? == name).then(|| name.into())?
            }
        };
        let next_owner = match *owner {
            [0xC0, _] => [owner[0], owner[1]],
            _ => [0xC0 | (first >> 8) as u8, first as u8],
        };
        if first > 0x3FFF {
            return None;
        }
        let mut at = first;
        for i in 0..answers {
            let name: &[u8] = if i == 0 { &owner } else { &next_owner };
            if response.get(at..at + name.len())? != name {
                return None;
            }
            at += name.len();
            let rr = response.get(at..at + 10)?;
            if rr[..2] != rtype.to_be_bytes()
                || rr[2..4] != [0, 1]
                || rr[8..10] != rdlen.to_be_bytes()
            {
                return None;
            }
            at += 10 + rdlen as usize;
        }
        let opt = match with_opt {
            false => None,
            true => {
                let fixed: [u8; 9] = response.get(at..at + 9)?.try_into().ok()?;
                let len = u16_at(at + 9)? as usize;
                let data = response.get(at + 11..at + 11 + len)?;
                let expected = key.ecs.as_ref().map_or(0, |(_, r)| 4 + r.len());
                if fixed[..3] != [0, 0, 41] || len != expected || (len > 0 && data[..2] != [0, 8]) {
                    return None;
                }
                at += 11 + len;
                Some(fixed)
            }
        };
        if at != response.len() {
            return None;
        }
        let limit = match key.payload {
            Some(p) => p.clamp(512, model.dns.max_udp_payload) as usize,
            None => 512,
        };
        Some(GslbEntry {
            service: gslb.service,
            v6,
            flags: [response[2], response[3]],
            owner,
            next_owner,
            opt,
            limit,
            tally: Tally {
                gslb: None,
                ..tally
            },
            plans: HashMap::default(),
            lengths: SmallVec::new(),
            everyone: None,
            generation: u64::MAX,
            drawn: Drawn::default(),
        })
    }

    /// Draw the answer to `asker` into `self.drawn`, and return what the metrics count of it.
    /// Plans are made on first use per client network and kept for `generation` (a
    /// snapshot). `None` when plans cannot be shared (a step after a seeded one depends on
    /// the client): the general path answers.
    pub fn draw(&mut self, snap: &Snapshot, generation: u64, asker: &Asker) -> Option<Tally> {
        if self.generation != generation {
            self.plans.clear();
            self.lengths.clear();
            self.everyone = None;
            self.generation = generation;
        }
        let model = &snap.model.gslb;
        let svc = model.services.get(self.service)?;
        let (addr, _) = asker.address();
        // One lookup per known network length on a hit; a miss makes the plan, keeps it
        // and looks it up again.
        let network = |len: u8| Some((ipnet::IpNet::new(addr, len).ok()?.trunc().addr(), len));
        let hit = match &self.everyone {
            Some(p) => Some(p),
            None => self
                .lengths
                .iter()
                .find_map(|&len| self.plans.get(&network(len)?)),
        };
        if let Some((client, plan)) = hit {
            plan.draw(
                model,
                svc,
                client,
                &snap.health,
                &snap.everything_up,
                asker.seed,
                None,
                &mut self.drawn,
            );
            return self.tally_drawn(client, addr);
        }
        let inputs = snap.gslb_inputs();
        let client = asker.locate(model, inputs.geo);
        let plan = Plan::new(
            model,
            svc,
            self.v6,
            &client,
            inputs.health,
            inputs.everything_up,
            None,
        );
        if plan.client_dependent_after_split(svc) {
            return None;
        }
        plan.draw(
            model,
            svc,
            &client,
            &snap.health,
            &snap.everything_up,
            asker.seed,
            None,
            &mut self.drawn,
        );
        let tally = self.tally_drawn(&client, addr);
        match plan.holds_for() {
            None => self.everyone = Some((client, plan)),
            Some(len) => {
                if self.plans.len() >= MAX_PLANS {
                    self.plans.clear();
                    self.lengths.clear();
                }
                let key = network(len)?;
                if !self.lengths.contains(&len) {
                    self.lengths.push(len);
                    self.lengths.sort_unstable_by(|a, b| b.cmp(a));
                }
                self.plans.insert(key, (client, plan));
            }
        }
        tally
    }

    /// What the metrics count of the answer just drawn for `client` (asking from `addr`);
    /// `None` when a step after the seeded one looked at the client (the general path
    /// answers).
    fn tally_drawn(&self, client: &Client, addr: IpAddr) -> Option<Tally> {
        let d = &self.drawn;
        if d.rest_depends_on.is_some() {
            return None; // a step after the seeded one looked at the client
        }
        Some(Tally {
            gslb: Some(GslbTally {
                service: self.service,
                region: client.region,
                pool: match d.kind {
                    AnswerKind::Chosen | AnswerKind::FailOpen => d.cands.0.first().map(|p| p.pool),
                    _ => None,
                },
                placement: d
                    .depends_on
                    .and_then(|p| ipnet::IpNet::new(addr, p).ok())
                    .map(|n| n.trunc()),
            }),
            ..self.tally
        })
    }
}

/// What the cache holds for a key.
#[derive(Debug)]
pub enum Slot {
    /// A static answer.
    Static(Entry),
    /// A GSLB question.
    Gslb(Box<GslbEntry>),
}

/// Negative-answer templates per worker before they are forgotten (one per zone and query
/// shape).
pub const MAX_NEGATIVE: usize = 1_024;

/// A template's key: the zone's index, then the query's [`Key::shape`] (with its length).
type NegativeKey = [u8; 24];

fn negative_key(zone: usize, key: &Key) -> Option<NegativeKey> {
    let shape = key.shape();
    let mut k = [0u8; 24];
    k[..4].copy_from_slice(&u32::try_from(zone).ok()?.to_le_bytes());
    k[4] = shape.len() as u8;
    k.get_mut(5..5 + shape.len())?.copy_from_slice(shape);
    Some(k)
}

/// The cache of one worker.
#[derive(Debug, Default)]
pub struct AnswerCache {
    map: HashMap<Box<[u8]>, Slot, Hasher>,
    /// NXDOMAIN templates ([`super::negative`]), for names never asked.
    negatives: HashMap<NegativeKey, Template, Hasher>,
    /// The model the entries were made from (held, so its address cannot be reused by a
    /// later model while entries exist).
    model: Option<Arc<Model>>,
    /// The snapshot GSLB plans are made from (held for the same reason), and its generation.
    snapshot: Option<Arc<Snapshot>>,
    generation: u64,
}

impl AnswerCache {
    /// Empty the cache unless its entries were made from `model`.
    fn follow(&mut self, model: &Arc<Model>) {
        if !self.model.as_ref().is_some_and(|m| Arc::ptr_eq(m, model)) {
            self.map.clear();
            self.negatives.clear();
            self.model = Some(model.clone());
        }
    }

    /// The entry for `key`, if made from `snap`'s model; GSLB plans of an older snapshot are
    /// dropped when next used.
    #[inline]
    pub fn get(&mut self, snap: &Arc<Snapshot>, key: &Key) -> Option<(&mut Slot, u64)> {
        self.follow(&snap.model);
        if !self.snapshot.as_ref().is_some_and(|s| Arc::ptr_eq(s, snap)) {
            self.snapshot = Some(snap.clone());
            self.generation += 1;
        }
        let generation = self.generation;
        self.map.get_mut(key.as_bytes()).map(|s| (s, generation))
    }

    /// Store an entry made from `model`.
    pub fn insert(&mut self, model: &Arc<Model>, key: &Key, slot: Slot) {
        self.follow(model);
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(key.as_bytes().into(), slot);
    }

    /// The NXDOMAIN template for names of `zone` asked as `key` asks (call after
    /// [`AnswerCache::get`], which follows the model).
    pub fn negative(&self, zone: usize, key: &Key) -> Option<&Template> {
        self.negatives.get(&negative_key(zone, key)?)
    }

    /// Keep an NXDOMAIN template made from `model`.
    pub fn insert_negative(&mut self, model: &Arc<Model>, zone: usize, key: &Key, t: Template) {
        self.follow(model);
        let Some(k) = negative_key(zone, key) else {
            return;
        };
        if self.negatives.len() >= MAX_NEGATIVE {
            self.negatives.clear();
        }
        self.negatives.insert(k, t);
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &[u8], ar: Option<&[u8]>) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, ar.is_some() as u8];
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        if let Some(o) = ar {
            m.extend_from_slice(o);
        }
        m
    }

    #[test]
    fn keys_ignore_the_id_and_refuse_what_they_cannot_vouch_for() {
        let a = key(&q(b"\x03WwW\x04test\x00", None)).unwrap();
        let mut other = q(b"\x03WwW\x04test\x00", None);
        other[0] = 9;
        let b = key(&other).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        let lower = key(&q(b"\x03www\x04test\x00", None)).unwrap();
        assert_ne!(a.as_bytes(), lower.as_bytes(), "case is kept");
        assert_eq!(a.question_end, 12 + 10 + 4);
        let opt = [0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0];
        let c = key(&q(b"\x03www\x04test\x00", Some(&opt))).unwrap();
        assert_ne!(a.as_bytes(), c.as_bytes());
        // Options (ECS, cookies), compression, trailing octets, other counts: not cached.
        let with_option = [0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0];
        assert!(key(&q(b"\x03www\x04test\x00", Some(&with_option))).is_none());
        assert!(key(&q(b"\x03www\xc0\x0c", None)).is_none());
        let mut trailing = q(b"\x03www\x00", None);
        trailing.push(0);
        assert!(key(&trailing).is_none());
        let mut notify = q(b"\x03www\x00", None);
        notify[2] = 4 << 3;
        assert!(key(&notify).is_none());
        assert!(key(&q(b"\x03www", None)).is_none());
    }
}
