//! Latency and throughput plots, like Jepsen's: how the system behaved while faults came and went.
//!
//! - `latency-raw`: every op's latency (log scale) at its invocation time, one colour per op kind
//!   and outcome (thinned to at most [`MAX_POINTS`] points; failed and `info` ops are always
//!   kept, and the title says when thinning happened).
//! - `latency-quantiles`: p50, p95, p99 and max per op kind over time buckets.
//! - `rate`: completed ops per second per op kind and outcome over the same buckets.
//!
//! Nemesis windows are shaded in their fault kind's colour on all three. An acquire that found
//! the lock taken is `denied` and an access fencing refused is `rejected`: both are `ok` ops to
//! the history (observations, not failures), shown apart because they are what a lock does.

use super::canvas::{self, ChartFiles, Drawing, Swatch};
use super::saved_run::SavedRun;
use super::{font, style, ReportError};
use checkers::{Call, Nanos, OpKind, Value, F};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

pub const LATENCY_RAW: &str = "latency-raw";
pub const LATENCY_QUANTILES: &str = "latency-quantiles";
pub const RATE: &str = "rate";

/// Most points a raw latency plot draws.
pub const MAX_POINTS: usize = 25_000;
const WIDTH_PX: u32 = 1600;
const PLOT_PX: u32 = 440;

/// How an op ended, as the perf plots tell outcomes apart (not [`crate::judge::Outcome`],
/// whether a run met its expectations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpOutcome {
    Ok,
    /// Acquire found the lock held.
    Denied,
    /// Release found the lock not ours.
    NotHeld,
    /// Access refused by fencing.
    Rejected,
    Fail,
    Info,
}

impl OpOutcome {
    fn of(call: &Call) -> OpOutcome {
        match (call.outcome(), call.result()) {
            (OpKind::Fail, _) => OpOutcome::Fail,
            (OpKind::Info | OpKind::Invoke, _) => OpOutcome::Info,
            (OpKind::Ok, Some(Value::Denied)) => OpOutcome::Denied,
            (OpKind::Ok, Some(Value::NotHeld)) => OpOutcome::NotHeld,
            (OpKind::Ok, Some(Value::Rejected { .. })) => OpOutcome::Rejected,
            (OpKind::Ok, _) => OpOutcome::Ok,
        }
    }
    fn name(self) -> &'static str {
        match self {
            OpOutcome::Ok => "ok",
            OpOutcome::Denied => "denied",
            OpOutcome::NotHeld => "not held",
            OpOutcome::Rejected => "rejected by fencing",
            OpOutcome::Fail => "fail",
            OpOutcome::Info => "info",
        }
    }
}

/// Op kinds in a fixed order, so a kind keeps its colour from run to run.
fn f_rank(f: F) -> u8 {
    match f {
        F::Acquire => 0,
        F::Release => 1,
        F::Extend => 2,
        F::Read => 3,
        F::Write => 4,
        F::Add => 5,
        F::Cas => 6,
        F::Request => 7,
        F::Final => 8,
        F::Held => 9,
        F::Start | F::Stop => 10,
        F::Publish => 11,
        F::Receive => 12,
        F::Ack => 13,
    }
}

fn f_name(f: F) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{f:?}"))
}

/// A series key: op kind and outcome, ordered for stable colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key(u8, OpOutcome);

/// One client op's timing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    invoke_ns: Nanos,
    /// `None` for an op that never completed.
    complete_ns: Option<Nanos>,
    f: F,
    outcome: OpOutcome,
}

impl Sample {
    /// One call's point.
    pub(crate) fn of(c: &Call) -> Sample {
        Sample {
            invoke_ns: c.invoke_ns(),
            complete_ns: c.complete_ns(),
            f: c.f,
            outcome: OpOutcome::of(c),
        }
    }

    fn latency_ms(&self) -> Option<f64> {
        self.complete_ns
            .map(|c| ((c - self.invoke_ns) as f64 / 1e6).max(0.001))
    }
}

/// The three perf charts of a run.
pub fn render(run: &SavedRun, dir: &Path) -> Result<Vec<ChartFiles>, ReportError> {
    // A long run's calls were sampled as its history streamed by; a short run's are all here.
    let own: Vec<Sample>;
    let samples: &[Sample] = match &run.long {
        Some(long) => &long.samples,
        None => {
            own = run.calls.iter().map(Sample::of).collect();
            &own
        }
    };
    let frame = Frame::new(run);
    Ok(vec![
        canvas::write(
            dir,
            LATENCY_RAW,
            &RawLatency {
                frame: &frame,
                samples,
            },
        )?,
        canvas::write(
            dir,
            LATENCY_QUANTILES,
            &Quantiles {
                frame: &frame,
                samples,
            },
        )?,
        canvas::write(
            dir,
            RATE,
            &Rate {
                frame: &frame,
                samples,
            },
        )?,
    ])
}

