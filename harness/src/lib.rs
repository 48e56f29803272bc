//! fencepost's harness: scenario files, real redis-server processes, nemeses
//! and clients (plug-ins), the recorder, the results store, judging, reports and the suite. The `fencepost` binary is a thin shell over it.

pub mod bench;
pub mod bisect;
pub mod check_model;
pub mod cli;
pub mod clients;
pub mod doctor;
pub mod duration;
pub mod explore;
pub mod handles;
pub mod interrupt;
pub mod invalid;
pub mod judge;
pub mod matrix;
pub mod nemesis;
pub mod nodes;
pub mod private_dir;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod seed;
pub mod servers;
pub mod shrink;
pub mod store;
pub mod suggest;
pub mod suite;
pub mod topology;
pub mod versions;

/// The fault proxy, a crate of its own ([`fencepost_proxy`]).
pub use fencepost_proxy as proxy;
