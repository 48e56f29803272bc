//! Python adapters: a venv of their own per set of install inputs, pip from PyPI.
//!
//! Pinned, `requirements.txt` is a complete `pip freeze` and is installed exactly (`--no-deps`).
//! With `@VERSION` the version's own requirements decide: pip resolves `PACKAGE==VERSION` from
//! its metadata, with the adapter's other pins offered as constraints — kept where the version
//! leaves that dependency open (a library that never bounded its client gets the one it was
//! written against, not a later rewrite), and dropped as a whole when the version's own
//! requirements exclude one of them (then pip resolves the version's requirements alone). An
//! older version of a library never fails to install because the adapter pins a newer client.
//!
//! Either way, `pip freeze` of the finished venv is the install's lockfile
//! (`<folder>/pip-freeze.txt`, [`Installed::lockfile`]): what the run really imported, recorded
//! with it.

use super::{on_path, Adapter, AdapterError, Installed};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The lockfile each Python install writes: `pip freeze` of its venv.
const FREEZE: &str = "pip-freeze.txt";

/// What pip says when a set of requirements has no solution (as opposed to a network error or a
/// version that is not published).
const CONFLICT: &str = "ResolutionImpossible";

/// A requirement line's project name, normalised (PEP 503): `Typing_Extensions==4` → `typing-extensions`.
fn project(line: &str) -> String {
    let name: String = line
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    name.to_lowercase().replace(['_', '.'], "-")
}

fn write(path: &Path, text: &str) -> Result<(), AdapterError> {
    std::fs::write(path, text).map_err(|source| AdapterError::Cache {
        path: path.to_path_buf(),
        source,
    })
}

impl Adapter {
    pub(super) fn install_python(&self, cache: &Path) -> Result<Installed, AdapterError> {
        if !on_path("python3") {
            return Err(AdapterError::MissingRuntime {
                library: self.label(),
                what: "python3 with venv".into(),
                fix: "install it: sudo apt-get install -y python3-venv".into(),
            });
        }
        let pins = String::from_utf8_lossy(&self.read("requirements.txt")?).into_owned();
        // Pinned: the freeze. A version: the package alone, the other pins as constraints.
        let (requirements, constraints) = match &self.version {
            None => (pins, None),
            Some(v) => {
                let pkg = project(&self.manifest.package);
                let others: String = pins
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .filter(|l| project(l) != pkg)
                    .map(|l| format!("{}\n", l.trim()))
                    .collect();
                (format!("{}=={v}\n", self.manifest.package), Some(others))
            }
        };
        let inputs = format!(
            "{requirements}\0{}",
            constraints.as_deref().unwrap_or_default()
        );
        let (dir, lock) = self.env_dir(cache, &[inputs.as_bytes()])?;
        let python = dir.join("venv/bin/python");
        let freeze = dir.join(FREEZE);
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            let req = dir.join("requirements.txt");
            write(&req, &requirements)?;
            let mut venv = Command::new("python3");
            venv.arg("-m").arg("venv").arg(dir.join("venv"));
            self.step(
                venv,
                "python3 -m venv",
                &log,
                "install python3-venv (sudo apt-get install -y python3-venv)",
            )?;
            let how = match &constraints {
                None => {
                    let mut pip = self.pip(&python, &req);
                    pip.arg("--no-deps"); // the pinned freeze is complete: install exactly it
                    self.step(
                        pip,
                        "pip install",
                        &log,
                        "check that PyPI is reachable (pip needs it on first use)",
                    )?;
                    format!(
                        "# the adapter's pins ({}/requirements.txt), installed exactly\n",
                        self.dir.display()
                    )
                }
                Some(others) => self.pip_version(&dir, &python, &req, others, &log)?,
            };
            self.freeze(&python, &freeze, &how, &log)?;
            Self::done(&dir)?;
        } else if !freeze.exists() {
            // A folder installed before installs wrote their lockfile.
            let log = dir.join("install.log");
            self.freeze(&python, &freeze, "", &log)?;
        }
        let mut installed = self.command(python, Vec::new());
        installed.lockfile = Some(freeze);
        Ok(installed)
    }

    /// `pip install -r <req>`, quietly, from the venv's own pip.
    fn pip(&self, python: &Path, req: &Path) -> Command {
        let mut pip = Command::new(python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ])
        .arg(req);
        pip
    }

    /// Installs `PACKAGE==VERSION` with the adapter's other pins as constraints; when the
    /// version's own requirements exclude them, again without. Says which, for the lockfile.
    fn pip_version(
        &self,
        dir: &Path,
        python: &Path,
        req: &Path,
        others: &str,
        log: &Path,
    ) -> Result<String, AdapterError> {
        let v = self.version.as_deref().unwrap_or_default();
        let pkg = &self.manifest.package;
        let fix = format!(
            "check that {pkg} {v} is published on PyPI and installs on this Python (the lines above say why not)"
        );
        let own = format!("# {pkg}=={v} resolved by pip from its own requirements");
        if others.is_empty() {
            self.step(self.pip(python, req), "pip install", log, &fix)?;
            return Ok(format!("{own}\n"));
        }
        let constraints = dir.join("constraints.txt");
        write(&constraints, others)?;
        let before = std::fs::metadata(log).map_or(0, |m| m.len());
        let mut pip = self.pip(python, req);
        pip.arg("-c").arg(&constraints);
        match self.step(pip, "pip install -c constraints.txt", log, &fix) {
            Ok(()) => Ok(format!(
                "{own}, preferring the adapter's pins where it leaves a dependency open (constraints.txt)\n"
            )),
            Err(e) => {
                let text = std::fs::read(log).unwrap_or_default();
                let added = String::from_utf8_lossy(&text[(before as usize).min(text.len())..]);
                if !added.contains(CONFLICT) {
                    return Err(e);
                }
                let note = format!(
                    "\nfencepost: {pkg} {v} excludes the adapter's pins (above); resolving its own requirements alone\n"
                );
                let _ = std::fs::OpenOptions::new()
                    .append(true)
                    .open(log)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, note.as_bytes()));
                self.step(self.pip(python, req), "pip install", log, &fix)?;
                Ok(format!(
                    "{own} alone: they exclude the adapter's pins ({})\n",
                    others.lines().collect::<Vec<_>>().join(", ")
                ))
            }
        }
    }

    /// Writes `pip freeze` of the venv to `out` (atomically: a parallel run may read it), after
    /// a comment saying how it was resolved.
    fn freeze(&self, python: &Path, out: &Path, how: &str, log: &Path) -> Result<(), AdapterError> {
        let tmp: PathBuf = out.with_extension(format!("tmp{}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|source| AdapterError::Cache {
            path: tmp.clone(),
            source,
        })?;
        {
            use std::io::Write;
            let mut f = &file;
            let _ = f.write_all(how.as_bytes());
        }
        let mut pip = Command::new(python);
        pip.args(["-m", "pip", "freeze", "--disable-pip-version-check"]);
        let status = pip
            .stdin(std::process::Stdio::null())
            .stdout(file)
            .stderr(std::process::Stdio::null())
            .status();
        let ok = status.as_ref().is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_file(&tmp);
            return Err(AdapterError::Install {
                library: self.label(),
                step: "pip freeze".into(),
                log: log.to_path_buf(),
                tail: format!("{} -m pip freeze: {status:?}", python.display()),
                fix: format!(
                    "the venv is broken: remove {} and run again",
                    python
                        .parent()
                        .and_then(Path::parent)
                        .unwrap_or(python)
                        .display()
                ),
            });
        }
        std::fs::rename(&tmp, out).map_err(|source| AdapterError::Cache {
            path: out.to_path_buf(),
            source,
        })
    }
}

