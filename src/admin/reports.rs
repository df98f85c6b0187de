//! `POST /api/v1/probe-reports`: results from a remote `ayadns probe` agent.
//!
//! Body: [`ProbeReports`] — `{"region": "eu", "sent_at": 1764662400.5, "seq": 42, "results":
//! [{"target": KEY, "ok": true, "rtt_ms": 1.2, "error": null}]}`.
//!
//! - The region must be one of `[health] agents`, and the caller's agent token must be bound
//!   to it (`agent:eu`): 403 otherwise — one agent cannot vote for another's region.
//! - `sent_at` must be within the region's staleness limit (and at most 5 s in the future),
//!   and `seq` must grow: an old or replayed report is refused (400, 409) and changes nothing.
//! - At most one result per check target; `rtt_ms` finite and within the check timeout;
//!   `error` at most 256 characters: 400 otherwise, and nothing of the report is counted.
//!
//! Targets are matched by key (URL and options); unknown ones are ignored. An agent that
//! stops reporting goes stale like any region.

use super::{AdminState, Caller, error};
use crate::api::{MAX_ERROR_CHARS, ProbeReports};
use crate::health::check::Outcome;
use crate::health::prober::Report;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::time::{Duration, UNIX_EPOCH};

/// How far in the future an agent's clock may be.
const MAX_SKEW: Duration = Duration::from_secs(5);

pub(super) async fn post(
    State(st): State<AdminState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<ProbeReports>,
) -> Response {
    let snap = st.snapshot.load_full();
    let gslb = &snap.model.gslb;
    let Some(region) = gslb.region_id(&body.region) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown region `{}`", body.region),
        );
    };
    if !gslb.agent_regions.contains(&region) {
        return error(
            StatusCode::FORBIDDEN,
            format!("region `{}` is not in [health] agents", body.region),
        );
    }
    // An agent token speaks for its own regions only (admin tokens have no such list).
    if !caller.regions.is_empty() && !caller.regions.contains(&body.region) {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` reports for {}, not for `{}`",
                caller.name,
                caller.regions.join(", "),
                body.region
            ),
        );
    }
    let cfg = st.health_cfg.load();
    // Bounds, all checked before anything is counted.
    let checks: Vec<_> = gslb
        .endpoints
        .iter()
        .filter_map(|e| e.check.as_ref())
        .collect();
    if body.results.len() > checks.len() {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "results: {} results for {} check targets",
                body.results.len(),
                checks.len()
            ),
        );
    }
    let timings: Vec<_> = checks.iter().map(|c| c.timing(&cfg)).collect();
    let max_timeout = timings
        .iter()
        .map(|t| t.timeout)
        .max()
        .unwrap_or(cfg.timeout);
    let window = cfg.stale_after.unwrap_or_else(|| {
        timings
            .iter()
            .map(|t| t.interval)
            .max()
            .unwrap_or(cfg.interval)
            * 3
    });
    for r in &body.results {
        if let Some(ms) = r.rtt_ms
            && !(ms.is_finite() && ms >= 0.0 && ms <= max_timeout.as_secs_f64() * 1000.0)
        {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "results.rtt_ms: {ms} is not between 0 and the check timeout ({} ms)",
                    max_timeout.as_millis()
                ),
            );
        }
        if r.error
            .as_ref()
            .is_some_and(|e| e.chars().count() > MAX_ERROR_CHARS)
        {
            return error(
                StatusCode::BAD_REQUEST,
                format!("results.error: longer than {MAX_ERROR_CHARS} characters"),
            );
        }
    }
    let now = st.clock.now();
    let sent = (body.sent_at.is_finite() && body.sent_at >= 0.0)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_secs_f64(body.sent_at.min(1e11))))
        .flatten();
    let Some(sent) = sent.filter(|&t| {
        t <= now + MAX_SKEW && now.duration_since(t).map_or(true, |age| age <= window)
    }) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "sent_at: the report is older than {} or from the future (check the agent's clock)",
                humantime::format_duration(window)
            ),
        );
    };
    {
        let mut seen = st.reports_seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&last) = seen.get(&body.region)
            && body.seq <= last
        {
            return error(
                StatusCode::CONFLICT,
                format!(
                    "seq {} is not newer than {last}: a replayed report is not counted",
                    body.seq
                ),
            );
        }
        seen.insert(body.region.clone(), body.seq);
    }
    let at = sent.min(now);
    let n = body.results.len();
    for r in body.results {
        st.health.report(Report {
            target: r.target,
            region,
            outcome: Outcome {
                ok: r.ok,
                rtt: r.rtt_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0)),
                error: r.error,
            },
            at,
        });
    }
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "accepted": n })),
    )
        .into_response()
}
