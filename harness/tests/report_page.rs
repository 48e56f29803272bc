//! The run page and the results index, opened in headless Chromium (Debian's `chromium`, which
//! .ci/run installs): no console errors, every chart decoded, and the index links the run.
//!
//! A missing Chromium fails these tests: a page nobody opened is not a tested page.
//! Run: `cargo test -p fencepost --test report_page`.

mod report_fixture;

use report_fixture::{temp_dir, write_run, Spec};
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
    let profile = temp_dir(&format!(
        "chromium-profile-{}",
        page.file_stem().unwrap().to_string_lossy()
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
            include_str!("../src/report/html.rs")
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
    fencepost::report::render_saved(&dir).unwrap();

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
