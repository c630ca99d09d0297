//! # multivio-app
//!
//! Multivio's use cases. Each one loads through the ports, applies the rules of
//! `multivio-domain`, and persists through the ports.
