//! The set of served zones, and which one a query name belongs to.

use super::Zone;
use super::wire::WireNames;
use hickory_proto::rr::Name;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// All served zones, by origin. Each zone also has a dense index (its position in the list
/// the set was built from), which per-zone counters ([`crate::counters`]) are indexed by.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    zones: Vec<Arc<Zone>>,
    by_origin: HashMap<Name, usize>,
    min_labels: u8,
    max_labels: u8,
    /// Every name in wire form, made when first asked for (the model asks once its zones
    /// are final); a change to a zone through [`ZoneSet::get_mut`] forgets it.
    wire: Arc<OnceLock<WireNames>>,
}

impl ZoneSet {
    /// A set of zones. Origins must be distinct (the loader checks).
    pub fn new(zones: Vec<Zone>) -> Self {
        let min_labels = zones
            .iter()
            .map(|z| z.origin.num_labels())
            .min()
            .unwrap_or(0);
        let max_labels = zones
            .iter()
            .map(|z| z.origin.num_labels())
            .max()
            .unwrap_or(0);
        let zones: Vec<Arc<Zone>> = zones.into_iter().map(Arc::new).collect();
        let by_origin = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin.clone(), i))
            .collect();
        Self {
            zones,
            by_origin,
            min_labels,
            max_labels,
            wire: Arc::default(),
        }
    }

    /// Every served name in wire form ([`super::wire`]).
    pub fn wire_names(&self) -> &WireNames {
        self.wire.get_or_init(|| WireNames::build(&self.zones))
    }

    /// The zone with the longest origin that `qname` is at or below.
    pub fn find(&self, qname: &Name) -> Option<&Arc<Zone>> {
        self.find_indexed(qname).map(|(_, z)| z)
    }

    /// [`ZoneSet::find`], with the zone's index.
    pub fn find_indexed(&self, qname: &Name) -> Option<(usize, &Arc<Zone>)> {
        let labels = qname.num_labels();
        if labels < self.min_labels || self.zones.is_empty() {
            return None;
        }
        let mut n = labels.min(self.max_labels);
        loop {
            let candidate = if n == labels {
                qname.clone()
            } else {
                qname.trim_to(n as usize)
            };
            if let Some(&i) = self.by_origin.get(&candidate) {
                return Some((i, &self.zones[i]));
            }
            if n == self.min_labels || n == 0 {
                return None;
            }
            n -= 1;
        }
    }

    /// The zone that answers `qname`/`qtype`: the most specific one, except that a DS query
    /// for the apex of a served zone goes to the served zone above it, if any (the DS RRset
    /// lives in the parent, RFC 4035 §3.1.4.1), as Knot and NSD do.
    pub fn find_for_query(
        &self,
        qname: &Name,
        qtype: hickory_proto::rr::RecordType,
    ) -> Option<(usize, &Arc<Zone>)> {
        let found = self.find_indexed(qname)?;
        if qtype == hickory_proto::rr::RecordType::DS
            && found.1.origin == *qname
            && !qname.is_root()
            && let Some(parent) = self.find_indexed(&qname.base_name())
        {
            return Some(parent);
        }
        Some(found)
    }

    /// The zones, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.iter()
    }

    /// How many zones are served.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// True when no zone is served.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

impl ZoneSet {
    /// The zone at `origin`, mutably, while the set is still being built (before it is
    /// shared). None when the zone is missing or already shared.
    pub fn get_mut(&mut self, origin: &Name) -> Option<&mut Zone> {
        let i = *self.by_origin.get(origin)?;
        let zone = Arc::get_mut(&mut self.zones[i])?;
        self.wire = Arc::default();
        Some(zone)
    }
}
