//! State: endpoint health and its history, kept on disk in SQLite so a restart starts warm.
//!
//! Health is measured continuously; what was last measured (up or down, the consecutive
//! success and failure counts, the last round-trip time) and every up/down change are written
//! to one SQLite file. On start-up the last states are loaded so the first answers already
//! reflect what was known before the restart, and the change history can be shown to
//! operators.
//!
//! **The query path never touches SQLite.** Health code hands records to a [`StateWriter`], a
//! cheap handle onto a channel; a dedicated thread owns the [`StateStore`] (the one
//! connection), coalesces updates and writes them in batches, one transaction each. Reading
//! ([`StateStore::load_states`], [`StateStore::history`]) is for start-up and admin pages.
//!
//! The file runs in WAL mode with `synchronous = NORMAL`: readers never block the writer, a
//! commit costs no fsync, and a crash of the process (even `kill -9`) loses nothing that was
//! committed (a power cut may lose the last commits, never consistency).
//!
//! # Tables
//!
//! | table | what | key |
//! | --- | --- | --- |
//! | `endpoint_state` | the latest health of each (endpoint, region): `up`, `successes`, `failures` (consecutive), `last_rtt_ms`, `last_change`, `last_error`, `updated_at` | `(endpoint, region)` |
//! | `transitions` | every up/down change: `endpoint`, `region` (`*` = the aggregated state), `from_up`, `to_up`, `at`, `reason`; indexed on `at` and on `(endpoint, at)`; pruned by [`Retention`] | `id` (insertion order) |
//! | `overrides`, `drills`, `audit` | the operators' state, read and written by `ops` (`src/ops/store.rs`) | `id` |
//!
//! Times are Unix milliseconds (`INTEGER`), booleans `0`/`1`. The schema version is `PRAGMA
//! user_version`; `schema.rs` applies numbered migrations in order (the second one added the
//! operators' tables), so a new table is a new migration at the end.
//!
//! Files: `record.rs` (the values), `store.rs` (the connection), `schema.rs` (migrations),
//! `retention.rs` (pruning history), `writer.rs` (the background writer), `error.rs`,
//! `time.rs` (SystemTime ↔ Unix ms).

mod error;
mod record;
mod retention;
mod schema;
mod store;
pub(crate) mod time;
mod writer;

pub use error::StateError;
pub use record::{AGGREGATE_REGION, EndpointState, Transition};
pub use retention::Retention;
pub use schema::SCHEMA_VERSION;
pub use store::StateStore;
pub use writer::{MAX_PENDING, StateWriter};
