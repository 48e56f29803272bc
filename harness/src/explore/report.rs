//! Explore's reports: `explore.md` (the findings, grouped, each with its first run and replay
//! command; how the corpus grew; the runs), `explore.json`, `index.html` (the same, linking each
//! run's page) and `growth.png`/`.svg` (distinct signature words over time, findings marked).

use super::{ExploreReport, JSON, MD};
use crate::report::canvas::{self, Drawing};
use crate::report::html::{esc, CSS};
use crate::report::{font, style, write_file, ReportError};
use crate::store;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::Path;

pub const GROWTH: &str = "growth";

/// The verdict in one line.
pub fn verdict_line(r: &ExploreReport) -> String {
    let new = r.groups.iter().filter(|g| !g.known).count();
    let library = r.groups.iter().filter(|g| g.class == "library").count();
    let what = match r.exit_code() {
        130 => "INTERRUPTED: the report covers the runs that ended".to_string(),
        2 => format!(
            "STOPPED: {}",
            r.broken.as_deref().unwrap_or("runs kept failing to run")
        ),
        1 => format!("{new} finding(s) the library's matrix row does not show"),
        3 => format!(
            "too few runs to say ({} judged, {} needed)",
            r.judged(),
            super::MIN_RUNS
        ),
        _ if r.groups.is_empty() => "no finding".to_string(),
        _ => "only findings the library's matrix row already shows".to_string(),
    };
    format!(
        "{what} · {} runs in {:.1} min ({:.1}/min), {library} library and {} physics finding kind(s), {} signature words",
        r.runs.len(),
        r.wall_ms as f64 / 60_000.0,
        r.runs_per_min(),
        r.groups.len() - library,
        r.words.len()
    )
}

pub fn markdown(r: &ExploreReport) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Explore: {}\n", r.target);
    let _ = writeln!(
        m,
        "{} UTC · {} · seed {}{} · budget {} s · --jobs {} · faults drawn from: {}\n",
        store::utc_stamp(r.started_unix_s),
        if r.guided {
            "guided"
        } else {
            "random (--random)"
        },
        r.seed,
        r.shard
            .as_ref()
            .map(|s| format!(" · shard {s}"))
            .unwrap_or_default(),
        r.budget_s,
        r.jobs,
        r.faults.join(", ")
    );
    let _ = writeln!(m, "**{}**\n", verdict_line(r));
    let _ = writeln!(
        m,
        "Explore's own time (drawing, mutating, signatures): {:.1} s of {:.1} s. Known findings: {}.\n",
        r.overhead_ms as f64 / 1000.0,
        r.wall_ms as f64 / 1000.0,
        r.known_source
    );
    let _ = writeln!(m, "Rerun: `{}`\n", r.rerun);
    if r.guided && !r.weights.is_empty() {
        let mut w: Vec<(&String, &f64)> = r.weights.iter().collect();
        w.sort_by(|a, b| b.1.total_cmp(a.1));
        let _ = writeln!(
            m,
            "Fault kinds by what their runs earned (the weight each was drawn with at the end): {}\n",
            w.iter()
                .map(|(k, x)| format!("{k} {x:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(m, "## Findings\n");
    if r.groups.is_empty() {
        let _ = writeln!(m, "None.\n");
    } else {
        let _ = writeln!(
            m,
            "| finding | class | new? | first run | at | runs | seeds | replay |\n|---|---|---|---|---|---|---|---|"
        );
        for g in &r.groups {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {}{} | {:.0} s | {} | {} | `{}` |",
                g.key.label(),
                g.class,
                if g.known { "known" } else { "**NEW**" },
                g.first_run,
                g.run_dir
                    .as_ref()
                    .map(|d| format!(" ([run](../{d}/index.html))"))
                    .unwrap_or_default(),
                g.first_at_s,
                g.runs,
                g.seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                g.replay
            );
        }
        let _ = writeln!(m);
        for g in &r.groups {
            let _ = writeln!(
                m,
                "- **{}** (run {}): {}",
                g.key.label(),
                g.first_run,
                g.first_detail
            );
        }
        let _ = writeln!(m);
    }
    let _ = writeln!(
        m,
        "## How the corpus grew\n\n![signature words over time]({GROWTH}.png)\n"
    );
    let _ = writeln!(m, "| at | runs | words |\n|---|---|---|");
    for p in &r.growth {
        let _ = writeln!(m, "| {:.0} s | {} | {} |", p.at_s, p.runs, p.words);
    }
    let _ = writeln!(m, "\n## Runs\n");
    let _ = writeln!(
        m,
        "| run | origin | faults | clients | grants | new words | findings |\n|---|---|---|---|---|---|---|"
    );
    for run in &r.runs {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            run.number,
            run.origin.replace('|', "/"),
            run.faults.join(" + "),
            run.clients,
            run.grants,
            run.new_words,
            run.error
                .as_deref()
                .map(|e| format!("ERROR: {}", e.lines().next().unwrap_or_default()))
                .unwrap_or_else(|| run.findings.join(", "))
                .replace('|', "/")
        );
    }
    m
}

fn page(r: &ExploreReport) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fencepost explore: {t}</title><style>{CSS}</style></head><body>\
         <p class=\"muted\"><a href=\"../index.html\">all runs</a></p><h1>Explore: {t}</h1>\
         <p>{} UTC · {} · seed {} · budget {} s</p><p><b>{}</b></p><p class=\"muted\">rerun: <code>{}</code></p>",
        store::utc_stamp(r.started_unix_s),
        if r.guided { "guided" } else { "random" },
        r.seed,
        r.budget_s,
        esc(&verdict_line(r)),
        esc(&r.rerun),
        t = esc(&r.target),
    );
    let _ = writeln!(h, "<h2>Findings</h2>");
    if r.groups.is_empty() {
        let _ = writeln!(h, "<p>None.</p>");
    } else {
        let _ = writeln!(
            h,
            "<table><tr><th>finding</th><th>class</th><th>new?</th><th>first run</th><th>runs</th><th>seeds</th><th>what happened</th><th>replay</th></tr>"
        );
        for g in &r.groups {
            let link = g
                .run_dir
                .as_ref()
                .map(|d| {
                    format!(
                        "<a href=\"../{}/index.html\">{}</a>",
                        esc(d),
                        esc(&g.first_run)
                    )
                })
                .unwrap_or_else(|| esc(&g.first_run));
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{link} at {:.0} s</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&g.key.label()),
                esc(&g.class),
                if g.known { "known" } else { "<b>NEW</b>" },
                g.first_at_s,
                g.runs,
                g.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                esc(&g.first_detail),
                esc(&g.replay)
            );
        }
        let _ = writeln!(h, "</table>");
    }
    let _ = writeln!(
        h,
        "<h2>How the corpus grew</h2><p><img src=\"{GROWTH}.png\" alt=\"signature words over time\"></p><h2>Runs</h2>\
         <table><tr><th>run</th><th>origin</th><th>faults</th><th>grants</th><th>new words</th><th>findings</th></tr>"
    );
    for run in &r.runs {
        let name = match &run.run_dir {
            Some(d) => format!("<a href=\"../{}/index.html\">{}</a>", esc(d), run.number),
            None => run.number.to_string(),
        };
        let _ = writeln!(
            h,
            "<tr><td>{name}</td><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&run.origin),
            esc(&run.schedule),
            esc(&run.faults.join(" + ")),
            run.grants,
            run.new_words,
            esc(&run
                .error
                .clone()
                .unwrap_or_else(|| run.findings.join(", ")))
        );
    }
    let _ = writeln!(h, "</table></body></html>");
    h
}

