//! The operations endpoints: overrides, drills, explain, reload, audit.
//!
//! | method and path | role | body / query |
//! | --- | --- | --- |
//! | `GET /api/v1/overrides` | read | |
//! | `POST /api/v1/overrides` | admin | `{"target": "pool:eu-west", "action": "drain", "reason": "...", "expires_in": "10m", "starts_at": "2026-12-24T02:00:00Z"}` (`starts_at` optional) |
//! | `DELETE /api/v1/overrides/{id}` | admin | also cancels a scheduled one |
//! | `POST /api/v1/drills/preview` | admin | `{"fail": ["pool:eu-west"], "at": "2026-12-24T02:00:00Z"}` (changes nothing; `at` optional) |
//! | `POST /api/v1/drills` | admin | `{"fail": [...], "reason": "...", "duration": "15m", "starts_at": "..."}` (`starts_at` optional) |
//! | `POST /api/v1/drills/{id}/stop`, `DELETE /api/v1/drills/{id}` | admin | stops it, or cancels it before its start |
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
use crate::ops::audit::Actor;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

fn ops_error(e: OpsError) -> Response {
    let status = match e {
        OpsError::Invalid(_) => StatusCode::BAD_REQUEST,
        OpsError::NotFound(_) => StatusCode::NOT_FOUND,
        OpsError::Conflict(_) => StatusCode::CONFLICT,
        OpsError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        OpsError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// A duration from a request: humantime (`10m`, `2h`), at most a year.
fn duration(s: &str) -> Result<std::time::Duration, Box<Response>> {
    let bad = |why: String| Box::new(error(StatusCode::BAD_REQUEST, why));
    let d = humantime::parse_duration(s).map_err(|e| bad(format!("bad duration `{s}`: {e}")))?;
    if d > crate::ops::MAX_DURATION {
        return Err(bad(format!(
            "duration `{s}` is longer than {}",
            humantime::format_duration(crate::ops::MAX_DURATION)
        )));
    }
    Ok(d)
}

/// Who is acting: the caller's token name, address, method and path (the handler adds the
/// request body), for the audit entry committed with the action.
pub(super) struct Acting(pub(super) Actor);

impl axum::extract::FromRequestParts<AdminState> for Acting {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .extensions
            .get::<Caller>()
            .map_or("-".to_string(), |c| c.name.clone());
        let source = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or("-".to_string(), |c| c.0.ip().to_string());
        Ok(Acting(Actor {
            token,
            source,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            request: String::new(),
        }))
    }
}

pub(super) async fn list_overrides(State(st): State<AdminState>) -> Response {
    Json(OverrideList {
        overrides: st.ops.listed(),
    })
    .into_response()
}

pub(super) async fn add_override(
    State(st): State<AdminState>,
    Acting(mut actor): Acting,
    Json(b): Json<NewOverride>,
) -> Response {
    actor.request = serde_json::to_string(&b).unwrap_or_default();
    let expires = match b.expires_in.as_deref().map(duration) {
        Some(Ok(d)) => Some(d),
        Some(Err(r)) => return *r,
        None => None,
    };
    if b.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a reason is required");
    }
    let starts_at = match b.starts_at.as_deref().map(crate::ops::parse_instant) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return ops_error(e),
        None => None,
    };
    match st
        .ops
        .add_override(&b.target, &b.action, &b.reason, expires, starts_at, &actor)
        .await
    {
        Ok(o) => (StatusCode::CREATED, Json(o)).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn delete_override(
    State(st): State<AdminState>,
    Acting(actor): Acting,
    Path(id): Path<String>,
) -> Response {
    match st.ops.remove_override(&id, &actor).await {
        Ok(o) => Json(Removed { removed: o }).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn preview(State(st): State<AdminState>, Json(b): Json<DrillRequest>) -> Response {
    let at = match b.at.as_deref().map(crate::ops::parse_instant) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return ops_error(e),
        None => None,
    };
    match st.ops.preview_at(&b.fail, at) {
        Ok(p) => Json(p).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn start_drill(
    State(st): State<AdminState>,
    Acting(mut actor): Acting,
    Json(b): Json<DrillRequest>,
) -> Response {
    actor.request = serde_json::to_string(&b).unwrap_or_default();
    let d = match duration(b.duration.as_deref().unwrap_or("15m")) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    if b.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a reason is required");
    }
    let starts_at = match b.starts_at.as_deref().map(crate::ops::parse_instant) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return ops_error(e),
        None => None,
    };
    match st
        .ops
        .start_drill(&b.fail, &b.reason, d, starts_at, &actor)
        .await
    {
        Ok(d) => (StatusCode::CREATED, Json(d.api())).into_response(),
        Err(e) => ops_error(e),
    }
}

pub(super) async fn stop_drill(
    State(st): State<AdminState>,
    Acting(actor): Acting,
    Path(id): Path<String>,
) -> Response {
    match st.ops.stop_drill(&id, &actor).await {
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

pub(super) async fn reload(State(st): State<AdminState>, Acting(actor): Acting) -> Response {
    let outcome = st.reloader.reload().await;
    let now = st.clock.now();
    let (status, reply) = match outcome {
        Ok(done) => (
            StatusCode::OK,
            ReloadReply {
                ok: true,
                errors: Vec::new(),
                needs_restart: done.needs_restart,
            },
        ),
        Err(p) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ReloadReply {
                ok: false,
                errors: p.0.iter().map(|d| d.to_string()).collect(),
                needs_restart: Vec::new(),
            },
        ),
    };
    let result = serde_json::to_string(&reply).unwrap_or_default();
    st.ops
        .record(actor.entry(now, status.as_u16(), &result))
        .await;
    (status, Json(reply)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Page {
    #[serde(default)]
    pub(super) limit: Option<usize>,
    #[serde(default)]
    before: Option<i64>,
}

/// The most audit entries one page holds.
const MAX_PAGE: usize = 1000;

pub(super) async fn audit(State(st): State<AdminState>, Query(p): Query<Page>) -> Response {
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_PAGE}"),
        );
    }
    match st.ops.audit_page(p.before, limit).await {
        Ok(audit) => {
            let next_before = (audit.len() == limit)
                .then(|| audit.last().map(|e| e.id))
                .flatten();
            Json(AuditList { audit, next_before }).into_response()
        }
        Err(e) => ops_error(e),
    }
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
