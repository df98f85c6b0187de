//! DNS over UDP: our own receive/answer/send loop.
//!
//! Each worker has one thread that owns its SO_REUSEPORT sockets (one per listen address) and
//! runs, with no async runtime:
//! 1. with several sockets, `poll` on them (with a short timeout, to notice shutdown); with
//!    one, nothing: the receive itself waits (with a receive timeout);
//! 2. `recvmmsg` of up to [`BATCH`] datagrams into buffers allocated once;
//! 3. for each datagram [`UdpAnswerer::answer`]: the synchronous, pure [`respond`], DNS cookies,
//!    response rate limiting, fitting to the client's buffer, encoding into a reused buffer;
//! 4. one `sendmmsg` for the batch's answers.
//!
//! What gets no answer at all: datagrams from source port 0 (spoofed: nobody can receive
//! there), shorter than a header, responses (QR=1), larger than the receive buffer, and what
//! rate limiting withholds. These are counted ([`super::counters`]), never logged one by one.
//! A datagram whose header is readable but whose body is not gets FORMERR with an empty
//! question, as hickory's own server sends.

use super::cache::{self, AnswerCache, GslbEntry, Slot};
use super::counters::{self, Kind, UdpDrop};
use super::handler::DnsHandler;
use super::negative::{self, Template};
use super::respond::{Action, Reply, query_seed, respond};
use super::rrl::{Rrl, Verdict};
use super::tcp::formerr;
use crate::counters::Tally;
use crate::gslb::decide::{AnswerKind, Asker};
use crate::snapshot::Snapshot;
use crate::zone::wire::NAME_MAX;
use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;
use std::io;
use std::iter;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Datagrams received (and answered) per system call, at most.
pub const BATCH: usize = 32;
/// The receive buffer per datagram: larger queries are dropped (no real query comes close).
pub const RECV_BUF: usize = 4096;

/// Answers UDP queries: the protocol (through [`respond`]) plus cookies and rate limiting.
#[derive(Clone, Debug)]
pub struct UdpAnswerer {
    handler: DnsHandler,
    rrl: Option<Arc<Rrl>>,
}

/// The kind of a response, as rate limiting counts it.
fn kind(reply: &Reply) -> Kind {
    match reply.meta.response_code {
        ResponseCode::NoError if !reply.answers.is_empty() => Kind::Answer,
        ResponseCode::NoError if !reply.meta.authoritative && !reply.authority.is_empty() => {
            Kind::Referral
        }
        ResponseCode::NoError => Kind::NoData,
        ResponseCode::NXDomain => Kind::NxDomain,
        _ => Kind::Error,
    }
}

impl UdpAnswerer {
    /// An answerer over `handler`'s snapshot and cookies, limited by `rrl` when given.
    pub fn new(handler: DnsHandler, rrl: Option<Arc<Rrl>>) -> Self {
        Self { handler, rrl }
    }

    /// Answer one datagram `query` from `src`. Returns true when `out` holds the response to
    /// send; false for silence.
    pub fn answer(&self, query: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        self.answer_with(None, query, src, out)
    }

