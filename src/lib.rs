//! ayadns: a global server load balancer that is an authoritative DNS server.
//!
//! The module map, by layer (ARCHITECTURE.md has the flows; `tests/layers.rs` checks that
//! imports only point down).
//!
//! Leaves:
//! - [`diag`]: errors that name `file:line`; [`config`]: the TOML file, strict;
//! - [`zone`]: zone files → lookup structure, static answer semantics; [`geo`]: GeoIP;
//! - [`gslb`]: regions, pools, endpoints, services, the client's placement, the policy chain
//!   (`gslb::policy`, one file per step), the health view it reads, and the answer function;
//! - [`model`]: everything loaded and validated as one immutable value;
//! - [`counters`]: lock-free counters the query path and services bump;
//! - [`state`]: the SQLite file; [`api`]: the admin API's bodies; [`clock`]; [`hash`];
//!   [`logging`].
//!
//! [`snapshot`]: the one value the query path reads, swapped atomically.
//!
//! Services: [`dns`] (transports, `respond`), [`health`] (probers, aggregation, engine),
//! [`ops`] (overrides, drills, audit), [`reload`], [`explain`].
//!
//! Edges: [`admin`] (HTTP API, metrics exposition, dashboard), [`server`] (`ayadns serve`),
//! [`ctl`] (`ayadns ctl`), and the CLI in `main.rs`.

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
