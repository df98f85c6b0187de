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
//!   [`logging`]; [`instance`]: one instance per address; [`events`]: what services tell the
//!   webhooks, emitted without waiting.
//!
//! [`snapshot`]: the one value the query path reads, swapped atomically.
//!
//! Services: [`dns`] (transports, `respond`), [`health`] (probers, aggregation, engine),
//! [`ops`] (overrides, drills, audit), [`reload`], [`explain`], [`notify`] (the webhooks), and
//! `cluster` (feature `cluster`: several nodes sharing state through etcd).
//!
//! Edges: [`admin`] (HTTP API, metrics exposition, dashboard), [`server`] (`ayadns serve`),
//! [`ctl`] (`ayadns ctl`), and the CLI in `main.rs`.

// The docs are for the people who work on ayadns: they link to crate-private modules on
// purpose (`cargo doc --document-private-items` shows them).
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod admin;
pub mod api;
pub mod clock;
#[cfg(feature = "cluster")]
pub mod cluster;
pub(crate) mod config;
pub(crate) mod counters;
pub mod ctl;
pub(crate) mod diag;
pub(crate) mod dns;
pub mod events;
pub mod explain;
pub mod geo;
pub(crate) mod gslb;
pub(crate) mod hash;
pub mod health;
pub(crate) mod instance;
pub mod logging;
pub mod model;
pub(crate) mod notify;
pub(crate) mod ops;
pub(crate) mod reload;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod zone;

/// What the in-process tests (`tests/udp_*.rs`) and the fuzzers (`tests/fuzz`) drive: the UDP
/// answer path and the loaders, re-exported from crate-private modules. Not an API.
#[doc(hidden)]
pub mod testing {
    pub use crate::config::Config;
    pub use crate::config::rrl::RrlConfig;
    pub use crate::diag::Diagnostics;
    pub use crate::dns::DnsHandler;
    pub use crate::dns::cache::{self, AnswerCache};
    pub use crate::dns::rrl::Rrl;
    pub use crate::dns::udp::{self, UdpAnswerer};
}
