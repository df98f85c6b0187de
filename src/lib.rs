//! ayadns: a global server load balancer that is an authoritative DNS server.
//!
//! The module map (see ARCHITECTURE.md for the flows and invariants):
//! - [`diag`]: errors that name `file:line`.
//! - [`zone`]: zone files → lookup structure; static answer semantics.
//! - [`geo`]: GeoIP databases (nested GeoIP2 and flat schemas), country centres, distances.

pub mod diag;
pub mod geo;
pub mod zone;
