//! The policy chain: an ordered list of small, pure steps that narrow and reorder the
//! candidate pools and endpoints of a service for one client.
//!
//! Each step lives in its own file, named after its config word, and that file's doc comment
//! is its user documentation: [`health`], [`geo`], [`nearest`], [`latency`], [`failover`],
//! [`capacity`], [`weighted`], [`sticky`], [`first_n`]. The file owns the word completely: its settings
//! table (`[service.WORD]`, read strictly), their checks and compilation (with the config
//! line of every problem), whether it depends on the client, and its behaviour. [`WORDS`] is
//! the one list of words.
//!
//! A step reads the request context ([`Ctx`]: the model, the client, the health view) and
//! its own compiled settings, and rewrites the [`Candidates`]; it never
//! probes, never does I/O and never looks at the clock, so the same inputs always give the
//! same answer (randomness comes from the query's seed in [`Ctx`]). `explain` is the
//! same function with a [`Trace`] switched on.
//!
//! Every step also says how much of the client address its decision depended on
//! ([`Notes::depends_on`]); the largest such prefix becomes the ECS scope of the answer.
//!
//! Default chain: `health → geo → failover → weighted → first_n`.

pub mod capacity;
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

use super::{Client, EndpointId, Gslb, HealthView, PoolId};
use crate::config::{Config, Document};
use crate::diag::Diagnostics;
use hickory_proto::rr::Name;
use std::fmt;
use std::sync::Arc;
use toml::Spanned;

/// A pool's endpoints still in the running, in answer order (inline up to 8: copying the
/// candidates of a typical pool allocates nothing).
pub type Endpoints = smallvec::SmallVec<[EndpointId; 8]>;

/// One pool still in the running, with its endpoints in answer order.
#[derive(Debug, PartialEq, Eq)]
pub struct PoolCand {
    /// The pool.
    pub pool: PoolId,
    /// Its endpoints still in the running, in answer order.
    pub endpoints: Endpoints,
}

impl Clone for PoolCand {
    fn clone(&self) -> Self {
        PoolCand {
            pool: self.pool,
            endpoints: self.endpoints.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.pool = source.pool;
        self.endpoints.clone_from(&source.endpoints);
    }
}

/// The candidates a step works on: pools in answer order, and at most how many addresses the
/// answer may hold (set by `first_n`).
///
/// `clone_from` reuses the target's storage: the query path copies a stored plan's
/// candidates into a per-worker scratch value without allocating.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Candidates(pub Vec<PoolCand>, pub Option<usize>);

impl Clone for Candidates {
    fn clone(&self) -> Self {
        Candidates(self.0.clone(), self.1)
    }

    fn clone_from(&mut self, source: &Self) {
        self.0.clone_from(&source.0);
        self.1 = source.1;
    }
}

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
    /// Who asks.
    pub client: &'a Client,
    /// Health and latency.
    pub health: &'a HealthView,
    /// True for AAAA (IPv6) answers, false for A.
    pub v6: bool,
    /// The query's randomness (for [`Word::seeded`] steps; replayable).
    pub seed: u64,
}

impl Ctx<'_> {
    /// The pools among `shares` (each with the share of its clients it admits now, per
    /// mille) that do not take this client ([`crate::gslb::admission`]: a stable hash of the
    /// client's network). A pool that admits less than all makes the answer depend on that
    /// network (noted) and is explained as `{what(pool)}: N % admitted; this client
    /// admitted` (or `not admitted`). Used by `failover`'s ramp and by `capacity`.
    pub fn not_admitted(
        &self,
        notes: &mut Notes,
        shares: impl Iterator<Item = (PoolId, u16)>,
        what: impl Fn(&str) -> String,
    ) -> Vec<PoolId> {
        let mut out = Vec::new();
        let mut pos = None;
        for (pool, share) in shares {
            if share >= super::admission::ALL {
                continue;
            }
            let (p, prefix) = *pos.get_or_insert_with(|| super::admission::position(self.client));
            notes.depends_on(prefix);
            let ok = super::admission::admitted(p, share);
            notes.why(|| {
                format!(
                    "{}: {} % admitted; this client {}",
                    what(&self.model.pools[pool].name),
                    share / 10,
                    if ok { "admitted" } else { "not admitted" }
                )
            });
            if !ok {
                out.push(pool);
            }
        }
        out
    }
}