impl Adapter {
    /// The package's published versions, oldest first: pip's own answer (`pip index versions`,
    /// which leaves out yanked releases and pre-releases), from the same index installs use.
    pub(super) fn published_python(&self) -> Result<Vec<String>, AdapterError> {
        let pkg = &self.manifest.package;
        let failed = |why: String, fix: &str| AdapterError::Published {
            package: pkg.clone(),
            registry: "PyPI".into(),
            why,
            fix: fix.into(),
        };
        if !on_path("python3") {
            return Err(failed(
                "python3 is not on PATH".into(),
                "install it: sudo apt-get install -y python3-venv",
            ));
        }
        let out = Command::new("python3")
            .args([
                "-m",
                "pip",
                "index",
                "versions",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .arg(pkg)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                failed(
                    format!("cannot start python3 -m pip: {e}"),
                    "install pip for python3 (sudo apt-get install -y python3-pip)",
                )
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let listed = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("Available versions:"));
        match listed {
            Some(list) if out.status.success() => {
                let mut versions: Vec<String> = list
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                versions.reverse(); // pip lists the newest first
                Ok(versions)
            }
            _ => {
                let said = stderr
                    .lines()
                    .chain(stdout.lines())
                    .filter(|l| !l.contains("experimental command"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let said = if said.trim().is_empty() {
                    format!("pip index versions {pkg} exited with {}", out.status)
                } else {
                    said
                };
                Err(failed(
                    said,
                    &format!("check the package name ({pkg}, `package` in {}/adapter.toml) and that PyPI is reachable; pip 21.2 or newer has `pip index`", self.dir.display()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::project;

    #[test]
    fn requirement_lines_name_their_project_normalised() {
        assert_eq!(project("redis==8.1.0"), "redis");
        assert_eq!(project("Typing_Extensions==4.16.0"), "typing-extensions");
        assert_eq!(project("python-redis-lock>=3"), "python-redis-lock");
        assert_eq!(
            project("  zope.interface==7 ; python_version>'3'"),
            "zope-interface"
        );
    }
}
