//! Reports: what a person looks at after a run, because people would rather look than read.
//!
//! Every run folder gets charts — the timeline of who held the lock when with the faults and the
//! violations on it ([`timeline`], or for a run too long to draw op by op the downsampled
//! [`overview`] read through [`long_run`]), Jepsen-style latency and throughput plots
//! ([`perf`]) — and one self-contained `index.html` ([`html`]); `results/index.html` lists every
//! run and suite ([`index`]). The nightly suite ([`crate::suite`]) and the matrix
//! ([`crate::matrix`]) write their own reports with this module's page styles and canvas: this
//! module only renders.
//!
//! Everything renders from a saved run folder, so `fencepost report RUN_DIR` redraws any run:
//! the run is re-judged by [`crate::judge::analyse`] (the same code path as the runner), read
//! once into a [`saved_run::SavedRun`] (history, resource log and judged result,
//! cross-referenced), and the charts are drawn from its history with the checkers' own span
//! definition. Every chart is drawn once for both SVG and PNG ([`canvas`]); charts carry their
//! own font ([`font`]) and need nothing installed.

pub mod canvas;
pub mod font;
pub mod html;
pub mod index;
pub mod long_run;
pub mod overview;
pub mod perf;
pub mod saved_run;
pub mod style;
pub mod timeline;

use crate::judge::RunResult;
use saved_run::SavedRun;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the bundled chart font (harness/assets/DejaVuSans.ttf) could not be loaded")]
    Font,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    History(#[from] checkers::history::ParseError),
    #[error("{path}: {message}")]
    Json { path: PathBuf, message: String },
    #[error("cannot draw the {chart} chart: {message}")]
    Draw { chart: String, message: String },
}

/// What rendering a run produced.
#[derive(Debug)]
pub struct Rendered {
    pub charts: Vec<canvas::ChartFiles>,
    pub page: PathBuf,
    pub elapsed: Duration,
}

/// Draws a run's charts and writes its `index.html`, from the files in `run_dir` and its
/// judged `result`.
pub fn render_run(run_dir: &Path, result: &RunResult) -> Result<Rendered, ReportError> {
    let started = Instant::now();
    font::ensure_registered()?;
    let run = SavedRun::load(run_dir, result.clone())?;
    let mut charts = timeline::render(&run, run_dir)?;
    charts.extend(perf::render(&run, run_dir)?);
    let page = html::write_run_page(&run, &charts, run_dir)?;
    Ok(Rendered {
        charts,
        page,
        elapsed: started.elapsed(),
    })
}

/// The runner's hook: render the run just judged and refresh `results/index.html`. A report
/// that cannot be drawn is a warning, never a failed run: the verdict is already on disk.
pub fn render_after_run(run_dir: &Path, result: &RunResult, results_dir: &Path) {
    if let Err(e) = render_run(run_dir, result) {
        eprintln!(
            "fencepost: warning: could not render the charts and page of {}: {e}",
            run_dir.display()
        );
    }
    if let Err(e) = index::write(results_dir) {
        eprintln!(
            "fencepost: warning: could not update {}/index.html: {e}",
            results_dir.display()
        );
    }
}

/// `results/` for `results/<scenario>/<run-id>` (following `results/latest`).
pub fn results_root(run_dir: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(run_dir).ok()?;
    real.parent()?.parent().map(Path::to_path_buf)
}

/// Reads a JSON file into a typed value, naming the file on error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let file = std::fs::File::open(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes a file, naming it on error.
/// Writes `value` as pretty JSON with a final newline (results.json's siblings: suite.json,
/// matrix.json, explore.json, shrink.json).
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ReportError> {
    let json = serde_json::to_string_pretty(value).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_file(path, json + "\n")
}

pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), ReportError> {
    std::fs::write(path, contents).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}
