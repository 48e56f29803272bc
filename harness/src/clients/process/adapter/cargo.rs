//! Rust adapters: built with cargo, a target folder of their own, crates from crates.io.

use super::{on_path, Adapter, AdapterError, Installed};
use std::path::Path;
use std::process::Command;

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
        let (dir, lock) = self.env_dir(cache, &[&cargo_toml, &cargo_lock, &main])?;
        let bin = &self.manifest.command[0];
        let program = dir.join("target/release").join(bin);
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            // A copy of the adapter, so a version override never touches the repository.
            let src = dir.join("src");
            let copy = |name: &str, bytes: &[u8]| {
                let p = src.join(name);
                std::fs::create_dir_all(p.parent().expect("has a parent"))
                    .and_then(|()| std::fs::write(&p, bytes))
                    .map_err(|source| AdapterError::Cache { path: p, source })
            };
            copy("src/main.rs", &main)?;
            let mut toml_text = String::from_utf8_lossy(&cargo_toml).into_owned();
            match &self.version {
                None => copy("Cargo.lock", &cargo_lock)?,
                Some(v) => {
                    let pkg = &self.manifest.package;
                    toml_text = toml_text
                        .lines()
                        .map(|l| {
                            if l.trim_start().starts_with(&format!("{pkg} =")) {
                                format!("{pkg} = \"={v}\"")
                            } else {
                                l.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                        + "\n";
                }
            }
            copy("Cargo.toml", toml_text.as_bytes())?;
            let mut cargo = Command::new("cargo");
            cargo
                .args(["build", "--release", "--quiet", "--manifest-path"])
                .arg(src.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(dir.join("target"));
            if self.version.is_none() {
                cargo.arg("--locked");
            }
            self.step(
                cargo,
                "cargo build",
                &log,
                "check that crates.io is reachable (cargo needs it on first use)",
            )?;
            Self::done(&dir)?;
        }
        Ok(self.command(program, Vec::new()))
    }
}

impl Adapter {
    /// The package's published versions, oldest first.
    pub(super) fn published_cargo(&self) -> Result<Vec<String>, AdapterError> {
        Err(AdapterError::BadSpec(format!(
            "listing {}'s published versions is not built yet for cargo adapters",
            self.manifest.package
        )))
    }
}
