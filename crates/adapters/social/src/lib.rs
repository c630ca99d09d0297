//! # multivio-social
//!
//! The platform adapters: OAuth clients and publishers, one module per platform, and what
//! they share ([`http`], [`pkce`], [`oauth1`], [`oauth2`] for the plain OAuth 2.0 token
//! endpoints, and [`meta`] for Meta's Graph APIs). Every base URL is configurable, so tests and
//! local runs point the adapters at the sandbox's fakes.
//!
//! [`Registry`] is the `Platforms` port: the clients configured in this deployment, by
//! provider. A provider without a client is "not configured": connecting and publishing to it
//! answer so, instead of failing later.

pub mod bluesky;
pub mod facebook;
pub mod http;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
mod matching;
pub mod meta;
pub mod oauth1;
pub mod oauth2;
pub mod pinterest;
pub mod pkce;
mod registry;
pub mod threads;
pub mod tiktok;
pub mod x;
pub mod youtube;

pub use registry::Registry;
