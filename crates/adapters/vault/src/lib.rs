//! # multivio-vault
//!
//! Seals OAuth tokens and other secrets at rest (AES-256-GCM with ring).
