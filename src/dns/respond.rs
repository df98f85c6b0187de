//! From a parsed query to the response to send: the protocol rules, in one pure function.
//!
//! [`respond`] reads only the request and one [`Snapshot`]; both transports (UDP through
//! [`super::udp`], TCP through [`super::tcp`]) share it.
//! In order:
//! 1. opcode other than QUERY → NOTIMP;
//! 2. EDNS version above 0 → BADVERS (RFC 6891 §6.1.3); a malformed ECS option → FORMERR
//!    (RFC 7871 §7.1.2, see [`super::ecs`]); other unknown options are ignored;
//! 3. QDCOUNT other than 1 → FORMERR; class other than IN → REFUSED;
//! 4. a name in no served zone → REFUSED;
//! 5. AXFR/IXFR → REFUSED unless the zone's `allow_transfer` admits the client over TCP;
//! 6. otherwise the zone's answer ([`crate::zone::lookup`]).
//!
//! Every response to a query with EDNS carries an OPT record (our buffer size, the DO bit
//! copied per RFC 3225, and the ECS option echoed with scope 0 when the query had one: static
//! data does not depend on the client). The handler fits the encoded answer into the client's
//! UDP buffer (TC=1 when it does not fit; [`super::handler`]).

use super::ecs::{self, Ecs};
use crate::counters::{GslbTally, Tally};
use crate::gslb::ServiceKind;
use crate::gslb::decide::{Asker, answer};
use crate::snapshot::Snapshot;
use crate::zone::{DynamicAnswer, LookupOptions, Zone};
use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet as HickorySubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use std::net::IpAddr;
use std::sync::Arc;

/// A response, before encoding.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Header bits and rcode (the low 4 bits go in the header, the rest in OPT).
    pub meta: Metadata,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authority: Vec<Record>,
    /// Additional section (without OPT).
    pub additional: Vec<Record>,
    /// The OPT record to send, when the query had EDNS.
    pub edns: Option<Edns>,
    /// The largest response the client can take over UDP.
    pub udp_limit: usize,
    /// True when the additional section holds glue a referral needs (it must not be dropped
    /// to fit; TC is set instead, RFC 9471).
    pub glue_required: bool,
    /// What the metrics count for this query (zone, ECS, GSLB answer); the handler counts it.
    pub tally: Tally,
}

/// What to do with a query.
#[derive(Debug)]
pub enum Action {
    /// Send this one response.
    Reply(Reply),
    /// Send the zone as an AXFR stream (TCP only), framed by `first`'s header.
    Transfer(Reply, Arc<Zone>),
}

impl Reply {
    fn new(
        request: &Request,
        rcode: ResponseCode,
        edns: Option<Edns>,
        udp_limit: usize,
        tally: Tally,
    ) -> Self {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.response_code = rcode;
        Reply {
            meta,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            edns,
            udp_limit,
            glue_required: false,
            tally,
        }
    }

    /// An upper bound on the encoded size (names uncompressed), cheap to compute.
    pub fn size_bound(&self, question_len: usize) -> usize {
        let records = self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional);
        let mut n = 12 + question_len;
        for r in records {
            n += r.name.len() + 2 + 10 + rdata_bound(&r.data);
        }
        if self.edns.is_some() {
            n += 11 + 64; // OPT header plus any option we send (ECS at most 24)
        }
        n
    }

    /// Make the reply fit the client's UDP buffer, given whether it fits once the additional
    /// section is dropped. The order of sacrifice: optional additional records first (no TC);
    /// then everything but the question and OPT, with TC=1 so the client retries over TCP
    /// (RFC 1035 §4.2.1, RFC 2181 §9). Referral glue is not optional (RFC 9471).
    pub fn shrink(&mut self, fits_without_additional: bool) {
        if fits_without_additional && !self.glue_required {
            self.additional.clear();
        } else {
            self.answers.clear();
            self.authority.clear();
            self.additional.clear();
            self.meta.truncation = true;
        }
    }
}

