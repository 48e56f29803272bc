//! The timeline: who believed they held the lock when, what the lock nodes actually held, which
//! faults were active, where mutual exclusion broke and where the library answered wrongly —
//! readable without reading a word.
//!
//! One lane per client that did something ([`lanes`]). A bar is a believed-held span
//! (`checkers::exclusion::spans`: from the granted acquire's completion to the invocation of the
//! last access under that grant), blue while the client's own computed validity lasts, amber after
//! it, red where another client's span overlaps it; wide bars carry their fencing token
//! ([`spans`]). Under the clients, one lane per lock node whose replication stream the run read
//! ([`nodes`]): whose token the key held when, in the owning client's colour (shown by its lane's
//! name), so a re-take, a late grant or a validity promised past the lease shows next to the
//! clients' beliefs. Fault windows are shaded over the whole chart in their kind's colour, darker
//! on the lane they hit ([`faults`]). A library's answer no correct lock may give is a numbered
//! yellow diamond on the client's lane at the answer ([`findings`]); a stale access the resource
//! accepted is a red triangle, one fencing rejected a green dot ([`stale`]); a counter read is
//! marked where it first proves a loss ([`counter`]); a release that deleted another client's lock
//! is a magenta cross ([`foreign`]); failed and `info` ops are small orange crosses and carets at
//! the bottom of the lane ([`ops`]). In messaging runs each lost message is a red tick at its
//! publish ([`messages`]); limiter intervals over the limit are outlined ([`limiter`]).
//!
//! Two charts per run: the whole run (`timeline.svg/png`) and a zoom on the window of the first
//! violation (`timeline-zoom.svg/png`, [`zoom`]), outlined on the whole-run chart.

mod counter;
mod faults;
mod findings;
mod foreign;
mod lanes;
mod legend;
mod limiter;
mod marks;
mod messages;
mod nodes;
mod ops;
mod rows;
mod spans;
mod stale;
mod zoom;

pub use zoom::{first_violation_window, violation_windows, zoom_stem, ZoomWindow};

use super::canvas::{self, ChartFiles, Drawing};
use super::saved_run::SavedRun;
use super::{font, style, ReportError};
use checkers::node_record::NodesRecord;
use checkers::Nanos;
use lanes::Lanes;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

pub const FULL: &str = "timeline";
pub const ZOOM: &str = "timeline-zoom";

pub(crate) const WIDTH_PX: u32 = 1600;
/// The header above the plot: the title and two rows of legend (more when the legend wraps
/// further: `Timeline::header_px`).
pub(crate) const HEADER_PX: u32 = 74;
/// Where the legend starts, below the title.
const LEGEND_TOP_PX: i32 = 32;
const FAULT_LABEL_PX: u32 = 38;
pub(crate) const X_AXIS_PX: u32 = 46;
pub(crate) const LANE_LABEL_PX: u32 = 96;
/// Bars fill the middle of their lane.
const BAR_LOW: f64 = 0.24;
const BAR_HIGH: f64 = 0.76;

fn secs(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

/// Writes the whole-run timeline and, when the run has a violation, the zoom on the first one.
/// A run too long to read whole gets the downsampled overview instead, and a zoom on each of
/// its first violations. The lock nodes' own record is read from the run folder `dir` when the
/// run kept one and was read whole (as the blame check reads it).
pub fn render(run: &SavedRun, dir: &Path) -> Result<Vec<ChartFiles>, ReportError> {
    if let Some(long) = &run.long {
        let mut files = vec![canvas::write(
            dir,
            FULL,
            &super::overview::Overview { run, long },
        )?];
        let lanes = lanes_of(run, None);
        for (i, window) in long.zooms.iter().enumerate() {
            let zoomed = Timeline {
                run,
                nodes: None,
                lanes: lanes.clone(),
                window: *window,
                zoom: None,
            };
            files.push(canvas::write(dir, &zoom_stem(i), &zoomed)?);
        }
        return Ok(files);
    }
    // A record that cannot be read failed the run's judging already: the chart goes without it.
    let nodes = crate::judge::nodes_record(dir).ok().flatten();
    let lanes = lanes_of(run, nodes.as_ref());
    let zoom = first_violation_window(run);
    let full = Timeline {
        run,
        nodes: nodes.as_ref(),
        lanes: lanes.clone(),
        window: ZoomWindow {
            start_ns: 0,
            end_ns: run.end_ns,
        },
        zoom,
    };
    let mut files = vec![canvas::write(dir, FULL, &full)?];
    if let Some(window) = zoom {
        let zoomed = Timeline {
            window,
            zoom: None,
            ..full
        };
        files.push(canvas::write(dir, ZOOM, &zoomed)?);
    }
    Ok(files)
}

/// The lanes of a run's charts: its clients that did something or carry a mark that only the
/// final read can (a loss first provable there), then its lock nodes.
fn lanes_of(run: &SavedRun, nodes: Option<&NodesRecord>) -> Lanes {
    let marked = run
        .result
        .checks
        .counter
        .as_ref()
        .map(|k| counter::first_provable(&k.anomalies))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| match a.process {
            checkers::Process::Client(c) => Some(c),
            checkers::Process::Nemesis => None,
        });
    Lanes::new(
        lanes::shown_clients(&run.calls, marked),
        nodes.map(nodes::node_names).unwrap_or_default(),
    )
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

/// A timeline's plot: one row per lane (the first on top), the history clock in seconds across.
pub(crate) type LaneChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What a drawing stage returns.
pub(crate) type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// One timeline chart.
#[derive(Clone)]
struct Timeline<'a> {
    run: &'a SavedRun,
    /// The lock nodes' own record, when the run has one: the nodes' lanes.
    nodes: Option<&'a NodesRecord>,
    lanes: Lanes,
    /// The stretch this chart shows: the whole run, or a zoom on a violation.
    window: ZoomWindow,
    /// The zoom window, outlined on the whole-run chart.
    zoom: Option<ZoomWindow>,
}

