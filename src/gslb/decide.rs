//! The answer for one service and one client.
//!
//! 1. Candidates: the service's pools in configured order, each with its endpoints that have
//!    an address of the asked family and a weight above 0. None → NODATA.
//! 2. The policy chain narrows and orders them ([`crate::gslb::policy`]).
//! 3. Nothing left → the service's `when_all_down` rule: `fail_open` runs the chain again as
//!    if everything were up; `fallback` answers the fixed addresses; `empty` answers NODATA.
//! 4. **TTL rule:** the service TTL, halved (at least 1 s) while the client is not getting
//!    the pool it would get with everything up — it is being failed over, or failed open —
//!    so that it comes back soon after the pool recovers (gdnsd halves TTLs the same way).
//! 5. **ECS scope rule (RFC 7871):** the widest prefix over which the same answer holds: the
//!    largest prefix any client-dependent step depended on, never more than the query's
//!    source prefix; 0 when no step depends on the client.

use super::policy::{self, Candidates, Ctx, PoolCand, Trace};
use super::{AllDown, Client, EndpointId, Gslb, HealthView, PoolId, Service, ServiceKind, ttl};
use crate::geo::GeoDb;
use hickory_proto::rr::{Name, RecordType};
use std::net::IpAddr;

/// What a GSLB answer is computed from: one snapshot's model, GeoIP and health.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// Regions, pools, endpoints, services.
    pub model: &'a Gslb,
    /// GeoIP.
    pub geo: &'a GeoDb,
    /// Health as served.
    pub health: &'a HealthView,
    /// Everything up (for `fail_open` and the TTL rule).
    pub everything_up: &'a HealthView,
}

/// Who asks, as the query says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    /// The packet's source address.
    pub source: IpAddr,
    /// The EDNS Client Subnet option: its address (masked to its source prefix) and its
    /// source prefix.
    pub ecs: Option<(IpAddr, u8)>,
    /// Randomness for `weighted` (replayable).
    pub seed: u64,
}

impl Asker {
    /// Parse `IP` (a query without ECS, from that address) or `IP/PREFIX` (a query whose ECS
    /// option carries that subnet) — the form `explain` takes everywhere.
    pub fn parse(text: &str) -> Result<Asker, String> {
        let bad = || format!("bad client `{text}`: want IP or IP/PREFIX");
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let ecs = match prefix {
            Some(p) => {
                let net = ipnet::IpNet::new(addr, p)
                    .map_err(|_| format!("bad client `{text}`: prefix /{p} is too long"))?;
                Some((net.trunc().addr(), p))
            }
            None => None,
        };
        Ok(Asker {
            source: addr,
            ecs,
            seed: 0,
        })
    }

    /// Place the asker: the ECS address when the option has a non-zero source prefix, else
    /// the packet's source (RFC 7871 §7.1.2: a /0 option asks for an answer for everyone).
    pub fn locate(&self, model: &Gslb, geo: &GeoDb) -> Client {
        let (addr, source) = match self.ecs {
            Some((addr, p)) if p > 0 => (addr, Some(p)),
            Some((_, p)) => (self.source, Some(p)),
            None => (self.source, None),
        };
        Client::locate(model, geo, addr, source, self.seed)
    }
}

/// Whether `svc` answers `qtype` itself, and for which family (`Some(true)`: IPv6 addresses;
/// `Some(false)`: IPv4 addresses or the CNAME). `None`: the name's static data answers
/// (NODATA when it has none).
pub fn family(svc: &Service, qtype: RecordType) -> Option<bool> {
    match (svc.kind, qtype) {
        (ServiceKind::Addresses { a: true, .. }, RecordType::A) => Some(false),
        (ServiceKind::Addresses { aaaa: true, .. }, RecordType::AAAA) => Some(true),
        (ServiceKind::Cname, RecordType::ANY | RecordType::AXFR | RecordType::IXFR) => None,
        (ServiceKind::Cname, _) => Some(false),
        _ => None,
    }
}

/// The answer of `svc` for `qtype` to `asker` — the one function the query path and
/// `explain` both call (`explain` = true adds the trace). `None` when the service does not
/// answer that type itself ([`family`]).
pub fn answer(
    inputs: &Inputs<'_>,
    svc: &Service,
    qtype: RecordType,
    asker: &Asker,
    explain: bool,
) -> Option<(Decision, Client)> {
    let v6 = family(svc, qtype)?;
    let client = asker.locate(inputs.model, inputs.geo);
    let d = decide(
        inputs.model,
        svc,
        v6,
        &client,
        inputs.health,
        inputs.everything_up,
        explain,
    );
    Some((d, client))
}

/// How the answer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// The chain chose.
    Chosen,
    /// Nothing was healthy; answered as if all were up.
    FailOpen,
    /// Nothing was healthy; answered the fallback addresses.
    Fallback,
    /// Nothing was healthy; answered NODATA.
    Empty,
    /// The service has no address of the asked family: NODATA.
    NoFamily,
}

