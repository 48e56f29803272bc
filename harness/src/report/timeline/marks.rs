//! Marks over the bars, and their labels: how big a chart draws them, whether it labels them,
//! and where a label goes — beside its mark where it collides with no other label, or nowhere,
//! so a busy chart never turns into text.

use super::{font, Drawn, LaneChart, Timeline};
use plotters::coord::Shift;
use plotters::prelude::*;

impl Timeline<'_> {
    /// How this chart draws its marks: their size, and whether they are labelled — on the zoom,
    /// and on a whole-run chart only while they are few enough to read (a long run's chart would
    /// be all text).
    pub(super) fn marks(&self) -> Marks {
        let lane_px = self.lane_px();
        let checks = &self.run.result.checks;
        let marks = checks
            .fencing
            .as_ref()
            .map_or(0, |f| f.stale_accepted.len() + f.prevented.len())
            + checks.foreign_releases().len()
            + checks
                .counter
                .as_ref()
                .map_or(0, |k| super::counter::first_provable(&k.anomalies).len())
            + checks.blame.as_ref().map_or(0, |b| b.findings.len());
        Marks {
            px: (lane_px as i32 / 4).clamp(4, 9),
            labelled: self.is_zoom() || (lane_px >= 30 && marks <= 8),
            space: LabelSpace::default(),
        }
    }
}

/// How a chart draws the marks over its bars: their size in pixels, whether they carry labels,
/// and the room the labels drawn so far took.
pub(super) struct Marks {
    pub(super) px: i32,
    pub(super) labelled: bool,
    space: LabelSpace,
}

impl Marks {
    /// Draws `text` in `colour` beside the mark at `at` where the label space has room;
    /// `offset` is the gap to the mark's side and the text's top relative to the mark, in pixels.
    pub(super) fn label<DB: DrawingBackend>(
        &mut self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        at: (f64, f64),
        text: String,
        colour: RGBColor,
        (gap_px, dy_px): (i32, i32),
    ) -> Drawn<DB> {
        let st = TextStyle::from((font::FAMILY, 13).into_font()).color(&colour);
        if let Some(dx) = self
            .space
            .place(chart, root, at, &text, &st, gap_px, dy_px)?
        {
            chart.draw_series(std::iter::once(
                EmptyElement::at(at) + Text::new(text, (dx, dy_px), st),
            ))?;
        }
        Ok(())
    }
}

/// Where mark labels already are, so a new one goes where it can be read or nowhere.
#[derive(Default)]
struct LabelSpace {
    /// Claimed pixel rectangles: x0, y0, x1, y1.
    taken: Vec<(i32, i32, i32, i32)>,
}

impl LabelSpace {
    /// Most labels one chart carries; past this the marks speak for themselves.
    const MAX: usize = 24;

    /// Places `text` beside the mark at `at`: `gap_px` to its right, or to its left when it
    /// would run past the plot's edge or onto another label; `dy_px` is the text's top relative
    /// to the mark. Returns the horizontal offset to draw at, or None where there is no room.
    #[allow(clippy::too_many_arguments)]
    fn place<DB: DrawingBackend>(
        &mut self,
        chart: &LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        at: (f64, f64),
        text: &str,
        style: &TextStyle<'_>,
        gap_px: i32,
        dy_px: i32,
    ) -> Result<Option<i32>, DrawingAreaErrorKind<DB::ErrorType>> {
        if self.taken.len() >= Self::MAX {
            return Ok(None);
        }
        let (tw, th) = root.estimate_text_size(text, style)?;
        let (tw, th) = (tw as i32, th as i32);
        let (x, y) = chart.backend_coord(&at);
        let right = chart.plotting_area().get_pixel_range().0.end;
        let (y0, y1) = (y + dy_px, y + dy_px + th);
        for dx in [gap_px, -gap_px - tw] {
            let (x0, x1) = (x + dx, x + dx + tw);
            if dx > 0 && x1 > right {
                continue;
            }
            let free = self
                .taken
                .iter()
                .all(|&(a0, b0, a1, b1)| x1 < a0 || x0 > a1 || y1 < b0 || y0 > b1);
            if free {
                self.taken.push((x0 - 4, y0, x1 + 4, y1));
                return Ok(Some(dx));
            }
        }
        Ok(None)
    }
}
