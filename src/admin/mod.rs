//! The admin HTTP API (JSON over HTTP, axum), on `[admin] listen` (loopback by default).
//!
//! - `POST /api/v1/probe-reports` — results from remote `ayadns probe` agents (agent or admin
//!   token); they count as the agent's region's votes, exactly like a local region's.
//! - `GET /api/v1/status` — zones, services, pools, endpoints with per-region health and RTT,
//!   overrides, the active drill, recent transitions, the traffic split, the last reload.
//! - `GET /api/v1/transitions?limit=N` — health transitions from the state file.
//! - overrides, drills, explain, reload, audit: see `ops_api.rs`; `GET /metrics`: [`metrics`].
//!
//! - `GET /api/v1/history` — the last hour of QPS, answers per pool and pool health, with
//!   events ([`history`]).
//! - `GET /healthz`, `GET /readyz` — liveness and readiness, without a token ([`ready`]).
//!
//! With `[admin] metrics_listen`, a second listener serves only `GET /metrics`, without a
//! token (for a Prometheus that should not reach the API).
//!
//! The dashboard's static files (`/`, `/dashboard.js`, `/dashboard.css`) need no token (the
//! page asks for one and sends it with its API calls).
//!
//! Every request is rate-limited per client address (governor; 429 with Retry-After), and
//! every mutation — and every rejected attempt — is recorded in the audit trail.
//!
//! Every request needs `Authorization: Bearer TOKEN` ([`auth`]): 401 without a valid one, 403
//! when the token's role does not allow the call. The server refuses to listen on a
//! non-loopback address when no token is configured.

pub mod auth;
mod dashboard;
pub mod history;
pub mod metrics;
mod ops_api;
mod ready;
pub mod reports;
pub mod serve;
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

/// What handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The current snapshot.
    pub snapshot: SharedSnapshot,
    /// The health engine (reports in, status out).
    pub health: HealthHandle,
    /// `[health]` as served (swapped by a reload): limits for probe reports.
    pub health_cfg: Arc<arc_swap::ArcSwap<crate::config::health::HealthConfig>>,
    /// Per agent region: the last report's `seq` (replays are refused).
    pub reports_seen: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
    /// Known tokens (swapped by a reload).
    pub tokens: Arc<arc_swap::ArcSwap<Tokens>>,
    /// Overrides, drills, audit.
    pub ops: Arc<crate::ops::Ops>,
    /// Reloads (shared with SIGHUP).
    pub reloader: Arc<crate::reload::Reloader>,
    /// The cluster as this node sees it (`None`: a node alone).
    pub cluster: ClusterInfo,
    /// The clock (a test clock can be moved with `POST /api/v1/test/clock`).
    pub clock: crate::clock::Clock,
    /// The last hour of traffic and health (sampled by [`serve`]).
    pub history: Arc<history::Recorder>,
    /// Requests per second per client address.
    pub limiter: Arc<governor::DefaultKeyedRateLimiter<std::net::IpAddr>>,
    /// The `[[notify]]` webhooks (their counters, for status and metrics).
    pub notify: crate::notify::Notifier,
}

/// Where the admin API reads the cluster's state from (status and metrics).
pub type ClusterInfo = Arc<dyn Fn() -> Option<crate::api::ClusterStatus> + Send + Sync>;

/// The caller, as authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token name.
    pub name: String,
    /// For an agent token: the regions it may report for.
    pub regions: Vec<String>,
}

/// A JSON error response.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        axum::Json(crate::api::ApiError { error: msg.into() }),
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
    let tokens = st.tokens.load();
    let Some(token) = presented.and_then(|p| tokens.find(p)) else {
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
        // Name the caller for the audit trail.
        let mut r = error(
            StatusCode::FORBIDDEN,
            format!("token `{}` may not do this", token.name),
        );
        r.extensions_mut().insert(Caller {
            name: token.name.clone(),
            regions: Vec::new(),
        });
        return r;
    }
    let caller = Caller {
        name: token.name.clone(),
        regions: token.regions.clone(),
    };
    req.extensions_mut().insert(caller.clone());
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(caller);
    resp
}

