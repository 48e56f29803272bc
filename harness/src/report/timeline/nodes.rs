//! The lock nodes' lanes: what each node's key actually held, from the nodes' own record (their
//! replication streams, [`checkers::node_record`]) — a bar per holding, in the identity colour of
//! the client the token was granted to. Under the clients' beliefs on the same clock, it shows
//! what no client's answer can: the key passing to another client while a holder still believes
//! (a validity promised past the lease), a grant returned after the node had let the key go, a
//! token re-set after it lapsed (outlined, a re-take). An extension is a white notch where the
//! node took the new lease; where a node's stream was lost its lane is greyed (not on record).

use super::marks::Marks;
use super::{font, secs, Drawn, LaneChart, Timeline};
use crate::report::style;
use checkers::node_record::NodesRecord;
use checkers::{Call, Nanos, OpKind, Process, Value, F};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::HashMap;

/// One holding of a node's key, as a node lane draws it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NodeBar {
    pub node: String,
    pub from_ns: Nanos,
    /// When the holding surely ended (the end of the record when it was still held).
    pub to_ns: Nanos,
    /// The client granted this token, when one was.
    pub owner: Option<u32>,
    /// The node re-set the token after it had let it go.
    pub retaken: bool,
    /// Where the node took each later lease (the extensions).
    pub extended_at_ns: Vec<Nanos>,
}

