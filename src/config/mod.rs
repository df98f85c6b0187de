//! The configuration file (TOML): what ayadns serves and how.
//!
//! Loading is strict, because a typo must never silently change behaviour:
//! - syntax errors and wrong value types name `file:line:column`;
//! - **every** unknown key is an error naming the key and its line (all of them, not only the
//!   first), and loading goes on after them so that `ayadns check` can also report problems in
//!   the zone files the config names;
//! - relative paths are relative to the config file's folder, so `ayadns serve --config
//!   /etc/ayadns/ayadns.toml` works from any working directory.
//!
//! The sections live in their own files: [`server`] (`[server]`, `[log]`), [`zones`]
//! (`[[zone]]`), [`gslb`] (`[geoip]`, `[health]`, `[[region]]`, `[[pool]]`, `[[service]]`),
//! [`capacity`] (`[capacity]`), [`maintenance`] (`[[maintenance]]`), [`schedule`] (cron
//! schedules, `weight_schedule`) and [`cluster`] (`[cluster]`). `config.example.toml` at the project root shows every key with its default.

pub mod capacity;
pub mod cluster;
pub mod duration;
pub mod gslb;
pub mod health;
pub mod maintenance;
pub mod notify;
pub mod rrl;
pub mod schedule;
pub mod server;
pub mod zones;

pub use server::{LogConfig, LogFormat, ServerConfig};
pub use zones::ZoneConfig;

use crate::diag::{Diagnostic, Diagnostics};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// `[server]`: listeners and protocol limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[rrl]`: response rate limiting.
    #[serde(default)]
    pub rrl: rrl::RrlConfig,
    /// `[log]`: level and format of the log.
    #[serde(default)]
    pub log: LogConfig,
    /// `[[zone]]`: the zones served.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// `[geoip]`: the GeoIP databases.
    #[serde(default)]
    pub geoip: gslb::GeoipConfig,
    /// `[health]`: how health is measured.
    #[serde(default)]
    pub health: health::HealthConfig,
    /// `[admin]`: the admin HTTP API.
    #[serde(default)]
    pub admin: health::AdminConfig,
    /// `[[region]]`: where clients and pools are.
    #[serde(default, rename = "region")]
    pub regions: Vec<gslb::RegionConfig>,
    /// `[[pool]]`: data centers and their endpoints.
    #[serde(default, rename = "pool")]
    pub pools: Vec<gslb::PoolConfig>,
    /// `[[service]]`: the load-balanced names.
    #[serde(default, rename = "service")]
    pub services: Vec<gslb::ServiceConfig>,
    /// `[capacity]`: headroom and expected demand for capacity-aware drills and checks.
    #[serde(default)]
    pub capacity: capacity::CapacityConfig,
    /// `[[maintenance]]`: recurring maintenance windows (see [`maintenance`]).
    #[serde(default)]
    pub maintenance: Vec<maintenance::MaintenanceConfig>,
    /// `[cluster]`: several nodes sharing state through etcd; `None` = a single node.
    #[serde(default)]
    pub cluster: Option<cluster::ClusterConfig>,
    /// `[[notify]]`: webhooks told about transitions, overrides, drills, reloads….
    #[serde(default, rename = "notify")]
    pub notify: Vec<notify::NotifyConfig>,
    /// Where the config came from (for messages); not a key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The text it was parsed from (for the parts read by their owners: [`Document`]).
    #[serde(skip)]
    pub text: std::sync::Arc<str>,
}

/// A parsed config file and the problems found in it. Problems do not stop the load when the
/// rest of the file could still be read (unknown keys), so callers can keep checking.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration as far as it could be read.
    pub config: Config,
    /// Everything wrong with it.
    pub problems: Diagnostics,
}

