//! The checks: HTTP(S) with reqwest (rustls) and TCP connect. A check is one probe of one
//! target; it says up or down, how long it took (TCP connect time, or HTTP time to the
//! response headers), and why it failed.
//!
//! HTTP checks send the configured method to the URL's address, with the `host` setting (if
//! any) as Host header and TLS SNI; they never go through a proxy; TLS certificates are
//! verified unless `insecure = true`; redirects are not followed unless asked. A check passes
//! when the status is expected (default 200–299) and, if `body` is set, the body contains it.

use crate::config::health::{CheckSpec, HealthConfig, StatusRange};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The timing of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// Successes in a row to come up.
    pub rise: u32,
    /// Failures in a row to go down.
    pub fall: u32,
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Passed?
    pub ok: bool,
    /// Connect time (TCP) or time to response headers (HTTP), when it got that far.
    pub rtt: Option<Duration>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A compiled check, ready to probe (cheap to clone; HTTP clients share connection pools).
#[derive(Debug, Clone)]
pub enum Check {
    /// HTTP or HTTPS.
    Http(Box<HttpCheck>),
    /// TCP connect.
    Tcp(SocketAddr),
}

/// An HTTP(S) check.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    client: reqwest::Client,
    url: reqwest::Url,
    method: reqwest::Method,
    expect: Vec<StatusRange>,
    body: Option<String>,
}

/// Check a spec for errors without building it (for `ayadns check`).
pub fn validate(spec: &CheckSpec, defaults: &HealthConfig) -> Result<(), String> {
    Check::build(spec).map(|_| ())?;
    let t = timing(spec, defaults);
    if t.timeout >= t.interval {
        return Err(format!(
            "timeout {:?} must be less than interval {:?}",
            t.timeout, t.interval
        ));
    }
    if t.rise == 0 || t.fall == 0 {
        return Err("rise and fall must be at least 1".into());
    }
    Ok(())
}

/// The timing of `spec`, defaults from `[health]`.
pub fn timing(spec: &CheckSpec, defaults: &HealthConfig) -> Timing {
    Timing {
        interval: spec.interval.unwrap_or(defaults.interval),
        timeout: spec.timeout.unwrap_or(defaults.timeout),
        rise: spec.rise.unwrap_or(defaults.rise),
        fall: spec.fall.unwrap_or(defaults.fall),
    }
}

impl Check {
    /// Compile a spec.
    pub fn build(spec: &CheckSpec) -> Result<Check, String> {
        let url =
            reqwest::Url::parse(&spec.url).map_err(|e| format!("bad URL `{}`: {e}", spec.url))?;
        match url.scheme() {
            "tcp" => {
                let host = url.host_str().ok_or("tcp:// needs host:port")?;
                let port = url.port().ok_or("tcp:// needs a port")?;
                let ip: std::net::IpAddr = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| format!("tcp:// needs an IP address, not `{host}`"))?;
                Ok(Check::Tcp(SocketAddr::new(ip, port)))
            }
            "http" | "https" => {
                let method = spec
                    .method
                    .as_deref()
                    .unwrap_or("GET")
                    .parse::<reqwest::Method>()
                    .map_err(|_| {
                        format!("bad method `{}`", spec.method.as_deref().unwrap_or(""))
                    })?;
                let host = url.host_str().ok_or("URL has no host")?.to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let mut url = url.clone();
                let client = match &spec.host {
                    None => shared_client(spec.insecure, spec.follow_redirects)?,
                    Some(vhost) => {
                        // Dial the URL's address, but speak to `vhost` (Host header and SNI):
                        // this needs a client of its own that resolves `vhost` to that address.
                        let ip: std::net::IpAddr = host
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse()
                            .map_err(|_| {
                                "with `host`, the URL must name an IP address".to_string()
                            })?;
                        url.set_host(Some(vhost))
                            .map_err(|e| format!("bad host `{vhost}`: {e}"))?;
                        client_builder(spec.insecure, spec.follow_redirects)
                            .resolve(vhost, SocketAddr::new(ip, port))
                            .build()
                            .map_err(|e| format!("HTTP client: {e}"))?
                    }
                };
                let expect = if spec.expect.is_empty() {
                    vec![StatusRange(200, 299)]
                } else {
                    spec.expect.clone()
                };
                Ok(Check::Http(Box::new(HttpCheck {
                    client,
                    url,
                    method,
                    expect,
                    body: spec.body.clone(),
                })))
            }
            other => Err(format!(
                "unsupported check scheme `{other}` (http, https, tcp)"
            )),
        }
    }

    /// Probe once, within `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let fail = |rtt, e: String| Outcome {
            ok: false,
            rtt,
            error: Some(e),
        };
        match self {
            Check::Tcp(addr) => {
                match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                    Ok(Ok(_)) => Outcome {
                        ok: true,
                        rtt: Some(start.elapsed()),
                        error: None,
                    },
                    Ok(Err(e)) => fail(None, format!("connect: {e}")),
                    Err(_) => fail(None, format!("no connection within {timeout:?}")),
                }
            }
            Check::Http(h) => {
                let run = async {
                    let resp = h
                        .client
                        .request(h.method.clone(), h.url.clone())
                        .send()
                        .await
                        .map_err(|e| (None, describe(&e)))?;
                    let rtt = start.elapsed();
                    let status = resp.status().as_u16();
                    if !h.expect.iter().any(|r| r.contains(status)) {
                        return Err((Some(rtt), format!("status {status}")));
                    }
                    if let Some(want) = &h.body {
                        let text = resp.text().await.map_err(|e| (Some(rtt), describe(&e)))?;
                        if !text.contains(want.as_str()) {
                            return Err((Some(rtt), format!("body does not contain {want:?}")));
                        }
                    }
                    Ok(rtt)
                };
                match tokio::time::timeout(timeout, run).await {
                    Ok(Ok(rtt)) => Outcome {
                        ok: true,
                        rtt: Some(rtt),
                        error: None,
                    },
                    Ok(Err((rtt, e))) => fail(rtt, e),
                    Err(_) => fail(None, format!("no answer within {timeout:?}")),
                }
            }
        }
    }
}

/// A client builder with the settings every check uses: no proxy (checks go straight to the
/// endpoint), no idle connections kept (each probe opens its own, so a listener that stopped
/// accepting is noticed), TLS verification unless `insecure`, redirects only when asked.
fn client_builder(insecure: bool, follow_redirects: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .danger_accept_invalid_certs(insecure)
        .redirect(if follow_redirects {
            reqwest::redirect::Policy::limited(5)
        } else {
            reqwest::redirect::Policy::none()
        })
        .user_agent(concat!(
            "ayadns/",
            env!("CARGO_PKG_VERSION"),
            " health check"
        ))
}

/// One client per combination of settings, shared by every check that has no `host`
/// override (a client holds TLS configuration and a resolver: 10,000 of them cost memory).
fn shared_client(insecure: bool, follow_redirects: bool) -> Result<reqwest::Client, String> {
    static CLIENTS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<(bool, bool), reqwest::Client>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut map = CLIENTS
        .lock()
        .map_err(|_| "client cache poisoned".to_string())?;
    if let Some(c) = map.get(&(insecure, follow_redirects)) {
        return Ok(c.clone());
    }
    let c = client_builder(insecure, follow_redirects)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    map.insert((insecure, follow_redirects), c.clone());
    Ok(c)
}

/// A reqwest error in a few words, with its cause.
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() {
        "connect failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
