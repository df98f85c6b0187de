//! From probe results to health: rise/fall per region, quorum across regions, latency.
//!
//! - **Per region** (a vantage point), each target has a state with hysteresis: it goes down
//!   after `fall` failures in a row and comes back after `rise` successes in a row. Each region
//!   also keeps an EWMA of the target's RTT (α = 0.3).
//! - **Across regions**, a target is up when enough of the regions with *fresh* results say
//!   up: `quorum` of them, or by default a strict majority; a tie keeps the previous state (no
//!   flapping on a split vote). A region's result is fresh for `stale_after` (default 3 ×
//!   interval): a region that stops reporting stops voting. With no fresh region at all, the
//!   last known state holds.
//! - **Latency** from region R to pool P is the lowest EWMA, measured from R, among P's
//!   endpoints that are up — the map the `latency` step reads.
//!
//! The aggregator is plain data driven by [`Aggregator::report`] and [`Aggregator::tick`] with
//! explicit times, so it is tested without sockets or clocks.

use super::check::Outcome;
use super::targets::ProbeTarget;
use crate::config::health::{HealthConfig, Initial};
use crate::gslb::HealthView;
use crate::gslb::{Gslb, RegionId};
use crate::state::{EndpointState, Transition};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

const EWMA_ALPHA: f64 = 0.3;

/// One region's view of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionState {
    /// Up after hysteresis.
    pub up: bool,
    /// Successes in a row.
    pub successes: u32,
    /// Failures in a row.
    pub failures: u32,
    /// Smoothed RTT, ms.
    pub ewma_ms: Option<f64>,
    /// Last RTT, ms.
    pub last_rtt_ms: Option<f64>,
    /// When the last result arrived.
    pub last_at: SystemTime,
    /// When `up` last changed.
    pub last_change: SystemTime,
    /// Why the last probe failed.
    pub last_error: Option<String>,
}

/// A target's health.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// The target's identity.
    pub key: String,
    /// Per region (indexed by region id), once it has reported or been restored.
    pub regions: Vec<Option<RegionState>>,
    /// The aggregated (quorum) state.
    pub up: bool,
    /// When the aggregated state last changed.
    pub last_change: SystemTime,
    /// True when no region had fresh results at the last evaluation.
    pub held: bool,
    rise: u32,
    fall: u32,
    stale_after: Duration,
}

/// All targets' health for one model.
#[derive(Debug, Clone)]
pub struct Aggregator {
    /// Per target, in [`super::targets::targets`] order.
    pub targets: Vec<TargetState>,
    region_names: Vec<String>,
    quorum: usize,
    endpoints_of: Vec<Vec<usize>>,
    target_of: Vec<Option<usize>>,
    dirty: Vec<bool>,
    dirty_list: Vec<usize>,
    up_changed: bool,
    /// Changes since the last `take_transitions`, by target index.
    transitions: Vec<(usize, Transition)>,
    /// Other nodes' verdicts (clusters): per target, per region, up or down.
    remote: Vec<Vec<Option<bool>>>,
    /// This process's region verdicts that changed (or appeared) since the last
    /// `take_vote_changes`: what a cluster member publishes.
    vote_changes: Vec<(usize, RegionId, bool)>,
}