/// The nodes a chart gives lanes: those the clients were given, in order, then any other the
/// record has.
pub(super) fn node_names(nodes: &NodesRecord) -> Vec<String> {
    let mut names = nodes.nodes.clone();
    let others = nodes
        .record
        .nodes
        .keys()
        .cloned()
        .chain(nodes.record.held.iter().map(|h| h.node.clone()));
    for n in others {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// token → the client it was granted to, from every granted acquire that named its token.
pub(super) fn token_owners(calls: &[Call]) -> HashMap<String, u32> {
    calls
        .iter()
        .filter(|c| c.f == F::Acquire && c.outcome() == OpKind::Ok)
        .filter_map(|c| match (c.process, c.result()) {
            (Process::Client(id), Some(Value::Granted(g))) if !g.token.is_empty() => {
                Some((g.token.clone(), id))
            }
            _ => None,
        })
        .collect()
}

/// Every holding in the record as a bar: open holdings run to `end_ns`.
pub(super) fn node_bars(
    nodes: &NodesRecord,
    owners: &HashMap<String, u32>,
    end_ns: Nanos,
) -> Vec<NodeBar> {
    nodes
        .record
        .held
        .iter()
        .map(|h| NodeBar {
            node: h.node.clone(),
            from_ns: h.from_ns,
            to_ns: h.to_ns.unwrap_or(end_ns.max(h.from_ns)),
            owner: owners.get(&h.value).copied(),
            retaken: h.retaken_after_ns.is_some(),
            extended_at_ns: h.leases.iter().skip(1).map(|l| l.at_ns).collect(),
        })
        .collect()
}

/// Spans in which a node's stream was lost (open ones run to `end_ns`).
pub(super) fn blind_spans(nodes: &NodesRecord, end_ns: Nanos) -> Vec<(&str, Nanos, Nanos)> {
    nodes
        .record
        .blind
        .iter()
        .map(|(n, lost, back)| (n.as_str(), *lost, back.unwrap_or(end_ns.max(*lost))))
        .collect()
}

impl Timeline<'_> {
    /// The nodes' lanes: greyed where not on record, a bar per holding in its owner's colour,
    /// notched at extensions, outlined and labelled where re-taken, named where wide enough.
    pub(super) fn draw_node_lanes<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let Some(nodes) = self.nodes else {
            return Ok(());
        };
        let end_ns = self.run.end_ns;
        let (x0, x1) = self.window.secs();
        for (node, from, to) in blind_spans(nodes, end_ns) {
            let Some(y) = self
                .lanes
                .node_y(node)
                .filter(|_| self.window.meets(from, to))
            else {
                continue;
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(secs(from).max(x0), y), (secs(to).min(x1), y + 1.0)],
                style::MUTED.mix(0.3).filled(),
            )))?;
        }
        let bars: Vec<(NodeBar, f64)> = node_bars(nodes, &token_owners(&self.run.calls), end_ns)
            .into_iter()
            .filter(|b| self.window.meets(b.from_ns, b.to_ns))
            .filter_map(|b| {
                let y = self.lanes.node_y(&b.node)?;
                Some((b, y))
            })
            .collect();
        chart.draw_series(bars.iter().map(|(b, y)| {
            let colour = b.owner.map_or(style::UNOWNED, style::client);
            Rectangle::new(
                self.bar(*y, secs(b.from_ns), secs(b.to_ns)),
                colour.filled(),
            )
        }))?;
        if self.lane_px() >= 18 {
            self.draw_extension_notches(chart, &bars)?;
            self.draw_owner_names(chart, &bars)?;
        }
        for (b, y) in bars.iter().filter(|(b, _)| b.retaken) {
            let [lo, hi] = self.bar(*y, secs(b.from_ns), secs(b.to_ns));
            chart.draw_series(std::iter::once(Rectangle::new(
                [(lo.0, lo.1 - 0.06), (hi.0, hi.1 + 0.06)],
                style::INK.stroke_width(2),
            )))?;
            if marks.labelled && self.window.contains(b.from_ns) {
                let at = (secs(b.from_ns), y + 1.0);
                let gap_px = 4;
                marks.label(chart, root, at, "re-taken".into(), style::INK, (gap_px, 1))?;
            }
        }
        Ok(())
    }

    /// A white notch on a holding where the node took a new lease (an extension).
    fn draw_extension_notches<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        bars: &[(NodeBar, f64)],
    ) -> Drawn<DB> {
        let notches = bars.iter().flat_map(|(b, y)| {
            b.extended_at_ns
                .iter()
                .filter(|t| self.window.contains(**t))
                .map(move |t| {
                    let [lo, hi] = self.bar(*y, secs(*t), secs(*t));
                    PathElement::new(vec![(lo.0, lo.1), (lo.0, hi.1)], WHITE.stroke_width(2))
                })
        });
        chart.draw_series(notches)?;
        Ok(())
    }

    /// The owner's lane name on holdings wide enough to hold it.
    fn draw_owner_names<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        bars: &[(NodeBar, f64)],
    ) -> Drawn<DB> {
        let (x0, x1) = self.window.secs();
        let min_w = self.min_w();
        let label = TextStyle::from((font::FAMILY, 11).into_font())
            .color(&WHITE)
            .pos(Pos::new(HPos::Center, VPos::Center));
        for (b, y) in bars {
            let Some(c) = b.owner else { continue };
            let (a, e) = (secs(b.from_ns).max(x0), secs(b.to_ns).min(x1));
            let text = self.run.lane_name(c);
            if (e - a) / min_w >= 7.0 * text.len() as f64 + 8.0 {
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    ((a + e) / 2.0, y + 0.5),
                    label.clone(),
                )))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::node_record::{Held, Lease, NodeRecord};
    use checkers::{Grant, History, Op};

    const MS: Nanos = 1_000_000;

    fn held(node: &str, value: &str, from_ms: u64, to_ms: Option<u64>) -> Held {
        Held {
            node: node.into(),
            key: "fencepost:lock".into(),
            value: value.into(),
            from_ns: from_ms * MS,
            to_ns: to_ms.map(|t| t * MS),
            ended_by: "deleted".into(),
            retaken_after_ns: None,
            leases: Vec::new(),
        }
    }

    /// Two nodes: n1 holds client 0's token, then client 2's (extended once, still held at the
    /// end), then a token nobody was granted; n2 re-takes client 0's token after losing its
    /// stream.
    fn record() -> NodesRecord {
        let mut extended = held("n1", "tok-c2", 300, None);
        extended.leases = vec![
            Lease {
                at_ns: 300 * MS,
                until_ns: 1_300 * MS,
            },
            Lease {
                at_ns: 600 * MS,
                until_ns: 1_600 * MS,
            },
        ];
        let mut retaken = held("n2", "tok-c0", 700, Some(800));
        retaken.retaken_after_ns = Some(400 * MS);
        NodesRecord {
            record: NodeRecord {
                held: vec![
                    held("n1", "tok-c0", 100, Some(200)),
                    extended,
                    held("n1", "stray", 950, Some(990)),
                    held("n2", "tok-c0", 100, Some(400)),
                    retaken,
                ],
                blind: vec![("n2".into(), 450 * MS, Some(650 * MS))],
                ..NodeRecord::default()
            },
            nodes: vec!["n1".into(), "n2".into()],
        }
    }

    fn granted(index: u64, c: u32, token: &str) -> [Op; 2] {
        let op = |index, kind, value| Op {
            index,
            time_ns: index * MS,
            process: Process::Client(c),
            kind,
            f: F::Acquire,
            value,
        };
        [
            op(index, OpKind::Invoke, Value::None),
            op(
                index + 1,
                OpKind::Ok,
                Value::Granted(Grant {
                    fence: index,
                    token: token.into(),
                    validity_end_ns: 0,
                }),
            ),
        ]
    }

    #[test]
    fn bars_take_their_owner_from_the_grant_of_their_token() {
        let mut ops = Vec::new();
        ops.extend(granted(10, 0, "tok-c0"));
        ops.extend(granted(20, 2, "tok-c2"));
        let owners = token_owners(&History::new(ops).calls());
        let bars = node_bars(&record(), &owners, 1_000 * MS);
        let drawn: Vec<(&str, u64, u64, Option<u32>, bool)> = bars
            .iter()
            .map(|b| {
                (
                    b.node.as_str(),
                    b.from_ns / MS,
                    b.to_ns / MS,
                    b.owner,
                    b.retaken,
                )
            })
            .collect();
        assert_eq!(
            drawn,
            [
                ("n1", 100, 200, Some(0), false),
                // Still held when the record ends: drawn to the end of the run.
                ("n1", 300, 1_000, Some(2), false),
                // No client was granted this token.
                ("n1", 950, 990, None, false),
                ("n2", 100, 400, Some(0), false),
                ("n2", 700, 800, Some(0), true),
            ]
        );
        assert_eq!(bars[1].extended_at_ns, [600 * MS], "the extension's notch");
        assert!(
            bars[0].extended_at_ns.is_empty(),
            "a first lease is no notch"
        );
    }

    #[test]
    fn a_lane_per_node_given_then_any_other_on_record() {
        let mut r = record();
        r.record.held.push(held("n3", "tok-c0", 10, Some(20)));
        assert_eq!(node_names(&r), ["n1", "n2", "n3"]);
        let lanes = super::super::lanes::Lanes::new([0, 2], node_names(&r));
        assert_eq!(lanes.node_y("n1"), Some(2.0));
        assert_eq!(lanes.node_y("n3"), Some(0.0));
    }

    #[test]
    fn a_lost_stream_greys_its_node_until_it_is_back() {
        assert_eq!(
            blind_spans(&record(), 1_000 * MS),
            [("n2", 450 * MS, 650 * MS)]
        );
        let mut r = record();
        r.record.blind = vec![("n1".into(), 900 * MS, None)];
        assert_eq!(blind_spans(&r, 1_000 * MS), [("n1", 900 * MS, 1_000 * MS)]);
    }
}
