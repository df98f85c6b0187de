//! Answering a name from a zone: RFC 1034 §4.3.2, with RFC 4592 wildcards, RFC 2308 negative
//! answers, RFC 6604 rcodes for CNAME chains and RFC 8482 minimal ANY.
//!
//! The steps, for a query name inside the zone:
//! 1. **Zone cut.** If the name is at or below a delegation (a non-apex NS set), the answer is
//!    a referral: no AA, the child's NS set in the authority section, glue (A/AAAA of the NS
//!    targets that the zone holds) in the additional section. The parent's data for names at
//!    or below the cut is never served. (A DS query *at* the cut is the parent's to answer.)
//! 2. **DNAME.** If a name above the query name (the apex included) holds a DNAME, and no cut
//!    is above it, the answer is the DNAME, a CNAME synthesized from it (owner the query name,
//!    target the name with the DNAME's owner replaced by its target, TTL the DNAME's), and the
//!    lookup goes on at that target as for a CNAME (RFC 6672 §3.2). A target too long to be a
//!    name gives YXDOMAIN. The topmost cut or DNAME wins: names below them are occluded.
//! 3. **Exact name.** If the node exists: the RRset of the asked type, else a CNAME (followed
//!    inside the zone, up to [`MAX_CNAME_HOPS`]), else NODATA (NOERROR, SOA in authority).
//!    An empty non-terminal exists, so it gives NODATA, not NXDOMAIN.
//! 4. **Wildcard.** Otherwise, if the closest existing ancestor has a `*` child, that node
//!    answers with the query name as owner.
//! 5. Otherwise NXDOMAIN with the SOA in authority.
//!
//! The SOA in negative answers has TTL = min(SOA TTL, SOA MINIMUM), see [`Zone::negative_soa`].
//! A CNAME chain ends when it leaves the zone (the resolver follows it), loops (a CNAME already
//! in the answer), or holds [`MAX_CNAME_HOPS`] CNAMEs; one that reaches a delegation ends with that referral (AA kept: the CNAMEs are ours).
//! The rcode and authority section are those of the last name looked up.
//!
//! For future online DNSSEC signing, [`Lookup::synthesized`] tells which answers were made up
//! per query (wildcard expansions, CNAMEs from a DNAME) and so need their own proof or no
//! signature, as opposed to RRsets served as they are in the zone.

use super::{Node, RRset, Zone};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How many CNAMEs (from the zone or synthesized from a DNAME) an answer holds at most; the
/// chain is not followed further. Knot's limit, which the differential test shows.
pub const MAX_CNAME_HOPS: usize = 5;

/// Per-query choices that change the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct LookupOptions {
    /// Answer ANY with a single RRset (RFC 8482), as over UDP.
    pub minimal_any: bool,
}

/// The result of looking a name up in a zone: sections and header bits of the response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup {
    /// NOERROR or NXDOMAIN.
    pub rcode: ResponseCode,
    /// False for referrals.
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (SOA for negative answers, NS for referrals).
    pub authority: Vec<Record>,
    /// The additional section (glue and addresses of NS/MX/SRV targets).
    pub additional: Vec<Record>,
    /// The ECS scope: the largest of the dynamic answers' scopes (0 for static data).
    pub scope: u8,
    /// Names whose answer was synthesized (a wildcard expansion or a CNAME from a DNAME),
    /// in the order met; for DNSSEC (wildcard proofs, unsigned synthesized CNAMEs).
    pub synthesized: Vec<Name>,
}

/// Records computed per query for a name (a GSLB service), replacing the zone's RRset of
/// that type. An empty list means NODATA for the type.
#[derive(Debug, Clone, Default)]
pub struct DynamicAnswer {
    /// The records (owner set by the lookup).
    pub records: Vec<Record>,
    /// The ECS scope prefix the answer holds for.
    pub scope: u8,
}