/// A GSLB decision.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Addresses to answer (address services).
    pub addresses: Vec<IpAddr>,
    /// CNAME target (CNAME services).
    pub cname: Option<Name>,
    /// Endpoints answered, in order.
    pub endpoints: Vec<EndpointId>,
    /// Pools answered, in order.
    pub pools: Vec<PoolId>,
    /// TTL to answer with.
    pub ttl: u32,
    /// ECS scope prefix.
    pub scope: u8,
    /// How much of the client address the decision depended on, before capping by the
    /// query's ECS source prefix (`None`: the same answer for every client).
    pub depends_on: Option<u8>,
    /// How the answer came about.
    pub kind: AnswerKind,
    /// The trace, when asked for.
    pub trace: Option<Trace>,
}

/// The candidates before the chain: pools in order, endpoints of the family with weight
/// (drained endpoints, by weight 0 or by an override in `health`, are left out).
pub fn candidates(model: &Gslb, svc: &Service, v6: bool, health: &HealthView) -> Candidates {
    let cname = svc.kind == ServiceKind::Cname;
    let mut c = Candidates(
        svc.pools
            .iter()
            .map(|&p| PoolCand {
                pool: p,
                endpoints: model.pools[p]
                    .endpoints
                    .iter()
                    .copied()
                    .filter(|&e| {
                        let ep = &model.endpoints[e];
                        health.weight(e) > 0
                            && !health.is_drained(e)
                            && (cname || ep.has_family(v6))
                    })
                    .collect(),
            })
            .collect(),
        None,
    );
    c.prune();
    c
}

