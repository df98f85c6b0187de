//! `[cluster]`: several ayadns nodes sharing one truth through etcd.
//!
//! Without this section ayadns is a single node (state in its SQLite file). With it, overrides,
//! drills, the audit trail and health votes live in etcd under `prefix`, and this node takes
//! part as `node`:
//!
//! ```toml
//! [cluster]
//! node = "ns1"                          # unique in the cluster; letters, digits, '.', '_', '-'
//! etcd = ["http://127.0.0.1:2379"]      # etcd v3 client URLs (http:// or https://)
//! prefix = "/ayadns/prod/"              # every key lives under it (default "/ayadns/")
//! region = "eu"                         # vantage region of this node's own probes
//! lease = "5s"                          # how long a silent node's votes count (2s to 5m, whole seconds)
//! # TLS to etcd (https:// endpoints): the CA that signed etcd's certificate, and optionally a
//! # client certificate and key (paths relative to this file)
//! ca = "etcd-ca.pem"
//! cert = "ns1.pem"
//! key = "ns1-key.pem"
//! # etcd authentication
//! username = "ayadns"
//! password = "secret"
//! ```
//!
//! Cluster support needs ayadns built with `--features cluster` (its etcd client compiles
//! protobuf definitions, which needs `protoc`). A build without it refuses a `[cluster]`
//! section rather than run as a lone node by surprise.

use serde::{Deserialize, Deserializer};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

use crate::diag::Diagnostic;

/// Shortest lease: etcd grants nothing below about a second and a half on default timings.
pub const MIN_LEASE: Duration = Duration::from_secs(2);
/// Longest lease: votes of a dead node must not count for long.
pub const MAX_LEASE: Duration = Duration::from_secs(300);
/// Most etcd endpoints in the list.
pub const MAX_ENDPOINTS: usize = 16;
/// Longest node or region name.
pub const MAX_NAME: usize = 63;
/// Longest key prefix.
pub const MAX_PREFIX: usize = 128;

/// `[cluster]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster.
    pub node: Spanned<String>,
    /// etcd client URLs.
    pub etcd: Spanned<Vec<Spanned<String>>>,
    /// The key prefix (starts and ends with `/`).
    #[serde(default = "default_prefix")]
    pub prefix: Spanned<String>,
    /// The vantage region of this node's probes.
    pub region: Spanned<String>,
    /// How long this node's votes outlive its silence.
    #[serde(default = "default_lease")]
    pub lease: Spanned<ConfigDuration>,
    /// CA certificate (PEM) for https endpoints.
    #[serde(default)]
    pub ca: Option<Spanned<PathBuf>>,
    /// Client certificate (PEM).
    #[serde(default)]
    pub cert: Option<Spanned<PathBuf>>,
    /// Client private key (PEM).
    #[serde(default)]
    pub key: Option<Spanned<PathBuf>>,
    /// etcd user.
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// etcd password.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// `[[notify]]` webhooks (topic `cluster`) are told when this node's view has not been
    /// known current for longer than this, and again when it catches up.
    #[serde(default = "default_lag_alert")]
    pub lag_alert: Spanned<ConfigDuration>,
}

/// Bounds of `lag_alert`.
pub const LAG_ALERT: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// A duration written like `"5s"` (humantime), as a value that can carry a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::duration::deserialize(d).map(ConfigDuration)
    }
}

fn default_prefix() -> Spanned<String> {
    Spanned::new(0..0, "/ayadns/".to_string())
}

fn default_lag_alert() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration(Duration::from_secs(30)))
}

fn default_lease() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration(Duration::from_secs(5)))
}

impl ClusterConfig {
    /// The lease duration.
    pub fn lease(&self) -> Duration {
        self.lease.get_ref().0
    }

    /// How stale the view may get before `[[notify]]` webhooks are told.
    pub fn lag_alert(&self) -> Duration {
        self.lag_alert.get_ref().0
    }

