//! The audit trail: every mutation through the admin API — overrides, drills, reloads, and
//! rejected attempts too — with time, token name (never the token), source address, the
//! request and the result. Expiries and drill ends are recorded as `system` entries.

pub use crate::api::AuditEntry;
