//! Node adapters: a node_modules of their own per set of install inputs, npm from its registry.

use super::{on_path, Adapter, AdapterError, Installed};
use std::path::{Path, PathBuf};
use std::process::Command;

impl Adapter {
    pub(super) fn install_node(&self, cache: &Path) -> Result<Installed, AdapterError> {
        for (p, pkg) in [("node", "nodejs"), ("npm", "npm")] {
            if !on_path(p) {
                return Err(AdapterError::MissingRuntime {
                    library: self.label(),
                    what: p.into(),
                    fix: format!("install it: sudo apt-get install -y {pkg}"),
                });
            }
        }
        let package = self.read("package.json")?;
        let lockfile = self.read("package-lock.json")?;
        let (dir, lock) = self.env_dir(cache, &[&package, &lockfile])?;
        if let Some(_lock) = lock {
            let log = dir.join("install.log");
            let write = |name: &str, bytes: &[u8]| {
                std::fs::write(dir.join(name), bytes).map_err(|source| AdapterError::Cache {
                    path: dir.join(name),
                    source,
                })
            };
            write("package.json", &package)?;
            let mut npm = Command::new("npm");
            npm.current_dir(&dir)
                .args(["--no-audit", "--no-fund", "--loglevel=error"]);
            match &self.version {
                None => {
                    write("package-lock.json", &lockfile)?;
                    npm.args(["ci", "--omit=dev"]);
                    self.step(
                        npm,
                        "npm ci",
                        &log,
                        "check that the npm registry is reachable (npm needs it on first use)",
                    )?;
                }
                Some(v) => {
                    npm.args(["install", "--omit=dev", "--save-exact"])
                        .arg(format!("{}@{v}", self.manifest.package));
                    self.step(
                        npm,
                        "npm install",
                        &log,
                        &format!(
                            "check that {}@{v} is published on npm and accepts the other versions {}/package.json pins (the lines above name any conflict: pick a version that accepts them, or change that pin)",
                            self.manifest.package, self.dir.display()
                        ),
                    )?;
                }
            }
            Self::done(&dir)?;
        }
        Ok(self.command(
            PathBuf::from("node"),
            vec![(
                "NODE_PATH".into(),
                dir.join("node_modules").display().to_string(),
            )],
        ))
    }
}

impl Adapter {
    /// The package's published versions, oldest first.
    pub(super) fn published_node(&self) -> Result<Vec<String>, AdapterError> {
        Err(AdapterError::BadSpec(format!(
            "listing {}'s published versions is not built yet for node adapters",
            self.manifest.package
        )))
    }
}
