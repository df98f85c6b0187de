//! `GET /api/v1/status`: what is up, as the query path sees it, and why.

use super::AdminState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(super) async fn get(State(st): State<AdminState>) -> Response {
    let snap = st.snapshot.load_full();
    let g = &snap.model.gslb;
    let detail = st.health.status().await;
    let endpoints: Vec<_> = g
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "name": e.name,
                "pool": g.pools[e.pool].name,
                "up": snap.health.is_up(i),
                "weight": e.weight,
                "check": e.check.as_ref().map(|c| c.url.clone()),
                "regions": detail.get(&e.name).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let pools: Vec<_> = g
        .pools
        .iter()
        .enumerate()
        .map(|(p, pool)| {
            let latency: serde_json::Map<String, serde_json::Value> = g
                .regions
                .iter()
                .enumerate()
                .filter_map(|(r, reg)| {
                    snap.health
                        .latency_ms(r, p)
                        .map(|ms| (reg.name.clone(), json!(ms)))
                })
                .collect();
            json!({
                "name": pool.name,
                "region": g.regions[pool.region].name,
                "endpoints_up": snap.health.pool_up(p),
                "endpoints": pool.endpoints.len(),
                "latency_ms": latency,
            })
        })
        .collect();
    let zones: Vec<_> = snap
        .model
        .zones
        .iter()
        .map(|z| json!({ "origin": z.origin.to_string(), "serial": z.serial(), "records": z.record_count }))
        .collect();
    let services: Vec<_> = g
        .services
        .iter()
        .map(|s| json!({ "name": s.name.to_string() }))
        .collect();
    Json(json!({
        "zones": zones,
        "services": services,
        "pools": pools,
        "endpoints": endpoints,
    }))
    .into_response()
}
