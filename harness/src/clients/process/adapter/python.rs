//! Python adapters: a venv of their own per set of install inputs, pip from PyPI.

use super::{on_path, Adapter, AdapterError, Installed};
use std::path::Path;
use std::process::Command;

impl Adapter {
    pub(super) fn install_python(&self, cache: &Path) -> Result<Installed, AdapterError> {
        if !on_path("python3") {
            return Err(AdapterError::MissingRuntime {
                library: self.label(),
                what: "python3 with venv".into(),
                fix: "install it: sudo apt-get install -y python3-venv".into(),
            });
        }
        let mut requirements =
            String::from_utf8_lossy(&self.read("requirements.txt")?).into_owned();
        if let Some(v) = &self.version {
            // The asked-for version replaces the pinned one; its own dependencies resolve.
            let pkg = self.manifest.package.to_lowercase().replace('_', "-");
            requirements = requirements
                .lines()
                .filter(|l| {
                    let name = l
                        .split("==")
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_lowercase()
                        .replace('_', "-");
                    name != pkg
                })
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                + &format!("{}=={v}\n", self.manifest.package);
        }
        let (dir, lock) = self.env_dir(cache, &[requirements.as_bytes()])?;
        let python = dir.join("venv/bin/python");
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            let req = dir.join("requirements.txt");
            std::fs::write(&req, &requirements).map_err(|source| AdapterError::Cache {
                path: req.clone(),
                source,
            })?;
            let mut venv = Command::new("python3");
            venv.arg("-m").arg("venv").arg(dir.join("venv"));
            self.step(
                venv,
                "python3 -m venv",
                &log,
                "install python3-venv (sudo apt-get install -y python3-venv)",
            )?;
            let mut pip = Command::new(&python);
            pip.args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&req);
            if self.version.is_none() {
                // The pinned freeze is complete: install exactly it.
                pip.arg("--no-deps");
            }
            let fix = match &self.version {
                Some(v) => format!(
                    "check that {} {v} is published on PyPI, installs on this Python and accepts the other versions {}/requirements.txt pins (the lines above name any conflict)",
                    self.manifest.package, self.dir.display()
                ),
                None => "check that PyPI is reachable (pip needs it on first use)".into(),
            };
            self.step(pip, "pip install", &log, &fix)?;
            Self::done(&dir)?;
        }
        Ok(self.command(python, Vec::new()))
    }
}

impl Adapter {
    /// The package's published versions, oldest first.
    pub(super) fn published_python(&self) -> Result<Vec<String>, AdapterError> {
        Err(AdapterError::BadSpec(format!(
            "listing {}'s published versions is not built yet for python adapters",
            self.manifest.package
        )))
    }
}
