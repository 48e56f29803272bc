//! The timeline: who believed they held the lock when, which faults were active, and where
//! mutual exclusion broke — readable without reading a word.
//!
//! One lane per client. A bar is a believed-held span (`checkers::exclusion::spans`: from the
//! granted acquire's completion to the invocation of the last access under that grant), blue
//! while the client's own computed validity lasts, amber after it, red where another client's
//! span overlaps it; wide bars carry their fencing token. Fault windows are shaded over the whole
//! chart in their kind's colour, darker on the lane of the client they hit. A stale access the
//! resource accepted is a red triangle on its lane, one fencing rejected a green dot; a release
//! that deleted another client's lock is a magenta cross; failed and `info` ops are small orange
//! crosses and purple carets at the bottom of the lane. The first overlapping pair is outlined.
//! In messaging runs each lost message is a red tick at its publish on its producer's lane.
//!
//! Two charts per run: the whole run (`timeline.svg/png`) and a zoom on the window of the first
//! violation (`timeline-zoom.svg/png`), outlined on the whole-run chart.

use super::canvas::{self, ChartFiles, Drawing, Swatch};
use super::saved_run::{target_client, SavedRun};
use super::{font, style, ReportError};
use checkers::exclusion::Span;
use checkers::{Access, FaultWindow, Nanos, OpKind, Process};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub const FULL: &str = "timeline";
pub const ZOOM: &str = "timeline-zoom";

pub(crate) const WIDTH_PX: u32 = 1600;
pub(crate) const HEADER_PX: u32 = 74;
const FAULT_LABEL_PX: u32 = 38;
pub(crate) const X_AXIS_PX: u32 = 46;
pub(crate) const LANE_LABEL_PX: u32 = 96;
/// Bars fill the middle of their lane.
const BAR_LOW: f64 = 0.24;
const BAR_HIGH: f64 = 0.76;

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
    fn secs(&self) -> (f64, f64) {
        (
            secs(self.start_ns),
            secs(self.end_ns.max(self.start_ns + 1)),
        )
    }
}

