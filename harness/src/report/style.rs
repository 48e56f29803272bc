//! The charts' visual vocabulary, shared so a colour means the same thing on every chart and in
//! every legend: blue = holds the lock, amber = still acting after its own lease ran out, red = two
//! holders at once or a stale access the resource accepted, green = fencing stopped one; faults
//! are shaded in colours none of those use (a GC pause is lavender).

use plotters::style::RGBColor;

/// A client holding the lock within its own computed validity.
pub const HOLD: RGBColor = RGBColor(66, 113, 196);
/// A client still acting as holder after its computed validity ended.
pub const EXPIRED: RGBColor = RGBColor(240, 163, 40);
/// Two clients holding the lock at once: the mutual-exclusion violation.
pub const OVERLAP: RGBColor = RGBColor(214, 39, 40);
/// A stale access the resource accepted (fencing violated).
pub const STALE: RGBColor = RGBColor(200, 0, 0);
/// A stale access fencing rejected (corruption prevented).
pub const PREVENTED: RGBColor = RGBColor(30, 150, 60);
/// A release that deleted another client's lock.
pub const FOREIGN: RGBColor = RGBColor(200, 0, 180);
/// An op that certainly failed.
pub const FAIL: RGBColor = RGBColor(230, 110, 0);
/// An op whose outcome is unknown (`info`).
pub const INFO: RGBColor = RGBColor(60, 60, 60);
/// Alternate lanes.
pub const STRIPE: RGBColor = RGBColor(244, 245, 247);
/// Text and outlines.
pub const INK: RGBColor = RGBColor(30, 30, 30);
pub const MUTED: RGBColor = RGBColor(110, 110, 110);

/// A fault kind's colour: its registry line's ([`crate::nemesis::colour`]; a phase such as
/// `failover/split-brain` takes its fault's), hashed for a kind the registry does not know (an
/// old run's), so a kind looks the same on every chart of every run.
pub fn fault(kind: &str) -> RGBColor {
    match crate::nemesis::colour(kind) {
        Some((r, g, b)) => RGBColor(r, g, b),
        None => {
            let h = kind.bytes().fold(2166136261u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(16777619)
            });
            SERIES[(h as usize) % SERIES.len()]
        }
    }
}

/// Series colours for the perf plots (Tableau 10).
pub const SERIES: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// `c` at opacity `alpha` over white, as an opaque colour (legend swatches of translucent marks).
pub fn tint(c: RGBColor, alpha: f64) -> RGBColor {
    let mix = |v: u8| (f64::from(v) * alpha + 255.0 * (1.0 - alpha)).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}
