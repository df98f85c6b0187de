//! The served names in wire form, for answering "no such name" without parsing the query.
//!
//! A flood of random names under a served zone (the "random subdomain" attack on
//! authoritative servers) never repeats a question, so no answer cache helps it; what it
//! needs is a cheap proof that the name does not exist. [`WireNames`] holds every name of
//! every zone (owners, empty non-terminals, GSLB service names) as lower-case wire octets, so
//! the UDP path ([`crate::dns::negative`]) can decide from the query's octets alone that the
//! general lookup ([`super::lookup`]) would answer NXDOMAIN with the zone's SOA:
//! - the longest served origin the name ends in is the zone (as [`super::ZoneSet::find`]);
//! - the name itself is not a node of that zone;
//! - its closest encloser (the nearest ancestor that is a node; every ancestor of a node is
//!   one, so this is the first one found walking up) is *open*: no zone cut at or above it
//!   below the apex, no DNAME at or above it, no wildcard `*.` child.
//!
//! Anything else ("the name exists", a referral, a DNAME, a wildcard) is left to the general
//! lookup. The table is built once per model, when the zones are final.

use super::Zone;
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;
use std::collections::HashMap;
use std::sync::Arc;

/// Keyed fast hashing: the keys of the lookups come from the network.
type Hasher = foldhash::fast::RandomState;

/// The longest name in wire form.
pub const NAME_MAX: usize = 255;

/// Every served name, by zone, in lower-case wire form.
#[derive(Debug, Default)]
pub struct WireNames {
    /// Origin → zone index.
    origins: HashMap<Box<[u8]>, usize, Hasher>,
    /// Per zone (by index): name → open (an NXDOMAIN below it is the general answer).
    names: Vec<HashMap<Box<[u8]>, bool, Hasher>>,
}

/// Where a name that does not exist was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// The zone (its index in the set).
    pub zone: usize,
    /// Where the zone's origin starts in the name's octets.
    pub origin_at: usize,
}

/// `name` (a hickory name) in lower-case wire form.
fn wire(name: &Name) -> Option<Box<[u8]>> {
    let mut n = name.to_lowercase();
    n.set_fqdn(true);
    n.to_bytes().ok().map(Vec::into_boxed_slice)
}

/// The offsets where each label of wire name `name` starts (the root's zero octet last), or
/// `None` when it is not a plain uncompressed name.
fn label_starts(name: &[u8]) -> Option<smallvec::SmallVec<[u8; 16]>> {
    let mut at = 0usize;
    let mut out = smallvec::SmallVec::new();
    loop {
        out.push(u8::try_from(at).ok()?);
        let l = *name.get(at)? as usize;
        if l == 0 {
            return (at + 1 == name.len()).then_some(out);
        }
        if l > 63 {
            return None;
        }
        at += 1 + l;
    }
}

/// Copy wire name `name` into `out` with ASCII letters in lower case (length octets kept).
/// Returns the copy, or `None` when `name` is not a plain name or does not fit.
pub fn lower<'b>(name: &[u8], out: &'b mut [u8; NAME_MAX]) -> Option<&'b [u8]> {
    let len = name.len();
    if len > NAME_MAX {
        return None;
    }
    let mut at = 0usize;
    loop {
        let l = *name.get(at)? as usize;
        out[at] = l as u8;
        if l == 0 {
            return (at + 1 == len).then_some(&out[..len]);
        }
        if l > 63 || at + 1 + l >= len {
            return None;
        }
        for i in at + 1..at + 1 + l {
            out[i] = name[i].to_ascii_lowercase();
        }
        at += 1 + l;
    }
}

impl WireNames {
    /// The table of `zones` (indexed as the set indexes them).
    pub fn build(zones: &[Arc<Zone>]) -> WireNames {
        let mut origins = HashMap::default();
        let mut names = Vec::with_capacity(zones.len());
        for (i, zone) in zones.iter().enumerate() {
            if let Some(o) = wire(&zone.origin) {
                origins.insert(o, i);
            }
            names.push(zone_names(zone));
        }
        WireNames { origins, names }
    }

    /// Where the lower-case wire name `name` would be answered NXDOMAIN by the general
    /// lookup (see the module doc); `None` when it exists, is in no zone, or the answer
    /// is anything else.
    pub fn missing(&self, name: &[u8]) -> Option<Missing> {
        let starts = label_starts(name)?;
        let (zone, origin_label) = starts
            .iter()
            .enumerate()
            .find_map(|(k, &s)| Some((*self.origins.get(&name[s as usize..])?, k)))?;
        let names = self.names.get(zone)?;
        if names.contains_key(name) {
            return None;
        }
        // The closest encloser: the first ancestor that is a node (the apex always is).
        let open = starts[1..=origin_label]
            .iter()
            .find_map(|&s| names.get(&name[s as usize..]))?;
        open.then_some(Missing {
            zone,
            origin_at: starts[origin_label] as usize,
        })
    }
}