fn secs(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

/// Writes the whole-run timeline and, when the run has a violation, the zoom on the first one.
/// A run too long to read whole gets the downsampled overview instead, and a zoom on each of
/// its first violations.
pub fn render(run: &SavedRun, dir: &Path) -> Result<Vec<ChartFiles>, ReportError> {
    if let Some(long) = &run.long {
        let mut files = vec![canvas::write(
            dir,
            FULL,
            &super::overview::Overview { run, long },
        )?];
        for (i, window) in long.zooms.iter().enumerate() {
            let zoomed = Timeline {
                run,
                window: *window,
                zoom: None,
            };
            files.push(canvas::write(dir, &zoom_stem(i), &zoomed)?);
        }
        return Ok(files);
    }
    let zoom = first_violation_window(run);
    let full = Timeline {
        run,
        window: ZoomWindow {
            start_ns: 0,
            end_ns: run.end_ns,
        },
        zoom,
    };
    let mut files = vec![canvas::write(dir, FULL, &full)?];
    if let Some(window) = zoom {
        let zoomed = Timeline {
            run,
            window,
            zoom: None,
        };
        files.push(canvas::write(dir, ZOOM, &zoomed)?);
    }
    Ok(files)
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

/// The time axis of a chart of lanes (no y labels: lanes label themselves), `decimals`
/// digits after the second's point.
pub(crate) fn lane_mesh<DB: DrawingBackend>(
    chart: &mut LaneChart<'_, DB>,
    decimals: usize,
) -> Drawn<DB> {
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(16)
        .x_label_formatter(&|x| format!("{x:.decimals$}"))
        .x_desc("seconds since the run started")
        .label_style((font::FAMILY, 13))
        .axis_desc_style((font::FAMILY, 13))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
}

/// A timeline's plot: one row per lane (client 0 on top), the history clock in seconds across.
pub(crate) type LaneChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What a drawing stage returns.
pub(crate) type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The client a history process is (the nemesis, never drawn on a lane, counts as client 0).
fn client(p: Process) -> u32 {
    match p {
        Process::Client(c) => c,
        Process::Nemesis => 0,
    }
}

/// One timeline chart.
struct Timeline<'a> {
    run: &'a SavedRun,
    /// The stretch this chart shows: the whole run, or a zoom on a violation.
    window: ZoomWindow,
    /// The zoom window, outlined on the whole-run chart.
    zoom: Option<ZoomWindow>,
}

/// Its lanes, and what the chart says in words: its title and legend.
impl Timeline<'_> {
    fn lanes(&self) -> u32 {
        self.run.lanes.max(1)
    }

    fn lane_px(&self) -> u32 {
        let n = self.lanes();
        if n <= 10 {
            44
        } else {
            (760 / n).clamp(8, 44)
        }
    }

    /// Bottom of client `c`'s lane in chart y (client 0 on top).
    fn lane_y(&self, c: u32) -> f64 {
        f64::from(self.lanes() - 1 - c.min(self.lanes() - 1))
    }

    fn is_zoom(&self) -> bool {
        self.window.start_ns > 0 || self.window.end_ns < self.run.end_ns
    }

    /// Scenario and seed, the zoom's stretch, then what each checker found.
    fn title(&self) -> String {
        let r = &self.run.result;
        let mut parts = vec![format!("{} · seed {}", r.meta.scenario, r.meta.seed)];
        if self.is_zoom() {
            let (a, b) = self.window.secs();
            let which = if self.run.long.is_some() {
                "a violation"
            } else {
                "the first violation"
            };
            parts.push(format!("zoom on {which}, {a:.3}–{b:.3} s"));
        }
        parts.push(self.exclusion_headline());
        parts.extend(self.finding_headlines());
        parts.join(" · ")
    }

    /// Whether mutual exclusion held: no grants, held, or broken (with its counts).
    fn exclusion_headline(&self) -> String {
        let c = &self.run.result.checks;
        let ex = &c.exclusion;
        if self.run.spans.is_empty() && c.foreign_releases().is_empty() {
            "no lock grants in this run".into()
        } else if ex.overlaps.is_empty() && c.foreign_releases().is_empty() {
            "mutual exclusion held".into()
        } else {
            let foreign = c.foreign_releases().len();
            format!(
                "MUTUAL EXCLUSION BROKEN: {} overlap(s){}",
                ex.overlap_count,
                if foreign > 0 {
                    format!(", {foreign} foreign release(s)")
                } else {
                    String::new()
                }
            )
        }
    }

    /// What the other checkers found: fencing, counter, limiter, messages (each when it ran).
    fn finding_headlines(&self) -> Vec<String> {
        let c = &self.run.result.checks;
        let mut parts = Vec::new();
        if let Some(f) = c.fencing.as_ref().filter(|f| f.accesses > 0) {
            parts.push(format!(
                "{} stale access(es) accepted, {} rejected by fencing",
                f.stale_accepted.len(),
                f.prevented.len()
            ));
        }
        if let Some(k) = &c.counter {
            parts.push(format!(
                "counter: {} increment(s) lost, {} duplicated",
                k.lost, k.duplicated
            ));
        }
        if let Some(w) = &c.window {
            parts.push(format!(
                "limiter: {} over-admitted interval(s)",
                w.over_admissions_total
            ));
        }
        if let Some(d) = &c.delivery {
            parts.push(format!(
                "messages: {} acknowledged, {} lost, {} duplicate receipt(s)",
                d.published.acknowledged, d.total.lost, d.total.duplicated
            ));
        }
        parts
    }

    /// The legend: the bars, the faults, the marks this run's findings put on the lanes, the
    /// failed and unknown ops, and the zoom outline.
    fn legend(&self) -> Vec<(Swatch, String)> {
        let mut entries = self.span_legend();
        entries.extend(canvas::fault_legend(
            self.run.faults.iter().map(|w| w.fault.kind.as_str()),
            0.55,
            " (darker on its target)",
        ));
        entries.extend(self.mark_legend());
        entries.push((Swatch::Cross(style::FAIL), "op failed".into()));
        entries.push((
            Swatch::Caret(style::INFO),
            "op outcome unknown (info)".into(),
        ));
        if self.zoom.is_some() {
            let what = if self.run.result.checks.exclusion.overlaps.is_empty() {
                "window shown zoomed"
            } else {
                "first overlapping pair / window shown zoomed"
            };
            entries.push((Swatch::Outline(style::INK), what.into()));
        }
        entries
    }

    /// The three colours of a believed-held span, when the run has any.
    fn span_legend(&self) -> Vec<(Swatch, String)> {
        if self.run.spans.is_empty() {
            return Vec::new();
        }
        vec![
            (
                Swatch::Bar(style::HOLD),
                "holds the lock (fencing token)".into(),
            ),
            (
                Swatch::Bar(style::EXPIRED),
                "still acting after its own lease ended".into(),
            ),
            (
                Swatch::Bar(style::OVERLAP),
                "two holders at once (violation)".into(),
            ),
        ]
    }

    /// The marks on the lanes, each when this run can have it: the resource's stale accesses
    /// (when the run used the resource at all), foreign releases, the grey ops of a run without
    /// a lock, counter anomalies, over-admitted intervals and lost messages.
    fn mark_legend(&self) -> Vec<(Swatch, String)> {
        let c = &self.run.result.checks;
        let mut entries = Vec::new();
        let fencing = c.fencing.as_ref().filter(|f| f.accesses > 0);
        if fencing.is_some_and(|f| !f.stale_accepted.is_empty() || !f.fenced) {
            entries.push((
                Swatch::Triangle(style::STALE),
                "stale access accepted".into(),
            ));
        }
        if fencing.is_some_and(|f| !f.prevented.is_empty() || f.fenced) {
            entries.push((
                Swatch::Dot(style::PREVENTED),
                "stale access rejected by fencing".into(),
            ));
        }
        if !c.foreign_releases().is_empty() {
            entries.push((
                Swatch::Cross(style::FOREIGN),
                "release deleted another client's lock".into(),
            ));
        }
        if self.run.spans.is_empty() {
            entries.push((
                Swatch::Bar(style::tint(style::MUTED, 0.6)),
                "op (no lock in this run)".into(),
            ));
        }
        if c.counter.as_ref().is_some_and(|k| !k.anomalies.is_empty()) {
            entries.push((
                Swatch::Triangle(style::STALE),
                "counter read proving increments lost or duplicated".into(),
            ));
        }
        if c.window
            .as_ref()
            .is_some_and(|w| !w.over_admissions.is_empty())
        {
            entries.push((
                Swatch::Outline(style::OVERLAP),
                "interval admitting more than the limit".into(),
            ));
        }
        if !self.run.lost_messages.is_empty() {
            entries.push((
                Swatch::Bar(style::STALE),
                "message lost (at its publish, on its producer's lane)".into(),
            ));
        }
        entries
    }
}

