//! The compose topology: the file parses (Debian's docker-compose validates it without an
//! engine), and it runs — images built here without a pull, a Docker engine started if none
//! runs, node faults through the engine. `.ci/run` installs docker-compose and docker.io, so a
//! missing one fails here rather than skipping.

use crate::common::{repo, text, SERIAL};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn compose_file_validates_and_names_every_service() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("docker-compose")
        .args(["-f", "docker/compose.yml", "config"])
        .current_dir(&repo)
        .output()
        .expect(
            "docker-compose is not installed: `sudo apt-get install docker-compose` (.ci/run does)",
        );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for service in [
        "redis-n1",
        "redis-n5",
        "redis-resource",
        "toxiproxy",
        "fencepost",
    ] {
        assert!(
            text.contains(&format!("  {service}:")),
            "service {service} missing:\n{text}"
        );
    }
    // The topology the container uses parses as an external topology.
    fencepost::topology::remote::RemoteTopology::load(&repo.join("docker/topology.toml")).unwrap();
}

/// The Docker engine for this test: the one running, or a `dockerd` the test starts (and stops
/// at the end). No engine is a failure with the reason, never a skip.
struct DockerEngine {
    /// The dockerd this test started, and its log (removed when the engine stops, unless the
    /// test failed: then it is kept, and named, for the failure's story).
    started: Option<(std::process::Child, std::path::PathBuf)>,
}

