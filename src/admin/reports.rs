//! `POST /api/v1/probe-reports`: results from a remote `ayadns probe` agent.
//!
//! Body: `{"region": "eu", "results": [{"target": KEY, "ok": true, "rtt_ms": 1.2, "error": null}]}`.
//! The region must be one of `[health] agents`; targets are matched by key (URL and options),
//! unknown ones are counted and ignored. Results are stamped with the server's receive time,
//! so agents' clocks do not matter; an agent that stops reporting goes stale like any region.

use super::{AdminState, error};
use crate::api::ProbeReports;
use crate::health::check::Outcome;
use crate::health::prober::Report;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

pub(super) async fn post(State(st): State<AdminState>, Json(body): Json<ProbeReports>) -> Response {
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
    let at = st.clock.now();
    let n = body.results.len();
    for r in body.results {
        st.health.report(Report {
            target: r.target,
            region,
            outcome: Outcome {
                ok: r.ok,
                rtt: r
                    .rtt_ms
                    .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)),
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
