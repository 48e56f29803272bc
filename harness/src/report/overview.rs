//! The overview of a run too long to draw op by op: the whole run, downsampled.
//!
//! One lane per client whose shade is the share of each column's time the client held the
//! lock (grant to release), a top row where every overlapping pair of critical spans is drawn
//! (a column with any is red, darker with more: violations are never thinned away), fault
//! windows shaded in their kind's colour, and the zoom windows outlined — each zoom is a
//! full-detail timeline of its own. A column is a whole number of one-second bins, so an hour
//! is 3,600 bins and at most a few thousand rectangles whatever the run's length.

use super::canvas::{Drawing, Swatch};
use super::long_run::{LongRun, BIN_NS};
use super::saved_run::SavedRun;
use super::{canvas, font, style};
use checkers::Nanos;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::{
    Drawn, LaneChart, HEADER_PX, LANE_LABEL_PX as PLOT_LEFT_PX, WIDTH_PX, X_AXIS_PX,
};

const LANE_PX: u32 = 34;
const PLOT_RIGHT_PX: u32 = 24;
/// Pixels a column may be at the narrowest.
const MIN_COLUMN_PX: f64 = 2.0;

pub struct Overview<'a> {
    pub run: &'a SavedRun,
    pub long: &'a LongRun,
}

fn secs(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

impl Overview<'_> {
    fn lanes(&self) -> u32 {
        self.long.lanes.max(1)
    }

    /// Bins per column: columns at least [`MIN_COLUMN_PX`] wide.
    fn bins_per_column(&self) -> u64 {
        let bins = self.long.end_ns / BIN_NS + 1;
        let plot_px = f64::from(WIDTH_PX - PLOT_LEFT_PX - PLOT_RIGHT_PX);
        ((bins as f64 * MIN_COLUMN_PX / plot_px).ceil() as u64).max(1)
    }

    /// Nanoseconds one column spans.
    fn column_ns(&self) -> Nanos {
        self.bins_per_column() * BIN_NS
    }

    /// The right edge of the plot, in seconds (at least one).
    fn end_secs(&self) -> f64 {
        (self.long.end_ns as f64 / 1e9).max(1.0)
    }

    /// The column starting at `col`, in seconds: `(start, end)`, cut at the plot's edge.
    fn column_secs(&self, col: usize) -> (f64, f64) {
        let column_ns = self.column_ns();
        let x = secs(col as u64 * column_ns);
        (x, (x + secs(column_ns)).min(self.end_secs()))
    }

    /// Overlaps per column.
    fn violations(&self, column_ns: Nanos) -> Vec<u64> {
        let ex = &self.run.result.checks.exclusion;
        let starts: Vec<Nanos> = if ex.overlap_intervals.is_empty() {
            ex.overlaps.iter().map(|o| o.overlap_start_ns).collect()
        } else {
            ex.overlap_intervals.iter().map(|i| i.0).collect()
        };
        let mut per = vec![0u64; (self.long.end_ns / column_ns + 1) as usize];
        for t in starts {
            if let Some(c) = per.get_mut((t / column_ns) as usize) {
                *c += 1;
            }
        }
        per
    }

    /// Scenario, seed, length, ops, the column width and whether mutual exclusion broke.
    fn title(&self) -> String {
        let r = &self.run.result;
        let ex = &r.checks.exclusion;
        format!(
            "{} · seed {} · {}, {} ops, downsampled ({} s a column) · {}",
            r.meta.scenario,
            r.meta.seed,
            crate::duration::human(self.long.end_ns),
            self.long.ops,
            self.column_ns() / BIN_NS,
            if ex.overlap_count > 0 {
                format!("MUTUAL EXCLUSION BROKEN: {} overlap(s)", ex.overlap_count)
            } else {
                "no overlapping critical spans".to_string()
            }
        )
    }

    fn legend(&self) -> Vec<(Swatch, String)> {
        let mut legend = vec![
            (Swatch::Band(style::HOLD), "share of time held".to_string()),
            (
                Swatch::Band(style::OVERLAP),
                "overlaps in the column".into(),
            ),
            (Swatch::Outline(style::INK), "zoom window".into()),
        ];
        legend.extend(canvas::fault_legend(
            self.long.faults.iter().map(|w| w.fault.kind.as_str()),
            0.35,
            "",
        ));
        legend
    }
}

