//! DNS over TCP (RFC 7766): our own accept loop around the shared handler.
//!
//! hickory-server's TCP listener has no cap on concurrent connections, so TCP is served here:
//! - at most `tcp_max_connections` connections are served at once, across all worker threads;
//!   while at the cap, a newly accepted connection waits unread until a slot frees, and the
//!   listener that took it accepts nothing more meanwhile (the rest wait in the backlog);
//! - each connection is closed after `tcp_idle_timeout` without a complete query;
//! - queries may be pipelined: they are read and answered in order on the connection;
//! - on shutdown a connection finishes the answer it is writing, then closes.
//!
//! Messages are framed by a two-byte length. A message that does not parse gets FORMERR (when
//! at least its header can be read); a response sent to us (QR=1) is ignored.

use super::handler::DnsHandler;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Limits for the TCP listeners.
#[derive(Clone, Debug)]
pub struct TcpLimits {
    /// Free connection slots, shared by every listener of the process.
    pub slots: Arc<Semaphore>,
    /// Idle timeout per connection.
    pub idle: Duration,
}

/// Accept and serve connections on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    handler: DnsHandler,
    limits: TcpLimits,
    shutdown: CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "TCP accept failed");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // At the cap, the accepted connection waits (unread) for a free slot, and this
        // listener accepts nothing more meanwhile.
        let permit = tokio::select! {
            p = limits.slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.cancelled() => break,
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        let idle = limits.idle;
        tasks.spawn(async move {
            connection(stream, peer, handler, idle, shutdown).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    // Let open connections finish what they are answering.
    while tasks.join_next().await.is_some() {}
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: DnsHandler,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    loop {
        let len = tokio::select! {
            r = tokio::time::timeout(idle, stream.read_u16()) => match r {
                Ok(Ok(len)) => len as usize,
                _ => return, // idle timeout, EOF or error
            },
            _ = shutdown.cancelled() => return,
        };
        let mut buf = vec![0u8; len];
        match tokio::time::timeout(idle, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let out = Responder::default();
        match Request::from_bytes(buf.clone(), peer, Protocol::Tcp) {
            Ok(request) => {
                if request.metadata.message_type == hickory_proto::op::MessageType::Response {
                    continue;
                }
                handler
                    .handle_request::<_, TokioTime>(&request, out.clone())
                    .await;
            }
            Err(_) => match formerr(&buf) {
                Some(msg) => out.push(msg),
                None => continue,
            },
        }
        let messages = std::mem::take(&mut *out.0.lock().expect("responder lock"));
        for m in messages {
            let Ok(len) = u16::try_from(m.len()) else {
                return;
            };
            let mut framed = Vec::with_capacity(m.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&m);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
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
        self.0.lock().expect("responder lock").push(msg);
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
