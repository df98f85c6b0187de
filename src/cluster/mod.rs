//! Several nodes, one truth: this node's part in an ayadns cluster, through etcd.
//!
//! A service (it imports only leaves: config, std, serde) with a narrow interface:
//! - [`Cluster`] — the handle ([`Cluster::start`] needs no network; `shutdown`/`abandon`);
//!   holds a lease for this node and registers `nodes/<node>` under it.
//! - Control state: [`Cluster::commit`] (changes + audit entry, one transaction, under a
//!   [`Guard`]), [`Cluster::delete_if_unchanged`] (exactly-once expiry),
//!   [`Cluster::audit_trail`].
//! - Health: [`Cluster::publish_vote`] (on change only), [`Cluster::publish_latency`]
//!   (coarse), [`Cluster::withdraw_vote`]; all on the node's lease.
//! - The view: [`Cluster::subscribe`] yields each reconciled [`ClusterView`] (control state,
//!   nodes, fresh votes and latency, at one revision), kept by the watcher across
//!   disconnections and compactions.
//! - [`rendezvous`]: which live member of a region probes a target.
//! - [`LocalCache`]: the last view in the node's SQLite file, for restarts while etcd is down.
//! - [`ClusterCounters`]: connected, revision, sync age, as atomics; [`link`]: their
//!   changes told to `[[notify]]` webhooks ([`Cluster::watch_link`]).
//!
//! Errors are [`ClusterError`]: `Conflict` for a lost race, `Unavailable` when etcd cannot be
//! reached (an API answers 503 with its message). When etcd is gone the node keeps its last
//! view; nothing here ever blocks the query path. The key layout is in [`keys`].
//!
//! # Wiring (for the layers above)
//!
//! - Start-up: `LocalCache::open(state_file, prefix)?.load()?` → `Cluster::start(
//!   Settings::from_config(&cfg), restored)?`, then `cache.spawn_writer(cluster.subscribe())`;
//!   apply `cluster.view()` before the first answer (a restored view is there at once).
//! - ops: a mutation becomes [`ControlOp`]s under `overrides/<id>`, `drills/<id>` … committed
//!   with its audit row and `Guard::UnchangedSince(view.revision())` (or `KeysAt`); `Conflict`
//!   → 409, `Unavailable` → 503. Expiry and drill auto-revert: every node scans
//!   `view.control_under("overrides/")` on a timer and calls `delete_if_unchanged(key,
//!   entry.mod_revision, audit)`; one node wins, the others get `Ok(None)`.
//! - health: after rise/fall, `publish_vote(target, vantage, verdict)` (also for agents'
//!   regions); the engine reads `view.votes_for(target)` (a vantage may have several nodes'
//!   votes: take the newest `mod_revision`), and probes only the targets for which
//!   `rendezvous::owner(&view.members(region), target) == Some(node)`.
//! - metrics and status: [`Cluster::counters`], [`ClusterView::nodes`].

mod cache;
mod control;
mod counters;
mod error;
pub mod keys;
pub mod link;
mod node;
mod publish;
pub mod rendezvous;
mod settings;
mod view;
mod watcher;

pub use cache::LocalCache;
pub use control::{AuditRecord, ControlOp, Guard, MAX_AUDIT_LIST, MAX_COMMIT_BYTES, MAX_OPS};
pub use counters::ClusterCounters;
pub use error::ClusterError;
pub use node::{Cluster, Restored};
pub use publish::MAX_RTT;
pub use settings::{LATENCY_CHANGE, LATENCY_INTERVAL, REQUEST_TIMEOUT, Settings};
pub use view::{ClusterView, ControlEntry, Latency, NodeInfo, RawEntry, Verdict, Vote};
