//! The decision trace: what each chain step saw, did, and why. Built only when asked
//! (`ayadns explain`, the admin API's explain), so the query path pays nothing for it.

use std::fmt;

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTrace {
    /// The step's config word.
    pub step: String,
    /// Candidates before the step.
    pub before: String,
    /// Candidates after the step.
    pub after: String,
    /// Why, in words.
    pub why: Vec<String>,
    /// The client prefix this step's decision depended on, if any.
    pub scope: Option<u8>,
}

/// The whole trace of one decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Where the client was placed.
    pub client: Vec<String>,
    /// Each step in order.
    pub steps: Vec<StepTrace>,
    /// The outcome: answer, TTL, scope, and any fallbacks taken.
    pub outcome: Vec<String>,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "client:")?;
        for l in &self.client {
            writeln!(f, "  {l}")?;
        }
        writeln!(f, "chain:")?;
        for (i, s) in self.steps.iter().enumerate() {
            write!(f, "  {}. {}", i + 1, s.step)?;
            if let Some(p) = s.scope {
                write!(f, "  (depends on the client's /{p})")?;
            }
            writeln!(f)?;
            writeln!(f, "     before: {}", s.before)?;
            for w in &s.why {
                writeln!(f, "     why:    {w}")?;
            }
            writeln!(f, "     after:  {}", s.after)?;
        }
        writeln!(f, "answer:")?;
        for l in &self.outcome {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// What a step reports besides its new candidates.
#[derive(Debug, Default)]
pub struct Notes {
    tracing: bool,
    why: Vec<String>,
    /// The client prefix the step's decision depended on.
    pub scope: Option<u8>,
}

impl Notes {
    /// Notes for one step; `tracing` says whether reasons are kept.
    pub fn new(tracing: bool) -> Self {
        Self {
            tracing,
            ..Self::default()
        }
    }

    /// Record a reason; the closure runs only when tracing.
    pub fn why(&mut self, f: impl FnOnce() -> String) {
        if self.tracing {
            self.why.push(f());
        }
    }

    /// The decision held for every client in the same /`prefix`.
    pub fn depends_on(&mut self, prefix: u8) {
        self.scope = Some(self.scope.map_or(prefix, |s| s.max(prefix)));
    }

    /// Take the reasons.
    pub fn take_why(&mut self) -> Vec<String> {
        std::mem::take(&mut self.why)
    }
}
