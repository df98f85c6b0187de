//! The admin API's listener: accepts connections under caps, speaks HTTP/1.1 (optionally over
//! TLS) with timeouts, and hands requests to the router.
//!
//! An admin port is reachable by agents on other machines, so it must survive being abused:
//! - at most [`MAX_CONNECTIONS`] connections, and [`MAX_PER_SOURCE`] from one address (a
//!   slowloris from one host cannot take every slot; other clients still connect);
//! - request headers must arrive within `[admin] header_timeout` (also between keep-alive
//!   requests), a TLS handshake within [`HANDSHAKE_TIMEOUT`], a body within
//!   [`BODY_TIMEOUT`], and a whole request is answered within [`REQUEST_TIMEOUT`];
//! - accept errors (such as running out of file descriptors) back off instead of spinning.

use super::AdminState;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Connections open at once, in all.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections open at once from one address.
pub const MAX_PER_SOURCE: usize = 32;
/// Time allowed for a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Open connections per source address.
#[derive(Default)]
struct Slots {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// A held connection slot, given back when dropped.
struct Slot {
    slots: Arc<Mutex<Slots>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        s.total -= 1;
        if let Some(n) = s.per_source.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.per_source.remove(&self.ip);
            }
        }
    }
}

fn take_slot(slots: &Arc<Mutex<Slots>>, ip: IpAddr) -> Option<Slot> {
    let mut s = slots.lock().unwrap_or_else(|e| e.into_inner());
    let mine = s.per_source.get(&ip).copied().unwrap_or(0);
    if s.total >= MAX_CONNECTIONS || mine >= MAX_PER_SOURCE {
        return None;
    }
    s.total += 1;
    *s.per_source.entry(ip).or_default() += 1;
    Some(Slot {
        slots: slots.clone(),
        ip,
    })
}

/// A TLS acceptor from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| anyhow::anyhow!("{}: cannot read certificates: {e}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the private key: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serve `state`'s router on `listener` (over TLS with `tls`) until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let prune = state.limiter.clone();
    let app: Router = super::router(state);
    serve_app(listener, app, prune, tls, header_timeout, shutdown).await
}

/// Serve `app` on `listener` as [`serve`] does (connection caps per source, header timeout,
/// accept backoff, TLS when given); `prune` is the rate limiter to forget quiet clients of.
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    prune: Arc<governor::DefaultKeyedRateLimiter<std::net::IpAddr>>,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let header_timeout = header_timeout.max(Duration::from_millis(100));
    let slots: Arc<Mutex<Slots>> = Arc::default();
    let mut backoff = Duration::from_millis(5);
    let mut pruning = tokio::time::interval(Duration::from_secs(60));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff = Duration::from_millis(5);
                    x
                }
                Err(e) => {
                    tracing::warn!(error = %e, "admin API: accept failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            _ = pruning.tick() => {
                // Forget the rate-limit state of clients that went quiet.
                prune.retain_recent();
                prune.shrink_to_fit();
                continue;
            }
            _ = shutdown.cancelled() => return,
        };
        let Some(slot) = take_slot(&slots, peer.ip()) else {
            drop(stream); // at a cap: refuse at once rather than queue
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 * 1024);
            match tls {
                None => {
                    let conn = http.serve_connection(TokioIo::new(stream), svc);
                    drive(conn, &shutdown).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn = http.serve_connection(TokioIo::new(stream), svc);
                    drive(conn, &shutdown).await;
                }
            }
        });
    }
}

/// Run a connection to its end, or end it gracefully at shutdown.
async fn drive<I, S>(
    conn: hyper::server::conn::http1::Connection<I, S>,
    shutdown: &CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_each_source_and_come_back() {
        let slots: Arc<Mutex<Slots>> = Arc::default();
        let a: IpAddr = "127.0.0.5".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<Slot> = (0..MAX_PER_SOURCE)
            .map(|_| take_slot(&slots, a).unwrap())
            .collect();
        assert!(take_slot(&slots, a).is_none(), "one source is capped");
        assert!(take_slot(&slots, b).is_some(), "another still gets in");
        drop(held);
        assert!(take_slot(&slots, a).is_some(), "slots come back");
        assert_eq!(
            slots.lock().unwrap().per_source.len(),
            0,
            "no entry left behind"
        );
    }
}
