//! The set of served zones, and which one a query name belongs to.

use super::Zone;
use hickory_proto::rr::Name;
use std::collections::HashMap;
use std::sync::Arc;

/// All served zones, by origin.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    zones: HashMap<Name, Arc<Zone>>,
    min_labels: u8,
    max_labels: u8,
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
        let zones = zones
            .into_iter()
            .map(|z| (z.origin.clone(), Arc::new(z)))
            .collect();
        Self {
            zones,
            min_labels,
            max_labels,
        }
    }

    /// The zone with the longest origin that `qname` is at or below.
    pub fn find(&self, qname: &Name) -> Option<&Arc<Zone>> {
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
            if let Some(z) = self.zones.get(&candidate) {
                return Some(z);
            }
            if n == self.min_labels || n == 0 {
                return None;
            }
            n -= 1;
        }
    }

    /// The zones, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
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
        self.zones.get_mut(origin).and_then(Arc::get_mut)
    }
}
