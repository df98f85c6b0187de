//! What the command line prints with `--json` where there is no API call behind it: `check`,
//! `geoip lookup`, `geoip build` (`explain --json` prints [`super::ExplainReply`], as
//! `ctl explain --json` does).

use serde::{Deserialize, Serialize};

/// `ayadns check --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    /// Everything valid?
    pub ok: bool,
    /// The config file checked.
    pub config: String,
    /// Zones loaded (when valid).
    pub zones: usize,
    /// Records in them (when valid).
    pub records: usize,
    /// Every problem.
    pub errors: Vec<Problem>,
    /// What is valid but unwise (e.g. losing a region would leave too little capacity).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One problem, where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// `ayadns geoip lookup --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeoipLookup {
    /// The address looked up.
    pub address: String,
    /// Did a database know it?
    pub found: bool,
    /// ISO country code.
    pub country: Option<String>,
    /// Continent code (EU, NA, …).
    pub continent: Option<String>,
    /// Degrees.
    pub latitude: Option<f64>,
    /// Degrees.
    pub longitude: Option<f64>,
    /// `database` or `country_centre`.
    pub coords_source: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// The database network that matched.
    pub network: Option<String>,
    /// The file that answered.
    pub database: Option<String>,
}

/// `ayadns geoip build --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeoipBuilt {
    /// The database written.
    pub output: String,
    /// CSV data rows read.
    pub rows: usize,
    /// IPv4 networks inserted.
    pub ipv4_networks: usize,
    /// IPv6 networks inserted.
    pub ipv6_networks: usize,
    /// File size.
    pub bytes: u64,
}
