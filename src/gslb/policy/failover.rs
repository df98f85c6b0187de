//! `failover` — answer from one pool (or tier) only: the first that still has a healthy
//! endpoint, in the order earlier steps left.
//!
//! Without settings, the first pool in the current order with at least one endpoint up is
//! kept and the others are dropped. With tiers, the first tier holding such a pool is kept
//! (all its live pools, in the current order):
//!
//! ```toml
//! [service.failover]
//! tiers = [["eu-west"], ["us-east", "ap-southeast"]]
//! ```
//! Pools in no tier form a last tier. The step reads health itself, so it works with or
//! without a `health` step before it. When nothing is up it keeps nothing, and the service's
//! `when_all_down` rule decides the answer.
//!
//! Does not depend on the client.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use crate::gslb::PoolId;
use serde::Deserialize;
use std::sync::Arc;
use toml::Spanned;

/// The word.
pub const WORD: Word = Word {
    word: "failover",
    client_dependent: false,
    seeded: false,
    compile,
};

/// `[service.failover]`.
#[derive(Debug, Clone, Default, Deserialize)]
struct Settings {
    /// Pool names, tier by tier.
    #[serde(default)]
    tiers: Vec<Vec<Spanned<String>>>,
}

fn compile(cx: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    let s: Settings = cx.settings(WORD.word)?;
    let mut ok = true;
    let mut tiers = Vec::new();
    for tier in &s.tiers {
        let mut ids = Vec::new();
        for p in tier {
            match cx.pool(p, "a failover tier") {
                Some(id) => ids.push(id),
                None => ok = false,
            }
        }
        tiers.push(ids);
    }
    ok.then(|| Compiled::step(WORD.word, Tiers(tiers), apply))
}

/// The compiled settings: pools, tier by tier.
#[derive(Debug)]
struct Tiers(Vec<Vec<PoolId>>);

fn apply(Tiers(tiers): &Tiers, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let alive = |pc: &super::PoolCand| pc.endpoints.iter().any(|&e| ctx.health.is_up(e));
    let tier_of = |pool| {
        tiers
            .iter()
            .position(|t| t.contains(&pool))
            .unwrap_or(tiers.len())
    };
    let first_tier = cands
        .0
        .iter()
        .filter(|pc| alive(pc))
        .map(|pc| tier_of(pc.pool))
        .min();
    let Some(tier) = first_tier else {
        notes.why(|| "no pool has an endpoint up".into());
        cands.0.clear();
        return;
    };
    let pools = &ctx.model.pools;
    if tiers.is_empty() {
        let first = cands.0.iter().position(alive).expect("a live pool exists");
        for skipped in &cands.0[..first] {
            notes.why(|| format!("{} has no endpoint up", pools[skipped.pool].name));
        }
        let keep = cands.0.swap_remove(first);
        notes.why(|| format!("keep {}", pools[keep.pool].name));
        cands.0 = vec![keep];
    } else {
        notes.why(|| format!("keep tier {}", tier + 1));
        cands.0.retain(|pc| tier_of(pc.pool) == tier && alive(pc));
    }
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn keeps_the_first_live_pool() {
        let m = model();
        let mut h = all_up(&m);
        let out = run_steps(&m, "www", "geo failover", &client(&m, "eu"), &h);
        assert_eq!(names(&m, &out), "eu-west[eu-west-a,eu-west-b]");
        for e in ["eu-west-a", "eu-west-b", "eu-west-c"] {
            h.set_up(ep(&m, e), false);
        }
        let out = run_steps(&m, "www", "geo failover", &client(&m, "eu"), &h);
        assert_eq!(names(&m, &out), "us-east[us-east-a,us-east-b]");
    }

    #[test]
    fn tiers_keep_whole_tiers() {
        let m = model_with(
            "[service.failover]\ntiers = [[\"ap-southeast\"], [\"eu-west\", \"us-east\"]]\n",
        );
        let mut h = all_up(&m);
        let out = run_steps(&m, "www", "failover", &client(&m, "eu"), &h);
        assert_eq!(
            names(&m, &out),
            "ap-southeast[ap-southeast-a,ap-southeast-b]"
        );
        for e in ["ap-southeast-a", "ap-southeast-b", "ap-southeast-c"] {
            h.set_up(ep(&m, e), false);
        }
        let out = run_steps(&m, "www", "failover", &client(&m, "eu"), &h);
        assert_eq!(out.0.len(), 2);
    }
}
