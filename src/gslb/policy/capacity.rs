//! `capacity` — spill the clients above a pool's capacity to the next pool.
//!
//! A pool that declares `[[pool]] capacity = N` (queries per second) takes at most that much:
//! every second, ops measures per pool the recent queries per second of the answers whose
//! first pool *would be* that pool without spilling (the recorded client placements run
//! through the real decision, scaled to the queries per second counted), and publishes in the
//! health view the share `min(1, capacity ÷ demand)` of its clients the pool admits. This step
//! moves the pools that do not admit this client after the others, so a following `failover`
//! answers from the next pool. Which clients are admitted follows a stable hash of the
//! client's /24 (IPv6: /56; or the ECS source prefix when shorter): the same resolver keeps
//! its answer, and a rising share only adds clients. With `[service.failover] ramp`, a pool
//! ramping back admits the smaller of the two shares (the same hash decides both).
//!
//! ```toml
//! [[service]]
//! chain = ["health", "geo", "capacity", "failover", "weighted", "first_n"]
//! ```
//! No settings of its own. Put it before `failover`. Demand is what this node answers: in a
//! cluster, give each node its share of the capacity. `explain` says `eu-west over capacity:
//! 62 % admitted; this client not admitted`.
//!
//! Depends on the client: its /24 (/56), while a pool is over capacity.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "capacity",
    client_dependent: true,
    seeded: false,
    compile,
};

fn compile(_: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    Some(Compiled::step(WORD.word, (), apply))
}

fn apply(_: &(), ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let shares = cands
        .0
        .iter()
        .map(|pc| (pc.pool, ctx.health.admission(pc.pool).capacity));
    let spilled = ctx.not_admitted(notes, shares, |pool| format!("{pool} over capacity"));
    if spilled.is_empty() {
        return;
    }
    let (mut moved, mut kept) = (Vec::new(), Vec::new());
    for pc in std::mem::take(&mut cands.0) {
        if spilled.contains(&pc.pool) {
            moved.push(pc);
        } else {
            kept.push(pc);
        }
    }
    kept.extend(moved);
    cands.0 = kept;
}

#[cfg(test)]
mod tests {
    use crate::gslb::admission::position;
    use crate::gslb::policy::testing::*;
    use crate::gslb::view::Admission;

    /// eu-west admits 30 % of its clients: those below the share keep it, the others are
    /// spilled to the next pool, and failover answers from there.
    #[test]
    fn spills_the_clients_above_capacity_to_the_next_pool() {
        let m = model();
        let mut h = all_up(&m);
        let eu = m.pool_id("eu-west").unwrap();
        h.set_admission(
            eu,
            Admission {
                capacity: 300,
                ..Admission::default()
            },
        );
        let mut spilled = 0;
        for i in 0..500u32 {
            let mut c = client(&m, "eu");
            c.addr = format!("81.{}.{}.0", i >> 8, i & 255).parse().unwrap();
            let (out, scope) = run_scoped(&m, "www", "geo capacity failover", &c, &h);
            let first = m.pools[out.0[0].pool].name.clone();
            if position(&c).0 < 300 {
                assert_eq!(first, "eu-west");
            } else {
                assert_eq!(first, "us-east", "the next pool in geo's order");
                spilled += 1;
            }
            assert_eq!(scope, Some(24));
        }
        assert!((300..400).contains(&spilled), "{spilled} of 500 spilled");
        // Under capacity: nothing moves, and the answer does not depend on the client.
        let h = all_up(&m);
        let (out, scope) = run_scoped(&m, "www", "geo capacity failover", &client(&m, "eu"), &h);
        assert_eq!(names(&m, &out), "eu-west[eu-west-a,eu-west-b]");
        assert_eq!(scope, Some(24), "geo's own /24");
        let (_, scope) = run_scoped(&m, "www", "capacity failover", &client(&m, "eu"), &h);
        assert_eq!(scope, None);
    }

    /// Ramp and capacity combine: a client gets the pool only when admitted by both, i.e.
    /// under the smaller share.
    #[test]
    fn ramp_and_capacity_combine_as_the_smaller_share() {
        let m = model_with(
            "chain = [\"health\", \"geo\", \"capacity\", \"failover\"]\n[service.failover]\nramp = \"10s\"\n",
        );
        let mut h = all_up(&m);
        let eu = m.pool_id("eu-west").unwrap();
        h.set_admission(
            eu,
            Admission {
                back_ms: Some(7000),
                capacity: 400,
            },
        );
        for i in 0..300u32 {
            let mut c = client(&m, "eu");
            c.addr = format!("81.{}.{}.0", i >> 8, i & 255).parse().unwrap();
            let (out, _) = run_scoped(&m, "www", "health geo capacity failover", &c, &h);
            let got_eu = out.0[0].pool == eu;
            assert_eq!(got_eu, position(&c).0 < 400, "client {}", c.addr);
        }
    }
}