impl Drawing for Timeline<'_> {
    fn size_px(&self) -> (u32, u32) {
        let h = HEADER_PX + FAULT_LABEL_PX + self.lanes() * self.lane_px() + X_AXIS_PX + 10;
        (WIDTH_PX, h)
    }

    /// Draws the stages back to front: header, plot and lanes, fault windows, the bars and
    /// what marks them, the marks of each finding, then the labels around the plot.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        self.draw_header(root)?;
        let (_, body) = root.split_vertically(HEADER_PX);
        let mut chart = self.build_chart(&body)?;
        let faults = self.faults_shown();
        let spans = self.spans_shown();
        self.draw_lane_stripes(&mut chart)?;
        self.draw_fault_windows(&mut chart, &faults)?;
        self.draw_spans(&mut chart, &spans)?;
        self.draw_overlaps(&mut chart)?;
        self.draw_fencing_tokens(&mut chart, &spans)?;
        self.outline_first_overlap(&mut chart)?;
        self.draw_op_ticks(&mut chart)?;
        self.draw_lost_messages(&mut chart)?;
        self.draw_over_admissions(&mut chart)?;
        self.draw_failed_ops(&mut chart)?;
        let mut marks = self.marks();
        self.draw_stale_accesses(&mut chart, root, &mut marks)?;
        self.draw_counter_anomalies(&mut chart, root, &mut marks)?;
        self.draw_foreign_releases(&mut chart, root, &mut marks)?;
        self.outline_zoom(&mut chart)?;
        self.draw_lane_labels(&chart, root)?;
        self.draw_fault_labels(&chart, root, &faults)
    }
}

