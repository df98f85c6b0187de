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
        let (addr, source) = self.address();
        Client::locate(model, geo, addr, source, self.seed)
    }

    /// The address decisions are made for (IPv4-mapped addresses as IPv4), and the ECS
    /// source prefix when the query carried ECS.
    pub fn address(&self) -> (IpAddr, Option<u8>) {
        let (addr, source) = match self.ecs {
            Some((addr, p)) if p > 0 => (addr, Some(p)),
            Some((_, p)) => (self.source, Some(p)),
            None => (self.source, None),
        };
        (addr.to_canonical(), source)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnswerKind {
    /// The chain chose.
    #[default]
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

fn merge(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The part of a decision that is the same for every query from one client network while the
/// model, GeoIP and health stay as they are: the candidates, and what the chain's steps up to
/// the first seeded one ([`policy::Word::seeded`], e.g. `weighted`) made of them — with
/// health as served and, when some pool of the service is below full strength, with
/// everything up (what `fail_open` and the TTL rule compare against). [`Plan::draw`] runs the
/// rest of the chain with one query's seed and applies the all-down, TTL and scope rules.
///
/// [`decide`] is a plan drawn once; the UDP path keeps plans per client network (the prefix
/// [`Plan::holds_for`]) and draws per query, so a GSLB query costs one lookup and the seeded
/// steps.
#[derive(Debug, Clone)]
pub struct Plan {
    v6: bool,
    /// Index of the first seeded step (the chain's length when none).
    split: usize,
    /// No endpoint has an address of the family (NODATA).
    no_family: bool,
    /// After the steps before `split` with health as served, and the prefix they depended on.
    served: Candidates,
    served_scope: Option<u8>,
    /// The same with everything up, when some pool is below full strength.
    up: Option<(Candidates, Option<u8>)>,
}

/// One query's draw from a [`Plan`]: storage a caller may keep and reuse, so drawing
/// allocates nothing once it has grown to the service's size.
#[derive(Debug, Default, Clone)]
pub struct Drawn {
    /// Pools and endpoints answered, in order (`cands.1`: at most this many addresses).
    pub cands: Candidates,
    /// What the client would get with everything up (scratch for the TTL rule).
    ideal: Candidates,
    /// How the answer came about.
    pub kind: AnswerKind,
    /// TTL to answer with.
    pub ttl: u32,
    /// The client prefix the answer depended on (before capping by the ECS source prefix).
    pub depends_on: Option<u8>,
    /// The client prefix the steps after the plan depended on: when set, the draw holds for
    /// the plan's client only (its plan cannot be shared by a network).
    pub rest_depends_on: Option<u8>,
}

impl Plan {
    /// Plan `svc`'s answer to `client` for IPv6 (`v6`) or IPv4 addresses.
    pub fn new(
        model: &Gslb,
        svc: &Service,
        v6: bool,
        client: &Client,
        health: &HealthView,
        everything_up: &HealthView,
        trace: Option<&mut Trace>,
    ) -> Plan {
        let split = svc
            .chain
            .iter()
            .position(|s| s.seeded())
            .unwrap_or(svc.chain.len());
        let start = candidates(model, svc, v6, health);
        let mut plan = Plan {
            v6,
            split,
            no_family: start.is_empty(),
            served: Candidates::default(),
            served_scope: None,
            up: None,
        };
        if plan.no_family {
            return plan;
        }
        let ctx = Ctx {
            model,
            client,
            health,
            v6,
            seed: client.seed,
        };
        let prefix = &svc.chain[..split];
        let mut served = start.clone();
        plan.served_scope = policy::run(prefix, &ctx, &mut served, trace);
        plan.served = served;
        let full = svc
            .pools
            .iter()
            .all(|&p| health.pool_up(p) >= model.pools[p].endpoints.len());
        if !full {
            let ctx_up = Ctx {
                health: everything_up,
                ..ctx
            };
            let mut up = start;
            let scope = policy::run(prefix, &ctx_up, &mut up, None);
            plan.up = Some((up, scope));
        }
        plan
    }

    /// The longest client prefix any part of the plan depended on: every client in the same
    /// network of this length gets the same plan (`None`: every client does).
    pub fn holds_for(&self) -> Option<u8> {
        merge(self.served_scope, self.up.as_ref().and_then(|u| u.1))
    }

    /// Whether a draw may depend on the client beyond [`Plan::holds_for`]: a seeded step
    /// is followed by one that depends on the client (then plans cannot be shared).
    pub fn client_dependent_after_split(&self, svc: &Service) -> bool {
        svc.chain[self.split..]
            .iter()
            .any(|s| policy::word(s.word()).is_some_and(|w| w.client_dependent && !w.seeded))
    }

    /// The answer for one query with `seed`, into `out` (its storage is reused).
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        &self,
        model: &Gslb,
        svc: &Service,
        client: &Client,
        health: &HealthView,
        everything_up: &HealthView,
        seed: u64,
        mut trace: Option<&mut Trace>,
        out: &mut Drawn,
    ) {
        out.ttl = svc.ttl;
        out.depends_on = None;
        out.rest_depends_on = None;
        out.kind = AnswerKind::Chosen;
        if self.no_family {
            out.cands.0.clear();
            out.cands.1 = None;
            out.kind = AnswerKind::NoFamily;
            if let Some(t) = trace {
                t.outcome.push(format!(
                    "no endpoint has an {} address: NODATA",
                    if self.v6 { "IPv6" } else { "IPv4" }
                ));
            }
            return;
        }
        let ctx = Ctx {
            model,
            client,
            health,
            v6: self.v6,
            seed,
        };
        let ctx_up = Ctx {
            health: everything_up,
            ..ctx
        };
        let rest = &svc.chain[self.split..];
        out.cands.clone_from(&self.served);
        out.rest_depends_on = policy::run(rest, &ctx, &mut out.cands, trace.as_deref_mut());
        let mut scope = merge(self.served_scope, out.rest_depends_on);
        if out.cands.is_empty() {
            match &svc.all_down {
                AllDown::FailOpen => {
                    let (up, up_scope) = self.up.as_ref().expect("below strength: planned");
                    out.cands.clone_from(up);
                    let rest_scope = policy::run(rest, &ctx_up, &mut out.cands, None);
                    out.rest_depends_on = merge(out.rest_depends_on, rest_scope);
                    scope = merge(*up_scope, rest_scope);
                    out.kind = AnswerKind::FailOpen;
                }
                AllDown::Fallback(_) => {
                    out.kind = AnswerKind::Fallback;
                    scope = None;
                }
                AllDown::Empty => {
                    out.kind = AnswerKind::Empty;
                    scope = None;
                }
            }
            out.ttl = ttl::answer_ttl(svc.ttl, true);
            if let Some(t) = trace.as_mut() {
                t.outcome.push(format!(
                    "nothing healthy: when_all_down = {}",
                    svc.all_down.word()
                ));
            }
        } else if let Some((up, _)) = &self.up {
            // What would the client get with everything up?
            out.ideal.clone_from(up);
            let rest_scope = policy::run(rest, &ctx_up, &mut out.ideal, None);
            out.rest_depends_on = merge(out.rest_depends_on, rest_scope);
            let first = |c: &Candidates| c.0.first().map(|p| p.pool);
            if let Some(ideal) =
                first(&out.ideal).filter(|_| first(&out.ideal) != first(&out.cands))
            {
                out.ttl = ttl::answer_ttl(svc.ttl, true);
                if let Some(t) = trace.as_mut() {
                    t.outcome.push(format!(
                        "TTL halved: {} would answer with everything up",
                        model.pools[ideal].name
                    ));
                }
            }
        }
        out.depends_on = scope;
    }
}

impl Drawn {
    /// The addresses answered, in order (none for CNAME services and NODATA).
    pub fn addresses<'a>(
        &'a self,
        model: &'a Gslb,
        svc: &'a Service,
        v6: bool,
    ) -> impl Iterator<Item = IpAddr> + 'a {
        let fallback = match (&svc.all_down, self.kind) {
            (AllDown::Fallback(list), AnswerKind::Fallback) => &list[..],
            _ => &[],
        };
        let chosen = match (self.kind, svc.kind) {
            (AnswerKind::Chosen | AnswerKind::FailOpen, ServiceKind::Addresses { .. }) => {
                Some(self.cands.endpoints())
            }
            _ => None,
        };
        let limit = match self.kind {
            AnswerKind::Fallback => usize::MAX,
            _ => self.cands.1.unwrap_or(usize::MAX),
        };
        fallback
            .iter()
            .copied()
            .filter(move |a| a.is_ipv6() == v6)
            .chain(chosen.into_iter().flatten().flat_map(move |e| {
                let ep = &model.endpoints[e];
                let v4 = (!v6).then(|| ep.v4.iter().map(|a| IpAddr::V4(*a)));
                let v6s = v6.then(|| ep.v6.iter().map(|a| IpAddr::V6(*a)));
                v4.into_iter().flatten().chain(v6s.into_iter().flatten())
            }))
            .take(limit)
    }

    /// The ECS scope prefix of the answer for a query whose ECS source prefix is `source`.
    pub fn scope(&self, source: Option<u8>) -> u8 {
        match (self.depends_on, source) {
            (Some(s), Some(src)) => s.min(src),
            _ => 0,
        }
    }
}

