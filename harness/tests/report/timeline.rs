//! The charts, drawn from saved runs built without Redis (tests/report_fixture): the timeline
//! must show the overlap in red, the pause band on the paused client's lane and the stale write,
//! the zoom must exist exactly when there is a violation, 100 clients must still fit, and a
//! library's wrong answer must be a diamond on its client's lane above the node's own record.
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

/// Every text of an SVG: its opening tag and its content.
fn texts(svg: &str) -> Vec<(&str, &str)> {
    svg.match_indices("<text")
        .filter_map(|(i, _)| {
            let element = &svg[i..i + svg[i..].find("</text>")?];
            let open = element.find('>')?;
            Some((&element[..open], element[open + 1..].trim()))
        })
        .collect()
}

/// The y of the lane labelled `name` in a timeline SVG (the labels right of which the plot
/// starts): the centre of its lane.
fn lane_centre_y(svg: &str, name: &str) -> f64 {
    let (tag, _) = texts(svg)
        .into_iter()
        .find(|(tag, text)| *text == name && tag.contains("text-anchor=\"end\""))
        .unwrap_or_else(|| panic!("no lane labelled {name}"));
    attr(tag, "y")
}

/// A number attribute of an SVG tag.
fn attr(tag: &str, name: &str) -> f64 {
    let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    let to = from + tag[from..].find('"').unwrap();
    tag[from..to].parse().unwrap()
}

/// The centre of each polygon filled with `fill` (`#RRGGBB`) in an SVG.
fn polygon_centres(svg: &str, fill: &str) -> Vec<(f64, f64)> {
    svg.match_indices("<polygon")
        .map(|(i, _)| &svg[i..i + svg[i..].find("/>").unwrap()])
        .filter(|tag| tag.contains(&format!("fill=\"{fill}\"")))
        .map(|tag| {
            let from = tag.find("points=\"").unwrap() + 8;
            let to = from + tag[from..].find('"').unwrap();
            let points: Vec<(f64, f64)> = tag[from..to]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            let n = points.len() as f64;
            (
                points.iter().map(|p| p.0).sum::<f64>() / n,
                points.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

#[test]
fn a_wrong_answer_is_a_yellow_diamond_on_its_clients_lane_above_the_nodes_record() {
    let results = temp_dir("report-library");
    let spec = Spec {
        node_record: true,
        short_lease_ms: Some(100),
        ..Spec::default()
    };
    let dir = write_run(&results, &spec, "fixture-library");
    let (result, _) = fencepost::cli::rerender(&dir).unwrap();
    let blame = result.checks.blame.as_ref().expect("blame judged the run");
    let kinds: Vec<_> = blame.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [checkers::blame::FindingKind::ValidityBeyondLease],
        "only the paused grant's promise outlived its lease: {}",
        result.summary()
    );
    let svg = std::fs::read_to_string(dir.join("timeline-zoom.svg")).unwrap();
    let (c0, c1) = (
        lane_centre_y(&svg, "client 0"),
        lane_centre_y(&svg, "client 1"),
    );
    let lane_px = c1 - c0;
    // The legend's swatch is above the plot; on the plot, one diamond for one finding.
    let diamonds: Vec<f64> = polygon_centres(&svg, "#FFD600")
        .into_iter()
        .map(|(_, y)| y)
        .filter(|y| *y > c0 - lane_px / 2.0)
        .collect();
    assert_eq!(diamonds.len(), 1, "{diamonds:?}");
    assert!(
        (diamonds[0] - c0).abs() < lane_px / 2.0,
        "the diamond (y {}) is on client 0's lane (y {c0}), not the next (y {c1})",
        diamonds[0]
    );
    let words = "library: validity promised beyond the nodes";
    assert_eq!(
        svg.matches(words).count(),
        2,
        "named in the legend and by the mark"
    );
    let node = lane_centre_y(&svg, "node n1");
    assert!(
        node > lane_centre_y(&svg, "client 4"),
        "the node under the clients"
    );

    // The node's lane: client 0's token (its colour) only for the 100 ms the node granted,
    // the other clients' tokens after; the whole run has no diamond elsewhere.
    let teal = "#009688";
    let bars = rects(&svg, teal);
    let on_node: Vec<&(f64, f64, f64, f64)> = bars
        .iter()
        .filter(|r| (r.1 + r.3) / 2.0 > node - lane_px / 2.0)
        .collect();
    assert!(!on_node.is_empty(), "client 0's token on the node's lane");
    let px_per_s = px_per_second(&svg);
    let widest_ms = on_node
        .iter()
        .map(|r| (r.2 - r.0) / px_per_s * 1e3)
        .fold(0.0, f64::max);
    assert!(
        (80.0..=120.0).contains(&widest_ms),
        "the node held client 0's paused token for its 100 ms lease, drawn {widest_ms:.0} ms"
    );
    let whole = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert_eq!(
        polygon_centres(&whole, "#FFD600").len(),
        2,
        "legend and the one mark"
    );
}

/// Each rectangle filled with `fill` in an SVG: (x0, y0, x1, y1).
fn rects(svg: &str, fill: &str) -> Vec<(f64, f64, f64, f64)> {
    svg.match_indices("<rect")
        .map(|(i, _)| &svg[i..i + svg[i..].find("/>").unwrap()])
        .filter(|tag| tag.contains(&format!("fill=\"{fill}\"")))
        .map(|tag| {
            let (x, y) = (attr(tag, "x"), attr(tag, "y"));
            (x, y, x + attr(tag, "width"), y + attr(tag, "height"))
        })
        .collect()
}

/// Pixels per second of a timeline SVG's time axis, from its first and last tick labels (the
/// centred numbers with a decimal point: tokens on bars have none).
fn px_per_second(svg: &str) -> f64 {
    let mut ticks: Vec<(f64, f64)> = texts(svg)
        .into_iter()
        .filter(|(tag, text)| tag.contains("text-anchor=\"middle\"") && text.contains('.'))
        .filter_map(|(tag, text)| Some((text.parse::<f64>().ok()?, attr(tag, "x"))))
        .collect();
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
    (last.1 - first.1) / (last.0 - first.0)
}
