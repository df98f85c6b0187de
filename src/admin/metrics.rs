//! `GET /metrics`: Prometheus metrics in the OpenMetrics text format (content type
//! `application/openmetrics-text; version=1.0.0`), encoded by the `prometheus-client` crate
//! from the counters ([`crate::counters`]) and the snapshot being served.
//!
//! # The metrics
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | `ayadns_queries_total` | counter | `zone`, `qtype`, `rcode`, `protocol` | queries answered. `zone` is the zone's origin (`""` for a name in no served zone); `qtype` one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, ANY, AXFR, other; `rcode` one of NOERROR, NXDOMAIN, REFUSED, FORMERR, NOTIMP, SERVFAIL, BADVERS, other; `protocol` udp or tcp. Only label sets seen at least once are exported. An AXFR counts once. |
//! | `ayadns_queries_ecs_total` | counter | `ecs` (`yes`, `no`) | queries with and without an EDNS Client Subnet option (a malformed one counts as `yes`) |
//! | `ayadns_query_duration_seconds` | histogram | | time in the DNS handler per query (deciding, encoding, handing the response to the transport); buckets 1 µs … 10 ms (1, 2.5, 5 steps per decade) and +Inf |
//! | `ayadns_gslb_answers_total` | counter | `service`, `pool` | GSLB answers by service and the first pool answered: the traffic split. `pool=""` when no pool was answered (a `fallback` answer, or NODATA). Every pool of the current config is exported, 0 included. |
//! | `ayadns_gslb_region_answers_total` | counter | `service`, `region`, `pool` | the same, split by the client's region (see [`Metrics::answers_by_region`](crate::counters::Metrics::answers_by_region)) |
//! | `ayadns_endpoint_up` | gauge | `endpoint`, `pool` | 1 when the endpoint is up in the health view being served, else 0 |
//! | `ayadns_probe_rtt_seconds` | gauge | `region`, `pool` | smoothed probe RTT from the region's probers to the pool's best live endpoint (only where one is known) |
//! | `ayadns_probes_total` | counter | | health probes this process made (all regions) |
//! | `ayadns_probe_failures_total` | counter | `reason` (`timeout`, `connect`, `status`, `body`, `other`) | probes that failed, by why |
//! | `ayadns_probe_duration_seconds` | histogram | | time per probe (connect, or to the end of the HTTP check); buckets 1 ms … 5 s and +Inf |
//! | `ayadns_health_transitions_total` | counter | `to` (`up`, `down`) | endpoint health changes (the aggregated state, after quorum) |
//! | `ayadns_overrides_active` | gauge | | operator overrides in force (`Metrics::set_overrides_active`) |
//! | `ayadns_drills_active` | gauge | | DR drills running (`Metrics::set_drills_active`) |
//! | `ayadns_reloads_total` | counter | `result` (`ok`, `failed`) | configuration reloads (`Metrics::reload`) |
//! | `ayadns_last_reload_timestamp_seconds` | gauge | | when the last reload was tried (Unix seconds; absent before the first) |
//! | `ayadns_last_reload_success` | gauge | | 1 when the last reload was applied, 0 when rejected (absent before the first) |
//! | `ayadns_config_loaded_timestamp_seconds` | gauge | | when the configuration being served was loaded (Unix seconds) |
//! | `ayadns_geoip_database_age_seconds` | gauge | `file` | age of each GeoIP database being served, from the build time in its metadata |
//! | `ayadns_build_info` | gauge | `version` | always 1; the version of this binary |
//! | `ayadns_cluster_connected` | gauge | | (clusters) 1 when this node reaches etcd |
//! | `ayadns_cluster_revision` | gauge | | (clusters) the etcd revision of the view served |
//! | `ayadns_cluster_sync_age_seconds` | gauge | | (clusters) seconds since the view was last known current |
//! | `ayadns_rate_limited_total` | counter | | admin API requests refused by its rate limit (`Metrics::rate_limited`) |
//! | `ayadns_notify_delivered_total` | counter | `webhook` | `[[notify]]` events delivered (answered 2xx); `webhook` is the entry's `name`, or its URL without credentials or query |
//! | `ayadns_notify_failed_total` | counter | `webhook` | delivery attempts that failed (no connection, no answer within `timeout`, not 2xx) |
//! | `ayadns_notify_dropped_total` | counter | `webhook` | events given up: the queue was full (the oldest goes), or `max_attempts` failed |
//! | `ayadns_notify_queue_depth` | gauge | `webhook` | events waiting, the one being tried included (the `notify` families only with `[[notify]]` entries) |
//!
//! Service, zone and endpoint labels are names as configured (service and zone names fully
//! qualified, with the trailing dot).