/// What was found for one name of a (possibly CNAME-chained) lookup.
enum Found<'z> {
    Node(&'z Node),
    Wildcard(&'z Node),
    Referral(&'z Node),
    /// A DNAME above the name: its owner (as stored) and node.
    Dname(&'z Name, &'z Node),
    NxDomain,
}

impl Zone {
    /// Answer `qname`/`qtype` from static data only. `qname` must be at or below the origin.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, opts: LookupOptions) -> Lookup {
        self.lookup_with(qname, qtype, opts, &mut |_, _| None)
    }

    /// Answer `qname`/`qtype`, asking `dynamic` first at every name reached (the query name
    /// and CNAME targets): when it answers, its records replace the zone's RRset of the type.
    pub fn lookup_with(
        &self,
        qname: &Name,
        qtype: RecordType,
        opts: LookupOptions,
        dynamic: &mut dyn FnMut(&Name, RecordType) -> Option<DynamicAnswer>,
    ) -> Lookup {
        let mut out = Lookup {
            rcode: ResponseCode::NoError,
            authoritative: true,
            ..Lookup::default()
        };
        let mut name = qname.clone();
        let mut hops = 0;
        loop {
            let node = match self.find(&name, qtype == RecordType::DS) {
                Found::Referral(node) => {
                    // A CNAME into a delegation keeps AA (the CNAME is ours) and adds the
                    // referral, as RFC 1034 §4.3.2 step 3b restarts at the target.
                    out.authoritative = hops > 0;
                    self.referral(node, &mut out);
                    return out;
                }
                Found::NxDomain => {
                    out.rcode = ResponseCode::NXDomain;
                    out.authority.push(self.negative_soa.clone());
                    return out;
                }
                Found::Dname(owner, node) => {
                    let (Some(set), Some(target)) = (node.get(RecordType::DNAME), &node.dname)
                    else {
                        return out;
                    };
                    if hops >= MAX_CNAME_HOPS {
                        return out;
                    }
                    // The DNAME once; the CNAMEs it makes count towards the chain limit (a
                    // DNAME that loops back on itself ends there, as in Knot).
                    if !out
                        .answers
                        .iter()
                        .any(|r| r.record_type() == RecordType::DNAME && r.name == *owner)
                    {
                        push_set(&mut out.answers, set, owner);
                    }
                    let ttl = set.records.first().map_or(0, |r| r.ttl);
                    let keep = (name.num_labels() - owner.num_labels()) as usize;
                    let synth = Name::from_labels(name.iter().take(keep))
                        .and_then(|prefix| prefix.append_domain(target));
                    let Ok(mut synth) = synth else {
                        // The substituted name would be too long (RFC 6672 §2.2).
                        out.rcode = ResponseCode::YXDomain;
                        return out;
                    };
                    synth.set_fqdn(true);
                    out.synthesized.push(name.clone());
                    out.answers.push(Record::from_rdata(
                        name.clone(),
                        ttl,
                        RData::CNAME(CNAME(synth.clone())),
                    ));
                    hops += 1;
                    if !self.origin.zone_of(&synth) || qtype == RecordType::CNAME {
                        return out;
                    }
                    name = synth;
                    continue;
                }
                Found::Wildcard(node) => {
                    out.synthesized.push(name.clone());
                    node
                }
                Found::Node(node) => node,
            };
            if qtype == RecordType::ANY {
                // ANY matches a CNAME itself: no chasing.
                let sets = node.rrsets.iter();
                let take = if opts.minimal_any { 1 } else { usize::MAX };
                let before = out.answers.len();
                for set in sets.take(take) {
                    push_set(&mut out.answers, set, &name);
                }
                if out.answers.len() == before {
                    out.authority.push(self.negative_soa.clone());
                }
                return out;
            }
            if let Some(dynamic) = dynamic(&name, qtype) {
                out.scope = out.scope.max(dynamic.scope);
                if dynamic.records.is_empty() {
                    out.authority.push(self.negative_soa.clone());
                }
                for mut r in dynamic.records {
                    r.name = name.clone();
                    out.answers.push(r);
                }
                return out;
            }
            if let Some(set) = node.get(qtype) {
                push_set(&mut out.answers, set, &name);
                self.additional_for(set, &mut out.additional);
                return out;
            }
            let Some(cname) = node.get(RecordType::CNAME).filter(|_| follows(qtype)) else {
                out.authority.push(self.negative_soa.clone());
                return out;
            };
            // The chain ends at the limit, or when this CNAME is already in the answer (a loop).
            let looped = out
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::CNAME && r.name == name);
            if hops >= MAX_CNAME_HOPS || looped {
                return out;
            }
            push_set(&mut out.answers, cname, &name);
            let Some(RData::CNAME(target)) = cname.records.first().map(|r| &r.data) else {
                return out;
            };
            let target = target.0.clone();
            hops += 1;
            if !self.origin.zone_of(&target) {
                return out;
            }
            name = target;
        }
    }

    /// Locate `name`: a delegation at or above it, a DNAME above it, the node itself, a
    /// wildcard, or nothing.
    fn find(&self, name: &Name, ds: bool) -> Found<'_> {
        if self.has_cuts || self.has_dnames {
            // Walk up to the apex; the topmost cut or DNAME wins (it occludes what is below).
            let mut found = None;
            let mut n = name.clone();
            let mut at_name = true;
            while n.num_labels() >= self.origin.num_labels() {
                let at_apex = n.num_labels() == self.origin.num_labels();
                // The apex is never a cut; it matters only for a DNAME there.
                let look = !at_apex || self.has_dnames;
                if look && let Some((key, node)) = self.nodes.get_key_value(&n) {
                    if node.is_cut && !(at_name && ds) {
                        found = Some(Found::Referral(node));
                    } else if node.dname.is_some() && !at_name {
                        found = Some(Found::Dname(key, node));
                    }
                }
                if at_apex {
                    break;
                }
                n = n.base_name();
                at_name = false;
            }
            if let Some(f) = found {
                return f;
            }
        }
        if let Some(node) = self.nodes.get(name) {
            return Found::Node(node);
        }
        if self.has_wildcards {
            let mut encloser = name.base_name();
            while self.origin.zone_of(&encloser) {
                if self.nodes.contains_key(&encloser) {
                    if let Ok(wild) = encloser.prepend_label("*")
                        && let Some(node) = self.nodes.get(&wild)
                    {
                        return Found::Wildcard(node);
                    }
                    break;
                }
                encloser = encloser.base_name();
            }
        }
        Found::NxDomain
    }

    /// A referral to the child zone at `cut`.
    fn referral(&self, node: &Node, out: &mut Lookup) {
        let Some(ns) = node.get(RecordType::NS) else {
            return;
        };
        out.authority.extend(ns.records.iter().cloned());
        for r in &ns.records {
            if let RData::NS(target) = &r.data {
                self.addresses_of(&target.0, &mut out.additional);
            }
        }
    }

    /// Addresses of the in-zone targets of NS, MX and SRV answers.
    fn additional_for(&self, set: &RRset, additional: &mut Vec<Record>) {
        for r in &set.records {
            let target = match &r.data {
                RData::NS(ns) => &ns.0,
                RData::MX(mx) => &mx.exchange,
                RData::SRV(srv) => &srv.target,
                _ => continue,
            };
            self.addresses_of(target, additional);
        }
    }

    /// Append the A and AAAA records the zone holds for `target` (glue included).
    fn addresses_of(&self, target: &Name, out: &mut Vec<Record>) {
        if !self.origin.zone_of(target) {
            return;
        }
        if let Some(node) = self.nodes.get(target) {
            for t in [RecordType::A, RecordType::AAAA] {
                if let Some(set) = node.get(t) {
                    for r in &set.records {
                        if !out.contains(r) {
                            out.push(r.clone());
                        }
                    }
                }
            }
        }
    }
}

