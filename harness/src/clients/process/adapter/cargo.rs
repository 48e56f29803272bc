//! Rust adapters: built with cargo, a target folder of their own, crates from crates.io.
//!
//! Pinned, the adapter's `Cargo.toml` and `Cargo.lock` build with `--locked`. With `@VERSION` the
//! package's requirement becomes `=VERSION` and cargo resolves a fresh `Cargo.lock`, so that
//! version's own dependencies (its `redis`) decide; the adapter's other exact pins stay where
//! the version accepts them and are loosened to their semver line when it does not. Features the
//! adapter asks of the package (`[features]` entries `PACKAGE/FEATURE`) that this version does
//! not have are dropped (`cargo info` says which it has): a line that predates a feature builds
//! as it is. Either way the build's `Cargo.lock` is the install's lockfile
//! ([`Installed::lockfile`]), which the run records.
//!
//! An adapter may have a `build.rs`, copied with `src/main.rs`: it can tell the resolved
//! package's API generation apart and set cfgs, so that one `main.rs` compiles against several
//! lines. A version that still does not compile is refused before the run, with the compiler's
//! lines.

use super::{on_path, Adapter, AdapterError, Installed};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// What cargo says when the requirements have no solution (not a network error).
const CONFLICT: &str = "failed to select a version";

/// `Cargo.toml` with the dependency `pkg`'s version requirement set to `=version` (a plain
/// `pkg = "…"` line or an inline table's `version = "…"`); `None` if no line names `pkg`.
fn pin_package(toml: &str, pkg: &str, version: &str) -> Option<String> {
    let mut found = false;
    let out: Vec<String> = toml
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let Some(rest) = t
                .strip_prefix(pkg)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
                .map(str::trim_start)
            else {
                return l.to_string();
            };
            if rest.starts_with('"') {
                found = true;
                format!("{pkg} = \"={version}\"")
            } else if rest.starts_with('{') {
                match replace_version(l, version) {
                    Some(line) => {
                        found = true;
                        line
                    }
                    None => l.to_string(),
                }
            } else {
                l.to_string()
            }
        })
        .collect();
    found.then(|| out.join("\n") + "\n")
}

/// An inline table's `version = "…"` set to `=version`.
fn replace_version(line: &str, version: &str) -> Option<String> {
    let at = line.find("version")?;
    let after = &line[at + "version".len()..];
    let eq = after.find('=')?;
    let open = at + "version".len() + eq + 1 + after[eq + 1..].find('"')?;
    let close = open + 1 + line[open + 1..].find('"')?;
    Some(format!(
        "{}\"={version}\"{}",
        &line[..open],
        &line[close + 1..]
    ))
}

/// `[features]` entries `pkg/feature` and `pkg?/feature` for a feature not in `offered` removed
/// (single-line arrays); returns the new text and what was dropped.
fn drop_features(toml: &str, pkg: &str, offered: &BTreeSet<String>) -> (String, Vec<String>) {
    let mut dropped = Vec::new();
    let mut in_features = false;
    let out: Vec<String> = toml
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('[') && !t.contains('=') {
                in_features = t == "[features]";
                return l.to_string();
            }
            let (Some(open), Some(close)) = (l.find('['), l.rfind(']')) else {
                return l.to_string();
            };
            if !in_features || close < open {
                return l.to_string();
            }
            let items: Vec<&str> = l[open + 1..close]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let kept: Vec<&str> = items
                .iter()
                .copied()
                .filter(|item| {
                    let name = item.trim_matches('"');
                    let feature = name
                        .strip_prefix(&format!("{pkg}/"))
                        .or_else(|| name.strip_prefix(&format!("{pkg}?/")));
                    match feature {
                        Some(f) if !offered.contains(f) => {
                            dropped.push(name.to_string());
                            false
                        }
                        _ => true,
                    }
                })
                .collect();
            if kept.len() == items.len() {
                l.to_string()
            } else {
                format!("{}{}{}", &l[..=open], kept.join(", "), &l[close..])
            }
        })
        .collect();
    (out.join("\n") + "\n", dropped)
}