impl DockerEngine {
    fn ensure() -> DockerEngine {
        let answers = || {
            Command::new("docker")
                .args(["info", "--format", "{{.ServerVersion}}"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if answers() {
            return DockerEngine { started: None };
        }
        let log =
            std::env::temp_dir().join(format!("fencepost-dockerd-{}.log", std::process::id()));
        let child = Command::new("dockerd")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("no Docker engine runs and dockerd cannot start ({e}): install docker.io (.ci/run does) and run as root")
            });
        let engine = DockerEngine {
            started: Some((child, log.clone())),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers() {
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within 30 s; its log ({}):\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        engine
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        if let Some((child, log)) = &mut self.started {
            // SAFETY: signalling a child we spawned.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("dockerd's log is kept: {}", log.display());
            } else {
                let _ = std::fs::remove_file(log);
            }
        }
    }
}

/// The compose topology with the offline images, as one project this test brings up and down.
struct Topology {
    project: String,
}

impl Topology {
    fn compose(&self) -> Command {
        let mut c = Command::new("docker-compose");
        c.current_dir(repo())
            .args(["-p", &self.project])
            .args([
                "-f",
                "docker/compose.yml",
                "-f",
                "docker/compose.offline.yml",
            ])
            .env("FENCEPOST_ADMIN_PASSWORD", "compose-admin-7")
            .env("FENCEPOST_CLIENT_PASSWORD", "compose-client-7");
        c
    }

    /// `fencepost ARGS… --topology /fencepost/topology.toml --results /fencepost/out` in a
    /// fencepost container, with `out` mounted there (detached under `detach`'s name, if given).
    fn fencepost(&self, out: &Path, detach: Option<&str>, args: &[&str]) -> Command {
        let mut c = self.compose();
        c.args([
            "run",
            "-T",
            "-v",
            &format!("{}:/fencepost/out", out.display()),
        ]);
        match detach {
            Some(name) => c.args(["-d", "--name", name]),
            None => c.arg("--rm"),
        };
        c.arg("fencepost").args(args).args([
            "--topology",
            "/fencepost/topology.toml",
            "--results",
            "/fencepost/out",
        ]);
        c
    }

    fn containers(&self, filter: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-a", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .args(["--filter", filter])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// The proxies on the topology's Toxiproxy-API server (reached at its container address).
    fn proxies(&self) -> String {
        let ip = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &format!("{}_toxiproxy_1", self.project),
            ])
            .output()
            .unwrap();
        let ip = String::from_utf8_lossy(&ip.stdout).trim().to_string();
        crate::common::http_get_from(&ip, 8474, "/proxies")
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = self
            .compose()
            .args(["down", "-v", "--remove-orphans", "-t", "2"])
            .output();
    }
}

fn timed(what: &str, c: &mut Command) -> std::process::Output {
    let t = Instant::now();
    let out = c.output().unwrap();
    eprintln!("{what}: {:.1} s", t.elapsed().as_secs_f64());
    out
}

/// The compose topology runs for real with images built here without a pull: scenarios whose
/// node faults go through the Docker engine (container pause, kill + start with the node's
/// volume, the preloaded clock library, Sentinel failover in containers) meet their
/// expectations; a SIGKILLed run's paused container and proxies are cleaned up by the next run.
#[test]
fn the_compose_topology_runs_node_faults_through_the_engine() {
    // Its containers' redis-servers must not overlap the other remote tests' counts.
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _engine = DockerEngine::ensure();
    let out = timed(
        "build-images.sh",
        Command::new(repo().join("docker/offline/build-images.sh"))
            .arg(env!("CARGO_BIN_EXE_fencepost")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let topology = Topology {
        project: format!("fptest{}", std::process::id()),
    };
    let out = timed(
        "up",
        topology.compose().args([
            "up",
            "-d",
            "redis-n1",
            "redis-n2",
            "redis-n3",
            "redis-n4",
            "redis-n5",
            "redis-resource",
            "sentinel-1",
            "sentinel-2",
            "sentinel-3",
            "toxiproxy",
        ]),
    );
    assert!(out.status.success(), "{}", text(&out));
    let results =
        std::env::temp_dir().join(format!("fencepost-test-compose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    std::fs::create_dir_all(&results).unwrap();

    // From inside its container, fencepost sees the proxy, every node, the Sentinels, the
    // node containers through the engine and the shared control folder.
    let out = timed(
        "doctor",
        &mut topology.fencepost(&results, None, &["doctor"]),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("node containers through the Docker engine")
            && t.contains("ready for everything"),
        "{t}"
    );

    // crash-restart is not here: on containers it shows its violation in 6 of 10 seeds (a
    // container restarts in ~300 ms, a local redis-server in a few), so one seed would make a
    // flaky test; docker/offline/measure.sh gives its figures (BENCHMARKS.md).
    for scenario in [
        "gc-pause",
        "partition",
        "clock-jump",
        "crash-restart-safe",
        "failover",
    ] {
        // crash-restart-safe's choreography (each client cut to three nodes, n3 crashed every
        // 1.5 s) leaves about 10 grants in its 16 s here, its evidence floor: one CI run got 9
        // ("unknown", not a violation). Half as long again gives it room.
        // clock-jump's violation is a race (n3's jump must expire client 0's key while client 1
        // is acquiring): through containers two runs of this test in seven missed it (18 grants,
        // no overlap: "unknown", never a wrong verdict), so it may take a second seed; the
        // violation must show in one of the two.
        let seeds: &[&str] = if scenario == "clock-jump" {
            &["1", "2"]
        } else {
            &["1"]
        };
        let mut t = String::new();
        let mut code = None;
        for seed in seeds {
            let mut args = vec!["scenario", scenario, "--seed", seed];
            if scenario == "crash-restart-safe" {
                args.extend(["--duration", "24s"]);
            }
            let out = timed(scenario, &mut topology.fencepost(&results, None, &args));
            t.push_str(&text(&out));
            code = out.status.code();
            if code == Some(0) {
                break;
            }
        }
        assert_eq!(code, Some(0), "{scenario}:\n{t}");
        assert!(t.contains("expectations met"), "{scenario}:\n{t}");
        assert!(
            t.contains("faults took effect: **valid**"),
            "{scenario}:\n{t}"
        );
        assert!(
            topology.containers("status=paused").is_empty()
                && topology.containers("status=exited").is_empty(),
            "{scenario} left a node container paused or stopped"
        );
        let proxies = topology.proxies();
        assert!(
            !proxies.contains("\"fp-"),
            "{scenario} left proxies: {proxies}"
        );
    }

    // The failover run gave the Sentinels and the nodes back: nothing monitored, both primaries.
    for id in topology.containers("label=io.fencepost.sentinel") {
        let masters = Command::new("docker")
            .args([
                "exec",
                &id,
                "redis-cli",
                "-p",
                "26379",
                "SENTINEL",
                "MASTERS",
            ])
            .output()
            .unwrap();
        assert!(
            masters.status.success() && String::from_utf8_lossy(&masters.stdout).trim().is_empty(),
            "a Sentinel still monitors: {}",
            text(&masters)
        );
    }

    // SIGKILL a run while it holds n2 paused and its proxies exist.
    let base = std::fs::read_to_string(repo().join("scenarios/redlock-baseline.toml")).unwrap();
    let killed = base
        .replace("name = \"redlock-baseline\"", "name = \"engine-kill\"")
        .replace("duration = \"8s\"", "duration = \"60s\"")
        .replace(
            "[expect]",
            "[[nemesis]]\nkind = \"node-pause\"\ntarget = \"n2\"\npause = \"50s\"\nstart = \"500ms\"\nevery = \"55s\"\n\n[expect]",
        );
    assert!(killed.contains("node-pause"), "the scenario was rewritten");
    std::fs::write(results.join("engine-kill.toml"), killed).unwrap();
    let name = format!("{}-killed", topology.project);
    let out = topology
        .fencepost(
            &results,
            Some(&name),
            &["scenario", "/fencepost/out/engine-kill.toml"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(60);
    while topology.containers("status=paused").is_empty() {
        assert!(Instant::now() < deadline, "the run never paused n2");
        std::thread::sleep(Duration::from_millis(200));
    }
    let kill = Command::new("docker")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(kill.status.success(), "{}", text(&kill));
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    assert_eq!(
        topology.containers("status=paused").len(),
        1,
        "n2 stays paused after the kill"
    );
    assert!(
        topology.proxies().contains("\"fp-"),
        "the killed run's proxies are left"
    );

    let out = timed(
        "gc-pause after the kill",
        &mut topology.fencepost(&results, None, &["scenario", "gc-pause", "--seed", "2"]),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("a dead run left node containers stopped: unpaused n2"),
        "{t}"
    );
    assert!(t.contains("proxies a dead run left"), "{t}");
    assert!(topology.containers("status=paused").is_empty(), "{t}");
    let proxies = topology.proxies();
    assert!(!proxies.contains("\"fp-"), "proxies left: {proxies}");
    // Partitions go through the proxy: every node is still on the topology's network.
    for id in topology.containers("label=io.fencepost.node") {
        let nets = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                &id,
            ])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&nets.stdout)
                .contains(&format!("{}_fencepost", topology.project)),
            "{id} is off the network"
        );
    }
    let _ = std::fs::remove_dir_all(&results);
}
