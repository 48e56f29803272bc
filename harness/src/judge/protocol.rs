//! Protocol violations of a run's client adapter, as its journal (`clients/protocol.jsonl`,
//! written by [`crate::clients::process::violations`]) tells them: counted, the first few kept,
//! and past a small bound the run judged the adapter, not the library — `unknown`, never met.

use crate::store::{Violation, PROTOCOL_JOURNAL as FILE};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
        let j = crate::clients::process::violations::Journal::new(&dir);
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
