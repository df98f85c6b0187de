//! The key layout under the configured prefix `P`, in one place.
//!
//! | key | value (JSON) | lifetime |
//! | --- | --- | --- |
//! | `P nodes/<node>` | [`NodeInfo`](super::NodeInfo) | the node's lease |
//! | `P control/<key>` | any serde value (overrides, drills …) | until deleted |
//! | `P audit/<ms>-<node>-<seq>` | [`AuditRecord`](super::AuditRecord) | kept (not in the view) |
//! | `P meta/control` | the node that committed last | bumped by every control commit |
//! | `P votes/<endpoint>/<vantage>/<node>` | [`Vote`](super::Vote) | the node's lease |
//! | `P latency/<pool>/<vantage>/<node>` | [`Latency`](super::Latency) | the node's lease |
//!
//! `<endpoint>`, `<pool>` and `<vantage>` are percent-encoded ([`segment`]), so any name (a
//! check URL with spaces and slashes, say) is one key segment. Control keys are chosen by the
//! caller and checked by [`check_control_key`].

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::ClusterError;

/// Folder of node registrations.
pub const NODES: &str = "nodes/";
/// Folder of control state.
pub const CONTROL: &str = "control/";
/// Folder of the audit trail.
pub const AUDIT: &str = "audit/";
/// The key every control commit rewrites: its mod_revision is the control state's revision.
pub const META_CONTROL: &str = "meta/control";
/// Folder of health votes.
pub const VOTES: &str = "votes/";
/// Folder of latency reports.
pub const LATENCY: &str = "latency/";

/// Longest control key (after `control/`).
pub const MAX_CONTROL_KEY: usize = 256;
/// Longest name that goes into a key segment (before encoding).
pub const MAX_SEGMENT: usize = 512;

/// Bytes kept as they are in a key segment; everything else is `%XX`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'_').remove(b'-');

/// `name` as one key segment (percent-encoded). Errors for an empty or overlong name.
pub fn segment(name: &str) -> Result<String, ClusterError> {
    if name.is_empty() || name.len() > MAX_SEGMENT {
        return Err(ClusterError::Invalid(format!(
            "a name in a cluster key must be 1 to {MAX_SEGMENT} bytes, not {}",
            name.len()
        )));
    }
    Ok(utf8_percent_encode(name, SEGMENT).to_string())
}

/// The name a key segment was made from ([`segment`]'s inverse); `None` when not valid.
pub fn unsegment(seg: &str) -> Option<String> {
    percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A control key: 1 to 256 bytes of `A-Z a-z 0-9 . _ - : @ = + %` in `/`-separated, non-empty
/// segments (use [`segment`] for names from elsewhere).
pub fn check_control_key(key: &str) -> Result<(), ClusterError> {
    let bad = |why: &str| {
        Err(ClusterError::Invalid(format!(
            "control key `{}`: {why}",
            key.escape_debug()
        )))
    };
    if key.is_empty() || key.len() > MAX_CONTROL_KEY {
        return bad(&format!("must be 1 to {MAX_CONTROL_KEY} bytes"));
    }
    if key.split('/').any(str::is_empty) {
        return bad("has an empty segment");
    }
    if let Some(c) = key.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, '.' | '_' | '-' | ':' | '@' | '=' | '+' | '%' | '/'))
    }) {
        return bad(&format!("contains {c:?}"));
    }
    Ok(())
}

/// The end of the key range of every key starting with `prefix` (etcd's `range_end`).
pub fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_keys_segments_round_trip_any_name() {
        for name in [
            "web1",
            "http://127.0.0.1:8080/health host=a body=\"ok\"",
            "eu-west",
            "ü/ß %",
        ] {
            let s = segment(name).unwrap();
            assert!(!s.contains('/') && !s.contains(' '), "{s}");
            assert_eq!(unsegment(&s).as_deref(), Some(name));
        }
        assert_eq!(segment("eu-west.a_b").unwrap(), "eu-west.a_b");
        assert!(segment("").is_err());
        assert!(segment(&"x".repeat(MAX_SEGMENT + 1)).is_err());
    }

    #[test]
    fn cluster_keys_control_keys_are_checked() {
        check_control_key("overrides/abc-1").unwrap();
        check_control_key("drills/d1/overrides/o%2F2").unwrap();
        for bad in ["", "a//b", "/a", "a/", "a b", "a\nb", &"k".repeat(300)] {
            assert!(check_control_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cluster_keys_range_end() {
        assert_eq!(range_end(b"/a/"), b"/a0");
        assert_eq!(range_end(b"a\xff"), b"b");
        assert_eq!(range_end(b"\xff"), [0]);
    }
}
