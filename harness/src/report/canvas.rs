//! One drawing, two files: every chart is drawn once against plotters' backend trait and written
//! as SVG (crisp, zoomable, linked from the page) and PNG (inlined in the page, shown in READMEs).

use super::{font, ReportError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A chart that can draw itself on any plotters backend.
pub trait Drawing {
    /// Width and height in pixels.
    fn size_px(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// The files one chart was written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFiles {
    /// File stem shared by both files (`timeline`).
    pub stem: String,
    pub svg: PathBuf,
    pub png: PathBuf,
}

/// Draws `chart` into `dir/stem.svg` and `dir/stem.png`.
pub fn write(dir: &Path, stem: &str, chart: &impl Drawing) -> Result<ChartFiles, ReportError> {
    font::ensure_registered()?;
    let draw_err = |e: String| ReportError::Draw {
        chart: stem.to_string(),
        message: e,
    };
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    {
        let area = SVGBackend::new(&svg, chart.size_px()).into_drawing_area();
        chart.draw(&area).map_err(|e| draw_err(e.to_string()))?;
        area.present().map_err(|e| draw_err(e.to_string()))?;
    }
    let (w, h) = chart.size_px();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        chart.draw(&area).map_err(|e| draw_err(e.to_string()))?;
        area.present().map_err(|e| draw_err(e.to_string()))?;
    }
    write_png(&png, &rgb, w, h)?;
    Ok(ChartFiles {
        stem: stem.to_string(),
        svg,
        png,
    })
}

/// Encodes an RGB buffer as PNG with the `Up` filter: chart rows mostly repeat the row above, so
/// this compresses as well as adaptive filtering (30–60 kB a chart) at a fraction of its cost,
/// which was most of a debug build's render time.
fn write_png(path: &Path, rgb: &[u8], width_px: u32, height_px: u32) -> Result<(), ReportError> {
    let io = |source: std::io::Error| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let enc_err = |e: png::EncodingError| ReportError::Draw {
        chart: path.display().to_string(),
        message: format!("PNG encoding failed: {e}"),
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width_px, height_px);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Default);
    enc.set_filter(png::FilterType::Up);
    let mut writer = enc.write_header().map_err(enc_err)?;
    writer.write_image_data(rgb).map_err(enc_err)?;
    writer.finish().map_err(enc_err)
}

/// A legend entry's sample mark.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    /// A filled bar.
    Bar(RGBColor),
    /// A translucent band.
    Band(RGBColor),
    /// A downward triangle.
    Triangle(RGBColor),
    Dot(RGBColor),
    Cross(RGBColor),
    /// An upward triangle (small).
    Caret(RGBColor),
    /// An outlined rectangle.
    Outline(RGBColor),
    /// A line.
    Line(RGBColor),
    /// A diamond outlined in ink, numbered when one chart tells several kinds apart by number.
    Diamond(RGBColor, Option<u8>),
    /// Side-by-side bars, one per colour: "in the colour of whichever one it is".
    Palette(&'static [RGBColor]),
}

/// One legend entry per fault kind among `kinds` (sorted, each once): a band of its colour at
/// `alpha`, labelled `<kind> fault<suffix>`.
pub fn fault_legend<'a>(
    kinds: impl Iterator<Item = &'a str>,
    alpha: f64,
    suffix: &str,
) -> Vec<(Swatch, String)> {
    let mut kinds: Vec<&str> = kinds.collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|k| {
            (
                Swatch::Band(super::style::tint(super::style::fault(k), alpha)),
                format!("{k} fault{suffix}"),
            )
        })
        .collect()
}

/// Draws legend entries left to right from (`x`, `y`), wrapping at the area's width; returns
/// the y below the last row.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
    x: i32,
    y: i32,
) -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
    let style = legend_style();
    let width = area.dim_in_pixel().0 as i32;
    let (places, rows) = legend_layout(entries, x, width);
    for ((swatch, text), (cx, row)) in entries.iter().zip(places) {
        let cy = y + row * LEGEND_ROW_PX;
        draw_swatch(area, *swatch, cx, cy)?;
        area.draw(&Text::new(text.clone(), (cx + 30, cy + 2), style.clone()))?;
    }
    Ok(y + rows.max(1) * LEGEND_ROW_PX)
}

