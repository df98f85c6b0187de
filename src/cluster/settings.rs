//! [`Settings`]: what a [`Cluster`](super::Cluster) needs, from `[cluster]` or built by hand,
//! and the etcd client options made from them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use super::ClusterError;
use crate::config::cluster::{
    ClusterConfig, MAX_ENDPOINTS, MAX_LEASE, MIN_LEASE, check_name, check_prefix,
};

/// How this node joins the cluster.
#[derive(Clone)]
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// Its vantage region.
    pub region: String,
    /// Key prefix (starts and ends with `/`).
    pub prefix: String,
    /// etcd client URLs.
    pub endpoints: Vec<String>,
    /// Lease TTL (whole seconds): how long this node's votes outlive it.
    pub lease: Duration,
    /// CA certificate (PEM) for https endpoints.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM).
    pub identity: Option<(PathBuf, PathBuf)>,
    /// etcd user and password.
    pub user: Option<(String, String)>,
    /// Longest wait for one etcd request; past it the request fails as unavailable.
    pub request_timeout: Duration,
    /// Least time between two latency publications of one (pool, vantage).
    pub latency_interval: Duration,
    /// Relative change of latency worth publishing (0.1 = 10 %).
    pub latency_change: f64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("endpoints", &self.endpoints)
            .field("lease", &self.lease)
            .field("ca", &self.ca)
            .field("identity", &self.identity)
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Default for [`Settings::request_timeout`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`Settings::latency_interval`].
pub const LATENCY_INTERVAL: Duration = Duration::from_secs(3);
/// Default for [`Settings::latency_change`].
pub const LATENCY_CHANGE: f64 = 0.10;

impl Settings {
    /// Settings with the defaults: prefix `/ayadns/`, a 5 s lease, no TLS, no user.
    pub fn new(node: &str, region: &str, endpoints: Vec<String>) -> Settings {
        Settings {
            node: node.to_string(),
            region: region.to_string(),
            prefix: "/ayadns/".to_string(),
            endpoints,
            lease: Duration::from_secs(5),
            ca: None,
            identity: None,
            user: None,
            request_timeout: REQUEST_TIMEOUT,
            latency_interval: LATENCY_INTERVAL,
            latency_change: LATENCY_CHANGE,
        }
    }

    /// Settings from a validated `[cluster]` section (paths already resolved).
    pub fn from_config(c: &ClusterConfig) -> Settings {
        let mut s = Settings::new(c.node.get_ref(), c.region.get_ref(), c.endpoints());
        s.prefix = c.prefix.get_ref().clone();
        s.lease = c.lease();
        s.ca = c.ca.as_ref().map(|p| p.get_ref().clone());
        s.identity = match (&c.cert, &c.key) {
            (Some(cert), Some(key)) => Some((cert.get_ref().clone(), key.get_ref().clone())),
            _ => None,
        };
        s.user = match (&c.username, &c.password) {
            (Some(u), Some(p)) => Some((u.get_ref().clone(), p.get_ref().clone())),
            _ => None,
        };
        s
    }

    /// Checks what [`Settings::new`] and hand-made settings may get wrong (what `[cluster]`
    /// validation also checks, with file:line, for settings from a config file).
    pub fn validate(&self) -> Result<(), ClusterError> {
        let bad = |m: String| Err(ClusterError::Invalid(format!("cluster settings: {m}")));
        if let Err(e) = check_name(&self.node) {
            return bad(format!("node: {e}"));
        }
        if let Err(e) = check_name(&self.region) {
            return bad(format!("region: {e}"));
        }
        if let Err(e) = check_prefix(&self.prefix) {
            return bad(format!("prefix: {e}"));
        }
        if self.endpoints.is_empty() || self.endpoints.len() > MAX_ENDPOINTS {
            return bad(format!(
                "1 to {MAX_ENDPOINTS} etcd endpoints, not {}",
                self.endpoints.len()
            ));
        }
        if !(MIN_LEASE..=MAX_LEASE).contains(&self.lease) {
            return bad(format!(
                "lease {} is not between {} and {}",
                humantime::format_duration(self.lease),
                humantime::format_duration(MIN_LEASE),
                humantime::format_duration(MAX_LEASE)
            ));
        }
        let t = self.request_timeout;
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&t) {
            return bad(format!(
                "request timeout {} is not between 100ms and 1m",
                humantime::format_duration(t)
            ));
        }
        if self.latency_interval > Duration::from_secs(3600) {
            return bad("latency interval longer than an hour".into());
        }
        if !(0.0..=10.0).contains(&self.latency_change) {
            return bad(format!(
                "latency change {} is not between 0 and 10",
                self.latency_change
            ));
        }
        Ok(())
    }

    /// The lease TTL in etcd's whole seconds (at least 1).
    pub fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// The etcd client options: timeouts, HTTP/2 keep-alive (a silent member is noticed),
    /// leader required (a member cut off from the others does not serve stale watches), TLS
    /// and user when set. Reads the TLS files.
    pub(crate) fn connect_options(&self) -> Result<ConnectOptions, ClusterError> {
        let mut o = ConnectOptions::new()
            .with_timeout(self.request_timeout)
            .with_connect_timeout(self.request_timeout.min(Duration::from_secs(1)))
            .with_keep_alive(Duration::from_secs(1), self.request_timeout)
            .with_keep_alive_while_idle(true)
            .with_require_leader(true);
        if let Some((u, p)) = &self.user {
            o = o
                .with_user(u.clone(), p.clone())
                .with_auto_token_refresh(true);
        }
        if self.ca.is_some() || self.identity.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.ca {
                tls =
                    tls.ca_certificate(Certificate::from_pem(read(ca, "the etcd CA certificate")?));
            }
            if let Some((cert, key)) = &self.identity {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "the etcd client certificate")?,
                    read(key, "the etcd client key")?,
                ));
            }
            o = o.with_tls(tls);
        }
        Ok(o)
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, ClusterError> {
    std::fs::read(path).map_err(|source| ClusterError::File {
        what,
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_settings_are_checked() {
        let ok = Settings::new("ns1", "eu", vec!["http://127.0.0.1:2379".into()]);
        ok.validate().unwrap();
        type Change = fn(&mut Settings);
        let cases: [(&str, Change); 6] = [
            ("node", |s| s.node = "a b".into()),
            ("prefix", |s| s.prefix = "ayadns".into()),
            ("endpoints", |s| s.endpoints.clear()),
            ("lease", |s| s.lease = Duration::from_secs(1)),
            ("request timeout", |s| s.request_timeout = Duration::ZERO),
            ("latency change", |s| s.latency_change = f64::NAN),
        ];
        for (what, change) in cases {
            let mut s = ok.clone();
            change(&mut s);
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(what), "{what}: {e}");
        }
        // The password never shows in logs.
        let mut s = ok;
        s.user = Some(("u".into(), "hunter2".into()));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
