//! `[rrl]`: response rate limiting of UDP answers per client network.
//!
//! ```toml
//! [rrl]
//! rate = 200                  # responses per second per client network; 0 = off (the default
//!                             # when the section is absent)
//! burst = 200                 # responses allowed at once above the rate (default: = rate)
//! slip = 2                    # every Nth response over the limit goes out as an empty TC=1
//!                             # answer (the client retries over TCP); 0 = drop them all,
//!                             # 1 = truncate them all
//! ipv4_prefix = 24            # what one "client network" is
//! ipv6_prefix = 56
//! exempt = ["192.0.2.0/24"]   # networks never limited (your own resolvers)
//! table_size = 65536          # rate-limit slots (8 bytes each, fixed at start-up)
//! ```
//!
//! Every response counts, NXDOMAIN and errors included, in the bucket of the client's network.
//! TCP is never limited (a TCP client has proven its address). A client that presents a valid
//! server cookie (RFC 7873) is not limited either. The table is fixed-size: networks hash to
//! slots, so a flood from a million addresses takes no more memory (networks that share a slot
//! share its budget). Read at start-up; a reload does not change it.

use super::server::in_range;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// `[rrl]`.
#[derive(Debug, Clone, Deserialize)]
pub struct RrlConfig {
    /// Responses per second per client network (0 = no rate limiting).
    #[serde(default, deserialize_with = "rate")]
    pub rate: u32,
    /// Responses allowed at once above the rate (None: equal to `rate`).
    #[serde(default, deserialize_with = "burst")]
    pub burst: Option<u32>,
    /// Every `slip`-th response over the limit is sent truncated; 0 = none.
    #[serde(default = "d_slip", deserialize_with = "slip")]
    pub slip: u32,
    /// IPv4 client network length.
    #[serde(default = "d_v4", deserialize_with = "v4")]
    pub ipv4_prefix: u8,
    /// IPv6 client network length.
    #[serde(default = "d_v6", deserialize_with = "v6")]
    pub ipv6_prefix: u8,
    /// Networks never limited.
    #[serde(default)]
    pub exempt: Vec<IpNet>,
    /// Slots in the rate-limit table.
    #[serde(default = "d_table", deserialize_with = "table")]
    pub table_size: usize,
}

impl Default for RrlConfig {
    fn default() -> Self {
        Self {
            rate: 0,
            burst: None,
            slip: d_slip(),
            ipv4_prefix: d_v4(),
            ipv6_prefix: d_v6(),
            exempt: Vec::new(),
            table_size: d_table(),
        }
    }
}

fn d_slip() -> u32 {
    2
}
fn d_v4() -> u8 {
    24
}
fn d_v6() -> u8 {
    56
}
fn d_table() -> usize {
    65_536
}

fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "rate", 0, 10_000_000)
}
fn burst<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    in_range(d, "burst", 1, 10_000_000).map(Some)
}
fn slip<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "slip", 0, 100)
}
fn v4<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    in_range(d, "ipv4_prefix", 8, 32)
}
fn v6<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    in_range(d, "ipv6_prefix", 16, 128)
}
fn table<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    in_range(d, "table_size", 1_024, 16_777_216)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn absent_means_off_and_values_are_bounded_with_lines() {
        let c = Config::parse("", Path::new("c.toml")).unwrap().config;
        assert_eq!(c.rrl.rate, 0);
        let text = "[rrl]\nrate = 50\nslip = 3\nexempt = [\"10.0.0.0/8\"]\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap().config;
        assert_eq!((c.rrl.rate, c.rrl.slip, c.rrl.exempt.len()), (50, 3, 1));
        for (text, line) in [
            ("[rrl]\nrate = 5\nipv4_prefix = 33\n", 3),
            ("[rrl]\n\nslip = 1000\n", 3),
            ("[rrl]\ntable_size = 10\n", 2),
            ("[server]\ntcp_max_per_client = 0\n", 2),
            ("[server]\n\ntcp_io_timeout = \"1ms\"\n", 3),
        ] {
            let e = Config::parse(text, Path::new("c.toml")).unwrap_err();
            assert_eq!(e.0[0].line, Some(line), "{text}: {e}");
            assert!(e.to_string().contains("out of range"), "{e}");
        }
    }
}