impl Config {
    /// Read and parse a config file. `Err` when nothing usable could be read (the file is
    /// missing, not TOML, or a value has the wrong type); unknown keys come back in
    /// [`Loaded::problems`].
    pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot read config file: {e}")))?;
        let mut loaded = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        loaded.config.resolve_paths(base);
        loaded.config.source = Some(path.to_path_buf());
        Ok(loaded)
    }

    /// Parse config text (as if read from `path`), without resolving paths.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, Diagnostics> {
        let table = DeTable::parse(text).map_err(|e| toml_error(path, text, &e))?;
        let mut unknown = Vec::new();
        let de = toml::de::Deserializer::from(table.clone());
        let config: Config = serde_ignored::deserialize(de, |p| unknown.push(segments(&p)))
            .map_err(|e| toml_error(path, text, &e))?;
        let mut config = config;
        config.text = text.into();
        let mut problems = Diagnostics::default();
        // A table under `[[service]]` that the service itself does not know is a chain step's
        // settings (`[service.geo]`): its owner reads it strictly when the model is built.
        let service_tables: Vec<(usize, Spanned<String>)> = unknown
            .iter()
            .filter_map(|segs| match segs.as_slice() {
                [service, i, word] if service == "service" => {
                    let i: usize = i.parse().ok()?;
                    let v = document_value(table.get_ref(), segs)?;
                    matches!(v.get_ref(), DeValue::Table(_))
                        .then(|| (i, Spanned::new(v.span(), word.clone())))
                }
                _ => None,
            })
            .collect();
        unknown.retain(|segs| {
            !service_tables.iter().any(|(i, w)| {
                segs.len() == 3 && segs[1] == i.to_string() && segs[2] == *w.get_ref()
            })
        });
        for (i, word) in service_tables {
            if let Some(svc) = config.services.get_mut(i) {
                svc.settings.push(word);
            }
        }
        for segs in unknown {
            let name = segs.join(".");
            let msg = format!("unknown key `{name}`");
            problems.push(match key_span(table.get_ref(), &segs) {
                Some(span) => Diagnostic::at_offset(path, text, span.start, msg),
                None => Diagnostic::file(path, msg),
            });
        }
        check_cluster(&config, &table, text, path, &mut problems);
        check_notify(&config, text, path, &mut problems);
        problems.0.sort_by_key(|d| d.line);
        Ok(Loaded { config, problems })
    }

    /// Make relative paths relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        for z in &mut self.zones {
            let resolved = base.join(z.file.get_ref());
            *z.file.get_mut() = resolved;
        }
        if self.health.state_file.as_os_str().is_empty() {
            let dir = self
                .server
                .state_dir
                .clone()
                .unwrap_or_else(server::default_state_dir);
            self.health.state_file = dir.join("ayadns.db");
        }
        self.health.state_file = base.join(&self.health.state_file);
        for t in [
            &mut self.admin.tokens_file,
            &mut self.admin.tls_cert,
            &mut self.admin.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            let resolved = base.join(t.get_ref());
            *t.get_mut() = resolved;
        }
        for d in &mut self.geoip.databases {
            let resolved = base.join(d.get_ref());
            *d.get_mut() = resolved;
        }
        if let Some(c) = &mut self.cluster {
            c.resolve_paths(base);
        }
        for n in &mut self.notify {
            n.resolve_paths(base);
        }
    }

    /// The file the config came from, or a placeholder for built-in configs.
    pub fn source_name(&self) -> PathBuf {
        self.source
            .clone()
            .unwrap_or_else(|| PathBuf::from("<command line>"))
    }

    /// A diagnostic at the line where `span` starts in the config file.
    pub fn diag_at(&self, span: Range<usize>, msg: impl Into<String>) -> Diagnostic {
        let file = self.source_name();
        match std::fs::read_to_string(&file) {
            Ok(text) if span.start <= text.len() => {
                Diagnostic::at_offset(&file, &text, span.start, msg)
            }
            _ => Diagnostic::file(&file, msg),
        }
    }
}

/// The parsed config text, for the modules that own the meaning of a part of it.
pub struct Document<'a> {
    config: &'a Config,
    root: Option<Spanned<DeTable<'a>>>,
}

impl Config {
    /// The parsed text (parse once, then read as many parts as needed).
    pub fn document(&self) -> Document<'_> {
        Document {
            config: self,
            root: DeTable::parse(&self.text).ok(),
        }
    }
}

impl Document<'_> {
    /// Read `[service.WORD]` of the `index`-th `[[service]]` strictly into `T`: a wrong type
    /// and every unknown key become problems with their line. `Ok(None)` when the table is
    /// absent; `Err` when it could not be read (the problems say why).
    pub fn settings<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
        word: &str,
        problems: &mut Diagnostics,
    ) -> Result<Option<T>, Unreadable> {
        let Some(root) = self.root.as_ref() else {
            return Ok(None);
        };
        let segs = ["service".to_string(), index.to_string(), word.to_string()];
        let Some(value) = document_value(root.get_ref(), &segs) else {
            return Ok(None);
        };
        let file = self.config.source_name();
        let text: &str = &self.config.text;
        let mut unknown = Vec::new();
        let de = toml::de::ValueDeserializer::from(value.clone());
        match serde_ignored::deserialize(de, |p| unknown.push(segments(&p))) {
            Ok(v) => {
                for rest in unknown {
                    let mut path = segs.to_vec();
                    path.extend(rest);
                    let msg = format!("unknown key `{}`", path.join("."));
                    problems.push(match key_span(root.get_ref(), &path) {
                        Some(span) => Diagnostic::at_offset(&file, text, span.start, msg),
                        None => Diagnostic::file(&file, msg),
                    });
                }
                Ok(Some(v))
            }
            Err(e) => {
                let msg = format!("[service.{word}]: {}", e.message().trim());
                let at = e.span().unwrap_or(value.span());
                problems.push(Diagnostic::at_offset(&file, text, at.start, msg));
                Err(Unreadable)
            }
        }
    }
}

