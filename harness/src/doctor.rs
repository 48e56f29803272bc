//! `fencepost doctor`: is this machine ready to run scenarios, and which of fencepost's features
//! can it run? Each check names the feature it serves, what is missing and the command that
//! fixes it; the verdict says which features are ready.

use crate::clients::process::adapter::{self, Runtime};
use std::path::Path;
use std::process::Command;

/// One check's outcome.
pub struct Check {
    /// The feature it serves (`every run`, `Sentinel scenarios`, …).
    pub feature: String,
    pub what: String,
    pub ok: bool,
    pub detail: String,
    /// How to fix it, when it failed.
    pub fix: Option<String>,
}

/// The feature every run needs: without it nothing runs.
pub const EVERY_RUN: &str = "every run";

/// The first line a program prints for `args` (stdout, else stderr), or why it did not run.
fn probe(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("not found ({e})"))?;
    let text = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            text(&out.stderr)
        ));
    }
    let line = text(&out.stdout);
    Ok(if line.is_empty() {
        text(&out.stderr)
    } else {
        line
    })
}

fn check(feature: &str, what: String, result: Result<String, String>, fix: &str) -> Check {
    Check {
        feature: feature.to_string(),
        what,
        ok: result.is_ok(),
        fix: result.is_err().then(|| fix.to_string()),
        detail: result.unwrap_or_else(|e| e),
    }
}

