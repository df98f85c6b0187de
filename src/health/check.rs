//! The checks: HTTP, HTTPS and TCP connect. A check is one probe of one target; it says up or
//! down, how long it took (TCP connect time, or HTTP time to the response headers), and why it
//! failed.
//!
//! HTTP checks send the configured method to the URL's address, with the `host` setting (if
//! any) as Host header and TLS SNI; they never go through a proxy; TLS certificates are
//! verified unless `insecure = true`; redirects are not followed unless asked. A check passes
//! when the status is expected (default 200–299) and, if `body` is set, the first
//! [`BODY_LIMIT`] bytes of the body contain it.
//!
//! **Every probe opens its own connection** and closes it after the answer (`Connection:
//! close`); nothing is kept alive between probes. A kept-alive connection can keep answering
//! from a process that no longer accepts new clients (a full accept queue, a listener closed
//! for a drain, a host that lost its route), which is what health checks must notice — HAProxy
//! and gdnsd's checkers do the same. A fresh TCP connection on a LAN costs one round trip and
//! a few microseconds of CPU; what was expensive is the client machinery around it.
//!
//! Plain `http://` checks (without `follow_redirects`) therefore run on a lean client:
//! a tokio `TcpStream` with the request made once when the check is compiled — no connection
//! pool, no resolver for IP addresses, no TLS machinery. A check of the status alone writes
//! the prebuilt request and reads the response head with `httparse`; a check of the body
//! too uses hyper's HTTP/1.1 client connection (`hyper::client::conn::http1`), which decodes
//! chunked and length-delimited bodies. `https://` checks and checks that follow redirects use
//! reqwest with rustls (one client per combination of settings, shared), with its connection
//! pool off.

use crate::config::health::{CheckSpec, CheckTarget, StatusRange};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How much of a response body a `body` check reads (the rest is not looked at).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The most response-header bytes the lean client buffers (hyper's minimum is 8 KiB).
const HEADER_LIMIT: usize = 16 * 1024;

/// The User-Agent of every HTTP check.
const USER_AGENT: &str = concat!("ayadns/", env!("CARGO_PKG_VERSION"), " health check");

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

/// A compiled check, ready to probe (cheap to clone).
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
    via: Via,
    expect: Vec<StatusRange>,
    body: Option<String>,
}

/// How the request is made.
#[derive(Debug, Clone)]
enum Via {
    /// Plain HTTP/1.1 over a fresh TCP connection.
    Plain(Plain),
    /// reqwest (rustls): HTTPS, or redirects followed.
    Client {
        client: reqwest::Client,
        url: reqwest::Url,
        method: reqwest::Method,
    },
}

/// A plain `http://` request, made once.
#[derive(Debug, Clone)]
struct Plain {
    dial: Dial,
    method: hyper::Method,
    /// The origin-form request target: path and query.
    target: hyper::Uri,
    /// The Host header: the URL's authority, or the `host` setting.
    host: HeaderValue,
    /// The whole request as sent, for checks of the status alone.
    request: Box<[u8]>,
}

/// Where a plain check connects.
#[derive(Debug, Clone)]
enum Dial {
    /// An IP address (the URL's, or the one dialled for `host`).
    Addr(SocketAddr),
    /// A name, resolved at every probe (as a client would), and a port.
    Name(String, u16),
}

/// Why an exchange failed, and the RTT if the headers came.
type Failure = (Option<Duration>, String);

