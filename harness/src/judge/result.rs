//! What a run concluded: `results.json`, and the summary a person reads.

use crate::judge::{Judgement, Outcome};
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
    /// The client library the run drove through the client protocol, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::store::ClientInfo>,
    /// The server the nodes ran (none recorded for nodes fencepost did not start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::servers::Server>,
    /// Protocol violations by the client adapter, when it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<super::protocol::ProtocolReport>,
    pub expectations: Vec<Judgement>,
    /// The expectations merged: met, known finding, not met or unknown.
    pub outcome: Outcome,
}

impl RunResult {
    /// Every expectation held, or showed the scenario's known finding.
    pub fn met(&self) -> bool {
        matches!(self.outcome, Outcome::Met | Outcome::Known)
    }

    /// 0 met (or known finding), 1 not met, 3 unknown.
    pub fn exit_code(&self) -> i32 {
        self.outcome.exit_code()
    }

    /// The summary, as plain text (Markdown-compatible).
    pub fn summary(&self) -> String {
        let c = &self.checks;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# fencepost: {} — {}",
            self.meta.scenario,
            verdict_word(self.outcome)
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
        if let Some(v) = &self.server {
            let _ = writeln!(
                s,
                "- server: **{}** ({}, sha256 {})",
                v.label(),
                v.source,
                &v.sha256[..v.sha256.len().min(12)]
            );
        }
        if let Some(k) = &self.client {
            let _ = writeln!(
                s,
                "- client: **{} {}** ({} {}, {}), through the client protocol",
                k.library, k.version, k.package, k.version, k.runtime
            );
        }
        let _ = writeln!(
            s,
            "- ops: {} invoked ({} ok, {} fail, {} info), {} grants, {} denials, {} faults took effect ({} failed), over {:.1} s",
            c.counts.invocations,
            c.counts.ok,
            c.counts.fail,
            c.counts.info,
            c.counts.grants,
            c.counts.denials,
            c.counts.faults,
            c.counts.failed_faults,
            self.history_ms as f64 / 1000.0
        );
        if let Some(p) = &self.protocol {
            let _ = writeln!(s, "- **client protocol**: {}", p.line());
        }
        if self.interrupted {
            let _ = writeln!(s, "- **interrupted**: the run was stopped early; the verdict covers the partial history, and a check that found nothing there proves nothing");
        }
        if let Some(l) = self.torn_last_line {
            let _ = writeln!(s, "- history line {l} was torn (cut short mid-write) and was skipped; everything before it was read");
        }
        let _ = writeln!(s, "\n## Checkers\n");
        for k in &c.checks {
            let _ = writeln!(
                s,
                "- {}{}: **{}** — {}",
                k.name,
                if k.advisory { " (advisory)" } else { "" },
                k.verdict,
                k.headline
            );
            if !k.evidence.is_empty() {
                let _ = writeln!(s, "  - judged from {}", k.evidence_line());
            }
            for d in &k.details {
                let _ = writeln!(s, "  - {d}");
            }
        }
        if let Some(t) = c.first_violation_ns {
            let _ = writeln!(s, "- time to first violation: {:.3} s", t as f64 / 1e9);
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
                j.outcome.mark(),
                j.what,
                j.expected,
                j.actual
            );
            if let Some(k) = &j.known {
                let _ = writeln!(s, "  - known finding — {k}");
            }
        }
        let _ = writeln!(s, "\nseed {} · run {}", self.meta.seed, self.run_dir);
        let _ = writeln!(s, "reproduce: `{}`", self.meta.reproduce);
        s
    }
}

fn verdict_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Met => "expectations met",
        Outcome::Known => "known finding reproduced",
        Outcome::NotMet => "EXPECTATIONS NOT MET",
        Outcome::Unknown => "UNKNOWN (not enough evidence)",
    }
}
