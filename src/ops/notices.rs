//! What ops tells the `[[notify]]` webhooks (through [`crate::events`]): the event of an
//! override's or a drill's step, built in one place so each step is one `emit` line.
//!
//! Override events name the override's target (`pool:eu-west`) with the id in the detail;
//! drill events name the drill's id, with what it fails in the detail. Operator actions carry
//! the token name; automatic ones (expiry, a drill's end) carry none.

use super::drills::Drill;
use super::overrides::Override;
use crate::events::{Event, EventKind};

/// `override.created`, `.removed`, `.expired`.
pub fn override_event(kind: EventKind, o: &Override) -> Event {
    let mut detail = format!("{} {} ({})", o.action.as_str(), o.target, o.id);
    if !o.reason.is_empty() {
        detail.push_str(": ");
        detail.push_str(&o.reason);
    }
    Event::new(kind).target(&o.target).detail(detail)
}

/// `drill.started`, `drill.ended` (`how`: why it ended, or empty).
pub fn drill_event(kind: EventKind, d: &Drill, how: &str) -> Event {
    let fail: Vec<String> = d.fail.iter().map(|t| t.to_string()).collect();
    let mut detail = format!("fails {}", fail.join(", "));
    if !d.reason.is_empty() {
        detail.push_str(": ");
        detail.push_str(&d.reason);
    }
    if !how.is_empty() {
        detail = format!("{how}; {detail}");
    }
    Event::new(kind).target(&d.id).detail(detail)
}
