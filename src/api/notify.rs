//! `[[notify]]` webhooks: the body of a delivery, and what status shows of each webhook.
//!
//! A delivery is `POST url` with this JSON body ([`Event`]) and the headers
//! - `Content-Type: application/json`,
//! - `X-Ayadns-Event: drill.started` (the event's [`EventKind`]),
//! - `X-Ayadns-Delivery: <id>` (the event's id: the same for every attempt and every webhook,
//!   so a receiver can drop repeats),
//! - `X-Ayadns-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body bytes with the
//!   webhook's secret (absent when it has none).

pub use crate::config::notify::Topic;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// The header naming the event.
pub const EVENT_HEADER: &str = "X-Ayadns-Event";
/// The header with the delivery (event) id.
pub const DELIVERY_HEADER: &str = "X-Ayadns-Delivery";
/// The header with the body's signature: `sha256=` and the hex HMAC-SHA256.
pub const SIGNATURE_HEADER: &str = "X-Ayadns-Signature";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// An endpoint's measured health (after rise/fall and quorum) went down.
    #[serde(rename = "endpoint.down")]
    EndpointDown,
    /// An endpoint's measured health came back up.
    #[serde(rename = "endpoint.up")]
    EndpointUp,
    /// A pool has no endpoint up any more in the view served (overrides included).
    #[serde(rename = "pool.down")]
    PoolDown,
    /// A pool has an endpoint up again.
    #[serde(rename = "pool.up")]
    PoolUp,
    /// An operator created an override.
    #[serde(rename = "override.created")]
    OverrideCreated,
    /// An operator removed an override.
    #[serde(rename = "override.removed")]
    OverrideRemoved,
    /// An override reached its expiry.
    #[serde(rename = "override.expired")]
    OverrideExpired,
    /// A drill started.
    #[serde(rename = "drill.started")]
    DrillStarted,
    /// A drill ended: stopped by an operator, or reverted by itself.
    #[serde(rename = "drill.ended")]
    DrillEnded,
    /// A scheduled override or maintenance window began.
    #[serde(rename = "maintenance.started")]
    MaintenanceStarted,
    /// A scheduled override or maintenance window ended.
    #[serde(rename = "maintenance.ended")]
    MaintenanceEnded,
    /// A reload was applied.
    #[serde(rename = "reload.succeeded")]
    ReloadSucceeded,
    /// A reload was rejected; the previous configuration keeps serving.
    #[serde(rename = "reload.failed")]
    ReloadFailed,
    /// This node reaches etcd again.
    #[serde(rename = "cluster.connected")]
    ClusterConnected,
    /// This node lost etcd (it keeps serving its last view).
    #[serde(rename = "cluster.disconnected")]
    ClusterDisconnected,
    /// This node's view has not been known current for longer than `[cluster] lag_alert`.
    #[serde(rename = "cluster.lagging")]
    ClusterLagging,
    /// This node's view is current again.
    #[serde(rename = "cluster.caught_up")]
    ClusterCaughtUp,
}

impl EventKind {
    /// The `events` word that subscribes to it.
    pub fn topic(self) -> Topic {
        use EventKind::*;
        match self {
            EndpointDown | EndpointUp | PoolDown | PoolUp => Topic::Transitions,
            OverrideCreated | OverrideRemoved | OverrideExpired => Topic::Overrides,
            DrillStarted | DrillEnded => Topic::Drills,
            MaintenanceStarted | MaintenanceEnded => Topic::Maintenance,
            ReloadSucceeded | ReloadFailed => Topic::Reloads,
            ClusterConnected | ClusterDisconnected | ClusterLagging | ClusterCaughtUp => {
                Topic::Cluster
            }
        }
    }

    /// Its name (`drill.started`): the `kind` of the body and the `X-Ayadns-Event` header.
    pub fn name(self) -> &'static str {
        use EventKind::*;
        match self {
            EndpointDown => "endpoint.down",
            EndpointUp => "endpoint.up",
            PoolDown => "pool.down",
            PoolUp => "pool.up",
            OverrideCreated => "override.created",
            OverrideRemoved => "override.removed",
            OverrideExpired => "override.expired",
            DrillStarted => "drill.started",
            DrillEnded => "drill.ended",
            MaintenanceStarted => "maintenance.started",
            MaintenanceEnded => "maintenance.ended",
            ReloadSucceeded => "reload.succeeded",
            ReloadFailed => "reload.failed",
            ClusterConnected => "cluster.connected",
            ClusterDisconnected => "cluster.disconnected",
            ClusterLagging => "cluster.lagging",
            ClusterCaughtUp => "cluster.caught_up",
        }
    }
}

/// The body of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event (`<node or "ayadns">-<start time>-<n>`); repeated by every retry.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The `events` word it belongs to.
    pub topic: Topic,
    /// When (RFC 3339, UTC, the server's clock).
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    /// The cluster node that sends it (`null` for a node alone).
    pub node: Option<String>,
    /// What it is about: `endpoint:NAME`, `pool:NAME`, an override's target, a drill's id…
    pub target: Option<String>,
    /// The token name of the operator who acted, for operator actions.
    pub actor: Option<String>,
    /// More, in words (the reason, the errors of a rejected reload…).
    pub detail: String,
}

impl Event {
    /// An event of `kind`, stamped later by the sender (`id`, `at`, `node`).
    pub fn new(kind: EventKind) -> Event {
        Event {
            id: String::new(),
            kind,
            topic: kind.topic(),
            at: SystemTime::UNIX_EPOCH,
            node: None,
            target: None,
            actor: None,
            detail: String::new(),
        }
    }

    /// About `target`.
    pub fn target(mut self, target: impl ToString) -> Event {
        self.target = Some(target.to_string());
        self
    }

    /// Done by `actor` (a token name).
    pub fn actor(mut self, actor: impl ToString) -> Event {
        self.actor = Some(actor.to_string());
        self
    }

    /// With `detail`.
    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = detail.into();
        self
    }
}

/// One webhook in `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// Its `name`, or its URL without credentials, query or fragment.
    pub name: String,
    /// Its URL without credentials, query or fragment.
    pub url: String,
    /// The `events` it is told about.
    pub events: Vec<Topic>,
    /// Events delivered (a 2xx answer).
    pub delivered: u64,
    /// Attempts that failed (no answer in time, no connection, not 2xx).
    pub failed: u64,
    /// Events given up: the queue was full, or every attempt failed.
    pub dropped: u64,
    /// Events waiting now (the one being tried included).
    pub queued: usize,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When the last delivery succeeded (Unix seconds).
    #[serde(with = "super::opt_unix_secs", default)]
    pub last_success: Option<SystemTime>,
}

/// RFC 3339 timestamps in JSON (`2026-12-24T02:00:00.000Z`).
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(*t).to_string())
    }

    /// Deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_body_names_its_kind_topic_and_time() {
        let mut e = Event::new(EventKind::DrillStarted)
            .target("drill-1")
            .actor("ops")
            .detail("why");
        e.at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_250);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "drill.started");
        assert_eq!(v["topic"], "drills");
        assert_eq!(v["at"], "2027-01-15T08:00:00.250Z");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        for k in [
            EventKind::EndpointDown,
            EventKind::ClusterCaughtUp,
            EventKind::MaintenanceEnded,
        ] {
            let name = serde_json::to_value(k).unwrap();
            assert_eq!(name, k.name());
        }
    }
}
