//! `weighted` — shuffle each pool's endpoints at random in proportion to their weights.
//!
//! An endpoint with weight 3 comes first three times as often as one with weight 1 (a
//! weighted random permutation: each endpoint draws key = u^(1/weight) and keys sort
//! descending). Followed by `first_n(1)`, that is a weighted pick; with larger N it is a
//! weighted multi-value answer. Weight 0 means drained: such endpoints are never answered
//! (they are removed before the chain runs). Pool order is not changed.
//!
//! Weights are per endpoint (`weight = 3`), as in force now: an endpoint's
//! `[[pool.endpoint.weight_schedule]]` changes it at its instants (laid over the health view
//! by background work; this step only reads [`crate::gslb::HealthView::weight`]). The randomness comes from the query's seed, so a
//! decision can be replayed. Does not depend on the client.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word, mix64, unit};
use smallvec::SmallVec;
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "weighted",
    client_dependent: false,
    seeded: true,
    compile,
};

fn compile(_: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    Some(Compiled::step(WORD.word, (), apply))
}

fn apply(_: &(), ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let mut rng = ctx.seed;
    for pc in &mut cands.0 {
        if pc.endpoints.len() < 2 {
            continue;
        }
        // Keys on the stack for pools of up to 16 endpoints: the query path runs this step
        // per query and allocates nothing. The order is that of the keys u^(1/w); ln(u)/w
        // orders alike and is cheaper, and with equal weights u alone does.
        let first = ctx.health.weight(pc.endpoints[0]);
        let equal = pc.endpoints.iter().all(|&e| ctx.health.weight(e) == first);
        let mut keyed: SmallVec<[(f64, usize); 16]> = pc
            .endpoints
            .iter()
            .map(|&e| {
                rng = mix64(rng);
                let u = unit(rng);
                match equal {
                    true => (u, e),
                    false => (u.ln() / ctx.health.weight(e).max(1) as f64, e),
                }
            })
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (slot, (_, e)) in pc.endpoints.iter_mut().zip(keyed) {
            *slot = e;
        }
    }
    notes.why(|| {
        let endpoints = &ctx.model.endpoints;
        let weights: Vec<String> = cands
            .0
            .iter()
            .flat_map(|pc| pc.endpoints.iter())
            .map(|&e| {
                let (now, set) = (ctx.health.weight(e), endpoints[e].weight);
                if now == set {
                    format!("{}={now}", endpoints[e].name)
                } else {
                    format!("{}={now} (scheduled; configured {set})", endpoints[e].name)
                }
            })
            .collect();
        format!("endpoints shuffled by weight: {}", weights.join(", "))
    });
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn weights_3_to_1_give_75_25_within_2_percent() {
        let m = model();
        let h = all_up(&m);
        let mut c = client(&m, "us");
        let heavy = ep(&m, "api-us-a");
        let mut hits = 0;
        for seed in 0..10_000u64 {
            c.seed = seed;
            let out = run_steps(&m, "api", "weighted first_n", &c, &h);
            if out.endpoints().next() == Some(heavy) {
                hits += 1;
            }
        }
        let share = hits as f64 / 10_000.0;
        assert!(
            (share - 0.75).abs() <= 0.02,
            "share of the weight-3 endpoint: {share}"
        );
    }
}
