//! `fencepost doctor`: is this machine ready to run scenarios? Each check says what is missing
//! and the command that fixes it.

use std::path::Path;
use std::process::Command;

/// One check's outcome.
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
    /// How to fix it, when it failed.
    pub fix: Option<String>,
}

fn version_of(program: &str) -> Result<String, String> {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // "Redis server v=7.0.15 sha=..." → "7.0.15"
    let v = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .unwrap_or(&text)
        .to_string();
    Ok(v)
}

fn redis_program(program: &str, package: &str) -> Check {
    match version_of(program) {
        Ok(v) => {
            let major: u32 = v
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            Check {
                what: program.into(),
                ok: major >= 7,
                detail: format!("version {v}"),
                fix: (major < 7)
                    .then(|| format!("fencepost needs Redis 7.x: sudo apt-get install {package}")),
            }
        }
        Err(e) => Check {
            what: program.into(),
            ok: false,
            detail: format!("not found ({e})"),
            fix: Some(format!("sudo apt-get install {package}")),
        },
    }
}

/// Runs every check. `toxiproxy` is a configured external Toxiproxy API URL, if any.
pub async fn checks(results: &Path, toxiproxy: Option<&str>) -> Vec<Check> {
    let mut out = vec![
        redis_program("redis-server", "redis-server"),
        redis_program("redis-sentinel", "redis-sentinel"),
    ];

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    out.push(Check {
        what: "free ports on 127.0.0.1".into(),
        ok: port.is_ok(),
        detail: match &port {
            Ok(a) => format!("bound {a}"),
            Err(e) => e.to_string(),
        },
        fix: port
            .is_err()
            .then(|| "free some loopback ports, or check that 127.0.0.1 is configured".into()),
    });

    let probe = results.join(format!(".doctor-{}", std::process::id()));
    let writable = std::fs::create_dir_all(results).and_then(|_| std::fs::write(&probe, b"ok"));
    let _ = std::fs::remove_file(&probe);
    out.push(Check {
        what: format!("results folder {}", results.display()),
        ok: writable.is_ok(),
        detail: match &writable {
            Ok(()) => "writable".into(),
            Err(e) => e.to_string(),
        },
        fix: writable.is_err().then(|| {
            format!(
                "make it writable: mkdir -p {0} && chmod u+w {0}, or pass --results DIR",
                results.display()
            )
        }),
    });

    // A private network as [cluster] runs build one: a namespace, a bridge, a veth (root, ip).
    let lan = crate::cluster::netns::Lan::create(1).map(drop);
    out.push(Check {
        what: "private networks for [cluster] runs (network namespaces, ip, nft)".into(),
        ok: lan.is_ok(),
        detail: match &lan {
            Ok(()) => "a namespace, a bridge and a veth made and removed".into(),
            Err(e) => e.to_string(),
        },
        fix: lan.is_err().then(|| {
            "run as root (or with CAP_SYS_ADMIN and CAP_NET_ADMIN), and `sudo apt-get install -y iproute2 nftables`; only the cluster-* scenarios need it".into()
        }),
    });

    if let Some(url) = toxiproxy {
        let version = match crate::proxy::ToxiproxyClient::new(url) {
            Ok(c) => c.version().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push(Check {
            what: format!("Toxiproxy at {url}"),
            ok: version.is_ok(),
            detail: match &version {
                Ok(v) => format!("version {v}"),
                Err(e) => e.clone(),
            },
            fix: version.is_err().then(|| {
                "start it (docker compose -f docker/compose.yml up toxiproxy, or `fencepost proxy --listen 127.0.0.1:8474`) and check the URL".into()
            }),
        });
    }
    out
}

fn check(what: String, result: Result<String, String>, fix: &str) -> Check {
    Check {
        what,
        ok: result.is_ok(),
        fix: result.is_err().then(|| fix.to_string()),
        detail: result.unwrap_or_else(|e| e),
    }
}

/// The checks for a topology fencepost did not start (`--topology FILE`): what a run against it
/// needs, from where fencepost runs (its own container, say) — the credentials, the Toxiproxy
/// API, every node as the admin user, and with an `[engine]` the node containers, the shared
/// control folder and the Sentinels. A local redis-server is not needed there.
pub async fn topology_checks(results: &Path, file: &Path) -> Vec<Check> {
    let t = match crate::external::ExternalTopology::load(file) {
        Ok(t) => t,
        Err(e) => {
            return vec![check(
                format!("topology file {}", file.display()),
                Err(format!("{e:#}")),
                "fix the file (see docker/topology.toml)",
            )]
        }
    };
    let mut out = vec![check(
        format!("results folder {}", results.display()),
        std::fs::create_dir_all(results)
            .map(|()| "exists".to_string())
            .map_err(|e| e.to_string()),
        "make it writable, or pass --results DIR",
    )];
    let version = match crate::proxy::ToxiproxyClient::new(&t.toxiproxy) {
        Ok(c) => c
            .version()
            .await
            .map(|v| format!("version {v}"))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    out.push(check(
        format!("Toxiproxy at {}", t.toxiproxy),
        version,
        "start it, or fix `toxiproxy` in the topology file",
    ));
    let admin = t.admin_login();
    out.push(check(
        "credentials in the environment".into(),
        admin
            .as_ref()
            .map(|_| "set".to_string())
            .map_err(|e| format!("{e:#}")),
        "export the variables the topology file names",
    ));
    if let Ok((user, password)) = &admin {
        for n in t.lock_nodes.iter().chain([&t.resource]) {
            let url = format!("redis://{user}:{password}@{}/", n.address);
            let ping = crate::external::wait_answers(&url, std::time::Duration::from_secs(2))
                .await
                .map(|()| "answers PING as the admin user".to_string());
            out.push(check(
                format!("node {} at {}", n.name, n.address),
                ping,
                "start it, or fix its address and the credentials",
            ));
        }
    }
    for s in &t.sentinels {
        let ping = crate::external::wait_answers(
            &format!("redis://{s}/"),
            std::time::Duration::from_secs(2),
        )
        .await
        .map(|()| "answers PING".to_string());
        out.push(check(
            format!("Sentinel at {s}"),
            ping,
            "start it, or fix `sentinels` in the topology file",
        ));
    }
    if let Some(engine) = &t.engine {
        let names: Vec<String> = t
            .lock_nodes
            .iter()
            .map(|n| n.name.clone())
            .chain([crate::topology::RESOURCE.to_string()])
            .collect();
        let found = crate::external::engine::Engine::connect(engine, &names)
            .await
            .map(|_| format!("a container for each of {}", names.join(", ")))
            .map_err(|e| e.to_string());
        out.push(check(
            "node containers through the Docker engine".into(),
            found,
            "mount the engine's socket (/var/run/docker.sock) and label the node services io.fencepost.node=<name>",
        ));
        if let Some(dir) = &engine.control_dir {
            let probe = dir.join(format!(".doctor-{}", std::process::id()));
            let writable = std::fs::write(&probe, b"ok")
                .map(|()| "writable".to_string())
                .map_err(|e| e.to_string());
            let _ = std::fs::remove_file(&probe);
            out.push(check(
                format!("control folder {}", dir.display()),
                writable,
                "mount the volume shared with the nodes there (see docker/compose.yml)",
            ));
        }
    }
    out
}

/// Prints the checks; exit code 0 when all passed, 2 otherwise.
pub fn print(checks: &[Check]) -> i32 {
    for c in checks {
        println!("{} {}: {}", if c.ok { "✔" } else { "✘" }, c.what, c.detail);
        if let Some(fix) = &c.fix {
            println!("    fix: {fix}");
        }
    }
    if checks.iter().all(|c| c.ok) {
        println!("ready.");
        0
    } else {
        2
    }
}
