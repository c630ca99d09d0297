//! The HTTP API's request and response bodies. They are separate from the domain's types:
//! requests reject unknown fields (no mass assignment of `user_id`, `status`, quota or plan),
//! and conversions to and from the domain are explicit.
//!
//! One module per resource, as in the routes (`me`, `providers`, `connections`, `posts`,
//! `media`, `billing`), plus what several share (`common`) and the error answers' schema
//! (`problem`). Everything is re-exported here: handlers and the OpenAPI document name
//! `crate::dto::X`, and schema names are the type names.

/// `Debug` that names the fields after `;` without their values: authorisation codes, states,
/// request tokens, verifiers, passwords and mailed tokens never reach a log through a
/// request's or an answer's `Debug`.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* ; $($hidden:ident),* }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"[redacted]"))*
                    .finish()
            }
        }
    };
}

mod billing;
mod common;
mod connections;
mod me;
mod media;
mod posts;
mod problem;
mod providers;
pub mod rules;

pub use billing::*;
pub use common::*;
pub use connections::*;
pub use me::*;
pub use media::*;
pub use posts::*;
pub use problem::*;
pub use providers::*;
pub use rules::{PlatformName, PostStatusName};
