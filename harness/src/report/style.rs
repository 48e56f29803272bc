//! The charts' visual vocabulary, shared so a colour means the same thing on every chart and in
//! every legend: blue = holds the lock, amber = still acting after its own lease ran out, red = two
//! holders at once or a stale access the resource accepted, green = fencing stopped one; faults
//! are shaded in colours none of those use (a GC pause is lavender). A wrong answer of the library
//! is the one yellow mark, so it is never read as anything else. Each client also has an identity
//! colour ([`client`]), shown by its lane's name, in which the lock nodes' lanes draw the key
//! holding that client's token: the identities avoid the colours above.

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
/// An answer of the lock library no correct lock may give (a blame finding): yellow, outlined
/// in ink, used by nothing else.
pub const FINDING: RGBColor = RGBColor(255, 214, 0);
/// A node holding a token no client was granted.
pub const UNOWNED: RGBColor = RGBColor(185, 185, 185);
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

/// Client identities, for the nodes' lanes: muted hues that none of the meanings above use (no
/// blue, amber, red, green, magenta, orange or yellow), told apart from each other.
pub const CLIENTS: [RGBColor; 8] = [
    RGBColor(0, 150, 136),
    RGBColor(121, 85, 72),
    RGBColor(103, 58, 183),
    RGBColor(158, 157, 36),
    RGBColor(96, 125, 139),
    RGBColor(0, 188, 212),
    RGBColor(190, 120, 150),
    RGBColor(55, 65, 80),
];

/// Client `c`'s identity colour (they repeat past eight clients; the lanes name the client too).
pub fn client(c: u32) -> RGBColor {
    CLIENTS[c as usize % CLIENTS.len()]
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
