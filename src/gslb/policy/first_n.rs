//! `first_n` — keep the first N addresses (a multi-value answer).
//!
//! N is the service's `answers` (default 1), or:
//!
//! ```toml
//! [service.first_n]
//! n = 2
//! ```
//! Endpoints are taken in the current order, across pools, until N addresses of the asked
//! family are kept, and the answer holds at most N addresses. N is between 1 and 64. Does
//! not depend on the client.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use serde::Deserialize;
use std::sync::Arc;
use toml::Spanned;

/// The word.
pub const WORD: Word = Word {
    word: "first_n",
    client_dependent: false,
    seeded: false,
    compile,
};

/// The most addresses an answer may hold.
const MAX: usize = 64;

/// `[service.first_n]`.
#[derive(Debug, Clone, Default, Deserialize)]
struct Settings {
    /// Addresses to keep.
    n: Option<Spanned<usize>>,
}

fn compile(cx: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    let s: Settings = cx.settings(WORD.word)?;
    let (n, span) = match &s.n {
        Some(n) => (*n.get_ref(), Some(n.span())),
        None => (cx.answers, None),
    };
    if !(1..=MAX).contains(&n) {
        let msg = format!(
            "service {}: first_n keeps {n} addresses; it must be 1 to {MAX}",
            cx.service
        );
        cx.err(span.unwrap_or(cx.at.clone()), msg);
        return None;
    }
    Some(Compiled::step(WORD.word, n, apply))
}

fn apply(&n: &usize, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    cands.1 = Some(cands.1.map_or(n, |m| m.min(n)));
    let v6 = ctx.v6;
    let mut left = n;
    for pc in &mut cands.0 {
        let mut keep = 0;
        for &e in &pc.endpoints {
            if left == 0 {
                break;
            }
            let count = if v6 {
                ctx.model.endpoints[e].v6.len()
            } else {
                ctx.model.endpoints[e].v4.len()
            };
            left = left.saturating_sub(count.max(1));
            keep += 1;
        }
        pc.endpoints.truncate(keep);
    }
    notes.why(|| format!("keep {n} address(es)"));
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn keeps_n_across_pools() {
        let m = model_with("[service.first_n]\nn = 3\n");
        let out = run_steps(&m, "www", "first_n", &client(&m, "us"), &all_up(&m));
        assert_eq!(
            names(&m, &out),
            "us-east[us-east-a,us-east-b] eu-west[eu-west-a]"
        );
    }
}
