//! The values stored: the latest health of an (endpoint, region), and one up/down change.

use std::time::SystemTime;

/// The region name of a [`Transition`] (or [`EndpointState`]) that is about the aggregated
/// state of an endpoint (the quorum over all vantage regions), not one region's view.
pub const AGGREGATE_REGION: &str = "*";

/// One (endpoint, region) health record: what `region` last measured of `endpoint`.
///
/// Stored at millisecond precision: times read back are truncated to whole milliseconds. A
/// `last_rtt_ms` of NaN is stored (and read back) as `None` (SQLite has no NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointState {
    /// The endpoint's name.
    pub endpoint: String,
    /// The region that measured it ([`AGGREGATE_REGION`] for the aggregated state).
    pub region: String,
    /// Up (serving) or down.
    pub up: bool,
    /// Consecutive successful checks.
    pub successes: u32,
    /// Consecutive failed checks.
    pub failures: u32,
    /// Round-trip time of the last successful check, in milliseconds.
    pub last_rtt_ms: Option<f64>,
    /// When `up` last changed.
    pub last_change: SystemTime,
    /// The last check's error, if it failed.
    pub last_error: Option<String>,
    /// When this record was last updated.
    pub updated_at: SystemTime,
}

/// An up/down change of an endpoint, as seen from one region or in aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The endpoint's name.
    pub endpoint: String,
    /// The region name, or [`AGGREGATE_REGION`] (`*`) for the aggregated (quorum) state.
    pub region: String,
    /// Up before the change.
    pub from_up: bool,
    /// Up after the change.
    pub to_up: bool,
    /// When it changed.
    pub at: SystemTime,
    /// Why, in words (the check error, "3 consecutive successes", "quorum lost", ...).
    pub reason: String,
}