/// Per-client rate limiting (governor): 429 with Retry-After past the quota.
async fn rate_limit(
    axum::extract::State(st): axum::extract::State<AdminState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if let Err(not_until) = st.limiter.check_key(&peer.ip()) {
        st.snapshot.load().metrics.process().rate_limited();
        use governor::clock::Clock;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate limited: slow down");
        let secs = wait.as_secs() + 1;
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            secs.to_string().parse().expect("header"),
        );
        return r;
    }
    next.run(req).await
}

/// Record refused requests in the audit trail — metadata only, never the body (actions that
/// were carried out are recorded by `ops`, in the same transaction as the change).
async fn audit(
    axum::extract::State(st): axum::extract::State<AdminState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = crate::ops::audit::cap(req.uri().path(), 256);
    let mutation = method != axum::http::Method::GET;
    let resp = next.run(req).await;
    let status = resp.status();
    let refused = matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    ) || (mutation && (status.is_client_error() || status.is_server_error()));
    if refused {
        let token = resp
            .extensions()
            .get::<Caller>()
            .map_or("-".to_string(), |c| c.name.clone());
        st.ops
            .refused(crate::ops::audit::AuditEntry {
                id: 0,
                at: st.clock.now(),
                token,
                source: peer.ip().to_string(),
                method: method.to_string(),
                path,
                request: String::new(),
                status: status.as_u16(),
                result: String::new(),
                node: None,
            })
            .await;
    }
    resp
}

/// The largest request body, but for probe reports.
pub const MAX_BODY: usize = 64 * 1024;
/// The largest probe report (10,000 check targets with their errors fit).
pub const MAX_REPORT_BODY: usize = 8 << 20;

/// A handler panicked: log it, answer 500.
fn panicked(why: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = why
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| why.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    tracing::error!(panic = %msg, "admin API handler panicked");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
}

/// The router.
pub fn router(state: AdminState) -> Router {
    use axum::routing::{delete, get, post};
    let mut api = Router::new();
    if state.clock.is_test() {
        // Only on a server started with `--test-clock`: tests move time instead of sleeping.
        api = api.route("/api/v1/test/clock", post(ops_api::advance_clock));
    }
    api.route("/api/v1/status", get(status::get))
        .route("/metrics", axum::routing::get(metrics::handler)) // Prometheus (read token)
        .route(
            "/api/v1/overrides",
            get(ops_api::list_overrides).post(ops_api::add_override),
        )
        .route("/api/v1/overrides/{id}", delete(ops_api::delete_override))
        .route("/api/v1/drills/preview", post(ops_api::preview))
        .route("/api/v1/drills", post(ops_api::start_drill))
        .route(
            "/api/v1/drills/{id}",
            get(ops_api::get_drill).delete(ops_api::stop_drill),
        )
        .route("/api/v1/drills/{id}/stop", post(ops_api::stop_drill))
        .route("/api/v1/explain", get(ops_api::explain))
        .route("/api/v1/reload", post(ops_api::reload))
        .route("/api/v1/audit", get(ops_api::audit))
        .route("/api/v1/history", get(history::get))
        .route("/api/v1/transitions", get(status::list_transitions))
        // Bodies: small, but a big deployment's probe report may be large.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .route(
            "/api/v1/probe-reports",
            post(reports::post).layer(axum::extract::DefaultBodyLimit::max(MAX_REPORT_BODY)),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit))
        // API answers are never cached by a browser or a proxy.
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        ))
        // The dashboard's static files: outside the token layer (the page asks for a token).
        .merge(dashboard::router())
        // Liveness and readiness: outside the token layer (load balancers send none).
        .route("/healthz", get(ready::healthz))
        .route("/readyz", get(ready::readyz))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            serve::BODY_TIMEOUT,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            serve::REQUEST_TIMEOUT,
        ))
        // A bug in a handler answers 500 and is logged; it never takes the server down.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
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

/// Bind the metrics-only listener (`[admin] metrics_listen`; an error names the address).
pub async fn bind_metrics(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for metrics: {e}"))
}

/// Serve `GET /metrics` (no token) and nothing else until `shutdown`, with the admin
/// listener's protections (connection caps, header timeout; no TLS).
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AdminState,
    header_timeout: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let prune = state.limiter.clone();
    let app = Router::new()
        .route("/metrics", axum::routing::get(metrics::handler))
        .with_state(state);
    serve::serve_app(listener, app, prune, None, header_timeout, shutdown).await
}
