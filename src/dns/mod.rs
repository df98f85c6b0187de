//! DNS transport and protocol: from packets to responses.
//!
//! - [`respond`]: the protocol rules as a pure function of (request, snapshot);
//! - [`handler`]: the hickory `RequestHandler` that runs it and fits answers to UDP;
//! - [`ecs`]: strict parsing of the EDNS Client Subnet option;
//! - [`udp`]: our UDP loop (recvmmsg/sendmmsg, reused buffers, cookies, rate limiting);
//! - [`cache`]: per-worker cache of encoded static answers (the allocation-free path);
//! - [`negative`]: NXDOMAIN for never-asked names written from the query's octets;
//! - [`tcp`]: our TCP listener (global and per-client caps, timeouts, pipelining, graceful close);
//! - [`rrl`]: response rate limiting per client network; [`cookies`]: DNS cookies;
//! - [`counters`]: the transport's counters (rate limiting, cookies, TCP limits, drops);
//! - [`limits`]: the file-descriptor limit at start-up;
//! - [`listener`]: sockets and worker threads (per core: a UDP thread and a current-thread
//!   runtime for TCP, each with its own SO_REUSEPORT sockets).

pub mod cache;
pub mod cookies;
pub mod counters;
pub mod ecs;
pub mod handler;
pub mod limits;
pub mod listener;
pub mod negative;
pub mod respond;
pub mod rrl;
pub mod tcp;
pub mod udp;

pub use handler::DnsHandler;
