//! fencepost workloads: what runs against Redis.
//!
//! Lock clients ([`lock`]), the protected resource ([`resource`]), the lock workload's client
//! loop ([`critical_section`]), counters ([`counter`]) and rate limiters ([`limiter`]) on a fixed
//! node or the primary Sentinel names ([`primary`]), and the hooks through which the harness injects client-side
//! faults: a pause point ([`pause`]) and a skewable clock ([`clock`]). Ops are recorded through
//! the [`record::Record`] trait; where the history goes is the harness's business.

pub mod clock;
pub mod conn;
pub mod counter;
pub mod critical_section;
pub mod cycle;
pub mod limiter;
pub mod lock;
pub mod messaging;
pub mod outcome;
pub mod pause;
pub mod primary;
pub mod record;
pub mod resource;