/// The leading number of a version string (`v20.20.2` → 20, `7.0.15` → 7).
fn major(version: &str) -> u32 {
    version
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn redis_program(feature: &str, program: &str, package: &str) -> Check {
    // "Redis server v=7.0.15 sha=..." → "7.0.15"
    let version = probe(program, &["--version"]).map(|t| {
        t.split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .unwrap_or(&t)
            .to_string()
    });
    let result = match version {
        Ok(v) if major(&v) >= 7 => Ok(format!("version {v}")),
        Ok(v) => Err(format!("version {v}: fencepost needs 7.x or later")),
        Err(e) => Err(e),
    };
    check(
        feature,
        program.into(),
        result,
        &format!("sudo apt-get install -y {package}"),
    )
}

/// The adapters of each runtime, from their manifests: `Python lock-library adapters (…)`.
fn runtimes(adapters: &Path) -> Vec<(Runtime, String)> {
    let mut by: std::collections::BTreeMap<&str, (Runtime, Vec<String>)> = Default::default();
    for name in adapter::known(adapters) {
        let Ok(a) = adapter::find(&name, None, adapters) else {
            continue;
        };
        let label = match a.manifest.runtime {
            Runtime::Python => "Python",
            Runtime::Node => "Node",
            Runtime::Cargo => "Rust",
            Runtime::Php => "PHP",
            Runtime::Fencepost => continue, // this binary: nothing to install
        };
        by.entry(label)
            .or_insert((a.manifest.runtime, Vec::new()))
            .1
            .push(name);
    }
    by.into_iter()
        .map(|(label, (runtime, names))| {
            (
                runtime,
                format!("{label} lock-library adapters ({})", names.join(", ")),
            )
        })
        .collect()
}

/// Runs every check. `toxiproxy` is a configured external Toxiproxy API URL, if any.
pub async fn checks(results: &Path, adapters: &Path, toxiproxy: Option<&str>) -> Vec<Check> {
    let mut out = every_run(results);
    out.push(redis_program(
        "Sentinel scenarios (failover*, streams-failover)",
        "redis-sentinel",
        "redis-sentinel",
    ));
    out.push(cluster_networks());
    for (runtime, feature) in runtimes(adapters) {
        out.extend(runtime_checks(runtime, &feature));
    }
    out.extend(containers());
    out.extend(test_tools());
    if let Some(url) = toxiproxy {
        out.push(toxiproxy_check(
            "runs against an external Toxiproxy (--toxiproxy)",
            url,
            "start it (docker compose -f docker/compose.yml up toxiproxy, or `fencepost proxy --listen 127.0.0.1:8474`) and check the URL",
        )
        .await);
    }
    out
}

/// What every run needs: redis-server, loopback ports, the results folder, private run folders.
fn every_run(results: &Path) -> Vec<Check> {
    let mut out = vec![redis_program(EVERY_RUN, "redis-server", "redis-server")];
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    out.push(check(
        EVERY_RUN,
        "free ports on 127.0.0.1".into(),
        port.map(|a| format!("bound {a}"))
            .map_err(|e| e.to_string()),
        "free some loopback ports, or check that 127.0.0.1 is configured",
    ));
    let probe_file = results.join(format!(".doctor-{}", std::process::id()));
    let writable =
        std::fs::create_dir_all(results).and_then(|_| std::fs::write(&probe_file, b"ok"));
    let _ = std::fs::remove_file(&probe_file);
    out.push(check(
        EVERY_RUN,
        format!("results folder {}", results.display()),
        writable
            .map(|()| "writable".into())
            .map_err(|e| e.to_string()),
        &format!(
            "make it writable: mkdir -p {0} && chmod u+w {0}, or pass --results DIR",
            results.display()
        ),
    ));
    let tmp = std::env::temp_dir();
    out.push(check(
        EVERY_RUN,
        format!("private run folders in {}", tmp.display()),
        crate::private_dir::check_parent(&tmp)
            .map(|()| "nobody else can move them away".into())
            .map_err(|e| e.to_string()),
        "set TMPDIR to a folder only you (or root) can write to, or one with the sticky bit",
    ));
    out
}

/// A private network as `[cluster]` runs build one: a namespace, a bridge, a veth (root, ip).
fn cluster_networks() -> Check {
    let lan = crate::nodes::netns::Lan::create(1).map(drop);
    check(
        "Redis Cluster scenarios (cluster-*)",
        "private networks (network namespaces, ip, nft)".into(),
        lan.map(|()| "a namespace, a bridge and a veth made and removed".into())
            .map_err(|e| e.to_string()),
        "run as root (or with CAP_SYS_ADMIN and CAP_NET_ADMIN), and sudo apt-get install -y iproute2 nftables",
    )
}

/// What the adapters of one runtime need.
fn runtime_checks(runtime: Runtime, feature: &str) -> Vec<Check> {
    match runtime {
        Runtime::Python => vec![
            check(
                feature,
                "python3".into(),
                probe("python3", &["--version"]),
                "sudo apt-get install -y python3",
            ),
            check(
                feature,
                "python3 venv (a private environment per library)".into(),
                probe("python3", &["-c", "import venv, ensurepip; print('importable')"]),
                "sudo apt-get install -y python3-venv",
            ),
        ],
        Runtime::Node => {
            let node = match probe("node", &["--version"]) {
                Ok(v) if major(&v) >= 18 => Ok(format!("version {v}")),
                Ok(v) => Err(format!("version {v}: the adapters need Node 18 or later")),
                Err(e) => Err(e),
            };
            vec![
                check(
                    feature,
                    "node".into(),
                    node,
                    "sudo apt-get install -y nodejs (or keep a Node from elsewhere: 18 or later)",
                ),
                check(
                    feature,
                    "npm".into(),
                    probe("npm", &["--version"]).map(|v| format!("version {v}")),
                    "sudo apt-get install -y npm with Debian's nodejs; a Node from elsewhere brings its own npm",
                ),
            ]
        }
        Runtime::Cargo => vec![check(
            feature,
            "cargo".into(),
            probe("cargo", &["--version"]),
            "install Rust with rustup (https://rustup.rs): the adapter builds with its own target folder",
        )],
        Runtime::Php => vec![
            check(
                feature,
                "php".into(),
                probe("php", &["--version"]),
                "sudo apt-get install -y php-cli php-redis php-symfony-lock php-illuminate-cache php-illuminate-redis",
            ),
            check(
                feature,
                "phpredis (the PHP adapters' Redis client)".into(),
                probe("php", &["-r", "echo phpversion('redis') ?: exit(1);"]),
                "sudo apt-get install -y php-redis",
            ),
        ],
        Runtime::Fencepost => Vec::new(),
    }
}

/// What container topologies need: a Docker engine and docker-compose.
fn containers() -> Vec<Check> {
    let feature = "container topologies (docker/compose.yml, --topology with an [engine])";
    vec![
        check(
            feature,
            "docker engine".into(),
            probe("dockerd", &["--version"]),
            "sudo apt-get install -y docker.io (fencepost's tests start dockerd as root when none runs)",
        ),
        check(
            feature,
            "docker-compose".into(),
            probe("docker-compose", &["--version"]),
            "sudo apt-get install -y docker-compose",
        ),
    ]
}

/// What the tests need beyond the features: a browser, a schema checker, another user.
fn test_tools() -> Vec<Check> {
    let tests = "the tests (cargo test --workspace)";
    vec![
        check(
            tests,
            "chromium (opens the run pages headless)".into(),
            probe("chromium", &["--version"])
                .or_else(|_| probe("chromium-browser", &["--version"])),
            "sudo apt-get install -y chromium",
        ),
        check(
            tests,
            "xmllint (checks the suite's JUnit XML against its schema)".into(),
            probe("xmllint", &["--version"]).map(|_| "present".into()),
            "sudo apt-get install -y libxml2-utils",
        ),
        check(
            tests,
            "setpriv (acts as another user to test the run folders' privacy)".into(),
            probe("setpriv", &["--version"]),
            "sudo apt-get install -y util-linux",
        ),
    ]
}

/// A Toxiproxy API answers at `url`.
async fn toxiproxy_check(feature: &str, url: &str, fix: &str) -> Check {
    let version = match crate::proxy::ToxiproxyClient::new(url) {
        Ok(c) => c.version().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    check(
        feature,
        format!("Toxiproxy at {url}"),
        version.map(|v| format!("version {v}")),
        fix,
    )
}

/// The feature the topology checks serve.
const TOPOLOGY: &str = "runs against this topology (--topology)";

/// The checks for a topology fencepost did not start (`--topology FILE`): what a run against it
/// needs, from where fencepost runs (its own container, say) — the credentials, the Toxiproxy
/// API, every node as the admin user, and with an `[engine]` the node containers, the shared
/// control folder and the Sentinels. A local redis-server is not needed there.
pub async fn topology_checks(results: &Path, file: &Path) -> Vec<Check> {
    use crate::topology::remote::RemoteTopology;
    let t = match RemoteTopology::load(file) {
        Ok(t) => t,
        Err(e) => {
            return vec![check(
                TOPOLOGY,
                format!("topology file {}", file.display()),
                Err(format!("{e:#}")),
                "fix the file (see docker/topology.toml)",
            )]
        }
    };
    let mut out = vec![check(
        TOPOLOGY,
        format!("results folder {}", results.display()),
        std::fs::create_dir_all(results)
            .map(|()| "exists".to_string())
            .map_err(|e| e.to_string()),
        "make it writable, or pass --results DIR",
    )];
    out.push(
        toxiproxy_check(
            TOPOLOGY,
            &t.toxiproxy,
            "start it, or fix `toxiproxy` in the topology file",
        )
        .await,
    );
    out.extend(remote_nodes(&t).await);
    if let Some(engine) = &t.engine {
        out.extend(remote_engine(&t, engine).await);
    }
    out
}

/// The credentials, every node as the admin user, and every Sentinel, of a remote topology.
async fn remote_nodes(t: &crate::topology::remote::RemoteTopology) -> Vec<Check> {
    use crate::topology::remote::wait_answers;
    let wait = std::time::Duration::from_secs(2);
    let admin = t.admin_login();
    let mut out = vec![check(
        TOPOLOGY,
        "credentials in the environment".into(),
        admin
            .as_ref()
            .map(|_| "set".to_string())
            .map_err(|e| format!("{e:#}")),
        "export the variables the topology file names",
    )];
    if let Ok((user, password)) = &admin {
        for n in t.lock_nodes.iter().chain([&t.resource]) {
            let url = format!("redis://{user}:{password}@{}/", n.address);
            let ping = wait_answers(&url, wait)
                .await
                .map(|()| "answers PING as the admin user".to_string());
            out.push(check(
                TOPOLOGY,
                format!("node {} at {}", n.name, n.address),
                ping,
                "start it, or fix its address and the credentials",
            ));
        }
    }
    for s in &t.sentinels {
        let ping = wait_answers(&format!("redis://{s}/"), wait)
            .await
            .map(|()| "answers PING".to_string());
        out.push(check(
            TOPOLOGY,
            format!("Sentinel at {s}"),
            ping,
            "start it, or fix `sentinels` in the topology file",
        ));
    }
    out
}

/// The node containers through the Docker engine, and the control folder shared with them.
async fn remote_engine(
    t: &crate::topology::remote::RemoteTopology,
    engine: &crate::topology::remote::engine::EngineConfig,
) -> Vec<Check> {
    let names: Vec<String> = t
        .lock_nodes
        .iter()
        .map(|n| n.name.clone())
        .chain([crate::topology::RESOURCE.to_string()])
        .collect();
    let found = crate::topology::remote::engine::Engine::connect(engine, &names)
        .await
        .map(|_| format!("a container for each of {}", names.join(", ")))
        .map_err(|e| e.to_string());
    let mut out = vec![check(
        TOPOLOGY,
        "node containers through the Docker engine".into(),
        found,
        "mount the engine's socket (/var/run/docker.sock) and label the node services io.fencepost.node=<name>",
    )];
    if let Some(dir) = &engine.control_dir {
        let probe = dir.join(format!(".doctor-{}", std::process::id()));
        let writable = std::fs::write(&probe, b"ok")
            .map(|()| "writable".to_string())
            .map_err(|e| e.to_string());
        let _ = std::fs::remove_file(&probe);
        out.push(check(
            TOPOLOGY,
            format!("control folder {}", dir.display()),
            writable,
            "mount the volume shared with the nodes there (see docker/compose.yml)",
        ));
    }
    out
}

/// Prints the checks by feature, then which features are ready. Exit code 0 when every
/// feature is ready, 1 when runs can start but some feature cannot run here, 2 when not even
/// a run can start (or, for a topology, when any check failed).
pub fn print(checks: &[Check]) -> i32 {
    let mut features: Vec<&str> = Vec::new();
    for c in checks {
        if !features.contains(&c.feature.as_str()) {
            features.push(&c.feature);
        }
    }
    let mut ready = Vec::new();
    let mut missing = Vec::new();
    for f in &features {
        println!("{f}");
        let of: Vec<&Check> = checks.iter().filter(|c| c.feature == *f).collect();
        for c in &of {
            println!(
                "  {} {}: {}",
                if c.ok { "✔" } else { "✘" },
                c.what,
                c.detail
            );
            if let Some(fix) = &c.fix {
                println!("      fix: {fix}");
            }
        }
        if of.iter().all(|c| c.ok) {
            ready.push(*f);
        } else {
            missing.push(*f);
        }
    }
    if missing.is_empty() {
        println!("ready for everything: {}.", ready.join("; "));
        return 0;
    }
    let core_ok = !missing.contains(&EVERY_RUN) && !missing.contains(&TOPOLOGY);
    if core_ok {
        println!(
            "ready for: {}.\nnot ready for: {} (the fixes are above).",
            ready.join("; "),
            missing.join("; ")
        );
        1
    } else {
        println!("not ready: {} (the fixes are above).", missing.join("; "));
        2
    }
}