/// What the three charts share: the run's name, its time span and its fault windows.
struct Frame {
    name: String,
    end_ns: Nanos,
    faults: Vec<(String, Nanos, Nanos)>,
    bucket_ns: Nanos,
}

impl Frame {
    fn new(run: &SavedRun) -> Frame {
        let end_ns = run.end_ns.max(1);
        // The smallest round bucket giving at most ~120 buckets.
        let bucket_ns = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000]
            .iter()
            .map(|ms| ms * 1_000_000)
            .find(|b| end_ns / b <= 120)
            .unwrap_or(60_000_000_000);
        Frame {
            name: format!(
                "{} · seed {}",
                run.result.meta.scenario, run.result.meta.seed
            ),
            end_ns,
            faults: run
                .faults
                .iter()
                .map(|w| (w.fault.kind.clone(), w.start_ns, w.stop_ns))
                .collect(),
            bucket_ns,
        }
    }

    fn fault_legend(&self) -> Vec<(Swatch, String)> {
        canvas::fault_legend(self.faults.iter().map(|f| f.0.as_str()), 0.35, "")
    }

    fn header_px(&self, entries: &[(Swatch, String)]) -> u32 {
        // Rough wrap estimate (7 px per character); the legend wraps itself exactly.
        let mut rows = 1;
        let mut x = 12;
        for (_, t) in entries {
            let w = 52 + 7 * t.chars().count() as u32;
            if x + w > WIDTH_PX - 8 && x > 12 {
                rows += 1;
                x = 12;
            }
            x += w;
        }
        36 + rows * 20 + 8
    }

    /// Title, legend, and the plot area below them.
    fn header<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        title: &str,
        entries: &[(Swatch, String)],
    ) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let st = TextStyle::from((font::FAMILY, 17).into_font()).color(&style::INK);
        root.draw(&Text::new(format!("{} · {title}", self.name), (12, 8), st))?;
        canvas::legend(root, entries, 12, 34)?;
        Ok(root.clone().split_vertically(self.header_px(entries)).1)
    }

    fn x_range(&self) -> std::ops::Range<f64> {
        0.0..(self.end_ns as f64 / 1e9).max(0.001)
    }

    fn shade<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
        y0: f64,
        y1: f64,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        chart.draw_series(self.faults.iter().map(|(kind, s, e)| {
            Rectangle::new(
                [(*s as f64 / 1e9, y0), (*e as f64 / 1e9, y1)],
                style::fault(kind).mix(0.22).filled(),
            )
        }))?;
        Ok(())
    }
}

fn series_colours(keys: impl Iterator<Item = Key>) -> BTreeMap<Key, RGBColor> {
    let mut keys: Vec<Key> = keys.collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .enumerate()
        .map(|(i, k)| (k, style::SERIES[i % style::SERIES.len()]))
        .collect()
}

fn series_name(f: F, o: OpOutcome) -> String {
    format!("{} {}", f_name(f), o.name())
}

fn mesh<DB: DrawingBackend, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    y_desc: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let y_fmt = |y: &f64| {
        if *y >= 10.0 {
            format!("{y:.0}")
        } else if *y >= 1.0 {
            format!("{y:.1}")
        } else {
            format!("{y:.2}")
        }
    };
    chart
        .configure_mesh()
        .y_label_formatter(&y_fmt)
        .x_desc("seconds since the run started")
        .y_desc(y_desc)
        .label_style((font::FAMILY, 13))
        .axis_desc_style((font::FAMILY, 13))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
}

struct RawLatency<'a> {
    frame: &'a Frame,
    samples: &'a [Sample],
}

impl RawLatency<'_> {
    /// Ok-ish samples are thinned by a stride; failed and info ops always stay.
    fn stride(&self) -> usize {
        let common = self
            .samples
            .iter()
            .filter(|s| !matches!(s.outcome, OpOutcome::Fail | OpOutcome::Info))
            .count();
        common.div_ceil(MAX_POINTS).max(1)
    }
}

