//! Compiling `[[region]]`, `[[pool]]`, `[[service]]` and `[health]` into a [`Gslb`], checking
//! every name reference and range. Each problem names the config line of the offending value;
//! all of them are reported together.

use super::policy::{self, Compile, Step};
use super::{AllDown, Endpoint, Gslb, Pool, PoolId, Region, RegionId, Service, ServiceKind, ttl};
use crate::config::Config;
use crate::config::gslb::ServiceConfig;
use crate::diag::Diagnostics;
use crate::geo::{Continent, CountryCode};
use crate::zone::ZoneSet;
use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;
use std::ops::Range;
use std::sync::Arc;

/// The widest prefix each rule's match holds for: its own, or the longest rule nested in it.
pub(crate) fn effective_prefixes<T: Clone>(rules: &[(IpNet, T)]) -> Vec<(IpNet, T, u8)> {
    let mut out: Vec<(IpNet, T, u8)> = rules
        .iter()
        .map(|(n, t)| {
            let p = rules
                .iter()
                .filter(|(m, _)| n.contains(&m.network()) && m.prefix_len() > n.prefix_len())
                .map(|(m, _)| m.prefix_len())
                .fold(n.prefix_len(), u8::max);
            (n.trunc(), t.clone(), p)
        })
        .collect();
    out.sort_by_key(|(n, _, _)| std::cmp::Reverse(n.prefix_len()));
    out
}

fn coords_ok(c: [f64; 2]) -> bool {
    (-90.0..=90.0).contains(&c[0]) && (-180.0..=180.0).contains(&c[1])
}

struct Checker<'a> {
    config: &'a Config,
    problems: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, msg: String) {
        self.problems.push(self.config.diag_at(span, msg));
    }
}

