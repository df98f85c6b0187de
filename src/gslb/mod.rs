//! The GSLB model: regions, pools, endpoints and services, compiled from the config into
//! dense ids so the query path indexes vectors instead of hashing names.
//!
//! - [`build`]: config → [`Gslb`], checking every reference and range with its config line;
//! - [`client`]: who asks — the client address (ECS or source), GeoIP location, region;
//! - [`decide`](mod@decide): the answer for a service and client — runs the [`policy`] chain, applies the
//!   [`all_down`] rule, the [`ttl`] rule and the ECS scope rule;
//! - [`view`]: the health the chain reads, with operators' overrides ([`Force`]) laid over it;
//! - [`admission`]: which clients a pool takes while it ramps back or is over capacity;
//! - [`capacity`]: capacity arithmetic (admission, headroom, the loss of a region);
//! - [`target`]: `endpoint:`/`pool:`/`region:` names of what an override acts on.

pub mod admission;
pub mod all_down;
pub mod build;
pub mod capacity;
pub mod client;
pub mod decide;
pub mod policy;
pub mod target;
pub mod ttl;
pub mod view;

pub use client::{Client, RegionMatch};
pub use decide::decide;
pub use target::Target;
pub use view::{Force, Forced, HealthView};

pub use all_down::AllDown;

use crate::geo::{Continent, Coords, CountryCode};
use hickory_proto::rr::Name;
use ipnet::IpNet;
use policy::Step;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Index of a region in [`Gslb::regions`].
pub type RegionId = usize;
/// Index of a pool in [`Gslb::pools`].
pub type PoolId = usize;
/// Index of an endpoint in [`Gslb::endpoints`].
pub type EndpointId = usize;
/// Index of a service in [`Gslb::services`].
pub type ServiceId = usize;

/// A part of the world.
#[derive(Debug, Clone)]
pub struct Region {
    /// Its name.
    pub name: String,
    /// Its centre.
    pub coords: Coords,
}

/// A data center or cluster.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Its name.
    pub name: String,
    /// The region it is in.
    pub region: RegionId,
    /// Where it is.
    pub coords: Coords,
    /// Healthy fraction below which it is skipped.
    pub min_healthy: f64,
    /// CNAME target, for CNAME services.
    pub cname: Option<Name>,
    /// Queries per second it can serve, when declared (`[[pool]] capacity`).
    pub capacity: Option<f64>,
    /// Its endpoints.
    pub endpoints: Vec<EndpointId>,
}

/// One answerable address set.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name.
    pub name: String,
    /// The pool it belongs to.
    pub pool: PoolId,
    /// IPv4 addresses answered for A.
    pub v4: Vec<Ipv4Addr>,
    /// IPv6 addresses answered for AAAA.
    pub v6: Vec<Ipv6Addr>,
    /// Relative share; 0 = drained.
    pub weight: u32,
    /// The weight by time of day (`[[pool.endpoint.weight_schedule]]`); applied by the
    /// operations tick through the health view, never per query.
    pub weight_schedule: Vec<crate::config::schedule::WeightStep>,
    /// What health checks probe (None: not checked, always up).
    pub check: Option<crate::config::health::CheckSpec>,
}

impl Endpoint {
    /// Addresses of the family of `qtype` (A → IPv4, AAAA → IPv6).
    pub fn addresses(&self, v6: bool) -> Vec<IpAddr> {
        if v6 {
            self.v6.iter().map(|a| IpAddr::V6(*a)).collect()
        } else {
            self.v4.iter().map(|a| IpAddr::V4(*a)).collect()
        }
    }

    /// Whether it has an address of that family.
    pub fn has_family(&self, v6: bool) -> bool {
        if v6 {
            !self.v6.is_empty()
        } else {
            !self.v4.is_empty()
        }
    }
}

/// What a service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// A and/or AAAA records.
    Addresses {
        /// Answers A.
        a: bool,
        /// Answers AAAA.
        aaaa: bool,
    },
    /// A CNAME to the chosen pool's `cname`, for every query type.
    Cname,
}

/// A load-balanced name.
#[derive(Debug, Clone)]
pub struct Service {
    /// The name.
    pub name: Name,
    /// What it answers.
    pub kind: ServiceKind,
    /// TTL of answers ([`ttl`]).
    pub ttl: u32,
    /// Candidate pools, in the operator's order.
    pub pools: Vec<PoolId>,
    /// The policy chain, compiled.
    pub chain: Vec<Arc<dyn Step>>,
    /// What to answer when nothing is healthy.
    pub all_down: AllDown,
    /// True when any chain step depends on the client (else the ECS scope is 0 and every
    /// client gets the same answer).
    pub client_dependent: bool,
}

/// The compiled GSLB configuration.
#[derive(Debug, Clone, Default)]
pub struct Gslb {
    /// Regions.
    pub regions: Vec<Region>,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Services.
    pub services: Vec<Service>,
    /// Service by name.
    pub by_name: HashMap<Name, ServiceId>,
    /// Region client networks with the prefix the match holds for (longest first).
    pub region_networks: Vec<(IpNet, RegionId, u8)>,
    /// Region by country.
    pub region_by_country: HashMap<CountryCode, RegionId>,
    /// Region by continent.
    pub region_by_continent: HashMap<Continent, RegionId>,
    /// The default region.
    pub default_region: RegionId,
    /// Regions probed from this process.
    pub probers: Vec<RegionId>,
    /// Regions reported by remote agents.
    pub agent_regions: Vec<RegionId>,
    /// `[capacity] headroom`.
    pub headroom: f64,
    /// `[capacity] demand`: expected queries per second per region.
    pub demand: Vec<(RegionId, f64)>,
}

impl Gslb {
    /// The service at `name`, if any.
    pub fn service(&self, name: &Name) -> Option<&Service> {
        self.by_name.get(name).map(|&i| &self.services[i])
    }

    /// A pool by name.
    pub fn pool_id(&self, name: &str) -> Option<PoolId> {
        self.pools.iter().position(|p| p.name == name)
    }

    /// A region by name.
    pub fn region_id(&self, name: &str) -> Option<RegionId> {
        self.regions.iter().position(|r| r.name == name)
    }

    /// An endpoint by name.
    pub fn endpoint_id(&self, name: &str) -> Option<EndpointId> {
        self.endpoints.iter().position(|e| e.name == name)
    }

    /// The effective weight at `t` of every endpoint with a weight schedule, by name (what the
    /// operations tick hands the health engine at the scheduled instants).
    pub fn scheduled_weights(&self, t: std::time::SystemTime) -> Vec<(String, u32)> {
        self.endpoints
            .iter()
            .filter(|e| !e.weight_schedule.is_empty())
            .map(|e| {
                let w = crate::config::schedule::weight_at(&e.weight_schedule, e.weight, t);
                (e.name.clone(), w)
            })
            .collect()
    }
}