    /// [`UdpAnswerer::answer`] through a worker's cache of static answers
    /// ([`super::cache`]): a repeated static question is answered without allocating.
    pub fn answer_cached(
        &self,
        cache: &mut AnswerCache,
        query: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> bool {
        self.answer_with(Some(cache), query, src, out)
    }

    fn answer_with(
        &self,
        mut cache: Option<&mut AnswerCache>,
        query: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        if src.port() == 0 {
            counters::udp_dropped(UdpDrop::SourcePort0);
            return false;
        }
        if query.len() < 12 {
            counters::udp_dropped(UdpDrop::Short);
            return false;
        }
        if query[2] & 0x80 != 0 {
            counters::udp_dropped(UdpDrop::Response);
            return false;
        }
        let started = Instant::now();
        let snap = self.handler.snapshot().load();
        let model = &snap.model;
        let key = match cache {
            Some(_) => cache::key(query),
            None => None,
        };
        let mut forced = None;
        let mut cached = false;
        // The fast paths: a cached answer or GSLB question, else an NXDOMAIN template.
        let mut fast = None;
        if let (Some(c), Some(k)) = (cache.as_deref_mut(), &key) {
            fast = match c.get(&snap, k) {
                Some((Slot::Static(e), _)) => {
                    cached = true;
                    snap.metrics.record(&e.tally, e.qtype, e.rcode, false);
                    let v = self.limit(src.ip(), e.kind, false);
                    if v == Verdict::Send {
                        out.extend_from_slice(&e.bytes);
                        out[..2].copy_from_slice(&query[..2]);
                        if let (Some(at), Some((_, r))) = (e.ecs_at, &k.ecs) {
                            out[at..].copy_from_slice(&query[r.start + 4..r.end]);
                        }
                    }
                    Some(v)
                }
                Some((Slot::Gslb(g), generation)) => {
                    cached = true;
                    self.answer_gslb(&snap, generation, g, k, query, src, out)
                }
                None => self.answer_missing(&snap, c, k, query, src, out),
            };
        }
        match fast {
            Some(Verdict::Send) => {
                self.handler.metrics().observe(started.elapsed());
                return true;
            }
            Some(Verdict::Drop) => {
                self.handler.metrics().observe(started.elapsed());
                return false;
            }
            // The truncated answer is built below (rare: over the limit only).
            Some(Verdict::Slip) => forced = Some(Verdict::Slip),
            // Not an answer a fast path writes: the general path answers.
            None => {}
        }
        let parsed = match question_has_pointer(query) {
            true => None,
            false => Request::from_bytes(query.to_vec(), src, Protocol::Udp).ok(),
        };
        let request = match parsed {
            Some(r) => r,
            None => {
                let verdict = self.limit(src.ip(), Kind::Error, false);
                if verdict == Verdict::Drop {
                    return false;
                }
                let Some(msg) = formerr(query) else {
                    return false;
                };
                out.extend_from_slice(&msg);
                if verdict == Verdict::Slip {
                    out[2] |= 0x02; // TC
                }
                return true;
            }
        };
        let mut reply = match respond(&snap, &request) {
            Action::Reply(r) => r,
            // `respond` refuses transfers over UDP; should one come back, refuse it here.
            Action::Transfer(mut r, _) => {
                r.meta.response_code = ResponseCode::Refused;
                r.meta.authoritative = false;
                r
            }
        };
        let cookie = self.handler.apply_cookies(&request, &mut reply);
        let kind = kind(&reply);
        let verdict = match forced {
            Some(v) => v,
            None => {
                let qtype = match request.queries.queries() {
                    [q] => q.query_type(),
                    _ => RecordType::Unknown(0),
                };
                snap.metrics
                    .record(&reply.tally, qtype, reply.meta.response_code, false);
                self.limit(src.ip(), kind, cookie)
            }
        };
        match verdict {
            Verdict::Send => {}
            Verdict::Slip => {
                reply.answers.clear();
                reply.authority.clear();
                reply.additional.clear();
                reply.meta.truncation = true;
            }
            Verdict::Drop => {
                self.handler.metrics().observe(started.elapsed());
                return false;
            }
        }
        let (tally, rcode) = (reply.tally, reply.meta.response_code);
        let sent = encode_fitted(&request, &mut reply, out);
        if sent
            && verdict == Verdict::Send
            && !cached
            && let (Some(c), Some(k)) = (cache, &key)
        {
            let slot = match tally.gslb {
                None => cache::Entry::ecs_at(k, query, out).map(|ecs_at| {
                    Slot::Static(cache::Entry {
                        bytes: out.as_slice().into(),
                        tally,
                        qtype: RecordType::from(k.qtype),
                        rcode,
                        kind,
                        ecs_at,
                    })
                }),
                Some(_) => GslbEntry::from_answer(model, k, query, out, tally)
                    .map(|g| Slot::Gslb(Box::new(g))),
            };
            if let Some(slot) = slot {
                c.insert(model, k, slot);
            }
            if rcode == ResponseCode::NXDomain
                && tally.gslb.is_none()
                && let Some(zone) = tally.zone
            {
                let mut buf = [0u8; NAME_MAX];
                if let Some((_, missing)) = negative::place(model, k, query, &mut buf)
                    && missing.zone == zone
                    && c.negative(zone, k).is_none()
                    && let Some(t) = Template::from_answer(model, k, query, out, missing)
                {
                    c.insert_negative(model, zone, k, t);
                }
            }
        }
        self.handler.metrics().observe(started.elapsed());
        sent
    }

    /// NXDOMAIN for a name no query asked before, from the worker's template for its zone
    /// ([`super::negative`]): the verdict, with the answer in `out` when it is
    /// [`Verdict::Send`]; `None` when the general path must answer.
    fn answer_missing(
        &self,
        snap: &Snapshot,
        cache: &AnswerCache,
        k: &cache::Key,
        query: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Verdict> {
        let mut buf = [0u8; NAME_MAX];
        let (lowered, missing) = negative::place(&snap.model, k, query, &mut buf)?;
        let template = cache.negative(missing.zone, k)?;
        if !template.write(k, query, lowered, missing, out) {
            return None;
        }
        let tally = Tally {
            zone: Some(missing.zone),
            ecs: k.ecs.is_some(),
            gslb: None,
        };
        let qtype = RecordType::from(k.qtype);
        snap.metrics
            .record(&tally, qtype, ResponseCode::NXDomain, false);
        let verdict = self.limit(src.ip(), Kind::NxDomain, false);
        if verdict != Verdict::Send {
            out.clear();
        }
        Some(verdict)
    }

    /// A GSLB answer through the worker's plans ([`super::cache`]): the verdict, with the
    /// answer in `out` when it is [`Verdict::Send`]; `None` when the general path must
    /// answer (NODATA, fallback shapes, too large for the client).
    #[allow(clippy::too_many_arguments)]
    fn answer_gslb(
        &self,
        snap: &Snapshot,
        generation: u64,
        g: &mut GslbEntry,
        k: &cache::Key,
        query: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Verdict> {
        let asker = Asker {
            source: src.ip(),
            ecs: k.ecs.as_ref().map(|(cs, _)| (cs.addr, cs.source_prefix)),
            seed: query_seed(u16::from_be_bytes([query[0], query[1]])),
        };
        let tally = g.draw(snap, generation, &asker)?;
        let model = &snap.model.gslb;
        let svc = model.services.get(g.service)?;
        let d = &g.drawn;
        if !matches!(
            d.kind,
            AnswerKind::Chosen | AnswerKind::FailOpen | AnswerKind::Fallback
        ) {
            return None;
        }
        let n = d.addresses(model, svc, g.v6).count();
        let (rtype, rdlen) = if g.v6 { (28u16, 16usize) } else { (1, 4) };
        let ecs = k.ecs.as_ref().map(|(_, r)| r.clone());
        let opt_len = g
            .opt
            .map_or(0, |_| 11 + ecs.as_ref().map_or(0, |r| 4 + r.len()));
        if n == 0 {
            return None;
        }
        let size = k.question_end + g.owner.len() + 10 + rdlen + (n - 1) * (12 + rdlen) + opt_len;
        if size > g.limit {
            return None;
        }
        snap.metrics.record(
            &tally,
            RecordType::from(k.qtype),
            ResponseCode::NoError,
            false,
        );
        let verdict = self.limit(src.ip(), Kind::Answer, false);
        if verdict != Verdict::Send {
            return Some(verdict);
        }
        out.extend_from_slice(&query[..2]);
        out.extend_from_slice(&g.flags);
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, g.opt.is_some() as u8]);
        out.extend_from_slice(&query[12..k.question_end]);
        let ttl = d.ttl.to_be_bytes();
        for (i, a) in d.addresses(model, svc, g.v6).enumerate() {
            out.extend_from_slice(if i == 0 { &g.owner } else { &g.next_owner });
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&[0, 1]);
            out.extend_from_slice(&ttl);
            out.extend_from_slice(&(rdlen as u16).to_be_bytes());
            match a {
                IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
            }
        }
        if let Some(opt) = &g.opt {
            out.extend_from_slice(opt);
            match ecs {
                None => out.extend_from_slice(&[0, 0]),
                Some(r) => {
                    let data = &query[r];
                    out.extend_from_slice(&((4 + data.len()) as u16).to_be_bytes());
                    out.extend_from_slice(&[0, 8]);
                    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
                    out.extend_from_slice(&data[..3]); // family, source prefix
                    out.push(d.scope(Some(data[2])));
                    out.extend_from_slice(&data[4..]);
                }
            }
        }
        Some(Verdict::Send)
    }

