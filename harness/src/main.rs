//! The `fencepost` binary: a thin shell over the harness library.
//!
//! `cargo run -- scenario gc-pause` runs one scenario; `fencepost --help` lists the rest.

use clap::Parser;

/// The exit status of a tool whose reader went away (128 + SIGPIPE), as a shell reports it.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Whether a panic is `println!` finding stdout closed (`fencepost check … | head`).
fn is_broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

fn main() {
    // A reader that stops reading is not a crash: no message, and the run's cleanup still
    // happens as the panic unwinds (SIGPIPE stays ignored: a peer closing a socket must not
    // kill a run).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default_hook(info);
        }
    }));
    let run = std::panic::catch_unwind(run);
    let code = match run {
        Ok(code) => code,
        Err(payload) if is_broken_pipe(payload.as_ref()) => BROKEN_PIPE_EXIT,
        Err(payload) => std::panic::resume_unwind(payload),
    };
    std::process::exit(code);
}

fn run() -> i32 {
    match fencepost::cli::Cli::try_parse() {
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
                    eprintln!("fencepost: error: {}", fencepost::cli::error_text(&e));
                    2
                }
            },
        },
    }
}
