//! Health: what is up and how fast, as the policy chain sees it.
//!
//! The chain never probes; it reads a [`HealthView`], an immutable value inside the
//! snapshot. Probers (and, later, overrides) build a new view when something changes and swap
//! a new snapshot in. Derived numbers (endpoints up per pool) are computed then, not per query.

pub mod agent;
pub mod aggregate;
pub mod check;
pub mod engine;
pub mod prober;
pub mod targets;
mod view;

pub use view::HealthView;
