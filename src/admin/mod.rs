//! The admin HTTP API (JSON over HTTP, axum), on `[admin] listen` (loopback by default).
//!
//! - `POST /api/v1/probe-reports` — results from remote `ayadns probe` agents (agent or admin
//!   token); they count as the agent's region's votes, exactly like a local region's.
//! - `GET /api/v1/status` — health per endpoint and region (read token).
//!
//! Every request needs `Authorization: Bearer TOKEN` ([`auth`]): 401 without a valid one, 403
//! when the token's role does not allow the call. The server refuses to listen on a
//! non-loopback address when no token is configured.

pub mod auth;
pub mod reports;
mod status;

use crate::health::engine::HealthHandle;
use crate::snapshot::SharedSnapshot;
use auth::{Role, Tokens};
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The current snapshot.
    pub snapshot: SharedSnapshot,
    /// The health engine (reports in, status out).
    pub health: HealthHandle,
    /// Known tokens.
    pub tokens: Arc<Tokens>,
}

/// The caller, as authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token name.
    pub name: String,
    /// Token role.
    pub role: Role,
}

/// A JSON error response.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": msg.into() })),
    )
        .into_response()
}

async fn authenticate(
    axum::extract::State(st): axum::extract::State<AdminState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = presented.and_then(|p| st.tokens.find(p)) else {
        let mut r = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("header"),
        );
        return r;
    };
    let path = req.uri().path();
    let needed = if path == "/api/v1/probe-reports" {
        Role::Agent
    } else if req.method() == axum::http::Method::GET {
        Role::Read
    } else {
        Role::Admin
    };
    let allowed = token.role == Role::Admin || token.role == needed;
    if !allowed {
        return error(
            StatusCode::FORBIDDEN,
            format!("token `{}` may not do this", token.name),
        );
    }
    req.extensions_mut().insert(Caller {
        name: token.name.clone(),
        role: token.role,
    });
    next.run(req).await
}

/// The router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/v1/probe-reports", axum::routing::post(reports::post))
        .route("/api/v1/status", axum::routing::get(status::get))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .with_state(state)
}

/// Bind the admin listener (an error names the address), refusing a non-loopback address
/// when no token is configured.
pub async fn bind(addr: SocketAddr, tokens: &Tokens) -> anyhow::Result<tokio::net::TcpListener> {
    if !addr.ip().is_loopback() && tokens.is_empty() {
        anyhow::bail!(
            "refusing to serve the admin API on {addr} (not loopback) with no token configured: set [admin] tokens_file or admin_token_env"
        );
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for the admin API: {e}"))
}

/// Serve until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: CancellationToken,
) {
    let app = router(state);
    let _ = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await;
}
