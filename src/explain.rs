//! `explain`: why a client gets the answer it gets.
//!
//! The same decision the query path makes ([`crate::gslb::decide`]), run with the trace on,
//! for a name, a type and a client address (with an optional ECS prefix, as a resolver would
//! send). Used by `ayadns explain` (offline, from the config) and the admin API (live, from
//! the current snapshot).

use crate::gslb::{Client, ServiceKind, decide};
use crate::snapshot::Snapshot;
use crate::zone::LookupOptions;
use hickory_proto::rr::{Name, RecordType};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Explain the answer for `name`/`qtype` to `client` (`prefix`: the ECS source prefix the
/// resolver would send; `None` = no ECS, the address is the packet source).
pub fn explain(
    snap: &Snapshot,
    name: &Name,
    qtype: RecordType,
    client: IpAddr,
    prefix: Option<u8>,
) -> Result<String, String> {
    let model = &snap.model;
    let mut out = String::new();
    let zone = model
        .zones
        .find(name)
        .ok_or_else(|| format!("{name} is in no served zone (the server answers REFUSED)"))?;
    let _ = writeln!(out, "query:   {name} {qtype}  (zone {})", zone.origin);
    let service = model.gslb.service(name);
    let svc = match service {
        Some(svc) => svc,
        None => {
            let l = zone.lookup(name, qtype, LookupOptions::default());
            let _ = writeln!(out, "static data (not a GSLB service): rcode {}", l.rcode);
            for r in l.answers.iter().chain(&l.authority) {
                let _ = writeln!(out, "  {r}");
            }
            return Ok(out);
        }
    };
    let v6 = match (svc.kind, qtype) {
        (ServiceKind::Addresses { a: true, .. }, RecordType::A) => false,
        (ServiceKind::Addresses { aaaa: true, .. }, RecordType::AAAA) => true,
        (ServiceKind::Cname, _) => false,
        _ => {
            let _ = writeln!(
                out,
                "service {name} does not answer {qtype}: static data or NODATA"
            );
            return Ok(out);
        }
    };
    let addr = match prefix {
        Some(p) => ipnet::IpNet::new(client, p)
            .map_err(|e| format!("bad prefix /{p}: {e}"))?
            .trunc()
            .addr(),
        None => client,
    };
    let c = Client::locate(&model.gslb, &snap.geo, addr, prefix, 0);
    let d = decide(
        &model.gslb,
        svc,
        v6,
        &c,
        &snap.health,
        &snap.everything_up,
        true,
    );
    let chain: Vec<String> = svc.chain.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(out, "service: {name}  chain: {}", chain.join(" → "));
    if let Some(t) = d.trace {
        let _ = write!(out, "{t}");
    }
    Ok(out)
}
