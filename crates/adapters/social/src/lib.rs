//! # multivio-social
//!
//! OAuth clients and publishers, one module per platform. Every base URL is configurable so
//! tests point the adapters at local fake servers.