impl Drawing for Overview<'_> {
    fn size_px(&self) -> (u32, u32) {
        (
            WIDTH_PX,
            HEADER_PX + (self.lanes() + 1) * LANE_PX + X_AXIS_PX + 20,
        )
    }

    /// Draws the header, then the plot: held-share lanes, fault windows, the violations row on
    /// top, and the zoom windows outlined.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        let st = TextStyle::from((font::FAMILY, 17).into_font()).color(&style::INK);
        root.draw(&Text::new(self.title(), (12, 8), st))?;
        canvas::legend(root, &self.legend(), 12, 32)?;

        let (_, body) = root.split_vertically(HEADER_PX);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(PLOT_RIGHT_PX)
            .x_label_area_size(X_AXIS_PX)
            .y_label_area_size(PLOT_LEFT_PX)
            .build_cartesian_2d(0.0..self.end_secs(), 0.0..self.rows())?;
        super::timeline::lane_mesh(&mut chart, 0)?;
        self.draw_held_lanes(&mut chart, root)?;
        self.draw_fault_windows(&mut chart)?;
        self.draw_violations_row(&mut chart, root)?;
        self.outline_zooms(&mut chart)
    }
}

/// The stages of the plot.
impl Overview<'_> {
    /// Rows of the plot: one per lane and the violations row on top.
    fn rows(&self) -> f64 {
        f64::from(self.lanes() + 1)
    }

    /// Lanes: lane c at rows n-1-c .. n-c (client 0 on top, under the violations row), each
    /// column shaded by the share of its time the client held the lock, and labelled.
    fn draw_held_lanes<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
    ) -> Drawn<DB> {
        let n = self.lanes();
        let column_ns = self.column_ns();
        let per_column = self.bins_per_column() as usize;
        for c in 0..n {
            let y = f64::from(n - 1 - c);
            let bins = self
                .long
                .held_ns
                .get(c as usize)
                .map_or(&[][..], |b| &b[..]);
            for (col, chunk) in bins.chunks(per_column).enumerate() {
                let held: u64 = chunk.iter().sum();
                let share = (held as f64 / column_ns as f64).min(1.0);
                if share <= 0.0 {
                    continue;
                }
                let (x, x_end) = self.column_secs(col);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y + 0.2), (x_end, y + 0.8)],
                    style::tint(style::HOLD, 0.15 + 0.85 * share).filled(),
                )))?;
            }
            let label = TextStyle::from((font::FAMILY, 13).into_font()).color(&style::INK);
            let (_, py) = chart.backend_coord(&(0.0, y + 0.5));
            root.draw(&Text::new(self.run.lane_name(c), (10, py - 7), label))?;
        }
        Ok(())
    }

    /// Fault windows over every lane.
    fn draw_fault_windows<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let n = self.lanes();
        chart.draw_series(self.long.faults.iter().map(|w| {
            Rectangle::new(
                [(secs(w.start_ns), 0.0), (secs(w.stop_ns), f64::from(n))],
                style::fault(&w.fault.kind).mix(0.22).filled(),
            )
        }))?;
        Ok(())
    }

    /// Violations, never thinned: every column with one is drawn, darker with more, in the
    /// labelled row above the lanes.
    fn draw_violations_row<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
    ) -> Drawn<DB> {
        let per = self.violations(self.column_ns());
        let most = per.iter().copied().max().unwrap_or(0).max(1);
        let top = f64::from(self.lanes());
        chart.draw_series(
            per.iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(col, k)| {
                    let (x, x_end) = self.column_secs(col);
                    let alpha = 0.35 + 0.65 * (*k as f64 / most as f64);
                    Rectangle::new(
                        [(x, top + 0.15), (x_end, top + 0.85)],
                        style::tint(style::OVERLAP, alpha).filled(),
                    )
                }),
        )?;
        let label = TextStyle::from((font::FAMILY, 13).into_font()).color(&style::OVERLAP);
        let (_, py) = chart.backend_coord(&(0.0, top + 0.5));
        root.draw(&Text::new("overlaps", (10, py - 7), label))?;
        Ok(())
    }

    /// The zoom windows, outlined across every row.
    fn outline_zooms<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let rows = self.rows();
        chart.draw_series(self.long.zooms.iter().map(|w| {
            Rectangle::new(
                [(secs(w.start_ns), 0.0), (secs(w.end_ns), rows)],
                style::INK.stroke_width(2),
            )
        }))?;
        Ok(())
    }
}
