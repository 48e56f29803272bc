//! Rate-limiter runs: each interval that admitted more than the limit, outlined across every lane
//! (the limit is everyone's, not one client's).

use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use plotters::prelude::*;

impl Timeline<'_> {
    /// Limiter intervals that admitted more than the limit, across every lane.
    pub(super) fn draw_over_admissions<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let Some(w) = &self.run.result.checks.window else {
            return Ok(());
        };
        let n = self.lanes.count();
        let min_w = self.min_w();
        for o in w
            .over_admissions
            .iter()
            .filter(|o| self.window.meets(o.from_ns, o.to_ns))
        {
            let (a, b) = (secs(o.from_ns), secs(o.to_ns).max(secs(o.from_ns) + min_w));
            chart.draw_series([
                Rectangle::new(
                    [(a, 0.0), (b, f64::from(n))],
                    style::OVERLAP.mix(0.12).filled(),
                ),
                Rectangle::new(
                    [(a, 0.0), (b, f64::from(n))],
                    style::OVERLAP.stroke_width(2),
                ),
            ])?;
        }
        Ok(())
    }
}