/// Every exact requirement `"=X.Y.Z"` but `pkg`'s loosened to its semver line (`"X"`, or
/// `"0.Y"`), so that cargo may pick what a version's own requirements need.
fn loosen_pins(toml: &str, pkg: &str) -> String {
    toml.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(&format!("{pkg} ")) || t.starts_with(&format!("{pkg}=")) {
                return l.to_string();
            }
            let Some(start) = l.find("\"=") else {
                return l.to_string();
            };
            let Some(len) = l[start + 2..].find('"') else {
                return l.to_string();
            };
            let exact = &l[start + 2..start + 2 + len];
            let parts: Vec<&str> = exact.split('.').collect();
            let line = match parts.as_slice() {
                ["0", minor, ..] => format!("0.{minor}"),
                [major, ..] => (*major).to_string(),
                [] => return l.to_string(),
            };
            format!("{}\"{line}\"{}", &l[..start], &l[start + 3 + len..])
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The feature names in `cargo info`'s output (`features:` then one indented line each).
fn info_features(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_features = false;
    for line in text.lines() {
        if line.starts_with("features:") {
            in_features = true;
            continue;
        }
        if in_features {
            if !line.starts_with(' ') {
                break;
            }
            let name = line.trim().trim_start_matches(['+', '-']).trim();
            if let Some(name) = name.split([' ', '=']).next().filter(|n| !n.is_empty()) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), AdapterError> {
    std::fs::create_dir_all(path.parent().expect("has a parent"))
        .and_then(|()| std::fs::write(path, bytes))
        .map_err(|source| AdapterError::Cache {
            path: path.to_path_buf(),
            source,
        })
}

fn note(log: &Path, text: &str) {
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, format!("\nfencepost: {text}\n").as_bytes())
        });
}

impl Adapter {
    pub(super) fn install_cargo(&self, cache: &Path) -> Result<Installed, AdapterError> {
        if !on_path("cargo") {
            return Err(AdapterError::MissingRuntime {
                library: self.label(),
                what: "cargo".into(),
                fix: "install Rust (https://rustup.rs), as for fencepost itself".into(),
            });
        }
        let cargo_toml = self.read("Cargo.toml")?;
        let cargo_lock = self.read("Cargo.lock")?;
        let main = self.read("src/main.rs")?;
        let build = std::fs::read(self.dir.join("build.rs")).ok();
        let (dir, lock) = self.env_dir(
            cache,
            &[
                &cargo_toml,
                &cargo_lock,
                &main,
                build.as_deref().unwrap_or_default(),
            ],
        )?;
        let bin = &self.manifest.command[0];
        let program = dir.join("target/release").join(bin);
        // A copy of the adapter, so a version override never touches the repository.
        let src = dir.join("src");
        let manifest = src.join("Cargo.toml");
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            write(&src.join("src/main.rs"), &main)?;
            if let Some(build) = &build {
                write(&src.join("build.rs"), build)?;
            }
            let toml = String::from_utf8_lossy(&cargo_toml).into_owned();
            match &self.version {
                None => {
                    write(&manifest, toml.as_bytes())?;
                    write(&src.join("Cargo.lock"), &cargo_lock)?;
                }
                Some(v) => self.resolve_version(&dir, &toml, v, &log)?,
            }
            let mut cargo = Command::new("cargo");
            cargo
                .args([
                    "build",
                    "--release",
                    "--quiet",
                    "--locked",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(dir.join("target"));
            let fix = match &self.version {
                None => "check that crates.io is reachable (cargo needs it on first use)".into(),
                Some(v) => format!(
                    "{} {v} does not build against the adapter ({}/src/main.rs): the lines above say where; its API is not one the adapter drives, so leave it out of `drives` or teach the adapter (and its build.rs) that line",
                    self.manifest.package,
                    self.dir.display()
                ),
            };
            self.step(cargo, "cargo build", &log, &fix)?;
            Self::done(&dir)?;
        }
        let mut installed = self.command(program, Vec::new());
        installed.lockfile = Some(src.join("Cargo.lock"));
        Ok(installed)
    }

    /// Writes the version's `Cargo.toml` and resolves its `Cargo.lock`: the version's own
    /// requirements decide, the adapter's pins are kept where they fit.
    fn resolve_version(
        &self,
        dir: &Path,
        toml: &str,
        v: &str,
        log: &Path,
    ) -> Result<(), AdapterError> {
        let pkg = &self.manifest.package;
        let manifest = dir.join("src/Cargo.toml");
        let mut text = pin_package(toml, pkg, v).ok_or_else(|| AdapterError::Manifest {
            file: self.dir.join("Cargo.toml"),
            line: None,
            message: format!(
                "no dependency line names {pkg} (the adapter.toml's package): a version cannot be asked of it"
            ),
        })?;
        if let Some(offered) = self.offered_features(dir, v) {
            let (kept, dropped) = drop_features(&text, pkg, &offered);
            if !dropped.is_empty() {
                note(
                    log,
                    &format!(
                        "{pkg} {v} has no feature {}: dropped from [features]",
                        dropped.join(", ")
                    ),
                );
            }
            text = kept;
        }
        write(&manifest, text.as_bytes())?;
        let fix = format!(
            "check that {pkg} {v} is published on crates.io and that crates.io is reachable (the lines above say why not)"
        );
        let generate = || {
            let mut c = Command::new("cargo");
            c.args(["generate-lockfile", "--manifest-path"])
                .arg(&manifest);
            c
        };
        let before = std::fs::metadata(log).map_or(0, |m| m.len());
        if let Err(e) = self.step(generate(), "cargo generate-lockfile", log, &fix) {
            let all = std::fs::read(log).unwrap_or_default();
            let added = String::from_utf8_lossy(&all[(before as usize).min(all.len())..]);
            if !added.contains(CONFLICT) {
                return Err(e);
            }
            note(
                log,
                &format!("{pkg} {v} excludes the adapter's exact pins (above): loosened to their semver lines"),
            );
            write(&manifest, loosen_pins(&text, pkg).as_bytes())?;
            self.step(generate(), "cargo generate-lockfile", log, &fix)?;
        }
        Ok(())
    }

    /// The features `cargo info PACKAGE@VERSION` lists; `None` when it cannot say (then the
    /// adapter's features are kept, and cargo names any that is missing).
    fn offered_features(&self, dir: &Path, v: &str) -> Option<BTreeSet<String>> {
        let out = Command::new("cargo")
            .args(["info", "--quiet"])
            .arg(format!("{}@{v}", self.manifest.package))
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| info_features(&String::from_utf8_lossy(&out.stdout)))
    }
}

