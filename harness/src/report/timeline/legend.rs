//! What a timeline says in words: its title (scenario, seed, what each checker found) and its
//! legend, which names only what this run can show — a legend of marks that cannot appear would be
//! read as "looked for, none found".

use super::{counter, findings, Timeline};
use crate::report::canvas::{self, Swatch};
use crate::report::style;

impl Timeline<'_> {
    /// Scenario and seed, the zoom's stretch, then what each checker found.
    pub(super) fn title(&self) -> String {
        let r = &self.run.result;
        let mut parts = vec![format!("{} · seed {}", r.meta.scenario, r.meta.seed)];
        if self.is_zoom() {
            let (a, b) = self.window.secs();
            let which = if self.run.long.is_some() {
                "a violation"
            } else {
                "the first violation"
            };
            parts.push(format!("zoom on {which}, {a:.3}–{b:.3} s"));
        }
        parts.push(self.exclusion_headline());
        parts.extend(self.finding_headlines());
        parts.join(" · ")
    }

    /// Whether mutual exclusion held: no grants, held, or broken (with its counts).
    fn exclusion_headline(&self) -> String {
        let c = &self.run.result.checks;
        let ex = &c.exclusion;
        if self.run.spans.is_empty() && c.foreign_releases().is_empty() {
            "no lock grants in this run".into()
        } else if ex.overlaps.is_empty() && c.foreign_releases().is_empty() {
            "mutual exclusion held".into()
        } else {
            let foreign = c.foreign_releases().len();
            format!(
                "MUTUAL EXCLUSION BROKEN: {} overlap(s){}",
                ex.overlap_count,
                if foreign > 0 {
                    format!(", {foreign} foreign release(s)")
                } else {
                    String::new()
                }
            )
        }
    }

    /// What the other checkers found: the library's wrong answers, fencing, counter, limiter,
    /// messages (each when it ran).
    fn finding_headlines(&self) -> Vec<String> {
        let c = &self.run.result.checks;
        let mut parts = Vec::new();
        if let Some(b) = c.blame.as_ref().filter(|b| !b.findings.is_empty()) {
            parts.push(format!("LIBRARY: {} wrong answer(s)", b.findings.len()));
        }
        if let Some(f) = c.fencing.as_ref().filter(|f| f.accesses > 0) {
            parts.push(format!(
                "{} stale access(es) accepted, {} rejected by fencing",
                f.stale_accepted.len(),
                f.prevented.len()
            ));
        }
        if let Some(k) = &c.counter {
            parts.push(format!(
                "counter: {} increment(s) lost, {} duplicated",
                k.lost, k.duplicated
            ));
        }
        if let Some(w) = &c.window {
            parts.push(format!(
                "limiter: {} over-admitted interval(s)",
                w.over_admissions_total
            ));
        }
        if let Some(d) = &c.delivery {
            parts.push(format!(
                "messages: {} acknowledged, {} lost, {} duplicate receipt(s)",
                d.published.acknowledged, d.total.lost, d.total.duplicated
            ));
        }
        parts
    }

    /// The legend: the bars, the nodes' lanes, the faults, the marks this run's findings put on
    /// the lanes, the failed and unknown ops, and the zoom outline.
    pub(super) fn legend(&self) -> Vec<(Swatch, String)> {
        let mut entries = self.span_legend();
        entries.extend(self.node_legend());
        entries.extend(canvas::fault_legend(
            self.run.faults.iter().map(|w| w.fault.kind.as_str()),
            0.55,
            " (darker on its target)",
        ));
        entries.extend(self.finding_legend());
        entries.extend(self.mark_legend());
        entries.push((Swatch::Cross(style::FAIL), "op failed".into()));
        entries.push((
            Swatch::Caret(style::INFO),
            "op outcome unknown (info)".into(),
        ));
        if self.zoom.is_some() {
            let what = if self.run.result.checks.exclusion.overlaps.is_empty() {
                "window shown zoomed"
            } else {
                "first overlapping pair / window shown zoomed"
            };
            entries.push((Swatch::Outline(style::INK), what.into()));
        }
        entries
    }

    /// The three colours of a believed-held span, when the run has any.
    fn span_legend(&self) -> Vec<(Swatch, String)> {
        if self.run.spans.is_empty() {
            return Vec::new();
        }
        vec![
            (
                Swatch::Bar(style::HOLD),
                "holds the lock (fencing token)".into(),
            ),
            (
                Swatch::Bar(style::EXPIRED),
                "still acting after its own lease ended".into(),
            ),
            (
                Swatch::Bar(style::OVERLAP),
                "two holders at once (violation)".into(),
            ),
        ]
    }

    /// The nodes' lanes, when the chart has them: whose token the key held, and where the
    /// record is missing.
    fn node_legend(&self) -> Vec<(Swatch, String)> {
        let Some(nodes) = self.nodes.filter(|_| self.lanes.has_nodes()) else {
            return Vec::new();
        };
        let mut entries = vec![(
            Swatch::Palette(&style::CLIENTS),
            "node's key holds a client's token (that client's colour, the square by its name)"
                .into(),
        )];
        if !nodes.record.blind.is_empty() {
            entries.push((
                Swatch::Band(style::tint(style::MUTED, 0.3)),
                "node's record lost (stream down)".into(),
            ));
        }
        entries
    }

    /// Each kind of wrong answer the library gave in this run, numbered when there are several,
    /// and the validity it promised when the chart draws it.
    fn finding_legend(&self) -> Vec<(Swatch, String)> {
        let Some(b) = &self.run.result.checks.blame else {
            return Vec::new();
        };
        let kinds = findings::kinds_present(&b.findings);
        let mut entries: Vec<(Swatch, String)> = kinds
            .iter()
            .map(|&k| {
                let number = findings::number_of(k, &kinds);
                (
                    Swatch::Diamond(style::FINDING, number),
                    format!("library: {}", k.words()),
                )
            })
            .collect();
        if self.draws_promises() {
            entries.push((
                Swatch::Line(style::INK),
                "validity the library promised (to its end)".into(),
            ));
        }
        entries
    }

    /// The marks on the lanes, each when this run can have it: the resource's stale accesses
    /// (when the run used the resource at all), foreign releases, the grey ops of a run without
    /// a lock, counter anomalies, over-admitted intervals and lost messages.
    fn mark_legend(&self) -> Vec<(Swatch, String)> {
        let c = &self.run.result.checks;
        let mut entries = Vec::new();
        let fencing = c.fencing.as_ref().filter(|f| f.accesses > 0);
        if fencing.is_some_and(|f| !f.stale_accepted.is_empty() || !f.fenced) {
            entries.push((
                Swatch::Triangle(style::STALE),
                "stale access accepted".into(),
            ));
        }
        if fencing.is_some_and(|f| !f.prevented.is_empty() || f.fenced) {
            entries.push((
                Swatch::Dot(style::PREVENTED),
                "stale access rejected by fencing".into(),
            ));
        }
        if !c.foreign_releases().is_empty() {
            entries.push((
                Swatch::Cross(style::FOREIGN),
                "release deleted another client's lock".into(),
            ));
        }
        if self.run.spans.is_empty() {
            entries.push((
                Swatch::Bar(style::tint(style::MUTED, 0.6)),
                "op (no lock in this run)".into(),
            ));
        }
        if c.counter.as_ref().is_some_and(|k| !k.anomalies.is_empty()) {
            entries.push((Swatch::Triangle(style::STALE), counter::LEGEND.into()));
        }
        if c.window
            .as_ref()
            .is_some_and(|w| !w.over_admissions.is_empty())
        {
            entries.push((
                Swatch::Outline(style::OVERLAP),
                "interval admitting more than the limit".into(),
            ));
        }
        if !self.run.lost_messages.is_empty() {
            entries.push((
                Swatch::Bar(style::STALE),
                "message lost (at its publish, on its producer's lane)".into(),
            ));
        }
        entries
    }
}
