//! `latency` — order pools by the round-trip time measured from the client's region.
//!
//! The probers of each region (see `[health] probers`) measure every endpoint; a pool's
//! latency from a region is its best healthy endpoint's smoothed RTT. For a client in region
//! R, pools are ordered by their latency from R. Pools close to the best count as equal and
//! keep their previous order, so small jitter does not flip answers:
//!
//! ```toml
//! [service.latency]
//! tolerance_ms = 5          # within 5 ms of the best ...
//! tolerance_percent = 10    # ... or within 10 % of it (whichever is larger) = equal
//! ```
//! Pools without a measurement from R go last, in their previous order; when no pool has one
//! (probers not started yet), the order is kept. Needs at least one prober region: `ayadns
//! check` refuses a `latency` step without.
//!
//! ECS scope: the prefix over which the client's region holds.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use serde::Deserialize;
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "latency",
    client_dependent: true,
    seeded: false,
    compile,
};

/// `[service.latency]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
struct Settings {
    /// Absolute tolerance, in milliseconds.
    #[serde(default = "default_ms")]
    tolerance_ms: f64,
    /// Relative tolerance, in percent of the best.
    #[serde(default = "default_pct")]
    tolerance_percent: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tolerance_ms: default_ms(),
            tolerance_percent: default_pct(),
        }
    }
}

fn default_ms() -> f64 {
    5.0
}
fn default_pct() -> f64 {
    10.0
}

fn compile(cx: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    let s: Settings = cx.settings(WORD.word)?;
    if cx.model.probers.is_empty() && cx.model.agent_regions.is_empty() {
        let msg = format!(
            "service {}: the `latency` step needs prober regions ([health] probers or agents), and none are configured",
            cx.service
        );
        cx.err(cx.at.clone(), msg);
        return None;
    }
    let ok = |v: f64| v.is_finite() && (0.0..=60_000.0).contains(&v);
    if !ok(s.tolerance_ms) || !ok(s.tolerance_percent) {
        let msg = format!(
            "service {}: [service.latency] tolerances must be between 0 and 60000",
            cx.service
        );
        cx.err(cx.at.clone(), msg);
        return None;
    }
    Some(Compiled::step(WORD.word, s, apply))
}

fn apply(cfg: &Settings, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let region = ctx.client.region;
    notes.depends_on(ctx.client.region_prefix);
    let rtt: Vec<Option<f64>> = cands
        .0
        .iter()
        .map(|pc| ctx.health.latency_ms(region, pc.pool))
        .collect();
    let Some(best) = rtt.iter().flatten().copied().reduce(f64::min) else {
        notes.why(|| "no latency measured from the client's region: order kept".into());
        return;
    };
    let band = best + cfg.tolerance_ms.max(best * cfg.tolerance_percent / 100.0);
    let pools = &ctx.model.pools;
    notes.why(|| {
        let d: Vec<String> = cands
            .0
            .iter()
            .zip(&rtt)
            .map(|(pc, r)| match r {
                Some(ms) => format!("{} {ms:.1} ms", pools[pc.pool].name),
                None => format!("{} no data", pools[pc.pool].name),
            })
            .collect();
        format!(
            "from region {}: {}; equal up to {band:.1} ms",
            ctx.model.regions[region].name,
            d.join(", ")
        )
    });
    let mut keyed: Vec<((u8, f64), _)> = cands
        .0
        .drain(..)
        .zip(rtt)
        .map(|(pc, r)| {
            let key = match r {
                Some(ms) if ms <= band => (0, 0.0),
                Some(ms) => (1, ms),
                None => (2, 0.0),
            };
            (key, pc)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(a.0.1.total_cmp(&b.0.1)));
    cands.0 = keyed.into_iter().map(|(_, pc)| pc).collect();
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    fn order(m: &crate::gslb::Gslb, c: &crate::gslb::policy::Candidates) -> Vec<String> {
        c.0.iter().map(|p| m.pools[p.pool].name.clone()).collect()
    }

    #[test]
    fn lower_rtt_first_with_a_tolerance_band() {
        let m = model();
        let mut h = all_up(&m);
        let eu = m.region_id("eu").unwrap();
        let p = |n: &str| m.pool_id(n).unwrap();
        h.set_latency(eu, p("us-east"), 80.0);
        h.set_latency(eu, p("eu-west"), 12.0);
        h.set_latency(eu, p("ap-southeast"), 160.0);
        let out = run_steps(&m, "www", "latency", &client(&m, "eu"), &h);
        assert_eq!(order(&m, &out), ["eu-west", "us-east", "ap-southeast"]);
        // us-east within 5 ms of the best: equal, so the previous order (us-east first) holds.
        h.set_latency(eu, p("us-east"), 15.0);
        let out = run_steps(&m, "www", "latency", &client(&m, "eu"), &h);
        assert_eq!(order(&m, &out), ["us-east", "eu-west", "ap-southeast"]);
    }

    #[test]
    fn no_data_keeps_the_order_and_partial_data_goes_first() {
        let m = model();
        let mut h = all_up(&m);
        let out = run_steps(&m, "www", "latency", &client(&m, "eu"), &h);
        assert_eq!(order(&m, &out), ["us-east", "eu-west", "ap-southeast"]);
        let eu = m.region_id("eu").unwrap();
        h.set_latency(eu, m.pool_id("ap-southeast").unwrap(), 150.0);
        let out = run_steps(&m, "www", "latency", &client(&m, "eu"), &h);
        assert_eq!(order(&m, &out), ["ap-southeast", "us-east", "eu-west"]);
    }
}
