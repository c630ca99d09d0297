//! # multivio (the server)
//!
//! Configuration, wiring and the commands of the `multivio` binary. [`Application::build`] is
//! the one place the application is assembled — the binary and every API test go through it.

mod application;
pub mod config;
pub mod database;
pub mod outbound;
pub mod platforms;
pub mod wiring;
pub mod worker;

pub use application::{Application, run_worker};
pub use config::Config;
pub use wiring::{LOCAL_PROJECT, Overrides};
