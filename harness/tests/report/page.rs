//! The run page and the results index, opened in headless Chromium (Debian's `chromium`, which
//! .ci/run installs): no console errors, every chart decoded, and the index links the run.
//!
//! A missing Chromium fails these tests: a page nobody opened is not a tested page.
//! Run: `cargo test -p fencepost --test report_page`.

use crate::report_fixture::{temp_dir, write_run, Spec};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }) {
            return p;
        }
    }
    panic!("headless Chromium is needed to test the report pages: apt-get install chromium (.ci/run installs it)");
}

/// A page as Chromium saw it: the DOM after load, and every console message.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

fn load(page: &Path) -> Loaded {
    // One profile per load: tests load pages named alike at once.
    static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let profile = temp_dir(&format!(
        "chromium-profile-{}-{}",
        page.file_stem().unwrap().to_string_lossy(),
        LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed on {url}: {:?}\n{stderr}",
        out.status
    );
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect(),
    }
}

#[test]
fn the_detector_sees_console_errors_and_broken_charts() {
    // A control: if this page passed, the checks below would prove nothing.
    let dir = temp_dir("page-control");
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><body><p id=\"chart-warning\"></p><img class=\"chart\" src=\"missing.png\">\
             <script>console.error(\"boom\");</script>{}</body></html>",
            include_str!("../../src/report/html.rs")
                .split("const CHART_CHECK: &str = r#\"")
                .nth(1)
                .and_then(|s| s.split("\"#;").next())
                .expect("html.rs has the chart check script")
        ),
    )
    .unwrap();
    let loaded = load(&page);
    assert!(
        loaded.console.iter().any(|l| l.contains("boom")),
        "console errors must be seen: {:?}",
        loaded.console
    );
    assert!(
        loaded.dom.contains("data-charts=\"0/1\""),
        "a broken chart must be seen: {}",
        loaded.dom
    );
}

#[test]
fn run_page_and_results_index_load_cleanly_with_their_charts() {
    let results = temp_dir("page-run");
    let dir = write_run(&results, &Spec::default(), "fixture-page");
    fencepost::cli::rerender(&dir).unwrap();

    let run = load(&dir.join("index.html"));
    assert!(
        run.console.is_empty(),
        "console messages on the run page: {:?}",
        run.console
    );
    assert!(
        run.dom.contains("data-charts=\"5/5\""),
        "every chart must decode in the browser"
    );
    for id in [
        "timeline",
        "timeline-zoom",
        "latency-raw",
        "latency-quantiles",
        "rate",
    ] {
        assert!(
            run.dom.contains(&format!("<figure id=\"{id}\">")),
            "chart {id} is on the page"
        );
    }
    assert!(run.dom.contains("src=\"data:image/png;base64,"));
    assert!(run.dom.contains("Stale accesses the resource accepted"));
    assert!(run
        .dom
        .contains("cargo run --release -- scenario gc-pause --seed 1"));
    assert!(
        !run.dom.contains("http://") && !run.dom.contains("https://"),
        "the page fetches nothing from the network"
    );

    let index = load(&results.join("index.html"));
    assert!(
        index.console.is_empty(),
        "console messages on the index: {:?}",
        index.console
    );
    assert!(index.dom.contains("id=\"runs\""));
    assert!(index
        .dom
        .contains("href=\"gc-pause/fixture-page/index.html\""));
    assert!(index.dom.contains("badge invalid"));
}

/// The run page's own figure of how long it took to load (navigation to the load event).
fn load_ms(dom: &str) -> f64 {
    dom.split("data-load-ms=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the page records its load time: {dom:.300}"))
}

#[test]
fn a_run_too_long_to_read_whole_gets_an_overview_zooms_and_a_light_page() {
    // A 20 s fixture run (~40k ops) judged and drawn as a long run by lowering the limit.
    let results = temp_dir("page-long");
    let spec = Spec {
        duration_ms: 20_000,
        ..Spec::default()
    };
    let dir = write_run(&results, &spec, "fixture-long");
    let fencepost = |limit: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fencepost"));
        if let Some(l) = limit {
            cmd.env("FENCEPOST_WHOLE_HISTORY_OPS", l);
        }
        let out = cmd.args(args).arg(&dir).output().unwrap();
        assert!(
            out.status.code().is_some(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        results
    };
    let verdicts = |r: &serde_json::Value| -> Vec<(String, String)> {
        r["checks"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let whole = fencepost(None, &["check"]);
    let long = fencepost(Some("2000"), &["report"]);
    // What streams is judged alike; what reads a history whole says unknown, and why.
    let (w, l) = (verdicts(&whole), verdicts(&long));
    for id in [
        "mutual_exclusion",
        "double_grant",
        "fencing",
        "lost_updates",
        "faults",
    ] {
        let find = |v: &[(String, String)]| v.iter().find(|c| c.0 == id).cloned();
        assert_eq!(find(&w), find(&l), "{id}: {w:?} vs {l:?}");
    }
    assert_eq!(
        whole["checks"]["exclusion"]["overlap_count"],
        long["checks"]["exclusion"]["overlap_count"]
    );
    assert!(
        l.iter().all(|c| c.0 != "linearizability"),
        "the advisory whole-history check is left out of a long run: {l:?}"
    );
    for f in [
        "timeline.svg",
        "timeline-zoom.png",
        "latency-raw.png",
        "rate.png",
        "index.html",
    ] {
        assert!(dir.join(f).exists(), "{f} was written");
    }
    let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert!(
        svg.contains("downsampled"),
        "the long run's timeline is the overview"
    );
    let page = std::fs::metadata(dir.join("index.html")).unwrap().len();
    assert!(page < 3_000_000, "the page is {page} bytes");
    let run = load(&dir.join("index.html"));
    assert!(run.console.is_empty(), "{:?}", run.console);
    let charts = run
        .dom
        .split("data-charts=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (ok, all) = charts.split_once('/').unwrap();
    assert_eq!(ok, all, "every chart decodes: {charts}");
    assert!(all.parse::<u32>().unwrap() >= 5, "{charts}");
    let ms = load_ms(&run.dom);
    assert!(ms < 2_000.0, "the page took {ms} ms to load");
}
