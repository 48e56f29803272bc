//! The library's wrong answers (the blame check's findings): answers no correct lock may give,
//! judged against the nodes' own record. Each is a yellow diamond outlined in ink — a colour and
//! shape nothing else on the chart uses — on the answering client's lane at the moment of the
//! answer, numbered by its kind when the run has several kinds (the legend names each). Where
//! the library promised a validity past the nodes' lease, a thin line runs from the answer to the
//! end it promised, so the promise reads against the node's lane below, which shows the key
//! passing on when the lease really ended.

use super::marks::Marks;
use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::{canvas, style};
use checkers::blame::{Finding, FindingKind};
use checkers::{Call, Nanos, OpKind, Process, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::HashMap;

/// More promised validities than this on one chart and their lines would cover the lanes: the
/// diamonds speak alone (the zoom draws them).
const MOST_PROMISES: usize = 16;

/// A finding as a mark: whose lane, when, which kind (and its number), and the validity end the
/// answer promised, when that is what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FindingMark {
    pub client: u32,
    pub at_ns: Nanos,
    pub kind: FindingKind,
    pub number: Option<u8>,
    pub promised_end_ns: Option<Nanos>,
}

/// The kinds among the clients' `findings` (the ones a lane can show), in the order reports
/// list them.
pub(super) fn kinds_present(findings: &[Finding]) -> Vec<FindingKind> {
    FindingKind::ALL
        .into_iter()
        .filter(|k| {
            findings
                .iter()
                .any(|f| f.kind == *k && matches!(f.process, Process::Client(_)))
        })
        .collect()
}

/// A kind's number on the chart: its place among the kinds `present`, when there are several
/// to tell apart (one kind needs no number).
pub(super) fn number_of(kind: FindingKind, present: &[FindingKind]) -> Option<u8> {
    if present.len() < 2 {
        return None;
    }
    let i = present.iter().position(|k| *k == kind)?;
    Some(i as u8 + 1)
}

/// The validity end each granted acquire or extension answered, by its invocation's index.
pub(super) fn promised_ends(calls: &[Call]) -> HashMap<u64, Nanos> {
    calls
        .iter()
        .filter(|c| c.outcome() == OpKind::Ok)
        .filter_map(|c| {
            let end = match c.result()? {
                Value::Granted(g) => g.validity_end_ns,
                Value::Extended { validity_end_ns } => *validity_end_ns,
                _ => return None,
            };
            Some((c.invoke.index, end))
        })
        .collect()
}

/// Every client's finding as a mark at its answer (`complete_ns`); a validity promised past the
/// lease carries the end it promised (`promised`: [`promised_ends`]).
pub(super) fn finding_marks(
    findings: &[Finding],
    promised: &HashMap<u64, Nanos>,
) -> Vec<FindingMark> {
    let kinds = kinds_present(findings);
    findings
        .iter()
        .filter_map(|f| {
            let Process::Client(client) = f.process else {
                return None;
            };
            let promise = matches!(
                f.kind,
                FindingKind::ValidityBeyondLease | FindingKind::ExtendValidityBeyondLease
            );
            Some(FindingMark {
                client,
                at_ns: f.complete_ns,
                kind: f.kind,
                number: number_of(f.kind, &kinds),
                promised_end_ns: promise.then(|| promised.get(&f.index).copied()).flatten(),
            })
        })
        .collect()
}

