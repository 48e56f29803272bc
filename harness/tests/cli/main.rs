//! The command line as a user meets it: flags, bad input, parsers fuzzed, the nightly workflow, the benchmark scripts, and what another local user can see of a run.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod bench_scripts;
mod cli;
mod fuzz_parsers;
mod module_graph;
mod private_run;
mod workflow;
