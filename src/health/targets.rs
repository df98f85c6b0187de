//! Check targets: what is probed. Endpoints that name the same check (same URL and options)
//! share one target, so one probe per region serves them all.

use super::check::Check;
use crate::config::health::Timing;
use crate::config::health::{CheckSpec, HealthConfig};
use crate::gslb::{EndpointId, Gslb};
use std::collections::HashMap;

/// One thing to probe.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// A stable identity across reloads and between servers and agents (URL and options).
    pub key: String,
    /// The compiled check.
    pub check: Check,
    /// Interval, timeout, rise, fall.
    pub timing: Timing,
    /// The endpoints whose health this is.
    pub endpoints: Vec<EndpointId>,
}

/// The identity of a check spec.
pub fn key(spec: &CheckSpec) -> String {
    let mut k = spec.url.clone();
    if let Some(h) = &spec.host {
        k.push_str(&format!(" host={h}"));
    }
    if let Some(m) = &spec.method {
        k.push_str(&format!(" method={m}"));
    }
    if !spec.expect.is_empty() {
        let e: Vec<String> = spec
            .expect
            .iter()
            .map(|r| format!("{}-{}", r.0, r.1))
            .collect();
        k.push_str(&format!(" expect={}", e.join(",")));
    }
    if let Some(b) = &spec.body {
        k.push_str(&format!(" body={b:?}"));
    }
    if spec.insecure {
        k.push_str(" insecure");
    }
    if spec.follow_redirects {
        k.push_str(" follow");
    }
    k
}

/// The targets of a model, in a stable order (first endpoint naming each).
pub fn targets(model: &Gslb, cfg: &HealthConfig) -> Vec<ProbeTarget> {
    let mut out: Vec<ProbeTarget> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (id, ep) in model.endpoints.iter().enumerate() {
        let Some(spec) = &ep.check else {
            continue;
        };
        let k = key(spec);
        if let Some(&i) = by_key.get(&k) {
            out[i].endpoints.push(id);
            continue;
        }
        // The model was validated, so the check compiles.
        let Ok(check) = Check::build(spec) else {
            continue;
        };
        by_key.insert(k.clone(), out.len());
        out.push(ProbeTarget {
            key: k,
            check,
            timing: spec.timing(cfg),
            endpoints: vec![id],
        });
    }
    out
}