/// A part of the config that could not be read (the problems say why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// The value at `segs` in the parsed document.
fn document_value<'a, 'i>(
    table: &'a DeTable<'i>,
    segs: &[String],
) -> Option<&'a Spanned<DeValue<'i>>> {
    let (first, rest) = segs.split_first()?;
    let (_, value) = table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
    let mut v = value;
    let mut rest = rest;
    while let Some((seg, more)) = rest.split_first() {
        v = match v.get_ref() {
            DeValue::Table(t) => {
                t.iter()
                    .find(|(k, _)| k.get_ref().as_ref() == seg.as_str())?
                    .1
            }
            DeValue::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
        rest = more;
    }
    Some(v)
}

/// `[cluster]`: validated when this build has cluster support, refused (at the section's
/// line) when it has not.
fn check_cluster(
    config: &Config,
    table: &Spanned<DeTable<'_>>,
    text: &str,
    path: &Path,
    problems: &mut Diagnostics,
) {
    let Some(section) = &config.cluster else {
        return;
    };
    let at = |span: Range<usize>, msg: String| Diagnostic::at_offset(path, text, span.start, msg);
    if !cfg!(feature = "cluster") {
        let span = key_span(table.get_ref(), &["cluster".to_string()]).unwrap_or(0..0);
        problems.push(at(span, cluster::NOT_BUILT.to_string()));
        return;
    }
    let regions: Vec<&str> = config
        .regions
        .iter()
        .map(|r| r.name.get_ref().as_str())
        .collect();
    problems.0.extend(section.validate(&regions, &at));
}

/// `[[notify]]`: every entry's problems, and names that two entries share.
fn check_notify(config: &Config, text: &str, path: &Path, problems: &mut Diagnostics) {
    let at = |span: Range<usize>, msg: String| Diagnostic::at_offset(path, text, span.start, msg);
    if config.notify.len() > notify::MAX_WEBHOOKS {
        let span = config.notify[notify::MAX_WEBHOOKS].url.span();
        problems.push(at(
            span,
            format!(
                "{} [[notify]] entries; at most {}",
                config.notify.len(),
                notify::MAX_WEBHOOKS
            ),
        ));
    }
    for (i, n) in config.notify.iter().enumerate() {
        problems.0.extend(n.validate(&at));
        if config.notify[..i].iter().any(|m| m.label() == n.label()) {
            let span = n.name.as_ref().map_or(n.url.span(), |s| s.span());
            problems.push(at(
                span,
                format!(
                    "notify: `{}` names another [[notify]] entry too; give each a distinct `name`",
                    n.label()
                ),
            ));
        }
    }
}

/// A TOML error as a diagnostic at its position.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Diagnostics {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => Diagnostic::at_offset(path, text, span.start, msg),
        None => Diagnostic::file(path, msg),
    }
    .into()
}

/// A serde_ignored path as key segments: `zone[1].fle` → `["zone", "1", "fle"]`.
fn segments(path: &serde_ignored::Path) -> Vec<String> {
    use serde_ignored::Path as P;
    match path {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(index.to_string());
            v
        }
        P::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(key.clone());
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            segments(parent)
        }
    }
}

/// The span of the key at `segs` in the parsed document.
fn key_span(table: &DeTable<'_>, segs: &[String]) -> Option<Range<usize>> {
    let (first, rest) = segs.split_first()?;
    let (key, value) = table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
    if rest.is_empty() {
        return Some(key.span());
    }
    value_span(value, rest).or(Some(key.span()))
}

fn value_span(value: &Spanned<DeValue<'_>>, segs: &[String]) -> Option<Range<usize>> {
    match value.get_ref() {
        DeValue::Table(t) => key_span(t, segs),
        DeValue::Array(a) => {
            let (idx, rest) = segs.split_first()?;
            let item = a.get(idx.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(item.span())
            } else {
                value_span(item, rest)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_all_reported_with_their_lines() {
        let text = "[server]\nlisten = [\"127.0.0.1:53\"]\nlisen = 1\n\n[[zone]]\nfile = \"a.zone\"\n\n[[zone]]\nfle = \"b.zone\"\nfile = \"b.zone\"\n[logg]\nlevel = \"x\"\n";
        let loaded = Config::parse(text, Path::new("c.toml")).unwrap();
        let msgs: Vec<String> = loaded.problems.0.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "c.toml:3:1: unknown key `server.lisen`",
                "c.toml:9:1: unknown key `zone.1.fle`",
                "c.toml:11:2: unknown key `logg`",
            ]
        );
        assert_eq!(loaded.config.zones.len(), 2);
    }

    #[test]
    fn type_and_syntax_errors_have_positions() {
        let e = Config::parse("[server]\nmax_udp_payload = \"big\"\n", Path::new("c.toml"))
            .unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
        let e = Config::parse("[server\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(e.0[0].line, Some(1), "{e}");
        let e =
            Config::parse("[server]\nlisten = [\"nonsense\"]\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let c = Config::parse("", Path::new("c.toml")).unwrap().config;
        assert_eq!(c.server.listen.len(), 1);
        assert_eq!(c.server.listen[0].get_ref().to_string(), "127.0.0.1:5353");
        assert_eq!(c.server.max_udp_payload, 1232);
    }
}
