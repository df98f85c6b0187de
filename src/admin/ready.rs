//! `GET /healthz` and `GET /readyz` (no token: for load balancers and orchestrators; body
//! [`crate::api::Readiness`]).
//!
//! - `/healthz`: 200 while the process serves its admin listener (liveness).
//! - `/readyz`: 200 when the zones are loaded and served, every checked endpoint has a
//!   health result (measured since start, or restored from the state file), and — on a
//!   clustered node — the cluster view has synced with etcd at least once, and the health
//!   engine runs (it is supervised: if it ever stops, this turns red); else 503 with the
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
    let mut checks = vec![
        ReadyCheck {
            name: "health engine".into(),
            ok: st.health.is_alive(),
            detail: if st.health.is_alive() {
                "running".into()
            } else {
                "stopped: health is frozen and operator actions are refused (see the log)".into()
            },
        },
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
    // Clustered: the view of the shared state has been current at least once (from etcd; a
    // view restored from the local cache alone is not enough to call this node synced).
    if let Some(c) = (st.cluster)() {
        checks.push(ReadyCheck {
            name: "cluster".into(),
            ok: c.sync_age_s.is_some(),
            detail: match c.sync_age_s {
                Some(age) => format!(
                    "node {} at revision {}, in sync {age:.1} s ago{}",
                    c.node,
                    c.revision,
                    if c.connected {
                        ""
                    } else {
                        " (etcd unreachable now)"
                    }
                ),
                None => format!("node {} has not synced with etcd yet", c.node),
            },
        });
    }
    let ready = checks.iter().all(|c| c.ok);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(Readiness { ready, checks })).into_response()
}
