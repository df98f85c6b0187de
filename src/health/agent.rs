//! `ayadns probe`: a remote prober agent for one region.
//!
//! It reads the same config as the servers, probes every check target from where it runs,
//! and POSTs the results about once a second to every server's admin API
//! (`/api/v1/probe-reports`) with its bearer token. The servers count them as that region's
//! votes; if the agent stops, its region's results go stale and stop voting.

use super::prober::{self, Report};
use super::targets;
use crate::api::{ProbeReports, ProbeResult};
use crate::config::health::HealthConfig;
use crate::gslb::Gslb;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// The endpoint path reports go to, appended to a server's base URL.
pub const REPORTS_PATH: &str = "/api/v1/probe-reports";

/// Probe from `region` and report to `servers` until `shutdown`.
pub async fn run(
    gslb: &Gslb,
    cfg: &HealthConfig,
    region: &str,
    servers: &[String],
    token: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let region_id = gslb
        .region_id(region)
        .ok_or_else(|| anyhow::anyhow!("region `{region}` is not a [[region]] of this config"))?;
    let targets = targets::targets(gslb, cfg);
    if targets.is_empty() {
        anyhow::bail!("this config has no endpoint with a `check`: nothing to probe");
    }
    let urls: Vec<String> = servers
        .iter()
        .map(|s| {
            let s = s.trim_end_matches('/');
            if s.ends_with(REPORTS_PATH) {
                s.to_string()
            } else {
                format!("{s}{REPORTS_PATH}")
            }
        })
        .collect();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
    let slots = Arc::new(Semaphore::new(cfg.max_concurrent.max(1)));
    prober::spawn(
        &targets,
        &[region_id],
        slots,
        tx,
        crate::clock::Clock::system(),
        shutdown.child_token(),
    );
    tracing::info!(region, targets = targets.len(), servers = ?urls, "probe agent started");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
        let mut results = Vec::new();
        while let Ok(r) = rx.try_recv() {
            results.push(ProbeResult {
                target: r.target,
                ok: r.outcome.ok,
                rtt_ms: r.outcome.rtt.map(|d| d.as_secs_f64() * 1000.0),
                error: r.outcome.error,
            });
        }
        if results.is_empty() {
            continue;
        }
        let body = ProbeReports {
            region: region.to_string(),
            results,
        };
        for url in &urls {
            match client.post(url).bearer_auth(token).json(&body).send().await {
                Ok(resp) if resp.status().is_success() => {}
                Ok(resp) => {
                    tracing::warn!(server = %url, status = %resp.status(), "probe report refused")
                }
                Err(e) => tracing::warn!(server = %url, error = %e, "probe report not delivered"),
            }
        }
    }
}
