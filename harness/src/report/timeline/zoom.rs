//! Zoom windows: the stretch of the history clock a chart shows, and where a violation's zoom
//! goes — around the first overlapping pair (or the first violation of any kind), padded, at most
//! about 3 s wide so the ops in it stay readable.

use super::{secs, ZOOM};
use crate::report::saved_run::SavedRun;
use checkers::Nanos;

/// A stretch of the history clock a timeline shows: the whole run, or a zoom around a
/// violation (not `checkers::window`'s rate windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoomWindow {
    pub start_ns: Nanos,
    pub end_ns: Nanos,
}

impl ZoomWindow {
    pub fn contains(&self, t: Nanos) -> bool {
        self.start_ns <= t && t <= self.end_ns
    }
    pub fn meets(&self, start_ns: Nanos, end_ns: Nanos) -> bool {
        start_ns <= self.end_ns && end_ns >= self.start_ns
    }
    pub(super) fn secs(&self) -> (f64, f64) {
        (
            secs(self.start_ns),
            secs(self.end_ns.max(self.start_ns + 1)),
        )
    }
}

/// The file stem of the i-th zoom (0-based): `timeline-zoom`, `timeline-zoom-2`, …
pub fn zoom_stem(i: usize) -> String {
    if i == 0 {
        ZOOM.to_string()
    } else {
        format!("{ZOOM}-{}", i + 1)
    }
}

/// The window around the first violation: the first overlapping pair's spans (or the first
/// foreign release, or the first stale access accepted), padded, at most about 3 s wide.
pub fn first_violation_window(run: &SavedRun) -> Option<ZoomWindow> {
    let checks = &run.result.checks;
    let ex = &checks.exclusion;
    let stale_ns = checks
        .fencing
        .as_ref()
        .and_then(|f| f.stale_accepted.iter().filter_map(|a| run.placed(a)).next())
        .map(|p| p.invoke_ns);
    let first = checks.first_violation_ns.or(stale_ns)?;
    let o = ex
        .overlaps
        .iter()
        .find(|o| o.overlap_start_ns == first)
        .or(ex.overlaps.first());
    let (start_ns, end_ns) = around(first, o);
    let pad = pad(start_ns, end_ns);
    Some(ZoomWindow {
        start_ns: start_ns.saturating_sub(pad),
        end_ns: (end_ns + pad).min(run.end_ns.max(end_ns)),
    })
}

/// Windows around the first `n` overlapping pairs that do not share a window (or around the
/// first violation when no pair was kept), for the zooms of a long run.
pub fn violation_windows(result: &crate::judge::RunResult, n: usize) -> Vec<ZoomWindow> {
    let checks = &result.checks;
    let mut out: Vec<ZoomWindow> = Vec::new();
    for o in &checks.exclusion.overlaps {
        if out.len() == n {
            break;
        }
        let w = padded(around(o.overlap_start_ns, Some(o)));
        if out.iter().all(|x| !x.meets(w.start_ns, w.end_ns)) {
            out.push(w);
        }
    }
    if out.is_empty() {
        if let Some(first) = checks.first_violation_ns {
            out.push(padded(around(first, None)));
        }
    }
    out
}

/// The stretch around a violation at `first` (the pair's spans when it is an overlap), at most
/// about 3 s wide, before padding.
fn around(first: Nanos, o: Option<&checkers::exclusion::Overlap>) -> (Nanos, Nanos) {
    let (mut start_ns, mut end_ns) = match o {
        Some(o) => (
            o.first.start_ns.min(o.second.start_ns),
            o.first.end_ns.max(o.second.end_ns),
        ),
        None => (first.saturating_sub(300_000_000), first + 300_000_000),
    };
    const MAX_NS: Nanos = 3_000_000_000;
    if end_ns - start_ns > MAX_NS {
        start_ns = start_ns.max(first.saturating_sub(MAX_NS / 3));
        end_ns = start_ns + MAX_NS;
    }
    (start_ns, end_ns)
}

fn pad(start_ns: Nanos, end_ns: Nanos) -> Nanos {
    ((end_ns - start_ns) / 12).max(20_000_000)
}

fn padded((start_ns, end_ns): (Nanos, Nanos)) -> ZoomWindow {
    let pad = pad(start_ns, end_ns);
    ZoomWindow {
        start_ns: start_ns.saturating_sub(pad),
        end_ns: end_ns + pad,
    }
}