impl Aggregator {
    /// Start for `targets` of `model`. Stored state (`restored`: per endpoint and region, `*`
    /// for the aggregate) younger than `max_age` is used; otherwise the `initial` state.
    pub fn new(
        model: &Gslb,
        targets: &[ProbeTarget],
        cfg: &HealthConfig,
        restored: &[EndpointState],
        now: SystemTime,
    ) -> Self {
        let region_names: Vec<String> = model.regions.iter().map(|r| r.name.clone()).collect();
        let initial = cfg.initial == Initial::Up;
        let mut stored: HashMap<(&str, &str), &EndpointState> = HashMap::new();
        for s in restored {
            let young = now
                .duration_since(s.updated_at)
                .map_or(true, |age| age <= cfg.max_age);
            if young {
                stored.insert((s.endpoint.as_str(), s.region.as_str()), s);
            }
        }
        let mut out = Aggregator {
            targets: Vec::new(),
            region_names: region_names.clone(),
            quorum: cfg.quorum,
            endpoints_of: Vec::new(),
            target_of: vec![None; model.endpoints.len()],
            dirty: Vec::new(),
            dirty_list: Vec::new(),
            up_changed: false,
            transitions: Vec::new(),
            remote: Vec::new(),
            vote_changes: Vec::new(),
        };
        for t in targets {
            let names: Vec<&str> = t
                .endpoints
                .iter()
                .map(|&e| model.endpoints[e].name.as_str())
                .collect();
            let find = |region: &str| {
                names
                    .iter()
                    .find_map(|n| stored.get(&(*n, region)).copied())
            };
            let regions = region_names
                .iter()
                .map(|r| {
                    find(r).map(|s| RegionState {
                        up: s.up,
                        successes: s.successes,
                        failures: s.failures,
                        ewma_ms: s.last_rtt_ms,
                        last_rtt_ms: s.last_rtt_ms,
                        last_at: s.updated_at,
                        last_change: s.last_change,
                        last_error: s.last_error.clone(),
                    })
                })
                .collect();
            let agg = find("*");
            out.targets.push(TargetState {
                key: t.key.clone(),
                regions,
                up: agg.map_or(initial, |s| s.up),
                last_change: agg.map_or(now, |s| s.last_change),
                held: false,
                rise: t.timing.rise,
                fall: t.timing.fall,
                stale_after: cfg.stale_after.unwrap_or(t.timing.interval * 3),
            });
            for &e in &t.endpoints {
                out.target_of[e] = Some(out.targets.len() - 1);
            }
            out.endpoints_of.push(t.endpoints.clone());
            out.dirty.push(false);
        }
        for i in 0..out.targets.len() {
            out.evaluate(i, now, "restored");
        }
        out
    }

    /// Apply one probe result of target `t` from `region` at `at`.
    pub fn report(&mut self, t: usize, region: RegionId, outcome: &Outcome, at: SystemTime) {
        let Some(ts) = self.targets.get_mut(t) else {
            return;
        };
        let (rise, fall) = (ts.rise, ts.fall);
        let Some(slot) = ts.regions.get_mut(region) else {
            return;
        };
        let rtt_ms = outcome.rtt.map(|d| d.as_secs_f64() * 1000.0);
        let first = slot.is_none();
        let st = slot.get_or_insert_with(|| RegionState {
            up: ts.up,
            successes: 0,
            failures: 0,
            ewma_ms: None,
            last_rtt_ms: None,
            last_at: at,
            last_change: at,
            last_error: None,
        });
        st.last_at = at;
        st.last_rtt_ms = rtt_ms;
        if let Some(ms) = rtt_ms {
            st.ewma_ms = Some(st.ewma_ms.map_or(ms, |e| e + EWMA_ALPHA * (ms - e)));
        }
        let was = st.up;
        if outcome.ok {
            st.successes = st.successes.saturating_add(1);
            st.failures = 0;
            st.last_error = None;
            if !st.up && st.successes >= rise {
                st.up = true;
            }
        } else {
            st.failures = st.failures.saturating_add(1);
            st.successes = 0;
            st.last_error = outcome.error.clone();
            if st.up && st.failures >= fall {
                st.up = false;
            }
        }
        let up_now = st.up;
        if first || up_now != was {
            self.vote_changes.push((t, region, up_now));
        }
        let Some(Some(st)) = self.targets[t].regions.get_mut(region) else {
            return;
        };
        if st.up != was {
            st.last_change = at;
            let reason = if st.up {
                format!("{} successes in a row", st.successes)
            } else {
                format!(
                    "{} failures in a row: {}",
                    st.failures,
                    st.last_error.as_deref().unwrap_or("failed")
                )
            };
            let region_name = self.region_names[region].clone();
            self.push_transitions(t, &region_name, was, !was, at, reason);
            // State changes are written at once; counters and RTTs with the periodic
            // full write (see the engine).
            self.mark_dirty(t);
        }
        self.evaluate(t, at, "quorum");
    }

    /// Re-evaluate freshness at `now` (results age out of the vote).
    pub fn tick(&mut self, now: SystemTime) {
        for t in 0..self.targets.len() {
            self.evaluate(t, now, "stale results");
        }
    }

