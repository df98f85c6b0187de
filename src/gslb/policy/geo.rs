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

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use crate::geo::CountryCode;
use crate::gslb::build::effective_prefixes;
use crate::gslb::{PoolId, RegionId};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "geo",
    client_dependent: true,
    seeded: false,
    compile,
};

/// `[service.geo]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
struct Settings {
    /// Region name → pool order.
    #[serde(default)]
    regions: BTreeMap<String, Vec<String>>,
    /// Country code → pool order.
    #[serde(default)]
    countries: BTreeMap<String, Vec<String>>,
    /// Client network → pool order.
    #[serde(default)]
    networks: BTreeMap<String, Vec<String>>,
}

/// `[service.geo]` compiled to ids: the step.
#[derive(Debug, Clone, Default, PartialEq)]
struct Rules {
    /// Region → pool order.
    regions: HashMap<RegionId, Vec<PoolId>>,
    /// Country → pool order.
    countries: HashMap<CountryCode, Vec<PoolId>>,
    /// Network → pool order, longest prefix first, with the prefix the match holds for.
    networks: Vec<(IpNet, Vec<PoolId>, u8)>,
}

fn compile(cx: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    let cfg: Settings = cx.settings(WORD.word)?;
    let mut rules = Rules::default();
    let mut ok = true;
    let mut problem = |cx: &mut Compile<'_>, msg: String| {
        let msg = format!("service {}: [service.geo] {msg}", cx.service);
        cx.err(cx.at.clone(), msg);
        ok = false;
    };
    let mut order = |cx: &mut Compile<'_>, list: &[String]| -> Vec<PoolId> {
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        for p in list {
            match cx.model.pool_id(p) {
                Some(id) if seen.insert(id) => ids.push(id),
                Some(_) => {}
                None => problem(cx, format!("names unknown pool `{p}`")),
            }
        }
        ids
    };
    let mut regions = Vec::new();
    for (region, list) in &cfg.regions {
        regions.push((region, order(cx, list)));
    }
    let mut countries = Vec::new();
    for (country, list) in &cfg.countries {
        countries.push((country, order(cx, list)));
    }
    let mut networks = Vec::new();
    for (net, list) in &cfg.networks {
        networks.push((net, order(cx, list)));
    }
    let mut nets = Vec::new();
    for (region, ids) in regions {
        match cx.model.region_id(region) {
            Some(r) => {
                rules.regions.insert(r, ids);
            }
            None => problem(cx, format!("names unknown region `{region}`")),
        }
    }
    for (country, ids) in countries {
        match CountryCode::new(country) {
            Some(k) => {
                rules.countries.insert(k, ids);
            }
            None => problem(cx, format!("`{country}` is not a country code")),
        }
    }
    for (net, ids) in networks {
        match net.parse::<IpNet>() {
            Ok(n) => nets.push((n, ids)),
            Err(e) => problem(cx, format!("`{net}` is not a network: {e}")),
        }
    }
    rules.networks = effective_prefixes(&nets);
    ok.then(|| Compiled::step(WORD.word, rules, apply))
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

fn apply(rules: &Rules, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
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