use super::AdminState;
use crate::counters::{
    LATENCY_BOUNDS_NS, Metrics, PROBE_BOUNDS_S, PROBE_REASONS, PROTOCOLS, ProbeReadings, QTYPES,
    RCODES, Readings,
};
use crate::snapshot::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

/// What the exposition reads besides the counters and the snapshot.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The server's clock now (for ages).
    pub now: Option<SystemTime>,
    /// The last reload: when, applied?
    pub last_reload: Option<(SystemTime, bool)>,
    /// The cluster as this node sees it (clustered nodes only).
    pub cluster: Option<crate::api::ClusterStatus>,
    /// The `[[notify]]` webhooks' counters.
    pub notify: Vec<crate::api::WebhookStatus>,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition (OpenMetrics text) of `metrics` for the current snapshot `snap`.
pub fn render(metrics: &Metrics, snap: &Snapshot, cx: &Context) -> String {
    let r = metrics.read();
    let mut split: BTreeMap<(String, String), u64> = BTreeMap::new();
    // Every pool of the current config, even at 0: the split shows all candidates.
    for svc in &snap.model.gslb.services {
        for &p in &svc.pools {
            let pool = snap.model.gslb.pools[p].name.clone();
            split.insert((svc.name.to_string(), pool), 0);
        }
    }
    for (k, v) in &r.totals.answers {
        *split
            .entry((k.service.clone(), k.pool.clone()))
            .or_default() += v;
    }
    let g = &snap.model.gslb;
    let endpoint_up = g
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let up = snap.health.is_up(i);
            (e.name.clone(), g.pools[e.pool].name.clone(), u64::from(up))
        })
        .collect();
    let mut rtt = Vec::new();
    for (r, region) in g.regions.iter().enumerate() {
        for (p, pool) in g.pools.iter().enumerate() {
            if let Some(ms) = snap.health.latency_ms(r, p) {
                rtt.push((region.name.clone(), pool.name.clone(), ms / 1e3));
            }
        }
    }
    let now = cx.now.unwrap_or_else(SystemTime::now);
    let geoip_age = snap
        .model
        .geo
        .databases()
        .map(|d| {
            let built = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.build_epoch);
            let age = now.duration_since(built).map_or(0.0, |a| a.as_secs_f64());
            (d.path.display().to_string(), age)
        })
        .collect();
    let scrape = Scrape {
        cluster: cx.cluster.clone(),
        notify: cx.notify.clone(),
        r,
        split,
        endpoint_up,
        rtt,
        probes: crate::counters::probes().read(),
        last_reload: cx.last_reload.map(|(t, ok)| (unix(t), ok)),
        loaded_at: unix(snap.model.loaded_at),
        geoip_age,
    };
    let mut registry = prometheus_client::registry::Registry::with_prefix("ayadns");
    registry.register_collector(Box::new(scrape));
    registry.register_collector(crate::dns::counters::collector());
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        tracing::error!("encoding metrics failed");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Scrape
// ---------------------------------------------------------------------------------------------

/// Everything one scrape exports, gathered from the atomics (the registry's collector).
#[derive(Debug)]
struct Scrape {
    cluster: Option<crate::api::ClusterStatus>,
    notify: Vec<crate::api::WebhookStatus>,
    r: Readings,
    /// (service, pool) → answers.
    split: BTreeMap<(String, String), u64>,
    /// (endpoint, pool, up).
    endpoint_up: Vec<(String, String, u64)>,
    /// (region, pool, seconds).
    rtt: Vec<(String, String, f64)>,
    probes: ProbeReadings,
    /// (Unix seconds, applied).
    last_reload: Option<(f64, bool)>,
    loaded_at: f64,
    /// (file, seconds).
    geoip_age: Vec<(String, f64)>,
}

