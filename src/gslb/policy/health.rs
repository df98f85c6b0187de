//! `health` — drop what is down.
//!
//! Removes endpoints the health view says are down, and whole pools whose healthy fraction
//! (endpoints up ÷ endpoints in the pool, counting every address family) is below the pool's
//! `min_healthy` (default 0.5). A pool at half strength is often worse than none: what is left
//! of it may be overloaded by the traffic of the dead half.
//!
//! No settings of its own. Health comes from the probers (see `src/health/`); this step only
//! reads the snapshot. Put it first in a chain: later steps then choose among live endpoints.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "health",
    client_dependent: false,
    seeded: false,
    compile,
};

fn compile(_: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    Some(Compiled::step(WORD.word, (), apply))
}

fn apply(_: &(), ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    for pc in &mut cands.0 {
        let pool = &ctx.model.pools[pc.pool];
        let total = pool.endpoints.len().max(1);
        let up = ctx.health.pool_up(pc.pool);
        let fraction = up as f64 / total as f64;
        if fraction < pool.min_healthy {
            notes.why(|| {
                format!(
                    "{}: {up}/{total} endpoints up, below min_healthy {} — pool skipped",
                    pool.name, pool.min_healthy
                )
            });
            pc.endpoints.clear();
            continue;
        }
        pc.endpoints.retain(|&mut e| {
            let ok = ctx.health.is_up(e);
            if !ok {
                notes.why(|| format!("{} is down", ctx.model.endpoints[e].name));
            }
            ok
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn down_endpoints_and_weak_pools_are_dropped() {
        let m = model();
        // eu-west has 3 endpoints (two IPv4, one IPv6; the step sees the IPv4 ones here): one
        // down keeps the pool (2/3 >= 0.5), two down drop it (1/3).
        let mut h = all_up(&m);
        h.set_up(ep(&m, "eu-west-a"), false);
        let out = run_steps(&m, "www", "health", &client(&m, "eu"), &h);
        assert_eq!(
            names(&m, &out),
            "us-east[us-east-a,us-east-b] eu-west[eu-west-b] ap-southeast[ap-southeast-a,ap-southeast-b]"
        );
        h.set_up(ep(&m, "eu-west-b"), false);
        let out = run_steps(&m, "www", "health", &client(&m, "eu"), &h);
        assert!(!names(&m, &out).contains("eu-west"), "{}", names(&m, &out));
    }

    #[test]
    fn min_healthy_is_per_pool() {
        let mut m = model();
        let p = m.pool_id("eu-west").unwrap();
        m.pools[p].min_healthy = 0.9;
        let mut h = all_up(&m);
        h.set_up(ep(&m, "eu-west-a"), false);
        let out = run_steps(&m, "www", "health", &client(&m, "eu"), &h);
        assert!(!names(&m, &out).contains("eu-west"));
        m.pools[p].min_healthy = 0.0;
        let out = run_steps(&m, "www", "health", &client(&m, "eu"), &h);
        assert!(names(&m, &out).contains("eu-west[eu-west-b]"));
    }
}
