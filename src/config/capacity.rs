//! `[capacity]`: the room the pools' declared capacities must leave — read by the drill
//! preview, `ayadns check` and the `capacity` chain step. A pool declares what it can serve
//! with `[[pool]] capacity = N` (queries per second, 1 to 10⁹; optional).
//!
//! ```toml
//! [capacity]
//! headroom = 1.5                         # default 1.5; 1.0 to 10
//! demand = { us = 4000, eu = 2500 }      # expected queries/s of each region's clients
//! ```
//! - **Drill preview:** each pool that gets traffic during the drill is reported with its
//!   expected load (its share of the recent traffic during the drill × the recent queries per
//!   second) against its capacity, with a warning when `capacity < headroom × load`.
//! - **`ayadns check`** (offline, no traffic known) warns — a warning, not an error — when
//!   losing any one region would leave the pools of the other regions with less than
//!   `headroom ×` the whole demand: the sum of `demand` over all regions must fit, `headroom`
//!   times over, into the summed `capacity` of the pools outside the lost region (a pool
//!   without `capacity` adds nothing; without `demand` the check is skipped).
//! - **The `capacity` step** spills the share of a pool's clients above its capacity to the
//!   next pool (see `src/gslb/policy/capacity.rs`).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `[capacity]`.
#[derive(Debug, Clone, Deserialize)]
pub struct CapacityConfig {
    /// Survivors must hold this many times the load they would receive.
    #[serde(default = "default_headroom")]
    pub headroom: Spanned<f64>,
    /// Expected queries per second of each region's clients (for `ayadns check`).
    #[serde(default)]
    pub demand: BTreeMap<String, Spanned<f64>>,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            headroom: default_headroom(),
            demand: BTreeMap::new(),
        }
    }
}

/// The default headroom.
pub const DEFAULT_HEADROOM: f64 = 1.5;
/// The largest capacity or demand, in queries per second.
pub const MAX_QPS: f64 = 1e9;

fn default_headroom() -> Spanned<f64> {
    Spanned::new(0..0, DEFAULT_HEADROOM)
}
