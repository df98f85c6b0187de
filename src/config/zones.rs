//! `[[zone]]`: a zone ayadns is authoritative for.
//!
//! ```toml
//! [[zone]]
//! file = "zones/gslb.example.com.zone"   # RFC 1035 master file, relative to this config
//! origin = "gslb.example.com."           # optional: else $ORIGIN / the SOA owner / file name
//! allow_transfer = ["127.0.0.1/32"]      # who may AXFR the zone over TCP (default: nobody)
//! include_root = ".."                    # optional: where $INCLUDEd files may lie (default:
//!                                        # the zone file's folder; relative to that folder)
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
    /// The folder `$INCLUDE`d files must lie in, relative to the zone file's folder.
    #[serde(default)]
    pub include_root: Option<PathBuf>,
}

impl ZoneConfig {
    /// How the zone file is to be read (the include root resolved against its folder).
    pub fn read_options(&self) -> crate::zone::ReadOptions {
        let dir = self
            .file
            .get_ref()
            .parent()
            .unwrap_or(std::path::Path::new("."));
        crate::zone::ReadOptions {
            include_root: self.include_root.as_ref().map(|r| dir.join(r)),
        }
    }
}
