//! The audit trail: every operator action — overrides, drills, reloads — with time, token name
//! (never the token), source address, the request and the result, written in the same
//! transaction as the change it records. Expiries and drill ends are `system` entries.
//!
//! Refused requests (no or bad token, a role that may not, a bad body) are recorded as
//! metadata only — time, source, method, path, status, token name if any, never the body —
//! and a source that keeps being refused gets one row per minute that counts the repeats,
//! so a flood of bad requests cannot fill the disk. Stored request bodies are cut at
//! [`MAX_TEXT`] bytes (on a character boundary). Old rows go by age and by count
//! ([`Retention`]).

pub use crate::api::AuditEntry;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The most of a request or result body an entry keeps, in bytes.
pub const MAX_TEXT: usize = 4096;

/// How long and how many audit rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this go.
    pub max_age: Duration,
    /// Beyond this many rows, the oldest go.
    pub max_rows: u64,
}

/// `text` cut to at most `max` bytes, on a character boundary, marked when cut.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Who asked for an action, for its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's name.
    pub token: String,
    /// The client address.
    pub source: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The request body as JSON (capped when recorded).
    pub request: String,
}

impl Actor {
    /// The entry recording this actor's request, answered with `status` and `result`.
    pub fn entry(&self, at: SystemTime, status: u16, result: &str) -> AuditEntry {
        AuditEntry {
            id: 0,
            at,
            token: self.token.clone(),
            source: self.source.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            request: cap(&self.request, MAX_TEXT),
            status,
            result: cap(result, MAX_TEXT),
            node: None,
        }
    }
}

/// An automatic action's entry (`expire`, `end`).
pub fn system(at: SystemTime, method: &str, path: String, result: String) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        token: "system".into(),
        source: "-".into(),
        method: method.into(),
        path,
        request: String::new(),
        status: 200,
        result: cap(&result, MAX_TEXT),
        node: None,
    }
}

/// Refusals per source, token, status and minute: the first is written at once, the repeats
/// are counted and written as one row when the minute is over.
#[derive(Debug, Default)]
pub struct Refusals {
    /// (source, token, status, minute) → the first refusal's entry and how many followed it.
    open: HashMap<(String, String, u16, u64), (AuditEntry, u64)>,
}

/// The most sources tracked in one minute; past it, further sources' repeats are dropped
/// (their first refusal is still written).
const MAX_SOURCES: usize = 10_000;

fn minute(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

impl Refusals {
    /// Note a refused request; returns the entry to write now, if any (the first from this
    /// source this minute).
    pub fn note(&mut self, entry: AuditEntry) -> Option<AuditEntry> {
        let key = (
            entry.source.clone(),
            entry.token.clone(),
            entry.status,
            minute(entry.at),
        );
        if let Some((_, repeats)) = self.open.get_mut(&key) {
            *repeats += 1;
            return None;
        }
        if self.open.len() < MAX_SOURCES {
            self.open.insert(key, (entry.clone(), 0));
        }
        Some(entry)
    }

    /// Rows for the minutes that are over at `now`: one per source that was refused again.
    pub fn finish(&mut self, now: SystemTime) -> Vec<AuditEntry> {
        let current = minute(now);
        let mut out = Vec::new();
        self.open.retain(|(_, _, _, m), (first, repeats)| {
            if *m >= current {
                return true;
            }
            if *repeats > 0 {
                out.push(AuditEntry {
                    at: now,
                    result: format!(
                        "refused {repeats} more time(s) in the minute after the first (last: {} {} → {})",
                        first.method, first.path, first.status
                    ),
                    ..first.clone()
                });
            }
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_on_a_character_boundary() {
        let long = "é".repeat(3000); // 6000 bytes
        let c = cap(&long, MAX_TEXT);
        assert!(c.len() <= MAX_TEXT);
        assert!(c.ends_with("..."));
        assert_eq!(cap("short", MAX_TEXT), "short");
    }

    #[test]
    fn refusals_write_the_first_and_count_the_rest_per_minute() {
        let mut r = Refusals::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(600);
        let e = |at, source: &str| AuditEntry {
            id: 0,
            at,
            token: "-".into(),
            source: source.into(),
            method: "POST".into(),
            path: "/api/v1/overrides".into(),
            request: String::new(),
            status: 401,
            result: String::new(),
            node: None,
        };
        assert!(r.note(e(t0, "10.0.0.1")).is_some());
        for _ in 0..199 {
            assert!(r.note(e(t0, "10.0.0.1")).is_none());
        }
        assert!(r.note(e(t0, "10.0.0.2")).is_some(), "another source");
        assert!(r.finish(t0).is_empty(), "the minute is not over");
        let rows = r.finish(t0 + Duration::from_secs(60));
        assert_eq!(rows.len(), 1);
        assert!(rows[0].result.contains("199 more"), "{}", rows[0].result);
        assert!(
            r.note(e(t0 + Duration::from_secs(60), "10.0.0.1"))
                .is_some()
        );
    }
}
