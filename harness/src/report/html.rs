//! A run's `index.html`: one self-contained page a person opens to see what happened.
//!
//! Scenario and expectations, the verdict of each checker and what it judged from, the charts
//! (PNGs inlined as data URIs, each linking to its SVG next to the page), a table of violations
//! with the history ops involved, the seed and the command that replays the run. No network
//! fetches: styles are inline, fonts are the browser's own, and the one script only checks that
//! every chart decoded (it marks the page with `data-charts` and shows a banner if one did not).

use super::canvas::ChartFiles;
use super::saved_run::SavedRun;
use super::{perf, timeline, write_file, ReportError};
use crate::judge::{Outcome, RunResult};
use crate::store;
use base64::Engine;
use checkers::run::RunChecks;
use checkers::{Access, AccessOp, Process, Validity};
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const PAGE: &str = "index.html";
/// Rows shown per violation table; the rest are counted.
const MAX_ROWS: usize = 40;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Styles shared by the run page and the results index.
pub const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0 auto; padding: 16px 24px 48px; max-width: 1660px; color: #1e1e1e; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 14px; }
th, td { border: 1px solid #d6d6d6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 3px 10px; border-radius: 12px; font-weight: 600; font-size: 14px; color: #fff; }
.met, .valid { background: #1e8c3c; } .unmet, .invalid { background: #c81e1e; } .unknown { background: #6b6b6b; } .known { background: #d18a00; }
figure { margin: 12px 0 22px; } figure img { max-width: 100%; border: 1px solid #e3e3e3; } figcaption { color: #555; font-size: 14px; margin-top: 4px; }
pre { background: #f6f7f8; border: 1px solid #e3e3e3; padding: 8px 10px; overflow-x: auto; font-size: 13px; }
code { font-size: 13px; } .muted { color: #666; } .warn { background: #fff4d6; border: 1px solid #e0b84c; padding: 6px 10px; }
#chart-warning { display: none; }
"#;

fn badge_validity(v: Validity) -> String {
    format!("<span class=\"badge {v}\">{v}</span>")
}

/// A badge for how a run or an expectation came out: green met, amber known finding, red not
/// met, grey unknown.
pub fn outcome_badge(o: Outcome) -> String {
    let (class, word) = match o {
        Outcome::Met => ("met", "met"),
        Outcome::Known => ("known", "known finding"),
        Outcome::NotMet => ("unmet", "NOT MET"),
        Outcome::Unknown => ("unknown", "unknown"),
    };
    format!("<span class=\"badge {class}\">{word}</span>")
}

fn secs(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e9)
}

fn client(p: Process) -> String {
    esc(&p.to_string())
}

/// Writes `dir/index.html` and returns its path.
pub fn write_run_page(
    run: &SavedRun,
    charts: &[ChartFiles],
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    let page = run_page(run, charts, dir)?;
    let path = dir.join(PAGE);
    write_file(&path, page)?;
    Ok(path)
}

fn chart_caption(stem: &str) -> &'static str {
    match stem {
        timeline::FULL => "Who believed they held the lock when: one lane per client, a bar per critical span (blue; amber once past the client's own lease; red where two clients held it at once), fault windows shaded, stale accesses marked, the library's wrong answers as yellow diamonds; under the clients, whose token each lock node's key held, in that client's colour.",
        timeline::ZOOM => "The same, zoomed on the window of the first violation.",
        s if s.starts_with(timeline::ZOOM) => "The same, zoomed on the window of a later violation.",
        perf::LATENCY_RAW => "Latency of every op at its invocation time, by op kind and outcome; fault windows shaded.",
        perf::LATENCY_QUANTILES => "Latency quantiles (p50, p95, p99, max) per op kind over time.",
        perf::RATE => "Completed ops per second per op kind and outcome.",
        _ => "",
    }
}

/// The page, top to bottom: the run at a glance, expectations, checkers, charts, violations,
/// how to reproduce it.
fn run_page(run: &SavedRun, charts: &[ChartFiles], dir: &Path) -> Result<String, ReportError> {
    let r = &run.result;
    let mut h = String::new();
    page_top(&mut h, r);
    glance_table(&mut h, run);
    expectations_section(&mut h, r);
    checkers_section(&mut h, &r.checks);
    charts_section(&mut h, charts)?;
    violations(&mut h, run);
    reproduce_section(&mut h, r, dir);
    let _ = writeln!(
        h,
        "<p class=\"muted\">fencepost {}</p>",
        esc(&r.meta.fencepost_version)
    );
    h.push_str(CHART_CHECK);
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The page's head, its heading with the run's badges, its description, and the warnings: a
/// chart that failed to load (hidden until the script shows it), an interrupted run, a torn line.
fn page_top(h: &mut String, r: &RunResult) {
    let name = esc(&r.meta.scenario);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>fencepost · {name} · seed {seed}</title><style>{CSS}</style></head><body>\n",
        seed = r.meta.seed
    );
    let _ = writeln!(
        h,
        "<p class=\"muted\"><a href=\"../../index.html\">all runs</a></p>\
         <h1>{name} {} {}</h1>",
        outcome_badge(r.outcome),
        badge_validity(r.checks.validity)
    );
    if !r.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(&r.description));
    }
    let _ = writeln!(
        h,
        "<p id=\"chart-warning\" class=\"warn\">A chart on this page failed to load.</p>"
    );
    if r.interrupted {
        let _ = writeln!(h, "<p class=\"warn\">This run was interrupted; the verdict covers the partial history, and a check that found nothing there proves nothing.</p>");
    }
    if let Some(l) = r.torn_last_line {
        let _ = writeln!(h, "<p class=\"warn\">History line {l} was torn (cut short mid-write) and was skipped.</p>");
    }
}

/// The run at a glance: lock, resource, faults, clients, op counts, first violation, seed, start.
fn glance_table(h: &mut String, run: &SavedRun) {
    let r = &run.result;
    let c = &r.checks;
    let n = &c.counts;
    let _ = writeln!(h, "<table>");
    fn row(h: &mut String, k: &str, v: String) {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    row(h, "lock", format!("<code>{}</code>", esc(&r.lock)));
    row(
        h,
        "resource",
        if r.fenced {
            "fenced (rejects stale tokens)".into()
        } else {
            "unfenced".into()
        },
    );
    row(
        h,
        "faults",
        if r.faults.is_empty() {
            "none".into()
        } else {
            esc(&r.faults.join(", "))
        },
    );
    row(h, "clients", run.lanes.to_string());
    row(
        h,
        "ops",
        format!(
            "{} invoked ({} ok, {} fail, {} info) · {} grants · {} denials · {} faults took effect, {} failed · over {:.1} s",
            n.invocations,
            n.ok,
            n.fail,
            n.info,
            n.grants,
            n.denials,
            n.faults,
            n.failed_faults,
            r.history_ms as f64 / 1000.0
        ),
    );
    row(
        h,
        "time to first violation",
        c.first_violation_ns
            .map_or("—".into(), |t| format!("{} s", secs(t))),
    );
    row(
        h,
        "seed · run",
        format!("{} · <code>{}</code>", r.meta.seed, esc(&r.meta.run_id)),
    );
    row(
        h,
        "started",
        format!("{} (UTC)", store::utc_stamp(r.meta.started_unix_s)),
    );
    let _ = writeln!(h, "</table>");
}

/// Each expectation the scenario states, how it came out, expected against got.
fn expectations_section(h: &mut String, r: &RunResult) {
    let _ = writeln!(h, "<h2>Expectations</h2>");
    if r.expectations.is_empty() {
        let _ = writeln!(
            h,
            "<p>The scenario states none: a run without expectations never passes.</p>"
        );
        return;
    }
    let _ = writeln!(
        h,
        "<table><tr><th></th><th>property</th><th>expected</th><th>got</th></tr>"
    );
    for j in &r.expectations {
        let known = j.known.as_ref().map_or(String::new(), |k| {
            format!(
                "<br><span class=\"muted\">known finding — {}</span>",
                esc(k)
            )
        });
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{known}</td></tr>",
            outcome_badge(j.outcome),
            esc(&j.what),
            esc(&j.expected),
            esc(&j.actual)
        );
    }
    let _ = writeln!(h, "</table>");
}

/// Checkers: which judged what, from how much, and the overall verdict.
fn checkers_section(h: &mut String, c: &RunChecks) {
    let _ = writeln!(h, "<h2>Checkers</h2><table><tr><th>checker</th><th>judges from</th><th>verdict</th><th>found</th><th>evidence</th></tr>");
    for k in &c.checks {
        let details: String = k
            .details
            .iter()
            .map(|d| format!("<br><span class=\"muted\">{}</span>", esc(d)))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}{details}</td><td>{}</td></tr>",
            esc(&k.name),
            if k.advisory {
                " <span class=\"muted\">(advisory)</span>"
            } else {
                ""
            },
            esc(&k.judged_from),
            badge_validity(k.verdict),
            esc(&k.headline),
            esc(&k.evidence_line())
        );
    }
    let _ = writeln!(
        h,
        "<tr><th colspan=\"2\">overall</th><td>{}</td><td></td><td></td></tr></table>",
        badge_validity(c.validity)
    );
}

