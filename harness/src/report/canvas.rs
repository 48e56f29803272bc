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
    let style = TextStyle::from((font::FAMILY, 13).into_font()).color(&super::style::INK);
    let width = area.dim_in_pixel().0 as i32;
    let row_px = 20;
    let (mut cx, mut cy) = (x, y);
    for (swatch, text) in entries {
        let (tw, _) = area.estimate_text_size(text, &style)?;
        let item = 30 + tw as i32 + 22;
        if cx + item > width - 8 && cx > x {
            cx = x;
            cy += row_px;
        }
        draw_swatch(area, *swatch, cx, cy)?;
        area.draw(&Text::new(text.clone(), (cx + 30, cy + 2), style.clone()))?;
        cx += item;
    }
    Ok(cy + row_px)
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
    }
}
