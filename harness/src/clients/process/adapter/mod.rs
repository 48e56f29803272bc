//! Adapters: the small programs around real lock libraries, and installing each into an
//! environment of its own.
//!
//! An adapter is a folder `adapters/<library>/` with an `adapter.toml` (which library, its
//! registry package, its runtime, the command, how many lock nodes it takes, what the workload
//! may exercise) and a manifest pinning its dependencies: `requirements.txt` (Python), `package.json`
//! and `package-lock.json` (Node), `Cargo.toml` and `Cargo.lock` (Rust), the Debian packages it
//! loads (PHP: `debian`, checked, not installed). On first use fencepost
//! installs it into a cache folder (`$FENCEPOST_CACHE`, else `$XDG_CACHE_HOME/fencepost`, else
//! `~/.cache/fencepost`) — a venv, a local `node_modules`, a cargo target folder — never
//! globally, one install at a time (a lock file), with a progress line. `--client
//! NAME@VERSION` installs that exact published version beside the pinned one.
//!
//! Every failure (unknown library, a runtime that is not installed, an install that fails)
//! names the adapter, the file and the fix.

pub use crate::scenario::client::NodesKind;
mod cargo;
mod node;
mod php;
mod python;

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a runtime needs, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Python,
    Node,
    Cargo,
    /// PHP with libraries from Debian's packages (`debian` in the manifest).
    Php,
    /// This fencepost binary (the reference adapter around fencepost's own locks).
    Fencepost,
}

/// `adapters/<library>/adapter.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub library: String,
    pub package: String,
    pub runtime: Runtime,
    pub command: Vec<String>,
    pub nodes: NodesKind,
    #[serde(default)]
    pub extend: bool,
    #[serde(default)]
    pub auto_renewal: bool,
    #[serde(default)]
    pub description: String,
    /// A row of `fencepost matrix` (default); fencepost's own locks and the example are not.
    #[serde(default = "yes")]
    pub matrix: bool,
    /// The published version lines this adapter can drive, as version prefixes (`"4."`,
    /// `"0.7."`); `fencepost versions` marks the others. Empty: only the pinned version. The
    /// adapter itself still refuses, in its hello, a loaded package whose API it cannot drive.
    #[serde(default)]
    pub drives: Vec<String>,
    /// PHP: the Debian packages the adapter loads (checked at install, versions recorded).
    #[serde(default)]
    pub debian: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Why an adapter cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("unknown client library `{name}`{suggestion}: there is no {dir}/adapter.toml; the adapters are: {known}{hint}")]
    Unknown {
        name: String,
        suggestion: String,
        dir: String,
        known: String,
        hint: String,
    },
    #[error("{file}{line}: {message}", line = line.map(|l| format!(":{l}")).unwrap_or_default())]
    Manifest {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("the {library} adapter needs {what}, which is not on this machine; {fix}")]
    MissingRuntime {
        library: String,
        what: String,
        fix: String,
    },
    #[error("installing the {library} adapter failed ({step}); its output is in {log}:\n{tail}\nfix: {fix}")]
    Install {
        library: String,
        step: String,
        log: PathBuf,
        tail: String,
        fix: String,
    },
    #[error("{spec} is not a version the {library} adapter drives: it drives {lines} (`drives` in {manifest}); fix: {fix}")]
    NotDriven {
        spec: String,
        library: String,
        lines: String,
        manifest: PathBuf,
        fix: String,
    },
    #[error("{spec}: this machine has {package} {shipped} from Debian and no other version can be installed; fix: {fix}")]
    NotShipped {
        spec: String,
        package: String,
        shipped: String,
        fix: String,
    },
    #[error("{0}")]
    BadSpec(String),
    #[error("cannot list the published versions of {package} on {registry}: {why}\nfix: {fix}")]
    Published {
        package: String,
        registry: String,
        why: String,
        fix: String,
    },
    #[error("cannot prepare the adapter cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An adapter found on disk.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// A published version asked for instead of the pinned one.
    pub version: Option<String>,
}

/// What to run: the program, its arguments, its folder and environment.
#[derive(Debug, Clone)]
pub struct Installed {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// The library and version, for messages before the adapter itself says.
    pub label: String,
    /// The environment's lockfile (every package and its exact version, as installed), which
    /// the run copies into its folder.
    pub lockfile: Option<PathBuf>,
}

/// `NAME` or `NAME@VERSION` ([`crate::scenario::client::parse_spec`]).
pub fn parse_spec(spec: &str) -> Result<(String, Option<String>), AdapterError> {
    crate::scenario::client::parse_spec(spec).map_err(AdapterError::BadSpec)
}