    fn limit(&self, ip: IpAddr, kind: Kind, valid_cookie: bool) -> Verdict {
        match &self.rrl {
            None => Verdict::Send,
            Some(_) if valid_cookie => {
                counters::rrl_exempt(true);
                Verdict::Send
            }
            Some(r) => r.check(ip, kind),
        }
    }
}

/// True when the first question's name holds a compression pointer. Nothing precedes that
/// name but the header and its own earlier labels, so any pointer there is malformed (a loop,
/// or a "name" made of header octets). hickory-proto accepts a pointer into the header and
/// then echoes the question's raw octets, where the pointer lands on the *response's*
/// header: an unreadable answer. Such queries get FORMERR instead (found by the fuzzer).
pub fn question_has_pointer(q: &[u8]) -> bool {
    let mut at = 12;
    while let Some(&l) = q.get(at) {
        match l & 0xC0 {
            0xC0 => return true,
            0x00 if l == 0 => return false,
            0x00 => at += 1 + l as usize,
            _ => return false, // reserved label types: the parser refuses them
        }
    }
    false
}

/// Encode `reply` into `out`, with or without its additional section, at most `max` octets
/// (over it, hickory's encoder truncates and sets TC). False when it cannot be encoded.
fn encode(
    request: &Request,
    reply: &Reply,
    with_additional: bool,
    max: u16,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let builder = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref());
    let additional: &[Record] = if with_additional {
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
    let mut enc = BinEncoder::new(out);
    enc.set_max_size(max);
    msg.destructive_emit(&mut enc).is_ok()
}

