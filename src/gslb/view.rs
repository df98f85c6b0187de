//! [`HealthView`]: endpoint up/down and (region, pool) latency, by dense id — measured by the
//! health engine, with what operators force ([`Force`]) laid over it.
//!
//! An operator's override means one thing for a decision, and it is said here: `drain` gives
//! the endpoints weight 0 (never answered, health untouched), `down` marks them down (the
//! policy chain fails over as if checks had failed), `up` marks them up whatever the checks
//! say. Who made an override, and for how long, is the business of `ops`.

use super::{EndpointId, Gslb, PoolId, RegionId, Target};
use serde::{Deserialize, Serialize};

/// What an operator forces on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Force {
    /// Weight 0: never answered.
    Drain,
    /// Down, whatever the checks say.
    Down,
    /// Up, whatever the checks say.
    Up,
}

impl Force {
    /// The word used in the API and the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            Force::Drain => "drain",
            Force::Down => "down",
            Force::Up => "up",
        }
    }

    /// From the word.
    pub fn parse(s: &str) -> Option<Force> {
        match s {
            "drain" => Some(Force::Drain),
            "down" => Some(Force::Down),
            "up" => Some(Force::Up),
            _ => None,
        }
    }
}

/// What background work lays over the measured view: operators' overrides in force (in
/// order: a later one wins) and the effective weights of endpoints whose weight follows a
/// schedule (by endpoint name, so a reload in between cannot misplace them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forced {
    /// Overrides in force.
    pub overrides: Vec<(Target, Force)>,
    /// Scheduled weights in force (`[[pool.endpoint.weight_schedule]]`).
    pub weights: Vec<(String, u32)>,
}

/// Health and latency as of one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthView {
    up: Vec<bool>,
    drained: Vec<bool>,
    /// Effective weight per endpoint: the configured one, or the scheduled one in force.
    weights: Vec<u32>,
    endpoint_pool: Vec<PoolId>,
    pool_up: Vec<usize>,
    latency: Vec<Option<f64>>,
    pools: usize,
    /// Per pool: failback ramp and capacity admission ([`Admission`]).
    admission: Vec<Admission>,
}

/// Per pool, what background work publishes about how many of its clients it takes: how long
/// ago it came back after being down (the failback ramp, see `src/gslb/policy/failover.rs`),
/// and the share of its clients its declared capacity admits (see
/// `src/gslb/policy/capacity.rs`). Computed when state changes and on a timer while a ramp
/// runs — never per query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Milliseconds since the pool came back, while it ramps (`None`: not ramping).
    pub back_ms: Option<u32>,
    /// Clients admitted under its capacity, per mille (1000: all).
    pub capacity: u16,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            back_ms: None,
            capacity: crate::gslb::admission::ALL,
        }
    }
}

impl HealthView {
    /// Every endpoint up, no latency known: the state before any probe has run (and the
    /// view `fail_open` answers from).
    pub fn all_up(model: &Gslb) -> Self {
        let mut pool_up = vec![0; model.pools.len()];
        for e in &model.endpoints {
            pool_up[e.pool] += 1;
        }
        Self {
            up: vec![true; model.endpoints.len()],
            drained: vec![false; model.endpoints.len()],
            weights: model.endpoints.iter().map(|e| e.weight).collect(),
            endpoint_pool: model.endpoints.iter().map(|e| e.pool).collect(),
            pool_up,
            latency: vec![None; model.regions.len() * model.pools.len()],
            pools: model.pools.len(),
            admission: vec![Admission::default(); model.pools.len()],
        }
    }

    /// Is the endpoint up?
    pub fn is_up(&self, e: EndpointId) -> bool {
        self.up.get(e).copied().unwrap_or(false)
    }

    /// Is the endpoint drained by an override (weight 0: never answered)?
    pub fn is_drained(&self, e: EndpointId) -> bool {
        self.drained.get(e).copied().unwrap_or(false)
    }

    /// Drain an endpoint (or undo it).
    pub fn set_drained(&mut self, e: EndpointId, drained: bool) {
        if let Some(slot) = self.drained.get_mut(e) {
            *slot = drained;
        }
    }

    /// The endpoint's weight now (0: drained): its configured weight, or the one its weight
    /// schedule put in force.
    pub fn weight(&self, e: EndpointId) -> u32 {
        self.weights.get(e).copied().unwrap_or(0)
    }

    /// Lay `forced` over the view: the overrides ([`HealthView::force`]) and the scheduled
    /// weights (an endpoint whose name is not in `model` is skipped).
    pub fn lay(&mut self, model: &Gslb, forced: &Forced) {
        for (name, w) in &forced.weights {
            if let Some(e) = model.endpoint_id(name)
                && let Some(slot) = self.weights.get_mut(e)
            {
                *slot = *w;
            }
        }
        self.force(model, &forced.overrides);
    }

    /// How many of the pool's endpoints are up.
    pub fn pool_up(&self, p: PoolId) -> usize {
        self.pool_up.get(p).copied().unwrap_or(0)
    }

    /// Smoothed RTT from `region`'s probers to the pool's best live endpoint, in ms.
    pub fn latency_ms(&self, region: RegionId, pool: PoolId) -> Option<f64> {
        self.latency
            .get(region * self.pools + pool)
            .copied()
            .flatten()
    }

    /// Mark an endpoint up or down.
    pub fn set_up(&mut self, e: EndpointId, up: bool) {
        if let Some(slot) = self.up.get_mut(e)
            && *slot != up
        {
            *slot = up;
            let p = self.endpoint_pool[e];
            if up {
                self.pool_up[p] += 1;
            } else {
                self.pool_up[p] -= 1;
            }
        }
    }

    /// Lay what operators force over the view, in order (a later entry wins over an earlier
    /// one). A target whose name is not in `model` (it left the config in a reload) is skipped.
    pub fn force(&mut self, model: &Gslb, forced: &[(Target, Force)]) {
        for (target, force) in forced {
            let Ok(eps) = target.endpoints(model) else {
                continue;
            };
            for e in eps {
                match force {
                    Force::Drain => self.set_drained(e, true),
                    Force::Down => self.set_up(e, false),
                    Force::Up => self.set_up(e, true),
                }
            }
        }
    }

    /// Set the latency from a region to a pool.
    pub fn set_latency(&mut self, region: RegionId, pool: PoolId, ms: f64) {
        if let Some(slot) = self.latency.get_mut(region * self.pools + pool) {
            *slot = Some(ms);
        }
    }

    /// Forget the latency from a region to a pool.
    pub fn clear_latency(&mut self, region: RegionId, pool: PoolId) {
        if let Some(slot) = self.latency.get_mut(region * self.pools + pool) {
            *slot = None;
        }
    }
}

impl HealthView {
    /// The pool's failback ramp and capacity admission.
    pub fn admission(&self, p: PoolId) -> Admission {
        self.admission.get(p).copied().unwrap_or_default()
    }

    /// Set the pool's failback ramp and capacity admission.
    pub fn set_admission(&mut self, p: PoolId, a: Admission) {
        if let Some(slot) = self.admission.get_mut(p) {
            *slot = a;
        }
    }
}
