//! # multivio-domain
//!
//! The entities, value objects and business rules of Multivio, a multi-tenant social media
//! manager. This crate is pure: it performs no I/O, spawns no tasks and knows nothing of the
//! database or HTTP. Other Rust services can embed it to validate posts, count text the way each
//! platform counts it, or apply the quota and primary-account rules.

pub mod provider;

pub use provider::Provider;