impl Adapter {
    /// The package's published versions, oldest first, yanked ones left out: cargo's own copy
    /// of the crate's registry index entry, refreshed by `cargo info`.
    pub(super) fn published_cargo(&self) -> Result<Vec<String>, AdapterError> {
        let pkg = &self.manifest.package;
        let failed = |why: String, fix: &str| AdapterError::Published {
            package: pkg.clone(),
            registry: "crates.io".into(),
            why,
            fix: fix.into(),
        };
        if !on_path("cargo") {
            return Err(failed(
                "cargo is not on PATH".into(),
                "install Rust (https://rustup.rs), as for fencepost itself",
            ));
        }
        let tmp = std::env::temp_dir();
        let out = Command::new("cargo")
            .args(["info", "--quiet"])
            .arg(pkg)
            .current_dir(&tmp)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| failed(format!("cannot start cargo: {e}"), "check the Rust install"))?;
        if !out.status.success() {
            return Err(failed(
                format!("cargo info {pkg}: {}", String::from_utf8_lossy(&out.stderr).trim()),
                &format!(
                    "check the crate name ({pkg}, `package` in {}/adapter.toml) and that crates.io is reachable",
                    self.dir.display()
                ),
            ));
        }
        let entry = index_entry(pkg).ok_or_else(|| {
            failed(
                "cargo info found it, but cargo's index cache has no entry for it".into(),
                "set CARGO_HOME to the cargo home cargo uses, or run `cargo info` yourself once",
            )
        })?;
        Ok(versions_in_index(&entry))
    }
}

/// cargo's cached index entry for `pkg` (`$CARGO_HOME/registry/index/*/.cache/<prefix>/<name>`),
/// the newest one if there are several registries.
fn index_entry(pkg: &str) -> Option<Vec<u8>> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let name = pkg.to_lowercase();
    let prefix = match name.len() {
        1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    };
    std::fs::read_dir(home.join("registry/index"))
        .ok()?
        .flatten()
        .map(|d| d.path().join(".cache").join(&prefix).join(&name))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .and_then(|(_, p)| std::fs::read(p).ok())
}

