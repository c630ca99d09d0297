//! # multivio-domain
//!
//! The entities, value objects and business rules of Multivio, a multi-tenant social media
//! manager. This crate is pure: it performs no I/O, spawns no tasks and knows nothing of the
//! database or HTTP. Other Rust services can embed it to validate posts, count text the way each
//! platform counts it, or apply the quota and primary-account rules.
//!
//! ## Map
//!
//! - [`ids`], [`secret`], [`error`]: identifiers, the [`Tenant`] every scoped call runs for,
//!   redacted [`Secret`]s, and [`FieldError`] (what every validating constructor returns).
//! - [`user`]: users, [`user::Username`], profile updates; [`contact`]: [`contact::Email`].
//! - [`connection`]: connected platform accounts, their credentials, and the one-primary rule
//!   ([`connection::primary`]).
//! - [`post`]: posts, targets, per-target results and the lifecycle state machine.
//! - [`content`]: per-platform text and media rules ([`content::validate_for`]), and the check
//!   of a whole post against every platform it targets ([`content::validate_post`]).
//! - [`quota`] and [`subscription`]: plans, the monthly quota, billing events.
//! - [`job`]: publishing jobs and the retry policy. [`media`]: uploaded files.
//! - [`time`]: the range of times kept (years 1 to 9999).
//!
//! ## Embedding: validate a post without a database
//!
//! ```
//! use chrono::{Duration, Utc};
//! use multivio_domain::post::{PostContent, PostInput, Target};
//! use multivio_domain::content::{ValidationOptions, validate_post};
//! use multivio_domain::Provider;
//!
//! let post = PostContent::parse(PostInput {
//!     name: "Launch".into(),
//!     universal_content: Some("a".repeat(290)),
//!     platforms: vec![Target::primary(Provider::X), Target::primary(Provider::Linkedin)],
//!     ..Default::default()
//! })
//! .expect("structurally valid");
//!
//! let now = Utc::now();
//! let report = validate_post(&post, &[], &ValidationOptions::default(), Some(now + Duration::hours(1)), now);
//! assert!(!report.valid);
//! assert_eq!(report.platforms[&Provider::X].limit, 280); // 290 > 280: too long for X
//! assert!(report.platforms[&Provider::Linkedin].valid); // LinkedIn allows 3,000
//! ```
//!
//! A fuller example is `examples/validate_post.rs`.
#![warn(missing_docs)]

pub mod connection;
pub mod contact;
pub mod content;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod job;
pub mod media;
pub mod page;
pub mod post;
pub mod provider;
pub mod quota;
pub mod secret;
pub mod subscription;
mod text;
pub use text::escape_html;
pub mod time;
pub mod user;

pub use error::{FieldError, field_path};
pub use ids::{ConnectionId, FirebaseUid, JobId, MediaId, PostId, Tenant, UserId};
pub use provider::Provider;
pub use secret::Secret;
