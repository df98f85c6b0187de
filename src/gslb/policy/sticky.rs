//! `sticky` — the same client subnet gets the same answer, and few clients move when a pool
//! or endpoint leaves.
//!
//! Rendezvous (highest-random-weight) hashing: every pool, and every endpoint within a pool,
//! gets a score hash(client subnet, name) (weighted for endpoints); candidates are ordered by
//! score. Removing one pool moves only the clients that were on it; the others keep theirs.
//! The client subnet is the ECS prefix when it is shorter, else the source address cut to:
//!
//! ```toml
//! [service.sticky]
//! ipv4_prefix = 24   # default
//! ipv6_prefix = 56   # default
//! ```
//! Put it after `failover` to stick within the chosen pool, or before to spread clients over
//! pools. ECS scope: the hashed prefix.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word, mix64, unit};
use ipnet::IpNet;
use serde::Deserialize;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "sticky",
    client_dependent: true,
    seeded: false,
    compile,
};

/// `[service.sticky]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct Settings {
    /// Prefix IPv4 clients are grouped by.
    #[serde(default = "default_v4")]
    ipv4_prefix: u8,
    /// Prefix IPv6 clients are grouped by.
    #[serde(default = "default_v6")]
    ipv6_prefix: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ipv4_prefix: default_v4(),
            ipv6_prefix: default_v6(),
        }
    }
}

fn default_v4() -> u8 {
    24
}
fn default_v6() -> u8 {
    56
}

/// A stable 64-bit hash of a name (FNV-1a, fixed across runs and builds).
fn name_hash(name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn compile(cx: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    let s: Settings = cx.settings(WORD.word)?;
    if s.ipv4_prefix > 32 || s.ipv6_prefix > 128 {
        let msg = format!(
            "service {}: [service.sticky] prefixes are at most 32 (IPv4) and 128 (IPv6)",
            cx.service
        );
        cx.err(cx.at.clone(), msg);
        return None;
    }
    Some(Compiled::step(WORD.word, s, apply))
}

fn apply(cfg: &Settings, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let addr = ctx.client.addr;
    let mut prefix = if addr.is_ipv4() {
        cfg.ipv4_prefix
    } else {
        cfg.ipv6_prefix
    };
    if let Some(src) = ctx.client.ecs_source {
        prefix = prefix.min(src);
    }
    let net = IpNet::new(addr, prefix)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(addr));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    net.hash(&mut hasher);
    // DefaultHasher's keys are fixed (SipHash-1-3 with zero keys), so this is stable.
    let key = hasher.finish();
    notes.depends_on(prefix);
    notes.why(|| format!("client subnet {net}"));
    let score = |name: &str, weight: f64| {
        let h = mix64(key ^ name_hash(name));
        -weight / unit(h).ln()
    };
    let pools = &ctx.model.pools;
    let endpoints = &ctx.model.endpoints;
    cands.0.sort_by(|a, b| {
        score(&pools[b.pool].name, 1.0).total_cmp(&score(&pools[a.pool].name, 1.0))
    });
    for pc in &mut cands.0 {
        pc.endpoints.sort_by(|&a, &b| {
            let (ea, eb) = (&endpoints[a], &endpoints[b]);
            let (wa, wb) = (ctx.health.weight(a), ctx.health.weight(b));
            score(&eb.name, wb.max(1) as f64).total_cmp(&score(&ea.name, wa.max(1) as f64))
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn same_subnet_same_answer_and_few_move_when_a_pool_leaves() {
        let m = model4();
        let mut h = all_up(&m);
        let mut c = client(&m, "us");
        let pick = |c: &crate::gslb::Client, h: &crate::gslb::HealthView| {
            let out = run_steps(&m, "www", "health sticky failover", c, h);
            out.0[0].pool
        };
        let n = 3000;
        let mut before = Vec::new();
        for i in 0..n {
            c.addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (i << 8)));
            before.push(pick(&c, &h));
            // the same /24 keeps its answer
            c.addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (i << 8) + 77));
            assert_eq!(pick(&c, &h), *before.last().unwrap());
        }
        let gone = m.pool_id("pool-c").unwrap();
        for &e in &m.pools[gone].endpoints {
            h.set_up(e, false);
        }
        let mut moved = 0;
        for i in 0..n {
            c.addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (i << 8)));
            let now = pick(&c, &h);
            if now != before[i as usize] {
                assert_eq!(
                    before[i as usize], gone,
                    "only clients of the removed pool move"
                );
                moved += 1;
            }
        }
        let share = moved as f64 / n as f64;
        assert!(share > 0.15 && share < 0.35, "moved share {share}");
    }
}
