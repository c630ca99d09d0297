//! # multivio-ports
//!
//! The traits Multivio's use cases need from the outside world. Adapters (PostgreSQL, platform
//! clients, the token vault, storage, mail, billing) implement them; `multivio-app` depends only
//! on these traits. With the `mocks` feature every port has a mockall mock.
