//! Messaging runs: each message lost (the delivery checker's own judgement) as a red tick at its
//! publish, on its producer's lane.

use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use plotters::prelude::*;

impl Timeline<'_> {
    /// Lost messages: a red tick at each one's publish, on its producer's lane.
    pub(super) fn draw_lost_messages<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let lost: Vec<_> = self
            .run
            .lost_messages
            .iter()
            .filter(|l| self.window.contains(l.invoke_ns))
            .filter_map(|l| {
                let (t, y) = (secs(l.invoke_ns), self.lanes.client_y(l.producer)?);
                Some(PathElement::new(
                    vec![(t, y + 0.62), (t, y + 0.98)],
                    style::STALE.stroke_width(1),
                ))
            })
            .collect();
        chart.draw_series(lost)?;
        Ok(())
    }
}
