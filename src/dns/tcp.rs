//! DNS over TCP (RFC 7766): our own accept loop around the shared handler, with the limits an
//! internet-facing server needs.
//!
//! - at most `tcp_max_connections` connections at once across all workers; at the cap the
//!   idle connection (waiting for a new query, nothing of it received) whose last answer is
//!   oldest is closed to admit the new one, and when none is idle the new one is closed at
//!   once (nothing waits). A connection in the middle of a query is bounded by the I/O
//!   timeout instead;
//! - at most `tcp_max_per_client` connections from one client address; more are closed at once;
//! - `tcp_idle_timeout`: no query started within it closes the connection;
//! - `tcp_io_timeout`: a started query must arrive whole, and each answer must be written
//!   (the client must read), within it — a slow or never-reading client loses the connection
//!   rather than holding a slot;
//! - `tcp_max_lifetime` and `tcp_max_queries` (0: no limit, the default): the connection
//!   closes after the answer in flight when it is older, or has answered that many; it sends
//!   FIN and discards further input for up to a second, so answers already sent arrive;
//! - accept errors (out of descriptors, memory) back off, from 10 ms doubling to 1 s, instead
//!   of spinning; they are counted and logged at most once a second;
//! - queries may be pipelined: they are read and answered in order on the connection;
//! - on shutdown a connection finishes the answer it is writing, then closes.
//!
//! Messages are framed by a two-byte length. A message that does not parse gets FORMERR (when
//! at least its header can be read); a response sent to us (QR=1) is ignored. TCP answers are
//! not rate limited (the client has proven its address).

use super::counters::{self, TcpClosed, TcpRefused};
use super::handler::DnsHandler;
use crate::config::ServerConfig;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Limits for the TCP listeners, shared by every listener of the process.
#[derive(Clone, Debug)]
pub struct TcpLimits {
    /// Cap on connections.
    pub max: usize,
    /// Cap on connections per client address.
    pub per_client: usize,
    /// Idle timeout between queries.
    pub idle: Duration,
    /// Timeout to finish a started read or a write.
    pub io: Duration,
    /// Maximum connection age.
    pub lifetime: Duration,
    /// Queries answered per connection.
    pub max_queries: u32,
    table: Arc<Mutex<Table>>,
}

impl TcpLimits {
    /// The limits of `[server]`.
    pub fn new(c: &ServerConfig) -> Self {
        Self {
            max: c.tcp_max_connections,
            per_client: c.tcp_max_per_client,
            idle: c.tcp_idle_timeout,
            io: c.tcp_io_timeout,
            lifetime: c.tcp_max_lifetime,
            max_queries: c.tcp_max_queries,
            table: Arc::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admit a connection from `ip`, closing the longest-idle one at the global cap. None when
    /// it must be closed at once.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let mut t = self.table();
        if t.per_ip.get(&ip).copied().unwrap_or(0) >= self.per_client {
            counters::tcp_refused(TcpRefused::PerClient);
            return None;
        }
        if t.conns.len() >= self.max {
            let oldest = t
                .conns
                .iter()
                .filter(|(_, c)| c.waiting.load(Ordering::Relaxed))
                .map(|(id, c)| (c.last_active.load(Ordering::Relaxed), *id))
                .min();
            let Some((_, id)) = oldest else {
                counters::tcp_refused(TcpRefused::Global);
                return None;
            };
            if let Some(victim) = t.remove(id) {
                counters::tcp_closed(TcpClosed::Evicted);
                victim.close.cancel();
            }
        }
        t.next += 1;
        let id = t.next;
        let conn = Arc::new(Conn {
            ip,
            last_active: AtomicU64::new(now_ns()),
            waiting: AtomicBool::new(false),
            close: CancellationToken::new(),
        });
        t.conns.insert(id, conn.clone());
        *t.per_ip.entry(ip).or_default() += 1;
        Some(Slot {
            id,
            conn,
            limits: self.clone(),
        })
    }
}

/// One open connection, as the table sees it.
#[derive(Debug)]
struct Conn {
    ip: IpAddr,
    /// When it was admitted or last finished an answer (nanoseconds on a process clock).
    last_active: AtomicU64,
    /// Waiting for the first octet of a new query.
    waiting: AtomicBool,
    /// Cancelled to close it (eviction).
    close: CancellationToken,
}

#[derive(Debug, Default)]
struct Table {
    conns: HashMap<u64, Arc<Conn>>,
    per_ip: HashMap<IpAddr, usize>,
    next: u64,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Arc<Conn>> {
        let c = self.conns.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&c.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&c.ip);
            }
        }
        Some(c)
    }
}

/// A connection's place in the table; leaving it frees the place.
struct Slot {
    id: u64,
    conn: Arc<Conn>,
    limits: TcpLimits,
}

impl Slot {
    fn waiting(&self, on: bool) {
        self.conn.waiting.store(on, Ordering::Relaxed);
    }
    fn answered(&self) {
        self.conn.last_active.store(now_ns(), Ordering::Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.table().remove(self.id);
    }
}

fn now_ns() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let e = *EPOCH.get_or_init(Instant::now);
    u64::try_from(e.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Accept and serve connections on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    handler: DnsHandler,
    limits: TcpLimits,
    shutdown: CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut backoff = Duration::ZERO;
    let mut last_log: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff = Duration::ZERO;
                    x
                }
                Err(e) => {
                    counters::tcp_accept_error();
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(error = %e, backoff = ?backoff, "TCP accept failed; backing off");
                        last_log = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        while tasks.try_join_next().is_some() {}
        let Some(slot) = limits.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(connection(stream, peer, handler, slot, shutdown));
    }
    // Let open connections finish what they are answering.
    while tasks.join_next().await.is_some() {}
}

