//! The rows of a timeline: a lane per client that did something, then a lane per lock node whose
//! own record the run has. A client with nothing to show (a gap in the numbering, or the process
//! that only took the final read) takes no room, and the nodes' account of the key sits under the
//! clients' beliefs on the same clock, so the two read side by side.

use checkers::{Call, OpKind, Process, F};
use std::collections::BTreeSet;

/// What a row shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    Client(u32),
    /// A lock node, by name (`n1`).
    Node(String),
}

/// A chart's rows, top to bottom: the clients in order, then the nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lanes {
    rows: Vec<Lane>,
}

impl Lanes {
    pub(crate) fn new(
        clients: impl IntoIterator<Item = u32>,
        nodes: impl IntoIterator<Item = String>,
    ) -> Lanes {
        let clients: BTreeSet<u32> = clients.into_iter().collect();
        let mut rows: Vec<Lane> = clients.into_iter().map(Lane::Client).collect();
        for n in nodes {
            if !rows.contains(&Lane::Node(n.clone())) {
                rows.push(Lane::Node(n));
            }
        }
        Lanes { rows }
    }

    /// Rows the plot has room for (one even when there is nothing to show).
    pub(crate) fn count(&self) -> u32 {
        (self.rows.len() as u32).max(1)
    }

    /// The bottom of row `i` in chart y (row 0 on top).
    fn y(&self, i: usize) -> f64 {
        f64::from(self.count() - 1) - i as f64
    }

    /// Every row with the bottom of its lane in chart y.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Lane, f64)> {
        self.rows.iter().enumerate().map(|(i, l)| (l, self.y(i)))
    }

    /// The bottom of client `c`'s lane, when it has one.
    pub(crate) fn client_y(&self, c: u32) -> Option<f64> {
        let i = self.rows.iter().position(|l| *l == Lane::Client(c))?;
        Some(self.y(i))
    }

    /// The bottom of a process's lane: a client's, when it has one (the nemesis has none).
    pub(crate) fn process_y(&self, p: Process) -> Option<f64> {
        match p {
            Process::Client(c) => self.client_y(c),
            Process::Nemesis => None,
        }
    }

    /// The bottom of node `name`'s lane, when it has one.
    pub(crate) fn node_y(&self, name: &str) -> Option<f64> {
        let i = self
            .rows
            .iter()
            .position(|l| matches!(l, Lane::Node(n) if n == name))?;
        Some(self.y(i))
    }

    pub(crate) fn has_nodes(&self) -> bool {
        self.rows.iter().any(|l| matches!(l, Lane::Node(_)))
    }

    /// The top of the nodes' lanes (the line between them and the clients'), when there are
    /// both.
    pub(crate) fn nodes_top_y(&self) -> Option<f64> {
        let first = self.rows.iter().position(|l| matches!(l, Lane::Node(_)))?;
        (first > 0).then(|| self.y(first) + 1.0)
    }
}

/// The clients a timeline gives a lane: each that made a call other than an answered final read
/// (the harness's own last look at the counter, which shows nothing on a lane), and each client
/// in `marked` (the final reader, when its read is where a loss is first provable).
pub(crate) fn shown_clients(
    calls: &[Call],
    marked: impl IntoIterator<Item = u32>,
) -> BTreeSet<u32> {
    let mut shown: BTreeSet<u32> = calls
        .iter()
        .filter(|c| !(c.f == F::Final && c.outcome() == OpKind::Ok))
        .filter_map(|c| match c.process {
            Process::Client(id) => Some(id),
            Process::Nemesis => None,
        })
        .collect();
    shown.extend(marked);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{History, Op, Value};

    fn op(index: u64, c: u32, kind: OpKind, f: F, value: Value) -> Op {
        Op {
            index,
            time_ns: index * 1_000,
            process: Process::Client(c),
            kind,
            f,
            value,
        }
    }

    /// Clients 0 and 3 read; client 5 only takes the final read.
    fn calls() -> Vec<Call> {
        History::new(vec![
            op(0, 0, OpKind::Invoke, F::Read, Value::None),
            op(1, 0, OpKind::Ok, F::Read, Value::Int(0)),
            op(2, 3, OpKind::Invoke, F::Read, Value::None),
            op(3, 3, OpKind::Fail, F::Read, Value::Error("refused".into())),
            op(4, 5, OpKind::Invoke, F::Final, Value::None),
            op(5, 5, OpKind::Ok, F::Final, Value::Int(0)),
        ])
        .calls()
    }

    #[test]
    fn clients_without_an_op_and_the_final_reader_get_no_lane() {
        let shown = shown_clients(&calls(), []);
        assert_eq!(shown.into_iter().collect::<Vec<_>>(), [0, 3]);
        let lanes = Lanes::new(shown_clients(&calls(), []), []);
        assert_eq!(lanes.count(), 2);
        assert_eq!(lanes.client_y(0), Some(1.0), "client 0 on top");
        assert_eq!(lanes.client_y(3), Some(0.0), "client 3 right under it");
        assert_eq!(lanes.client_y(1), None, "no op, no lane");
        assert_eq!(lanes.client_y(5), None, "the final reader shows nothing");
    }

    #[test]
    fn a_mark_on_the_final_reader_gives_it_a_lane() {
        let lanes = Lanes::new(shown_clients(&calls(), [5]), []);
        assert_eq!(lanes.count(), 3);
        assert_eq!(lanes.client_y(5), Some(0.0));
    }

    #[test]
    fn node_lanes_go_under_the_clients_once_each() {
        let lanes = Lanes::new([2, 0], ["n1".to_string(), "n2".into(), "n1".into()]);
        let rows: Vec<(Lane, f64)> = lanes.iter().map(|(l, y)| (l.clone(), y)).collect();
        assert_eq!(
            rows,
            [
                (Lane::Client(0), 3.0),
                (Lane::Client(2), 2.0),
                (Lane::Node("n1".into()), 1.0),
                (Lane::Node("n2".into()), 0.0),
            ]
        );
        assert_eq!(lanes.node_y("n2"), Some(0.0));
        assert_eq!(lanes.nodes_top_y(), Some(2.0));
        assert!(lanes.has_nodes());
        assert_eq!(Lanes::new([0], []).nodes_top_y(), None);
    }

    #[test]
    fn an_empty_chart_still_has_one_row() {
        let lanes = Lanes::new([], []);
        assert_eq!(lanes.count(), 1);
        assert_eq!(lanes.iter().count(), 0);
    }
}
