//! The operations endpoints' bodies: overrides, drills, explain, reload, audit.

use super::{opt_unix_secs, unix_secs};
use crate::gslb::{Force, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// One override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// Its id.
    pub id: String,
    /// What it acts on.
    pub target: Target,
    /// What it does.
    pub action: Force,
    /// Why (free text from the operator).
    pub reason: String,
    /// When it was made (Unix seconds in JSON).
    #[serde(with = "unix_secs")]
    pub created_at: SystemTime,
    /// When it expires by itself.
    #[serde(with = "opt_unix_secs")]
    pub expires_at: Option<SystemTime>,
    /// The token name that made it.
    pub created_by: String,
    /// The drill it belongs to.
    pub drill: Option<String>,
    /// When it starts (`null`: when it was made).
    #[serde(default, with = "opt_unix_secs")]
    pub starts_at: Option<SystemTime>,
    /// Scheduled and not started yet (the operations tick starts it at `starts_at`, once,
    /// with an audit entry).
    #[serde(default)]
    pub scheduled: bool,
    /// The maintenance window it is an opening of (`[[maintenance]]` name).
    #[serde(default)]
    pub maintenance: Option<String>,
}

impl Override {
    /// In force at `now` (started, not expired)?
    pub fn active(&self, now: SystemTime) -> bool {
        self.starts_at.is_none_or(|t| t <= now) && !self.expired(now)
    }

    /// Past its expiry at `now`?
    pub fn expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// `POST /api/v1/overrides`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    /// `endpoint:NAME`, `pool:NAME` or `region:NAME`.
    pub target: String,
    /// `drain`, `down` or `up`.
    pub action: String,
    /// Why (required).
    #[serde(default)]
    pub reason: String,
    /// How long (humantime: `10m`, `2h`), counted from its start; none = until removed.
    #[serde(default)]
    pub expires_in: Option<String>,
    /// When it starts (RFC 3339, e.g. `2026-12-24T02:00:00Z`; in the future, within a year);
    /// none = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
}

/// `GET /api/v1/overrides`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideList {
    /// Overrides in force, then the scheduled ones (not started yet).
    pub overrides: Vec<Override>,
}

/// `DELETE /api/v1/overrides/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    /// The override removed.
    pub removed: Override,
}

/// `POST /api/v1/drills` and `/api/v1/drills/preview`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {
    /// Targets to take out.
    pub fail: Vec<String>,
    /// Why (required to start).
    #[serde(default)]
    pub reason: String,
    /// How long until it reverts by itself (humantime).
    #[serde(default)]
    pub duration: Option<String>,
    /// Start: when it starts (RFC 3339, in the future, within a year); none = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// Preview: as of this instant (RFC 3339) — with the scheduled overrides and maintenance
    /// windows in force then (and the weights then), plus the drill; none = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A drill as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drill {
    /// Its id.
    pub id: String,
    /// What it takes out.
    pub fail: Vec<Target>,
    /// Why.
    pub reason: String,
    /// When it started.
    #[serde(with = "unix_secs")]
    pub started_at: SystemTime,
    /// When it reverts by itself.
    #[serde(with = "unix_secs")]
    pub ends_at: SystemTime,
    /// When it ended (stopped or reverted).
    #[serde(with = "opt_unix_secs")]
    pub ended_at: Option<SystemTime>,
    /// The first second a client region was answered from its drill pool.
    #[serde(with = "opt_unix_secs")]
    pub first_moved_at: Option<SystemTime>,
    /// Who started it.
    pub created_by: String,
    /// Queries per service and pool during the drill.
    pub queries: BTreeMap<String, BTreeMap<String, u64>>,
    /// What the drill proved (filled as it runs, final when it ended).
    #[serde(default)]
    pub report: DrillReport,
    /// Scheduled and not started yet: it starts at `started_at` (if no other drill runs then).
    #[serde(default)]
    pub scheduled: bool,
}

