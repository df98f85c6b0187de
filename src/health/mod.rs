//! Health: measuring what is up and how fast, and publishing it as a
//! [`HealthView`](crate::gslb::HealthView) inside a new snapshot.
//!
//! - [`check`]: one HTTP/HTTPS/TCP check; [`targets`]: what is probed, deduplicated;
//! - [`prober`]: regional prober tasks; [`agent`]: `ayadns probe`, a remote prober;
//! - [`aggregate`]: rise/fall per region, quorum over regions, staleness, latency;
//! - [`engine`]: the one task that owns the aggregator, applies reports and the operators'
//!   forced states, and publishes a new view when something changes;
//! - [`admission`]: failback ramps (when each pool came back) and the capacity admission ops
//!   computes, laid over the view by the engine.
//!
//! The chain never probes; it reads the view. Derived numbers (endpoints up per pool) are
//! computed when the view is built, not per query.

pub mod admission;
pub mod agent;
pub mod aggregate;
pub mod check;
pub mod engine;
pub mod prober;
#[cfg(feature = "cluster")]
pub mod shared;
pub mod targets;
