//! ayadns: a global server load balancer that is an authoritative DNS server.
//!
//! The module map (see ARCHITECTURE.md for the flows and invariants):
//! - [`api`]: the admin API's request and response bodies, shared by server, `ctl` and tests.
//! - [`clock`]: the wall clock of the control plane (a test clock can be moved forward).
//! - [`config`]: the TOML config file, strict (unknown keys are errors with their line).
//! - [`zone`]: zone files → lookup structure; static answer semantics.
//! - [`model`]: everything loaded and validated as one immutable value.
//! - [`snapshot`]: the one value the query path reads, swapped atomically.
//! - [`dns`]: listeners, the request handler, EDNS/ECS, fitting answers to UDP.
//! - [`gslb`]: regions, pools, endpoints, services; who the client is; the decision.
//! - [`policy`]: the policy chain, one file per step.
//! - [`hash`]: stable mixing for seeds, weighted draws and rendezvous scores.
//! - [`health`]: the health view the chain reads.
//! - [`geo`]: GeoIP databases (nested GeoIP2 and flat schemas), country centres, distances.
//! - [`ops`]: overrides, DR drills, the audit trail.
//! - [`ctl`]: `ayadns ctl`, the admin API from the command line.
//! - [`explain`]: the decision trace for a name and a client.
//! - [`counters`]: lock-free counters the query path and services bump (exposed by `admin`).
//! - [`reload`]: one serialised reload path for SIGHUP and the API.
//! - [`server`]: `ayadns serve`: start-up, reload on SIGHUP, graceful shutdown.
//! - [`diag`]: errors that name `file:line`.

pub mod admin;
pub mod api;
pub mod clock;
pub mod config;
pub mod counters;
pub mod ctl;
pub mod diag;
pub mod dns;
pub mod explain;
pub mod geo;
pub mod gslb;
pub mod hash;
pub mod health;
pub mod logging;
pub mod model;
pub mod ops;
pub mod reload;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod zone;
