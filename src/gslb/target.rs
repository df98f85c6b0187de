//! Override and drill targets: `endpoint:NAME`, `pool:NAME`, `region:NAME` (a region means
//! every pool in it).

use super::{EndpointId, Gslb};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an override or drill acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// One endpoint.
    Endpoint(String),
    /// Every endpoint of a pool.
    Pool(String),
    /// Every endpoint of every pool in a region.
    Region(String),
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        let (kind, name) = s.split_once(':').ok_or_else(|| {
            format!("target `{s}` is not endpoint:NAME, pool:NAME or region:NAME")
        })?;
        let name = name.to_string();
        match kind {
            "endpoint" => Ok(Target::Endpoint(name)),
            "pool" => Ok(Target::Pool(name)),
            "region" => Ok(Target::Region(name)),
            _ => Err(format!(
                "target `{s}` is not endpoint:NAME, pool:NAME or region:NAME"
            )),
        }
    }
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(s: String) -> Result<Target, String> {
        s.parse()
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.to_string()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Endpoint(n) => write!(f, "endpoint:{n}"),
            Target::Pool(n) => write!(f, "pool:{n}"),
            Target::Region(n) => write!(f, "region:{n}"),
        }
    }
}

impl Target {
    /// The endpoints it names in `model`; `Err` when the name is unknown.
    pub fn endpoints(&self, model: &Gslb) -> Result<Vec<EndpointId>, String> {
        match self {
            Target::Endpoint(n) => model
                .endpoint_id(n)
                .map(|e| vec![e])
                .ok_or_else(|| format!("unknown endpoint `{n}`")),
            Target::Pool(n) => model
                .pool_id(n)
                .map(|p| model.pools[p].endpoints.clone())
                .ok_or_else(|| format!("unknown pool `{n}`")),
            Target::Region(n) => {
                let r = model
                    .region_id(n)
                    .ok_or_else(|| format!("unknown region `{n}`"))?;
                Ok(model
                    .pools
                    .iter()
                    .filter(|p| p.region == r)
                    .flat_map(|p| p.endpoints.iter().copied())
                    .collect())
            }
        }
    }
}