/// Fit `reply` to the client's UDP buffer (dropping optional additional records, else
/// truncating with TC=1: see [`Reply::shrink`]) and encode it into `out`. False when nothing
/// can be sent.
fn encode_fitted(request: &Request, reply: &mut Reply, out: &mut Vec<u8>) -> bool {
    let limit = reply.udp_limit;
    // The final encoding is limited as hickory's UDP encoder limits it: the response's EDNS
    // payload, 512 without EDNS. Measuring is not.
    let hickory_max = reply.edns.as_ref().map_or(512, |e| e.max_payload());
    let mut ok = encode(request, reply, true, u16::MAX, out);
    if ok && out.len() > limit {
        let fits = encode(request, reply, false, u16::MAX, out) && out.len() <= limit;
        reply.shrink(fits);
        ok = encode(request, reply, true, hickory_max, out);
    } else if ok && out.len() > usize::from(hickory_max) {
        ok = encode(request, reply, true, hickory_max, out);
    }
    if !ok {
        // What hickory's encoder sends when a response cannot be encoded.
        out.clear();
        let mut metadata = Metadata::new(reply.meta.id, MessageType::Response, OpCode::Query);
        metadata.response_code = ResponseCode::ServFail;
        let header = Header {
            metadata,
            counts: HeaderCounts::default(),
        };
        let mut enc = BinEncoder::new(out);
        return header.emit(&mut enc).is_ok();
    }
    true
}