/// Build the GSLB model. Problems go to `problems`; the result is only meaningful when none
/// were added. Service names are added to their zones as nodes (so other types get NODATA).
pub fn build(config: &Config, zones: &mut ZoneSet, problems: &mut Diagnostics) -> Gslb {
    let mut c = Checker { config, problems };
    let mut g = Gslb::default();

    // Regions.
    let mut region_rules: Vec<(IpNet, RegionId)> = Vec::new();
    let mut defaults = Vec::new();
    for rc in &config.regions {
        let name = rc.name.get_ref().clone();
        if g.region_id(&name).is_some() {
            c.err(rc.name.span(), format!("region `{name}` is defined twice"));
        }
        let loc = *rc.location.get_ref();
        if !coords_ok(loc) {
            c.err(
                rc.location.span(),
                format!("region `{name}`: location {loc:?} is not [latitude, longitude]"),
            );
        }
        let id = g.regions.len();
        for cont in &rc.continents {
            match Continent::from_code(cont.get_ref()) {
                Some(k) => {
                    if g.region_by_continent.insert(k, id).is_some() {
                        c.err(
                            cont.span(),
                            format!("continent {} is in two regions", cont.get_ref()),
                        );
                    }
                }
                None => c.err(
                    cont.span(),
                    format!(
                        "unknown continent code `{}` (AF AN AS EU NA OC SA)",
                        cont.get_ref()
                    ),
                ),
            }
        }
        for country in &rc.countries {
            match CountryCode::new(country.get_ref()) {
                Some(k) => {
                    if g.region_by_country.insert(k, id).is_some() {
                        c.err(
                            country.span(),
                            format!("country {} is in two regions", country.get_ref()),
                        );
                    }
                }
                None => c.err(
                    country.span(),
                    format!("`{}` is not a two-letter country code", country.get_ref()),
                ),
            }
        }
        region_rules.extend(rc.networks.iter().map(|n| (*n, id)));
        if rc.default {
            defaults.push(rc.name.span());
        }
        g.regions.push(Region {
            name,
            coords: (loc[0], loc[1]),
        });
    }
    g.region_networks = effective_prefixes(&region_rules);
    match defaults.as_slice() {
        [] if !g.regions.is_empty() => c.err(
            config.regions[0].name.span(),
            "no region has `default = true`: one must take clients that match none".into(),
        ),
        [_, second, ..] => c.err(
            second.clone(),
            "more than one region has `default = true`".into(),
        ),
        _ => {}
    }
    g.default_region = config.regions.iter().position(|r| r.default).unwrap_or(0);

    // Probers: regions probed here, and regions reported by remote agents.
    for (list, agents) in [
        (&config.health.probers, false),
        (&config.health.agents, true),
    ] {
        for p in list {
            match g.region_id(p.get_ref()) {
                Some(r) if agents => g.agent_regions.push(r),
                Some(r) => g.probers.push(r),
                None => c.err(
                    p.span(),
                    format!("prober region `{}` is not a [[region]]", p.get_ref()),
                ),
            }
        }
    }
    if config.health.timeout >= config.health.interval {
        c.err(0..0, "[health] timeout must be less than interval".into());
    }

    // Pools and endpoints.
    for pc in &config.pools {
        let name = pc.name.get_ref().clone();
        if g.pool_id(&name).is_some() {
            c.err(pc.name.span(), format!("pool `{name}` is defined twice"));
        }
        let region = match g.region_id(pc.region.get_ref()) {
            Some(r) => r,
            None => {
                c.err(
                    pc.region.span(),
                    format!(
                        "pool `{name}` is in unknown region `{}`",
                        pc.region.get_ref()
                    ),
                );
                0
            }
        };
        let coords = match &pc.location {
            Some(l) => {
                if !coords_ok(*l.get_ref()) {
                    c.err(
                        l.span(),
                        format!("pool `{name}`: location is not [latitude, longitude]"),
                    );
                }
                (l.get_ref()[0], l.get_ref()[1])
            }
            None => g.regions.get(region).map_or((0.0, 0.0), |r| r.coords),
        };
        let mh = *pc.min_healthy.get_ref();
        if !(0.0..=1.0).contains(&mh) {
            c.err(
                pc.min_healthy.span(),
                format!("pool `{name}`: min_healthy {mh} is not between 0 and 1"),
            );
        }
        let cname = pc
            .cname
            .as_ref()
            .and_then(|cn| match Name::from_ascii(cn.get_ref()) {
                Ok(mut n) => {
                    n.set_fqdn(true);
                    Some(n)
                }
                Err(e) => {
                    c.err(
                        cn.span(),
                        format!("pool `{name}`: cname `{}` is not a name: {e}", cn.get_ref()),
                    );
                    None
                }
            });
        let capacity = pc.capacity.as_ref().map(|cap| {
            let v = *cap.get_ref();
            if !(1.0..=crate::config::capacity::MAX_QPS).contains(&v) {
                c.err(
                    cap.span(),
                    format!(
                        "pool `{name}`: capacity {v} is not between 1 and 1e9 queries per second"
                    ),
                );
            }
            v
        });
        let pool_id = g.pools.len();
        let mut endpoints = Vec::new();
        if pc.endpoints.is_empty() {
            c.err(
                pc.name.span(),
                format!("pool `{name}` has no [[pool.endpoint]]"),
            );
        }
        for ec in &pc.endpoints {
            let ename = ec.name.get_ref().clone();
            if g.endpoint_id(&ename).is_some() {
                c.err(
                    ec.name.span(),
                    format!("endpoint `{ename}` is defined twice"),
                );
            }
            let w = *ec.weight.get_ref();
            if w < 0 {
                c.err(
                    ec.weight.span(),
                    format!("endpoint `{ename}`: weight {w} is negative (0 drains it)"),
                );
            } else if w > u32::MAX as i64 {
                c.err(
                    ec.weight.span(),
                    format!("endpoint `{ename}`: weight {w} is too large"),
                );
            }
            if ec.addresses.get_ref().is_empty() {
                c.err(
                    ec.addresses.span(),
                    format!("endpoint `{ename}` has no addresses"),
                );
            }
            if let Some(chk) = &ec.check
                && let Err(e) = chk.get_ref().0.validate(&config.health)
            {
                c.err(
                    chk.span(),
                    format!("endpoint `{}`: check: {e}", ec.name.get_ref()),
                );
            }
            let weight_schedule = crate::config::schedule::compile_weights(
                &ec.weight_schedule,
                &ename,
                &mut |span, msg| c.err(span, msg),
            );
            let mut ep = Endpoint {
                name: ename,
                pool: pool_id,
                v4: Vec::new(),
                v6: Vec::new(),
                weight: w.clamp(0, u32::MAX as i64) as u32,
                weight_schedule,
                check: ec.check.as_ref().map(|s| s.get_ref().0.clone()),
            };
            for a in ec.addresses.get_ref() {
                match a {
                    std::net::IpAddr::V4(v4) => ep.v4.push(*v4),
                    std::net::IpAddr::V6(v6) => ep.v6.push(*v6),
                }
            }
            endpoints.push(g.endpoints.len());
            g.endpoints.push(ep);
        }
        g.pools.push(Pool {
            name,
            region,
            coords,
            min_healthy: mh,
            cname,
            capacity,
            endpoints,
        });
    }

    // [capacity].
    let cap = &config.capacity;
    g.headroom = *cap.headroom.get_ref();
    if !(1.0..=10.0).contains(&g.headroom) {
        c.err(
            cap.headroom.span(),
            format!("[capacity] headroom {} is not between 1 and 10", g.headroom),
        );
    }
    for (region, qps) in &cap.demand {
        let v = *qps.get_ref();
        match g.region_id(region) {
            Some(r) if (0.0..=crate::config::capacity::MAX_QPS).contains(&v) => {
                g.demand.push((r, v))
            }
            Some(_) => c.err(
                qps.span(),
                format!("[capacity] demand of `{region}`: {v} is not between 0 and 1e9 queries per second"),
            ),
            None => c.err(
                qps.span(),
                format!("[capacity] demand names `{region}`, which is not a region"),
            ),
        }
    }

    // Services.
    let doc = config.document();
    for (index, sc) in config.services.iter().enumerate() {
        let raw = sc.name.get_ref();
        let name = match Name::from_ascii(raw) {
            Ok(mut n) => {
                n.set_fqdn(true);
                n
            }
            Err(e) => {
                c.err(
                    sc.name.span(),
                    format!("service name `{raw}` is not a name: {e}"),
                );
                continue;
            }
        };
        if g.by_name.contains_key(&name) {
            c.err(sc.name.span(), format!("service {name} is defined twice"));
        }
        check_zone_place(&mut c, zones, &name, sc.name.span());

        let mut a = false;
        let mut aaaa = false;
        let mut cname = false;
        for t in sc.types.get_ref() {
            match t.to_ascii_uppercase().as_str() {
                "A" => a = true,
                "AAAA" => aaaa = true,
                "CNAME" => cname = true,
                other => c.err(
                    sc.types.span(),
                    format!("service {name}: type `{other}` is not A, AAAA or CNAME"),
                ),
            }
        }
        if cname && (a || aaaa) {
            c.err(
                sc.types.span(),
                format!("service {name}: CNAME cannot be combined with A/AAAA"),
            );
        }
        let kind = if cname {
            ServiceKind::Cname
        } else {
            ServiceKind::Addresses { a, aaaa }
        };

        let mut pools = Vec::new();
        for p in sc.pools.get_ref() {
            match g.pool_id(p) {
                Some(id) => pools.push(id),
                None => c.err(
                    sc.pools.span(),
                    format!("service {name}: unknown pool `{p}`"),
                ),
            }
        }
        if sc.pools.get_ref().is_empty() {
            c.err(sc.pools.span(), format!("service {name} has no pools"));
        }
        if cname {
            for &p in &pools {
                if g.pools[p].cname.is_none() {
                    c.err(
                        sc.types.span(),
                        format!(
                            "service {name} answers CNAME but pool `{}` has no `cname`",
                            g.pools[p].name
                        ),
                    );
                }
            }
        }

        let answers = sc.answers;
        let compile_source = (config, &doc, index);
        let chain = compile_chain(&mut c, &g, sc, &name, &pools, answers, compile_source);
        let all_down = AllDown::compile(config, sc, c.problems);
        if sc.ttl > ttl::MAX {
            c.err(
                sc.name.span(),
                format!("service {name}: ttl {} is above {}", sc.ttl, ttl::MAX),
            );
        }
        let client_dependent = chain
            .iter()
            .any(|s| policy::word(s.word()).is_some_and(|w| w.client_dependent));
        g.by_name.insert(name.clone(), g.services.len());
        g.services.push(Service {
            name,
            kind,
            ttl: sc.ttl,
            pools,
            chain,
            all_down,
            client_dependent,
        });
    }
    g
}

