//! ayadns: a global server load balancer that is an authoritative DNS server.
//!
//! The module map (see ARCHITECTURE.md for the flows and invariants):
//! - [`config`]: the TOML config file, strict (unknown keys are errors with their line).
//! - [`zone`]: zone files → lookup structure; static answer semantics.
//! - [`model`]: everything loaded and validated as one immutable value.
//! - [`snapshot`]: the one value the query path reads, swapped atomically.
//! - [`dns`]: listeners, the request handler, EDNS/ECS, fitting answers to UDP.
//! - [`gslb`]: regions, pools, endpoints, services; who the client is; the decision.
//! - [`policy`]: the policy chain, one file per step.
//! - [`health`]: the health view the chain reads.
//! - [`geo`]: GeoIP databases (nested GeoIP2 and flat schemas), country centres, distances.
//! - [`ops`]: overrides, DR drills, the audit trail.
//! - `cluster` (feature `cluster`): several nodes sharing state through etcd.
//! - [`ctl`]: `ayadns ctl`, the admin API from the command line.
//! - [`explain`]: the decision trace for a name and a client.
//! - [`metrics`]: Prometheus metrics (`GET /metrics`): lock-free counters on the query path.
//! - [`server`]: `ayadns serve`: start-up, reload on SIGHUP, graceful shutdown.
//! - [`diag`]: errors that name `file:line`.

pub mod admin;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub mod ctl;
pub mod diag;
pub mod dns;
pub mod explain;
pub mod geo;
pub mod gslb;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod policy;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod zone;
