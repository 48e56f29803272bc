//! Fault windows: shaded over the whole chart in their kind's colour, darker on the lane of the
//! client or node they hit, and labelled above the plot where the labels do not collide.

use super::{font, secs, Drawn, LaneChart, Timeline, WIDTH_PX};
use crate::report::saved_run::target_client;
use crate::report::style;
use checkers::FaultWindow;
use plotters::coord::Shift;
use plotters::prelude::*;

impl Timeline<'_> {
    /// The fault windows that meet the window shown.
    pub(super) fn faults_shown(&self) -> Vec<&FaultWindow> {
        self.run
            .faults
            .iter()
            .filter(|w| self.window.meets(w.start_ns, w.stop_ns))
            .collect()
    }

    /// The lane a fault hit, when it names a client or a node that has one.
    fn target_y(&self, w: &FaultWindow) -> Option<f64> {
        match target_client(&w.fault.target) {
            Some(c) => self.lanes.client_y(c),
            None => self.lanes.node_y(w.fault.target.trim()),
        }
    }

    /// Fault windows: the whole chart lightly, the target's lane strongly.
    pub(super) fn draw_fault_windows<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        faults: &[&FaultWindow],
    ) -> Drawn<DB> {
        let n = self.lanes.count();
        let min_w = self.min_w();
        for w in faults {
            let col = style::fault(&w.fault.kind);
            let (s, e) = (
                secs(w.start_ns),
                secs(w.stop_ns).max(secs(w.start_ns) + min_w),
            );
            chart.draw_series(std::iter::once(Rectangle::new(
                [(s, 0.0), (e, f64::from(n))],
                col.mix(0.16).filled(),
            )))?;
            if let Some(y) = self.target_y(w) {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(s, y), (e, y + 1.0)],
                    col.mix(0.6).filled(),
                )))?;
            }
        }
        Ok(())
    }

    /// Fault labels above the plot, skipped where they would collide.
    pub(super) fn draw_fault_labels<DB: DrawingBackend>(
        &self,
        chart: &LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        faults: &[&FaultWindow],
    ) -> Drawn<DB> {
        let (x0, _) = self.window.secs();
        let n = self.lanes.count();
        let fault_style = TextStyle::from((font::FAMILY, 12).into_font()).color(&style::INK);
        let mut free_from_px = i32::MIN;
        for w in faults {
            let (px, py) = chart.backend_coord(&(secs(w.start_ns).max(x0), f64::from(n)));
            let text = if w.fault.detail.is_empty() {
                format!("{} · {}", w.fault.kind, w.fault.target)
            } else {
                format!("{} · {} · {}", w.fault.kind, w.fault.target, w.fault.detail)
            };
            let (tw, _) = root.estimate_text_size(&text, &fault_style)?;
            // Kept inside the chart: a fault near the right edge is labelled leftwards.
            let x = (px + 2).min(WIDTH_PX as i32 - 8 - tw as i32);
            if x < free_from_px {
                continue;
            }
            root.draw(&Text::new(text, (x, py - 34), fault_style.clone()))?;
            free_from_px = x + tw as i32 + 12;
        }
        Ok(())
    }
}
