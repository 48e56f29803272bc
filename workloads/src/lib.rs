//! fencepost workloads: what runs against Redis.
//!
//! Lock clients ([`lock`]), the protected resource ([`resource`]), the lock workload's client
//! loop ([`critical_section`]), and the hooks through which the harness injects client-side
//! faults: a pause point ([`pause`]) and a skewable clock ([`clock`]). Ops are recorded through
//! the [`record::Record`] trait; where the history goes is the harness's business.

pub mod clock;
pub mod conn;
pub mod critical_section;
pub mod lock;
pub mod outcome;
pub mod pause;
pub mod record;
pub mod resource;
