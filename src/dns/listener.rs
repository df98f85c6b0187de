//! Sockets and worker threads.
//!
//! Each worker has its own SO_REUSEPORT UDP socket and TCP listener for every address; the
//! kernel spreads packets and connections over them. A worker is two threads: one runs the
//! UDP loop of [`super::udp`] (batched system calls, no async runtime), the other a
//! current-thread tokio runtime for TCP. All sockets are bound before any worker starts, so a
//! port in use is an error at start-up, not a silent half-served address.

use super::handler::DnsHandler;
use super::rrl::Rrl;
use super::tcp::{self, TcpLimits};
use super::udp::{self, UdpAnswerer};
use crate::config::Config;
use socket2::{Domain, Protocol as SockProto, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
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

/// Start the workers (two threads each, see the module doc). Each serves until `shutdown`,
/// then drains: UDP stops, TCP connections finish the answer in flight. `config` gives the
/// TCP limits, DNS cookies and `[rrl]`.
pub fn spawn_workers(
    sockets: Vec<WorkerSockets>,
    handler: DnsHandler,
    config: &Config,
    shutdown: CancellationToken,
) -> io::Result<Vec<JoinHandle<()>>> {
    let handler = handler.with_cookies(config.server.cookies);
    let limits = TcpLimits::new(&config.server);
    let rrl = Rrl::new(&config.rrl).map(Arc::new);
    let answerer = UdpAnswerer::new(handler.clone(), rrl);
    let cpus = match config.server.cpu_affinity {
        true => affinity_plan(sockets.len()),
        false => Vec::new(),
    };
    let mut threads = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (udp_sockets, tcp_listeners) = (ws.udp, ws.tcp);
        let answerer = answerer.clone();
        let stop = shutdown.clone();
        let pin = cpus.get(i).copied();
        threads.push(
            std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || {
                    if let Some(cpu) = pin {
                        pin_to(cpu, &udp_sockets);
                    }
                    udp::serve(udp_sockets, answerer, stop)
                })?,
        );
        let handler = handler.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        let t = std::thread::Builder::new()
            .name(format!("dns-tcp-{i}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(tcp_worker(tcp_listeners, handler, limits, shutdown));
            })?;
        threads.push(t);
    }
    Ok(threads)
}

async fn tcp_worker(
    listeners: Vec<std::net::TcpListener>,
    handler: DnsHandler,
    limits: TcpLimits,
    shutdown: CancellationToken,
) {
    let mut tcp_tasks = tokio::task::JoinSet::new();
    for t in listeners {
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
    while tcp_tasks.join_next().await.is_some() {}
}

/// The cores the process may run on, one per worker, when there are enough of them (else
/// none, with a warning).
fn affinity_plan(workers: usize) -> Vec<usize> {
    // SAFETY: sched_getaffinity fills the zeroed set it is given.
    let allowed: Vec<usize> = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            Vec::new()
        } else {
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    };
    if allowed.len() < workers {
        tracing::warn!(
            workers,
            cores = allowed.len(),
            "server.cpu_affinity: more DNS workers than usable cores; workers are not pinned"
        );
        return Vec::new();
    }
    allowed.into_iter().take(workers).collect()
}

/// Pin the calling thread to `cpu` and ask for the datagrams processed there on `sockets`
/// (`SO_INCOMING_CPU`). A failure is logged and costs only the optimisation.
fn pin_to(cpu: usize, sockets: &[std::net::UdpSocket]) {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed cpu_set_t with one bit set, and setsockopt on our own sockets with a
    // c_int value.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(cpu, error = %e, "server.cpu_affinity: cannot pin a DNS worker");
            return;
        }
        let v = cpu as libc::c_int;
        for s in sockets {
            let r = libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_INCOMING_CPU,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            if r != 0 {
                let e = std::io::Error::last_os_error();
                tracing::warn!(cpu, error = %e, "server.cpu_affinity: SO_INCOMING_CPU refused");
            }
        }
    }
}