    /// Other nodes' verdict on target `t` from `region` (`None`: no vote), then re-evaluate.
    /// A region this process has fresh results from counts its own; other nodes' votes live
    /// as long as those nodes' leases, so they count as fresh.
    pub fn set_remote(&mut self, t: usize, region: RegionId, vote: Option<bool>, now: SystemTime) {
        let regions = self.region_names.len();
        if t >= self.targets.len() || region >= regions {
            return;
        }
        if self.remote.len() < self.targets.len() {
            self.remote.resize(self.targets.len(), vec![None; regions]);
        }
        if self.remote[t][region] != vote {
            self.remote[t][region] = vote;
            self.evaluate(t, now, "cluster votes");
        }
    }

    /// Forget this process's results for target `t` from `region` (another node probes it
    /// now), then re-evaluate.
    pub fn forget_local(&mut self, t: usize, region: RegionId, now: SystemTime) {
        if let Some(slot) = self
            .targets
            .get_mut(t)
            .and_then(|ts| ts.regions.get_mut(region))
        {
            *slot = None;
            self.evaluate(t, now, "probing moved");
        }
    }

    /// This process's verdicts that changed since the last call: (target, region, up).
    pub fn take_vote_changes(&mut self) -> Vec<(usize, RegionId, bool)> {
        std::mem::take(&mut self.vote_changes)
    }

    /// Recompute target `t`'s aggregated state.
    fn evaluate(&mut self, t: usize, now: SystemTime, why: &str) {
        let ts = &self.targets[t];
        let (mut ups, mut downs) = (0usize, 0usize);
        for (i, r) in ts.regions.iter().enumerate() {
            let local = r.as_ref().filter(|r| {
                now.duration_since(r.last_at)
                    .map_or(true, |age| age <= ts.stale_after)
            });
            let vote = match local {
                Some(r) => Some(r.up),
                None => self.remote.get(t).and_then(|v| v[i]),
            };
            match vote {
                Some(true) => ups += 1,
                Some(false) => downs += 1,
                None => {}
            }
        }
        let fresh = ups + downs;
        let ts = &mut self.targets[t];
        ts.held = fresh == 0;
        if fresh == 0 {
            return;
        }
        let new = if self.quorum > 0 {
            ups >= self.quorum.min(fresh)
        } else if ups > downs {
            true
        } else if downs > ups {
            false
        } else {
            ts.up // a tie keeps the state
        };
        if new != ts.up {
            let was = ts.up;
            ts.up = new;
            ts.last_change = now;
            let reason = format!("{why}: {ups} of {fresh} fresh regions say up");
            self.mark_dirty(t);
            self.up_changed = true;
            self.push_transitions(t, "*", was, new, now, reason);
        }
    }

    fn mark_dirty(&mut self, t: usize) {
        if !self.dirty[t] {
            self.dirty[t] = true;
            self.dirty_list.push(t);
        }
    }

    /// True (once) when some target's aggregated state changed since the last call.
    pub fn take_up_changed(&mut self) -> bool {
        std::mem::take(&mut self.up_changed)
    }

    fn push_transitions(
        &mut self,
        t: usize,
        region: &str,
        from: bool,
        to: bool,
        at: SystemTime,
        reason: String,
    ) {
        // Kept by target index; `take_transitions` names one per endpoint.
        self.transitions.push((
            t,
            Transition {
                endpoint: String::new(),
                region: region.to_string(),
                from_up: from,
                to_up: to,
                at,
                reason,
            },
        ));
    }

    /// Transitions since the last call, one per endpoint of the target (named by endpoint).
    pub fn take_transitions(&mut self, model: &Gslb) -> Vec<Transition> {
        let mut out = Vec::new();
        for (i, tr) in std::mem::take(&mut self.transitions) {
            for &e in &self.endpoints_of[i] {
                out.push(Transition {
                    endpoint: model.endpoints[e].name.clone(),
                    ..tr.clone()
                });
            }
        }
        out
    }

