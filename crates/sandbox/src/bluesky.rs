//! The fake of bluesky.

use actix_web::web;

use crate::common::SandboxPost;

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {}

pub fn configure(_cfg: &mut web::ServiceConfig) {}

pub fn posts(_state: &State) -> Vec<SandboxPost> {
    Vec::new()
}
