//! Scenarios end to end on real redis-servers: each fault and workload, long runs, evidence floors, Redis Cluster, the clock library, ACLs.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod acl;
mod clock;
mod counter;
mod evidence;
mod explore;
mod failover;
mod limiter;
mod long_run;
mod messaging;
mod network;
mod node_faults;
mod redis_cluster;
mod redlock;
mod scenarios;
mod servers;