/// A chain step with its settings compiled: what its config word does.
pub trait Step: fmt::Debug + Send + Sync {
    /// The config word.
    fn word(&self) -> &'static str;
    /// Narrow or reorder the candidates. Pure: no I/O, no clock; randomness from the query's
    /// seed.
    fn apply(&self, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes);
    /// Whether it reads the query's seed ([`Word::seeded`]).
    fn seeded(&self) -> bool {
        word(self.word()).is_some_and(|w| w.seeded)
    }
    /// The failback ramp this step applies to pools that come back (`failover`'s `ramp`):
    /// the health engine times ramps as long as the longest of them.
    fn ramp(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A step made of its compiled settings `S` and the function that applies them: what every
/// step of this folder compiles to (a step may also implement [`Step`] itself).
pub struct Compiled<S> {
    word: &'static str,
    settings: S,
    apply: fn(&S, &Ctx<'_>, &mut Candidates, &mut Notes),
}

impl<S: fmt::Debug + Send + Sync + 'static> Compiled<S> {
    /// The step `word` with `settings`, applied by `apply`.
    pub fn step(
        word: &'static str,
        settings: S,
        apply: fn(&S, &Ctx<'_>, &mut Candidates, &mut Notes),
    ) -> Arc<dyn Step> {
        Arc::new(Compiled {
            word,
            settings,
            apply,
        })
    }
}

impl<S: fmt::Debug + Send + Sync> Step for Compiled<S> {
    fn word(&self) -> &'static str {
        self.word
    }

    fn apply(&self, ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
        (self.apply)(&self.settings, ctx, cands, notes)
    }
}

impl<S: fmt::Debug> fmt::Debug for Compiled<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.word, self.settings)
    }
}

/// A config word of the chain: one row of [`WORDS`], defined in the word's own file.
pub struct Word {
    /// The word, as written in `chain = [...]` and as the name of its settings table.
    pub word: &'static str,
    /// Whether the step's decision depends on who asks (then the answer carries an ECS
    /// scope, and the drill preview must look at real clients).
    pub client_dependent: bool,
    /// Whether the step draws on the query's random seed: the query path runs it (and every
    /// step after it) per query; the steps before it run once per client network.
    pub seeded: bool,
    /// Read and check the step's settings; `None` when they are wrong (problems say why).
    pub compile: fn(&mut Compile<'_>) -> Option<Arc<dyn Step>>,
}

/// Every chain step. Adding a step is adding its file and a row here.
pub const WORDS: &[Word] = &[
    health::WORD,
    geo::WORD,
    nearest::WORD,
    latency::WORD,
    capacity::WORD,
    failover::WORD,
    weighted::WORD,
    sticky::WORD,
    first_n::WORD,
];

/// The chain when a service names none.
pub const DEFAULT_CHAIN: &[&str] = &["health", "geo", "failover", "weighted", "first_n"];

/// The row of `word`.
pub fn word(word: &str) -> Option<&'static Word> {
    WORDS.iter().find(|w| w.word == word)
}

/// Every word, for messages.
pub fn known_words() -> String {
    WORDS.iter().map(|w| w.word).collect::<Vec<_>>().join(", ")
}

/// What compiling a step may read, and where it reports problems.
pub struct Compile<'a> {
    /// Regions, pools and endpoints (services are being built).
    pub model: &'a Gslb,
    /// The service's name, for messages.
    pub service: &'a Name,
    /// The service's pools.
    pub pools: &'a [PoolId],
    /// The service's `answers` (addresses per answer).
    pub answers: usize,
    /// Where the step is named in the config (its `chain`, or the service for the default
    /// chain): the line of problems that have no value of their own to point at.
    pub at: std::ops::Range<usize>,
    /// Where the service is in the config, and the parsed config (None: defaults only).
    pub source: Option<(&'a Config, &'a Document<'a>, usize)>,
    /// Problems found.
    pub problems: &'a mut Diagnostics,
}