/// Distinct signature words over time, each library finding's first appearance marked.
struct GrowthChart<'a>(&'a ExploreReport);

impl Drawing for GrowthChart<'_> {
    fn size_px(&self) -> (u32, u32) {
        (900, 420)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let r = self.0;
        area.fill(&WHITE)?;
        let end_s = (r.wall_ms as f64 / 1000.0).max(1.0);
        let top = (r.words.len().max(1) as f64 * 1.1).ceil();
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "{}: signature words over time ({})",
                    r.target,
                    if r.guided { "guided" } else { "random" }
                ),
                (font::FAMILY, 18).into_font().color(&style::INK),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..end_s, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("seconds since explore began")
            .y_desc("distinct words")
            .label_style((font::FAMILY, 12).into_font().color(&style::INK))
            .draw()?;
        let mut points: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        for p in &r.growth {
            if let Some(&(_, last)) = points.last() {
                points.push((p.at_s, last));
            }
            points.push((p.at_s, p.words as f64));
        }
        points.push((end_s, r.words.len() as f64));
        chart
            .draw_series(LineSeries::new(points, style::HOLD.stroke_width(2)))?
            .label("words")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], style::HOLD.stroke_width(2)));
        let marks: Vec<(f64, f64)> = r
            .groups
            .iter()
            .filter(|g| g.class == "library")
            .map(|g| (g.first_at_s, words_at(r, g.first_at_s)))
            .collect();
        chart
            .draw_series(
                marks
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 8, style::OVERLAP.filled())),
            )?
            .label("a library finding first seen")
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, style::OVERLAP.filled()));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(style::MUTED)
            .label_font((font::FAMILY, 12).into_font().color(&style::INK))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    }
}

/// Distinct words by `at_s`.
fn words_at(r: &ExploreReport, at_s: f64) -> f64 {
    r.growth
        .iter()
        .take_while(|p| p.at_s <= at_s)
        .last()
        .map_or(0.0, |p| p.words as f64)
}

/// Writes explore.md, explore.json, index.html and the growth chart into `dir`.
pub fn write(r: &ExploreReport, dir: &Path) -> Result<(), ReportError> {
    write_file(&dir.join(MD), markdown(r))?;
    crate::report::write_json(&dir.join(JSON), r)?;
    write_file(&dir.join(crate::report::html::PAGE), page(r))?;
    canvas::write(dir, GROWTH, &GrowthChart(r))?;
    Ok(())
}
