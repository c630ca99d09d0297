//! # multivio-postgres
