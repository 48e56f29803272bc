//! The library matrix as a person reads it: `matrix.md`, `matrix.json`, `index.html` (a colour
//! grid whose cells link their runs' pages) and `matrix.png` (the same grid, for READMEs).
//!
//! Colours: green holds; amber physics (clients acted on leases that had ended — no answer of
//! the library was wrong); red library (an answer no correct lock may give); grey unknown.

use crate::matrix::{Cell, Kind, MatrixReport};
use crate::report::canvas::{self, Drawing};
use crate::report::html::{esc, CSS};
use crate::report::{font, style, write_file, ReportError};
use crate::store;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::Path;

pub const MD: &str = "matrix.md";
pub const JSON: &str = "matrix.json";
pub const PNG: &str = "matrix.png";
pub const KNOWN: &str = "known.json";

fn colour(k: Kind) -> (RGBColor, &'static str) {
    match k {
        Kind::Holds => (RGBColor(30, 140, 60), "#1e8c3c"),
        Kind::Physics => (RGBColor(209, 138, 0), "#d18a00"),
        Kind::Library => (RGBColor(200, 30, 30), "#c81e1e"),
        Kind::Unknown => (RGBColor(107, 107, 107), "#6b6b6b"),
    }
}

/// What a kind means, for the legend.
pub fn meaning(k: Kind) -> &'static str {
    match k {
        Kind::Holds => "no violation, from enough evidence",
        Kind::Physics => "clients acted on leases that had ended (what any lock without fencing allows), but every answer the library gave was one a correct lock may give",
        Kind::Library => "the library gave an answer no correct lock may give, judged against the lock nodes' own record",
        Kind::Unknown => "too little evidence, or the run could not run",
    }
}

/// The runs of a cell, as links relative to `base` (the folder the page is in).
fn run_links(c: &Cell, prefix: &str) -> Vec<String> {
    c.cases
        .iter()
        .filter_map(|k| {
            k.run_dir
                .as_ref()
                .map(|d| format!("[seed {}]({prefix}{d}/index.html)", k.seed))
        })
        .collect()
}

/// The matrix in Markdown; links are relative to the results folder through `prefix`.
pub fn markdown(r: &MatrixReport, prefix: &Path) -> String {
    let prefix = format!("{}/", prefix.display());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# fencepost library matrix\n\n{} UTC · seeds {} · {} runs, {} at a time, in {:.0} s{}\n",
        store::utc_stamp(r.started_unix_s),
        r.seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        r.cells.iter().map(|c| c.cases.len()).sum::<usize>(),
        r.jobs,
        r.wall_ms as f64 / 1000.0,
        if r.interrupted { " · INTERRUPTED" } else { "" }
    );
    let _ = writeln!(s, "| library | {} |", r.faults.join(" | "));
    let _ = writeln!(s, "|---|{}", ":---:|".repeat(r.faults.len()));
    for l in &r.libraries {
        let version = r.named(l);
        let cells: Vec<String> = r
            .faults
            .iter()
            .map(|f| match r.cell(l, f) {
                Some(c) => format!("{} {}", c.label(), run_links(c, &prefix).join(" ")),
                None => "—".into(),
            })
            .collect();
        let _ = writeln!(s, "| {version} | {} |", cells.join(" | "));
    }
    let _ = writeln!(s);
    for k in [Kind::Holds, Kind::Physics, Kind::Library, Kind::Unknown] {
        let _ = writeln!(s, "- **{}**: {}", k.word(), meaning(k));
    }
    let firsts: Vec<&Cell> = r.cells.iter().filter(|c| c.first.is_some()).collect();
    if !firsts.is_empty() {
        let _ = writeln!(s, "\n## First violation of each cell\n");
        for c in firsts {
            let _ = writeln!(
                s,
                "- **{} × {}** ({}): {}",
                c.client.as_deref().unwrap_or(&c.library),
                c.fault,
                c.kind.word(),
                c.first.as_deref().unwrap_or_default()
            );
        }
    }
    s
}

