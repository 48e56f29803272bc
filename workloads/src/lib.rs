//! fencepost workloads.
