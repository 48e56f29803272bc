//! A saved run as a report shows it ([`SavedRun`]): the run folder's history, its resource log
//! and its judged result, read once and cross-referenced for the charts and the page. (Not
//! `checkers::Evidence`, which is what a checker judged from.)
//!
//! The checkers work on two records that share no clock: the clients' history (harness monotonic
//! time) and the resource's own access log (order of application). A chart has one time axis, so
//! each resource access is placed at the history op that made it: the k-th access by client c
//! under fence f of kind read/write is the k-th such invocation in the history.

use super::long_run::{self, LongRun};
use super::ReportError;
use crate::judge::RunResult;
use crate::store;
use checkers::delivery;
use checkers::exclusion::{self, Span};
use checkers::history::{Call, JsonlOps};
use checkers::{Access, AccessOp, FaultWindow, History, Nanos, Process, ResourceLog, Value, F};
use std::collections::HashMap;
use std::path::Path;

/// Zoom charts a long run gets: one per violation, for the first few.
pub const ZOOMS: usize = 3;

/// Where a resource access sits in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Invocation time of the history op that made the access.
    pub invoke_ns: Nanos,
    /// History index of that invocation.
    pub index: u64,
}

/// A saved run, read for its report: everything its charts and page draw from.
#[derive(Debug)]
pub struct SavedRun {
    pub history: History,
    pub calls: Vec<Call>,
    pub resource: Option<ResourceLog>,
    pub result: RunResult,
    /// Every believed-held span, from the mutual-exclusion checker's own definition.
    pub spans: Vec<Span>,
    pub faults: Vec<FaultWindow>,
    /// Time of the last op (the right edge of every chart).
    pub end_ns: Nanos,
    /// One lane per client: 0..lanes.
    pub lanes: u32,
    /// What each lane's client did, when a messaging run says (`producer`, `subscriber`,
    /// `consumer`, `replay`); `None`: a client of the other workloads.
    pub roles: Vec<Option<&'static str>>,
    /// Messaging runs: every message lost (the delivery checker's own judgement).
    pub lost_messages: Vec<delivery::LostMessage>,
    placed: HashMap<u64, Placed>,
    /// A run too long to read whole: what its charts draw. `history` then holds only the ops
    /// around its first violations.
    pub long: Option<LongRun>,
}

impl SavedRun {
    /// Reads the run folder's history and resource log; `result` is the run's judged result
    /// (from the runner, or from re-judging the folder).
    pub fn load(run_dir: &Path, result: RunResult) -> Result<SavedRun, ReportError> {
        let history_path = run_dir.join(store::HISTORY);
        let file = std::fs::File::open(&history_path).map_err(|source| ReportError::Io {
            path: history_path.clone(),
            source,
        })?;
        let name = history_path.display().to_string();
        let ops = JsonlOps::new(&name, std::io::BufReader::new(file));
        let zooms = super::timeline::violation_windows(&result, ZOOMS);
        let resource_path = run_dir.join(store::RESOURCE);
        let resource = if resource_path.exists() {
            Some(super::read_json::<ResourceLog>(&resource_path)?)
        } else {
            None
        };
        Ok(match long_run::read(ops, zooms)? {
            long_run::Read::Whole(history) => {
                history
                    .validate()
                    .map_err(|source| checkers::history::ParseError::Malformed {
                        file: name,
                        source,
                    })?;
                SavedRun::new(history, resource, result)
            }
            long_run::Read::Long(around, long) => {
                // Accesses are placed by counting a client's invocations from the start,
                // which the ops around the violations cannot do: no resource marks in zooms.
                let mut run = SavedRun::new(around, None, result);
                run.resource = resource;
                run.faults = long.faults.clone();
                run.end_ns = long.end_ns;
                run.lanes = run.lanes.max(long.lanes);
                run.roles.resize(run.lanes as usize, None);
                run.long = Some(long);
                run
            }
        })
    }