/// The plot, its lanes and its bars.
impl Timeline<'_> {
    /// The title and the legend above the plot.
    fn draw_header<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let title_style = TextStyle::from((font::FAMILY, 17).into_font()).color(&style::INK);
        root.draw(&Text::new(self.title(), (12, 8), title_style))?;
        canvas::legend(root, &self.legend(), 12, 32)?;
        Ok(())
    }

    /// The plot below the header, room for fault labels above it and lane labels left of it,
    /// with its time axis (more digits the narrower the window).
    fn build_chart<'b, DB: DrawingBackend>(
        &self,
        body: &'b DrawingArea<DB, Shift>,
    ) -> Result<LaneChart<'b, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
        let (x0, x1) = self.window.secs();
        let mut chart = ChartBuilder::on(body)
            .margin_top(FAULT_LABEL_PX)
            .margin_right(24)
            .x_label_area_size(X_AXIS_PX)
            .y_label_area_size(LANE_LABEL_PX)
            .build_cartesian_2d(x0..x1, 0f64..f64::from(self.lanes()))?;
        let decimals = if x1 - x0 < 2.0 {
            2
        } else if x1 - x0 < 20.0 {
            1
        } else {
            0
        };
        lane_mesh(&mut chart, decimals)?;
        Ok(chart)
    }

    /// Seconds one pixel of the plot spans: the narrowest a bar or band is drawn.
    fn min_w(&self) -> f64 {
        let (x0, x1) = self.window.secs();
        let plot_w_px = f64::from(WIDTH_PX - LANE_LABEL_PX - 24).max(1.0);
        (x1 - x0) / plot_w_px
    }

    /// A bar across the middle of client `c`'s lane from `s` to `e` seconds, at least a pixel wide.
    fn bar(&self, c: u32, s: f64, e: f64) -> [(f64, f64); 2] {
        let y = self.lane_y(c);
        [(s, y + BAR_LOW), (e.max(s + self.min_w()), y + BAR_HIGH)]
    }

    /// The fault windows that meet the window shown.
    fn faults_shown(&self) -> Vec<&FaultWindow> {
        self.run
            .faults
            .iter()
            .filter(|w| self.window.meets(w.start_ns, w.stop_ns))
            .collect()
    }

    /// The believed-held spans that meet the window shown.
    fn spans_shown(&self) -> Vec<&Span> {
        self.run
            .spans
            .iter()
            .filter(|s| self.window.meets(s.start_ns, s.end_ns))
            .collect()
    }

    /// Every other lane striped, so a lane reads across the chart.
    fn draw_lane_stripes<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let (x0, x1) = self.window.secs();
        for c in (0..self.lanes()).step_by(2) {
            let y = self.lane_y(c);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y), (x1, y + 1.0)],
                style::STRIPE.filled(),
            )))?;
        }
        Ok(())
    }

    /// Fault windows: the whole chart lightly, the target's lane strongly.
    fn draw_fault_windows<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        faults: &[&FaultWindow],
    ) -> Drawn<DB> {
        let n = self.lanes();
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
            if let Some(c) = target_client(&w.fault.target).filter(|&c| c < n) {
                let y = self.lane_y(c);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(s, y), (e, y + 1.0)],
                    col.mix(0.6).filled(),
                )))?;
            }
        }
        Ok(())
    }

    /// Believed-held spans: blue, amber past the client's own validity end.
    fn draw_spans<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        spans: &[&Span],
    ) -> Drawn<DB> {
        let mut rects = Vec::new();
        for s in spans {
            let c = client(s.process);
            let (a, b, v) = (secs(s.start_ns), secs(s.end_ns), secs(s.validity_end_ns));
            if v > a {
                rects.push(Rectangle::new(
                    self.bar(c, a, b.min(v)),
                    style::HOLD.filled(),
                ));
            }
            if b > v {
                rects.push(Rectangle::new(
                    self.bar(c, a.max(v), b),
                    style::EXPIRED.filled(),
                ));
            }
        }
        chart.draw_series(rects)?;
        Ok(())
    }

    /// Overlaps: both spans red over the overlapping stretch.
    fn draw_overlaps<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let ex = &self.run.result.checks.exclusion;
        let mut red = Vec::new();
        for o in ex
            .overlaps
            .iter()
            .filter(|o| self.window.meets(o.overlap_start_ns, o.overlap_end_ns))
        {
            let (a, b) = (secs(o.overlap_start_ns), secs(o.overlap_end_ns));
            for s in [&o.first, &o.second] {
                red.push(Rectangle::new(
                    self.bar(client(s.process), a, b),
                    style::OVERLAP.filled(),
                ));
            }
        }
        chart.draw_series(red)?;
        Ok(())
    }

    /// Fencing tokens on bars wide enough to hold them, on lanes tall enough.
    fn draw_fencing_tokens<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        spans: &[&Span],
    ) -> Drawn<DB> {
        if self.lane_px() < 18 {
            return Ok(());
        }
        let (x0, x1) = self.window.secs();
        let min_w = self.min_w();
        let label = TextStyle::from((font::FAMILY, 11).into_font())
            .color(&WHITE)
            .pos(Pos::new(HPos::Center, VPos::Center));
        for s in spans {
            let (a, b) = (secs(s.start_ns).max(x0), secs(s.end_ns).min(x1));
            let text = s.fence.to_string();
            let width_px = (b - a) / min_w;
            if width_px >= 7.0 * text.len() as f64 + 8.0 {
                let y = self.lane_y(client(s.process)) + 0.5;
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    ((a + b) / 2.0, y),
                    label.clone(),
                )))?;
            }
        }
        Ok(())
    }

    /// The first overlapping pair, outlined.
    fn outline_first_overlap<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
    ) -> Drawn<DB> {
        let Some(o) = self.run.result.checks.exclusion.overlaps.first() else {
            return Ok(());
        };
        let min_w = self.min_w();
        for s in [&o.first, &o.second] {
            let c = client(s.process);
            let y = self.lane_y(c);
            let (a, b) = (
                secs(s.start_ns),
                secs(s.end_ns).max(secs(s.start_ns) + min_w),
            );
            chart.draw_series(std::iter::once(Rectangle::new(
                [(a, y + BAR_LOW - 0.08), (b, y + BAR_HIGH + 0.08)],
                style::INK.stroke_width(2),
            )))?;
        }
        Ok(())
    }

    /// Runs without a lock (counters, limiters): every completed op as a grey tick, so the
    /// lanes still show who did what when.
    fn draw_op_ticks<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        if !self.run.spans.is_empty() {
            return Ok(());
        }
        let min_w = self.min_w();
        let grey = style::tint(style::MUTED, 0.6);
        let ticks: Vec<_> = self
            .run
            .calls
            .iter()
            .filter(|c| c.outcome() == OpKind::Ok)
            .filter_map(|c| Some((c, c.complete_ns()?)))
            .filter(|(c, done)| self.window.meets(c.invoke_ns(), *done))
            .map(|(c, done)| {
                let y = self.lane_y(client(c.process));
                let (a, b) = (secs(c.invoke_ns()), secs(done));
                Rectangle::new([(a, y + 0.35), (b.max(a + min_w), y + 0.65)], grey.filled())
            })
            .collect();
        chart.draw_series(ticks)?;
        Ok(())
    }
}

