//! Node adapters: a node_modules of their own per set of install inputs, npm from its registry.
//!
//! As pinned, the adapter's `package.json` and `package-lock.json` are installed with `npm ci`.
//! With `@VERSION`, the adapter's other pins are not imposed on that version: a published
//! version states which Redis client it works with (`peerDependencies`, `dependencies`, or, for a
//! library that declares none, the client it was developed against in `devDependencies`), and
//! that range replaces the adapter's pin. npm resolves the rest and writes the environment's
//! lockfile. Either way the environment's `package-lock.json` (every package at the exact version
//! installed) is returned as [`Installed::lockfile`], for the run's record.

use super::{on_path, Adapter, AdapterError, Installed};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a version's own range for one of the adapter's other dependencies comes from, in the
/// order they are looked at: what the version requires of its host first, what it was built
/// against last.
const RANGE_SOURCES: [&str; 3] = ["peerDependencies", "dependencies", "devDependencies"];

/// Names the way a `@VERSION` environment is resolved, in its cache digest.
const OWN_RANGES_RECIPE: &[u8] = b"npm install, the version's own ranges (1)";

impl Adapter {
    pub(super) fn install_node(&self, cache: &Path) -> Result<Installed, AdapterError> {
        self.need_node()?;
        let package = self.read("package.json")?;
        let lockfile = self.read("package-lock.json")?;
        // A version is installed by another recipe than the pins: the recipe is part of its
        // digest, so an environment made under other rules is never reused for it.
        let mut inputs: Vec<&[u8]> = vec![&package, &lockfile];
        if self.version.is_some() {
            inputs.push(OWN_RANGES_RECIPE);
        }
        let (dir, lock) = self.env_dir(cache, &inputs)?;
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            match &self.version {
                None => self.npm_ci(&dir, &log, &package, &lockfile)?,
                Some(v) => self.npm_install_version(&dir, &log, &package, v)?,
            }
            Self::done(&dir)?;
        }
        let mut installed = self.command(
            PathBuf::from("node"),
            vec![(
                "NODE_PATH".into(),
                dir.join("node_modules").display().to_string(),
            )],
        );
        // Both ways end with npm's lockfile in the folder: every package at the exact version
        // installed.
        installed.lockfile = Some(dir.join("package-lock.json"));
        Ok(installed)
    }

    fn need_node(&self) -> Result<(), AdapterError> {
        for (p, pkg) in [("node", "nodejs"), ("npm", "npm")] {
            if !on_path(p) {
                return Err(AdapterError::MissingRuntime {
                    library: self.label(),
                    what: p.into(),
                    fix: format!("install it: sudo apt-get install -y {pkg}"),
                });
            }
        }
        Ok(())
    }

    /// The pinned install: exactly the adapter's lockfile.
    fn npm_ci(
        &self,
        dir: &Path,
        log: &Path,
        package: &[u8],
        lockfile: &[u8],
    ) -> Result<(), AdapterError> {
        write_file(&dir.join("package.json"), package)?;
        write_file(&dir.join("package-lock.json"), lockfile)?;
        let mut npm = npm(dir);
        npm.args(["ci", "--omit=dev"]);
        self.step(
            npm,
            "npm ci",
            log,
            "check that the npm registry is reachable (npm needs it on first use)",
        )
    }

    /// `PACKAGE@VERSION` with the dependency ranges that version states for itself.
    fn npm_install_version(
        &self,
        dir: &Path,
        log: &Path,
        package: &[u8],
        version: &str,
    ) -> Result<(), AdapterError> {
        let pkg = &self.manifest.package;
        let meta = self.npm_view_version(dir, log, version)?;
        let pins = self.pinned_dependencies(package)?;
        let mut deps = Map::new();
        deps.insert(pkg.clone(), Value::String(version.to_string()));
        let mut why = Vec::new();
        for (name, pin) in pins.iter().filter(|(n, _)| n != pkg) {
            let (range, source) =
                own_range(&meta, name).unwrap_or((pin.clone(), "the adapter's pin"));
            why.push(format!("{name} {range} (from {source})"));
            deps.insert(name.clone(), Value::String(range));
        }
        let manifest = serde_json::json!({
            "name": env_package_name(&self.manifest.library, version),
            "version": "0.0.0",
            "private": true,
            "description": format!("fencepost adapter env for {pkg}@{version}: {}", why.join(", ")),
            "dependencies": deps,
        });
        let text = serde_json::to_string_pretty(&manifest).expect("a JSON value") + "\n";
        write_file(&dir.join("package.json"), text.as_bytes())?;
        append_log(
            log,
            &format!("fencepost: {pkg}@{version} with {}\n", why.join(", ")),
        );
        let mut npm = npm(dir);
        npm.args(["install", "--omit=dev"]);
        self.step(
            npm,
            "npm install",
            log,
            &format!(
                "{pkg}@{version} and the ranges it states itself ({}) did not install together; the lines above name the conflict: pick another version (npm view {pkg} versions)",
                why.join(", ")
            ),
        )
    }

    /// The adapter's own `dependencies` (name → pinned version), from its `package.json`.
    fn pinned_dependencies(&self, package: &[u8]) -> Result<Vec<(String, String)>, AdapterError> {
        let file = self.dir.join("package.json");
        let bad = |message: String| AdapterError::Manifest {
            file: file.clone(),
            line: None,
            message,
        };
        let v: Value = serde_json::from_slice(package)
            .map_err(|e| bad(format!("not JSON ({e}): fix the file")))?;
        let deps = v["dependencies"].as_object().ok_or_else(|| {
            bad("no \"dependencies\" object: list the library and its Redis client, pinned".into())
        })?;
        Ok(deps
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect())
    }

    /// `npm view PACKAGE@VERSION` of the fields that decide its dependencies; an error when that
    /// exact version is not published.
    fn npm_view_version(
        &self,
        dir: &Path,
        log: &Path,
        version: &str,
    ) -> Result<Value, AdapterError> {
        let pkg = &self.manifest.package;
        let spec = format!("{pkg}@{version}");
        let mut args = vec!["view", spec.as_str(), "name", "version"];
        args.extend(RANGE_SOURCES);
        args.push("--json");
        let step = format!("npm view {spec}");
        let failed = |fix: String| AdapterError::Install {
            library: self.label(),
            step: step.clone(),
            log: log.to_path_buf(),
            tail: crate::nodes::node::tail(log, 15),
            fix,
        };
        let out = run_npm(dir, &args).map_err(|e| failed(format!("npm did not run: {e}")))?;
        append_log(
            log,
            &format!("$ npm {}\n{}{}", args.join(" "), out.stdout, out.stderr),
        );
        let value: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        if !out.ok {
            let (code, _) = npm_error(&value, &out.stderr);
            return Err(failed(if code == "E404" {
                self.not_published_fix(version)
            } else {
                registry_fix(&code)
            }));
        }
        match &value {
            Value::Object(o) if o.get("version").and_then(Value::as_str) == Some(version) => {
                Ok(value)
            }
            Value::Object(o) => Err(failed(format!(
                "`{version}` is not an exact version: npm reads it as {pkg}@{}; name that version (a tag or range would change under a cached install)",
                o.get("version").and_then(Value::as_str).unwrap_or("?")
            ))),
            Value::Array(a) => Err(failed(format!(
                "`{version}` is a range matching {} versions of {pkg}, not one: name an exact version (npm view {pkg} versions)",
                a.len()
            ))),
            _ => Err(failed(self.not_published_fix(version))),
        }
    }

    /// The fix for a version npm does not know: the newest published ones, when npm can say.
    fn not_published_fix(&self, version: &str) -> String {
        let pkg = &self.manifest.package;
        let newest = match self.published_node() {
            Ok(v) => {
                let tail: Vec<&str> = v.iter().rev().take(5).map(String::as_str).collect();
                format!(": the newest are {}", tail.join(", "))
            }
            Err(_) => String::new(),
        };
        format!(
            "{pkg} has no published version {version}; pick one of `npm view {pkg} versions`{newest}"
        )
    }
}

