//! Tells apart the API generation of the rslock this build resolved, from the crate's own source,
//! and sets cfgs so that src/main.rs compiles against every 0.x line (fencepost builds
//! `--client rslock@VERSION` with this file beside the adapter).
//!
//! rslock's API moved a lot across 0.x: the manager was `RedLock` (with `RedLockError`) before it
//! was `LockManager`; `Lock` borrowed its manager (`Lock<'a>`) until it owned a clone; TTLs and
//! the retry delay were milliseconds (`usize`, `u32`) before they were `Duration`s; `extend`
//! once borrowed the lock for as long as the manager; the errors gained `TtlExceeded` and
//! `TtlTooLarge` and a `Display`; persistent connections came with `query_redis_for_key_value`.
//! Each cfg below is one of those facts, read from the signatures themselves, never from the
//! version number, so a release that mixes them builds too. A crate whose source cannot be found
//! or whose API has none of the shapes the adapter knows stops the build with the reason.

use std::path::{Path, PathBuf};

/// Every cfg this script may set (declared so that rustc checks their names).
const CFGS: [&str; 9] = [
    "rslock_redlock_names",
    "rslock_lock_lifetime",
    "rslock_ttl_ms",
    "rslock_retry_delay_ms",
    "rslock_extend_borrows_lock",
    "rslock_ttl_exceeded",
    "rslock_ttl_too_large",
    "rslock_error_display",
    "rslock_query",
];

fn main() {
    println!("cargo::rerun-if-changed=Cargo.lock");
    println!("cargo::rerun-if-changed=build.rs");
    for c in CFGS {
        println!("cargo::rustc-check-cfg=cfg({c})");
    }
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_else(|e| {
        stop(&format!(
            "cannot read Cargo.lock ({e}): cargo writes it before building"
        ))
    });
    let version = locked_version(&lock, "rslock")
        .unwrap_or_else(|| stop("Cargo.lock has no rslock: the adapter depends on it"));
    let src = source_dir(&version).unwrap_or_else(|| {
        stop(&format!(
            "cannot find rslock {version}'s source under $CARGO_HOME/registry/src to tell its API apart (set CARGO_HOME to the cargo home this build uses)"
        ))
    });
    let text = rust_sources(&src.join("src"));
    for cfg in probe(&text).unwrap_or_else(|why| {
        stop(&format!(
            "rslock {version} ({}) has an API the adapter does not drive: {why}",
            src.display()
        ))
    }) {
        println!("cargo::rustc-cfg={cfg}");
    }
}

fn stop(why: &str) -> ! {
    eprintln!("rslock-adapter build: {why}");
    panic!("rslock-adapter build: {why}");
}

/// The cfgs of the API in `text` (every .rs file of the crate), or why it is none the adapter
/// knows.
fn probe(text: &str) -> Result<Vec<&'static str>, String> {
    let mut cfgs = Vec::new();
    let manager = if text.contains("pub struct LockManager") {
        "LockManager"
    } else if text.contains("pub struct RedLock ") || text.contains("pub struct RedLock{") {
        cfgs.push("rslock_redlock_names");
        "RedLock"
    } else {
        return Err("neither a LockManager nor a RedLock".into());
    };
    if text.contains("pub struct Lock<'a>") {
        cfgs.push("rslock_lock_lifetime");
    } else if !text.contains("pub struct Lock {") {
        return Err("no `pub struct Lock`".into());
    }
    let lock_fn = signature(text, "pub async fn lock").ok_or("no `lock` method")?;
    match (
        lock_fn.contains("ttl: usize"),
        lock_fn.contains("ttl: Duration"),
    ) {
        (true, _) => cfgs.push("rslock_ttl_ms"),
        (false, true) => {}
        _ => {
            return Err(format!(
                "`lock` takes its TTL as neither usize nor Duration: {lock_fn}"
            ))
        }
    }
    let retry = signature(text, "pub fn set_retry").ok_or("no `set_retry` method")?;
    if retry.contains("delay: u32") {
        cfgs.push("rslock_retry_delay_ms");
    } else if !retry.contains("delay: Duration") {
        return Err(format!(
            "`set_retry` takes its delay as neither u32 nor Duration: {retry}"
        ));
    }
    let extend = signature(text, "pub async fn extend").ok_or("no `extend` method")?;
    if extend.contains("lock: &'a Lock") {
        cfgs.push("rslock_extend_borrows_lock");
    }
    signature(text, "pub async fn unlock").ok_or("no `unlock` method")?;
    if !text.contains("pub fn new<T: ") || !text.contains(&format!("(uris: Vec<T>) -> {manager}")) {
        return Err(format!("no `{manager}::new(uris: Vec<T>)`"));
    }
    let errors = text
        .split("pub enum LockError")
        .nth(1)
        .or_else(|| text.split("pub enum RedLockError").nth(1))
        .and_then(|rest| rest.split("\n}").next())
        .ok_or("no LockError enum")?;
    for needed in ["Unavailable", "Io("] {
        if !errors.contains(needed) {
            return Err(format!("its error enum has no {needed}"));
        }
    }
    if errors.contains("TtlExceeded") {
        cfgs.push("rslock_ttl_exceeded");
    }
    if errors.contains("TtlTooLarge") {
        cfgs.push("rslock_ttl_too_large");
    }
    if errors.contains("#[error(") || text.contains("fmt::Display for LockError") {
        cfgs.push("rslock_error_display");
    }
    if text.contains("pub async fn query_redis_for_key_value") {
        cfgs.push("rslock_query");
    }
    Ok(cfgs)
}

/// A function's signature: from `start` (followed by `(` or `<`) to its body's `{`, whitespace
/// collapsed.
fn signature(text: &str, start: &str) -> Option<String> {
    let at = [format!("{start}("), format!("{start}<")]
        .iter()
        .filter_map(|s| text.find(s.as_str()))
        .min()?;
    let end = at + text[at..].find('{')?;
    Some(
        text[at..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The version of `name` in Cargo.lock (the first, if several).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    lock.split("[[package]]").skip(1).find_map(|block| {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{key} = \""))
                    .and_then(|r| r.strip_suffix('"'))
                    .map(str::to_string)
            })
        };
        (field("name").as_deref() == Some(name))
            .then(|| field("version"))
            .flatten()
    })
}

/// `$CARGO_HOME/registry/src/<registry>/rslock-<version>`.
fn source_dir(version: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|d| d.path().join(format!("rslock-{version}")))
        .find(|p| p.join("src").is_dir())
}

/// Every .rs file under `dir`, concatenated.
fn rust_sources(dir: &Path) -> String {
    let mut out = String::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out += &rust_sources(&p);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out += &std::fs::read_to_string(&p).unwrap_or_default();
            out.push('\n');
        }
    }
    out
}
