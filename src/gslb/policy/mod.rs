//! The policy chain: an ordered list of small, pure steps that narrow and reorder the
//! candidate pools and endpoints of a service for one client.
//!
//! Each step lives in its own file, named after its config word, and that file's doc comment
//! is its user documentation: [`health`], [`geo`], [`nearest`], [`latency`], [`failover`],
//! [`weighted`], [`sticky`], [`first_n`]. A step reads the request context ([`Ctx`]: the
//! model, the service, the client, the health view) and rewrites the [`Candidates`]; it never
//! probes, never does I/O and never looks at the clock, so the same inputs always give the
//! same answer (randomness comes from the seed in [`crate::gslb::Client`]). `explain` is the
//! same function with a [`Trace`] switched on.
//!
//! Every step also says how much of the client address its decision depended on
//! ([`Notes::depends_on`]); the largest such prefix becomes the ECS scope of the answer.
//!
//! Default chain: `health → geo → failover → weighted → first_n`.

pub mod failover;
pub mod first_n;
pub mod geo;
pub mod health;
pub mod latency;
pub mod nearest;
pub mod sticky;
#[cfg(test)]
pub mod testing;
pub mod trace;
pub mod weighted;

pub use trace::{Notes, StepTrace, Trace};

use crate::gslb::{Client, EndpointId, Gslb, PoolId, Service};
use crate::gslb::HealthView;
use std::fmt;

/// One pool still in the running, with its endpoints in answer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCand {
    /// The pool.
    pub pool: PoolId,
    /// Its endpoints still in the running, in answer order.
    pub endpoints: Vec<EndpointId>,
}

/// The candidates a step works on: pools in answer order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates(pub Vec<PoolCand>);

impl Candidates {
    /// True when no endpoint is left.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|p| p.endpoints.is_empty())
    }

    /// Drop pools with no endpoints left.
    pub fn prune(&mut self) {
        self.0.retain(|p| !p.endpoints.is_empty());
    }

    /// Endpoints in answer order.
    pub fn endpoints(&self) -> impl Iterator<Item = EndpointId> + '_ {
        self.0.iter().flat_map(|p| p.endpoints.iter().copied())
    }

    /// A readable form for traces: `eu-west[eu-west-a,eu-west-b] us-east[us-east-a]`.
    pub fn describe(&self, model: &Gslb) -> String {
        let mut s = String::new();
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&model.pools[p.pool].name);
            s.push('[');
            for (j, e) in p.endpoints.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                s.push_str(&model.endpoints[*e].name);
            }
            s.push(']');
        }
        if s.is_empty() {
            s.push_str("(none)");
        }
        s
    }
}

/// What a step may read.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Regions, pools, endpoints.
    pub model: &'a Gslb,
    /// The service being answered.
    pub service: &'a Service,
    /// Who asks.
    pub client: &'a Client,
    /// Health and latency.
    pub health: &'a HealthView,
    /// True for AAAA (IPv6) answers, false for A.
    pub v6: bool,
}

/// A step of the chain, with its settings compiled from the service's config.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// See [`health`].
    Health,
    /// See [`geo`].
    Geo,
    /// See [`nearest`].
    Nearest,
    /// See [`latency`].
    Latency,
    /// See [`failover`].
    Failover,
    /// See [`weighted`].
    Weighted,
    /// See [`sticky`].
    Sticky,
    /// See [`first_n`].
    FirstN,
}

impl Step {
    /// The config word for a step.
    pub fn parse(word: &str) -> Option<Step> {
        Some(match word {
            "health" => Step::Health,
            "geo" => Step::Geo,
            "nearest" => Step::Nearest,
            "latency" => Step::Latency,
            "failover" => Step::Failover,
            "weighted" => Step::Weighted,
            "sticky" => Step::Sticky,
            "first_n" => Step::FirstN,
            _ => return None,
        })
    }

    /// Every config word, for error messages.
    pub const WORDS: &'static str =
        "health, geo, nearest, latency, failover, weighted, sticky, first_n";

    /// The default chain.
    pub fn default_chain() -> Vec<Step> {
        vec![
            Step::Health,
            Step::Geo,
            Step::Failover,
            Step::Weighted,
            Step::FirstN,
        ]
    }

    /// Apply this step.
    pub fn apply(&self, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
        match self {
            Step::Health => health::apply(ctx, cands, notes),
            Step::Geo => geo::apply(ctx, cands, notes),
            Step::Nearest => nearest::apply(ctx, cands, notes),
            Step::Latency => latency::apply(ctx, cands, notes),
            Step::Failover => failover::apply(ctx, cands, notes),
            Step::Weighted => weighted::apply(ctx, cands, notes),
            Step::Sticky => sticky::apply(ctx, cands, notes),
            Step::FirstN => first_n::apply(ctx, cands, notes),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Health => "health",
            Step::Geo => "geo",
            Step::Nearest => "nearest",
            Step::Latency => "latency",
            Step::Failover => "failover",
            Step::Weighted => "weighted",
            Step::Sticky => "sticky",
            Step::FirstN => "first_n",
        })
    }
}

/// Run `chain` over `cands`. Returns the client-dependence prefix (for the ECS scope).
pub fn run(
    chain: &[Step],
    ctx: &Ctx<'_>,
    cands: &mut Candidates,
    mut trace: Option<&mut Trace>,
) -> Option<u8> {
    let mut scope: Option<u8> = None;
    for step in chain {
        let mut notes = Notes::new(trace.is_some());
        let before = trace.as_ref().map(|_| cands.describe(ctx.model));
        step.apply(ctx, cands, &mut notes);
        cands.prune();
        if let Some(p) = notes.scope {
            scope = Some(scope.map_or(p, |s| s.max(p)));
        }
        if let Some(t) = trace.as_deref_mut() {
            t.steps.push(StepTrace {
                step: step.to_string(),
                before: before.unwrap_or_default(),
                after: cands.describe(ctx.model),
                why: notes.take_why(),
                scope: notes.scope,
            });
        }
    }
    scope
}

/// A fast, well-mixed 64-bit hash step (splitmix64), for seeds and rendezvous scores.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform float in (0, 1] from a hash.
pub fn unit(h: u64) -> f64 {
    ((h >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}
