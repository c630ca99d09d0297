//! # multivio-app
//!
//! Multivio's use cases. Each one loads through the ports, applies the rules of
//! `multivio-domain`, and persists through the ports.
#![warn(missing_docs)]

pub mod billing;
pub mod connections;
pub mod credentials;
pub mod error;
pub mod idempotency;
pub mod media;
pub mod posts;
pub mod quota;
pub mod services;
pub mod users;
pub mod worker;

#[cfg(test)]
mod testing;

pub use error::{AppError, AppResult};
pub use services::{Ports, Services, Settings};
