//! The clients' beliefs: a bar per believed-held span, blue while the client's own validity lasts,
//! amber after it, red where another client's span overlaps it, its fencing token on it where it
//! fits; the first overlapping pair outlined.

use super::{secs, Drawn, LaneChart, Timeline, BAR_HIGH, BAR_LOW};
use crate::report::{font, style};
use checkers::exclusion::Span;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

impl Timeline<'_> {
    /// The believed-held spans that meet the window shown.
    pub(super) fn spans_shown(&self) -> Vec<&Span> {
        self.run
            .spans
            .iter()
            .filter(|s| self.window.meets(s.start_ns, s.end_ns))
            .collect()
    }

    /// Believed-held spans: blue, amber past the client's own validity end.
    pub(super) fn draw_spans<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        spans: &[&Span],
    ) -> Drawn<DB> {
        let mut rects = Vec::new();
        for s in spans {
            let Some(y) = self.lanes.process_y(s.process) else {
                continue;
            };
            let (a, b, v) = (secs(s.start_ns), secs(s.end_ns), secs(s.validity_end_ns));
            if v > a {
                rects.push(Rectangle::new(
                    self.bar(y, a, b.min(v)),
                    style::HOLD.filled(),
                ));
            }
            if b > v {
                rects.push(Rectangle::new(
                    self.bar(y, a.max(v), b),
                    style::EXPIRED.filled(),
                ));
            }
        }
        chart.draw_series(rects)?;
        Ok(())
    }

    /// Overlaps: both spans red over the overlapping stretch.
    pub(super) fn draw_overlaps<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let ex = &self.run.result.checks.exclusion;
        let mut red = Vec::new();
        for o in ex
            .overlaps
            .iter()
            .filter(|o| self.window.meets(o.overlap_start_ns, o.overlap_end_ns))
        {
            let (a, b) = (secs(o.overlap_start_ns), secs(o.overlap_end_ns));
            for s in [&o.first, &o.second] {
                if let Some(y) = self.lanes.process_y(s.process) {
                    red.push(Rectangle::new(self.bar(y, a, b), style::OVERLAP.filled()));
                }
            }
        }
        chart.draw_series(red)?;
        Ok(())
    }

    /// Fencing tokens on bars wide enough to hold them, on lanes tall enough.
    pub(super) fn draw_fencing_tokens<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        spans: &[&Span],
    ) -> Drawn<DB> {
        if self.lane_px() < 18 {
            return Ok(());
        }
        let (x0, x1) = self.window.secs();
        let min_w = self.min_w();
        let label = TextStyle::from((font::FAMILY, 11).into_font())
            .color(&WHITE)
            .pos(Pos::new(HPos::Center, VPos::Center));
        for s in spans {
            let Some(y) = self.lanes.process_y(s.process) else {
                continue;
            };
            let (a, b) = (secs(s.start_ns).max(x0), secs(s.end_ns).min(x1));
            let text = s.fence.to_string();
            let width_px = (b - a) / min_w;
            if width_px >= 7.0 * text.len() as f64 + 8.0 {
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    ((a + b) / 2.0, y + 0.5),
                    label.clone(),
                )))?;
            }
        }
        Ok(())
    }

    /// The first overlapping pair, outlined.
    pub(super) fn outline_first_overlap<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let Some(o) = self.run.result.checks.exclusion.overlaps.first() else {
            return Ok(());
        };
        let min_w = self.min_w();
        for s in [&o.first, &o.second] {
            let Some(y) = self.lanes.process_y(s.process) else {
                continue;
            };
            let (a, b) = (
                secs(s.start_ns),
                secs(s.end_ns).max(secs(s.start_ns) + min_w),
            );
            chart.draw_series(std::iter::once(Rectangle::new(
                [(a, y + BAR_LOW - 0.08), (b, y + BAR_HIGH + 0.08)],
                style::INK.stroke_width(2),
            )))?;
        }
        Ok(())
    }
}