    /// States changed since the last call, per endpoint and region (`*`: the aggregate).
    pub fn take_dirty_states(&mut self, model: &Gslb, now: SystemTime) -> Vec<EndpointState> {
        let mut out = Vec::new();
        for i in std::mem::take(&mut self.dirty_list) {
            self.dirty[i] = false;
            let ts = &self.targets[i];
            for &e in &self.endpoints_of[i] {
                let name = &model.endpoints[e].name;
                for (r, st) in ts.regions.iter().enumerate() {
                    if let Some(st) = st {
                        out.push(EndpointState {
                            endpoint: name.clone(),
                            region: self.region_names[r].clone(),
                            up: st.up,
                            successes: st.successes,
                            failures: st.failures,
                            last_rtt_ms: st.last_rtt_ms,
                            last_change: st.last_change,
                            last_error: st.last_error.clone(),
                            updated_at: st.last_at,
                        });
                    }
                }
                out.push(EndpointState {
                    endpoint: name.clone(),
                    region: "*".into(),
                    up: ts.up,
                    successes: 0,
                    failures: 0,
                    last_rtt_ms: None,
                    last_change: ts.last_change,
                    last_error: None,
                    updated_at: now,
                });
            }
        }
        out
    }

    /// Every state, for carrying health across a reload.
    pub fn take_all_states(&mut self, model: &Gslb, now: SystemTime) -> Vec<EndpointState> {
        for t in 0..self.targets.len() {
            self.mark_dirty(t);
        }
        self.take_dirty_states(model, now)
    }

    /// Per endpoint: per region (and `*`) its state, for status pages.
    pub fn detail(&self, now: SystemTime) -> super::engine::StatusDetail {
        let mut out = super::engine::StatusDetail::new();
        for (i, ts) in self.targets.iter().enumerate() {
            let mut regions = std::collections::BTreeMap::new();
            for (r, st) in ts.regions.iter().enumerate() {
                let Some(st) = st else { continue };
                let age = now.duration_since(st.last_at).unwrap_or_default();
                regions.insert(
                    self.region_names[r].clone(),
                    crate::api::Vantage {
                        up: st.up,
                        successes: st.successes,
                        failures: st.failures,
                        rtt_ms: st.last_rtt_ms,
                        ewma_ms: st.ewma_ms,
                        age_s: age.as_secs_f64(),
                        fresh: age <= ts.stale_after,
                        error: st.last_error.clone(),
                    },
                );
            }
            let summary = crate::api::ProbeSummary {
                up: ts.up,
                held: ts.held,
                target: ts.key.clone(),
            };
            for &e in &self.endpoints_of[i] {
                out.insert(e, (summary.clone(), regions.clone()));
            }
        }
        out
    }