impl Drawing for RawLatency<'_> {
    fn size_px(&self) -> (u32, u32) {
        let keys = series_colours(self.samples.iter().map(|s| Key(f_rank(s.f), s.outcome)));
        let entries: Vec<(Swatch, String)> = keys
            .keys()
            .map(|_| (Swatch::Dot(BLACK), "x".repeat(18)))
            .chain(self.frame.fault_legend())
            .collect();
        (WIDTH_PX, self.frame.header_px(&entries) + PLOT_PX)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let colours = series_colours(self.samples.iter().map(|s| Key(f_rank(s.f), s.outcome)));
        let mut fs: BTreeMap<u8, F> = BTreeMap::new();
        for s in self.samples {
            fs.insert(f_rank(s.f), s.f);
        }
        let mut entries: Vec<(Swatch, String)> = colours
            .iter()
            .map(|(k, c)| {
                let sw = match k.1 {
                    OpOutcome::Fail => Swatch::Cross(*c),
                    OpOutcome::Info => Swatch::Caret(*c),
                    _ => Swatch::Dot(*c),
                };
                (sw, series_name(fs[&k.0], k.1))
            })
            .collect();
        entries.extend(self.frame.fault_legend());
        let stride = self.stride();
        let title = if stride > 1 {
            format!("latency of every op (raw; 1 in {stride} completed ops shown, all failed and info ops)")
        } else {
            "latency of every op (raw)".to_string()
        };
        let area = self.frame.header(root, &title, &entries)?;
        let lat: Vec<f64> = self.samples.iter().filter_map(Sample::latency_ms).collect();
        let lo = lat.iter().copied().fold(f64::INFINITY, f64::min).min(1.0) / 1.5;
        let hi = lat.iter().copied().fold(0.0, f64::max).max(10.0) * 1.5;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(self.frame.x_range(), (lo..hi).log_scale())?;
        mesh(&mut chart, "latency (ms, log)")?;
        self.frame.shade(&mut chart, lo, hi)?;
        let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
        for s in self.samples {
            let Some(ms) = s.latency_ms() else { continue };
            let key = Key(f_rank(s.f), s.outcome);
            let n = seen.entry(key).or_insert(0);
            *n += 1;
            let always = matches!(s.outcome, OpOutcome::Fail | OpOutcome::Info);
            if !always && !(*n - 1).is_multiple_of(stride) {
                continue;
            }
            let at = (s.invoke_ns as f64 / 1e9, ms);
            let c = colours[&key];
            match s.outcome {
                OpOutcome::Fail => {
                    chart.draw_series(std::iter::once(Cross::new(at, 4, c.stroke_width(2))))?;
                }
                OpOutcome::Info => {
                    chart.draw_series(std::iter::once(TriangleMarker::new(at, 5, c.filled())))?;
                }
                _ => {
                    chart.draw_series(std::iter::once(Circle::new(at, 2, c.mix(0.7).filled())))?;
                }
            }
        }
        Ok(())
    }
}

/// Samples grouped by bucket index.
fn buckets<'a>(
    frame: &Frame,
    samples: impl Iterator<Item = &'a Sample>,
    at: impl Fn(&Sample) -> Option<Nanos>,
) -> BTreeMap<u64, Vec<&'a Sample>> {
    let mut out: BTreeMap<u64, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        if let Some(t) = at(s) {
            out.entry(t / frame.bucket_ns).or_default().push(s);
        }
    }
    out
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Quantiles<'a> {
    frame: &'a Frame,
    samples: &'a [Sample],
}

/// Per op kind (by rank): the kind, and per quantile its (bucket midpoint s, ms) points.
type QuantileLines = BTreeMap<u8, (F, Vec<Vec<(f64, f64)>>)>;

const QS: [(f64, &str); 4] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99"), (1.0, "max")];

impl Quantiles<'_> {
    /// Per op kind: per quantile, the (bucket midpoint s, ms) points.
    fn lines(&self) -> QuantileLines {
        let mut by_f: BTreeMap<u8, (F, Vec<&Sample>)> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.complete_ns.is_some()) {
            by_f.entry(f_rank(s.f))
                .or_insert((s.f, Vec::new()))
                .1
                .push(s);
        }
        by_f.into_iter()
            .map(|(rank, (f, ss))| {
                let mut per_q = vec![Vec::new(); QS.len()];
                for (b, group) in buckets(self.frame, ss.into_iter(), |s| Some(s.invoke_ns)) {
                    let mut ms: Vec<f64> = group.iter().filter_map(|s| s.latency_ms()).collect();
                    ms.sort_by(f64::total_cmp);
                    let x = (b as f64 + 0.5) * self.frame.bucket_ns as f64 / 1e9;
                    for (i, (q, _)) in QS.iter().enumerate() {
                        per_q[i].push((x, quantile(&ms, *q)));
                    }
                }
                (rank, (f, per_q))
            })
            .collect()
    }
}