/// Why a connection loop ended.
enum End {
    Closed,
    Limit(TcpClosed),
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: DnsHandler,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let close = slot.conn.close.clone();
    let limits = slot.limits.clone();
    // Buffered both ways: pipelined queries are read in bulk, and their answers go out
    // together, flushed when no further query is already waiting.
    let (r, w) = stream.split();
    let mut reader = BufReader::with_capacity(4096, r);
    let mut writer = BufWriter::with_capacity(16 * 1024, w);
    let end = tokio::select! {
        e = queries(&mut reader, &mut writer, peer, &handler, &slot, &limits, &shutdown) => e,
        _ = close.cancelled() => End::Closed, // evicted (counted where decided)
    };
    if let End::Limit(why) = end {
        counters::tcp_closed(why);
        if matches!(why, TcpClosed::MaxQueries | TcpClosed::Lifetime) {
            // A polite close: FIN after the last answer, then discard what the client still
            // sends for a moment, so that closing with unread queries (a reset) cannot destroy
            // answers already sent.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = writer.shutdown().await;
                let mut sink = [0u8; 1024];
                while let Ok(n) = reader.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }
    drop(slot);
}

#[allow(clippy::too_many_arguments)]
async fn queries<R, W>(
    stream: &mut BufReader<R>,
    writer: &mut BufWriter<W>,
    peer: SocketAddr,
    handler: &DnsHandler,
    slot: &Slot,
    limits: &TcpLimits,
    shutdown: &CancellationToken,
) -> End
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let born = Instant::now();
    let mut answered = 0u32;
    let mut buf = Vec::new();
    loop {
        let left = limits.lifetime.saturating_sub(born.elapsed());
        let spent = limits.max_queries > 0 && answered >= limits.max_queries;
        let last = spent || left.is_zero();
        // Answers go out when no further query is already here (or before closing).
        if last || stream.buffer().is_empty() {
            match tokio::time::timeout(limits.io, writer.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return End::Closed,
                Err(_) => return End::Limit(TcpClosed::IoTimeout),
            }
        }
        if spent {
            return End::Limit(TcpClosed::MaxQueries);
        }
        if left.is_zero() {
            return End::Limit(TcpClosed::Lifetime);
        }
        slot.waiting(true);
        // Wait for the first octet of the next length (idle), then the rest (I/O timeout).
        let (wait, why) = if left < limits.idle {
            (left, TcpClosed::Lifetime)
        } else {
            (limits.idle, TcpClosed::Idle)
        };
        let first = tokio::select! {
            r = tokio::time::timeout(wait, stream.read_u8()) => match r {
                Ok(Ok(b)) => b,
                Ok(Err(_)) => return End::Closed,
                Err(_) => return End::Limit(why),
            },
            _ = shutdown.cancelled() => return End::Closed,
        };
        slot.waiting(false);
        let second = match tokio::time::timeout(limits.io, stream.read_u8()).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return End::Closed,
            Err(_) => return End::Limit(TcpClosed::IoTimeout),
        };
        let len = u16::from_be_bytes([first, second]) as usize;
        buf.clear();
        buf.resize(len, 0);
        match tokio::time::timeout(limits.io, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return End::Closed,
            Err(_) => return End::Limit(TcpClosed::IoTimeout),
        }
        let out = Responder::default();
        let parsed = match super::udp::question_has_pointer(&buf) {
            true => None,
            false => Request::from_bytes(buf.clone(), peer, Protocol::Tcp).ok(),
        };
        match parsed {
            Some(request) => {
                if request.metadata.message_type == hickory_proto::op::MessageType::Response {
                    continue;
                }
                handler
                    .handle_request::<_, TokioTime>(&request, out.clone())
                    .await;
            }
            None => match formerr(&buf) {
                Some(msg) => out.push(msg),
                None => continue,
            },
        }
        answered += 1;
        let messages = std::mem::take(&mut *out.0.lock().unwrap_or_else(|e| e.into_inner()));
        for m in messages {
            let Ok(len) = u16::try_from(m.len()) else {
                return End::Closed;
            };
            let mut framed = Vec::with_capacity(m.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&m);
            match tokio::time::timeout(limits.io, writer.write_all(&framed)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return End::Closed,
                Err(_) => return End::Limit(TcpClosed::IoTimeout),
            }
        }
        slot.answered();
    }
}

/// A FORMERR for a message whose header is readable but whose body is not; None when even
/// the header is missing or the message is itself a response.
pub fn formerr(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    let opcode_rd = msg[2] & 0x79; // keep opcode and RD
    Some(vec![
        msg[0],
        msg[1],
        0x80 | opcode_rd,
        0x01,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ])
}

/// Collects the encoded responses of one query (several for AXFR).
#[derive(Clone, Default)]
struct Responder(Arc<Mutex<Vec<Vec<u8>>>>);

impl Responder {
    fn push(&self, msg: Vec<u8>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Responder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut buf = Vec::with_capacity(512);
        let mut enc = BinEncoder::new(&mut buf);
        let info = response
            .destructive_emit(&mut enc)
            .map_err(|e| NetError::from(e.to_string()))?;
        self.push(buf);
        Ok(info)
    }
}