/// Finds `adapters/<name>/adapter.toml` and reads it.
pub fn find(name: &str, version: Option<String>, adapters: &Path) -> Result<Adapter, AdapterError> {
    let dir = adapters.join(name);
    let file = dir.join("adapter.toml");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        let known = known(adapters);
        AdapterError::Unknown {
            name: name.to_string(),
            suggestion: crate::suggest::did_you_mean(name, known.iter().map(String::as_str)),
            dir: dir.display().to_string(),
            hint: if adapters.is_dir() {
                String::new()
            } else {
                format!(
                    " (no folder {} here: it is relative to the current folder; run from the repository's root, or pass --adapters DIR)",
                    adapters.display()
                )
            },
            known: if known.is_empty() { "none".into() } else { known.join(", ") },
        }
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| AdapterError::Manifest {
        file: file.clone(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().lines().next().unwrap_or_default().to_string(),
    })?;
    if manifest.command.is_empty() {
        return Err(AdapterError::Manifest {
            file,
            line: None,
            message: "command is empty: give the program and its arguments, e.g. [\"python\", \"adapter.py\"]".into(),
        });
    }
    if manifest.library != name {
        return Err(AdapterError::Manifest {
            file,
            line: None,
            message: format!(
                "library = \"{}\" but the folder is {name}: name the folder after the library",
                manifest.library
            ),
        });
    }
    Ok(Adapter {
        dir,
        manifest,
        version,
    })
}

/// The adapters shipped in `adapters/`.
pub fn known(adapters: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(adapters)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("adapter.toml").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The cache folder adapters are installed into.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FENCEPOST_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("fencepost");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("fencepost")
}

/// A short, stable digest of the files that decide an install (so a changed lockfile or
/// version gets a fresh environment).
fn digest(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
    }
    format!("{h:016x}")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Holds an exclusive lock on `path` (created) while alive: one install per environment at once