    /// The etcd endpoints as plain strings.
    pub fn endpoints(&self) -> Vec<String> {
        self.etcd
            .get_ref()
            .iter()
            .map(|e| e.get_ref().clone())
            .collect()
    }

    /// Make the TLS file paths relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.ca, &mut self.cert, &mut self.key]
            .into_iter()
            .flatten()
        {
            let resolved = base.join(p.get_ref());
            *p.get_mut() = resolved;
        }
    }

    /// Everything wrong with the section. `at` turns a span of the config text into a
    /// diagnostic at its line; `regions` are the `[[region]]` names (the node's region must be
    /// one of them when any are declared).
    pub fn validate(
        &self,
        regions: &[&str],
        at: &dyn Fn(Range<usize>, String) -> Diagnostic,
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut bad = |span: Range<usize>, msg: String| out.push(at(span, msg));

        if let Err(e) = check_name(self.node.get_ref()) {
            bad(self.node.span(), format!("cluster.node: {e}"));
        }
        if let Err(e) = check_name(self.region.get_ref()) {
            bad(self.region.span(), format!("cluster.region: {e}"));
        } else if !regions.is_empty() && !regions.contains(&self.region.get_ref().as_str()) {
            bad(
                self.region.span(),
                format!(
                    "cluster.region `{}` is not a declared [[region]] (known: {})",
                    self.region.get_ref(),
                    regions.join(", ")
                ),
            );
        }

        let endpoints = self.etcd.get_ref();
        if endpoints.is_empty() {
            bad(
                self.etcd.span(),
                "cluster.etcd is empty: name at least one etcd client URL".into(),
            );
        } else if endpoints.len() > MAX_ENDPOINTS {
            bad(
                self.etcd.span(),
                format!(
                    "cluster.etcd lists {} endpoints; at most {MAX_ENDPOINTS}",
                    endpoints.len()
                ),
            );
        }
        let tls = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        let mut schemes = Vec::new();
        for e in endpoints {
            let url = e.get_ref();
            if url.starts_with("http://") {
                schemes.push("http");
            } else if url.starts_with("https://") {
                schemes.push("https");
            }
            if let Err(msg) = check_endpoint(url) {
                bad(e.span(), format!("cluster.etcd: {msg}"));
            }
        }
        if schemes.contains(&"http") && schemes.contains(&"https") {
            bad(
                self.etcd.span(),
                "cluster.etcd mixes http:// and https:// endpoints; use one scheme".into(),
            );
        }
        if tls && schemes.contains(&"http") {
            bad(
                self.etcd.span(),
                "cluster.ca/cert/key are set but the etcd endpoints are http://; use https://"
                    .into(),
            );
        }
        match (&self.cert, &self.key) {
            (Some(c), None) => bad(
                c.span(),
                "cluster.cert needs cluster.key (the client certificate's private key)".into(),
            ),
            (None, Some(k)) => bad(
                k.span(),
                "cluster.key needs cluster.cert (the client certificate)".into(),
            ),
            _ => {}
        }

        if let Err(e) = check_prefix(self.prefix.get_ref()) {
            bad(self.prefix.span(), format!("cluster.prefix: {e}"));
        }

        let lease = self.lease();
        if lease < MIN_LEASE || lease > MAX_LEASE {
            bad(
                self.lease.span(),
                format!(
                    "cluster.lease {} is out of range: between {} and {}",
                    humantime::format_duration(lease),
                    humantime::format_duration(MIN_LEASE),
                    humantime::format_duration(MAX_LEASE)
                ),
            );
        } else if lease.subsec_nanos() != 0 {
            bad(
                self.lease.span(),
                format!(
                    "cluster.lease {} is not whole seconds (etcd leases count seconds)",
                    humantime::format_duration(lease)
                ),
            );
        }

        let lag = self.lag_alert();
        if lag < LAG_ALERT.0 || lag > LAG_ALERT.1 {
            bad(
                self.lag_alert.span(),
                format!(
                    "cluster.lag_alert {} is out of range: between {} and {}",
                    humantime::format_duration(lag),
                    humantime::format_duration(LAG_ALERT.0),
                    humantime::format_duration(LAG_ALERT.1)
                ),
            );
        }

        match (&self.username, &self.password) {
            (Some(u), None) => bad(u.span(), "cluster.username needs cluster.password".into()),
            (None, Some(p)) => bad(p.span(), "cluster.password needs cluster.username".into()),
            (Some(u), Some(_)) if u.get_ref().is_empty() || u.get_ref().len() > 256 => bad(
                u.span(),
                "cluster.username must be 1 to 256 characters".into(),
            ),
            (Some(_), Some(p)) if p.get_ref().len() > 1024 => bad(
                p.span(),
                "cluster.password is longer than 1024 characters".into(),
            ),
            _ => {}
        }
        out
    }
}

