//! `explain`: why a client gets the answer it gets.
//!
//! The same answer function the query path calls ([`crate::gslb::decide::answer`]), with the
//! trace on, for a name, a type and a client (`IP`, or `IP/PREFIX` for a query whose ECS
//! option carries that subnet, as a resolver would send). Used by `ayadns explain` (offline,
//! from the config, with everything up), by `ayadns ctl explain` and the admin API (live, from
//! the current snapshot). The input is read by [`Question::parse`], the one parser of all
//! three. `weighted` draws from the query's seed; explain uses seed 0, so its pick among
//! weighted endpoints is one possible pick.

use crate::gslb::decide::{Asker, answer};
use crate::snapshot::Snapshot;
use crate::zone::LookupOptions;
use hickory_proto::rr::{Name, RecordType};
use std::fmt::Write as _;
use std::str::FromStr;

/// What to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked for.
    pub name: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// Who asks.
    pub asker: Asker,
}

impl Question {
    /// Read a name, a record type (`A`, `aaaa`, …; default `A`) and a client (`IP` or
    /// `IP/PREFIX`). Every error names the bad part.
    pub fn parse(name: &str, qtype: Option<&str>, client: &str) -> Result<Question, String> {
        let mut n = Name::from_ascii(name).map_err(|e| format!("bad name `{name}`: {e}"))?;
        n.set_fqdn(true);
        let t = qtype.unwrap_or("A").to_ascii_uppercase();
        let qtype = RecordType::from_str(&t).map_err(|_| format!("bad record type `{t}`"))?;
        Ok(Question {
            name: n,
            qtype,
            asker: Asker::parse(client)?,
        })
    }
}

/// Explain the answer to `q` from `snap`.
pub fn explain(snap: &Snapshot, q: &Question) -> Result<String, String> {
    let model = &snap.model;
    let name = &q.name;
    let qtype = q.qtype;
    let mut out = String::new();
    let zone = model
        .zones
        .find(name)
        .ok_or_else(|| format!("{name} is in no served zone (the server answers REFUSED)"))?;
    let _ = writeln!(out, "query:   {name} {qtype}  (zone {})", zone.origin);
    let Some(svc) = model.gslb.service(name) else {
        let l = zone.lookup(name, qtype, LookupOptions::default());
        let _ = writeln!(out, "static data (not a GSLB service): rcode {}", l.rcode);
        for r in l.answers.iter().chain(&l.authority) {
            let _ = writeln!(out, "  {r}");
        }
        return Ok(out);
    };
    let chain: Vec<&str> = svc.chain.iter().map(|s| s.word()).collect();
    let Some((d, _)) = answer(&snap.gslb_inputs(), svc, qtype, &q.asker, true) else {
        let _ = writeln!(
            out,
            "service {name} does not answer {qtype}: static data or NODATA"
        );
        return Ok(out);
    };
    let _ = writeln!(
        out,
        "service: {name}  chain: {}  (depends on the client: {})",
        chain.join(" → "),
        if svc.client_dependent { "yes" } else { "no" }
    );
    if let Some(t) = d.trace {
        let _ = write!(out, "{t}");
    }
    Ok(out)
}
