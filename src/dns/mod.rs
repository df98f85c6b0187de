//! DNS transport and protocol: from packets to responses.
//!
//! - [`respond`]: the protocol rules as a pure function of (request, snapshot);
//! - [`handler`]: the hickory `RequestHandler` that runs it and fits answers to UDP;
//! - [`ecs`]: strict parsing of the EDNS Client Subnet option;
//! - [`tcp`]: our TCP listener (connection cap, idle timeout, pipelining, graceful close);
//! - [`listener`]: sockets and worker threads (one current-thread runtime per core, each with
//!   its own SO_REUSEPORT sockets; UDP served by hickory's `Server`).

pub mod ecs;
pub mod handler;
pub mod listener;
pub mod respond;
pub mod tcp;

pub use handler::DnsHandler;