/// Each chart as its PNG inlined, linking to its SVG, with its caption.
fn charts_section(h: &mut String, charts: &[ChartFiles]) -> Result<(), ReportError> {
    let _ = writeln!(h, "<h2>Charts</h2>");
    for chart in charts {
        let png = std::fs::read(&chart.png).map_err(|source| ReportError::Io {
            path: chart.png.clone(),
            source,
        })?;
        let data = base64::engine::general_purpose::STANDARD.encode(png);
        let svg = chart
            .svg
            .file_name()
            .map_or(String::new(), |f| f.to_string_lossy().into_owned());
        let _ = writeln!(
            h,
            "<figure id=\"{stem}\"><a href=\"{svg}\"><img class=\"chart\" alt=\"{stem} chart\" src=\"data:image/png;base64,{data}\"></a>\
             <figcaption>{caption} <a href=\"{svg}\">SVG</a></figcaption></figure>",
            stem = esc(&chart.stem),
            svg = esc(&svg),
            caption = esc(chart_caption(&chart.stem))
        );
    }
    Ok(())
}

/// How to replay and re-judge the run, links to its files, and the scenario as it ran.
fn reproduce_section(h: &mut String, r: &RunResult, dir: &Path) {
    let _ = writeln!(h, "<h2>Reproduce</h2>");
    let _ = writeln!(
        h,
        "<p>Seed <b>{}</b>. The schedule replays with:</p><pre><code>{}</code></pre>",
        r.meta.seed,
        esc(&r.meta.reproduce)
    );
    let _ = writeln!(
        h,
        "<p>Re-judge this folder: <code>fencepost check {dir}</code> · redraw this page: <code>fencepost report {dir}</code></p>",
        dir = esc(&r.run_dir)
    );
    let files = [
        store::HISTORY,
        store::RESOURCE,
        store::RESULTS,
        store::SUMMARY,
        store::RUN_META,
        store::SCENARIO,
        store::NODES,
    ];
    let links: Vec<String> = files
        .iter()
        .filter(|f| dir.join(f).exists())
        .map(|f| format!("<a href=\"{f}\">{f}</a>"))
        .collect();
    let _ = writeln!(h, "<p>Files: {}</p>", links.join(" · "));
    if let Ok(toml) = std::fs::read_to_string(dir.join(store::SCENARIO)) {
        let _ = writeln!(
            h,
            "<h2>Scenario as run</h2><pre><code>{}</code></pre>",
            esc(&toml)
        );
    }
}

