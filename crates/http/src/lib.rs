//! # multivio-http
