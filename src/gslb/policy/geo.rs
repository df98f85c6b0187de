//! `geo` — put the pools that serve the client's part of the world first.
//!
//! The client's region comes from the `[[region]]` tables (networks, then countries, then
//! continents, else the default region; see `src/gslb/client.rs`). Without settings, the
//! pools of the client's region come first, then the others in the service's `pools` order.
//! Settings in `[service.geo]` give explicit orders; the most specific match wins:
//!
//! ```toml
//! [service.geo]
//! networks  = { "10.20.0.0/16" = ["eu-west", "us-east"] }   # longest match first
//! countries = { GB = ["eu-west"], SG = ["ap-southeast", "eu-west"] }
//! regions   = { eu = ["eu-west", "us-east"], ap = ["ap-southeast", "us-east"] }
//! ```
//! Listed pools move to the front in the order given; unlisted ones keep their order after
//! them (so failover can still reach them). The step never drops a pool.
//!
//! ECS scope: the prefix of the network rule or GeoIP network that decided the order.

use super::{Candidates, Ctx, Notes};
use crate::geo::CountryCode;
use crate::gslb::{PoolId, RegionId};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// `[service.geo]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GeoConfig {
    /// Region name → pool order.
    #[serde(default)]
    pub regions: BTreeMap<String, Vec<String>>,
    /// Country code → pool order.
    #[serde(default)]
    pub countries: BTreeMap<String, Vec<String>>,
    /// Client network → pool order.
    #[serde(default)]
    pub networks: BTreeMap<String, Vec<String>>,
}

/// `[service.geo]` compiled to ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoRules {
    /// Region → pool order.
    pub regions: HashMap<RegionId, Vec<PoolId>>,
    /// Country → pool order.
    pub countries: HashMap<CountryCode, Vec<PoolId>>,
    /// Network → pool order, longest prefix first, with the prefix the match holds for.
    pub networks: Vec<(IpNet, Vec<PoolId>, u8)>,
}

/// Move `order`'s pools to the front, in that order.
pub fn prefer(cands: &mut Candidates, order: &[PoolId]) {
    cands.0.sort_by_key(|pc| {
        order
            .iter()
            .position(|&p| p == pc.pool)
            .unwrap_or(usize::MAX)
    });
}

/// Apply the step.
pub fn apply(ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let rules = &ctx.service.geo;
    let client = ctx.client;
    let model = ctx.model;
    if let Some((net, order, prefix)) = rules
        .networks
        .iter()
        .find(|(n, _, _)| n.contains(&client.addr))
    {
        notes.why(|| format!("client in {net}: explicit order"));
        notes.depends_on(*prefix);
        prefer(cands, order);
        return;
    }
    if let Some(country) = client.location.as_ref().and_then(|l| l.country)
        && let Some(order) = rules.countries.get(&country)
    {
        notes.why(|| format!("client country {country}: explicit order"));
        notes.depends_on(client.geo_prefix);
        prefer(cands, order);
        return;
    }
    notes.depends_on(client.region_prefix);
    let region = client.region;
    if let Some(order) = rules.regions.get(&region) {
        notes.why(|| {
            format!(
                "client region {}: explicit order",
                model.regions[region].name
            )
        });
        prefer(cands, order);
        return;
    }
    notes.why(|| format!("pools in region {} first", model.regions[region].name));
    cands
        .0
        .sort_by_key(|pc| model.pools[pc.pool].region != region);
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn region_pools_come_first() {
        let m = model();
        let h = all_up(&m);
        for (region, first) in [("eu", "eu-west"), ("ap", "ap-southeast"), ("us", "us-east")] {
            let out = run_steps(&m, "www", "geo", &client(&m, region), &h);
            assert!(
                names(&m, &out).starts_with(first),
                "{region}: {}",
                names(&m, &out)
            );
            assert_eq!(out.0.len(), 3, "geo never drops pools");
        }
    }
}
