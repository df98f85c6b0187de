//! `ayadns probe`: a remote prober agent for one region.
//!
//! It reads the same config as the servers, probes every check target from where it runs,
//! and POSTs the latest result of each target (every 100 ms when there is news) to every
//! server's admin API (`/api/v1/probe-reports`) with its bearer token, which must be bound to
//! its region (`agent:eu`). Each report carries its send time and a growing sequence number,
//! so a captured report cannot be replayed. The servers count the results as that region's
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

/// Who the agent is and where it reports.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The region it probes from.
    pub region: String,
    /// The servers' admin API base URLs.
    pub servers: Vec<String>,
    /// Its token (bound to `region` on the servers).
    pub token: String,
    /// A CA certificate (PEM) to verify `https://` servers with.
    pub ca: Option<std::path::PathBuf>,
}

/// Probe from the agent's region and report to its servers until `shutdown`.
pub async fn run(
    gslb: &Gslb,
    cfg: &HealthConfig,
    agent: &Agent,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (region, servers, token) = (agent.region.as_str(), &agent.servers, &agent.token);
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
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5));
    if let Some(ca) = &agent.ca {
        let pem = std::fs::read(ca).map_err(|e| {
            anyhow::anyhow!("{}: cannot read the CA certificate: {e}", ca.display())
        })?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", ca.display()))?;
        builder = builder.tls_certs_only([cert]);
    }
    let client = builder.build()?;
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
    // Report often enough that one report holds one result per target (the latest).
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    // Sequence numbers start at the start time in ms, so a restarted agent's reports are
    // newer than its last ones.
    let mut seq = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
        let mut latest = std::collections::HashMap::new();
        while let Ok(r) = rx.try_recv() {
            latest.insert(r.target.clone(), r);
        }
        let mut results = Vec::new();
        for r in latest.into_values() {
            results.push(ProbeResult {
                target: r.target,
                ok: r.outcome.ok,
                rtt_ms: r.outcome.rtt.map(|d| d.as_secs_f64() * 1000.0),
                error: r
                    .outcome
                    .error
                    .map(|e| e.chars().take(crate::api::MAX_ERROR_CHARS).collect()),
            });
        }
        if results.is_empty() {
            continue;
        }
        seq += 1;
        let body = ProbeReports {
            region: region.to_string(),
            sent_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            seq,
            results,
        };
        for url in &urls {
            match client.post(url).bearer_auth(token).json(&body).send().await {
                Ok(resp) if resp.status().is_success() => {}
                Ok(resp) => {
                    let status = resp.status();
                    let why = resp
                        .json::<crate::api::ApiError>()
                        .await
                        .map(|e| e.error)
                        .unwrap_or_default();
                    tracing::warn!(server = %url, %status, %why, "probe report refused")
                }
                Err(e) => tracing::warn!(server = %url, error = %e, "probe report not delivered"),
            }
        }
    }
}
