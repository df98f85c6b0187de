//! `GET /healthz` and `GET /readyz` (no token: for load balancers and orchestrators; body
//! [`crate::api::Readiness`]).
//!
//! - `/healthz`: 200 while the process serves its admin listener (liveness).
//! - `/readyz`: 200 when the zones are loaded and served and every checked endpoint has a
//!   health result (measured since start, or restored from the state file), else 503 with the
//!   condition that is not met. Without that, the first answers of a cold start would come
//!   from `initial` guesses rather than measurements.

use super::AdminState;
use crate::api::{Readiness, ReadyCheck};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub(super) async fn healthz() -> Json<Readiness> {
    Json(Readiness {
        ready: true,
        checks: Vec::new(),
    })
}

pub(super) async fn readyz(State(st): State<AdminState>) -> Response {
    let snap = st.snapshot.load_full();
    let zones = snap.model.zones.len();
    let detail = st.health.status().await;
    // Endpoints sharing a check share a target: count distinct targets.
    let mut targets: std::collections::BTreeMap<&str, bool> = Default::default();
    for (summary, regions) in detail.values() {
        *targets.entry(summary.target.as_str()).or_default() |= !regions.is_empty();
    }
    let measured = targets.values().filter(|&&m| m).count();
    let checks = vec![
        ReadyCheck {
            name: "zones".into(),
            ok: zones > 0,
            detail: format!("{zones} zone(s) served"),
        },
        ReadyCheck {
            name: "health".into(),
            ok: measured == targets.len(),
            detail: format!(
                "{measured} of {} health check target(s) have a result (measured or restored)",
                targets.len()
            ),
        },
    ];
    let ready = checks.iter().all(|c| c.ok);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(Readiness { ready, checks })).into_response()
}