/// Whether a CNAME at the name is followed for `qtype`: not when the CNAME itself (or its
/// signature or NSEC) is what was asked for, as Knot does.
fn follows(qtype: RecordType) -> bool {
    !matches!(
        qtype,
        RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC | RecordType::ANY
    )
}

/// Append `set` to `out` with `owner` as the owner name (the query name as asked, or the
/// name a wildcard was expanded for).
fn push_set(out: &mut Vec<Record>, set: &RRset, owner: &Name) {
    for r in &set.records {
        let mut r = r.clone();
        r.name = owner.clone();
        out.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load_zone_text;
    use super::*;
    use std::path::Path;

    const ZONE: &str = r#"$ORIGIN example.test.
$TTL 3600
@       SOA ns1 hostmaster 7 3600 600 86400 300
        NS  ns1
        NS  ns2.elsewhere.test.
        MX  10 mail
ns1     A   192.0.2.1
mail    A   192.0.2.25
        AAAA 2001:db8::25
www     A   192.0.2.80
alias   CNAME www
chain1  CNAME chain2
chain2  CNAME alias
dangling CNAME nowhere
outside CNAME www.example.org.
loop1   CNAME loop2
loop2   CNAME loop1
a.b.c   TXT "deep"
*.wild  A   192.0.2.99
exists.wild TXT "here"
x.ent.wild A 192.0.2.98
*.wcn   CNAME www
sub     NS  ns.sub
        NS  ns.other.test.
ns.sub  A   192.0.2.53
deep.sub A  192.0.2.54
"#;

    fn zone() -> Zone {
        load_zone_text(ZONE, Path::new("example.test.zone"), None).unwrap()
    }

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn q(name: &str, t: RecordType) -> Lookup {
        zone().lookup(&n(name), t, LookupOptions::default())
    }

    fn owners(rs: &[Record]) -> Vec<String> {
        rs.iter()
            .map(|r| format!("{} {}", r.name, r.record_type()))
            .collect()
    }

    #[test]
    fn hit_nodata_and_nxdomain() {
        let l = q("www.example.test.", RecordType::A);
        assert_eq!(
            (l.rcode, l.authoritative, l.answers.len()),
            (ResponseCode::NoError, true, 1)
        );
        let l = q("www.example.test.", RecordType::AAAA);
        assert_eq!((l.rcode, l.answers.len()), (ResponseCode::NoError, 0));
        assert_eq!(owners(&l.authority), vec!["example.test. SOA"]);
        assert_eq!(
            l.authority[0].ttl, 300,
            "negative SOA TTL is min(TTL, MINIMUM)"
        );
        let l = q("nope.example.test.", RecordType::A);
        assert_eq!(l.rcode, ResponseCode::NXDomain);
        assert_eq!(owners(&l.authority), vec!["example.test. SOA"]);
    }

    #[test]
    fn empty_non_terminal_is_nodata() {
        let l = q("b.c.example.test.", RecordType::A);
        assert_eq!(
            (l.rcode, l.answers.len(), l.authority.len()),
            (ResponseCode::NoError, 0, 1)
        );
    }

    #[test]
    fn query_case_is_kept_in_answers() {
        let l = q("WwW.Example.TEST.", RecordType::A);
        assert_eq!(l.answers[0].name.to_string(), "WwW.Example.TEST.");
    }

    #[test]
    fn cname_chains_are_followed_in_zone() {
        let l = q("chain1.example.test.", RecordType::A);
        assert_eq!(
            owners(&l.answers),
            vec![
                "chain1.example.test. CNAME",
                "chain2.example.test. CNAME",
                "alias.example.test. CNAME",
                "www.example.test. A"
            ]
        );
        let l = q("dangling.example.test.", RecordType::A);
        assert_eq!(l.rcode, ResponseCode::NXDomain);
        assert_eq!(l.answers.len(), 1);
        let l = q("outside.example.test.", RecordType::A);
        assert_eq!(
            (l.rcode, l.answers.len(), l.authority.len()),
            (ResponseCode::NoError, 1, 0)
        );
        let l = q("loop1.example.test.", RecordType::A);
        assert_eq!(l.answers.len(), 2);
        let l = q("alias.example.test.", RecordType::CNAME);
        assert_eq!(owners(&l.answers), vec!["alias.example.test. CNAME"]);
    }

    #[test]
    fn wildcards_synthesize_and_are_blocked_by_existing_names() {
        let l = q("anything.wild.example.test.", RecordType::A);
        assert_eq!(owners(&l.answers), vec!["anything.wild.example.test. A"]);
        let l = q("exists.wild.example.test.", RecordType::A);
        assert_eq!(
            (l.answers.len(), l.authority.len()),
            (0, 1),
            "existing name blocks"
        );
        let l = q("ent.wild.example.test.", RecordType::A);
        assert_eq!(
            (l.answers.len(), l.rcode),
            (0, ResponseCode::NoError),
            "ENT blocks"
        );
        let l = q("y.ent.wild.example.test.", RecordType::A);
        assert_eq!(
            l.rcode,
            ResponseCode::NXDomain,
            "wildcard applies only to its parent"
        );
        let l = q("foo.wcn.example.test.", RecordType::A);
        assert_eq!(
            owners(&l.answers),
            vec!["foo.wcn.example.test. CNAME", "www.example.test. A"]
        );
    }

    #[test]
    fn delegations_refer_with_glue_and_hide_parent_data() {
        for name in [
            "sub.example.test.",
            "deep.sub.example.test.",
            "x.y.sub.example.test.",
        ] {
            let l = q(name, RecordType::A);
            assert!(!l.authoritative, "{name}");
            assert!(l.answers.is_empty(), "{name}");
            assert_eq!(l.authority.len(), 2);
            assert_eq!(owners(&l.additional), vec!["ns.sub.example.test. A"]);
        }
        let l = q("sub.example.test.", RecordType::DS);
        assert!(l.authoritative, "DS at the cut is the parent's");
        assert_eq!(l.authority.len(), 1);
    }

    #[test]
    fn mx_answers_carry_target_addresses() {
        let l = q("example.test.", RecordType::MX);
        assert_eq!(
            owners(&l.additional),
            vec!["mail.example.test. A", "mail.example.test. AAAA"]
        );
    }

    #[test]
    fn dname_synthesizes_a_cname_and_follows_it() {
        let text = format!(
            "{ZONE}dn DNAME target\ntarget A 192.0.2.70\nx.target A 192.0.2.71\n\
             out DNAME example.net.\nself DNAME self.example.test.\n"
        );
        let z = load_zone_text(&text, Path::new("example.test.zone"), None).unwrap();
        let l = z.lookup(
            &n("x.dn.example.test."),
            RecordType::A,
            LookupOptions::default(),
        );
        assert_eq!(
            owners(&l.answers),
            vec![
                "dn.example.test. DNAME",
                "x.dn.example.test. CNAME",
                "x.target.example.test. A"
            ]
        );
        assert_eq!(l.synthesized, vec![n("x.dn.example.test.")]);
        let RData::CNAME(t) = &l.answers[1].data else {
            panic!()
        };
        assert_eq!(t.0, n("x.target.example.test."));
        // the DNAME owner itself is ordinary data
        let l = z.lookup(
            &n("dn.example.test."),
            RecordType::A,
            LookupOptions::default(),
        );
        assert_eq!((l.answers.len(), l.authority.len()), (0, 1));
        // NXDOMAIN at the target; CNAME queries stop at the synthesized CNAME
        let l = z.lookup(
            &n("nx.dn.example.test."),
            RecordType::A,
            LookupOptions::default(),
        );
        assert_eq!((l.rcode, l.answers.len()), (ResponseCode::NXDomain, 2));
        let l = z.lookup(
            &n("x.dn.example.test."),
            RecordType::CNAME,
            LookupOptions::default(),
        );
        assert_eq!((l.answers.len(), l.authority.len()), (2, 0));
        // out of the zone: the resolver goes on
        let l = z.lookup(
            &n("a.out.example.test."),
            RecordType::A,
            LookupOptions::default(),
        );
        assert_eq!(
            (l.rcode, l.answers.len(), l.authority.len()),
            (ResponseCode::NoError, 2, 0)
        );
        // a DNAME looping on itself ends at the chain limit: the DNAME once, 5 CNAMEs
        let l = z.lookup(
            &n("a.self.example.test."),
            RecordType::A,
            LookupOptions::default(),
        );
        assert_eq!(l.answers.len(), 1 + MAX_CNAME_HOPS);
        // too long: YXDOMAIN
        let long = format!(
            "{}.{}.{}.self.example.test.",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        let z2 = load_zone_text(
            &format!(
                "{ZONE}far DNAME {}.{}.example.test.\n",
                "d".repeat(63),
                "e".repeat(50)
            ),
            Path::new("example.test.zone"),
            None,
        )
        .unwrap();
        let q = long.replace("self", "far");
        let l = z2.lookup(&n(&q), RecordType::A, LookupOptions::default());
        assert_eq!((l.rcode, l.answers.len()), (ResponseCode::YXDomain, 1));
    }

    #[test]
    fn nested_zones_ds_goes_to_the_parent() {
        let parent = zone();
        let child = load_zone_text(
            "$TTL 60\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.9\n",
            Path::new("sub.example.test.zone"),
            None,
        )
        .unwrap();
        let set = super::super::ZoneSet::new(vec![parent, child]);
        let sub = n("sub.example.test.");
        let pick = |name: &Name, t| set.find_for_query(name, t).unwrap().1.origin.clone();
        assert_eq!(pick(&sub, RecordType::DS), n("example.test."));
        assert_eq!(pick(&sub, RecordType::NS), sub);
        assert_eq!(pick(&n("x.sub.example.test."), RecordType::DS), sub);
        assert_eq!(
            pick(&n("example.test."), RecordType::DS),
            n("example.test.")
        );
    }

    #[test]
    fn any_is_minimal_when_asked() {
        let z = zone();
        let min = LookupOptions { minimal_any: true };
        let l = z.lookup(&n("mail.example.test."), RecordType::ANY, min);
        assert_eq!(l.answers.len(), 1);
        let l = z.lookup(
            &n("mail.example.test."),
            RecordType::ANY,
            LookupOptions::default(),
        );
        assert_eq!(l.answers.len(), 2);
    }
}
