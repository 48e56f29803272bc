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

use super::timeline::{HEADER_PX, LANE_LABEL_PX as PLOT_LEFT_PX, WIDTH_PX, X_AXIS_PX};

const LANE_PX: u32 = 34;
const PLOT_RIGHT_PX: u32 = 24;
/// Pixels a column may be at the narrowest.
const MIN_COLUMN_PX: f64 = 2.0;

pub struct Overview<'a> {
    pub run: &'a SavedRun,
    pub long: &'a LongRun,
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
}

impl Drawing for Overview<'_> {
    fn size_px(&self) -> (u32, u32) {
        (
            WIDTH_PX,
            HEADER_PX + (self.lanes() + 1) * LANE_PX + X_AXIS_PX + 20,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let r = &self.run.result;
        let ex = &r.checks.exclusion;
        let n = self.lanes();
        let column_ns = self.bins_per_column() * BIN_NS;
        root.fill(&WHITE)?;
        let title = format!(
            "{} · seed {} · {}, {} ops, downsampled ({} s a column) · {}",
            r.meta.scenario,
            r.meta.seed,
            crate::duration::human(self.long.end_ns),
            self.long.ops,
            column_ns / BIN_NS,
            if ex.overlap_count > 0 {
                format!("MUTUAL EXCLUSION BROKEN: {} overlap(s)", ex.overlap_count)
            } else {
                "no overlapping critical spans".to_string()
            }
        );
        let st = TextStyle::from((font::FAMILY, 17).into_font()).color(&style::INK);
        root.draw(&Text::new(title, (12, 8), st))?;
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
        canvas::legend(root, &legend, 12, 32)?;

        let (_, body) = root.split_vertically(HEADER_PX);
        let x1 = (self.long.end_ns as f64 / 1e9).max(1.0);
        let rows = f64::from(n + 1);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(PLOT_RIGHT_PX)
            .x_label_area_size(X_AXIS_PX)
            .y_label_area_size(PLOT_LEFT_PX)
            .build_cartesian_2d(0.0..x1, 0.0..rows)?;
        super::timeline::lane_mesh(&mut chart, 0)?;
        let secs = |ns: Nanos| ns as f64 / 1e9;
        let per_column = self.bins_per_column() as usize;

        // Lanes: lane c at rows n-1-c .. n-c (client 0 on top, under the violations row).
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
                let x = secs(col as u64 * column_ns);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y + 0.2), ((x + secs(column_ns)).min(x1), y + 0.8)],
                    style::tint(style::HOLD, 0.15 + 0.85 * share).filled(),
                )))?;
            }
            let label = TextStyle::from((font::FAMILY, 13).into_font()).color(&style::INK);
            let (_, py) = chart.backend_coord(&(0.0, y + 0.5));
            root.draw(&Text::new(self.run.lane_name(c), (10, py - 7), label))?;
        }

        // Fault windows over every lane.
        chart.draw_series(self.long.faults.iter().map(|w| {
            Rectangle::new(
                [(secs(w.start_ns), 0.0), (secs(w.stop_ns), f64::from(n))],
                style::fault(&w.fault.kind).mix(0.22).filled(),
            )
        }))?;

        // Violations, never thinned: every column with one is drawn.
        let per = self.violations(column_ns);
        let most = per.iter().copied().max().unwrap_or(0).max(1);
        let top = f64::from(n);
        chart.draw_series(
            per.iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(col, k)| {
                    let x = secs(col as u64 * column_ns);
                    let alpha = 0.35 + 0.65 * (*k as f64 / most as f64);
                    Rectangle::new(
                        [(x, top + 0.15), ((x + secs(column_ns)).min(x1), top + 0.85)],
                        style::tint(style::OVERLAP, alpha).filled(),
                    )
                }),
        )?;
        let label = TextStyle::from((font::FAMILY, 13).into_font()).color(&style::OVERLAP);
        let (_, py) = chart.backend_coord(&(0.0, top + 0.5));
        root.draw(&Text::new("overlaps", (10, py - 7), label))?;

        // Zoom windows.
        chart.draw_series(self.long.zooms.iter().map(|w| {
            Rectangle::new(
                [(secs(w.start_ns), 0.0), (secs(w.end_ns), rows)],
                style::INK.stroke_width(2),
            )
        }))?;
        Ok(())
    }
}
