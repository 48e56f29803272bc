//! Builds the clock library (`clock/fakeclock.c`) into a shared object that the harness embeds
//! and writes into each run's folder, to `LD_PRELOAD` into lock nodes (see
//! `src/cluster/clock.rs`). The `cc` crate finds the C compiler and its flags for the target;
//! the shared-object link step is ours (`cc` itself builds static archives).

use std::path::PathBuf;

fn main() {
    let src = "clock/fakeclock.c";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let so = out.join("libfencepost_clock.so");
    let compiler = cc::Build::new()
        .opt_level(2)
        .pic(true)
        .warnings(true)
        .extra_warnings(true)
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-fvisibility=hidden", "-Werror", "-o"])
        .arg(&so)
        .arg(src);
    let status = cmd.status().unwrap_or_else(|e| {
        panic!(
            "cannot run the C compiler ({cmd:?}): {e}; install gcc (`sudo apt-get install -y gcc`)"
        )
    });
    assert!(status.success(), "building {src} failed: {cmd:?}");
}
