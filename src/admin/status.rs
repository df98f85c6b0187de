//! `GET /api/v1/status`: what is up, as the query path sees it, and why (body:
//! [`crate::api::Status`]).

use super::AdminState;
use crate::api::{
    ConfigInfo, EndpointStatus, PoolStatus, RegionInfo, ServiceInfo, Status, TransitionInfo,
    ZoneInfo,
};
use crate::gslb::admission::{ALL, ramp_permille};
use axum::Json;
use axum::extract::State;

pub(super) async fn get(State(st): State<AdminState>) -> Json<Status> {
    let snap = st.snapshot.load_full();
    let g = &snap.model.gslb;
    let mut detail = st.health.status().await;
    let endpoints = g
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (probe, regions) = match detail.remove(&i) {
                Some((p, r)) => (Some(p), r),
                None => (None, Default::default()),
            };
            EndpointStatus {
                name: e.name.clone(),
                pool: g.pools[e.pool].name.clone(),
                up: snap.health.is_up(i),
                weight: snap.health.weight(i),
                check: e.check.as_ref().map(|c| c.url.clone()),
                probe,
                regions,
            }
        })
        .collect();
    let longest = crate::health::admission::longest_ramps(g);
    let pools = g
        .pools
        .iter()
        .enumerate()
        .map(|(p, pool)| PoolStatus {
            name: pool.name.clone(),
            region: g.regions[pool.region].name.clone(),
            endpoints_up: snap.health.pool_up(p),
            endpoints: pool.endpoints.len(),
            latency_ms: g
                .regions
                .iter()
                .enumerate()
                .filter_map(|(r, reg)| {
                    snap.health
                        .latency_ms(r, p)
                        .map(|ms| (reg.name.clone(), ms))
                })
                .collect(),
            ramp_admitted: longest[p].and_then(|r| {
                let a = snap.health.admission(p);
                a.back_ms
                    .map(|_| f64::from(ramp_permille(a.back_ms, r)) / f64::from(ALL))
            }),
            capacity: pool.capacity,
            capacity_admitted: {
                let c = snap.health.admission(p).capacity;
                (c < ALL).then(|| f64::from(c) / f64::from(ALL))
            },
        })
        .collect();
    let zones = snap
        .model
        .zones
        .iter()
        .map(|z| ZoneInfo {
            origin: z.origin.to_string(),
            serial: z.serial(),
            records: z.record_count,
        })
        .collect();
    let services = g
        .services
        .iter()
        .map(|s| ServiceInfo {
            name: s.name.to_string(),
            ttl: s.ttl,
            pools: s.pools.iter().map(|&p| g.pools[p].name.clone()).collect(),
            chain: s.chain.iter().map(|c| c.word().to_string()).collect(),
        })
        .collect();
    let regions = g
        .regions
        .iter()
        .map(|r| RegionInfo {
            name: r.name.clone(),
            location: [r.coords.0, r.coords.1],
        })
        .collect();
    // The traffic split: answers per service and pool so far.
    let mut traffic: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
        Default::default();
    let mut region_traffic: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    > = Default::default();
    for (k, n) in st.ops.counts() {
        *region_traffic
            .entry(k.service.clone())
            .or_default()
            .entry(k.region)
            .or_default()
            .entry(k.pool.clone())
            .or_default() += n;
        *traffic
            .entry(k.service)
            .or_default()
            .entry(k.pool)
            .or_default() += n;
    }
    let transitions = transitions(&st, 50).await;
    let loaded_at = snap.model.loaded_at;
    let version = loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    Json(Status {
        config: ConfigInfo { loaded_at, version },
        last_reload: st.reloader.last(),
        regions,
        overrides: st.ops.overrides(),
        drill: st.ops.active_drill().map(|d| d.api()),
        transitions,
        traffic,
        region_traffic,
        zones,
        services,
        pools,
        endpoints,
        cluster: (st.cluster)(),
        scheduled: st.ops.scheduled(),
        notify: st.notify.status(),
    })
}

async fn transitions(st: &AdminState, limit: usize) -> Vec<TransitionInfo> {
    st.ops
        .transitions(limit)
        .await
        .into_iter()
        .map(|t| TransitionInfo {
            endpoint: t.endpoint,
            region: t.region,
            from_up: t.from_up,
            to_up: t.to_up,
            at: t.at,
            reason: t.reason,
        })
        .collect()
}

/// `GET /api/v1/transitions?limit=N` (default 100, at most 10,000).
pub(super) async fn list_transitions(
    State(st): State<AdminState>,
    axum::extract::Query(l): axum::extract::Query<super::ops_api::Page>,
) -> Json<crate::api::TransitionList> {
    Json(crate::api::TransitionList {
        transitions: transitions(&st, l.limit.unwrap_or(100).clamp(1, 10_000)).await,
    })
}
