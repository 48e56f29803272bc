//! The charts, drawn from saved runs built without Redis (tests/report_fixture): the timeline
//! must show the overlap in red, the pause band on the paused client's lane and the stale write,
//! the zoom must exist exactly when there is a violation, and 100 clients must still fit.
//!
//! Run: `cargo test -p fencepost --test report_timeline`.

use crate::report_fixture::{temp_dir, write_run, Spec};
use std::path::Path;
use std::process::Command;

/// Decodes a PNG into (width, height, RGB bytes).
fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels within `tolerance` of `rgb` in every channel.
fn count_near(pixels: &[u8], rgb: (u8, u8, u8), tolerance: u8) -> usize {
    pixels
        .chunks_exact(3)
        .filter(|p| {
            p[0].abs_diff(rgb.0) <= tolerance
                && p[1].abs_diff(rgb.1) <= tolerance
                && p[2].abs_diff(rgb.2) <= tolerance
        })
        .count()
}

#[test]
fn gc_pause_timeline_shows_overlap_pause_band_and_stale_write() {
    let results = temp_dir("report-timeline");
    let dir = write_run(&results, &Spec::default(), "fixture-unfenced");
    let (result, rendered) = fencepost::cli::rerender(&dir).unwrap();
    let c = &result.checks;
    assert!(!c.exclusion.overlaps.is_empty(), "{}", result.summary());
    assert_eq!(c.fencing.as_ref().unwrap().stale_accepted.len(), 1);
    assert!(result.met(), "{}", result.summary());

    let stems: Vec<&str> = rendered.charts.iter().map(|c| c.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "timeline",
            "timeline-zoom",
            "latency-raw",
            "latency-quantiles",
            "rate"
        ]
    );
    for chart in &rendered.charts {
        assert!(std::fs::metadata(&chart.svg).unwrap().len() > 1000);
        let (w, h, _) = decode(&chart.png);
        assert_eq!(w, 1600, "{}", chart.png.display());
        assert!(h > 200 && h < 1400, "{}: {h}", chart.png.display());
    }

    // Looked at as an image: red overlap, the stale-write marker, the lavender pause band
    // (darker on client 0's lane), and blue holders elsewhere.
    for stem in ["timeline", "timeline-zoom"] {
        let (_, _, px) = decode(&dir.join(format!("{stem}.png")));
        let red = count_near(&px, (214, 39, 40), 0);
        let stale = count_near(&px, (200, 0, 0), 0);
        let blue = count_near(&px, (66, 113, 196), 0);
        // gc-pause lavender (150, 110, 210): at 60 % over client 0's striped, lightly shaded
        // lane, and at 16 % over the white lanes.
        let band = count_near(&px, (182, 155, 222), 3);
        let shade = count_near(&px, (238, 232, 248), 3);
        assert!(red > 500, "{stem}: overlap red pixels: {red}");
        assert!(stale > 40, "{stem}: stale-write marker pixels: {stale}");
        assert!(blue > 500, "{stem}: holder blue pixels: {blue}");
        assert!(band > 2000, "{stem}: pause band on the target lane: {band}");
        assert!(shade > 2000, "{stem}: pause shade over the chart: {shade}");
    }
    let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert!(
        svg.contains("stale write ACCEPTED"),
        "the stale write is labelled"
    );
    assert!(svg.contains("gc-pause · client 0 · pause 900 ms"));
    assert!(svg.contains("client 4"));
    assert!(svg.contains("#D62728"), "overlap red is in the SVG");

    // The page and the index were written next to it.
    assert!(dir.join("index.html").exists());
    let index = std::fs::read_to_string(results.join("index.html")).unwrap();
    assert!(
        index.contains("gc-pause/fixture-unfenced/index.html"),
        "{index}"
    );
}

#[test]
fn fenced_timeline_marks_rejections_not_acceptances() {
    let results = temp_dir("report-fenced");
    let spec = Spec {
        fenced: true,
        ..Spec::default()
    };
    let dir = write_run(&results, &spec, "fixture-fenced");
    let (result, _) = fencepost::cli::rerender(&dir).unwrap();
    let f = result.checks.fencing.as_ref().unwrap();
    assert!(f.stale_accepted.is_empty() && f.prevented.len() == 1);
    let svg = std::fs::read_to_string(dir.join("timeline-zoom.svg")).unwrap();
    assert!(
        svg.contains("stale write rejected"),
        "the rejection is labelled"
    );
    assert!(!svg.contains("ACCEPTED"));
    let (_, _, px) = decode(&dir.join("timeline-zoom.png"));
    assert!(
        count_near(&px, (30, 150, 60), 0) > 40,
        "green rejection marker"
    );
}

#[test]
fn a_run_without_violations_has_no_zoom() {
    let results = temp_dir("report-clean");
    let spec = Spec {
        pause_at_ms: None,
        duration_ms: 2_000,
        ..Spec::default()
    };
    let dir = write_run(&results, &spec, "fixture-clean");
    let (result, rendered) = fencepost::cli::rerender(&dir).unwrap();
    assert!(result.checks.exclusion.overlaps.is_empty());
    assert!(!dir.join("timeline-zoom.png").exists());
    assert_eq!(rendered.charts.len(), 4);
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("None found by any checker"), "{page}");
}

#[test]
fn a_hundred_clients_fit_on_one_timeline() {
    let results = temp_dir("report-hundred");
    let spec = Spec {
        clients: 100,
        duration_ms: 6_000,
        pause_at_ms: Some(2_000),
        denials_per_cycle: 10,
        ..Spec::default()
    };
    let dir = write_run(&results, &spec, "fixture-hundred");
    fencepost::cli::rerender(&dir).unwrap();
    let (w, h, px) = decode(&dir.join("timeline.png"));
    assert_eq!(w, 1600);
    assert!(h < 1100, "100 lanes must fit a screen or two: {h} px");
    assert!(
        count_near(&px, (214, 39, 40), 0) > 100,
        "the overlap is visible"
    );
    let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert!(svg.contains("client 0") && svg.contains("client 98"));
}

#[test]
fn report_command_rerenders_a_saved_run() {
    let results = temp_dir("report-cli");
    let dir = write_run(&results, &Spec::default(), "fixture-cli");
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("timeline-zoom.png") && stdout.contains("index.html"));
    assert!(dir.join("rate.svg").exists() && results.join("index.html").exists());
}