impl Timeline<'_> {
    /// The findings' marks this chart shows: in its window, on a client's lane.
    fn finding_marks_shown(&self) -> Vec<(FindingMark, f64)> {
        let Some(b) = self.run.result.checks.blame.as_ref() else {
            return Vec::new();
        };
        if b.findings.is_empty() {
            return Vec::new();
        }
        finding_marks(&b.findings, &promised_ends(&self.run.calls))
            .into_iter()
            .filter(|m| self.window.contains(m.at_ns))
            .filter_map(|m| {
                let y = self.lanes.client_y(m.client)?;
                Some((m, y))
            })
            .collect()
    }

    /// Whether this chart draws the validities the library promised: it has some, few enough.
    pub(super) fn draws_promises(&self) -> bool {
        let n = self
            .finding_marks_shown()
            .iter()
            .filter(|(m, _)| m.promised_end_ns.is_some())
            .count();
        (1..=MOST_PROMISES).contains(&n)
    }

    /// The findings: the promised validities (when few enough), then a diamond at each answer,
    /// the first of each kind labelled with its words where there is room.
    pub(super) fn draw_findings<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let shown = self.finding_marks_shown();
        if self.draws_promises() {
            self.draw_promises(chart, &shown)?;
        }
        let r = marks.px + 3;
        let numbered = self.lane_px() >= 18;
        let mut labelled: Vec<FindingKind> = Vec::new();
        for (m, y) in &shown {
            let (t, mid) = (secs(m.at_ns), y + 0.5);
            let corners = vec![(0, -r), (r, 0), (0, r), (-r, 0), (0, -r)];
            chart.draw_series(std::iter::once(
                EmptyElement::at((t, mid))
                    + Polygon::new(corners.clone(), style::FINDING.filled())
                    + PathElement::new(corners, style::INK.stroke_width(1)),
            ))?;
            if let Some(n) = m.number.filter(|_| numbered) {
                let size_px = (r as u32 + 3).clamp(8, 13);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((t, mid))
                        + Text::new(n.to_string(), (0, 0), canvas::diamond_number_style(size_px)),
                ))?;
            }
            if marks.labelled && !labelled.contains(&m.kind) {
                labelled.push(m.kind);
                let text = format!("library: {}", m.kind.words());
                marks.label(chart, root, (t, mid), text, style::INK, (r + 4, -r - 8))?;
            }
        }
        Ok(())
    }

    /// A thin line from each answer to the validity end it promised, closed by a tick: under
    /// the lane's bars, clear of the label above the mark.
    fn draw_promises<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        shown: &[(FindingMark, f64)],
    ) -> Drawn<DB> {
        let (x0, x1) = self.window.secs();
        for (m, y) in shown {
            let Some(end_ns) = m.promised_end_ns else {
                continue;
            };
            // Cut at the chart's edges by hand: plotters would pull the end tick onto the edge,
            // where it would read as the promise's end.
            let (a, b, h) = (secs(m.at_ns), secs(end_ns), y + 0.14);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(a.max(x0), h), (b.min(x1), h)],
                style::INK.stroke_width(1),
            )))?;
            if self.window.contains(end_ns) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(b, y + 0.04), (b, y + 0.26)],
                    style::INK.stroke_width(2),
                )))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Grant, History, Op, F};

    const MS: Nanos = 1_000_000;

    fn finding(kind: FindingKind, process: Process, index: u64, at_ms: u64) -> Finding {
        Finding {
            kind,
            process,
            index,
            invoke_ns: at_ms.saturating_sub(2) * MS,
            complete_ns: at_ms * MS,
            other: None,
            detail: String::new(),
        }
    }

    #[test]
    fn one_kind_needs_no_number_and_several_are_numbered_in_report_order() {
        let one = [finding(
            FindingKind::ReleaseNotOwned,
            Process::Client(1),
            0,
            10,
        )];
        assert_eq!(kinds_present(&one), [FindingKind::ReleaseNotOwned]);
        assert_eq!(
            number_of(FindingKind::ReleaseNotOwned, &kinds_present(&one)),
            None
        );
        let several = [
            finding(FindingKind::HeldAfterLease, Process::Client(1), 0, 10),
            finding(FindingKind::GrantNotMade, Process::Client(2), 2, 20),
            finding(FindingKind::HeldAfterLease, Process::Client(1), 4, 30),
        ];
        let kinds = kinds_present(&several);
        assert_eq!(
            kinds,
            [FindingKind::GrantNotMade, FindingKind::HeldAfterLease]
        );
        assert_eq!(number_of(FindingKind::GrantNotMade, &kinds), Some(1));
        assert_eq!(number_of(FindingKind::HeldAfterLease, &kinds), Some(2));
        assert_eq!(number_of(FindingKind::ExtendNotMade, &kinds), None);
    }

    #[test]
    fn each_finding_is_marked_on_its_clients_lane_at_the_answer() {
        // Client 3's grant (invoked as op 0) promised 2 s; the node's lease was 1 s.
        let op = |index, kind, value| Op {
            index,
            time_ns: index * MS,
            process: Process::Client(3),
            kind,
            f: F::Acquire,
            value,
        };
        let grant = Grant {
            fence: 1,
            token: "t".into(),
            validity_end_ns: 2_001 * MS,
        };
        let calls = History::new(vec![
            op(0, OpKind::Invoke, Value::None),
            op(1, OpKind::Ok, Value::Granted(grant)),
        ])
        .calls();
        let findings = [
            finding(FindingKind::ValidityBeyondLease, Process::Client(3), 0, 1),
            finding(FindingKind::ReleaseDenied, Process::Client(4), 7, 500),
            finding(FindingKind::GrantNotMade, Process::Nemesis, 9, 600),
        ];
        let marks = finding_marks(&findings, &promised_ends(&calls));
        assert_eq!(
            marks,
            [
                FindingMark {
                    client: 3,
                    at_ns: MS,
                    kind: FindingKind::ValidityBeyondLease,
                    number: Some(1),
                    promised_end_ns: Some(2_001 * MS),
                },
                FindingMark {
                    client: 4,
                    at_ns: 500 * MS,
                    kind: FindingKind::ReleaseDenied,
                    number: Some(2),
                    promised_end_ns: None,
                },
            ],
            "the nemesis has no lane (nor a number); a release's finding promises nothing"
        );
    }
}
