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
        .map(|s| {
            let pools: Vec<&str> = s.pools.iter().map(|&p| g.pools[p].name.as_str()).collect();
            json!({ "name": s.name.to_string(), "ttl": s.ttl, "pools": pools })
        })
        .collect();
    let regions: Vec<_> = g
        .regions
        .iter()
        .map(|r| json!({ "name": r.name, "location": [r.coords.0, r.coords.1] }))
        .collect();
    // The traffic split: answers per service and pool so far.
    let mut traffic: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
        Default::default();
    for (svc, _region, pool, n) in st.ops.counts() {
        *traffic.entry(svc).or_default().entry(pool).or_default() += n;
    }
    let transitions: Vec<_> = st
        .ops
        .transitions(50)
        .into_iter()
        .map(|t| {
            let at = t.at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            json!({ "endpoint": t.endpoint, "region": t.region, "from_up": t.from_up, "to_up": t.to_up, "at": at, "reason": t.reason })
        })
        .collect();
    let loaded_at = snap
        .model
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let last_reload = st.reloader.last();
    Json(json!({
        "config": { "loaded_at": loaded_at, "version": format!("{loaded_at:.0}") },
        "last_reload": last_reload,
        "regions": regions,
        "overrides": st.ops.overrides(),
        "drill": st.ops.active_drill(),
        "transitions": transitions,
        "traffic": traffic,
        "zones": zones,
        "services": services,
        "pools": pools,
        "endpoints": endpoints,
    }))
    .into_response()
}
