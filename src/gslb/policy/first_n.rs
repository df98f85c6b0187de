//! `first_n` — keep the first N addresses (a multi-value answer).
//!
//! N is the service's `answers` (default 1), or:
//!
//! ```toml
//! [service.first_n]
//! n = 2
//! ```
//! Endpoints are taken in the current order, across pools, until N addresses of the asked
//! family are kept. Does not depend on the client.

use super::{Candidates, Ctx, Notes};
use serde::Deserialize;

/// `[service.first_n]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstNConfig {
    /// Addresses to keep.
    pub n: usize,
}

/// Apply the step.
pub fn apply(ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let n = ctx.service.first_n;
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
        let mut m = model();
        let s = m.by_name[&svc_name("www")];
        m.services[s].first_n = 3;
        let out = run_steps(&m, "www", "first_n", &client(&m, "us"), &all_up(&m));
        assert_eq!(
            names(&m, &out),
            "us-east[us-east-a,us-east-b] eu-west[eu-west-a]"
        );
    }
}