    /// The health view for the query path at `now` (latency only from fresh results).
    pub fn view(&self, model: &Gslb, now: SystemTime) -> HealthView {
        let mut v = HealthView::all_up(model);
        for (i, ts) in self.targets.iter().enumerate() {
            for &e in &self.endpoints_of[i] {
                v.set_up(e, ts.up);
            }
        }
        for (p, pool) in model.pools.iter().enumerate() {
            for r in 0..model.regions.len() {
                let best = pool
                    .endpoints
                    .iter()
                    .filter(|&&e| v.is_up(e))
                    .filter_map(|&e| {
                        let ts = &self.targets[self.target_of[e]?];
                        let st = ts.regions[r].as_ref()?;
                        let fresh = now
                            .duration_since(st.last_at)
                            .map_or(true, |age| age <= ts.stale_after);
                        if fresh { st.ewma_ms } else { None }
                    })
                    .reduce(f64::min);
                if let Some(ms) = best {
                    v.set_latency(r, p, ms);
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::policy::testing;

    fn cfg() -> HealthConfig {
        toml::from_str("rise = 2\nfall = 3\ninterval = \"10s\"\ntimeout = \"2s\"").unwrap()
    }

    /// The example model with one HTTP check per endpoint.
    fn setup() -> (Gslb, Vec<ProbeTarget>) {
        let mut m = testing::model();
        for (i, e) in m.endpoints.iter_mut().enumerate() {
            e.check = Some(crate::config::health::CheckSpec {
                url: format!("http://127.0.0.1:{}/health", 20000 + i),
                ..Default::default()
            });
        }
        let t = crate::health::targets::targets(&m, &cfg());
        (m, t)
    }

    fn ok() -> Outcome {
        Outcome {
            ok: true,
            rtt: Some(Duration::from_millis(10)),
            error: None,
        }
    }
    fn bad() -> Outcome {
        Outcome {
            ok: false,
            rtt: None,
            error: Some("status 503".into()),
        }
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + s)
    }

    #[test]
    fn fall_and_rise_hysteresis_in_one_region() {
        let (m, t) = setup();
        let mut a = Aggregator::new(&m, &t, &cfg(), &[], at(0));
        a.report(0, 0, &bad(), at(1));
        a.report(0, 0, &bad(), at(2));
        assert!(a.targets[0].up, "two failures < fall 3");
        a.report(0, 0, &bad(), at(3));
        assert!(!a.targets[0].up, "down after fall");
        a.report(0, 0, &ok(), at(4));
        assert!(!a.targets[0].up, "one success < rise 2");
        a.report(0, 0, &ok(), at(5));
        assert!(a.targets[0].up, "up after rise");
        let tr = a.take_transitions(&m);
        assert_eq!(tr.iter().filter(|t| t.region == "us").count(), 2);
        assert_eq!(tr.iter().filter(|t| t.region == "*").count(), 2);
    }

    #[test]
    fn quorum_majority_ties_and_staleness() {
        let (m, t) = setup();
        let mut a = Aggregator::new(&m, &t, &cfg(), &[], at(0));
        let down = |a: &mut Aggregator, r: usize, s: u64| {
            for k in 0..3 {
                a.report(0, r, &bad(), at(s + k));
            }
        };
        a.report(0, 1, &ok(), at(1));
        a.report(0, 2, &ok(), at(1));
        down(&mut a, 0, 1);
        assert!(a.targets[0].up, "1 of 3 down: stays up");
        down(&mut a, 1, 2);
        assert!(!a.targets[0].up, "2 of 3 down: down");
        // Regions 0 and 1 stop reporting; after stale_after (30 s) only region 2 votes (up).
        a.report(0, 2, &ok(), at(40));
        assert!(a.targets[0].up, "only fresh regions vote");
        // Nobody fresh: the last state holds.
        a.tick(at(200));
        assert!(a.targets[0].up && a.targets[0].held);
    }

    #[test]
    fn a_tie_keeps_the_previous_state() {
        let (m, t) = setup();
        let mut a = Aggregator::new(&m, &t, &cfg(), &[], at(0));
        a.report(0, 0, &ok(), at(1));
        for k in 0..3 {
            a.report(0, 1, &bad(), at(1 + k));
        }
        assert!(a.targets[0].up, "1 up, 1 down: unchanged (up)");
    }

    #[test]
    fn warm_start_uses_young_state_only() {
        let (m, t) = setup();
        let mut a = Aggregator::new(&m, &t, &cfg(), &[], at(0));
        for k in 0..3 {
            a.report(0, 0, &bad(), at(1 + k));
        }
        let saved = a.take_all_states(&m, at(5));
        let young = Aggregator::new(&m, &t, &cfg(), &saved, at(60));
        assert!(!young.targets[0].up, "restored down");
        let old = Aggregator::new(&m, &t, &cfg(), &saved, at(5 + 301));
        assert!(old.targets[0].up, "older than max_age: the initial state");
    }

    #[test]
    fn latency_is_the_best_live_endpoint_per_region_and_pool() {
        let (m, t) = setup();
        let mut a = Aggregator::new(&m, &t, &cfg(), &[], at(0));
        let slow = Outcome {
            ok: true,
            rtt: Some(Duration::from_millis(50)),
            error: None,
        };
        let i = |name: &str| {
            t.iter()
                .position(|x| x.endpoints.contains(&m.endpoint_id(name).unwrap()))
                .unwrap()
        };
        a.report(i("eu-west-a"), 1, &slow, at(1));
        a.report(i("eu-west-b"), 1, &ok(), at(1));
        let v = a.view(&m, at(2));
        let eu_west = m.pool_id("eu-west").unwrap();
        assert_eq!(v.latency_ms(1, eu_west), Some(10.0));
        assert_eq!(v.latency_ms(0, eu_west), None, "no data from region 0");
        assert_eq!(
            a.view(&m, at(100)).latency_ms(1, eu_west),
            None,
            "stale results give no latency"
        );
    }
}