/// Marks the page with how many charts decoded; shows the warning if any did not.
const CHART_CHECK: &str = r#"<script>
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.chart"), ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute("data-charts", ok + "/" + imgs.length);
  document.body.setAttribute("data-load-ms", Math.round(performance.now()));
  if (ok < imgs.length) { document.getElementById("chart-warning").style.display = "block"; }
});
</script>
"#;

fn access_row(h: &mut String, run: &SavedRun, a: &Access) {
    let placed = run.placed(a);
    let _ = writeln!(
        h,
        "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        a.seq,
        client(a.process),
        match a.op {
            AccessOp::Read => "read",
            AccessOp::Write => "write",
        },
        a.fence.map_or("—".into(), |f| f.to_string()),
        a.highest_before,
        a.value,
        placed.map_or("—".into(), |p| secs(p.invoke_ns)),
        placed.map_or("—".into(), |p| p.index.to_string())
    );
}

fn more(h: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = writeln!(
            h,
            "<p class=\"muted\">… and {} more (results.json has them, or the first of them and their count).</p>",
            total - MAX_ROWS
        );
    }
}

/// Every violation a checker found, a table per kind (the first [`MAX_ROWS`] of each, the rest
/// counted), or a line saying there were none.
fn violations(h: &mut String, run: &SavedRun) {
    let c = &run.result.checks;
    let _ = writeln!(h, "<h2 id=\"violations\">Violations</h2>");
    if c.checks.iter().all(|k| k.violations == 0) {
        let names: Vec<&str> = c.checks.iter().map(|k| k.name.as_str()).collect();
        let _ = writeln!(
            h,
            "<p>None found by any checker ({}).</p>",
            esc(&names.join(", "))
        );
    }
    overlaps_table(h, c);
    double_grants_table(h, c);
    foreign_releases_table(h, c);
    stale_access_tables(h, run);
    late_accesses_table(h, c);
    counter_anomalies_table(h, c);
    over_admissions_table(h, c);
    overwrites_table(h, c);
}

