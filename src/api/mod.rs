//! The admin API's request and response bodies: typed once, used by the server (`admin`),
//! by `ayadns ctl` and `ayadns probe`, and by the tests. Inside the server everything is by
//! dense id; names appear only here, at the edge.

mod reports;

pub use reports::{ProbeReports, ProbeResult};