    /// Cross-references an already-read history and resource log.
    pub fn new(history: History, resource: Option<ResourceLog>, result: RunResult) -> SavedRun {
        let calls = history.calls();
        let spans = exclusion::spans(&history);
        let faults = history.fault_windows();
        let end_ns = history.ops.last().map_or(0, |o| o.time_ns);
        let lanes = history
            .ops
            .iter()
            .filter_map(|o| match o.process {
                Process::Client(c) => Some(c + 1),
                Process::Nemesis => None,
            })
            .max()
            .unwrap_or(0);
        let placed = resource
            .as_ref()
            .map(|log| place_accesses(&calls, log))
            .unwrap_or_default();
        let roles = lane_roles(&history, lanes);
        let lost_messages = result
            .checks
            .delivery
            .as_ref()
            .map(|d| delivery::lost_messages(&history, &delivery::config_of(d)))
            .unwrap_or_default();
        SavedRun {
            history,
            calls,
            resource,
            result,
            spans,
            faults,
            end_ns,
            lanes,
            roles,
            lost_messages,
            placed,
            long: None,
        }
    }

    /// A lane's label: `producer 0`, `subscriber 2`, or `client 3`.
    pub fn lane_name(&self, lane: u32) -> String {
        let role = self.roles.get(lane as usize).copied().flatten();
        format!("{} {lane}", role.unwrap_or("client"))
    }

    /// The history op that made a resource access, when the history has it.
    pub fn placed(&self, access: &Access) -> Option<Placed> {
        self.placed.get(&access.seq).copied()
    }
}

/// Matches each resource access (by seq) to its history invocation.
fn place_accesses(calls: &[Call], log: &ResourceLog) -> HashMap<u64, Placed> {
    type Key = (Process, u64, AccessOp);
    let mut invocations: HashMap<Key, Vec<Placed>> = HashMap::new();
    for call in calls {
        let op = match call.f {
            F::Read => AccessOp::Read,
            F::Write => AccessOp::Write,
            _ => continue,
        };
        let Value::Access {
            fence: Some(fence), ..
        } = call.invoke.value
        else {
            continue;
        };
        invocations
            .entry((call.process, fence, op))
            .or_default()
            .push(Placed {
                invoke_ns: call.invoke_ns(),
                index: call.invoke.index,
            });
    }
    let mut taken: HashMap<Key, usize> = HashMap::new();
    let mut placed = HashMap::new();
    for a in &log.accesses {
        let Some(fence) = a.fence else { continue };
        let key = (a.process, fence, a.op);
        let k = taken.entry(key).or_insert(0);
        if let Some(p) = invocations.get(&key).and_then(|v| v.get(*k)) {
            placed.insert(a.seq, *p);
        }
        *k += 1;
    }
    placed
}

/// The client a fault targets, when its target names one (`client 3`).
pub fn target_client(target: &str) -> Option<u32> {
    target.strip_prefix("client ")?.trim().parse().ok()
}

/// Each lane's messaging role, from its first messaging op: a publisher is a producer; a receiver
/// is a subscriber when its group is its own (`s{lane}`), the replay when it reads the stream back,
/// a consumer otherwise.
fn lane_roles(history: &History, lanes: u32) -> Vec<Option<&'static str>> {
    let mut roles = vec![None; lanes as usize];
    for op in &history.ops {
        let (Process::Client(c), Value::Message(m)) = (op.process, &op.value) else {
            continue;
        };
        let Some(slot) = roles.get_mut(c as usize).filter(|r| r.is_none()) else {
            continue;
        };
        *slot = Some(match op.f {
            F::Publish => "producer",
            _ if m.group == format!("s{c}") => "subscriber",
            _ if m.group == workloads::messaging::consumer::REPLAY => "replay",
            _ => "consumer",
        });
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_targets_name_clients() {
        assert_eq!(target_client("client 3"), Some(3));
        assert_eq!(target_client("n1,n2 | n3"), None);
    }
}
