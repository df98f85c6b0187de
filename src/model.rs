//! The model: everything loaded from the config and the files it names, validated as a whole.
//!
//! A [`Model`] is built off the query path (at start, on SIGHUP, on `POST /api/v1/reload`) and
//! is immutable afterwards. Building it either succeeds completely or returns every problem
//! found, so a bad reload never half-applies: the old model keeps serving.

use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics};
use crate::geo::GeoDb;
use crate::gslb::Gslb;
use crate::zone::{self, Zone, ZoneSet};
use hickory_proto::rr::Name;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// Protocol settings the query path needs.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Largest UDP response, whatever the client advertises.
    pub max_udp_payload: u16,
}

/// The loaded, validated configuration and data.
#[derive(Debug, Clone)]
pub struct Model {
    /// The zones served.
    pub zones: Arc<ZoneSet>,
    /// Per zone origin: client networks allowed to transfer it.
    pub transfer_acl: Arc<HashMap<Name, Vec<IpNet>>>,
    /// Protocol settings.
    pub dns: DnsSettings,
    /// Regions, pools, endpoints, services.
    pub gslb: Arc<Gslb>,
    /// The GeoIP databases in use (a replaced file gives a copy of the model with the new
    /// set: [`Model::with_geo`], which shares everything else).
    pub geo: Arc<GeoDb>,
    /// How often GeoIP files are checked for replacement.
    pub geo_check_interval: std::time::Duration,
    /// When this model was loaded.
    pub loaded_at: SystemTime,
    /// Recurring maintenance windows (`[[maintenance]]`), opened by the operations tick.
    pub maintenance: Arc<Vec<crate::config::maintenance::Window>>,
}

impl Model {
    /// What is valid but unwise, for `ayadns check`: losing one region would leave the others
    /// under `[capacity] headroom` × the declared demand.
    pub fn warnings(&self) -> Vec<String> {
        crate::gslb::capacity::region_loss_warnings(&self.gslb)
    }

    /// The same model with other GeoIP databases (cheap: everything else is shared).
    pub fn with_geo(&self, geo: Arc<GeoDb>) -> Model {
        Model {
            geo,
            ..self.clone()
        }
    }

