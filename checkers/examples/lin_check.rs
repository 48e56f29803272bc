//! `fencepost check --model MODEL FILE` without the harness: the same library call, for timing
//! the checker as a whole process.
//!
//!     cargo run --release -p checkers --example lin_check -- lock /tmp/fencepost-lin/lock-100k-100-bad.jsonl

use checkers::linearizable::{check_text, Budget};
use checkers::model::ModelKind;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, file] = &args[..] else {
        eprintln!("usage: lin_check MODEL FILE");
        std::process::exit(2);
    };
    let code = (|| -> Result<i32, Box<dyn std::error::Error>> {
        let model: ModelKind = model.parse()?;
        let text = std::fs::read_to_string(file)?;
        let budget = Budget {
            time_ms: std::env::var("BUDGET_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(10_000),
            ..Budget::default()
        };
        let report = check_text(model, file, &text, &budget)?;
        print!("{report}");
        Ok(report.exit_code())
    })()
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        2
    });
    std::process::exit(code);
}
