//! Releases that deleted another client's lock (the foreign-release check): a magenta cross on
//! the releaser's lane, labelled with whose lock it deleted.

use super::marks::Marks;
use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use plotters::coord::Shift;
use plotters::prelude::*;

impl Timeline<'_> {
    /// Releases that deleted another client's lock: a magenta cross on the releaser's lane.
    pub(super) fn draw_foreign_releases<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        for r in self.run.result.checks.foreign_releases() {
            if !self.window.contains(r.invoke_ns) {
                continue;
            }
            let Some(lane_y) = self.lanes.process_y(r.process) else {
                continue;
            };
            let (t, y) = (secs(r.invoke_ns), lane_y + 0.5);
            chart.draw_series(std::iter::once(Cross::new(
                (t, y),
                marks.px + 2,
                style::FOREIGN.stroke_width(3),
            )))?;
            if marks.labelled {
                let victim = match (r.victim, r.victim_fence) {
                    (Some(v), Some(f)) => format!("deleted {v}'s lock (token {f})"),
                    _ => "deleted a later holder's lock".into(),
                };
                let gap_px = marks.px + 6;
                marks.label(chart, root, (t, y), victim, style::FOREIGN, (gap_px, -6))?;
            }
        }
        Ok(())
    }
}