/// Two holders at once: each overlapping pair's spans and how long they overlapped.
fn overlaps_table(h: &mut String, c: &RunChecks) {
    let ex = &c.exclusion;
    if ex.overlaps.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h3>Two holders at once ({})</h3><table><tr><th>#</th><th>holder</th><th>token</th><th>held (s)</th><th>ops</th><th>other holder</th><th>token</th><th>held (s)</th><th>ops</th><th>overlap (ms)</th></tr>", ex.overlap_count);
    for (i, o) in ex.overlaps.iter().take(MAX_ROWS).enumerate() {
        let span = |s: &checkers::exclusion::Span| {
            format!(
                "<td>{}</td><td class=\"num\">{}</td><td>{}–{}</td><td>#{}–#{}</td>",
                client(s.process),
                s.fence,
                secs(s.start_ns),
                secs(s.end_ns),
                s.acquire_index,
                s.end_index
            )
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td>{}{}<td class=\"num\">{:.1}</td></tr>",
            i + 1,
            span(&o.first),
            span(&o.second),
            (o.overlap_end_ns - o.overlap_start_ns) as f64 / 1e6
        );
    }
    let _ = writeln!(h, "</table><p class=\"muted\">ops: history indexes from the granted acquire's completion to the last access invoked under that grant.</p>");
    more(h, ex.overlap_count as usize);
}

/// Grants live at once: two keys surely holding their tokens over the same stretch.
fn double_grants_table(h: &mut String, c: &RunChecks) {
    let Some(d) = c
        .double_grant
        .as_ref()
        .filter(|d| !d.double_grants.is_empty())
    else {
        return;
    };
    let list = &d.double_grants;
    let _ = writeln!(h, "<h3>Grants live at once ({})</h3><table><tr><th>holder</th><th>token</th><th>granted (op)</th><th>other holder</th><th>token</th><th>granted (op)</th><th>both live (s)</th></tr>", list.len());
    for g in list.iter().take(MAX_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>#{}</td><td>{}</td><td class=\"num\">{}</td><td>#{}</td><td>{}–{}</td></tr>",
            client(g.first),
            g.first_fence,
            g.first_index,
            client(g.second),
            g.second_fence,
            g.second_index,
            secs(g.overlap_start_ns),
            secs(g.overlap_end_ns)
        );
    }
    let _ = writeln!(h, "</table><p class=\"muted\">from a grant's completion to a ttl after its request (or its release), its key surely held its token: two such intervals at once mean the lock granted a key another client's lease still held.</p>");
    more(h, list.len());
}

/// Releases that deleted another client's lock, and whose.
fn foreign_releases_table(h: &mut String, c: &RunChecks) {
    let foreign = c
        .foreign_release
        .as_ref()
        .map_or(&[][..], |f| &f.foreign_releases[..]);
    if foreign.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h3>Releases that deleted another client's lock ({})</h3><table><tr><th>releaser</th><th>its token</th><th>release op</th><th>at (s)</th><th>deleted the lock of</th><th>their token</th></tr>", foreign.len());
    for r in foreign.iter().take(MAX_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>#{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            client(r.process),
            r.fence,
            r.index,
            secs(r.invoke_ns),
            r.victim.map_or("a later holder".into(), client),
            r.victim_fence.map_or("—".into(), |f| f.to_string())
        );
    }
    let _ = writeln!(h, "</table>");
    more(h, foreign.len());
}

/// Stale accesses the resource accepted, then those fencing rejected, each placed in the history.
fn stale_access_tables(h: &mut String, run: &SavedRun) {
    let Some(f) = &run.result.checks.fencing else {
        return;
    };
    let access_header = "<tr><th>resource seq</th><th>client</th><th>op</th><th>token</th><th>highest seen before</th><th>value</th><th>invoked at (s)</th><th>history op</th></tr>";
    for (title, list) in [
        ("Stale accesses the resource accepted", &f.stale_accepted),
        ("Stale accesses fencing rejected", &f.prevented),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{title} ({})</h3><table>{access_header}", list.len());
        for a in list.iter().take(MAX_ROWS) {
            access_row(h, run, a);
        }
        let _ = writeln!(h, "</table>");
        more(h, list.len());
    }
}