/// The height of one legend row.
pub const LEGEND_ROW_PX: i32 = 20;

/// How many rows [`legend`] takes for `entries` from `x` in a chart `width_px` wide: what a
/// chart's header must make room for before it draws.
pub fn legend_rows(entries: &[(Swatch, String)], x: i32, width_px: u32) -> i32 {
    legend_layout(entries, x, width_px as i32).1
}

fn legend_style() -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, 13).into_font()).color(&super::style::INK)
}

/// Each entry's x and row, wrapping at `width`, and the rows taken. Text is measured with the
/// chart font itself, so the layout is the same on every backend and before any drawing.
fn legend_layout(entries: &[(Swatch, String)], x: i32, width: i32) -> (Vec<(i32, i32)>, i32) {
    let font = legend_style().font;
    let mut places = Vec::with_capacity(entries.len());
    let (mut cx, mut row) = (x, 0);
    for (_, text) in entries {
        let tw = font
            .box_size(text)
            .map_or(7 * text.chars().count() as i32, |(w, _)| w as i32);
        let item = 30 + tw + 22;
        if cx + item > width - 8 && cx > x {
            cx = x;
            row += 1;
        }
        places.push((cx, row));
        cx += item;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    (places, rows)
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    x: i32,
    y: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mid = y + 8;
    match swatch {
        Swatch::Bar(c) => area.draw(&Rectangle::new([(x, y + 3), (x + 24, y + 13)], c.filled())),
        Swatch::Band(c) => area.draw(&Rectangle::new([(x, y), (x + 24, y + 16)], c.filled())),
        Swatch::Outline(c) => area.draw(&Rectangle::new(
            [(x + 1, y + 1), (x + 23, y + 15)],
            c.stroke_width(2),
        )),
        Swatch::Triangle(c) => area.draw(&Polygon::new(
            vec![(x + 5, y + 2), (x + 19, y + 2), (x + 12, y + 15)],
            c.filled(),
        )),
        Swatch::Dot(c) => area.draw(&Circle::new((x + 12, mid), 6, c.filled())),
        Swatch::Cross(c) => area.draw(&Cross::new((x + 12, mid), 5, c.stroke_width(3))),
        Swatch::Caret(c) => area.draw(&TriangleMarker::new((x + 12, mid), 6, c.filled())),
        Swatch::Line(c) => area.draw(&PathElement::new(
            vec![(x, mid), (x + 24, mid)],
            c.stroke_width(2),
        )),
        Swatch::Diamond(c, number) => {
            let (cx, r) = (x + 12, 9);
            let corners = vec![(cx, mid - r), (cx + r, mid), (cx, mid + r), (cx - r, mid)];
            area.draw(&Polygon::new(corners.clone(), c.filled()))?;
            let mut outline = corners.clone();
            outline.push(corners[0]);
            area.draw(&PathElement::new(
                outline,
                super::style::INK.stroke_width(1),
            ))?;
            if let Some(n) = number {
                area.draw(&Text::new(
                    n.to_string(),
                    (cx, mid),
                    diamond_number_style(11),
                ))?;
            }
            Ok(())
        }
        Swatch::Palette(colours) => {
            let w = 24 / colours.len().max(1) as i32;
            for (i, c) in colours.iter().enumerate() {
                let x0 = x + i as i32 * w;
                area.draw(&Rectangle::new([(x0, y + 3), (x0 + w, y + 13)], c.filled()))?;
            }
            Ok(())
        }
    }
}

/// The number inside a diamond mark, centred on it, `size_px` high.
pub fn diamond_number_style(size_px: u32) -> TextStyle<'static> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    TextStyle::from((font::FAMILY, size_px).into_font())
        .color(&super::style::INK)
        .pos(Pos::new(HPos::Center, VPos::Center))
}
