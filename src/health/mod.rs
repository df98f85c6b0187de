//! Health: what is up and how fast, as the policy chain sees it.
//!
//! The chain never probes; it reads a [`HealthView`], an immutable value inside the
//! snapshot. Probers (and, later, overrides) build a new view when something changes and swap
//! a new snapshot in. Derived numbers (endpoints up per pool) are computed then, not per query.

mod view;

pub use view::HealthView;
