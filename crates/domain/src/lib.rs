//! # multivio-domain
//!
//! The entities, value objects and business rules of Multivio, a multi-tenant social media
//! manager. This crate is pure: it performs no I/O, spawns no tasks and knows nothing of the
//! database or HTTP. Other Rust services can embed it to validate posts, count text the way each
//! platform counts it, or apply the quota and primary-account rules.
#![warn(missing_docs)]

pub mod connection;
pub mod error;
pub mod ids;
pub mod job;
pub mod media;
pub mod post;
pub mod provider;
pub mod quota;
pub mod secret;
pub mod subscription;
mod text;
pub mod user;
pub mod validation;

pub use error::FieldError;
pub use ids::{ConnectionId, FirebaseUid, JobId, MediaId, PostId, Tenant, UserId};
pub use provider::Provider;
pub use secret::Secret;
pub mod content;
