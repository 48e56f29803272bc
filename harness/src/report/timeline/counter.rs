//! Counter reads that prove increments lost or duplicated: a red triangle on the reader's lane —
//! only where the damage is first provable. Once increments are lost every later read shows them
//! lost again (a run with two lost increments has hundreds of such reads), and a triangle on each
//! would bury the chart, the overlap that caused them included. A read is marked when it proves
//! more of its kind than any read since the last read in bounds did.

use super::marks::Marks;
use super::{secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use checkers::counter::{CounterAnomaly, CounterAnomalyKind};
use checkers::Nanos;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The legend's words for the mark.
pub(super) const LEGEND: &str = "counter read first proving increments lost or duplicated";

/// The anomalies (in the checker's order, by completion) where a loss or a duplication is first
/// provable: each proves more increments of its kind than every anomaly before it since the last
/// observation in bounds (`since_ns` moves on with each such observation).
pub(super) fn first_provable(anomalies: &[CounterAnomaly]) -> Vec<&CounterAnomaly> {
    // Per kind: the episode (the last observation in bounds) and the most proven in it.
    let mut most: [(Option<Nanos>, u64); 2] = [(None, 0); 2];
    anomalies
        .iter()
        .filter(|a| {
            let slot = &mut most[match a.kind {
                CounterAnomalyKind::Lost => 0,
                CounterAnomalyKind::Duplicated => 1,
            }];
            if slot.0 != Some(a.since_ns) {
                *slot = (Some(a.since_ns), 0);
            }
            let first = a.count > slot.1;
            slot.1 = slot.1.max(a.count);
            first
        })
        .collect()
}

impl Timeline<'_> {
    /// Counter observations where damage is first provable: lost or duplicated increments, on
    /// the reader's lane.
    pub(super) fn draw_counter_anomalies<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let Some(k) = &self.run.result.checks.counter else {
            return Ok(());
        };
        for a in first_provable(&k.anomalies)
            .into_iter()
            .filter(|a| self.window.contains(a.invoke_ns))
        {
            let Some(y) = self.lanes.process_y(a.process) else {
                continue;
            };
            let t = secs(a.invoke_ns);
            let m = marks.px;
            chart.draw_series(std::iter::once(
                EmptyElement::at((t, y + 1.0))
                    + Polygon::new(
                        vec![(-m - 2, -m), (m + 2, -m), (0, m + 4)],
                        style::STALE.filled(),
                    ),
            ))?;
            if marks.labelled {
                let what = format!(
                    "{} {}",
                    a.count,
                    match a.kind {
                        CounterAnomalyKind::Lost => "increment(s) lost",
                        CounterAnomalyKind::Duplicated => "increment(s) duplicated",
                    }
                );
                marks.label(
                    chart,
                    root,
                    (t, y + 1.0),
                    what,
                    style::STALE,
                    (m + 6, -m - 2),
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Process, F};

    fn anomaly(kind: CounterAnomalyKind, at_ms: u64, count: u64, since_ms: u64) -> CounterAnomaly {
        CounterAnomaly {
            kind,
            index: at_ms,
            process: Process::Client((at_ms % 5) as u32),
            f: F::Read,
            invoke_ns: at_ms * 1_000_000,
            complete_ns: at_ms * 1_000_000 + 500_000,
            value: 0,
            lower: count as i64,
            upper: count as i64,
            count,
            since_ns: since_ms * 1_000_000,
            faults: Vec::new(),
        }
    }

    fn at_ms(marked: &[&CounterAnomaly]) -> Vec<u64> {
        marked.iter().map(|a| a.invoke_ns / 1_000_000).collect()
    }

    #[test]
    fn a_loss_every_later_read_shows_again_is_marked_once() {
        use CounterAnomalyKind::Lost;
        // Two increments lost at 9.5 s: every read after shows them, 200 of them.
        let reads: Vec<CounterAnomaly> = (0..200)
            .map(|i| anomaly(Lost, 9_500 + 10 * i, 2, 5_000))
            .collect();
        assert_eq!(at_ms(&first_provable(&reads)), [9_500]);
    }

    #[test]
    fn more_lost_later_and_a_new_episode_are_marked_again() {
        use CounterAnomalyKind::{Duplicated, Lost};
        let reads = [
            anomaly(Lost, 100, 1, 50),
            anomaly(Lost, 110, 1, 50),
            // A second loss proves more: marked.
            anomaly(Lost, 120, 2, 50),
            anomaly(Lost, 130, 2, 50),
            // A duplication is its own kind.
            anomaly(Duplicated, 140, 1, 50),
            // A read in bounds came between (since moved on): a fresh loss is marked again.
            anomaly(Lost, 300, 1, 200),
            anomaly(Lost, 310, 1, 200),
        ];
        assert_eq!(at_ms(&first_provable(&reads)), [100, 120, 140, 300]);
    }

    #[test]
    fn no_anomaly_no_mark() {
        assert!(first_provable(&[]).is_empty());
    }
}
