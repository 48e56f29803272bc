//! The `fencepost` binary: a thin shell over the harness library.
//!
//! `cargo run -- scenario gc-pause` runs one scenario; `fencepost --help` lists the rest.

use clap::Parser;

fn main() {
    let code = match fencepost::cli::Cli::try_parse() {
        Err(e) => {
            let _ = e.print();
            // clap's help and version are not errors.
            if e.use_stderr() {
                2
            } else {
                0
            }
        }
        Ok(cli) => match tokio::runtime::Runtime::new() {
            Err(e) => {
                eprintln!("fencepost: cannot start the async runtime: {e}");
                2
            }
            Ok(rt) => match rt.block_on(fencepost::cli::dispatch(cli)) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("fencepost: error: {e:#}");
                    2
                }
            },
        },
    };
    std::process::exit(code);
}