/// A service must sit inside a served zone, not at or below a delegation, and not where the
/// zone has a CNAME. Its name becomes a node of the zone.
fn check_zone_place(c: &mut Checker<'_>, zones: &mut ZoneSet, name: &Name, span: Range<usize>) {
    let Some(origin) = zones.find(name).map(|z| z.origin.clone()) else {
        c.err(span, format!("service {name} is outside every served zone"));
        return;
    };
    let Some(zone) = zones.get_mut(&origin) else {
        return;
    };
    let mut n = name.clone();
    while n.num_labels() > zone.origin.num_labels() {
        if zone.node(&n).is_some_and(|node| node.is_cut) {
            c.err(
                span.clone(),
                format!("service {name} is at or below the delegation {n}"),
            );
            return;
        }
        n = n.base_name();
    }
    if zone
        .node(name)
        .is_some_and(|node| node.get(RecordType::CNAME).is_some())
    {
        c.err(
            span,
            format!("service {name} also has a CNAME in zone {}", zone.origin),
        );
        return;
    }
    zone.ensure_node(name);
}

/// Compile the service's chain: every word known, every settings table owned by a word of
/// the chain, each step's settings read and checked by the step.
fn compile_chain(
    c: &mut Checker<'_>,
    g: &Gslb,
    sc: &ServiceConfig,
    name: &Name,
    pools: &[PoolId],
    answers: usize,
    source: (&Config, &crate::config::Document<'_>, usize),
) -> Vec<Arc<dyn Step>> {
    let words: Vec<(String, Range<usize>)> = match &sc.chain {
        None => policy::DEFAULT_CHAIN
            .iter()
            .map(|w| (w.to_string(), sc.name.span()))
            .collect(),
        Some(list) => list
            .get_ref()
            .iter()
            .map(|w| (w.clone(), list.span()))
            .collect(),
    };
    for table in &sc.settings {
        if !words.iter().any(|(w, _)| w == table.get_ref()) {
            let msg = match policy::word(table.get_ref()) {
                Some(_) => format!(
                    "service {name}: [service.{}] is set but `{}` is not in its chain",
                    table.get_ref(),
                    table.get_ref()
                ),
                None => format!(
                    "service {name}: unknown table [service.{}] (chain steps: {})",
                    table.get_ref(),
                    policy::known_words()
                ),
            };
            c.err(table.span(), msg);
        }
    }
    let mut chain = Vec::new();
    for (w, span) in words {
        let Some(word) = policy::word(&w) else {
            c.err(
                span,
                format!(
                    "service {name}: unknown chain step `{w}` (known: {})",
                    policy::known_words()
                ),
            );
            continue;
        };
        let mut cx = Compile {
            model: g,
            service: name,
            pools,
            answers,
            at: span,
            source: Some(source),
            problems: c.problems,
        };
        if let Some(step) = (word.compile)(&mut cx) {
            chain.push(step);
        }
    }
    chain
}
