//! Who asks: the client address, its GeoIP location, and its region.
//!
//! - The client address is the EDNS Client Subnet address when the query carries one with a
//!   non-zero source prefix (already masked to that prefix), else the packet's source.
//!   IPv4-mapped IPv6 addresses are treated as IPv4.
//! - The region is the first match of: a region's `networks` (longest prefix), the GeoIP
//!   country in a region's `countries`, the GeoIP continent in a region's `continents`, else
//!   the default region.
//! - With the region comes the prefix over which that placement holds (for the ECS scope):
//!   the matched network rule (widened to the longest rule nested inside it), or the GeoIP
//!   network (widened to any rule nested inside it), or the full address width when nothing
//!   is known about the client's neighbours.

use super::{Gslb, RegionId};
use crate::geo::{GeoDb, Location};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// How the client's region was found.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionMatch {
    /// A region's `networks` entry.
    Network(IpNet),
    /// A region's `countries` entry.
    Country(String),
    /// A region's `continents` entry.
    Continent(String),
    /// Nothing matched.
    Default,
}

impl fmt::Display for RegionMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionMatch::Network(n) => write!(f, "network {n}"),
            RegionMatch::Country(c) => write!(f, "country {c}"),
            RegionMatch::Continent(c) => write!(f, "continent {c}"),
            RegionMatch::Default => f.write_str("no match: default region"),
        }
    }
}

/// The client as the policy chain sees it.
#[derive(Debug, Clone)]
pub struct Client {
    /// The address decisions are made for.
    pub addr: IpAddr,
    /// The ECS source prefix, when the query carried ECS.
    pub ecs_source: Option<u8>,
    /// GeoIP's answer for `addr`.
    pub location: Option<Location>,
    /// The client's region.
    pub region: RegionId,
    /// How the region was found.
    pub matched: RegionMatch,
    /// The prefix over which the region placement holds.
    pub region_prefix: u8,
    /// The prefix over which the GeoIP answer holds.
    pub geo_prefix: u8,
    /// Randomness for this query (weighted choices).
    pub seed: u64,
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// The longest prefix among `rules` nested inside `net` (or `net`'s own).
fn widen(net: IpNet, rules: &[(IpNet, RegionId, u8)]) -> u8 {
    rules
        .iter()
        .filter(|(r, _, _)| net.contains(&r.network()) && r.prefix_len() > net.prefix_len())
        .map(|(r, _, _)| r.prefix_len())
        .fold(net.prefix_len(), u8::max)
}

impl Client {
    /// Place `addr` (with the query's ECS source prefix, if any).
    pub fn locate(
        model: &Gslb,
        geo: &GeoDb,
        addr: IpAddr,
        ecs_source: Option<u8>,
        seed: u64,
    ) -> Client {
        let addr = addr.to_canonical();
        let full = width(addr);
        let location = geo.lookup(addr);
        let geo_prefix = location.as_ref().map_or(full, |l| l.network.prefix_len());
        let rules = &model.region_networks;
        let (region, matched, region_prefix) =
            if let Some((net, r, p)) = rules.iter().find(|(n, _, _)| n.contains(&addr)) {
                (*r, RegionMatch::Network(*net), *p)
            } else {
                let geo_scope = location.as_ref().map_or(full, |l| widen(l.network, rules));
                let by_country = location.as_ref().and_then(|l| {
                    let c = l.country?;
                    let r = model.region_by_country.get(&c)?;
                    Some((*r, RegionMatch::Country(c.to_string())))
                });
                let by_continent = || {
                    location.as_ref().and_then(|l| {
                        let c = l.continent?;
                        let r = model.region_by_continent.get(&c)?;
                        Some((*r, RegionMatch::Continent(c.to_string())))
                    })
                };
                match by_country.or_else(by_continent) {
                    Some((r, m)) => (r, m, geo_scope),
                    None => (model.default_region, RegionMatch::Default, geo_scope),
                }
            };
        Client {
            addr,
            ecs_source,
            location,
            region,
            matched,
            region_prefix,
            geo_prefix,
            seed,
        }
    }

    /// Lines describing the client, for traces.
    pub fn describe(&self, model: &Gslb) -> Vec<String> {
        let mut out = Vec::new();
        match self.ecs_source {
            Some(p) => out.push(format!("address {} (ECS /{p})", self.addr)),
            None => out.push(format!("address {} (packet source; no ECS)", self.addr)),
        }
        match &self.location {
            Some(l) => out.push(format!("geoip   {l}")),
            None => out.push("geoip   no match".into()),
        }
        out.push(format!(
            "region  {} ({}; holds for /{})",
            model
                .regions
                .get(self.region)
                .map_or("?", |r| r.name.as_str()),
            self.matched,
            self.region_prefix
        ));
        out
    }
}