impl Drawing for Quantiles<'_> {
    fn size_px(&self) -> (u32, u32) {
        let entries: Vec<(Swatch, String)> = self
            .lines()
            .values()
            .flat_map(|_| QS.iter().map(|_| (Swatch::Line(BLACK), "x".repeat(12))))
            .chain(self.frame.fault_legend())
            .collect();
        (WIDTH_PX, self.frame.header_px(&entries) + PLOT_PX)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let lines = self.lines();
        // One colour per op kind; the quantile shows as line weight and shade.
        let colour = |i: usize| style::SERIES[i % style::SERIES.len()];
        let shade = |c: RGBColor, q: usize| -> (RGBColor, u32) {
            (style::tint(c, [1.0, 0.75, 0.55, 0.35][q]), [3, 2, 2, 1][q])
        };
        let mut entries = Vec::new();
        for (i, (f, _)) in lines.values().enumerate() {
            for (q, (_, name)) in QS.iter().enumerate() {
                let (c, _) = shade(colour(i), q);
                entries.push((Swatch::Line(c), format!("{} {name}", f_name(*f))));
            }
        }
        entries.extend(self.frame.fault_legend());
        let bucket_ms = self.frame.bucket_ns / 1_000_000;
        let area = self.frame.header(
            root,
            &format!("latency quantiles per {bucket_ms} ms"),
            &entries,
        )?;
        let all: Vec<f64> = lines
            .values()
            .flat_map(|(_, qs)| qs.iter().flatten().map(|p| p.1))
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(1.0) / 1.5;
        let hi = all.iter().copied().fold(0.0, f64::max).max(10.0) * 1.5;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(self.frame.x_range(), (lo..hi).log_scale())?;
        mesh(&mut chart, "latency (ms, log)")?;
        self.frame.shade(&mut chart, lo, hi)?;
        for (i, (_, per_q)) in lines.values().enumerate() {
            for (q, points) in per_q.iter().enumerate() {
                let (c, w) = shade(colour(i), q);
                chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(w)))?;
            }
        }
        Ok(())
    }
}

struct Rate<'a> {
    frame: &'a Frame,
    samples: &'a [Sample],
}

impl Rate<'_> {
    /// Per series: (bucket midpoint s, ops/s), zero-filled so lines drop to 0 where nothing
    /// completed (a stalled system must look stalled).
    fn lines(&self) -> BTreeMap<Key, (F, Vec<(f64, f64)>)> {
        let n_buckets = self.frame.end_ns / self.frame.bucket_ns + 1;
        let per_s = 1e9 / self.frame.bucket_ns as f64;
        let mut counts: BTreeMap<Key, (F, Vec<u64>)> = BTreeMap::new();
        for s in self.samples {
            // Completed ops at their completion; never-completed ones at their invocation.
            let t = s.complete_ns.unwrap_or(s.invoke_ns);
            let b = (t / self.frame.bucket_ns).min(n_buckets - 1) as usize;
            counts
                .entry(Key(f_rank(s.f), s.outcome))
                .or_insert_with(|| (s.f, vec![0; n_buckets as usize]))
                .1[b] += 1;
        }
        counts
            .into_iter()
            .map(|(k, (f, c))| {
                let pts = c
                    .iter()
                    .enumerate()
                    .map(|(b, n)| {
                        let x = (b as f64 + 0.5) * self.frame.bucket_ns as f64 / 1e9;
                        (x.min(self.frame.end_ns as f64 / 1e9), *n as f64 * per_s)
                    })
                    .collect();
                (k, (f, pts))
            })
            .collect()
    }
}

impl Drawing for Rate<'_> {
    fn size_px(&self) -> (u32, u32) {
        let entries: Vec<(Swatch, String)> = self
            .lines()
            .keys()
            .map(|_| (Swatch::Line(BLACK), "x".repeat(18)))
            .chain(self.frame.fault_legend())
            .collect();
        (WIDTH_PX, self.frame.header_px(&entries) + PLOT_PX)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let lines = self.lines();
        let colours = series_colours(lines.keys().copied());
        let mut entries: Vec<(Swatch, String)> = lines
            .iter()
            .map(|(k, (f, _))| (Swatch::Line(colours[k]), series_name(*f, k.1)))
            .collect();
        entries.extend(self.frame.fault_legend());
        let bucket_ms = self.frame.bucket_ns / 1_000_000;
        let area = self.frame.header(
            root,
            &format!("throughput: completed ops per second ({bucket_ms} ms buckets)"),
            &entries,
        )?;
        let hi = lines
            .values()
            .flat_map(|(_, p)| p.iter().map(|p| p.1))
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.1;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(self.frame.x_range(), 0.0..hi)?;
        mesh(&mut chart, "ops/s")?;
        self.frame.shade(&mut chart, 0.0, hi)?;
        for (k, (_, points)) in &lines {
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                colours[k].stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }
}