    /// Load every file `config` names and check everything. `problems` already found in the
    /// config file (unknown keys) are reported together with the rest.
    pub fn load(config: &Config, mut problems: Diagnostics) -> Result<Model, Diagnostics> {
        let mut zones: Vec<Zone> = Vec::new();
        let mut transfer_acl = HashMap::new();
        let mut seen: HashMap<Name, std::path::PathBuf> = HashMap::new();
        for zc in &config.zones {
            let origin = match &zc.origin {
                Some(o) => match Name::from_ascii(o.get_ref()) {
                    Ok(mut n) => {
                        n.set_fqdn(true);
                        Some(n)
                    }
                    Err(e) => {
                        let msg = format!("invalid zone origin `{}`: {e}", o.get_ref());
                        problems.push(config.diag_at(o.span(), msg));
                        continue;
                    }
                },
                None => None,
            };
            let path = zc.file.get_ref();
            if !path.exists() {
                let msg = format!("zone file {} does not exist", path.display());
                problems.push(config.diag_at(zc.file.span(), msg));
                continue;
            }
            let started = std::time::Instant::now();
            match zone::load_zone_file_with(path, origin.as_ref(), &zc.read_options()) {
                Ok(z) => {
                    tracing::info!(
                        zone = %z.origin,
                        file = %path.display(),
                        records = z.record_count,
                        ms = started.elapsed().as_secs_f64() * 1e3,
                        "zone loaded"
                    );
                    if let Some(prev) = seen.insert(z.origin.clone(), path.clone()) {
                        let msg = format!(
                            "zone {} is already served from {}",
                            z.origin,
                            prev.display()
                        );
                        problems.push(config.diag_at(zc.file.span(), msg));
                        continue;
                    }
                    transfer_acl.insert(z.origin.clone(), zc.allow_transfer.clone());
                    zones.push(z);
                }
                Err(errs) => problems.0.extend(errs.0),
            }
        }
        if config.server.listen.is_empty() {
            problems.push(Diagnostic::file(
                config.source_name(),
                "server.listen is empty: nothing to serve on",
            ));
        }
        if config.server.max_udp_payload < 512 {
            problems.push(Diagnostic::file(
                config.source_name(),
                "server.max_udp_payload must be at least 512",
            ));
        }
        let mut zones = ZoneSet::new(zones);
        let gslb = crate::gslb::build::build(config, &mut zones, &mut problems);
        // The zones are final (services added their names): index them now, not on the
        // first query.
        zones.wire_names();
        let paths: Vec<_> = config
            .geoip
            .databases
            .iter()
            .map(|p| p.get_ref().clone())
            .collect();
        // Each file logs what it holds and how long it took to load (`GeoDb::open`).
        let geo = match GeoDb::open(&paths) {
            Ok(g) => g,
            Err(e) => {
                let at = config
                    .geoip
                    .databases
                    .iter()
                    .find(|p| p.get_ref() == e.path())
                    .map(|p| p.span());
                problems.push(match at {
                    Some(span) => config.diag_at(span, e.to_string()),
                    None => Diagnostic::file(e.path(), e.to_string()),
                });
                GeoDb::empty()
            }
        };
        let maintenance = crate::config::maintenance::compile(config, &mut problems);
        problems.into_result(Model {
            maintenance: Arc::new(maintenance),
            zones: Arc::new(zones),
            gslb: Arc::new(gslb),
            geo: Arc::new(geo),
            geo_check_interval: config.geoip.check_interval,
            transfer_acl: Arc::new(transfer_acl),
            dns: DnsSettings {
                max_udp_payload: config.server.max_udp_payload,
            },
            loaded_at: SystemTime::now(),
        })
    }

    /// May `client` transfer the zone at `origin`?
    pub fn may_transfer(&self, origin: &Name, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(client),
            v4 => v4,
        };
        self.transfer_acl
            .get(origin)
            .is_some_and(|nets| nets.iter().any(|n| n.contains(&client)))
    }
}

/// Where the configuration comes from: a config file, or (quick mode) a folder of zones.
#[derive(Debug, Clone)]
pub enum Source {
    /// `serve --config FILE`.
    ConfigFile(std::path::PathBuf),
    /// `serve --zones DIR [--listen ADDR]...`: every `*.zone` file in the folder.
    ZonesDir {
        /// The folder.
        dir: std::path::PathBuf,
        /// Listen addresses (default 127.0.0.1:5353).
        listen: Vec<std::net::SocketAddr>,
    },
}

impl Source {
    /// Read the configuration and everything it names; all problems, or both results.
    pub fn load(&self) -> Result<(Config, Model), Diagnostics> {
        let (config, problems) = match self {
            Source::ConfigFile(path) => {
                let loaded = Config::load(path)?;
                (loaded.config, loaded.problems)
            }
            Source::ZonesDir { dir, listen } => {
                (zones_dir_config(dir, listen)?, Diagnostics::default())
            }
        };
        let model = Model::load(&config, problems)?;
        Ok((config, model))
    }
}

/// The config quick mode stands for.
fn zones_dir_config(
    dir: &std::path::Path,
    listen: &[std::net::SocketAddr],
) -> Result<Config, Diagnostics> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::file(dir, format!("cannot read zone folder: {e}")))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zone") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::file(dir, "no *.zone files in this folder").into());
    }
    let mut config = Config::default();
    if !listen.is_empty() {
        config.server.listen = listen
            .iter()
            .map(|a| toml::Spanned::new(0..0, *a))
            .collect();
    }
    config.zones = files
        .into_iter()
        .map(|f| crate::config::ZoneConfig {
            file: toml::Spanned::new(0..0, f),
            origin: None,
            allow_transfer: Vec::new(),
            include_root: None,
        })
        .collect();
    Ok(config)
}
