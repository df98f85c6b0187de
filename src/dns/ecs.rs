//! EDNS Client Subnet (RFC 7871) as sent by the client, checked byte by byte.
//!
//! hickory-proto decodes the option leniently (it ignores surplus address octets and address
//! bits past the source prefix), but RFC 7871 §7.1.2 asks a server to answer FORMERR to such
//! options: a resolver that sends them is broken and caching on them would be wrong. So the
//! raw query is walked here to find the option and check it exactly: known family, prefix in
//! range, exactly ceil(prefix/8) address octets, no bits set past the prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A well-formed ECS option from a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The client network's address (bits past the prefix are zero).
    pub addr: IpAddr,
    /// SOURCE PREFIX-LENGTH: how many bits of `addr` the resolver revealed.
    pub source_prefix: u8,
}

/// What the ECS check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecs {
    /// No ECS option (or no OPT record).
    Absent,
    /// A valid option.
    Present(ClientSubnet),
    /// An option that breaks RFC 7871: answer FORMERR.
    Malformed,
}

const OPT: u16 = 41;
const ECS_CODE: u16 = 8;

/// Find and check the ECS option of the raw query `msg`.
pub fn parse(msg: &[u8]) -> Ecs {
    walk(msg).unwrap_or(Ecs::Malformed)
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Offset just past the (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len & 0xC0 {
            0xC0 => return Some(at + 2),
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + len as usize,
            _ => return None,
        }
    }
}

fn walk(msg: &[u8]) -> Option<Ecs> {
    Some(match find_option(msg, ECS_CODE)? {
        Some(data) => check(data),
        None => Ecs::Absent,
    })
}

/// The data of the first EDNS option `code` in the raw message `msg`: `Some(None)` when the
/// message has no such option, `None` when the message cannot be walked.
pub fn find_option(msg: &[u8], code: u16) -> Option<Option<&[u8]>> {
    let qd = u16_at(msg, 4)? as usize;
    let an = u16_at(msg, 6)? as usize;
    let ns = u16_at(msg, 8)? as usize;
    let ar = u16_at(msg, 10)? as usize;
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(msg, at)? + 4;
    }
    for _ in 0..an + ns {
        at = skip_name(msg, at)? + 8;
        at += 2 + u16_at(msg, at)? as usize;
    }
    for _ in 0..ar {
        at = skip_name(msg, at)?;
        let rtype = u16_at(msg, at)?;
        at += 8;
        let rdlen = u16_at(msg, at)? as usize;
        at += 2;
        let rdata = msg.get(at..at + rdlen)?;
        at += rdlen;
        if rtype != OPT {
            continue;
        }
        let mut o = 0;
        while o < rdata.len() {
            let c = u16_at(rdata, o)?;
            let len = u16_at(rdata, o + 2)? as usize;
            let data = rdata.get(o + 4..o + 4 + len)?;
            o += 4 + len;
            if c == code {
                return Some(Some(data));
            }
        }
    }
    Some(None)
}

pub(crate) fn check(data: &[u8]) -> Ecs {
    let (Some(family), Some(&source), Some(_scope)) = (u16_at(data, 0), data.get(2), data.get(3))
    else {
        return Ecs::Malformed;
    };
    let octets = &data[4..];
    let max = match family {
        1 => 32,
        2 => 128,
        _ => return Ecs::Malformed,
    };
    if source > max || octets.len() != (source as usize).div_ceil(8) {
        return Ecs::Malformed;
    }
    // Bits past the prefix in the last octet must be zero.
    if source % 8 != 0 {
        let last = octets[octets.len() - 1];
        if last & (0xFFu8 >> (source % 8)) != 0 {
            return Ecs::Malformed;
        }
    }
    let addr = if family == 1 {
        let mut b = [0u8; 4];
        b[..octets.len()].copy_from_slice(octets);
        IpAddr::V4(Ipv4Addr::from(b))
    } else {
        let mut b = [0u8; 16];
        b[..octets.len()].copy_from_slice(octets);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    Ecs::Present(ClientSubnet {
        addr,
        source_prefix: source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `a.` with an OPT record carrying `option` (code 8).
    fn query_with_ecs(option: &[u8]) -> Vec<u8> {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0]);
        let rdlen = (option.len() + 4) as u16;
        m.extend_from_slice(&rdlen.to_be_bytes());
        m.extend_from_slice(&[0, 8]);
        m.extend_from_slice(&(option.len() as u16).to_be_bytes());
        m.extend_from_slice(option);
        m
    }

    #[test]
    fn valid_options_parse() {
        let e = parse(&query_with_ecs(&[0, 1, 24, 0, 81, 2, 69]));
        assert_eq!(
            e,
            Ecs::Present(ClientSubnet {
                addr: "81.2.69.0".parse().unwrap(),
                source_prefix: 24
            })
        );
        let e = parse(&query_with_ecs(&[
            0, 2, 48, 0, 0x20, 0x01, 4, 0x80, 0, 0x10,
        ]));
        assert!(matches!(e, Ecs::Present(c) if c.source_prefix == 48));
        assert!(matches!(
            parse(&query_with_ecs(&[0, 1, 0, 0])),
            Ecs::Present(_)
        ));
    }

    #[test]
    fn malformed_options_are_caught() {
        for bad in [
            &[0, 1, 24, 0, 81, 2, 69, 0][..], // too many octets
            &[0, 1, 24, 0, 81, 2],            // too few
            &[0, 1, 23, 0, 81, 2, 69],        // bit past the prefix
            &[0, 1, 33, 0, 1, 2, 3, 4, 5],    // prefix too long
            &[0, 3, 8, 0, 1],                 // unknown family
            &[0, 1],                          // truncated
        ] {
            assert_eq!(parse(&query_with_ecs(bad)), Ecs::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn absent_without_opt_or_option() {
        let m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
        assert_eq!(parse(&m), Ecs::Absent);
    }
}
