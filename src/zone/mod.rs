//! Zones: the static data ayadns is authoritative for, and how names in it are answered.
//!
//! A zone file (RFC 1035 master format) is read by [`reader`] (our tokenizer and directives,
//! NLnet Labs' `domain` for the record data of each type, see [`rdata`]) and checked by [`load`]
//! into a [`Zone`]: a hash map from owner name to [`Node`]. Every name between a record's owner and the
//! apex is a node too (an *empty non-terminal*), so "does this name exist?" is one hash lookup
//! and NXDOMAIN costs what a hit costs, however large the zone. [`lookup`] implements the
//! answer semantics of RFC 1034 §4.3.2 with RFC 4592 wildcards, RFC 6672 DNAME and RFC 2308
//! negative answers; [`ZoneSet`] finds the zone for a query name (the parent for DS at a cut).
//!
//! Zones are immutable once built: a reload builds new ones and swaps them in.

pub mod load;
pub mod lookup;
pub mod rdata;
pub mod reader;
mod set;
pub mod wire;

pub use load::{load_zone_file, load_zone_file_with, origin_from_file_name};
pub use lookup::{DynamicAnswer, Lookup, LookupOptions};
pub use reader::ReadOptions;
pub use set::ZoneSet;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::path::PathBuf;

/// One RRset: all records of one type at one owner.
#[derive(Debug, Clone)]
pub struct RRset {
    /// The type of every record in the set.
    pub rtype: RecordType,
    /// The records, owner names as written in the zone file.
    pub records: Vec<Record>,
}

/// Everything at one owner name.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// RRsets, at most one per type. Empty for an empty non-terminal.
    pub rrsets: Vec<RRset>,
    /// True when this (non-apex) name holds an NS set: a zone cut, delegated elsewhere.
    pub is_cut: bool,
    /// The target of this name's DNAME (RFC 6672), which redirects every name below it.
    pub dname: Option<Name>,
}

impl Node {
    /// The RRset of type `rtype`, if any.
    pub fn get(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }
}

/// A loaded zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The apex (the owner of the SOA).
    pub origin: Name,
    /// The file it came from (for messages and `check`).
    pub source: PathBuf,
    /// Owner name → node (case-insensitive: hickory's `Name` hashes and compares that way).
    pub nodes: HashMap<Name, Node>,
    /// The SOA as served for negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
    pub negative_soa: Record,
    /// True when the zone delegates any name, so lookups must look for cuts.
    pub has_cuts: bool,
    /// True when the zone holds any wildcard owner.
    pub has_wildcards: bool,
    /// True when the zone holds any DNAME, so lookups must look for one above the name.
    pub has_dnames: bool,
    /// Number of records, for logs and status.
    pub record_count: usize,
    /// NSEC3 records and the RRSIGs over them. They live in their own hashed namespace
    /// (RFC 5155 §7.2): their owners are not names of the zone, so they are kept out of
    /// [`Zone::nodes`], served only in transfers (and, later, as denial proofs).
    pub nsec3: Vec<Record>,
}

/// True for records that belong to the NSEC3 chain rather than to the zone's names.
fn is_nsec3_chain(r: &Record) -> bool {
    match r.record_type() {
        RecordType::NSEC3 => true,
        RecordType::RRSIG => match &r.data {
            // RRSIG is kept as wire data: the type covered is its first two octets.
            RData::Unknown { rdata, .. } => rdata.anything.get(..2) == Some(&[0, 50][..]),
            _ => false,
        },
        _ => false,
    }
}

impl Zone {
    /// Build a zone from parsed records. `records` must all be at or below `origin`; the
    /// loader checks that and the other rules with line numbers before calling this.
    pub fn from_records(origin: Name, source: PathBuf, records: Vec<Record>) -> Option<Zone> {
        let mut nodes: HashMap<Name, Node> = HashMap::new();
        let record_count = records.len();
        nodes.entry(origin.clone()).or_default();
        let (nsec3, records): (Vec<Record>, Vec<Record>) =
            records.into_iter().partition(is_nsec3_chain);
        for record in records {
            let owner = record.name.clone();
            // Every name between the owner and the apex exists (empty non-terminals).
            let mut ancestor = owner.base_name();
            while ancestor.num_labels() > origin.num_labels() && !nodes.contains_key(&ancestor) {
                nodes.insert(ancestor.clone(), Node::default());
                ancestor = ancestor.base_name();
            }
            let node = nodes.entry(owner).or_default();
            let rtype = record.record_type();
            match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
                Some(set) => {
                    if !set.records.iter().any(|r| r.data == record.data) {
                        set.records.push(record)
                    }
                }
                None => node.rrsets.push(RRset {
                    rtype,
                    records: vec![record],
                }),
            }
        }
        let mut has_cuts = false;
        let mut has_wildcards = false;
        let mut has_dnames = false;
        for (name, node) in nodes.iter_mut() {
            node.is_cut = *name != origin && node.get(RecordType::NS).is_some();
            has_cuts |= node.is_cut;
            node.dname = node
                .get(RecordType::DNAME)
                .and_then(|s| s.records.first())
                .and_then(|r| rdata::dname_target(&r.data));
            has_dnames |= node.dname.is_some();
            has_wildcards |= name.is_wildcard();
            node.rrsets.sort_by_key(|s| u16::from(s.rtype));
        }
        let soa = nodes.get(&origin)?.get(RecordType::SOA)?.records.first()?;
        let mut negative_soa = soa.clone();
        if let RData::SOA(s) = &soa.data {
            negative_soa.ttl = soa.ttl.min(s.minimum);
        }
        Some(Zone {
            origin,
            source,
            nodes,
            negative_soa,
            has_cuts,
            has_wildcards,
            has_dnames,
            record_count,
            nsec3,
        })
    }

    /// The node at `name`, if the name exists in the zone.
    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The serial of the zone's SOA.
    pub fn serial(&self) -> u32 {
        match &self.negative_soa.data {
            RData::SOA(s) => s.serial,
            _ => 0,
        }
    }
}

impl Zone {
    /// Make `name` (and the names between it and the apex) exist, with no records of its
    /// own: for names whose data is computed per query (GSLB services).
    pub fn ensure_node(&mut self, name: &Name) {
        let mut n = name.clone();
        while n.num_labels() > self.origin.num_labels() && !self.nodes.contains_key(&n) {
            self.nodes.insert(n.clone(), Node::default());
            n = n.base_name();
        }
    }
}