/// Decide the answer for `svc` to `client`, asking for IPv6 (`v6`) or IPv4 addresses.
/// `everything_up` is the all-up view (for `fail_open` and the TTL rule). A [`Plan`] drawn
/// once with the client's seed.
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
    let plan = Plan::new(
        model,
        svc,
        v6,
        client,
        health,
        everything_up,
        trace.as_mut(),
    );
    let mut drawn = Drawn::default();
    plan.draw(
        model,
        svc,
        client,
        health,
        everything_up,
        client.seed,
        trace.as_mut(),
        &mut drawn,
    );
    let mut d = Decision {
        addresses: drawn.addresses(model, svc, v6).collect(),
        cname: None,
        endpoints: Vec::new(),
        pools: Vec::new(),
        ttl: drawn.ttl,
        scope: drawn.scope(client.ecs_source),
        depends_on: drawn.depends_on,
        kind: drawn.kind,
        trace: None,
    };
    if matches!(drawn.kind, AnswerKind::Chosen | AnswerKind::FailOpen) {
        d.pools = drawn.cands.0.iter().map(|p| p.pool).collect();
        d.endpoints = drawn.cands.endpoints().collect();
    }
    if svc.kind == ServiceKind::Cname {
        d.cname = d.pools.first().and_then(|&p| model.pools[p].cname.clone());
    }
    if d.kind == AnswerKind::NoFamily {
        d.trace = trace;
        return d;
    }
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

    /// The query path's tables against the chain: for random chains (every step, seeded
    /// ones in any position), random health and latency, every `when_all_down`, random
    /// clients with and without ECS: a plan made for one client and drawn for another client
    /// of the network it holds for gives, for every seed, exactly what [`decide`] gives that
    /// other client — addresses, TTL, ECS scope, kind and pools. (Checked to fail when a
    /// plan's network is widened by one bit, or when the all-up run is left out.)
    #[test]
    fn plans_shared_by_a_network_answer_what_the_chain_answers() {
        use crate::hash::mix64;
        let chains = [
            "\"health\", \"geo\", \"failover\", \"weighted\", \"first_n\"",
            "\"health\", \"nearest\", \"weighted\", \"first_n\"",
            "\"health\", \"latency\", \"failover\", \"weighted\"",
            "\"health\", \"sticky\", \"first_n\"",
            "\"weighted\", \"health\", \"geo\", \"failover\", \"first_n\"",
            "\"health\", \"geo\", \"weighted\", \"failover\", \"first_n\"",
            "\"geo\", \"nearest\", \"health\", \"failover\"",
            "\"failover\", \"weighted\"",
        ];
        let all_down = [
            "",
            "when_all_down = \"empty\"\n",
            "when_all_down = \"fallback\"\nfallback = [\"192.0.2.99\", \"2001:db8::99\"]\n",
        ];
        let networks = crate::gslb::policy::testing::SAMPLE_CLIENTS;
        let geo = crate::gslb::policy::testing::sample_geo();
        let mut rng = 11u64;
        let mut next = |n: u64| {
            rng = mix64(rng);
            rng % n
        };
        let (mut shared, mut checked) = (0, 0);
        for round in 0..400 {
            let chain = chains[next(chains.len() as u64) as usize];
            let extra = all_down[next(3) as usize];
            let model = policy::testing::model_with(&format!("{extra}chain = [{chain}]\n"));
            let svc = model.service(&policy::testing::svc_name("www")).unwrap();
            let up = HealthView::all_up(&model);
            let mut health = up.clone();
            let down_one_in = [2, 4, 100][next(3) as usize];
            for e in 0..model.endpoints.len() {
                health.set_up(e, next(down_one_in) != 0);
            }
            for r in 0..model.regions.len() {
                for p in 0..model.pools.len() {
                    health.set_latency(r, p, 1.0 + next(200) as f64);
                }
            }
            let inputs = Inputs {
                model: &model,
                geo: &geo,
                health: &health,
                everything_up: &up,
            };
            let base: IpAddr = networks[next(networks.len() as u64) as usize]
                .parse()
                .unwrap();
            let width = if base.is_ipv4() { 32 } else { 128 };
            let ecs = match next(4) {
                0 => None,
                1 => Some(width),
                2 => Some(if base.is_ipv4() { 24 } else { 56 }),
                _ => Some(next(width as u64 + 1) as u8),
            };
            let ask = |addr: IpAddr, seed: u64| {
                let ecs = ecs.map(|p| (ipnet::IpNet::new(addr, p).unwrap().trunc().addr(), p));
                Asker {
                    source: addr,
                    ecs,
                    seed,
                }
            };
            let a = ask(base, 0);
            let client = a.locate(&model, &geo);
            for v6 in [false, true] {
                let plan = Plan::new(&model, svc, v6, &client, &health, &up, None);
                if plan.client_dependent_after_split(svc) {
                    continue;
                }
                // Another address of the network the plan holds for.
                let (addr, _) = a.address();
                let other = match plan.holds_for() {
                    None => {
                        let same: Vec<IpAddr> = networks
                            .iter()
                            .map(|n| n.parse::<IpAddr>().unwrap())
                            .filter(|n| n.is_ipv4() == addr.is_ipv4())
                            .collect();
                        same[next(same.len() as u64) as usize]
                    }
                    Some(len) => {
                        let bits = u128::from(next(u64::MAX)) << 64 | u128::from(next(u64::MAX));
                        match addr {
                            IpAddr::V4(v4) => {
                                let keep = u32::MAX.checked_shl(32 - len as u32).unwrap_or(0);
                                let n = (u32::from(v4) & keep) | (bits as u32 & !keep);
                                IpAddr::from(std::net::Ipv4Addr::from(n))
                            }
                            IpAddr::V6(v6a) => {
                                let keep = u128::MAX.checked_shl(128 - len as u32).unwrap_or(0);
                                let n = (u128::from(v6a) & keep) | (bits & !keep);
                                IpAddr::from(std::net::Ipv6Addr::from(n))
                            }
                        }
                    }
                };
                if other != addr {
                    shared += 1;
                }
                let mut drawn = Drawn::default();
                for seed in 0..8u64 {
                    let seed = mix64(seed ^ round);
                    let b = ask(other, seed);
                    let qtype = if v6 { RecordType::AAAA } else { RecordType::A };
                    let Some((d, bc)) = answer(&inputs, svc, qtype, &b, false) else {
                        continue;
                    };
                    plan.draw(&model, svc, &client, &health, &up, seed, None, &mut drawn);
                    if drawn.rest_depends_on.is_some() {
                        continue; // the query path answers these the general way
                    }
                    let addrs: Vec<IpAddr> = drawn.addresses(&model, svc, v6).collect();
                    let pools: Vec<PoolId> = match drawn.kind {
                        AnswerKind::Chosen | AnswerKind::FailOpen => {
                            drawn.cands.0.iter().map(|p| p.pool).collect()
                        }
                        _ => Vec::new(),
                    };
                    let what = format!(
                        "round {round}: chain [{chain}] {extra}client {other} (plan from {addr}), \
                         ecs {ecs:?}, v6 {v6}, holds for {:?}",
                        plan.holds_for()
                    );
                    assert_eq!(addrs, d.addresses, "{what}");
                    assert_eq!(drawn.ttl, d.ttl, "{what}");
                    assert_eq!(drawn.kind, d.kind, "{what}");
                    assert_eq!(drawn.scope(bc.ecs_source), d.scope, "{what}");
                    assert_eq!(pools, d.pools, "{what}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 3000, "only {checked} draws checked");
        assert!(
            shared > 300,
            "only {shared} plans checked from another address"
        );
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