fn page(r: &MatrixReport) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fencepost library matrix</title><style>{CSS}\
         td.cell {{ color: #fff; text-align: center; min-width: 7em; }} td.cell a {{ color: #fff; }}</style></head><body>\
         <p class=\"muted\"><a href=\"../index.html\">all runs</a></p><h1>Library matrix</h1><p>{} UTC · seeds {}</p>",
        store::utc_stamp(r.started_unix_s),
        r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        h,
        "<table><tr><th>library</th>{}</tr>",
        r.faults
            .iter()
            .map(|f| format!("<th>{}</th>", esc(f)))
            .collect::<String>()
    );
    for l in &r.libraries {
        let version = r.named(l);
        let _ = write!(h, "<tr><th>{}</th>", esc(&version));
        for f in &r.faults {
            match r.cell(l, f) {
                Some(c) => {
                    let links: String = c
                        .cases
                        .iter()
                        .filter_map(|k| {
                            k.run_dir.as_ref().map(|d| {
                                format!(" <a href=\"../{}/index.html\">{}</a>", esc(d), k.seed)
                            })
                        })
                        .collect();
                    let _ = write!(
                        h,
                        "<td class=\"cell\" style=\"background:{}\" title=\"{}\">{}<br>{links}</td>",
                        colour(c.kind).1,
                        esc(c.first.as_deref().unwrap_or("")),
                        esc(&c.label())
                    );
                }
                None => {
                    let _ = write!(h, "<td>—</td>");
                }
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</table><ul>");
    for k in [Kind::Holds, Kind::Physics, Kind::Library, Kind::Unknown] {
        let _ = writeln!(
            h,
            "<li><span class=\"badge\" style=\"background:{}\">{}</span> {}</li>",
            colour(k).1,
            k.word(),
            esc(meaning(k))
        );
    }
    let _ = writeln!(h, "</ul><h2>First violation of each cell</h2><ul>");
    for c in r.cells.iter().filter(|c| c.first.is_some()) {
        let _ = writeln!(
            h,
            "<li><b>{} × {}</b> ({}): {}</li>",
            esc(c.client.as_deref().unwrap_or(&c.library)),
            esc(&c.fault),
            c.kind.word(),
            esc(c.first.as_deref().unwrap_or_default())
        );
    }
    let _ = writeln!(
        h,
        "</ul><p><a href=\"{MD}\">matrix.md</a> · <a href=\"{JSON}\">matrix.json</a> · <a href=\"{PNG}\">matrix.png</a></p></body></html>"
    );
    h
}

/// The grid as a chart.
struct Grid<'a>(&'a MatrixReport);

const LABEL_W: i32 = 230;
const CELL_W: i32 = 120;
const CELL_H: i32 = 34;
const TOP: i32 = 60;

impl Drawing for Grid<'_> {
    fn size_px(&self) -> (u32, u32) {
        let r = self.0;
        (
            (LABEL_W + CELL_W * r.faults.len() as i32 + 20) as u32,
            (TOP + CELL_H * r.libraries.len() as i32 + 50) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let r = self.0;
        area.fill(&WHITE)?;
        let text = |size: i32, c: RGBColor| (font::FAMILY, size).into_font().color(&c);
        area.draw(&Text::new(
            "fencepost: lock libraries × faults",
            (10, 8),
            text(18, style::INK),
        ))?;
        for (j, f) in r.faults.iter().enumerate() {
            let x = LABEL_W + CELL_W * j as i32;
            area.draw(&Text::new(
                f.as_str(),
                (x + 6, TOP - 20),
                text(13, style::INK),
            ))?;
        }
        for (i, l) in r.libraries.iter().enumerate() {
            let y = TOP + CELL_H * i as i32;
            let version = r.named(l);
            area.draw(&Text::new(version, (10, y + 10), text(13, style::INK)))?;
            for (j, f) in r.faults.iter().enumerate() {
                let x = LABEL_W + CELL_W * j as i32;
                let (fill, word) = match r.cell(l, f) {
                    Some(c) => (colour(c.kind).0, c.label()),
                    None => (style::STRIPE, "—".to_string()),
                };
                area.draw(&Rectangle::new(
                    [(x + 2, y + 2), (x + CELL_W - 2, y + CELL_H - 2)],
                    fill.filled(),
                ))?;
                area.draw(&Text::new(word, (x + 10, y + 10), text(13, WHITE)))?;
            }
        }
        let y = TOP + CELL_H * r.libraries.len() as i32 + 14;
        area.draw(&Text::new(
            "holds: no violation · physics: acted on ended leases, no wrong answer · library: an answer no correct lock may give · unknown",
            (10, y),
            text(11, style::MUTED),
        ))?;
        Ok(())
    }
}

/// Writes the matrix's files into `dir`.
pub fn write(r: &MatrixReport, dir: &Path) -> Result<(), ReportError> {
    write_file(&dir.join(MD), markdown(r, Path::new("..")))?;
    crate::report::write_json(&dir.join(JSON), r)?;
    crate::report::write_json(&dir.join(KNOWN), &r.row_findings())?;
    write_file(&dir.join(crate::report::html::PAGE), page(r))?;
    let files = canvas::write(dir, "matrix", &Grid(r))?;
    let _ = std::fs::remove_file(&files.svg);
    Ok(())
}
