//! The admin API's request and response bodies: typed once, used by the server (`admin`),
//! by `ayadns ctl` and `ayadns probe`, and by the tests. Inside the server everything is by
//! dense id; names appear only here, at the edge.

mod cli;
mod history;
pub mod notify;
mod ops;
mod ready;
mod reports;
mod status;

pub use cli::{CheckReport, GeoipBuilt, GeoipLookup, Problem};
pub use history::{History, HistoryEvent, Sample};
pub use notify::WebhookStatus;
pub use ops::{
    ApiError, AuditEntry, AuditList, ClockAdvance, ClockReply, Drill, DrillReport, DrillRequest,
    ExplainReply, MinuteQueries, NewOverride, Override, OverrideList, PlacementRow, PoolLoad,
    Preview, PreviewRow, ReloadReply, Removed,
};
pub use ready::{Readiness, ReadyCheck};
pub use reports::{MAX_ERROR_CHARS, ProbeReports, ProbeResult};
pub use status::{
    ClusterStatus, ConfigInfo, EndpointStatus, MaintenanceInfo, NodeStatus, PoolStatus,
    ProbeSummary, RegionInfo, ReloadInfo, Scheduled, ServiceInfo, Status, TransitionInfo,
    TransitionList, Vantage, WeightInfo, ZoneInfo,
};

/// Unix seconds (with fraction) in JSON.
pub mod unix_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        )
    }

    /// Deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v.max(0.0)))
    }
}

/// Optional Unix seconds in JSON.
pub mod opt_unix_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::unix_secs::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let v = Option::<f64>::deserialize(d)?;
        Ok(v.map(|v| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(v.max(0.0))))
    }
}