/// (a suite or matrix runs cases in parallel).
struct InstallLock(#[allow(dead_code)] std::fs::File);

impl InstallLock {
    fn take(path: &Path) -> std::io::Result<InstallLock> {
        let f = std::fs::File::create(path)?;
        // SAFETY: flock on a descriptor we own; released when the file is closed.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(InstallLock(f))
    }
}

impl Adapter {
    fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.manifest.library),
            None => self.manifest.library.clone(),
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, AdapterError> {
        let path = self.dir.join(name);
        std::fs::read(&path).map_err(|e| AdapterError::Manifest {
            file: path,
            line: None,
            message: format!(
                "cannot read it ({e}): a {:?} adapter needs it",
                self.manifest.runtime
            ),
        })
    }

    /// Installs the adapter's environment (once) and says how to run it.
    pub fn install(&self, cache: &Path) -> Result<Installed, AdapterError> {
        self.check_drives()?;
        match self.manifest.runtime {
            Runtime::Python => self.install_python(cache),
            Runtime::Node => self.install_node(cache),
            Runtime::Cargo => self.install_cargo(cache),
            Runtime::Php => self.install_php(cache),
            Runtime::Fencepost => self.reference(),
        }
    }

    /// A fresh environment folder for these install inputs, locked; `None` when it is ready.
    fn env_dir(
        &self,
        cache: &Path,
        inputs: &[&[u8]],
    ) -> Result<(PathBuf, Option<InstallLock>), AdapterError> {
        let version = self.version.clone().unwrap_or_default();
        let id = digest(&[inputs.concat().as_slice(), version.as_bytes()]);
        let dir = cache.join("adapters").join(format!(
            "{}-{}",
            self.label().replace('@', "-"),
            &id[..12]
        ));
        let cache_err = |source| AdapterError::Cache {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(dir.parent().expect("has a parent")).map_err(cache_err)?;
        // `<folder>.lock` beside the folder (not with_extension: a version's dots would cut the
        // name, and redlock-4.0.0-… and redlock-4.0.1-… would share `redlock-4.0.lock`).
        let mut lock_file = dir.clone().into_os_string();
        lock_file.push(".lock");
        let lock = InstallLock::take(Path::new(&lock_file)).map_err(cache_err)?;
        if dir.join(".installed").exists() {
            return Ok((dir, None));
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(cache_err)?;
        eprintln!(
            "fencepost: installing the {} adapter ({} {}) into {} — once; later runs reuse it",
            self.label(),
            self.manifest.package,
            self.version.as_deref().unwrap_or("as pinned"),
            dir.display()
        );
        Ok((dir, Some(lock)))
    }

    /// Runs one install step, its output to `log`; an error names the step and shows the log's
    /// end.
    fn step(
        &self,
        mut cmd: Command,
        step: &str,
        log: &Path,
        fix: &str,
    ) -> Result<(), AdapterError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|f| Ok((f.try_clone()?, f)));
        let failed = |tail: String| AdapterError::Install {
            library: self.label(),
            step: step.to_string(),
            log: log.to_path_buf(),
            tail,
            fix: fix.to_string(),
        };
        let (a, b) = out.map_err(|e| failed(e.to_string()))?;
        let status = cmd
            .stdin(std::process::Stdio::null())
            .stdout(a)
            .stderr(b)
            .status()
            .map_err(|e| failed(format!("cannot start it: {e}")))?;
        if !status.success() {
            return Err(failed(crate::nodes::node::tail(log, 15)));
        }
        Ok(())
    }

    fn done(dir: &Path) -> Result<(), AdapterError> {
        std::fs::File::create(dir.join(".installed"))
            .and_then(|mut f| f.write_all(b"ok\n"))
            .map_err(|source| AdapterError::Cache {
                path: dir.to_path_buf(),
                source,
            })
    }

    fn command(&self, program: PathBuf, env: Vec<(String, String)>) -> Installed {
        Installed {
            program,
            args: self.manifest.command[1..].to_vec(),
            cwd: self.dir.clone(),
            env,
            label: self.label(),
            lockfile: None,
        }
    }

    /// Whether `version` is on a line this adapter drives ([`Manifest::drives`]).
    pub fn drives(&self, version: &str) -> bool {
        self.manifest
            .drives
            .iter()
            .any(|p| version.starts_with(p.as_str()))
    }

    /// A version asked for that is on none of the manifest's `drives` lines is refused before
    /// anything is installed (a manifest without `drives` leaves it to the install and the hello).
    fn check_drives(&self) -> Result<(), AdapterError> {
        let Some(v) = &self.version else {
            return Ok(());
        };
        if self.manifest.drives.is_empty() || self.drives(v) {
            return Ok(());
        }
        let pkg = &self.manifest.package;
        // Lists the versions and marks those driven, whatever the registry.
        let listing = format!("fencepost versions {}", self.manifest.library);
        let lines: Vec<String> = self
            .manifest
            .drives
            .iter()
            .map(|p| format!("{p}x"))
            .collect();
        Err(AdapterError::NotDriven {
            spec: self.label(),
            library: self.manifest.library.clone(),
            lines: format!("{pkg} {}", lines.join(", ")),
            manifest: self.dir.join("adapter.toml"),
            fix: format!(
                "pick a version of those lines (`{listing}`), or teach the adapter the API of {v} and add its line to `drives`"
            ),
        })
    }

    /// Every published version of the library's package, oldest first, from its registry.
    pub fn published(&self) -> Result<Vec<String>, AdapterError> {
        match self.manifest.runtime {
            Runtime::Python => self.published_python(),
            Runtime::Node => self.published_node(),
            Runtime::Cargo => self.published_cargo(),
            Runtime::Php => self.published_php(),
            Runtime::Fencepost => Ok(vec![env!("CARGO_PKG_VERSION").to_string()]),
        }
    }

    /// The reference adapter is this binary: `fencepost adapter …`.
    fn reference(&self) -> Result<Installed, AdapterError> {
        if let Some(v) = &self.version {
            let ours = env!("CARGO_PKG_VERSION");
            if v != ours {
                return Err(AdapterError::Manifest {
                    file: self.dir.join("adapter.toml"),
                    line: None,
                    message: format!(
                        "{} is fencepost's own lock, run by this binary (version {ours}): it has no other version than the binary's; drop @{v}",
                        self.manifest.library
                    ),
                });
            }
        }
        let exe = std::env::current_exe().map_err(|source| AdapterError::Cache {
            path: PathBuf::from("/proc/self/exe"),
            source,
        })?;
        Ok(self.command(exe, Vec::new()))
    }
}

/// A user's own adapter: a command run from `dir` (the scenario file's folder, or the folder
/// fencepost was started in for `--client-command`).
pub fn own_command(command: &[String], scenario_dir: &Path) -> Installed {
    Installed {
        program: PathBuf::from(&command[0]),
        args: command[1..].to_vec(),
        cwd: scenario_dir.to_path_buf(),
        env: Vec::new(),
        label: command.join(" "),
        lockfile: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_or_without_a_version() {
        assert_eq!(parse_spec("redis-py").unwrap(), ("redis-py".into(), None));
        assert_eq!(
            parse_spec("redis-semaphore@5.8.0").unwrap(),
            ("redis-semaphore".into(), Some("5.8.0".into()))
        );
        assert!(parse_spec("redis py").is_err());
        assert!(parse_spec("x@").is_err());
        assert!(parse_spec("x@1;rm").is_err());
    }
}