impl Compile<'_> {
    /// The step's `[service.WORD]` table read strictly into `T` (defaults when absent).
    pub fn settings<T: serde::de::DeserializeOwned + Default>(&mut self, word: &str) -> Option<T> {
        let Some((_, doc, index)) = self.source else {
            return Some(T::default());
        };
        doc.settings(index, word, self.problems)
            .ok()
            .map(Option::unwrap_or_default)
    }

    /// A problem at the line of `span` in the config file.
    pub fn err(&mut self, span: std::ops::Range<usize>, msg: String) {
        let d = match self.source {
            Some((config, _, _)) => config.diag_at(span, msg),
            None => crate::diag::Diagnostic::file("<config>", msg),
        };
        self.problems.push(d);
    }

    /// A pool named in the step's settings, by id; a problem when it is not one of the
    /// service's pools.
    pub fn pool(&mut self, name: &Spanned<String>, what: &str) -> Option<PoolId> {
        match self
            .model
            .pool_id(name.get_ref())
            .filter(|p| self.pools.contains(p))
        {
            Some(p) => Some(p),
            None => {
                let msg = format!(
                    "service {}: {what} names `{}`, which is not one of its pools",
                    self.service,
                    name.get_ref()
                );
                self.err(name.span(), msg);
                None
            }
        }
    }
}

/// Run `chain` over `cands`. Returns the client-dependence prefix (for the ECS scope).
pub fn run(
    chain: &[Arc<dyn Step>],
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
                step: step.word().to_string(),
                before: before.unwrap_or_default(),
                after: cands.describe(ctx.model),
                why: notes.take_why(),
                scope: notes.scope,
            });
        }
    }
    scope
}

pub use crate::hash::{mix64, unit};

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's step table lists exactly the steps of [`WORDS`], with the same answer to
    /// "depends on the client".
    #[test]
    fn readme_table_matches_the_words() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme
            .find("| step | what it does | depends on the client |")
            .unwrap();
        let rows: Vec<(String, bool)> = readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (
                    cells[1].trim_matches('`').to_string(),
                    cells[3].starts_with("yes"),
                )
            })
            .collect();
        let words: Vec<(String, bool)> = WORDS
            .iter()
            .map(|w| (w.word.to_string(), w.client_dependent))
            .collect();
        assert_eq!(rows, words);
        for w in DEFAULT_CHAIN {
            assert!(word(w).is_some(), "default chain names unknown step {w}");
        }
    }

    fn problems(extra: &str) -> Vec<String> {
        let text = format!("{}{extra}", testing::CONFIG);
        let cfg = crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .config;
        let zone = crate::zone::load::load_zone_text(
            "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.53\n",
            std::path::Path::new("gslb.example.com.zone"),
            None,
        )
        .unwrap();
        let mut zones = crate::zone::ZoneSet::new(vec![zone]);
        let mut p = Diagnostics::default();
        crate::gslb::build::build(&cfg, &mut zones, &mut p);
        p.0.iter().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn each_word_checks_its_own_settings() {
        assert!(problems("").is_empty());
        let p = problems("[service.first_n]\nn = 0\n");
        assert!(p[0].contains("first_n keeps 0 addresses"), "{p:?}");
        let p = problems("[service.failover]\ntiers = [[\"nowhere\"]]\n");
        assert!(p[0].contains("failover tier names `nowhere`"), "{p:?}");
        let p = problems("chain = [\"health\", \"sticky\"]\n[service.sticky]\nipv4_prefix = 40\n");
        assert!(p[0].contains("prefixes are at most 32"), "{p:?}");
        let p = problems("[service.sticky]\nipv4_prefix = 24\n");
        assert!(p[0].contains("`sticky` is not in its chain"), "{p:?}");
        let p = problems("[service.frob]\nx = 1\n");
        assert!(p[0].contains("unknown table [service.frob]"), "{p:?}");
        let p = problems("chain = [\"health\", \"frob\"]\n");
        assert!(p[0].contains("unknown chain step `frob`"), "{p:?}");
        let p = problems("[service.geo]\nregion = { eu = [\"eu-west\"] }\n");
        assert!(p[0].contains("unknown key `service.1.geo.region`"), "{p:?}");
    }
}
