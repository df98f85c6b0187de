//! `[[zone]]`: a zone ayadns is authoritative for.
//!
//! ```toml
//! [[zone]]
//! file = "zones/gslb.example.com.zone"   # RFC 1035 master file, relative to this config
//! origin = "gslb.example.com."           # optional: else $ORIGIN / the SOA owner / file name
//! allow_transfer = ["127.0.0.1/32"]      # who may AXFR the zone over TCP (default: nobody)
//! ```

use ipnet::IpNet;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// One `[[zone]]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct ZoneConfig {
    /// The zone file.
    pub file: Spanned<PathBuf>,
    /// The zone's origin, when the file does not make it plain.
    #[serde(default)]
    pub origin: Option<Spanned<String>>,
    /// Client networks allowed to transfer the zone (AXFR over TCP). Empty: refused to all.
    #[serde(default)]
    pub allow_transfer: Vec<IpNet>,
}
