//! The suite as JUnit XML, so any CI that reads test results shows one test per scenario × seed.
//!
//! The Apache Ant dialect that Jenkins, GitLab and the GitHub test-report actions read: one
//! `<testsuite>` per scenario, one `<testcase>` per seed, `<failure>` for an expectation not
//! met or a run that could not tell (not enough evidence), `<error>` for a run that could not be
//! run at all (a reproduced known finding passes, and says so in its output), the run's summary in
//! `<system-out>`. Checked against harness/tests/data/junit.xsd by `xmllint --schema` in the
//! tests.

use super::report::{Case, SuiteReport};
use crate::judge::Outcome;
use std::fmt::Write;

/// Escapes text for XML content and attributes, dropping characters XML 1.0 cannot carry.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `20261125T101500Z` → `2026-11-25T10:15:00` (Ant writes local-less ISO 8601).
fn iso(stamp: &str) -> String {
    let b = stamp.as_bytes();
    if b.len() < 15 {
        return stamp.to_string();
    }
    format!(
        "{}-{}-{}T{}:{}:{}",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// The whole suite as a JUnit XML document.
pub fn render(report: &SuiteReport) -> String {
    let mut x = String::new();
    let failures = report.cases.iter().filter(|c| c.failed()).count();
    let errors = report.cases.iter().filter(|c| c.error.is_some()).count();
    let _ = writeln!(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        x,
        "<testsuites name=\"fencepost {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        esc(&report.name),
        report.cases.len(),
        secs(report.wall_ms)
    );
    // One testsuite per scenario, in the order they ran.
    let mut scenarios: Vec<&str> = Vec::new();
    for c in &report.cases {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    let host = hostname();
    for (id, scenario) in scenarios.iter().enumerate() {
        let cases: Vec<&Case> = report
            .cases
            .iter()
            .filter(|c| c.scenario == *scenario)
            .collect();
        let f = cases.iter().filter(|c| c.failed()).count();
        let e = cases.iter().filter(|c| c.error.is_some()).count();
        let skipped = cases
            .iter()
            .filter(|c| c.interrupted || c.not_on_server.is_some())
            .count();
        let time: u64 = cases.iter().map(|c| c.wall_ms).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"fencepost.{suite}.{s}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\" id=\"{id}\" package=\"fencepost.{suite}\">",
            cases.len(),
            secs(time),
            iso(&report.stamp),
            esc(&host),
            suite = esc(&report.name),
            s = esc(scenario)
        );
        let _ = writeln!(x, "    <properties>");
        let seeds: Vec<String> = report.seeds.iter().map(u64::to_string).collect();
        for (k, v) in [
            ("seeds", seeds.join(",")),
            (
                "duration",
                report
                    .duration_override
                    .clone()
                    .unwrap_or_else(|| "as in the scenario file".into()),
            ),
            ("fencepost", env!("CARGO_PKG_VERSION").to_string()),
        ] {
            let _ = writeln!(
                x,
                "      <property name=\"{}\" value=\"{}\"/>",
                esc(k),
                esc(&v)
            );
        }
        let _ = writeln!(x, "    </properties>");
        for c in cases {
            testcase(&mut x, report, c);
        }
        let _ = writeln!(x, "  </testsuite>");
    }
    let _ = writeln!(x, "</testsuites>");
    x
}

fn testcase(x: &mut String, report: &SuiteReport, c: &Case) {
    let _ = writeln!(
        x,
        "    <testcase name=\"{s} seed {seed}\" classname=\"fencepost.{suite}.{s}\" time=\"{}\">",
        secs(c.wall_ms),
        s = esc(&c.scenario),
        seed = c.seed,
        suite = esc(&report.name)
    );
    if c.interrupted {
        let _ = writeln!(
            x,
            "      <skipped message=\"interrupted: the run was stopped by a signal\"/>"
        );
    } else if let Some(why) = &c.not_on_server {
        let _ = writeln!(
            x,
            "      <skipped message=\"not on this server: {}\"/>",
            esc(why)
        );
    } else if let Some(e) = &c.error {
        let _ = writeln!(
            x,
            "      <error type=\"RunError\" message=\"{}\">{}</error>",
            esc(first_line(e)),
            esc(e)
        );
    } else if !c.passed() {
        let (kind, word) = match c.outcome {
            Some(Outcome::Unknown) => ("NotEnoughEvidence", "unknown: not enough evidence"),
            _ => ("ExpectationNotMet", "expectations not met"),
        };
        let message = if c.unmet.is_empty() {
            word.to_string()
        } else {
            format!("{word}: {}", c.unmet.join("; "))
        };
        let _ = writeln!(
            x,
            "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
            esc(&message),
            esc(&c.summary)
        );
    }
    let mut out = c.summary.clone();
    if let Some(d) = &c.run_dir {
        out.push_str(&format!("\nrun folder: {d}\n"));
    }
    let _ = writeln!(x, "      <system-out>{}</system-out>", esc(&out));
    let _ = writeln!(x, "    </testcase>");
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_drops_what_xml_cannot_carry() {
        assert_eq!(esc("a<b>&\"'\u{1}\n"), "a&lt;b&gt;&amp;&quot;&apos;\n");
    }

    #[test]
    fn stamps_become_ant_timestamps() {
        assert_eq!(iso("20261125T101500Z"), "2026-11-25T10:15:00");
    }
}
