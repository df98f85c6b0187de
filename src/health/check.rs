//! The checks: HTTP(S) with reqwest (rustls) and TCP connect. A check is one probe of one
//! target; it says up or down, how long it took (TCP connect time, or HTTP time to the
//! response headers), and why it failed.
//!
//! HTTP checks send the configured method to the URL's address, with the `host` setting (if
//! any) as Host header and TLS SNI; they never go through a proxy; TLS certificates are
//! verified unless `insecure = true`; redirects are not followed unless asked. A check passes
//! when the status is expected (default 200–299) and, if `body` is set, the body contains it.

use crate::config::health::{CheckSpec, CheckTarget, StatusRange};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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

impl Check {
    /// Compile a spec: parse it ([`CheckSpec::parse`]) and make its HTTP client.
    pub fn build(spec: &CheckSpec) -> Result<Check, String> {
        match spec.parse()? {
            CheckTarget::Tcp(addr) => Ok(Check::Tcp(addr)),
            CheckTarget::Http(t) => {
                let client = match &t.dial {
                    None => shared_client(t.insecure, t.follow_redirects)?,
                    // A client of its own that resolves the spoken name to the dialled address.
                    Some((vhost, addr)) => client_builder(t.insecure, t.follow_redirects)
                        .resolve(vhost, *addr)
                        .build()
                        .map_err(|e| format!("HTTP client: {e}"))?,
                };
                Ok(Check::Http(Box::new(HttpCheck {
                    client,
                    url: t.url,
                    method: t.method,
                    expect: t.expect,
                    body: t.body,
                })))
            }
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
