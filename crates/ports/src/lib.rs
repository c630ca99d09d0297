//! # multivio-ports
//!
//! The traits Multivio's use cases need from the outside world. Adapters (PostgreSQL, platform
//! clients, the token vault, storage, mail, billing) implement them; `multivio-app` depends only
//! on these traits. With the `mocks` feature every port has a mockall mock (`MockUserStore`,
//! `MockPostStore`, …).
//!
//! Every port is object-safe and `Send + Sync`, to be held as `Arc<dyn Port>`. Tenant-scoped
//! methods take the [`Tenant`](multivio_domain::Tenant) and answer `NotFound` for other
//! tenants' rows. Atomicity is part of each method's contract, spelled out on the method; the
//! central one is [`posts::PostStore::apply`], the unit of work for post changes.
#![warn(missing_docs)]

pub mod billing;
pub mod connections;
pub mod error;
pub mod idempotency;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod platform;
pub mod posts;
pub mod status;
pub mod system;
pub mod users;
pub mod vault;

pub use error::{Page, StoreError};
