//! The ops themselves, where no bar stands for them: failed and indeterminate ops at the bottom of
//! their lane (a timeout is not a denial), and in a run without a lock every completed op as a
//! grey tick, so the lanes still show who did what when.

use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use checkers::OpKind;
use plotters::prelude::*;

impl Timeline<'_> {
    /// Runs without a lock (counters, limiters): every completed op as a grey tick.
    pub(super) fn draw_op_ticks<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        if !self.run.spans.is_empty() {
            return Ok(());
        }
        let min_w = self.min_w();
        let grey = style::tint(style::MUTED, 0.6);
        let ticks: Vec<_> = self
            .run
            .calls
            .iter()
            .filter(|c| c.outcome() == OpKind::Ok)
            .filter_map(|c| Some((c, c.complete_ns()?, self.lanes.process_y(c.process)?)))
            .filter(|(c, done, _)| self.window.meets(c.invoke_ns(), *done))
            .map(|(c, done, y)| {
                let (a, b) = (secs(c.invoke_ns()), secs(done));
                Rectangle::new([(a, y + 0.35), (b.max(a + min_w), y + 0.65)], grey.filled())
            })
            .collect();
        chart.draw_series(ticks)?;
        Ok(())
    }

    /// Failed and indeterminate ops, at the bottom of their lane.
    pub(super) fn draw_failed_ops<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let mark_px = (self.lane_px() as i32 / 7).clamp(2, 5);
        let mut fails = Vec::new();
        let mut infos = Vec::new();
        for call in &self.run.calls {
            let t = call.complete_ns().unwrap_or(call.invoke_ns());
            if !self.window.contains(t) {
                continue;
            }
            let Some(y) = self.lanes.process_y(call.process) else {
                continue;
            };
            let at = (secs(t), y + 0.12);
            match call.outcome() {
                OpKind::Fail => fails.push(Cross::new(at, mark_px, style::FAIL.stroke_width(2))),
                OpKind::Info => {
                    infos.push(TriangleMarker::new(at, mark_px + 1, style::INFO.filled()))
                }
                _ => {}
            }
        }
        chart.draw_series(fails)?;
        chart.draw_series(infos)?;
        Ok(())
    }
}
