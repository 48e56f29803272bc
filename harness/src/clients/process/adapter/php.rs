//! PHP adapters: the library is what Debian ships (Packagist is not reachable from these
//! machines), so nothing is downloaded. `debian` in `adapter.toml` lists the packages the adapter
//! loads; the install checks each is installed (else the fix is the `apt-get install` line that
//! adds the missing ones) and writes their exact versions, from dpkg, as the install's lockfile
//! (`<folder>/dpkg-versions.txt`): what the run really loaded, recorded with it. A folder per set
//! of versions, so an upgraded package gets a fresh record.
//!
//! `@VERSION` can only name the version Debian installed (its upstream part, `5.4.53`, or the
//! whole Debian version, `5.4.53+dfsg-0+deb12u1`); any other is refused with that reason.

use super::{on_path, Adapter, AdapterError, Installed};
use std::path::Path;
use std::process::Command;

/// The lockfile each PHP install writes: the Debian packages' versions.
const VERSIONS: &str = "dpkg-versions.txt";

/// `5.4.53+dfsg-0+deb12u1` → `5.4.53`; `8.83.26+dfsg-2` → `8.83.26`; `2:1.2-3` → `1.2`.
pub fn upstream(debian: &str) -> &str {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    let end = v.find(['+', '~']).unwrap_or(v.len());
    let v = &v[..end];
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

/// Each package's installed version, or None when it is not installed.
fn dpkg_versions(packages: &[String]) -> Vec<(String, Option<String>)> {
    packages
        .iter()
        .map(|p| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}\t${Version}", p])
                .stderr(std::process::Stdio::null())
                .output();
            let v = out.ok().and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                let (status, version) = text.split_once('\t')?;
                (o.status.success() && status.ends_with(" installed") && !version.is_empty())
                    .then(|| version.to_string())
            });
            (p.clone(), v)
        })
        .collect()
}

impl Adapter {
    fn apt_fix(packages: &[&str]) -> String {
        format!(
            "install them from Debian: sudo apt-get install -y {} (scripts/install-deps.sh does)",
            packages.join(" ")
        )
    }

    pub(super) fn install_php(&self, cache: &Path) -> Result<Installed, AdapterError> {
        let packages = &self.manifest.debian;
        if packages.is_empty() {
            return Err(AdapterError::Manifest {
                file: self.dir.join("adapter.toml"),
                line: None,
                message: "a php adapter lists the Debian packages it loads: debian = [\"php-cli\", \"php-redis\", …]".into(),
            });
        }
        let found = dpkg_versions(packages);
        let missing: Vec<&str> = found
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(p, _)| p.as_str())
            .collect();
        if !on_path("php") || !missing.is_empty() {
            let what = if missing.is_empty() {
                "php".to_string()
            } else {
                format!("the Debian package(s) {}", missing.join(", "))
            };
            let all: Vec<&str> = packages.iter().map(String::as_str).collect();
            return Err(AdapterError::MissingRuntime {
                library: self.label(),
                what,
                fix: Self::apt_fix(if missing.is_empty() { &all } else { &missing }),
            });
        }
        let shipped = found
            .iter()
            .find(|(p, _)| *p == self.manifest.package)
            .and_then(|(_, v)| v.clone());
        if let Some(asked) = &self.version {
            let shipped = shipped.as_deref().unwrap_or("none");
            if asked != shipped && asked != upstream(shipped) {
                return Err(AdapterError::NotShipped {
                    spec: self.label(),
                    package: self.manifest.package.clone(),
                    shipped: shipped.to_string(),
                    fix: format!(
                        "use --client {} (Debian's {}); other versions come from Packagist, which this machine cannot reach",
                        self.manifest.library,
                        upstream(shipped)
                    ),
                });
            }
        }
        let record: String = found
            .iter()
            .map(|(p, v)| format!("{p}\t{}\n", v.as_deref().unwrap_or_default()))
            .collect();
        let (dir, lock) = self.env_dir(cache, &[record.as_bytes()])?;
        let versions = dir.join(VERSIONS);
        if lock.is_some() || !versions.exists() {
            std::fs::write(
                &versions,
                format!("# the Debian packages the {} adapter loads, as installed (dpkg-query)\n{record}", self.manifest.library),
            )
            .map_err(|source| AdapterError::Cache {
                path: versions.clone(),
                source,
            })?;
            Self::done(&dir)?;
        }
        let mut installed = self.command("php".into(), Vec::new());
        installed.lockfile = Some(versions);
        Ok(installed)
    }

    /// The only version there is: Debian's, installed or the candidate apt would install.
    pub(super) fn published_php(&self) -> Result<Vec<String>, AdapterError> {
        if let Some((_, Some(v))) = dpkg_versions(std::slice::from_ref(&self.manifest.package))
            .into_iter()
            .next()
        {
            return Ok(vec![upstream(&v).to_string()]);
        }
        let out = Command::new("apt-cache")
            .args(["policy", &self.manifest.package])
            .output()
            .map_err(|e| AdapterError::Published {
                package: self.manifest.package.clone(),
                registry: "Debian (apt-cache)".into(),
                why: e.to_string(),
                fix: "run on a Debian machine with apt".into(),
            })?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let candidate = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(str::trim)
            .filter(|v| *v != "(none)");
        candidate
            .map(|v| vec![upstream(v).to_string()])
            .ok_or_else(|| AdapterError::Published {
                package: self.manifest.package.clone(),
                registry: "Debian (apt-cache)".into(),
                why: "apt knows no such package".into(),
                fix: "sudo apt-get update, on Debian 12 (bookworm) or later".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::upstream;

    #[test]
    fn the_upstream_part_of_a_debian_version() {
        assert_eq!(upstream("5.4.53+dfsg-0+deb12u1"), "5.4.53");
        assert_eq!(upstream("8.83.26+dfsg-2"), "8.83.26");
        assert_eq!(upstream("5.3.7+4.3.0-3"), "5.3.7");
        assert_eq!(upstream("2:1.1.10-1"), "1.1.10");
        assert_eq!(upstream("8.2.36-1~deb12u1"), "8.2.36");
    }
}
