//! Per-worker cache of encoded UDP answers to static questions: the allocation-free path for
//! repeated static hits, NODATA and NXDOMAIN.
//!
//! A query qualifies when its bytes say everything about it: opcode QUERY, one question with
//! an uncompressed name, no other records except at most one OPT *without options* (no ECS, no
//! cookie), nothing after that. The key is then every octet of the query except the ID: the
//! name as sent (answers echo its case in owner names, so `WwW` and `www` are two entries),
//! flags, type, class, OPT payload size, version and DO.
//! Only answers that depend on nothing else are stored: no GSLB service took part (those
//! depend on the client), and the snapshot's model is the one the entry was made from (a
//! reload empties the cache; health and GeoIP changes only touch GSLB answers).
//!
//! A hit copies the stored answer, sets the query's ID and is done: no parsing into hickory types, no lookup, no allocation. The
//! cache belongs to one UDP worker thread (no lock, no sharing) and is bounded: when full it
//! is emptied, so a random-name flood costs the flooder the slow path and nothing more.

use super::counters::Kind;
use crate::counters::Tally;
use crate::model::Model;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries per worker before the cache is emptied.
pub const MAX_ENTRIES: usize = 16_384;

/// Longest key: a 255-octet name plus type, class, flags and the OPT fields.
const KEY_MAX: usize = 255 + 4 + 2 + 1 + 2 + 4;

/// A cached answer.
#[derive(Debug)]
pub struct Entry {
    /// The encoded response (ID and question octets are patched per query).
    pub bytes: Box<[u8]>,
    /// What the metrics count.
    pub tally: Tally,
    /// The query type (for the metrics).
    pub qtype: RecordType,
    /// The response code (for the metrics).
    pub rcode: ResponseCode,
    /// The kind of response (for rate limiting).
    pub kind: Kind,
}

/// The cache of one worker.
#[derive(Debug, Default)]
pub struct AnswerCache {
    map: HashMap<Box<[u8]>, Entry>,
    /// The model the entries were made from (held, so its address cannot be reused by a
    /// later model while entries exist).
    model: Option<Arc<Model>>,
}

/// The key of a qualifying query, built in place (no allocation), and where its question
/// ends.
pub struct Key {
    buf: [u8; KEY_MAX],
    len: usize,
    /// Octets 12..question_end of the query are its question.
    pub question_end: usize,
    /// The query type.
    pub qtype: u16,
}

impl Key {
    /// The key octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: &[u8]) -> Option<()> {
        let end = self.len + b.len();
        self.buf.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }
}

/// The key of `q` if it qualifies (see the module doc).
pub fn key(q: &[u8]) -> Option<Key> {
    if q.len() < 12 || q[2] & 0xF8 != 0 {
        return None; // a response, or an opcode other than QUERY
    }
    let counts = &q[4..12];
    let ar = match counts {
        [0, 1, 0, 0, 0, 0, 0, ar] if *ar <= 1 => *ar,
        _ => return None,
    };
    let mut k = Key {
        buf: [0; KEY_MAX],
        len: 0,
        question_end: 0,
        qtype: 0,
    };
    let mut at = 12;
    let mut name_len = 0usize;
    loop {
        let l = *q.get(at)? as usize;
        if l == 0 {
            k.push(&[0])?;
            at += 1;
            break;
        }
        if l > 63 {
            return None; // compression (or worse): the general path decides
        }
        let label = q.get(at + 1..at + 1 + l)?;
        name_len += l + 1;
        if name_len + 1 > 255 {
            return None;
        }
        k.push(&[l as u8])?;
        k.push(label)?;
        at += 1 + l;
    }
    let tail = q.get(at..at + 4)?;
    k.qtype = u16::from_be_bytes([tail[0], tail[1]]);
    k.push(tail)?;
    at += 4;
    k.question_end = at;
    k.push(&[q[2], q[3], ar])?;
    if ar == 1 {
        // OPT: root owner, type 41, payload, extended rcode/version/flags, no RDATA.
        let opt = q.get(at..at + 11)?;
        if opt[0] != 0 || opt[1..3] != [0, 41] || opt[9..11] != [0, 0] {
            return None;
        }
        k.push(&opt[3..9])?;
        at += 11;
    }
    (at == q.len()).then_some(k)
}

impl AnswerCache {
    /// Empty the cache unless its entries were made from `model`.
    fn follow(&mut self, model: &Arc<Model>) {
        if !self.model.as_ref().is_some_and(|m| Arc::ptr_eq(m, model)) {
            self.map.clear();
            self.model = Some(model.clone());
        }
    }

    /// The entry for `key`, if made from `model`.
    #[inline]
    pub fn get(&mut self, model: &Arc<Model>, key: &Key) -> Option<&Entry> {
        self.follow(model);
        self.map.get(key.as_bytes())
    }

    /// Store an entry made from `model`.
    pub fn insert(&mut self, model: &Arc<Model>, key: &Key, entry: Entry) {
        self.follow(model);
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(key.as_bytes().into(), entry);
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &[u8], ar: Option<&[u8]>) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, ar.is_some() as u8];
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        if let Some(o) = ar {
            m.extend_from_slice(o);
        }
        m
    }

    #[test]
    fn keys_ignore_the_id_and_refuse_what_they_cannot_vouch_for() {
        let a = key(&q(b"\x03WwW\x04test\x00", None)).unwrap();
        let mut other = q(b"\x03WwW\x04test\x00", None);
        other[0] = 9;
        let b = key(&other).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        let lower = key(&q(b"\x03www\x04test\x00", None)).unwrap();
        assert_ne!(a.as_bytes(), lower.as_bytes(), "case is kept");
        assert_eq!(a.question_end, 12 + 10 + 4);
        let opt = [0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0];
        let c = key(&q(b"\x03www\x04test\x00", Some(&opt))).unwrap();
        assert_ne!(a.as_bytes(), c.as_bytes());
        // Options (ECS, cookies), compression, trailing octets, other counts: not cached.
        let with_option = [0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0];
        assert!(key(&q(b"\x03www\x04test\x00", Some(&with_option))).is_none());
        assert!(key(&q(b"\x03www\xc0\x0c", None)).is_none());
        let mut trailing = q(b"\x03www\x00", None);
        trailing.push(0);
        assert!(key(&trailing).is_none());
        let mut notify = q(b"\x03www\x00", None);
        notify[2] = 4 << 3;
        assert!(key(&notify).is_none());
        assert!(key(&q(b"\x03www", None)).is_none());
    }
}