/// Accesses a client made after its own computed validity had ended, and how late.
fn late_accesses_table(h: &mut String, c: &RunChecks) {
    let ex = &c.exclusion;
    if ex.late_accesses.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h3>Accesses after the client's own validity end ({})</h3><table><tr><th>client</th><th>op</th><th>token</th><th>history op</th><th>invoked at (s)</th><th>validity ended (s)</th><th>late by (ms)</th></tr>", ex.late_access_count);
    for l in ex.late_accesses.iter().take(MAX_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:?}</td><td class=\"num\">{}</td><td>#{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td></tr>",
            client(l.process),
            l.f,
            l.fence,
            l.index,
            secs(l.invoke_ns),
            secs(l.validity_end_ns),
            l.late_by_ns as f64 / 1e6
        );
    }
    let _ = writeln!(h, "</table>");
    more(h, ex.late_access_count as usize);
}

/// Counter reads outside what the acknowledged increments allow, with the faults meanwhile.
fn counter_anomalies_table(h: &mut String, c: &RunChecks) {
    let Some(k) = c.counter.as_ref().filter(|k| !k.anomalies.is_empty()) else {
        return;
    };
    let _ = writeln!(h, "<h3>Counter values out of bounds ({})</h3><table><tr><th>kind</th><th>client</th><th>op</th><th>history op</th><th>invoked at (s)</th><th>value</th><th>bounds</th><th>increments</th><th>faults meanwhile</th></tr>", k.anomalies.len());
    for a in k.anomalies.iter().take(MAX_ROWS) {
        let faults: Vec<String> = a
            .faults
            .iter()
            .map(|f| format!("{} {}", f.kind, f.target))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{:?}</td><td>{}</td><td>{:?}</td><td>#{}</td><td>{}</td><td class=\"num\">{}</td><td>{}..={}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            a.kind,
            client(a.process),
            a.f,
            a.index,
            secs(a.invoke_ns),
            a.value,
            a.lower,
            a.upper,
            a.count,
            esc(&faults.join(", "))
        );
    }
    let _ = writeln!(h, "</table>");
    more(h, k.anomalies.len());
}

/// Limiter intervals that admitted more than the limit, with their requests and the faults.
fn over_admissions_table(h: &mut String, c: &RunChecks) {
    let Some(w) = c.window.as_ref().filter(|w| !w.over_admissions.is_empty()) else {
        return;
    };
    let _ = writeln!(h, "<h3>Over-admissions ({})</h3><table><tr><th>from (s)</th><th>to (s)</th><th>admitted</th><th>limit</th><th>requests (history ops)</th><th>faults meanwhile</th></tr>", w.over_admissions_total);
    for o in w.over_admissions.iter().take(MAX_ROWS) {
        let faults: Vec<String> = o
            .faults
            .iter()
            .map(|f| format!("{} {}", f.kind, f.target))
            .collect();
        let ops: Vec<String> = o
            .requests
            .iter()
            .take(12)
            .map(|i| format!("#{i}"))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}{}</td><td>{}</td></tr>",
            secs(o.from_ns),
            secs(o.to_ns),
            o.admitted,
            w.limit,
            ops.join(" "),
            if o.requests.len() > 12 { " …" } else { "" },
            esc(&faults.join(", "))
        );
    }
    let _ = writeln!(h, "</table>");
    more(h, w.over_admissions.len());
}

/// Writes that overwrote an increment another client had made (lost updates).
fn overwrites_table(h: &mut String, c: &RunChecks) {
    let Some(l) = c.lost_updates.as_ref().filter(|l| !l.overwrites.is_empty()) else {
        return;
    };
    let _ = writeln!(h, "<h3>Writes that overwrote an increment ({})</h3><table><tr><th>resource seq</th><th>client</th><th>token</th><th>wrote</th><th>counter before</th></tr>", l.overwrites.len());
    for o in l.overwrites.iter().take(MAX_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            o.write.seq,
            client(o.write.process),
            o.write.fence.map_or("—".into(), |f| f.to_string()),
            o.write.value,
            o.overwritten
        );
    }
    let _ = writeln!(h, "</table>");
    more(h, l.overwrites.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