/// A node or region name: 1 to 63 of `A-Z a-z 0-9 . _ -`.
pub fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_NAME {
        return Err(format!("`{s}` must be 1 to {MAX_NAME} characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{s}` contains {c:?}; use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// An etcd client URL: `http://HOST:PORT` or `https://HOST:PORT`, nothing after the port.
fn check_endpoint(s: &str) -> Result<(), String> {
    let rest = if let Some(r) = s.strip_prefix("http://") {
        r
    } else if let Some(r) = s.strip_prefix("https://") {
        r
    } else {
        return Err(format!(
            "`{s}` is not an etcd client URL; write http://HOST:PORT or https://HOST:PORT"
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(format!(
            "`{s}` has no port (etcd listens on 2379 by default)"
        ));
    };
    let host_ok = !host.is_empty()
        && !host.contains(['/', '@', '?', '#', ' '])
        && (host.starts_with('[') == host.ends_with(']'));
    if !host_ok {
        return Err(format!("`{s}` has no valid host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("`{s}` has an invalid port `{port}` (1 to 65535)")),
    }
}

/// A key prefix: starts and ends with `/`, printable ASCII without spaces, no empty segment.
pub fn check_prefix(s: &str) -> Result<(), String> {
    if !s.starts_with('/') || !s.ends_with('/') {
        return Err(format!(
            "`{s}` must start and end with '/' (like \"/ayadns/prod/\")"
        ));
    }
    if s.len() > MAX_PREFIX {
        return Err(format!("`{s}` is longer than {MAX_PREFIX} characters"));
    }
    if s.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "`{s}` may hold only printable ASCII without spaces"
        ));
    }
    if s.len() > 1 && s.contains("//") {
        return Err(format!("`{s}` has an empty segment (`//`)"));
    }
    Ok(())
}

/// The message for a `[cluster]` section in a build without cluster support.
pub const NOT_BUILT: &str = "this ayadns was built without cluster support: the [cluster] \
     section needs a build with `cargo build --release --features cluster` (which needs \
     `protoc` and its well-known types: Debian packages protobuf-compiler and libprotobuf-dev)";

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("c.toml")) {
            Ok(l) => l.problems.0.iter().map(|d| d.to_string()).collect(),
            Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
        }
    }

    const GOOD: &str =
        "[cluster]\nnode = \"ns1\"\netcd = [\"http://127.0.0.1:2379\"]\nregion = \"eu\"\n";

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_config_good_section_and_defaults() {
        let l = Config::parse(GOOD, Path::new("c.toml")).unwrap();
        assert!(l.problems.0.is_empty(), "{}", l.problems);
        let c = l.config.cluster.expect("section read");
        assert_eq!(c.node.get_ref(), "ns1");
        assert_eq!(c.prefix.get_ref(), "/ayadns/");
        assert_eq!(c.lease(), std::time::Duration::from_secs(5));
        assert_eq!(c.endpoints(), ["http://127.0.0.1:2379"]);
    }

    #[cfg(not(feature = "cluster"))]
    #[test]
    fn cluster_config_needs_the_feature() {
        let p = problems(GOOD);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("c.toml:1:"), "{p:?}");
        assert!(p[0].contains("--features cluster"), "{p:?}");
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_config_every_problem_has_its_line() {
        let text = "[[region]]\nname = \"eu\"\nlocation = [50.1, 8.7]\n\n[cluster]\nnode = \"ns 1\"\n\
            etcd = [\"127.0.0.1:2379\", \"http://h:0\", \"https://h:2379\"]\n\
            prefix = \"ayadns\"\nregion = \"us\"\nlease = \"1s\"\ncert = \"c.pem\"\n\
            username = \"u\"\ncolour = 1\n";
        let p = problems(text);
        let want = [
            ("c.toml:6:", "cluster.node: `ns 1` contains ' '"),
            ("c.toml:7:", "`127.0.0.1:2379` is not an etcd client URL"),
            ("c.toml:7:", "invalid port `0`"),
            ("c.toml:7:", "mixes http:// and https://"),
            (
                "c.toml:7:",
                "cluster.ca/cert/key are set but the etcd endpoints are http://",
            ),
            (
                "c.toml:8:",
                "cluster.prefix: `ayadns` must start and end with '/'",
            ),
            (
                "c.toml:9:",
                "cluster.region `us` is not a declared [[region]] (known: eu)",
            ),
            (
                "c.toml:10:",
                "cluster.lease 1s is out of range: between 2s and 5m",
            ),
            ("c.toml:11:", "cluster.cert needs cluster.key"),
            ("c.toml:12:", "cluster.username needs cluster.password"),
            ("c.toml:13:", "unknown key `cluster.colour`"),
        ];
        for (at, msg) in want {
            assert!(
                p.iter().any(|d| d.starts_with(at) && d.contains(msg)),
                "missing {at} {msg} in {p:#?}"
            );
        }
        assert_eq!(p.len(), want.len(), "{p:#?}");
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_config_bad_values_are_errors_not_panics() {
        for (text, needle) in [
            (
                "[cluster]\nnode = \"n\"\netcd = []\nregion = \"r\"\n",
                "cluster.etcd is empty",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\nregion = \"r\"\nlease = \"2.5s\"\n",
                "not whole seconds",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\nregion = \"r\"\nlease = \"soon\"\n",
                "invalid duration `soon`",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\nregion = \"r\"\nlease = \"1h\"\n",
                "out of range",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\nregion = \"r\"\nlag_alert = \"2h\"\n",
                "cluster.lag_alert 2h is out of range",
            ),
            (
                "[cluster]\nnode = \"\"\netcd = [\"http://h:1\"]\nregion = \"r\"\n",
                "must be 1 to 63 characters",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\nregion = \"r\"\nprefix = \"/a//b/\"\n",
                "empty segment",
            ),
            (
                "[cluster]\nnode = \"n\"\nregion = \"r\"\n",
                "missing field `etcd`",
            ),
            (
                "[cluster]\nnode = \"n\"\netcd = [\"http://h:1\"]\n",
                "missing field `region`",
            ),
        ] {
            let p = problems(text);
            assert!(
                p.iter()
                    .any(|d| d.contains(needle) && d.starts_with("c.toml:")),
                "{text}: want {needle} in {p:#?}"
            );
        }
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_config_tls_and_auth_are_accepted() {
        let text = "[cluster]\nnode = \"ns1\"\netcd = [\"https://[::1]:2379\", \"https://etcd.example:2379/\"]\n\
            region = \"eu\"\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
            username = \"ayadns\"\npassword = \"pw\"\nlease = \"10s\"\nprefix = \"/a/b/\"\n";
        let l = Config::parse(text, Path::new("c.toml")).unwrap();
        assert!(l.problems.0.is_empty(), "{}", l.problems);
        let mut c = l.config.cluster.unwrap();
        c.resolve_paths(Path::new("/etc/ayadns"));
        assert_eq!(
            c.ca.as_ref().unwrap().get_ref(),
            Path::new("/etc/ayadns/ca.pem")
        );
    }
}
