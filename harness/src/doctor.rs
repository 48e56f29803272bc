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
