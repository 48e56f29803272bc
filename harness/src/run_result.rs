//! What a run concluded: `results.json`, and the summary a person reads.

use crate::expect::Judgement;
use crate::store::RunMeta;
use checkers::run::RunChecks;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub meta: RunMeta,
    pub description: String,
    pub lock: String,
    pub fenced: bool,
    pub faults: Vec<String>,
    pub run_dir: String,
    /// The run was stopped early by SIGINT/SIGTERM.
    pub interrupted: bool,
    /// The history's last line was cut short (the harness was killed mid-write).
    pub torn_last_line: Option<usize>,
    /// History span, from first to last op.
    pub history_ms: u64,
    pub checks: RunChecks,
    /// The lock's acquire/release ops checked as a linearizable mutex with owners (`lock`
    /// model); absent for workloads without a lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<checkers::linearizable::Outcome>,
    pub expectations: Vec<Judgement>,
    /// Every expectation held (and there was at least one).
    pub met: bool,
}

impl RunResult {
    pub fn exit_code(&self) -> i32 {
        if self.met {
            0
        } else {
            1
        }
    }

    /// The summary, as plain text (Markdown-compatible).
    pub fn summary(&self) -> String {
        let c = &self.checks;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# fencepost: {} — {}",
            self.meta.scenario,
            verdict_word(self.met)
        );
        if !self.description.is_empty() {
            let _ = writeln!(s, "\n{}", self.description);
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "- lock `{}`, resource {}, faults: {}",
            self.lock,
            if self.fenced { "fenced" } else { "unfenced" },
            if self.faults.is_empty() {
                "none".into()
            } else {
                self.faults.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "- ops: {} invoked ({} ok, {} fail, {} info), {} grants, {} denials, {} faults, over {:.1} s",
            c.counts.invocations,
            c.counts.ok,
            c.counts.fail,
            c.counts.info,
            c.counts.grants,
            c.counts.denials,
            c.counts.faults,
            self.history_ms as f64 / 1000.0
        );
        if self.interrupted {
            let _ = writeln!(s, "- **interrupted**: the run was stopped early; the verdict covers the partial history");
        }
        if let Some(l) = self.torn_last_line {
            let _ = writeln!(s, "- history line {l} was torn (cut short mid-write) and was skipped; everything before it was read");
        }
        let _ = writeln!(s, "\n## Checkers\n");
        let ex = &c.exclusion;
        let _ = writeln!(
            s,
            "- mutual exclusion (client history): **{}** — {} overlapping critical span(s), {} release(s) of another client's lock, {} access(es) after the client's own validity end",
            c.exclusion_validity,
            ex.overlaps.len(),
            ex.foreign_releases.len(),
            ex.late_accesses.len()
        );
        if let Some(o) = ex.overlaps.first() {
            let _ = writeln!(
                s,
                "  - first: {} (fence {}) held {:.3}–{:.3} s while {} (fence {}) held {:.3}–{:.3} s; overlap {:.1} ms",
                o.first.process,
                o.first.fence,
                secs(o.first.start_ns),
                secs(o.first.end_ns),
                o.second.process,
                o.second.fence,
                secs(o.second.start_ns),
                secs(o.second.end_ns),
                (o.overlap_end_ns - o.overlap_start_ns) as f64 / 1e6
            );
        }
        for r in ex.foreign_releases.iter().take(3) {
            let victim = match (r.victim, r.victim_fence) {
                (Some(v), Some(f)) => format!("{v}'s lock (fence {f})"),
                _ => "a later holder's lock".into(),
            };
            let _ = writeln!(
                s,
                "  - release by {} (fence {}, op {}) at {:.3} s deleted {}",
                r.process,
                r.fence,
                r.index,
                secs(r.invoke_ns),
                victim
            );
        }
        if let Some(l) = ex.late_accesses.first() {
            let _ = writeln!(
                s,
                "  - first late access: {} {:?} under fence {} at {:.3} s, {:.1} ms after its validity ended",
                l.process,
                l.f,
                l.fence,
                secs(l.invoke_ns),
                l.late_by_ns as f64 / 1e6
            );
        }
        // Workloads without the protected resource (counters, limiters) leave its log empty:
        // say so instead of reporting the resource's checkers as if they had judged something.
        let resource_unused = c.fencing.as_ref().is_some_and(|f| f.accesses == 0)
            && (c.counter.is_some() || c.window.is_some());
        if resource_unused {
            let _ = writeln!(s, "- fencing and lost updates: not judged — this workload does not use the protected resource");
        } else {
            match &c.fencing {
                Some(f) => {
                    let _ = writeln!(
                        s,
                        "- fencing (resource log): **{}** — {} stale access(es) accepted, {} prevented by fencing, of {} accesses",
                        c.fencing_validity,
                        f.stale_accepted.len(),
                        f.prevented.len(),
                        f.accesses
                    );
                    if let Some(a) = f.stale_accepted.first() {
                        let _ = writeln!(
                            s,
                            "  - first: access #{} by {} ({:?}) under fence {} accepted after fence {} had been seen",
                            a.seq,
                            a.process,
                            a.op,
                            a.fence.unwrap_or(0),
                            a.highest_before
                        );
                    }
                }
                None => {
                    let _ = writeln!(s, "- fencing: **unknown** — no resource log was saved");
                }
            }
            match &c.lost_updates {
                Some(l) => {
                    let _ = writeln!(
                        s,
                        "- lost updates (resource counter): **{}** — {} write(s) accepted, final counter {}, {} increment(s) lost",
                        c.lost_updates_validity,
                        l.accepted_writes,
                        l.final_value.map_or("unknown".into(), |v| v.to_string()),
                        l.lost.map_or("unknown".into(), |v| v.to_string())
                    );
                }
                None => {
                    let _ = writeln!(s, "- lost updates: **unknown** — no resource log was saved");
                }
            }
        }
        if let Some(k) = &c.counter {
            let _ = writeln!(
                s,
                "- counter (adds and reads): **{}** — {} add(s) acknowledged, {} failed, {} indeterminate; final read {}; ≥ {} acknowledged increment(s) lost, ≥ {} duplicated, in {} observation(s) out of bounds",
                c.counter_validity,
                k.adds_ok,
                k.adds_failed,
                k.adds_indeterminate,
                k.final_value.map_or("none".into(), |v| v.to_string()),
                k.lost,
                k.duplicated,
                k.anomalies.len()
            );
            for a in k.anomalies.iter().take(3) {
                let faults: Vec<String> = a
                    .faults
                    .iter()
                    .map(|f| format!("{} {}", f.kind, f.target))
                    .collect();
                let _ = writeln!(
                    s,
                    "  - {} {:?} at {:.3}–{:.3} s read {} (bounds {}..={}): {} {:?}, since {:.3} s; faults then: {}",
                    a.process,
                    a.f,
                    secs(a.invoke_ns),
                    secs(a.complete_ns),
                    a.value,
                    a.lower,
                    a.upper,
                    a.count,
                    a.kind,
                    secs(a.since_ns),
                    if faults.is_empty() { "none".into() } else { faults.join(", ") }
                );
            }
        }
        if let Some(w) = &c.window {
            let _ = writeln!(
                s,
                "- rate window (limit {} per {} ms): **{}** — {} request(s): {} admitted, {} rejected, {} indeterminate; at most {} admitted in one {} ms interval; {} over-admitting interval(s)",
                w.limit,
                w.window_ns / 1_000_000,
                c.window_validity,
                w.requests,
                w.admitted,
                w.rejected,
                w.indeterminate,
                w.max_in_window,
                w.window_ns / 1_000_000,
                w.over_admissions_total
            );
            if let Some(o) = w.over_admissions.iter().max_by_key(|o| o.admitted) {
                let _ = writeln!(
                    s,
                    "  - largest: {} admitted within {:.3}–{:.3} s ({:.0} ms); faults then: {}",
                    o.admitted,
                    secs(o.from_ns),
                    secs(o.to_ns),
                    (o.to_ns - o.from_ns) as f64 / 1e6,
                    if o.faults.is_empty() {
                        "none".into()
                    } else {
                        o.faults
                            .iter()
                            .map(|f| f.kind.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
            }
        }
        if let Some(l) = &self.linearizability {
            use checkers::linearizable::Linearizability;
            let verdict = match l.verdict {
                Linearizability::Ok => "linearizable",
                Linearizability::Illegal => "not linearizable",
                Linearizability::Unknown => "unknown",
            };
            let _ = writeln!(
                s,
                "- lock as a mutex with owners (`lock` model, acquire/release only): **{verdict}** — {} ops in {:.0} ms",
                l.ops, l.elapsed_ms
            );
            if let Some(w) = &l.witness {
                let _ = writeln!(
                    s,
                    "  - cannot be linearized: {} (op {})",
                    w.op.description, w.op.invoke_index
                );
                match &w.explanation {
                    Some(e) => {
                        let _ = writeln!(s, "  - {e}");
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            "  - lease expiry is not an op of this model: it judges whether the lock behaved as a mutex; the mutual-exclusion checker judges whether two clients acted on it"
                        );
                    }
                }
            }
            if let Some(r) = &l.unknown_reason {
                let _ = writeln!(s, "  - {r}");
            }
        }
        if let Some(t) = c.first_violation_ns {
            let _ = writeln!(s, "- time to first violation: {:.3} s", secs(t));
        }
        let _ = writeln!(s, "- overall: **{}**", c.validity);
        let _ = writeln!(s, "\n## Expectations\n");
        if self.expectations.is_empty() {
            let _ = writeln!(
                s,
                "- (the scenario states none: a run without expectations never passes)"
            );
        }
        for j in &self.expectations {
            let _ = writeln!(
                s,
                "- {} {}: expected {}, got {}",
                if j.met { "✔" } else { "✘" },
                j.what,
                j.expected,
                j.actual
            );
        }
        let _ = writeln!(s, "\nseed {} · run {}", self.meta.seed, self.run_dir);
        let _ = writeln!(s, "reproduce: `{}`", self.meta.reproduce);
        s
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn verdict_word(met: bool) -> &'static str {
    if met {
        "expectations met"
    } else {
        "EXPECTATIONS NOT MET"
    }
}