impl Adapter {
    /// The package's published versions, oldest first (`npm view` sorts them by semver).
    pub(super) fn published_node(&self) -> Result<Vec<String>, AdapterError> {
        self.need_node()?;
        let pkg = &self.manifest.package;
        let args = ["view", pkg.as_str(), "versions", "--json"];
        let command = format!("npm {}", args.join(" "));
        let failed = |why: String, fix: String| AdapterError::Published {
            package: pkg.clone(),
            registry: format!("npm (`{command}`)"),
            why,
            fix,
        };
        let out = run_npm(&std::env::temp_dir(), &args).map_err(|e| {
            failed(
                format!("did not run ({e})"),
                "check that npm works: npm --version".into(),
            )
        })?;
        let value: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        if !out.ok {
            let (code, summary) = npm_error(&value, &out.stderr);
            let fix = if code == "E404" {
                format!(
                    "npm's registry has no package {pkg}: correct `package` in {}",
                    self.dir.join("adapter.toml").display()
                )
            } else {
                registry_fix(&code)
            };
            return Err(failed(format!("failed with {code}: {summary}"), fix));
        }
        versions_list(value).map_err(|other| {
            failed(
                format!(
                    "answered something else than a list of versions: {}",
                    other.chars().take(200).collect::<String>()
                ),
                "check npm's registry setting: npm config get registry".into(),
            )
        })
    }
}

