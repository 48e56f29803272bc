//! What a person looks at: run pages, timelines, the suite's reports (Markdown, JUnit, HTML), in headless Chromium.
//!
//! One test binary per area (fewer binaries link faster); each file below was a binary of its own.

#[path = "../report_fixture/mod.rs"]
mod report_fixture;

mod page;
mod suite;
mod timeline;
