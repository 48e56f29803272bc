//! Protocol violations: every time an adapter broke the client protocol mid-run, journaled.
//!
//! A line that is not JSON, a reply to an op not asked, a number out of range: the op is `info`
//! and the process is replaced (see [`super::client`]), so a run goes on — but a run whose
//! adapter keeps breaking the protocol is not judging the library, it is judging the adapter.
//! Each violation is journaled as it happens to `clients/protocol.jsonl` (the slot, the op, how
//! many in a row for that slot, the error clipped), and the judging counts them: named in the
//! summary and results.json always, and past [`Bound`] the run is `unknown`, never met.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The journal's file name in the run's `clients/` folder.
pub const FILE: &str = "protocol.jsonl";

/// One violation, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Violation {
    /// When (the history's clock).
    pub time_ns: u64,
    /// The client slot and the op asked.
    pub slot: u32,
    pub op: String,
    /// How many violations in a row this slot has had, this one included.
    pub in_a_row: u32,
    /// What was wrong (clipped).
    pub error: String,
}

/// Appends violations to the journal, one line each, as they happen.
pub struct Journal {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Journal {
    /// A journal in `clients_dir`, created at the first violation.
    pub fn new(clients_dir: &Path) -> Journal {
        Journal {
            path: clients_dir.join(FILE),
            file: Mutex::new(None),
        }
    }

    pub fn record(&self, v: &Violation) {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(file) => *f = Some(file),
                Err(e) => {
                    eprintln!("fencepost: cannot write {}: {e}", self.path.display());
                    return;
                }
            }
        }
        if let Some(file) = f.as_mut() {
            let line = serde_json::to_string(v).expect("a violation serializes");
            let _ = writeln!(file, "{line}");
        }
    }
}

/// How many violations a run may have and still be judged: at most `ops_share` of its client
/// ops, and never `in_a_row` in a row for one slot.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub ops_share: f64,
    pub in_a_row: u32,
}

pub const BOUND: Bound = Bound {
    ops_share: 0.01,
    in_a_row: 3,
};

/// What a run's journal says, for results.json and the summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProtocolReport {
    pub violations: u64,
    /// The most in a row for one slot.
    pub most_in_a_row: u32,
    /// The client ops of the run (the share's base).
    pub ops: u64,
    /// The first few, in full.
    pub first: Vec<Violation>,
    /// Past the bound: the run cannot be judged.
    pub past_bound: bool,
}

/// How many violations a report keeps in full.
const KEPT: usize = 5;

impl ProtocolReport {
    /// Reads a run's journal (none: no violation); `ops` is the run's client ops.
    pub fn read(clients_dir: &Path, ops: u64) -> anyhow::Result<Option<ProtocolReport>> {
        let path = clients_dir.join(FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let mut r = ProtocolReport {
            ops,
            ..ProtocolReport::default()
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Violation = serde_json::from_str(line).map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}: {}",
                    path.display(),
                    i + 1,
                    checkers::quote::clip_message(&e.to_string())
                )
            })?;
            r.violations += 1;
            r.most_in_a_row = r.most_in_a_row.max(v.in_a_row);
            if r.first.len() < KEPT {
                r.first.push(v);
            }
        }
        r.past_bound =
            r.violations as f64 > BOUND.ops_share * ops as f64 || r.most_in_a_row >= BOUND.in_a_row;
        Ok(Some(r))
    }

    /// One line for the summary.
    pub fn line(&self) -> String {
        format!(
            "{} protocol violation(s) by the client adapter in {} ops (at most {} in a row){}{}",
            self.violations,
            self.ops,
            self.most_in_a_row,
            if self.past_bound {
                format!(
                    " — past the bound ({:.0} % of ops, or {} in a row): the run judged the adapter, not the library",
                    BOUND.ops_share * 100.0,
                    BOUND.in_a_row
                )
            } else {
                String::new()
            },
            self.first
                .first()
                .map_or_else(String::new, |v| format!("; first: {}", v.error))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_a_share_of_ops_or_a_run_in_a_row() {
        let dir =
            std::env::temp_dir().join(format!("fencepost-violations-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(ProtocolReport::read(&dir, 100).unwrap().is_none());
        let j = Journal::new(&dir);
        let v = |slot, in_a_row| Violation {
            time_ns: 1,
            slot,
            op: "acquire".into(),
            in_a_row,
            error: "not JSON".into(),
        };
        j.record(&v(0, 1));
        let r = ProtocolReport::read(&dir, 1000).unwrap().unwrap();
        assert_eq!((r.violations, r.past_bound), (1, false));
        assert!(r.line().contains("1 protocol violation(s)"), "{}", r.line());
        let r = ProtocolReport::read(&dir, 50).unwrap().unwrap();
        assert!(r.past_bound, "1 in 50 ops is past 1 %");
        j.record(&v(1, 1));
        j.record(&v(1, 2));
        j.record(&v(1, 3));
        let r = ProtocolReport::read(&dir, 100_000).unwrap().unwrap();
        assert_eq!((r.violations, r.most_in_a_row, r.past_bound), (4, 3, true));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
