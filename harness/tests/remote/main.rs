//! Set-ups fencepost did not start: Redis nodes behind a Toxiproxy server, and the compose topology in containers.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod docker_compose;
mod external;
