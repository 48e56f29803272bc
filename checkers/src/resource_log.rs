//! The protected resource's own record of every access, in the order the resource applied them.
//!
//! The client-side history says what each client *believed* and when it invoked an access; only
//! the resource knows the order in which accesses actually landed (a delayed packet lands late).
//! The resource appends one entry per access atomically with the access itself (one Lua script),
//! so `seq` is the true order of application.

use crate::history::Process;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessOp {
    Read,
    Write,
}

/// One access as the resource saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Order of application at the resource, from 1.
    pub seq: u64,
    pub process: Process,
    pub op: AccessOp,
    /// Fencing token presented with the access.
    pub fence: Option<u64>,
    /// Whether the resource applied it (fenced mode rejects stale tokens).
    pub accepted: bool,
    /// Value read, or value written.
    pub value: i64,
    /// Highest token the resource had seen before this access.
    pub highest_before: u64,
    /// The resource node's wall clock at application (microseconds), for charts only.
    pub server_time_us: u64,
}

/// Everything the resource recorded in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLog {
    /// Whether the resource enforced fencing tokens.
    pub fenced: bool,
    /// Accesses in `seq` order.
    pub accesses: Vec<Access>,
    /// The counter's value when the run ended (`None` if the resource could not be read).
    pub final_value: Option<i64>,
}

impl ResourceLog {
    /// Sorts by `seq` and checks there are no gaps or duplicates: a log with holes cannot support
    /// a verdict on order.
    pub fn validate(&self) -> Result<(), String> {
        for (i, a) in self.accesses.iter().enumerate() {
            if a.seq != i as u64 + 1 {
                return Err(format!(
                    "resource log entry {} has seq {} (expected {}): entries must be complete and in order",
                    i + 1,
                    a.seq,
                    i + 1
                ));
            }
        }
        Ok(())
    }
}
