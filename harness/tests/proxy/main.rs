//! The fault proxy: its Toxiproxy API (and a Toxiproxy client no one here wrote against it), its toxics on real connections, churn, and the network it gives the nemeses.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod churn;
mod faults;
mod network;
mod toxiproxy_rust;