/// A drill's report: what was predicted, what happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DrillReport {
    /// Per service: the share of queries per pool the preview predicted for the drill.
    pub predicted: BTreeMap<String, BTreeMap<String, f64>>,
    /// Per service: the share of queries per pool observed during the drill (first pool of
    /// each answer).
    pub observed: BTreeMap<String, BTreeMap<String, f64>>,
    /// The last second a client region was first answered from its drill pool.
    #[serde(default, with = "opt_unix_secs")]
    pub last_moved_at: Option<SystemTime>,
    /// Queries per service and pool, minute by minute.
    pub per_minute: Vec<MinuteQueries>,
    /// The pools the drill takes out.
    pub drilled_pools: Vec<String>,
    /// Answers since the start whose first pool is a drilled one (0 unless everything was down
    /// and the service fails open).
    pub drilled_answers: u64,
}

/// Queries per service and pool in one minute of a drill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MinuteQueries {
    /// The end of the minute.
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// Service → pool → queries.
    pub queries: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One row of a preview.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreviewRow {
    /// The service.
    pub service: String,
    /// The client region.
    pub region: String,
    /// First pool answered now.
    pub now: Option<String>,
    /// First pool answered during the drill.
    pub during: Option<String>,
}

/// One group of clients in a preview: a service's recent clients of one region and country.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlacementRow {
    /// The service.
    pub service: String,
    /// The clients' region.
    pub region: String,
    /// Their country (`--` when GeoIP does not say).
    pub country: String,
    /// Their share of the service's recent queries.
    pub share: f64,
    /// The first pool most of them are answered now.
    pub now: Option<String>,
    /// The first pool most of them would be answered during the drill.
    pub during: Option<String>,
}

/// A preview.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preview {
    /// Per service and region (the pool most of the region's clients get).
    pub regions: Vec<PreviewRow>,
    /// Per service, region and country of the clients seen recently.
    #[serde(default)]
    pub placements: Vec<PlacementRow>,
    /// Per service: share of queries per pool, now and during — over the same clients.
    pub services: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>,
    /// Per service: `traffic` (computed for the clients seen recently, weighted by their
    /// queries) or `representative` (no recent traffic: one client per region, at the region's
    /// location).
    #[serde(default)]
    pub basis: BTreeMap<String, String>,
    /// Per pool that gets traffic during the drill: its expected load against its capacity.
    #[serde(default)]
    pub loads: Vec<PoolLoad>,
    /// Pools whose capacity is under `headroom ×` their expected load during the drill.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A pool's expected load during a drill, against its declared capacity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolLoad {
    /// The pool.
    pub pool: String,
    /// Expected queries per second during the drill: per service, its share of the recent
    /// traffic during the drill × the service's recent queries per second, summed.
    pub expected_qps: f64,
    /// Its declared capacity (`[[pool]] capacity`), queries per second.
    pub capacity: Option<f64>,
    /// `[capacity] headroom`.
    pub headroom: f64,
    /// False when `capacity < headroom × expected_qps`.
    pub ok: bool,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its number (newer entries have larger ones; 0 before it is stored).
    #[serde(default)]
    pub id: i64,
    /// When.
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    /// The token's name, `-` when no valid token was given, `system` for automatic actions.
    pub token: String,
    /// The client address.
    pub source: String,
    /// HTTP method (or `expire`, `end` for automatic actions).
    pub method: String,
    /// Path.
    pub path: String,
    /// The request body (JSON, as sent).
    pub request: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// The answer body, shortened.
    pub result: String,
    /// The node that took the request (clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// `GET /api/v1/audit?limit=N&before=ID`: a page of the trail, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditList {
    /// Newest first.
    pub audit: Vec<AuditEntry>,
    /// The `before` of the next (older) page, when there may be one.
    pub next_before: Option<i64>,
}

/// `GET /api/v1/explain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainReply {
    /// The decision trace, as text.
    pub trace: String,
}

/// `POST /api/v1/reload`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadReply {
    /// Accepted?
    pub ok: bool,
    /// Every problem, when rejected.
    pub errors: Vec<String>,
    /// Settings that changed but take effect only after a restart (new sockets).
    #[serde(default)]
    pub needs_restart: Vec<String>,
}

/// Any refusal: 4xx/5xx answers carry this body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    /// What was wrong.
    pub error: String,
}

/// `POST /api/v1/test/clock` (servers started with `--test-clock` only).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    /// How far to move the clock forward (humantime: `10s`, `2m`).
    pub advance: String,
}

/// The test clock after a move.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockReply {
    /// The time now, on the test clock.
    #[serde(with = "unix_secs")]
    pub now: SystemTime,
    /// How far ahead of the system clock it is, seconds.
    pub offset_s: f64,
}
