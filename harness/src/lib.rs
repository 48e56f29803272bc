//! fencepost's harness: scenario files, real redis-server processes, the fault proxy, nemeses,
//! the recorder, the results store and reports. The `fencepost` binary is a thin shell over it.

pub mod analysis;
pub mod check_model;
pub mod cli;
pub mod cluster;
pub mod doctor;
pub mod duration;
pub mod expect;
pub mod external;
pub mod interrupt;
pub mod nemesis;
pub mod proxy;
pub mod recorder;
pub mod report;
pub mod run_result;
pub mod runner;
pub mod scenario;
pub mod store;
pub mod topology;
pub mod workload;
