//! The rows themselves: every other lane striped so a lane reads across the chart, a rule between
//! the clients' lanes and the nodes', and each lane's name left of the plot — with the client's
//! identity colour beside it when the nodes' lanes draw tokens in it.

use super::lanes::Lane;
use super::{font, Drawn, LaneChart, Timeline};
use crate::report::style;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

impl Timeline<'_> {
    /// Every other lane striped, and the line above the nodes' lanes.
    pub(super) fn draw_lane_stripes<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let (x0, x1) = self.window.secs();
        for (_, y) in self.lanes.iter().step_by(2) {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y), (x1, y + 1.0)],
                style::STRIPE.filled(),
            )))?;
        }
        if let Some(y) = self.lanes.nodes_top_y() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x0, y), (x1, y)],
                style::MUTED.stroke_width(1),
            )))?;
        }
        Ok(())
    }

    /// A lane's name: the client's (`client 3`, `producer 0`) or the node's (`node n1`).
    fn lane_name(&self, lane: &Lane) -> String {
        match lane {
            Lane::Client(c) => self.run.lane_name(*c),
            Lane::Node(n) => format!("node {n}"),
        }
    }

    /// Lane labels, left of the plot; every k-th when lanes are thin. With nodes' lanes, each
    /// client's identity colour as a square between its name and the plot.
    pub(super) fn draw_lane_labels<DB: DrawingBackend>(
        &self,
        chart: &LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
    ) -> Drawn<DB> {
        let lane_px = self.lane_px();
        let (x0, _) = self.window.secs();
        let every = 14u32.div_ceil(lane_px.max(1));
        let lane_style =
            TextStyle::from((font::FAMILY, if lane_px >= 16 { 13 } else { 11 }).into_font())
                .color(&style::INK)
                .pos(Pos::new(HPos::Right, VPos::Center));
        let chips = self.lanes.has_nodes();
        let chip_px = (lane_px as i32 / 4).clamp(3, 6);
        for (lane, y) in self.lanes.iter().step_by(every as usize) {
            let (px, py) = chart.backend_coord(&(x0, y + 0.5));
            let mut text_x = px - 8;
            if let (true, Lane::Client(c)) = (chips, lane) {
                let cx = px - 6 - chip_px;
                root.draw(&Rectangle::new(
                    [(cx - chip_px, py - chip_px), (cx + chip_px, py + chip_px)],
                    style::client(*c).filled(),
                ))?;
                text_x = cx - chip_px - 5;
            }
            root.draw(&Text::new(
                self.lane_name(lane),
                (text_x, py),
                lane_style.clone(),
            ))?;
        }
        Ok(())
    }
}
