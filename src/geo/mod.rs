//! GeoIP: from a client address to a [`Location`] the policy chain can act on.
//!
//! A GSLB answers "which data centre is best for *this* client?", and the first input is where
//! the client (or its resolver, or the ECS subnet) is. This module owns that step and nothing
//! else: no policy, no regions, no sockets.
//!
//! The pieces, one concept per file:
//! - [`location`]: the [`Location`] value (country, continent, coordinates, city, matched
//!   network, answering file) and the small [`CountryCode`] / [`Continent`] types.
//! - [`reader`]: [`GeoDb`], one or several `.mmdb` files looked up in order; reads MaxMind's nested
//!   GeoIP2 schema and the flat schema of free databases (via `record`, which does the
//!   schema-tolerant decoding).
//! - [`centroids`]: the embedded country table (name, continent, rough centre) that fills in
//!   what country-only databases lack.
//! - [`distance`]: great-circle distance, for "nearest data centre".
//! - [`build`]: CSV → `.mmdb`, for the user's own networks and the demo database.
//! - [`watch`]: reloads the databases when their files are replaced, swapping a new [`GeoDb`] in
//!   while lookups continue on the old one.
//!
//! Invariant: a [`GeoDb`] is immutable once opened. Reloading builds a new one and swaps the
//! `Arc`; the query path never waits on file I/O.

pub mod build;
pub mod centroids;
pub mod distance;
mod error;
pub mod location;
pub mod reader;
mod record;
pub mod watch;

pub use build::{BuildReport, build_from_csv};
pub use distance::haversine_km;
pub use error::GeoError;
pub use location::{Continent, Coords, CoordsSource, CountryCode, InvalidCode, Location};
pub use reader::{DatabaseInfo, GeoDb};
pub use watch::{PollOutcome, Watcher};