/// The names of one zone, each with whether it is open (see the module doc).
fn zone_names(zone: &Zone) -> HashMap<Box<[u8]>, bool, Hasher> {
    let blocked_at = |name: &Name| -> bool {
        let node = &zone.nodes[name];
        node.dname.is_some() || (node.is_cut && *name != zone.origin)
    };
    let mut out = HashMap::with_capacity_and_hasher(zone.nodes.len(), Hasher::default());
    for name in zone.nodes.keys() {
        let Some(key) = wire(name) else { continue };
        let mut open = true;
        if zone.has_cuts || zone.has_dnames {
            let mut n = name.clone();
            loop {
                if zone.nodes.contains_key(&n) && blocked_at(&n) {
                    open = false;
                    break;
                }
                if n.num_labels() <= zone.origin.num_labels() {
                    break;
                }
                n = n.base_name();
            }
        }
        if open
            && zone.has_wildcards
            && name
                .prepend_label("*")
                .is_ok_and(|w| zone.nodes.contains_key(&w))
        {
            open = false;
        }
        out.insert(key, open);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::ZoneSet;
    use hickory_proto::rr::RecordType;
    use std::str::FromStr;

    fn zone(origin: &str, text: &str) -> Zone {
        let path =
            std::env::temp_dir().join(format!("ayadns-wire-{}-{origin}zone", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let z = crate::zone::load_zone_file(&path, Some(&Name::from_str(origin).unwrap())).unwrap();
        std::fs::remove_file(&path).unwrap();
        z
    }

    fn w(name: &str) -> Vec<u8> {
        Name::from_str(name).unwrap().to_bytes().unwrap()
    }

    #[test]
    fn lower_keeps_length_octets_and_refuses_what_is_not_a_plain_name() {
        let mut buf = [0u8; NAME_MAX];
        // A label of length 65 ('A') must not become 97.
        let mut name = vec![3, b'W', b'w', b'W'];
        name.push(1);
        name.push(b'Z');
        name.push(0);
        assert_eq!(
            lower(&name, &mut buf).unwrap(),
            &[3, b'w', b'w', b'w', 1, b'z', 0]
        );
        assert!(lower(&[0xC0, 12], &mut buf).is_none(), "a pointer");
        assert!(lower(&[3, b'a', b'b'], &mut buf).is_none(), "truncated");
        assert!(
            lower(&[1, b'a', 0, 0], &mut buf).is_none(),
            "trailing octets"
        );
    }

    /// Every verdict of the table agrees with the general lookup over names of all kinds:
    /// NXDOMAIN from the table only where the lookup says NXDOMAIN.
    #[test]
    fn missing_agrees_with_the_general_lookup() {
        let parent = zone(
            "example.",
            "$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.1\n\
             a.b.c A 192.0.2.2\n*.wild A 192.0.2.3\nsub NS ns.sub\nns.sub A 192.0.2.4\n\
             dn DNAME example.net.\n",
        );
        let child = zone(
            "deep.example.",
            "$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.5\n",
        );
        let set = ZoneSet::new(vec![parent, child]);
        let table = set.wire_names();
        let probes = [
            "nope.example.",
            "a.b.c.example.",
            "b.c.example.",
            "c.example.",
            "z.c.example.",
            "z.a.b.c.example.",
            "q.wild.example.",
            "wild.example.",
            "x.y.wild.example.",
            "sub.example.",
            "x.sub.example.",
            "a.x.sub.example.",
            "dn.example.",
            "x.dn.example.",
            "new.dn.example.",
            "deep.example.",
            "nope.deep.example.",
            "ns.deep.example.",
            "example.",
            "other.test.",
            "NoPe.ExAmPlE.",
        ];
        let mut nx = 0;
        for p in probes {
            let name = Name::from_str(p).unwrap();
            let general = set.find(&name).map(|z| {
                z.lookup(&name, RecordType::A, Default::default()).rcode
                    == hickory_proto::op::ResponseCode::NXDomain
            });
            let mut buf = [0u8; NAME_MAX];
            let lowered = lower(&w(p), &mut buf).unwrap().to_vec();
            let fast = table.missing(&lowered);
            if let Some(m) = fast {
                nx += 1;
                assert_eq!(general, Some(true), "{p}: the table says NXDOMAIN");
                let z = set.iter().nth(m.zone).unwrap();
                assert_eq!(&lowered[m.origin_at..], &*wire(&z.origin).unwrap(), "{p}");
            } else {
                // The table may leave a missing name to the general path only where the
                // lookup has more to say (wildcard, cut, DNAME).
                let tricky = [
                    "q.wild.",
                    "x.y.wild.",
                    "x.sub.",
                    "a.x.sub.",
                    "x.dn.",
                    "new.dn.",
                ];
                if general == Some(true) {
                    assert!(tricky.iter().any(|t| p.starts_with(t)), "{p}: missed");
                }
            }
        }
        assert_eq!(nx, 5, "nope, z.c, z.a.b.c, nope.deep, NoPe");
    }
}