/// The versions in `npm view PKG versions --json`'s answer (a list, or one string for a package
/// with a single version), in its order; the answer itself when it is neither.
fn versions_list(value: Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(v) => Ok(vec![v]),
        Value::Array(a) if a.iter().all(Value::is_string) && !a.is_empty() => Ok(a
            .into_iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()),
        other => Err(other.to_string()),
    }
}

/// The environment's own package name: npm takes lowercase URL-safe names only (a build tag's
/// `+` is not).
fn env_package_name(library: &str, version: &str) -> String {
    format!("fencepost-adapter-{library}-{version}")
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect()
}

/// The version's own range for `name`, and which of its fields gave it.
fn own_range(meta: &Value, name: &str) -> Option<(String, &'static str)> {
    RANGE_SOURCES.iter().find_map(|field| {
        meta.get(*field)
            .and_then(|deps| deps.get(name))
            .and_then(Value::as_str)
            .map(|range| (range.to_string(), *field))
    })
}

/// npm with the flags every step uses, run in `dir`.
fn npm(dir: &Path) -> Command {
    let mut npm = Command::new("npm");
    npm.current_dir(dir)
        .args(["--no-audit", "--no-fund", "--loglevel=error"]);
    npm
}

struct NpmOutput {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs npm with its output captured (for the commands whose answer fencepost reads).
fn run_npm(dir: &Path, args: &[&str]) -> std::io::Result<NpmOutput> {
    let out = npm(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()?;
    Ok(NpmOutput {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The error code and summary of a failed `npm … --json` (its JSON on stdout, else its stderr).
fn npm_error(json: &Value, stderr: &str) -> (String, String) {
    let field = |k: &str| json["error"][k].as_str().map(String::from);
    let code = field("code").or_else(|| {
        stderr.lines().find_map(|l| {
            l.strip_prefix("npm error code ")
                .map(|c| c.trim().to_string())
        })
    });
    let summary = field("summary").unwrap_or_else(|| {
        stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect::<Vec<_>>()
            .join(" / ")
    });
    (code.unwrap_or_else(|| "an error".into()), summary)
}

/// The fix for npm failing to reach or read its registry.
fn registry_fix(code: &str) -> String {
    format!(
        "npm could not use its registry ({code}): check that this machine reaches it (`npm ping`; the registry is `npm config get registry`, a proxy goes in npm's `proxy`/`https-proxy` settings)"
    )
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AdapterError> {
    std::fs::write(path, bytes).map_err(|source| AdapterError::Cache {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends to an install log; a log that cannot be written loses a line, not the install.
fn append_log(log: &Path, text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_own_range_wins_in_order_peer_then_dependency_then_dev() {
        let meta = serde_json::json!({
            "peerDependencies": {"ioredis": "^4.1.0 || ^5"},
            "devDependencies": {"ioredis": "5.6.0", "debug": "^4"},
        });
        assert_eq!(
            own_range(&meta, "ioredis"),
            Some(("^4.1.0 || ^5".into(), "peerDependencies"))
        );
        assert_eq!(
            own_range(&meta, "debug"),
            Some(("^4".into(), "devDependencies"))
        );
        assert_eq!(own_range(&meta, "redis"), None);
    }

    #[test]
    fn published_versions_are_a_list_or_a_single_string() {
        let list = serde_json::json!(["4.2.0", "5.0.0-beta.1", "5.0.0-beta2"]);
        assert_eq!(
            versions_list(list).unwrap(),
            ["4.2.0", "5.0.0-beta.1", "5.0.0-beta2"]
        );
        assert_eq!(
            versions_list(serde_json::json!("1.0.0")).unwrap(),
            ["1.0.0"]
        );
        assert!(versions_list(serde_json::json!({"error": {}})).is_err());
        assert!(versions_list(serde_json::json!([])).is_err());
    }

    #[test]
    fn environment_names_are_ones_npm_accepts() {
        assert_eq!(
            env_package_name("redlock", "5.0.0-beta.2"),
            "fencepost-adapter-redlock-5.0.0-beta.2"
        );
        assert_eq!(
            env_package_name("x", "1.0.0+Build.7"),
            "fencepost-adapter-x-1.0.0-build.7"
        );
    }

    #[test]
    fn npm_errors_are_read_from_its_json_or_its_stderr() {
        let json = serde_json::json!({"error": {"code": "E404", "summary": "No match found for version 9.9.9"}});
        assert_eq!(npm_error(&json, "").0, "E404");
        let (code, summary) = npm_error(
            &Value::Null,
            "npm error code ECONNREFUSED\nnpm error syscall connect\n",
        );
        assert_eq!(code, "ECONNREFUSED");
        assert!(summary.contains("syscall connect"), "{summary}");
    }
}
