//! ayadns: a global server load balancer that is an authoritative DNS server.
//!
//! The module map (see ARCHITECTURE.md for the flows and invariants):
//! - [`geo`]: GeoIP databases (nested GeoIP2 and flat schemas), country centres, distances.

pub mod geo;