fn to_socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The buffers of one worker's batches, allocated once.
struct Batch {
    bufs: Vec<[u8; RECV_BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    outs: Vec<Vec<u8>>,
    out_iov: Vec<libc::iovec>,
    out_hdrs: Vec<libc::mmsghdr>,
    cache: AnswerCache,
}

impl Batch {
    fn new() -> Box<Self> {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let (addr, iov, hdr) = unsafe {
            (
                zeroed::<libc::sockaddr_storage>(),
                zeroed::<libc::iovec>(),
                zeroed::<libc::mmsghdr>(),
            )
        };
        let mut b = Box::new(Self {
            bufs: vec![[0u8; RECV_BUF]; BATCH],
            addrs: vec![addr; BATCH],
            iov: vec![iov; BATCH],
            hdrs: vec![hdr; BATCH],
            outs: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
            out_iov: vec![iov; BATCH],
            out_hdrs: vec![hdr; BATCH],
            cache: AnswerCache::default(),
        });
        for i in 0..BATCH {
            b.iov[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            b.iov[i].iov_len = RECV_BUF;
        }
        b
    }

    /// Receive up to BATCH datagrams from `fd`: without blocking (`MSG_DONTWAIT`), or
    /// waiting for the first one only (`MSG_WAITFORONE`, on a blocking socket).
    fn recv(&mut self, fd: i32, flags: libc::c_int) -> io::Result<usize> {
        for i in 0..BATCH {
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points at buffers owned by self that outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Answer the `n` datagrams received and send the answers.
    fn serve(&mut self, fd: i32, n: usize, answerer: &UdpAnswerer) {
        let mut count = 0;
        for i in 0..n {
            let len = self.hdrs[i].msg_len as usize;
            if self.hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                counters::udp_dropped(UdpDrop::Oversized);
                continue;
            }
            let Some(src) = to_socket_addr(&self.addrs[i]) else {
                continue;
            };
            let out = &mut self.outs[count];
            let query = &self.bufs[i][..len];
            let cache = &mut self.cache;
            // A bug must cost one answer, not the worker: the panic is contained here (and
            // the cache, which it may have interrupted, emptied).
            let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                answerer.answer_cached(cache, query, src, out)
            }));
            match answered {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => {
                    *cache = AnswerCache::default();
                    out.clear();
                    panic_logged();
                    continue;
                }
            }
            self.out_iov[count].iov_base = out.as_mut_ptr().cast();
            self.out_iov[count].iov_len = out.len();
            let h = &mut self.out_hdrs[count].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.hdrs[i].msg_hdr.msg_namelen;
            h.msg_iov = &mut self.out_iov[count];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            count += 1;
        }
        let mut done = 0;
        let mut retried = false;
        while done < count {
            // SAFETY: headers [done, count) point at buffers owned by self.
            let sent = unsafe {
                libc::sendmmsg(
                    fd,
                    self.out_hdrs[done..].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if sent > 0 {
                done += sent as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock if !retried => {
                    // The send buffer is full: wait for room once, briefly, then give up
                    // on the rest (UDP: the clients retry).
                    retried = true;
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut p, 1, 10) };
                }
                _ => {
                    // One unsendable datagram (e.g. an address the kernel rejects): skip it.
                    done += 1;
                }
            }
        }
    }
}

/// Log a contained panic, at most once a minute per worker (the panic hook has printed it).
fn panic_logged() {
    thread_local! {
        static LAST: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
    }
    LAST.with(|l| {
        if l.get().is_none_or(|t| t.elapsed().as_secs() >= 60) {
            l.set(Some(Instant::now()));
            tracing::error!("a UDP query panicked; the worker goes on (this is a bug)");
        }
    });
}

/// How often a worker waiting for datagrams looks at `shutdown`.
const WAKE_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Serve `sockets` on this thread until `shutdown`.
pub fn serve(sockets: Vec<UdpSocket>, answerer: UdpAnswerer, shutdown: CancellationToken) {
    let mut batch = Batch::new();
    // One socket (one listen address, the usual case): wait in `recvmmsg` itself, two system
    // calls per batch (receive, send) instead of four (poll, receive, send, a receive that
    // finds nothing). The receive timeout wakes the loop to notice shutdown.
    if let [socket] = sockets.as_slice()
        && socket.set_nonblocking(false).is_ok()
        && socket.set_read_timeout(Some(WAKE_EVERY)).is_ok()
    {
        let fd = socket.as_raw_fd();
        while !shutdown.is_cancelled() {
            match batch.recv(fd, libc::MSG_WAITFORONE) {
                Ok(0) => {}
                Ok(n) => batch.serve(fd, n, &answerer),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive failed");
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        drop(sockets);
        return;
    }
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !shutdown.is_cancelled() {
        // SAFETY: fds is a valid array of pollfd for the duration of the call.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                WAKE_EVERY.as_millis() as libc::c_int,
            )
        };
        if ready <= 0 {
            continue;
        }
        for p in &mut fds {
            if p.revents == 0 {
                continue;
            }
            p.revents = 0;
            // Drain a bounded number of batches per wake-up, so one socket cannot starve
            // the shutdown check or the other sockets.
            for _ in 0..8 {
                match batch.recv(p.fd, libc::MSG_DONTWAIT) {
                    Ok(0) => break,
                    Ok(n) => batch.serve(p.fd, n, &answerer),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "UDP receive failed");
                        break;
                    }
                }
            }
        }
    }
    drop(sockets);
}
