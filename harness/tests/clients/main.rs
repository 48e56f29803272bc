//! Lock libraries as client processes: the adapters, the client protocol, and every shipped library fault-free.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod clients;
mod field_faults;
mod libraries;
mod node_versions;
mod php;
mod python_versions;
mod wrong_answers;