/// A generous bound on an RDATA's wire length.
fn rdata_bound(d: &RData) -> usize {
    match d {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::CNAME(n) => n.0.len() + 2,
        RData::NS(n) => n.0.len() + 2,
        RData::PTR(n) => n.0.len() + 2,
        RData::MX(mx) => mx.exchange.len() + 4,
        RData::SRV(srv) => srv.target.len() + 8,
        RData::SOA(soa) => soa.mname.len() + soa.rname.len() + 24,
        RData::TXT(txt) => txt.txt_data.iter().map(|s| s.len() + 1).sum(),
        RData::Unknown { rdata, .. } => rdata.anything.len(),
        _ => u16::MAX as usize,
    }
}

/// Decide the response to `request` from `snap`.
pub fn respond(snap: &Snapshot, request: &Request) -> Action {
    let model = &snap.model;
    let protocol = request.protocol();

    // EDNS first: its version and options decide whether we look at the question at all.
    let mut resp_edns = None;
    let mut udp_limit = 512;
    let mut echo_ecs = None;
    let mut early: Option<ResponseCode> = None;
    let mut tally = Tally::default();
    if let Some(req_edns) = &request.edns {
        let mut e = Edns::new();
        e.set_max_payload(model.dns.max_udp_payload);
        e.set_version(0);
        e.set_dnssec_ok(req_edns.flags().dnssec_ok);
        udp_limit = req_edns.max_payload().clamp(512, model.dns.max_udp_payload) as usize;
        if req_edns.version() > 0 {
            early = Some(ResponseCode::BADVERS);
        } else {
            match ecs::parse(request.as_slice()) {
                Ecs::Absent => {}
                Ecs::Present(cs) => echo_ecs = Some(cs),
                Ecs::Malformed => early = Some(ResponseCode::FormErr),
            }
            tally.ecs = echo_ecs.is_some() || early.is_some();
        }
        if let Some(cs) = echo_ecs {
            // Scope 0 unless the answer turns out to depend on the client (set below).
            let opt = HickorySubnet::new(cs.addr, cs.source_prefix, 0);
            e.options_mut().insert(EdnsOption::Subnet(opt));
        }
        resp_edns = Some(e);
    }
    let reply = |rcode, tally| Reply::new(request, rcode, resp_edns.clone(), udp_limit, tally);
    let reply = &reply;

    if request.metadata.op_code != OpCode::Query {
        return Action::Reply(reply(ResponseCode::NotImp, tally));
    }
    if let Some(rcode) = early {
        return Action::Reply(reply(rcode, tally));
    }
    let Ok(info) = request.request_info() else {
        return Action::Reply(reply(ResponseCode::FormErr, tally));
    };
    let query = info.query;
    if query.query_class() != DNSClass::IN {
        return Action::Reply(reply(ResponseCode::Refused, tally));
    }
    let qname = query.original().name();
    let qtype = query.query_type();
    let Some((zone_index, zone)) = model.zones.find_for_query(qname, qtype) else {
        return Action::Reply(reply(ResponseCode::Refused, tally));
    };
    tally.zone = Some(zone_index);
    match qtype {
        RecordType::AXFR | RecordType::IXFR => {
            let allowed = protocol == Protocol::Tcp
                && *qname == zone.origin
                && model.may_transfer(&zone.origin, request.src().ip());
            if !allowed {
                return Action::Reply(reply(ResponseCode::Refused, tally));
            }
            let mut r = reply(ResponseCode::NoError, tally);
            r.meta.authoritative = true;
            return Action::Transfer(r, zone.clone());
        }
        RecordType::OPT => return Action::Reply(reply(ResponseCode::FormErr, tally)),
        _ => {}
    }
    let opts = LookupOptions {
        minimal_any: protocol == Protocol::Udp,
    };
    let mut dynamic = |name: &hickory_proto::rr::Name, t: RecordType| {
        let (answer, gslb) = gslb_answer(snap, name, t, request, echo_ecs)?;
        tally.gslb = Some(gslb);
        Some(answer)
    };
    let found = zone.lookup_with(qname, qtype, opts, &mut dynamic);
    if let (Some(cs), Some(e)) = (echo_ecs, resp_edns.as_mut()) {
        let opt = HickorySubnet::new(cs.addr, cs.source_prefix, found.scope.min(cs.source_prefix));
        e.options_mut().remove(EdnsCode::Subnet);
        e.options_mut().insert(EdnsOption::Subnet(opt));
    }
    let mut r = Reply::new(request, found.rcode, resp_edns, udp_limit, tally);
    r.meta.authoritative = found.authoritative;
    r.glue_required = !found.authoritative && !found.additional.is_empty();
    r.answers = found.answers;
    r.authority = found.authority;
    r.additional = found.additional;
    Action::Reply(r)
}

