//! Shrink's report: `shrink.md` and `shrink.json` (the finding kept, the schedule before and
//! after, the reproduction rate of each, every candidate tried), and the before/after timelines
//! copied beside them (`before.png`, `after.png`: a run of the original and of the smallest
//! schedule that showed the finding).

use super::{ShrinkReport, SHRUNK};
use crate::report::{timeline, write_file, ReportError};
use std::fmt::Write;
use std::path::Path;

pub const MD: &str = "shrink.md";
pub const JSON: &str = "shrink.json";

fn rate((hit, of): (usize, usize)) -> String {
    format!("{hit} of {of}")
}

pub fn markdown(r: &ShrinkReport) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Shrink: `{}`\n", r.finding);
    let _ = writeln!(
        m,
        "From {} · kept a candidate when ≥ {:.0} % of up to {} tries showed the finding (tries stop once the answer is sure) · {:.1} min\n",
        r.run_dir,
        r.share * 100.0,
        r.tries,
        r.wall_ms as f64 / 60_000.0
    );
    if r.exit_code() == 1 {
        let _ = writeln!(
            m,
            "**The original showed the finding in {} tries: below the share, so nothing was shrunk.** Try more --tries or a lower --share.\n",
            rate(r.rate_before)
        );
    }
    let _ = writeln!(m, "| | faults | one injection each (ms) | clients | run (ms) | long sections | reproduced |\n|---|---|---|---|---|---|---|");
    for (label, s, rt) in [
        ("before", &r.before, r.rate_before),
        ("after", &r.after, r.rate_after),
    ] {
        let _ = writeln!(
            m,
            "| {label} | {} | {} | {} | {} | {} | {} |",
            s.faults,
            s.fault_ms,
            s.clients,
            s.duration_ms,
            if s.long_sections { "yes" } else { "no" },
            rate(rt)
        );
    }
    let _ = writeln!(
        m,
        "\nThe smallest schedule: [`{SHRUNK}`]({SHRUNK}). Replay it:\n\n    {}\n",
        r.reproduce
    );
    if r.before_run.is_some() || r.after_run.is_some() {
        let _ = writeln!(
            m,
            "| before | after |\n|---|---|\n| ![before](before.png) | ![after](after.png) |\n"
        );
    }
    let _ = writeln!(
        m,
        "## Candidates tried\n\n| # | change | reproduced | kept |\n|---|---|---|---|"
    );
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(
            m,
            "| [{}]({}) | {} | {} of {} | {} |",
            i + 1,
            s.file,
            s.what,
            s.reproduced,
            s.tries,
            if s.kept { "**kept**" } else { "" }
        );
    }
    m
}

/// Writes shrink.md, shrink.json and the two timelines into `dir`.
pub fn write(r: &ShrinkReport, dir: &Path, results_dir: &Path) -> Result<(), ReportError> {
    for (run, name) in [(&r.before_run, "before.png"), (&r.after_run, "after.png")] {
        if let Some(run) = run {
            let png = results_dir
                .join(run)
                .join(format!("{}.png", timeline::FULL));
            let _ = std::fs::copy(png, dir.join(name));
        }
    }
    write_file(&dir.join(MD), markdown(r))?;
    crate::report::write_json(&dir.join(JSON), r)
}
