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
//! **Failback ramp.** A data center that comes back is not handed every client at once:
//!
//! ```toml
//! [service.failover]
//! ramp = "5m"        # default "0s": off; at most "1h"
//! ```
//! When a pool comes back after being down — its endpoints up went from below `min_healthy`
//! (or none) to enough, or an override or drill that took it down or drained it ended — its
//! share of its clients rises linearly from 0 to all over `ramp`. A client is admitted when a
//! stable hash of its /24 (IPv6: /56; or the ECS source prefix when shorter) falls below the
//! share, so the same resolver keeps its answer and a rising share only adds clients; a client
//! not yet admitted gets what it got while the pool was down (the next live pool). A pool that
//! fails again during its ramp starts over when it comes back. The health engine times the
//! ramp (it publishes how long ago each pool came back, on a timer while a ramp runs); this
//! step only reads it, so answers stay a pure function of the snapshot. A pool shared by
//! services with different ramps ramps for each service over that service's own `ramp`.
//! `explain` says `pool eu-west ramping: 40 % admitted; this client not admitted`; status
//! lists ramping pools with their share.
//!
//! Does not depend on the client — except while a pool ramps: then the decision depends on
//! the client's /24 (/56), which becomes the answer's ECS scope.

use super::{Candidates, Compile, Ctx, Notes, Step, Word};
use crate::gslb::PoolId;
use crate::gslb::admission::ramp_permille;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

/// The longest failback ramp.
pub const MAX_RAMP: Duration = Duration::from_secs(3600);

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
    /// The failback ramp (`"0s"`: off).
    #[serde(default)]
    ramp: Option<Spanned<String>>,
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
    let mut ramp = None;
    if let Some(r) = &s.ramp {
        match humantime::parse_duration(r.get_ref()) {
            Ok(d) if d <= MAX_RAMP => ramp = (!d.is_zero()).then_some(d),
            Ok(_) => {
                let msg = format!(
                    "service {}: failover ramp `{}` is longer than 1h",
                    cx.service,
                    r.get_ref()
                );
                cx.err(r.span(), msg);
                ok = false;
            }
            Err(e) => {
                let msg = format!(
                    "service {}: failover ramp `{}` is not a duration: {e} (try \"5m\")",
                    cx.service,
                    r.get_ref()
                );
                cx.err(r.span(), msg);
                ok = false;
            }
        }
    }
    ok.then(|| Arc::new(Failover { tiers, ramp }) as Arc<dyn Step>)
}

/// The compiled settings: pools, tier by tier, and the failback ramp.
#[derive(Debug)]
struct Failover {
    tiers: Vec<Vec<PoolId>>,
    ramp: Option<Duration>,
}

impl Step for Failover {
    fn word(&self) -> &'static str {
        WORD.word
    }

    fn apply(&self, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
        apply(self, ctx, cands, notes)
    }

    fn ramp(&self) -> Option<Duration> {
        self.ramp
    }
}

fn apply(f: &Failover, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let tiers = &f.tiers;
    let up = |pc: &super::PoolCand| pc.endpoints.iter().any(|&e| ctx.health.is_up(e));
    // Pools that ramp back and do not take this client yet.
    let held: Vec<PoolId> = match f.ramp {
        None => Vec::new(),
        Some(ramp) => {
            let shares = cands.0.iter().filter(|pc| up(pc)).map(|pc| {
                let back = ctx.health.admission(pc.pool).back_ms;
                (pc.pool, ramp_permille(back, ramp))
            });
            ctx.not_admitted(notes, shares, |pool| format!("pool {pool} ramping"))
        }
    };
    // A held pool is answered only when no other pool is up.
    let others = cands.0.iter().any(|pc| up(pc) && !held.contains(&pc.pool));
    let alive = |pc: &super::PoolCand| up(pc) && !(others && held.contains(&pc.pool));
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
            if up(skipped) {
                notes.why(|| format!("{} is ramping back: next pool", pools[skipped.pool].name));
            } else {
                notes.why(|| format!("{} has no endpoint up", pools[skipped.pool].name));
            }
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

    /// While eu-west ramps back, a client below the share gets it, one above gets what it got
    /// while eu-west was down (us-east); the decision then depends on the client's /24.
    #[test]
    fn a_ramping_pool_takes_only_admitted_clients() {
        use crate::gslb::admission::position;
        use crate::gslb::view::Admission;
        let m = model_with("[service.failover]\nramp = \"10s\"\n");
        let mut h = all_up(&m);
        let eu = m.pool_id("eu-west").unwrap();
        h.set_admission(
            eu,
            Admission {
                back_ms: Some(4000),
                ..Admission::default()
            },
        );
        let (mut admitted, mut held) = (0, 0);
        for i in 0..400u32 {
            let mut c = client(&m, "eu");
            c.addr = format!("81.{}.{}.0", i >> 8, i & 255).parse().unwrap();
            c.ecs_source = Some(24);
            let (cands, scope) = run_scoped(&m, "www", "geo failover", &c, &h);
            let first = &m.pools[cands.0[0].pool].name;
            if position(&c).0 < 400 {
                assert_eq!(first, "eu-west");
                admitted += 1;
            } else {
                assert_eq!(first, "us-east");
                held += 1;
            }
            assert_eq!(scope, Some(24));
        }
        assert!(
            admitted > 100 && held > 160,
            "{admitted} admitted, {held} held"
        );
        // Ramp over: everyone is back.
        h.set_admission(eu, Admission::default());
        let out = run_steps(&m, "www", "geo failover", &client(&m, "eu"), &h);
        assert_eq!(names(&m, &out), "eu-west[eu-west-a,eu-west-b]");
        // A ramping pool that is the only one up takes everyone.
        h.set_admission(
            eu,
            Admission {
                back_ms: Some(1),
                ..Admission::default()
            },
        );
        for e in ["us-east-a", "us-east-b", "ap-southeast-a", "ap-southeast-b"] {
            h.set_up(ep(&m, e), false);
        }
        let out = run_steps(&m, "www", "geo failover", &client(&m, "eu"), &h);
        assert_eq!(names(&m, &out), "eu-west[eu-west-a,eu-west-b]");
    }

    #[test]
    fn ramp_is_bounded() {
        let p = problems_of("[service.failover]\nramp = \"2h\"\n");
        assert!(p.contains("failover ramp `2h` is longer than 1h"), "{p}");
        let p = problems_of("[service.failover]\nramp = \"soon\"\n");
        assert!(p.contains("is not a duration"), "{p}");
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