/// Its geometry.
impl Timeline<'_> {
    fn lane_px(&self) -> u32 {
        let n = self.lanes.count();
        if n <= 10 {
            44
        } else {
            (760 / n).clamp(8, 44)
        }
    }

    /// The header's height: the title and the legend's rows, at least two.
    fn header_px(&self) -> u32 {
        let rows = canvas::legend_rows(&self.legend(), 12, WIDTH_PX).max(2);
        let px = LEGEND_TOP_PX + rows * canvas::LEGEND_ROW_PX + 2;
        (px as u32).max(HEADER_PX)
    }

    fn is_zoom(&self) -> bool {
        self.window.start_ns > 0 || self.window.end_ns < self.run.end_ns
    }

    /// Seconds one pixel of the plot spans: the narrowest a bar or band is drawn.
    fn min_w(&self) -> f64 {
        let (x0, x1) = self.window.secs();
        let plot_w_px = f64::from(WIDTH_PX - LANE_LABEL_PX - 24).max(1.0);
        (x1 - x0) / plot_w_px
    }

    /// A bar across the middle of the lane whose bottom is `y`, from `s` to `e` seconds, at least
    /// a pixel wide.
    fn bar(&self, y: f64, s: f64, e: f64) -> [(f64, f64); 2] {
        [(s, y + BAR_LOW), (e.max(s + self.min_w()), y + BAR_HIGH)]
    }
}

impl Drawing for Timeline<'_> {
    fn size_px(&self) -> (u32, u32) {
        let h = self.header_px()
            + FAULT_LABEL_PX
            + self.lanes.count() * self.lane_px()
            + X_AXIS_PX
            + 10;
        (WIDTH_PX, h)
    }

    /// Draws the stages back to front: header, plot and lanes, fault windows, the nodes' record,
    /// the bars and what marks them, the marks of each finding (the library's last, on top),
    /// then the labels around the plot.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        root.fill(&WHITE)?;
        self.draw_header(root)?;
        let (_, body) = root.split_vertically(self.header_px());
        let mut chart = self.build_chart(&body)?;
        let faults = self.faults_shown();
        let spans = self.spans_shown();
        let mut marks = self.marks();
        self.draw_lane_stripes(&mut chart)?;
        self.draw_fault_windows(&mut chart, &faults)?;
        self.draw_node_lanes(&mut chart, root, &mut marks)?;
        self.draw_spans(&mut chart, &spans)?;
        self.draw_overlaps(&mut chart)?;
        self.draw_fencing_tokens(&mut chart, &spans)?;
        self.outline_first_overlap(&mut chart)?;
        self.draw_op_ticks(&mut chart)?;
        self.draw_lost_messages(&mut chart)?;
        self.draw_over_admissions(&mut chart)?;
        self.draw_failed_ops(&mut chart)?;
        self.draw_stale_accesses(&mut chart, root, &mut marks)?;
        self.draw_counter_anomalies(&mut chart, root, &mut marks)?;
        self.draw_foreign_releases(&mut chart, root, &mut marks)?;
        self.draw_findings(&mut chart, root, &mut marks)?;
        self.outline_zoom(&mut chart)?;
        self.draw_lane_labels(&chart, root)?;
        self.draw_fault_labels(&chart, root, &faults)
    }
}

/// The header and the plot.
impl Timeline<'_> {
    /// The title and the legend above the plot.
    fn draw_header<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let title_style = TextStyle::from((font::FAMILY, 17).into_font()).color(&style::INK);
        root.draw(&Text::new(self.title(), (12, 8), title_style))?;
        canvas::legend(root, &self.legend(), 12, LEGEND_TOP_PX)?;
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
            .build_cartesian_2d(x0..x1, 0f64..f64::from(self.lanes.count()))?;
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

    /// The zoom window, outlined on the whole-run chart.
    fn outline_zoom<DB: DrawingBackend>(&self, chart: &mut LaneChart<'_, DB>) -> Drawn<DB> {
        let Some(z) = self.zoom else {
            return Ok(());
        };
        let (a, b) = z.secs();
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.0), (b, f64::from(self.lanes.count()))],
            style::INK.mix(0.7).stroke_width(1),
        )))?;
        Ok(())
    }
}