/// Decide the answer for `svc` to `client`, asking for IPv6 (`v6`) or IPv4 addresses.
/// `everything_up` is the all-up view (for `fail_open` and the TTL rule).
pub fn decide(
    model: &Gslb,
    svc: &Service,
    v6: bool,
    client: &Client,
    health: &HealthView,
    everything_up: &HealthView,
    explain: bool,
) -> Decision {
    let mut trace = explain.then(|| Trace {
        client: client.describe(model),
        ..Trace::default()
    });
    let start = candidates(model, svc, v6, health);
    let mut d = Decision {
        addresses: Vec::new(),
        cname: None,
        endpoints: Vec::new(),
        pools: Vec::new(),
        ttl: svc.ttl,
        scope: 0,
        depends_on: None,
        kind: AnswerKind::Chosen,
        trace: None,
    };
    if start.is_empty() {
        d.kind = AnswerKind::NoFamily;
        if let Some(t) = trace.as_mut() {
            t.outcome.push(format!(
                "no endpoint has an {} address: NODATA",
                if v6 { "IPv6" } else { "IPv4" }
            ));
        }
        d.trace = trace;
        return d;
    }
    let ctx = Ctx {
        model,
        client,
        health,
        v6,
    };
    let mut cands = start.clone();
    let mut scope = policy::run(&svc.chain, &ctx, &mut cands, trace.as_mut());
    let degraded_pool = |cands: &Candidates| {
        // What would the client get with everything up?
        let ctx_up = Ctx {
            health: everything_up,
            ..ctx
        };
        let mut ideal = start.clone();
        policy::run(&svc.chain, &ctx_up, &mut ideal, None);
        let first = |c: &Candidates| c.0.first().map(|p| p.pool);
        (first(&ideal) != first(cands))
            .then(|| first(&ideal))
            .flatten()
    };
    if cands.is_empty() {
        match &svc.all_down {
            AllDown::FailOpen => {
                let ctx_up = Ctx {
                    health: everything_up,
                    ..ctx
                };
                cands = start.clone();
                scope = policy::run(&svc.chain, &ctx_up, &mut cands, None);
                d.kind = AnswerKind::FailOpen;
            }
            AllDown::Fallback(_) => {
                d.addresses = svc.all_down.fallback(v6);
                d.kind = AnswerKind::Fallback;
                scope = None;
            }
            AllDown::Empty => {
                d.kind = AnswerKind::Empty;
                scope = None;
            }
        }
        d.ttl = ttl::answer_ttl(svc.ttl, true);
        if let Some(t) = trace.as_mut() {
            t.outcome.push(format!(
                "nothing healthy: when_all_down = {}",
                svc.all_down.word()
            ));
        }
    } else if svc
        .pools
        .iter()
        .any(|&p| health.pool_up(p) < model.pools[p].endpoints.len())
        && let Some(ideal) = degraded_pool(&cands)
    {
        d.ttl = ttl::answer_ttl(svc.ttl, true);
        if let Some(t) = trace.as_mut() {
            t.outcome.push(format!(
                "TTL halved: {} would answer with everything up",
                model.pools[ideal].name
            ));
        }
    }
    d.pools = cands.0.iter().map(|p| p.pool).collect();
    d.endpoints = cands.endpoints().collect();
    match svc.kind {
        ServiceKind::Cname => {
            d.cname = d.pools.first().and_then(|&p| model.pools[p].cname.clone());
        }
        ServiceKind::Addresses { .. } => {
            if d.kind != AnswerKind::Fallback {
                d.addresses = d
                    .endpoints
                    .iter()
                    .flat_map(|&e| model.endpoints[e].addresses(v6))
                    .collect();
                if let Some(n) = cands.1 {
                    d.addresses.truncate(n);
                }
            }
        }
    }
    d.depends_on = scope;
    d.scope = match (scope, client.ecs_source) {
        (Some(s), Some(src)) => s.min(src),
        _ => 0,
    };
    if let Some(t) = trace.as_mut() {
        let what = match &d.cname {
            Some(c) => format!("CNAME {c}"),
            None if d.addresses.is_empty() => "NODATA".to_string(),
            None => d
                .addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        };
        t.outcome.push(what);
        t.outcome
            .push(format!("ttl {}  ecs scope /{}", d.ttl, d.scope));
    }
    d.trace = trace;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::policy::testing::*;

    fn www(m: &Gslb) -> &Service {
        m.service(&svc_name("www")).unwrap()
    }

    fn down_all(m: &Gslb, h: &mut HealthView) {
        for e in 0..m.endpoints.len() {
            h.set_up(e, false);
        }
    }

    #[test]
    fn healthy_answer_has_full_ttl_and_region_scope() {
        let m = model();
        let h = all_up(&m);
        let d = decide(&m, www(&m), false, &client(&m, "eu"), &h, &h, false);
        assert_eq!(d.kind, AnswerKind::Chosen);
        assert_eq!(d.addresses.len(), 1);
        assert!(d.addresses[0].to_string().starts_with("198.51.100."));
        assert_eq!(d.ttl, 30);
        assert_eq!(d.scope, 24, "geo depends on the client's /24 here");
        let d = decide(&m, www(&m), true, &client(&m, "eu"), &h, &h, false);
        assert_eq!(d.addresses, vec![ip("2001:db8:20::10")]);
    }

    #[test]
    fn failover_halves_the_ttl() {
        let m = model();
        let up = all_up(&m);
        let mut h = up.clone();
        for e in ["eu-west-a", "eu-west-b"] {
            h.set_up(ep(&m, e), false);
        }
        let d = decide(&m, www(&m), false, &client(&m, "eu"), &h, &up, true);
        assert!(
            d.addresses[0].to_string().starts_with("192.0.2."),
            "{:?}",
            d.addresses
        );
        assert_eq!(d.ttl, 15);
        assert!(d.trace.unwrap().to_string().contains("TTL halved"));
        // a client whose pool is fine keeps the full TTL
        let d = decide(&m, www(&m), false, &client(&m, "ap"), &h, &up, false);
        assert_eq!(d.ttl, 30);
    }

    #[test]
    fn all_down_modes() {
        let mut m = model();
        let up = all_up(&m);
        let mut h = up.clone();
        down_all(&m, &mut h);
        let s = m.by_name[&svc_name("www")];
        // fail_open: answered as if all were up, TTL halved.
        let d = decide(&m, &m.services[s], false, &client(&m, "eu"), &h, &up, false);
        assert_eq!(d.kind, AnswerKind::FailOpen);
        assert!(d.addresses[0].to_string().starts_with("198.51.100."));
        assert_eq!(d.ttl, 15);
        // fallback: the fixed addresses of the family.
        m.services[s].all_down = AllDown::Fallback(vec![ip("192.0.2.99"), ip("2001:db8::99")]);
        let d = decide(&m, &m.services[s], false, &client(&m, "eu"), &h, &up, false);
        assert_eq!(
            (d.kind, d.addresses.clone()),
            (AnswerKind::Fallback, vec![ip("192.0.2.99")])
        );
        assert_eq!(d.scope, 0);
        // empty: NODATA.
        m.services[s].all_down = AllDown::Empty;
        let d = decide(&m, &m.services[s], false, &client(&m, "eu"), &h, &up, false);
        assert_eq!(d.kind, AnswerKind::Empty);
        assert!(d.addresses.is_empty());
    }

    #[test]
    fn scope_is_zero_without_client_dependent_steps_and_capped_by_source() {
        let mut m = model();
        let h = all_up(&m);
        let s = m.by_name[&svc_name("www")];
        m.services[s].chain = chain(&m, "www", "health failover first_n");
        let d = decide(&m, &m.services[s], false, &client(&m, "eu"), &h, &h, false);
        assert_eq!(d.scope, 0);
        m.services[s].chain = chain(&m, "www", "health geo failover weighted first_n");
        let mut c = client(&m, "eu");
        c.ecs_source = Some(16);
        let d = decide(&m, &m.services[s], false, &c, &h, &h, false);
        assert_eq!(d.scope, 16, "never longer than the query's source prefix");
        c.ecs_source = None;
        let d = decide(&m, &m.services[s], false, &c, &h, &h, false);
        assert_eq!(d.scope, 0);
    }

    #[test]
    fn drained_endpoints_are_never_answered() {
        let mut m = model();
        let e = ep(&m, "api-us-a");
        m.endpoints[e].weight = 0;
        let h = all_up(&m);
        let svc = m.service(&svc_name("api")).unwrap().clone();
        for seed in 0..200 {
            let mut c = client(&m, "us");
            c.seed = seed;
            let d = decide(&m, &svc, false, &c, &h, &h, false);
            assert_eq!(d.addresses, vec![ip("192.0.2.21")]);
        }
    }
}