impl Check {
    /// Compile a spec: parse it ([`CheckSpec::parse`]) and make its request.
    pub fn build(spec: &CheckSpec) -> Result<Check, String> {
        match spec.parse()? {
            CheckTarget::Tcp(addr) => Ok(Check::Tcp(addr)),
            CheckTarget::Http(t) => {
                let via = if t.url.scheme() == "http" && !t.follow_redirects {
                    Via::Plain(Plain::new(&t.url, t.dial.as_ref().map(|d| d.1), t.method)?)
                } else {
                    let client = match &t.dial {
                        None => shared_client(t.insecure, t.follow_redirects)?,
                        // A client of its own that resolves the spoken name to the dialled
                        // address.
                        Some((vhost, addr)) => client_builder(t.insecure, t.follow_redirects)
                            .resolve(vhost, *addr)
                            .build()
                            .map_err(|e| format!("HTTP client: {e}"))?,
                    };
                    Via::Client {
                        client,
                        url: t.url,
                        method: t.method,
                    }
                };
                Ok(Check::Http(Box::new(HttpCheck {
                    via,
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
                    match &h.via {
                        Via::Plain(p) if h.body.is_none() => h.status_only(p, start).await,
                        Via::Plain(p) => h.plain(p, start).await,
                        Via::Client {
                            client,
                            url,
                            method,
                        } => h.reqwest(client, url, method, start).await,
                    }
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

impl HttpCheck {
    /// Is `status` one of the expected?
    fn judge(&self, status: u16, rtt: Duration) -> Result<(), Failure> {
        if self.expect.iter().any(|r| r.contains(status)) {
            Ok(())
        } else {
            Err((Some(rtt), format!("status {status}")))
        }
    }

    /// Does the body seen (at most [`BODY_LIMIT`] bytes) contain what is asked?
    fn judge_body(&self, seen: &[u8], rtt: Duration) -> Result<(), Failure> {
        match &self.body {
            Some(want) if !String::from_utf8_lossy(seen).contains(want.as_str()) => {
                Err((Some(rtt), format!("body does not contain {want:?}")))
            }
            _ => Ok(()),
        }
    }

    /// One exchange on a fresh connection when only the status matters: the request made
    /// once, the response's head read with `httparse` (informational 1xx heads skipped), the
    /// connection closed without reading the body.
    async fn status_only(&self, p: &Plain, start: Instant) -> Result<Duration, Failure> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = p
            .connect()
            .await
            .map_err(|e| (None, format!("connect: {e}")))?;
        stream
            .write_all(&p.request)
            .await
            .map_err(|e| (None, format!("send: {e}")))?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            if buf.len() == buf.capacity() {
                if buf.len() >= HEADER_LIMIT {
                    return Err((None, "response head over 16 KiB".into()));
                }
                buf.reserve(buf.len());
            }
            let n = stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| (None, format!("receive: {e}")))?;
            if n == 0 {
                return Err((None, "connection closed before the response".into()));
            }
            loop {
                match response_head(&buf).map_err(|e| (None, e))? {
                    None => break,
                    Some((code, used)) if code < 200 => {
                        buf.drain(..used);
                    }
                    Some((code, _)) => {
                        let rtt = start.elapsed();
                        self.judge(code, rtt)?;
                        return Ok(rtt);
                    }
                }
            }
        }
    }

    /// One exchange on a fresh connection with hyper's HTTP/1.1 client connection.
    async fn plain(&self, p: &Plain, start: Instant) -> Result<Duration, Failure> {
        let stream = p
            .connect()
            .await
            .map_err(|e| (None, format!("connect: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(HEADER_LIMIT)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| (None, describe(&e)))?;
        let mut req = hyper::Request::new(Empty::new());
        *req.method_mut() = p.method.clone();
        *req.uri_mut() = p.target.clone();
        let headers = req.headers_mut();
        headers.insert(header::HOST, p.host.clone());
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        let talk = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| (None, describe(&e)))?;
            let rtt = start.elapsed();
            self.judge(resp.status().as_u16(), rtt)?;
            if self.body.is_some() {
                let mut body = resp.into_body();
                let mut seen = Vec::new();
                while seen.len() < BODY_LIMIT {
                    match body.frame().await {
                        None => break,
                        Some(Err(e)) => return Err((Some(rtt), describe(&e))),
                        Some(Ok(frame)) => {
                            if let Some(d) = frame.data_ref() {
                                let take = d.len().min(BODY_LIMIT - seen.len());
                                seen.extend_from_slice(&d[..take]);
                            }
                        }
                    }
                }
                self.judge_body(&seen, rtt)?;
            }
            Ok(rtt)
        };
        // The connection is driven here, beside the exchange (no task per probe), and
        // dropped — closed — once the answer is judged.
        tokio::pin!(talk);
        tokio::select! {
            biased;
            r = &mut talk => r,
            c = conn => match c {
                Err(e) => Err((None, describe(&e))),
                Ok(()) => talk.await,
            },
        }
    }

    /// One exchange through reqwest (HTTPS, redirects).
    async fn reqwest(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        method: &reqwest::Method,
        start: Instant,
    ) -> Result<Duration, Failure> {
        let mut resp = client
            .request(method.clone(), url.clone())
            .send()
            .await
            .map_err(|e| (None, describe_reqwest(&e)))?;
        let rtt = start.elapsed();
        self.judge(resp.status().as_u16(), rtt)?;
        if self.body.is_some() {
            let mut seen = Vec::new();
            while seen.len() < BODY_LIMIT {
                match resp.chunk().await {
                    Ok(None) => break,
                    Ok(Some(d)) => {
                        let take = d.len().min(BODY_LIMIT - seen.len());
                        seen.extend_from_slice(&d[..take]);
                    }
                    Err(e) => return Err((Some(rtt), describe_reqwest(&e))),
                }
            }
            self.judge_body(&seen, rtt)?;
        }
        Ok(rtt)
    }
}

/// The status code and length of the complete response head at the start of `buf`; `None`
/// while it is incomplete.
fn response_head(buf: &[u8]) -> Result<Option<(u16, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(used)) => Ok(Some((resp.code.unwrap_or(0), used))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("malformed response: {e}")),
    }
}

impl Plain {
    /// The request of a plain check of `url` (its host already the `host` setting, if any),
    /// dialling `dial` when given, else the URL's own address.
    fn new(
        url: &reqwest::Url,
        dial: Option<SocketAddr>,
        method: reqwest::Method,
    ) -> Result<Plain, String> {
        let name = url.host_str().ok_or("URL has no host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let host = match url.port() {
            Some(p) => format!("{name}:{p}"),
            None => name.to_string(),
        };
        let host = HeaderValue::from_str(&host).map_err(|e| format!("bad host `{host}`: {e}"))?;
        let dial = match dial {
            Some(addr) => Dial::Addr(addr),
            None => match name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
            {
                Ok(ip) => Dial::Addr(SocketAddr::new(ip, port)),
                Err(_) => Dial::Name(name.to_string(), port),
            },
        };
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let target = target
            .parse::<hyper::Uri>()
            .map_err(|e| format!("bad path `{target}`: {e}"))?;
        let request = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\nuser-agent: {USER_AGENT}\r\n\
             connection: close\r\n\r\n",
            host.to_str().map_err(|e| format!("bad host: {e}"))?
        );
        Ok(Plain {
            dial,
            method,
            target,
            host,
            request: request.into_bytes().into_boxed_slice(),
        })
    }

    /// A fresh TCP connection (a name is resolved now, its addresses tried in turn).
    async fn connect(&self) -> std::io::Result<tokio::net::TcpStream> {
        match &self.dial {
            Dial::Addr(a) => tokio::net::TcpStream::connect(a).await,
            Dial::Name(name, port) => tokio::net::TcpStream::connect((name.as_str(), *port)).await,
        }
    }
}

/// A client builder with the settings every reqwest check uses: no proxy (checks go straight
/// to the endpoint), no idle connections kept (each probe opens its own), TLS verification
/// unless `insecure`, redirects only when asked.
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
        .user_agent(USER_AGENT)
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

/// An error with its causes, in a few words.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// A reqwest error in a few words, with its cause.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let head = if e.is_connect() {
        "connect failed"
    } else if e.is_timeout() {
        "timed out"
    } else {
        return describe(e);
    };
    match std::error::Error::source(e) {
        Some(inner) => format!("{head}: {}", describe(inner)),
        None => head.to_string(),
    }
}
