//! The project's `RequestHandler`: the TCP loop ([`super::tcp`]) calls it for every parsed
//! query (and hickory's generic `Server` would, for UDP: `tests/udp_paths.rs` runs it that way
//! as the reference the UDP loop is checked against). It also owns DNS cookies
//! ([`DnsHandler::apply_cookies`]), which the UDP loop applies the same way.
//!
//! It loads the current snapshot once, asks [`super::respond`] what to answer, and encodes
//! the reply, fitting it into the client's UDP buffer. We use our own handler rather than
//! hickory's `Catalog` because only a handler sees the client (source and ECS) *and* can set
//! the ECS scope of the response, and because the Catalog's in-memory zones scan the whole
//! zone on every NXDOMAIN.

use super::cookies::{self, COOKIE, Check, Cookies};
use super::respond::{Action, Reply, respond, transfer_chunks};
use crate::counters::Metrics;
use crate::snapshot::SharedSnapshot;
use hickory_proto::op::{Header, HeaderCounts, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::iter;
use std::sync::Arc;
use std::time::Instant;

/// Answers queries from the current snapshot.
#[derive(Clone, Debug)]
pub struct DnsHandler {
    snapshot: SharedSnapshot,
    /// The process-wide metrics (the latency histogram is recorded after the send).
    metrics: Arc<Metrics>,
    /// DNS cookies, when on.
    cookies: Option<Arc<Cookies>>,
}

impl DnsHandler {
    /// A handler reading `snapshot` (DNS cookies on, with a fresh random key).
    pub fn new(snapshot: SharedSnapshot) -> Self {
        let metrics = snapshot.load().metrics.process().clone();
        Self {
            snapshot,
            metrics,
            cookies: Some(Arc::new(Cookies::new())),
        }
    }

    /// The same handler with DNS cookies on or off.
    pub fn with_cookies(mut self, on: bool) -> Self {
        self.cookies = on.then(|| Arc::new(Cookies::new()));
        self
    }

    /// The snapshot this handler answers from.
    pub fn snapshot(&self) -> &SharedSnapshot {
        &self.snapshot
    }

    /// The process-wide metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Apply DNS cookies to `reply`: echo the client cookie with a fresh server cookie, or
    /// turn the reply into FORMERR for a malformed option. True when the query carried a
    /// valid server cookie of ours (the client is then exempt from rate limiting).
    pub fn apply_cookies(&self, request: &Request, reply: &mut Reply) -> bool {
        let (Some(c), Some(edns)) = (&self.cookies, reply.edns.as_mut()) else {
            return false;
        };
        let ip = request.src().ip();
        let now = cookies::now_secs();
        match c.check(request.as_slice(), ip, now) {
            Check::Absent => false,
            Check::Malformed => {
                reply.answers.clear();
                reply.authority.clear();
                reply.additional.clear();
                reply.meta.authoritative = false;
                reply.meta.response_code = ResponseCode::FormErr;
                false
            }
            Check::Present { client, valid } => {
                let data = c.response_option(&client, ip, now).to_vec();
                edns.options_mut().remove(EdnsCode::Cookie);
                edns.options_mut().insert(EdnsOption::Unknown(COOKIE, data));
                valid
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let started = Instant::now();
        // The guard is dropped before any await: the query path holds nothing across I/O.
        let action = {
            let snap = self.snapshot.load();
            let mut action = respond(&snap, request);
            let (Action::Reply(reply) | Action::Transfer(reply, _)) = &mut action;
            self.apply_cookies(request, reply);
            // Metrics: count into the tables of the model that answered (atomic adds only).
            let (Action::Reply(reply) | Action::Transfer(reply, _)) = &action;
            let qtype = match request.queries.queries() {
                [q] => q.query_type(),
                _ => hickory_proto::rr::RecordType::Unknown(0),
            };
            let tcp = request.protocol() != Protocol::Udp;
            snap.metrics
                .record(&reply.tally, qtype, reply.meta.response_code, tcp);
            action
        };
        let info = match action {
            Action::Reply(reply) => send(&mut response_handle, request, reply).await,
            Action::Transfer(reply, zone) => {
                let mut info = None;
                for chunk in transfer_chunks(&zone) {
                    let mut r = reply.clone();
                    r.answers = chunk;
                    info = Some(send(&mut response_handle, request, r).await);
                }
                info.unwrap_or_else(|| servfail(&reply))
            }
        };
        self.metrics.observe(started.elapsed());
        info
    }
}

/// The exact encoded length of `reply` (with or without its additional section).
fn encoded_len(request: &Request, reply: &Reply, with_additional: bool) -> usize {
    let builder = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref());
    let additional: &[_] = if with_additional {
        &reply.additional
    } else {
        &[]
    };
    let msg = builder.build(
        reply.meta,
        reply.answers.iter(),
        reply.authority.iter(),
        iter::empty(),
        additional.iter(),
    );
    let mut buf = Vec::with_capacity(1024);
    let mut enc = BinEncoder::new(&mut buf);
    match msg.destructive_emit(&mut enc) {
        Ok(_) => buf.len(),
        Err(_) => usize::MAX,
    }
}

/// Fit `reply` to the transport and send it.
async fn send<R: ResponseHandler>(rh: &mut R, request: &Request, mut reply: Reply) -> ResponseInfo {
    if request.protocol() == Protocol::Udp {
        let limit = reply.udp_limit;
        // Most answers are far below the limit; only near it do we encode to measure.
        if reply.size_bound(request.queries.as_bytes().len()) > limit
            && encoded_len(request, &reply, true) > limit
        {
            let fits = encoded_len(request, &reply, false) <= limit;
            reply.shrink(fits);
        }
    }
    let builder = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref());
    let msg = builder.build(
        reply.meta,
        reply.answers.iter(),
        reply.authority.iter(),
        iter::empty(),
        reply.additional.iter(),
    );
    match rh.send_response(msg).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "sending a response failed");
            servfail(&reply)
        }
    }
}

/// The ResponseInfo for a response that could not be sent.
fn servfail(reply: &Reply) -> ResponseInfo {
    let mut metadata = reply.meta;
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}