fn gauge_f(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
    }
    Ok(())
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, u64, u64>(&v, None)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        counters(
            e,
            "queries",
            "DNS queries answered, by zone (\"\": none), qtype, rcode and protocol.",
            self.r.totals.queries.iter().map(|((z, q, r, p), v)| {
                let labels = [
                    ("zone", z.as_str()),
                    ("qtype", QTYPES[*q]),
                    ("rcode", RCODES[*r]),
                    ("protocol", PROTOCOLS[*p]),
                ];
                (labels, *v)
            }),
        )?;
        counters(
            e,
            "queries_ecs",
            "DNS queries with and without an EDNS Client Subnet option.",
            [
                ([("ecs", "yes")], self.r.ecs[0]),
                ([("ecs", "no")], self.r.ecs[1]),
            ],
        )?;
        {
            let mut m = e.encode_descriptor(
                "query_duration_seconds",
                "Time spent in the DNS handler per query.",
                None,
                MetricType::Histogram,
            )?;
            let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_NS
                .iter()
                .map(|&b| b as f64 / 1e9)
                .chain([f64::INFINITY])
                .zip(self.r.latency.iter().copied())
                .collect();
            let count = self.r.latency.iter().sum();
            m.encode_histogram::<NoLabelSet>(self.r.latency_sum, count, &buckets, None)?;
        }
        counters(
            e,
            "gslb_answers",
            "GSLB answers by service and first pool answered (\"\": none).",
            self.split
                .iter()
                .map(|((s, p), v)| ([("service", s.as_str()), ("pool", p.as_str())], *v)),
        )?;
        counters(
            e,
            "gslb_region_answers",
            "GSLB answers by service, client region and first pool answered.",
            self.r.totals.answers.iter().map(|(k, v)| {
                let labels = [
                    ("service", k.service.as_str()),
                    ("region", k.region.as_str()),
                    ("pool", k.pool.as_str()),
                ];
                (labels, *v)
            }),
        )?;
        {
            let mut m = e.encode_descriptor(
                "endpoint_up",
                "1 when the endpoint is up in the health view being served.",
                None,
                MetricType::Gauge,
            )?;
            for (ep, pool, up) in &self.endpoint_up {
                let labels = [("endpoint", ep.as_str()), ("pool", pool.as_str())];
                m.encode_family(&labels)?.encode_gauge(up)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "probe_rtt_seconds",
                "Smoothed probe RTT from a region to a pool's best live endpoint.",
                None,
                MetricType::Gauge,
            )?;
            for (region, pool, ms) in &self.rtt {
                let labels = [("region", region.as_str()), ("pool", pool.as_str())];
                m.encode_family(&labels)?.encode_gauge(ms)?;
            }
        }
        counter(
            e,
            "probes",
            "Health probes made by this process.",
            self.probes.sent,
        )?;
        counters(
            e,
            "probe_failures",
            "Failed health probes, by reason.",
            PROBE_REASONS
                .iter()
                .zip(&self.probes.failed)
                .map(|(r, v)| ([("reason", *r)], *v)),
        )?;
        {
            let mut m = e.encode_descriptor(
                "probe_duration_seconds",
                "Time per health probe.",
                None,
                MetricType::Histogram,
            )?;
            let buckets: Vec<(f64, u64)> = PROBE_BOUNDS_S
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(self.probes.buckets.iter().copied())
                .collect();
            let count = self.probes.buckets.iter().sum();
            m.encode_histogram::<NoLabelSet>(self.probes.sum_s, count, &buckets, None)?;
        }
        counters(
            e,
            "health_transitions",
            "Endpoint health changes (aggregated state), by the state changed to.",
            [
                ([("to", "down")], self.r.transitions[0]),
                ([("to", "up")], self.r.transitions[1]),
            ],
        )?;
        gauge(
            e,
            "overrides_active",
            "Operator overrides in force.",
            self.r.overrides_active,
        )?;
        gauge(
            e,
            "drills_active",
            "DR drills running.",
            self.r.drills_active,
        )?;
        counters(
            e,
            "reloads",
            "Configuration reloads, applied (ok) or rejected (failed).",
            [
                ([("result", "ok")], self.r.reloads[0]),
                ([("result", "failed")], self.r.reloads[1]),
            ],
        )?;
        if let Some((at, ok)) = self.last_reload {
            gauge_f(
                e,
                "last_reload_timestamp_seconds",
                "When the last reload was tried (Unix seconds).",
                at,
            )?;
            gauge(
                e,
                "last_reload_success",
                "1 when the last reload was applied, 0 when rejected.",
                u64::from(ok),
            )?;
        }
        gauge_f(
            e,
            "config_loaded_timestamp_seconds",
            "When the configuration being served was loaded (Unix seconds).",
            self.loaded_at,
        )?;
        {
            let mut m = e.encode_descriptor(
                "geoip_database_age_seconds",
                "Age of each GeoIP database served, from its build time.",
                None,
                MetricType::Gauge,
            )?;
            for (file, age) in &self.geoip_age {
                m.encode_family(&[("file", file.as_str())])?
                    .encode_gauge(age)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "build_info",
                "Always 1; labelled with the version of this binary.",
                None,
                MetricType::Gauge,
            )?;
            m.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?
                .encode_gauge(&1u64)?;
        }
        counter(
            e,
            "rate_limited",
            "Admin API requests refused by its rate limit.",
            self.r.rate_limited,
        )?;
        if let Some(c) = &self.cluster {
            gauge(
                e,
                "cluster_connected",
                "1 when this node reaches etcd, else 0.",
                u64::from(c.connected),
            )?;
            gauge(
                e,
                "cluster_revision",
                "The etcd revision of the cluster view this node serves.",
                c.revision.max(0) as u64,
            )?;
            let mut m = e.encode_descriptor(
                "cluster_sync_age_seconds",
                "Seconds since this node's cluster view was last known current (+Inf before the first sync).",
                None,
                MetricType::Gauge,
            )?;
            m.encode_gauge(&c.sync_age_s.unwrap_or(f64::INFINITY))?;
        }
        let hooks = &self.notify;
        if hooks.is_empty() {
            return Ok(());
        }
        let per_hook = |f: fn(&crate::api::WebhookStatus) -> u64| {
            hooks
                .iter()
                .map(move |h| ([("webhook", h.name.as_str())], f(h)))
        };
        counters(
            e,
            "notify_delivered",
            "Webhook events delivered (answered 2xx).",
            per_hook(|h| h.delivered),
        )?;
        counters(
            e,
            "notify_failed",
            "Webhook delivery attempts that failed.",
            per_hook(|h| h.failed),
        )?;
        counters(
            e,
            "notify_dropped",
            "Webhook events given up: queue full, or every attempt failed.",
            per_hook(|h| h.dropped),
        )?;
        {
            let mut m = e.encode_descriptor(
                "notify_queue_depth",
                "Webhook events waiting, the one being tried included.",
                None,
                MetricType::Gauge,
            )?;
            for h in hooks {
                m.encode_family(&[("webhook", h.name.as_str())])?
                    .encode_gauge(&(h.queued as u64))?;
            }
        }
        Ok(())
    }
}

