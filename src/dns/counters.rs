//! Counters of the DNS transports and their protection: rate limiting, cookies, TCP limits
//! and packets dropped before any answer. Plain process-wide atomics (relaxed adds on the
//! query path); [`collector`] exposes them in the `/metrics` exposition:
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `ayadns_dns_rrl_dropped_total` | `reason` | UDP responses withheld by response rate limiting |
//! | `ayadns_dns_rrl_slipped_total` | `reason` | UDP responses over the limit sent as empty TC=1 answers instead |
//! | `ayadns_dns_rrl_exempt_total` | `why` | responses not limited: `network` (in `exempt`) or `cookie` (a valid server cookie) |
//! | `ayadns_dns_cookies_total` | `result` | COOKIE options seen: `client_only`, `valid`, `invalid`, `malformed` |
//! | `ayadns_dns_udp_dropped_total` | `reason` | UDP packets given no answer: `source_port_0`, `short`, `response`, `oversized` |
//! | `ayadns_dns_tcp_refused_total` | `reason` | TCP connections closed at once: `per_client` cap, `global` cap with nothing idle to close |
//! | `ayadns_dns_tcp_closed_total` | `reason` | TCP connections closed by a limit: `idle`, `io_timeout`, `lifetime`, `max_queries`, `evicted` (oldest idle at the global cap) |
//! | `ayadns_dns_tcp_accept_errors_total` | | failed `accept` calls (each followed by a back-off) |
//!
//! `reason` of the RRL counters is the kind of response withheld: `answer`, `nodata`,
//! `nxdomain`, `referral`, `error`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What kind of response a rate-limit decision concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A positive answer.
    Answer = 0,
    /// NOERROR without answer records.
    NoData = 1,
    /// NXDOMAIN.
    NxDomain = 2,
    /// A referral to a delegated zone.
    Referral = 3,
    /// Any other rcode (FORMERR, REFUSED, NOTIMP, ...).
    Error = 4,
}

const KINDS: [&str; 5] = ["answer", "nodata", "nxdomain", "referral", "error"];

/// Why a UDP packet got no answer at all (besides rate limiting).
#[derive(Debug, Clone, Copy)]
pub enum UdpDrop {
    /// Source port 0: cannot be answered, almost always spoofed.
    SourcePort0 = 0,
    /// Shorter than a DNS header.
    Short = 1,
    /// A response (QR=1) sent to us.
    Response = 2,
    /// Larger than our receive buffer.
    Oversized = 3,
}

const UDP_DROPS: [&str; 4] = ["source_port_0", "short", "response", "oversized"];

/// The result of a COOKIE option check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieResult {
    /// A client cookie without a server cookie.
    ClientOnly = 0,
    /// A server cookie we made, still fresh.
    Valid = 1,
    /// A server cookie that is not ours, too old, or from the future.
    Invalid = 2,
    /// A COOKIE option of a bad length: FORMERR.
    Malformed = 3,
}

const COOKIE_RESULTS: [&str; 4] = ["client_only", "valid", "invalid", "malformed"];

/// Why a TCP connection was refused at accept.
#[derive(Debug, Clone, Copy)]
pub enum TcpRefused {
    /// The client already holds `tcp_max_per_client` connections.
    PerClient = 0,
    /// `tcp_max_connections` reached and none idle to close.
    Global = 1,
}

const TCP_REFUSED: [&str; 2] = ["per_client", "global"];

/// Why a TCP connection was closed by a limit.
#[derive(Debug, Clone, Copy)]
pub enum TcpClosed {
    /// No query within `tcp_idle_timeout`.
    Idle = 0,
    /// A read of a started message or a write did not finish within `tcp_io_timeout`.
    IoTimeout = 1,
    /// Open longer than `tcp_max_lifetime`.
    Lifetime = 2,
    /// `tcp_max_queries` answered.
    MaxQueries = 3,
    /// The oldest idle connection, closed to admit a new one at the global cap.
    Evicted = 4,
}

const TCP_CLOSED: [&str; 5] = ["idle", "io_timeout", "lifetime", "max_queries", "evicted"];

