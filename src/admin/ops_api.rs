//! The operations endpoints: overrides, drills, explain, reload, audit.
//!
//! | method and path | role | body / query |
//! | --- | --- | --- |
//! | `GET /api/v1/overrides` | read | |
//! | `POST /api/v1/overrides` | admin | `{"target": "pool:eu-west", "action": "drain", "reason": "...", "expires_in": "10m"}` |
//! | `DELETE /api/v1/overrides/{id}` | admin | |
//! | `POST /api/v1/drills/preview` | admin | `{"fail": ["pool:eu-west"]}` (changes nothing) |
//! | `POST /api/v1/drills` | admin | `{"fail": [...], "reason": "...", "duration": "15m"}` |
//! | `POST /api/v1/drills/{id}/stop` | admin | |
//! | `GET /api/v1/drills/{id}` | read | the timeline |
//! | `GET /api/v1/explain?name=&type=&client=` | read | the decision trace |
//! | `POST /api/v1/reload` | admin | same as SIGHUP; answers the validation result |
//! | `GET /api/v1/audit?limit=` | read | newest first |

use super::{AdminState, Caller, error};
use crate::api::{
    AuditList, ClockAdvance, ClockReply, DrillRequest, ExplainReply, NewOverride, OverrideList,
    ReloadReply, Removed,
};
use crate::ops::OpsError;
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

fn ops_error(e: OpsError) -> Response {
    let status = match e {
        OpsError::Invalid(_) => StatusCode::BAD_REQUEST,
        OpsError::NotFound(_) => StatusCode::NOT_FOUND,
        OpsError::Conflict(_) => StatusCode::CONFLICT,
        OpsError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

fn duration(s: &str) -> Result<std::time::Duration, Box<Response>> {
    humantime::parse_duration(s).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("bad duration `{s}`: {e}"),
        ))
    })
}

pub(super) async fn list_overrides(State(st): State<AdminState>) -> Response {
    Json(OverrideList {
        overrides: st.ops.overrides(),
    })
    .into_response()
}

pub(super) async fn add_override(
    State(st): State<AdminState>,
    Extension(caller): Extension<Caller>,
    Json(b): Json<NewOverride>,
) -> Response {
    let expires = match b.expires_in.as_deref().map(duration) {
        Some(Ok(d)) => Some(d),
        Some(Err(r)) => return *r,
        None => None,
    };
    if b.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a reason is required");
    }
    match st
        .ops
        .add_override(&b.target, &b.action, &b.reason, expires, &caller.name)
        .await
    {
        Ok(o) => (StatusCode::CREATED, Json(o)).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn delete_override(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Response {
    match st.ops.remove_override(&id).await {
        Ok(o) => Json(Removed { removed: o }).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn preview(State(st): State<AdminState>, Json(b): Json<DrillRequest>) -> Response {
    match st.ops.preview(&b.fail) {
        Ok(p) => Json(p).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn start_drill(
    State(st): State<AdminState>,
    Extension(caller): Extension<Caller>,
    Json(b): Json<DrillRequest>,
) -> Response {
    let d = match duration(b.duration.as_deref().unwrap_or("15m")) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    if b.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a reason is required");
    }
    match st
        .ops
        .start_drill(&b.fail, &b.reason, d, &caller.name)
        .await
    {
        Ok(d) => (StatusCode::CREATED, Json(d.api())).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn stop_drill(State(st): State<AdminState>, Path(id): Path<String>) -> Response {
    match st.ops.stop_drill(&id).await {
        Ok(d) => Json(d.api()).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn get_drill(State(st): State<AdminState>, Path(id): Path<String>) -> Response {
    match st.ops.drill(&id) {
        Some(d) => Json(d.api()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no drill `{id}`")),
    }
}

#[derive(Deserialize)]
pub(super) struct ExplainQuery {
    name: String,
    #[serde(default, rename = "type")]
    rtype: Option<String>,
    client: String,
}

pub(super) async fn explain(
    State(st): State<AdminState>,
    Query(q): Query<ExplainQuery>,
) -> Response {
    let question = match crate::explain::Question::parse(&q.name, q.rtype.as_deref(), &q.client) {
        Ok(question) => question,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let snap = st.snapshot.load_full();
    match crate::explain::explain(&snap, &question) {
        Ok(trace) => Json(ExplainReply { trace }).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

pub(super) async fn reload(State(st): State<AdminState>) -> Response {
    match st.reloader.reload().await {
        Ok(()) => Json(ReloadReply {
            ok: true,
            errors: Vec::new(),
        })
        .into_response(),
        Err(p) => {
            let errors: Vec<String> = p.0.iter().map(|d| d.to_string()).collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ReloadReply { ok: false, errors }),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Limit {
    #[serde(default)]
    pub(super) limit: Option<usize>,
}

pub(super) async fn audit(State(st): State<AdminState>, Query(l): Query<Limit>) -> Response {
    Json(AuditList {
        audit: st.ops.audit_log(l.limit.unwrap_or(100).min(10_000)),
    })
    .into_response()
}

/// `POST /api/v1/test/clock` (test clock only): move the clock forward, then run what is due
/// (override expiry, drill ends, staleness) before answering.
pub(super) async fn advance_clock(
    State(st): State<AdminState>,
    Json(b): Json<ClockAdvance>,
) -> Response {
    let by = match duration(&b.advance) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let now = match st.clock.advance(by) {
        Ok(now) => now,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    st.ops.tick().await;
    st.health.tick().await;
    st.history.sample(&st.snapshot, now, false);
    Json(ClockReply {
        now,
        offset_s: st.clock.offset().as_secs_f64(),
    })
    .into_response()
}
