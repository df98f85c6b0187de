//! The counters whose labels come from one model (zones, services, regions, pools), by that
//! model's dense ids, and their sums by label names.

use super::AnswerKey;
use super::striped::Striped;
use super::{GslbTally, PROTOCOLS, QTYPES, RCODES};
use crate::gslb::PoolId;
use crate::model::Model;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Per-model tables
// ---------------------------------------------------------------------------------------------

/// Counters whose labels come from one model, by dense ids.
pub(crate) struct Table {
    /// Zone origins by index; index `zones.len()` is "no zone" (label "").
    pub(crate) zones: Vec<String>,
    /// (zone, qtype, rcode, protocol).
    pub(crate) queries: Striped,
    pub(crate) services: Vec<String>,
    /// The same names, shared with the samples (no allocation when sampling).
    pub(crate) service_names: Vec<std::sync::Arc<str>>,
    regions: Vec<String>,
    /// Pool names by [`PoolId`].
    pools: Vec<String>,
    /// Per service: its pools (answer slots in this order; one more slot for "no pool").
    service_pools: Vec<Vec<PoolId>>,
    /// Per service: where its slots start in `answers`.
    service_base: Vec<usize>,
    /// (service, pool slot, region).
    pub(crate) answers: Striped,
}

/// Counts by label names, summed over tables.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// (zone, qtype index, rcode index, protocol index).
    pub queries: BTreeMap<(String, usize, usize, usize), u64>,
    /// (service, region, pool).
    pub answers: BTreeMap<AnswerKey, u64>,
}

const PER_ZONE: usize = QTYPES.len() * RCODES.len() * PROTOCOLS.len();

impl Table {
    pub(crate) fn new(model: &Model) -> Self {
        let zones: Vec<String> = model.zones.iter().map(|z| z.origin.to_string()).collect();
        let g = &model.gslb;
        let regions: Vec<String> = g.regions.iter().map(|r| r.name.clone()).collect();
        let service_pools: Vec<Vec<PoolId>> = g.services.iter().map(|s| s.pools.clone()).collect();
        let mut service_base = Vec::with_capacity(service_pools.len());
        let mut next = 0;
        for pools in &service_pools {
            service_base.push(next);
            next += (pools.len() + 1) * regions.len();
        }
        Self {
            queries: Striped::new((zones.len() + 1) * PER_ZONE),
            zones,
            services: g.services.iter().map(|s| s.name.to_string()).collect(),
            service_names: g
                .services
                .iter()
                .map(|s| s.name.to_string().into())
                .collect(),
            pools: g.pools.iter().map(|p| p.name.clone()).collect(),
            regions,
            service_pools,
            service_base,
            answers: Striped::new(next),
        }
    }

    #[inline]
    pub(crate) fn query_index(
        &self,
        zone: Option<usize>,
        qtype: usize,
        rcode: usize,
        tcp: bool,
    ) -> usize {
        let z = zone
            .filter(|&z| z < self.zones.len())
            .unwrap_or(self.zones.len());
        ((z * QTYPES.len() + qtype) * RCODES.len() + rcode) * PROTOCOLS.len() + tcp as usize
    }

    #[inline]
    pub(crate) fn answer_index(&self, g: &GslbTally) -> Option<usize> {
        let pools = self.service_pools.get(g.service)?;
        if g.region >= self.regions.len() {
            return None;
        }
        let slot = g
            .pool
            .and_then(|p| pools.iter().position(|&x| x == p))
            .unwrap_or(pools.len());
        Some(self.service_base[g.service] + slot * self.regions.len() + g.region)
    }

    /// Add every non-zero count to `totals`, by name.
    pub(crate) fn add_to(&self, totals: &mut Totals) {
        for z in 0..=self.zones.len() {
            let zone = self.zones.get(z).map_or("", String::as_str);
            for q in 0..QTYPES.len() {
                for r in 0..RCODES.len() {
                    for p in 0..PROTOCOLS.len() {
                        let v = self.queries.get(self.query_index(Some(z), q, r, p == 1));
                        if v > 0 {
                            *totals
                                .queries
                                .entry((zone.to_string(), q, r, p))
                                .or_default() += v;
                        }
                    }
                }
            }
        }
        for (s, pools) in self.service_pools.iter().enumerate() {
            for slot in 0..=pools.len() {
                let pool = pools.get(slot).map_or("", |&p| self.pools[p].as_str());
                for (r, region) in self.regions.iter().enumerate() {
                    let i = self.service_base[s] + slot * self.regions.len() + r;
                    let v = self.answers.get(i);
                    if v > 0 {
                        *totals
                            .answers
                            .entry(AnswerKey {
                                service: self.services[s].clone(),
                                region: region.clone(),
                                pool: pool.to_string(),
                            })
                            .or_default() += v;
                    }
                }
            }
        }
    }
}