/// `GET /metrics`: the exposition for the current snapshot.
pub async fn handler(
    axum::extract::State(st): axum::extract::State<AdminState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let snap = st.snapshot.load_full();
    let cx = Context {
        now: Some(st.clock.now()),
        last_reload: st.reloader.last().map(|r| (r.at, r.ok)),
        cluster: (st.cluster)(),
        notify: st.notify.status(),
    };
    let body = render(snap.metrics.process(), &snap, &cx);
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::tests::answer;
    use std::time::Duration;

    #[test]
    fn render_parses_as_openmetrics() {
        let snap = Snapshot::new(crate::counters::tests::model(
            crate::gslb::policy::testing::CONFIG,
        ));
        answer(&snap.metrics, 1, 1, 1); // www, eu, eu-west
        snap.metrics.process().observe(Duration::from_micros(3));
        snap.metrics.process().reload(false);
        let cx = Context {
            now: None,
            last_reload: Some((SystemTime::UNIX_EPOCH, false)),
            cluster: None,
            notify: vec![crate::api::WebhookStatus {
                name: "oncall".into(),
                url: "http://127.0.0.1:9/".into(),
                events: vec![crate::api::notify::Topic::Drills],
                delivered: 3,
                failed: 2,
                dropped: 1,
                queued: 4,
                last_error: None,
                last_success: None,
            }],
        };
        let text = render(snap.metrics.process(), &snap, &cx);
        for want in [
            "# TYPE ayadns_queries counter",
            "ayadns_queries_total{zone=\"gslb.example.com.\",qtype=\"A\",rcode=\"NOERROR\",protocol=\"udp\"} 1",
            "ayadns_queries_ecs_total{ecs=\"yes\"} 1",
            "ayadns_gslb_answers_total{service=\"www.gslb.example.com.\",pool=\"eu-west\"} 1",
            "ayadns_gslb_answers_total{service=\"www.gslb.example.com.\",pool=\"us-east\"} 0",
            "ayadns_gslb_region_answers_total{service=\"www.gslb.example.com.\",region=\"eu\",pool=\"eu-west\"} 1",
            "ayadns_query_duration_seconds_bucket{le=\"0.000005\"} 1",
            "ayadns_query_duration_seconds_count 1",
            "ayadns_endpoint_up{endpoint=\"eu-west-a\",pool=\"eu-west\"} 1",
            "ayadns_reloads_total{result=\"failed\"} 1",
            "ayadns_last_reload_success 0",
            "ayadns_build_info{version=",
            "ayadns_health_transitions_total{to=\"down\"} 0",
            "ayadns_notify_delivered_total{webhook=\"oncall\"} 3",
            "ayadns_notify_failed_total{webhook=\"oncall\"} 2",
            "ayadns_notify_dropped_total{webhook=\"oncall\"} 1",
            "ayadns_notify_queue_depth{webhook=\"oncall\"} 4",
            "# TYPE ayadns_probe_duration_seconds histogram",
            "# EOF",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
    }
}
