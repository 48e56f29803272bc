//! Stale accesses at the resource: a token lower than one it had already seen. Accepted (fencing
//! violated, a red triangle) or rejected by fencing (corruption prevented, a green dot), on the
//! accessing client's lane at the access's invocation.

use super::marks::Marks;
use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use checkers::{Access, Nanos};
use plotters::coord::Shift;
use plotters::prelude::*;

impl Timeline<'_> {
    /// Stale accesses: accepted (red triangle) and rejected by fencing (green dot).
    pub(super) fn draw_stale_accesses<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let Some(f) = &self.run.result.checks.fencing else {
            return Ok(());
        };
        for (accepted, list) in [(true, &f.stale_accepted), (false, &f.prevented)] {
            for a in list.iter() {
                let Some(p) = self.run.placed(a) else {
                    continue;
                };
                if !self.window.contains(p.invoke_ns) {
                    continue;
                }
                self.draw_stale_access(chart, root, marks, a, p.invoke_ns, accepted)?;
            }
        }
        Ok(())
    }

    /// One stale access, invoked at `invoke_ns`: a line across its lane topped by a triangle
    /// (accepted) or a dot (rejected), labelled with its tokens where there is room.
    fn draw_stale_access<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
        a: &Access,
        invoke_ns: Nanos,
        accepted: bool,
    ) -> Drawn<DB> {
        let Some(y) = self.lanes.process_y(a.process) else {
            return Ok(());
        };
        let t = secs(invoke_ns);
        let col = if accepted {
            style::STALE
        } else {
            style::PREVENTED
        };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(t, y + 0.04), (t, y + 0.96)],
            col.stroke_width(2),
        )))?;
        let m = marks.px;
        let top = (t, y + 1.0);
        if accepted {
            chart.draw_series(std::iter::once(
                EmptyElement::at(top)
                    + Polygon::new(vec![(-m - 2, -m), (m + 2, -m), (0, m + 4)], col.filled())
                    + PathElement::new(
                        vec![(-m - 2, -m), (m + 2, -m), (0, m + 4), (-m - 2, -m)],
                        style::INK.stroke_width(1),
                    ),
            ))?;
        } else {
            chart.draw_series(std::iter::once(
                EmptyElement::at(top)
                    + Circle::new((0, 2), m, col.filled())
                    + Circle::new((0, 2), m, style::INK.stroke_width(1)),
            ))?;
        }
        if marks.labelled {
            let what = stale_access_label(a, accepted);
            marks.label(chart, root, top, what, col, (m + 6, -m - 2))?;
        }
        Ok(())
    }
}

/// A stale access's label: read or write, accepted or rejected, its token against the highest
/// the resource had seen.
fn stale_access_label(a: &Access, accepted: bool) -> String {
    format!(
        "stale {} {} (token {} < {})",
        match a.op {
            checkers::AccessOp::Read => "read",
            checkers::AccessOp::Write => "write",
        },
        if accepted { "ACCEPTED" } else { "rejected" },
        a.fence.unwrap_or(0),
        a.highest_before
    )
}
