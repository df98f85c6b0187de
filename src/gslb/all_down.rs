//! `when_all_down` — what a service answers when the chain leaves nothing (no endpoint up).
//!
//! ```toml
//! [[service]]
//! when_all_down = "fail_open"    # the default
//! # when_all_down = "fallback"   # with fallback = ["192.0.2.99", "2001:db8::99"]
//! # when_all_down = "empty"
//! ```
//! - `fail_open`: answer as if every endpoint were up (the chain runs again on the all-up
//!   view). A health-check outage then never takes a name off the air; Route 53 and gdnsd do
//!   the same.
//! - `fallback`: answer the fixed `fallback` addresses of the asked family (NODATA when there
//!   is none of that family). ECS scope 0: the answer is the same for everyone.
//! - `empty`: answer NODATA — fail closed.
//!
//! Whatever the rule, the TTL is halved while it is in force (see [`super::ttl`]), so clients
//! come back soon after something recovers.

use crate::config::Config;
use crate::config::gslb::ServiceConfig;
use crate::diag::Diagnostics;
use std::net::IpAddr;

/// The compiled rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllDown {
    /// Answer as if everything were up.
    #[default]
    FailOpen,
    /// Answer these addresses.
    Fallback(Vec<IpAddr>),
    /// Answer NODATA.
    Empty,
}

impl AllDown {
    /// The config word.
    pub fn word(&self) -> &'static str {
        match self {
            AllDown::FailOpen => "fail_open",
            AllDown::Fallback(_) => "fallback",
            AllDown::Empty => "empty",
        }
    }

    /// Read `when_all_down` and `fallback` of a service, reporting problems with their line.
    pub fn compile(config: &Config, sc: &ServiceConfig, problems: &mut Diagnostics) -> AllDown {
        let name = sc.name.get_ref();
        let rule = match &sc.when_all_down {
            None => AllDown::FailOpen,
            Some(word) => match word.get_ref().as_str() {
                "fail_open" => AllDown::FailOpen,
                "fallback" => AllDown::Fallback(sc.fallback.clone()),
                "empty" => AllDown::Empty,
                other => {
                    problems.push(config.diag_at(
                        word.span(),
                        format!(
                            "service {name}: when_all_down = `{other}` is not fail_open, fallback or empty"
                        ),
                    ));
                    AllDown::FailOpen
                }
            },
        };
        match &rule {
            AllDown::Fallback(list) if list.is_empty() => problems.push(config.diag_at(
                sc.name.span(),
                format!("service {name}: when_all_down = \"fallback\" needs `fallback` addresses"),
            )),
            AllDown::Fallback(_) => {}
            _ if !sc.fallback.is_empty() => problems.push(config.diag_at(
                sc.name.span(),
                format!(
                    "service {name}: `fallback` addresses are only used with when_all_down = \"fallback\""
                ),
            )),
            _ => {}
        }
        rule
    }

    /// The fixed addresses of the asked family, for [`AllDown::Fallback`].
    pub fn fallback(&self, v6: bool) -> Vec<IpAddr> {
        match self {
            AllDown::Fallback(list) => list.iter().copied().filter(|a| a.is_ipv6() == v6).collect(),
            _ => Vec::new(),
        }
    }
}