struct Counters {
    rrl_dropped: [AtomicU64; 5],
    rrl_slipped: [AtomicU64; 5],
    rrl_exempt: [AtomicU64; 2],
    cookies: [AtomicU64; 4],
    udp_dropped: [AtomicU64; 4],
    tcp_refused: [AtomicU64; 2],
    tcp_closed: [AtomicU64; 5],
    tcp_accept_errors: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const Z: AtomicU64 = AtomicU64::new(0);

static C: Counters = Counters {
    rrl_dropped: [Z; 5],
    rrl_slipped: [Z; 5],
    rrl_exempt: [Z; 2],
    cookies: [Z; 4],
    udp_dropped: [Z; 4],
    tcp_refused: [Z; 2],
    tcp_closed: [Z; 5],
    tcp_accept_errors: Z,
};

/// A response withheld by RRL.
#[inline]
pub fn rrl_dropped(k: Kind) {
    C.rrl_dropped[k as usize].fetch_add(1, Relaxed);
}
/// A response over the limit sent truncated (slip).
#[inline]
pub fn rrl_slipped(k: Kind) {
    C.rrl_slipped[k as usize].fetch_add(1, Relaxed);
}
/// A response not limited because its client is in `exempt` (`cookie` false) or presented a
/// valid server cookie (`cookie` true).
#[inline]
pub fn rrl_exempt(cookie: bool) {
    C.rrl_exempt[cookie as usize].fetch_add(1, Relaxed);
}
/// A COOKIE option was checked.
#[inline]
pub fn cookie(r: CookieResult) {
    C.cookies[r as usize].fetch_add(1, Relaxed);
}
/// A UDP packet got no answer.
#[inline]
pub fn udp_dropped(r: UdpDrop) {
    C.udp_dropped[r as usize].fetch_add(1, Relaxed);
}
/// A TCP connection was refused at accept.
pub fn tcp_refused(r: TcpRefused) {
    C.tcp_refused[r as usize].fetch_add(1, Relaxed);
}
/// A TCP connection was closed by a limit.
pub fn tcp_closed(r: TcpClosed) {
    C.tcp_closed[r as usize].fetch_add(1, Relaxed);
}
/// An `accept` failed.
pub fn tcp_accept_error() {
    C.tcp_accept_errors.fetch_add(1, Relaxed);
}

/// The collector to register in the metrics registry (`registry.register_collector(...)`).
pub fn collector() -> Box<dyn Collector> {
    Box::new(DnsCounters)
}

#[derive(Debug)]
struct DnsCounters;

fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    names: &[&str],
    values: &[AtomicU64],
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (n, v) in names.iter().zip(values) {
        let v = v.load(Relaxed);
        m.encode_family(&[(label, *n)])?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
    }
    Ok(())
}

impl Collector for DnsCounters {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        family(
            e,
            "dns_rrl_dropped",
            "UDP responses withheld by response rate limiting, by kind of response.",
            "reason",
            &KINDS,
            &C.rrl_dropped,
        )?;
        family(
            e,
            "dns_rrl_slipped",
            "UDP responses over the rate limit sent as empty TC=1 answers, by kind of response.",
            "reason",
            &KINDS,
            &C.rrl_slipped,
        )?;
        family(
            e,
            "dns_rrl_exempt",
            "Responses not rate limited: client in an exempt network, or a valid server cookie.",
            "why",
            &["network", "cookie"],
            &C.rrl_exempt,
        )?;
        family(
            e,
            "dns_cookies",
            "DNS COOKIE options received, by result of the check.",
            "result",
            &COOKIE_RESULTS,
            &C.cookies,
        )?;
        family(
            e,
            "dns_udp_dropped",
            "UDP packets given no answer before any lookup, by reason.",
            "reason",
            &UDP_DROPS,
            &C.udp_dropped,
        )?;
        family(
            e,
            "dns_tcp_refused",
            "TCP connections closed at accept, by limit.",
            "reason",
            &TCP_REFUSED,
            &C.tcp_refused,
        )?;
        family(
            e,
            "dns_tcp_closed",
            "TCP connections closed by a limit or timeout.",
            "reason",
            &TCP_CLOSED,
            &C.tcp_closed,
        )?;
        let v = C.tcp_accept_errors.load(Relaxed);
        e.encode_descriptor(
            "dns_tcp_accept_errors",
            "Failed TCP accept calls (each followed by a back-off).",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, u64, u64>(&v, None)
    }
}