/// The marks of each finding, over the bars.
impl Timeline<'_> {
    /// Lost messages: a red tick at each one's publish, on its producer's lane.
    fn draw_lost_messages<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let lost: Vec<_> = self
            .run
            .lost_messages
            .iter()
            .filter(|l| self.window.contains(l.invoke_ns))
            .map(|l| {
                let (t, y) = (secs(l.invoke_ns), self.lane_y(l.producer));
                PathElement::new(
                    vec![(t, y + 0.62), (t, y + 0.98)],
                    style::STALE.stroke_width(1),
                )
            })
            .collect();
        chart.draw_series(lost)?;
        Ok(())
    }

    /// Limiter intervals that admitted more than the limit, across every lane.
    fn draw_over_admissions<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let Some(w) = &self.run.result.checks.window else {
            return Ok(());
        };
        let n = self.lanes();
        let min_w = self.min_w();
        for o in w
            .over_admissions
            .iter()
            .filter(|o| self.window.meets(o.from_ns, o.to_ns))
        {
            let (a, b) = (secs(o.from_ns), secs(o.to_ns).max(secs(o.from_ns) + min_w));
            chart.draw_series([
                Rectangle::new(
                    [(a, 0.0), (b, f64::from(n))],
                    style::OVERLAP.mix(0.12).filled(),
                ),
                Rectangle::new(
                    [(a, 0.0), (b, f64::from(n))],
                    style::OVERLAP.stroke_width(2),
                ),
            ])?;
        }
        Ok(())
    }

    /// Failed and indeterminate ops, at the bottom of their lane.
    fn draw_failed_ops<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let mark_px = (self.lane_px() as i32 / 7).clamp(2, 5);
        let mut fails = Vec::new();
        let mut infos = Vec::new();
        for call in &self.run.calls {
            let t = call.complete_ns().unwrap_or(call.invoke_ns());
            if !self.window.contains(t) {
                continue;
            }
            let at = (secs(t), self.lane_y(client(call.process)) + 0.12);
            match call.outcome() {
                OpKind::Fail => fails.push(Cross::new(at, mark_px, style::FAIL.stroke_width(2))),
                OpKind::Info => {
                    infos.push(TriangleMarker::new(at, mark_px + 1, style::INFO.filled()))
                }
                _ => {}
            }
        }
        chart.draw_series(fails)?;
        chart.draw_series(infos)?;
        Ok(())
    }

    /// How this chart draws the marks of stale accesses, counter anomalies and foreign releases.
    fn marks(&self) -> Marks {
        let lane_px = self.lane_px();
        // Marks are labelled on the zoom, and on a whole-run chart only while they are few
        // enough to read (a long run's chart would be all text).
        let checks = &self.run.result.checks;
        let marks = checks
            .fencing
            .as_ref()
            .map_or(0, |f| f.stale_accepted.len() + f.prevented.len())
            + checks.foreign_releases().len()
            + checks.counter.as_ref().map_or(0, |k| k.anomalies.len());
        Marks {
            px: (lane_px as i32 / 4).clamp(4, 9),
            labelled: self.is_zoom() || (lane_px >= 30 && marks <= 8),
            space: LabelSpace::default(),
        }
    }

    /// Stale accesses: accepted (red triangle) and rejected by fencing (green dot).
    fn draw_stale_accesses<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let Some(f) = &self.run.result.checks.fencing else {
            return Ok(());
        };
        for (accepted, list) in [(true, &f.stale_accepted), (false, &f.prevented)] {
            for a in list.iter() {
                let Some(p) = self.run.placed(a) else {
                    continue;
                };
                if !self.window.contains(p.invoke_ns) {
                    continue;
                }
                self.draw_stale_access(chart, root, marks, a, p.invoke_ns, accepted)?;
            }
        }
        Ok(())
    }

    /// One stale access, invoked at `invoke_ns`: a line across its lane topped by a triangle
    /// (accepted) or a dot (rejected), labelled with its tokens where there is room.
    fn draw_stale_access<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
        a: &Access,
        invoke_ns: Nanos,
        accepted: bool,
    ) -> Drawn<DB> {
        let (t, y) = (secs(invoke_ns), self.lane_y(client(a.process)));
        let col = if accepted {
            style::STALE
        } else {
            style::PREVENTED
        };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(t, y + 0.04), (t, y + 0.96)],
            col.stroke_width(2),
        )))?;
        let m = marks.px;
        let top = (t, y + 1.0);
        if accepted {
            chart.draw_series(std::iter::once(
                EmptyElement::at(top)
                    + Polygon::new(vec![(-m - 2, -m), (m + 2, -m), (0, m + 4)], col.filled())
                    + PathElement::new(
                        vec![(-m - 2, -m), (m + 2, -m), (0, m + 4), (-m - 2, -m)],
                        style::INK.stroke_width(1),
                    ),
            ))?;
        } else {
            chart.draw_series(std::iter::once(
                EmptyElement::at(top)
                    + Circle::new((0, 2), m, col.filled())
                    + Circle::new((0, 2), m, style::INK.stroke_width(1)),
            ))?;
        }
        if marks.labelled {
            let what = stale_access_label(a, accepted);
            marks.label(chart, root, top, what, col, (m + 6, -m - 2))?;
        }
        Ok(())
    }

    /// Counter observations out of bounds: lost or duplicated increments, on the reader's lane.
    fn draw_counter_anomalies<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        let Some(k) = &self.run.result.checks.counter else {
            return Ok(());
        };
        for a in k
            .anomalies
            .iter()
            .filter(|a| self.window.contains(a.invoke_ns))
        {
            let (t, y) = (secs(a.invoke_ns), self.lane_y(client(a.process)));
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
                        checkers::counter::CounterAnomalyKind::Lost => "increment(s) lost",
                        checkers::counter::CounterAnomalyKind::Duplicated =>
                            "increment(s) duplicated",
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

    /// Releases that deleted another client's lock: a magenta cross on the releaser's lane.
    fn draw_foreign_releases<DB: DrawingBackend>(
        &self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Marks,
    ) -> Drawn<DB> {
        for r in self.run.result.checks.foreign_releases() {
            if !self.window.contains(r.invoke_ns) {
                continue;
            }
            let (t, y) = (secs(r.invoke_ns), self.lane_y(client(r.process)) + 0.5);
            chart.draw_series(std::iter::once(Cross::new(
                (t, y),
                marks.px + 2,
                style::FOREIGN.stroke_width(3),
            )))?;
            if marks.labelled {
                let victim = match (r.victim, r.victim_fence) {
                    (Some(v), Some(f)) => format!("deleted {v}'s lock (token {f})"),
                    _ => "deleted a later holder's lock".into(),
                };
                let gap_px = marks.px + 6;
                marks.label(chart, root, (t, y), victim, style::FOREIGN, (gap_px, -6))?;
            }
        }
        Ok(())
    }
}