/// The per-query answer of a GSLB service at `name` for `qtype`, if there is one, with what
/// the metrics count about it.
fn gslb_answer(
    snap: &Snapshot,
    name: &hickory_proto::rr::Name,
    qtype: RecordType,
    request: &Request,
    ecs: Option<ecs::ClientSubnet>,
) -> Option<(DynamicAnswer, GslbTally)> {
    let model = &snap.model;
    let &service = model.gslb.by_name.get(name)?;
    let svc = &model.gslb.services[service];
    let asker = Asker {
        source: request.src().ip(),
        ecs: ecs.map(|cs| (cs.addr, cs.source_prefix)),
        seed: query_seed(request.metadata.id),
    };
    let (d, client) = answer(&snap.gslb_inputs(), svc, qtype, &asker, false)?;
    let records = match &d.cname {
        Some(target) => vec![Record::from_rdata(
            name.clone(),
            d.ttl,
            RData::CNAME(CNAME(target.clone())),
        )],
        None if svc.kind == ServiceKind::Cname => Vec::new(),
        None => d
            .addresses
            .iter()
            .map(|a| {
                let data = match a {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                };
                Record::from_rdata(name.clone(), d.ttl, data)
            })
            .collect(),
    };
    let tally = GslbTally {
        service,
        region: client.region,
        pool: d.pools.first().copied(),
        placement: d
            .depends_on
            .and_then(|p| ipnet::IpNet::new(client.addr, p).ok())
            .map(|n| n.trunc()),
    };
    let answer = DynamicAnswer {
        records,
        scope: d.scope,
    };
    Some((answer, tally))
}

/// Randomness for one query: its id mixed with a per-thread counter.
pub fn query_seed(id: u16) -> u64 {
    thread_local! {
        static COUNTER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        let v = c.get().wrapping_add(1);
        c.set(v);
        v
    });
    crate::hash::mix64(((id as u64) << 48) ^ n)
}

/// The records of an AXFR of `zone`, in messages of a bounded size: SOA first and last
/// (RFC 5936 §2.2), everything else between, owner names as in the zone file.
pub fn transfer_chunks(zone: &Zone) -> Vec<Vec<Record>> {
    let soa = zone
        .node(&zone.origin)
        .and_then(|n| n.get(RecordType::SOA))
        .and_then(|s| s.records.first().cloned());
    let Some(soa) = soa else {
        return Vec::new();
    };
    let mut names: Vec<_> = zone.nodes.keys().collect();
    names.sort();
    let mut chunks = vec![vec![soa.clone()]];
    let mut size = 0;
    for name in names {
        for set in &zone.nodes[name].rrsets {
            if set.rtype == RecordType::SOA && *name == zone.origin {
                continue;
            }
            for r in &set.records {
                let bound = r.name.len() + 12 + rdata_bound(&r.data).min(1024);
                if size + bound > 16 * 1024 {
                    chunks.push(Vec::new());
                    size = 0;
                }
                size += bound;
                chunks.last_mut().expect("one chunk").push(r.clone());
            }
        }
    }
    chunks
        .last_mut()
        .expect("one chunk")
        .extend(zone.nsec3.iter().cloned());
    chunks.last_mut().expect("one chunk").push(soa);
    chunks
}