/// The versions in an index entry (a header, then a version and its JSON line per release,
/// NUL-separated), oldest first by their numbers; yanked ones and pre-releases left out, as pip
/// leaves them out for Python packages.
fn versions_in_index(entry: &[u8]) -> Vec<String> {
    let mut out: Vec<(Vec<u64>, String)> = entry
        .split(|b| *b == 0)
        .filter(|chunk| chunk.first() == Some(&b'{'))
        .filter_map(|chunk| serde_json::from_slice::<serde_json::Value>(chunk).ok())
        .filter(|v| !v["yanked"].as_bool().unwrap_or(false))
        .filter_map(|v| v["vers"].as_str().map(str::to_string))
        .filter(|v| !v.contains('-'))
        .map(|v| {
            let core = v.split('+').next().unwrap_or_default();
            (core.split('.').map(|n| n.parse().unwrap_or(0)).collect(), v)
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    out.into_iter().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_pins_the_package_plain_or_in_a_table() {
        let plain = "[dependencies]\nrslock = \"=0.10.0\"\nredis = \"=1.8.1\"\n";
        assert_eq!(
            pin_package(plain, "rslock", "0.3.0").unwrap(),
            "[dependencies]\nrslock = \"=0.3.0\"\nredis = \"=1.8.1\"\n"
        );
        let table = "rslock = { version = \"=0.10.0\", default-features = false }\n";
        assert_eq!(
            pin_package(table, "rslock", "0.3.0").unwrap(),
            "rslock = { version = \"=0.3.0\", default-features = false }\n"
        );
        assert!(pin_package(plain, "rslockx", "1").is_none());
    }

    #[test]
    fn features_a_version_lacks_are_dropped() {
        let toml = "[features]\ndefault = [\"rslock/tokio-comp\", \"other\"]\n[dependencies]\nx = [\"rslock/a\"]\n";
        let offered: BTreeSet<String> = ["default".to_string()].into();
        let (text, dropped) = drop_features(toml, "rslock", &offered);
        assert_eq!(
            text,
            "[features]\ndefault = [\"other\"]\n[dependencies]\nx = [\"rslock/a\"]\n"
        );
        assert_eq!(dropped, ["rslock/tokio-comp"]);
        let offered: BTreeSet<String> = ["tokio-comp".to_string()].into();
        assert!(drop_features(toml, "rslock", &offered).1.is_empty());
    }

    #[test]
    fn exact_pins_loosen_to_their_line_but_the_package() {
        let toml = "rslock = \"=0.3.0\"\nredis = { version = \"=1.8.1\", features = [] }\nlibc = \"=0.2.191\"\n";
        assert_eq!(
            loosen_pins(toml, "rslock"),
            "rslock = \"=0.3.0\"\nredis = { version = \"1\", features = [] }\nlibc = \"0.2\"\n"
        );
    }

    #[test]
    fn cargo_info_features_are_read() {
        let text = "rslock\nversion: 0.2.1\nfeatures:\n +default        = [async-std-comp]\n  async-std-comp = [redis/async-std-comp]\n  tokio-comp     = [redis/tokio-comp]\ndependencies:\n  redis\n";
        let f = info_features(text);
        assert_eq!(
            f.into_iter().collect::<Vec<_>>(),
            ["async-std-comp", "default", "tokio-comp"]
        );
    }

    #[test]
    fn index_entries_list_unyanked_versions_oldest_first() {
        let mut entry = vec![3u8, 2, 0, 0, 0];
        entry.extend_from_slice(b"etag\0");
        for (v, y) in [
            ("0.10.0", false),
            ("0.2.0", true),
            ("1.0.0-alpha.1", false),
            ("0.9.1", false),
            ("0.2.1", false),
        ] {
            entry.extend_from_slice(
                format!("{v}\0{{\"vers\":\"{v}\",\"yanked\":{y}}}\0").as_bytes(),
            );
        }
        assert_eq!(versions_in_index(&entry), ["0.2.1", "0.9.1", "0.10.0"]);
    }
}