/// What is drawn around the plot: the zoom's outline and the labels of lanes and faults.
impl Timeline<'_> {
    /// The zoom window, outlined on the whole-run chart.
    fn outline_zoom<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let Some(z) = self.zoom else {
            return Ok(());
        };
        let (a, b) = z.secs();
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.0), (b, f64::from(self.lanes()))],
            style::INK.mix(0.7).stroke_width(1),
        )))?;
        Ok(())
    }

    /// Lane labels, left of the plot; every k-th when lanes are thin.
    fn draw_lane_labels<DB: DrawingBackend>(
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
        for c in (0..self.lanes()).step_by(every as usize) {
            let (px, py) = chart.backend_coord(&(x0, self.lane_y(c) + 0.5));
            root.draw(&Text::new(
                self.run.lane_name(c),
                (px - 8, py),
                lane_style.clone(),
            ))?;
        }
        Ok(())
    }

    /// Fault labels above the plot, skipped where they would collide.
    fn draw_fault_labels<DB: DrawingBackend>(
        &self,
        chart: &LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        faults: &[&FaultWindow],
    ) -> Drawn<DB> {
        let (x0, _) = self.window.secs();
        let n = self.lanes();
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

/// A stale access's label: read or write, accepted or rejected, its token against the highest
/// the resource had seen.
fn stale_access_label(a: &Access, accepted: bool) -> String {
    format!(
        "stale {} {} (token {} < {})",
        match a.op {
            checkers::AccessOp::Read => "read",
            checkers::AccessOp::Write => "write",
        },
        if accepted { "ACCEPTED" } else { "rejected" },
        a.fence.unwrap_or(0),
        a.highest_before
    )
}

/// How a chart draws the marks over its bars: their size in pixels, whether they carry labels,
/// and the room the labels drawn so far took.
struct Marks {
    px: i32,
    labelled: bool,
    space: LabelSpace,
}

impl Marks {
    /// Draws `text` in `colour` beside the mark at `at` where the label space has room;
    /// `offset` is the gap to the mark's side and the text's top relative to the mark, in pixels.
    fn label<DB: DrawingBackend>(
        &mut self,
        chart: &mut LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        at: (f64, f64),
        text: String,
        colour: RGBColor,
        (gap_px, dy_px): (i32, i32),
    ) -> Drawn<DB> {
        let st = TextStyle::from((font::FAMILY, 13).into_font()).color(&colour);
        if let Some(dx) = self
            .space
            .place(chart, root, at, &text, &st, gap_px, dy_px)?
        {
            chart.draw_series(std::iter::once(
                EmptyElement::at(at) + Text::new(text, (dx, dy_px), st),
            ))?;
        }
        Ok(())
    }
}

/// Where mark labels already are, so a new one goes where it can be read or nowhere.
#[derive(Default)]
struct LabelSpace {
    /// Claimed pixel rectangles: x0, y0, x1, y1.
    taken: Vec<(i32, i32, i32, i32)>,
}

impl LabelSpace {
    /// Most labels one chart carries; past this the marks speak for themselves.
    const MAX: usize = 24;

    /// Places `text` beside the mark at `at`: `gap_px` to its right, or to its left when it
    /// would run past the plot's edge or onto another label; `dy_px` is the text's top relative
    /// to the mark. Returns the horizontal offset to draw at, or None where there is no room.
    #[allow(clippy::too_many_arguments)]
    fn place<DB: DrawingBackend>(
        &mut self,
        chart: &LaneChart<'_, DB>,
        root: &DrawingArea<DB, Shift>,
        at: (f64, f64),
        text: &str,
        style: &TextStyle<'_>,
        gap_px: i32,
        dy_px: i32,
    ) -> Result<Option<i32>, DrawingAreaErrorKind<DB::ErrorType>> {
        if self.taken.len() >= Self::MAX {
            return Ok(None);
        }
        let (tw, th) = root.estimate_text_size(text, style)?;
        let (tw, th) = (tw as i32, th as i32);
        let (x, y) = chart.backend_coord(&at);
        let right = chart.plotting_area().get_pixel_range().0.end;
        let (y0, y1) = (y + dy_px, y + dy_px + th);
        for dx in [gap_px, -gap_px - tw] {
            let (x0, x1) = (x + dx, x + dx + tw);
            if dx > 0 && x1 > right {
                continue;
            }
            let free = self
                .taken
                .iter()
                .all(|&(a0, b0, a1, b1)| x1 < a0 || x0 > a1 || y1 < b0 || y0 > b1);
            if free {
                self.taken.push((x0 - 4, y0, x1 + 4, y1));
                return Ok(Some(dx));
            }
        }
        Ok(None)
    }
}
