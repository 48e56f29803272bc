//! Client processes: any lock library, in any language, behind the client protocol.
//!
//! A scenario's `[client]` names an adapter shipped in `adapters/` (`library = "redis-py"`, or
//! `--client redis-py@5.0.8`) or a user's own command. Before the run the adapter is installed
//! ([`adapter`]); each client slot then runs one adapter process ([`protocol`]) driven by the lock
//! workload's cycle ([`client`]), reaching the lock nodes and the resource through its own proxy
//! links, with fencepost's clock library preloaded so a clock fault can bend the process's wall
//! clock. Every process is started — and its hello checked — before the run begins, so an
//! adapter that cannot run stops fencepost with exit 2 and a message, never a half-run.

pub mod adapter;
pub mod client;
pub mod protocol;
pub mod reference;
pub mod violations;

use super::Build;
use crate::nodes::clock::{self, NodeClock};
use crate::scenario::client::ClientSpec;
use crate::scenario::Scenario;
use adapter::{Installed, NodesKind};
use checkers::Process;
use protocol::{
    AdapterProcess, ClientInfo, Endpoint, Hello, HelloLock, ProcessControl, ProtocolError,
    ResourceEndpoint,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// How long an adapter may take to answer its hello (a first import can be slow):
/// `FENCEPOST_HELLO_TIMEOUT_MS`, 30 s by default.
pub fn hello_timeout() -> Duration {
    std::env::var("FENCEPOST_HELLO_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_millis)
}

/// The file in `clients/` listing the PID of every client process the run started.
pub const PIDS: &str = "pids";

/// The adapter of a run, resolved and installed before any node starts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub installed: Installed,
    /// How many lock nodes it is given.
    pub nodes: NodesKind,
    pub extend: bool,
    pub auto_renewal: bool,
}

/// Resolves and installs the scenario's client adapter (`None`: in-process clients).
pub fn plan(
    scenario: &Scenario,
    scenario_file: &Path,
    adapters: &Path,
) -> anyhow::Result<Option<Plan>> {
    let Some(spec) = &scenario.client else {
        return Ok(None);
    };
    plan_for(spec, scenario_file, adapters).map(Some)
}

fn plan_for(spec: &ClientSpec, scenario_file: &Path, adapters: &Path) -> anyhow::Result<Plan> {
    if let Some(command) = &spec.command {
        let dir = spec.dir.as_deref().unwrap_or_else(|| {
            scenario_file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        });
        return Ok(Plan {
            installed: adapter::own_command(command, dir),
            // Every node, unless the scenario says the adapter takes one.
            nodes: spec.nodes.unwrap_or(NodesKind::Majority),
            // Whatever its hello says it can do.
            extend: true,
            auto_renewal: spec.auto_renewal.unwrap_or(false),
        });
    }
    let name = spec.library.as_deref().unwrap_or_default();
    let (name, version) = adapter::parse_spec(name)?;
    let a = adapter::find(&name, version, adapters)?;
    let installed = a.install(&adapter::cache_dir())?;
    Ok(Plan {
        installed,
        nodes: a.manifest.nodes,
        extend: a.manifest.extend,
        auto_renewal: spec.auto_renewal.unwrap_or(a.manifest.auto_renewal),
    })
}

/// Starts adapter processes for a slot: the hello every process of the slot gets, its
/// environment (its clock's control file), where its stderr goes.
pub struct Spawner {
    installed: Installed,
    hellos: Vec<Hello>,
    clocks: Vec<(PathBuf, Arc<NodeClock>)>,
    library: PathBuf,
    stderr_dir: PathBuf,
}

impl Spawner {
    /// Starts one process for `slot` under history id `process`, and reads its hello.
    pub async fn start(
        &self,
        slot: u32,
        process: Process,
        control: &Arc<ProcessControl>,
    ) -> Result<(AdapterProcess, ClientInfo), ProtocolError> {
        let Process::Client(pid) = process else {
            unreachable!("clients are client processes")
        };
        let mut hello = self.hellos[slot as usize].clone();
        hello.process = pid;
        let (clock_file, _) = &self.clocks[slot as usize];
        let env = clock::preload(&self.library, clock_file);
        let mut vars = env.1;
        vars.push(("LD_PRELOAD".into(), env.0.display().to_string()));
        let stderr = self.stderr_dir.join(format!("client-{pid}.stderr"));
        control.set_process(pid);
        let mut p = AdapterProcess::spawn(&self.installed, &vars, &stderr, control.clone())?;
        // Every process a run started, so anyone can check none outlived it.
        if let Some(pid) = p.pid() {
            use std::io::Write;
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.stderr_dir.join(PIDS))
                // One write per line: appends of a whole line do not interleave (writeln! may
                // write the number and the newline separately, and two slots spawn at once).
                .and_then(|mut f| f.write_all(format!("{pid}\n").as_bytes()));
        }
        let info = p.hello(&hello, hello_timeout()).await?;
        Ok((p, info))
    }
}

/// `redis://user:password@host:port/` → its parts.
fn endpoint(name: &str, url: &str) -> anyhow::Result<Endpoint> {
    let rest = url
        .split_once("://")
        .map_or(url, |(_, r)| r)
        .trim_end_matches('/');
    let (creds, addr) = rest.rsplit_once('@').ok_or_else(|| {
        anyhow::anyhow!(
            "node URL without credentials: {}",
            crate::topology::redact(url)
        )
    })?;
    let (username, password) = creds.split_once(':').unwrap_or(("default", creds));
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| {
        anyhow::anyhow!("node URL without a port: {}", crate::topology::redact(url))
    })?;
    Ok(Endpoint {
        name: name.to_string(),
        host: host.to_string(),
        port: port.parse()?,
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// Builds the slots' clients: every process started and its hello read before the run.
pub async fn build(b: &Build<'_>, plan: &Plan) -> anyhow::Result<super::Clients> {
    let s = b.scenario;
    let spawner = Arc::new(spawner_for(b, plan)?);
    let shared = Arc::new(client::Shared {
        grants: AtomicU64::new(0),
        violations: violations::Journal::new(&b.run_dir.join("clients")),
    });
    let mut out = super::Clients::default();
    let clients = s.run.clients;
    for slot in 0..clients {
        let control = Arc::new(ProcessControl::default());
        let (proc, info) = spawner
            .start(slot, Process::Client(slot), &control)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if slot == 0 {
            out.info = Some(info.clone());
            eprintln!(
                "fencepost: clients run {} {} ({}, {}) through the client protocol",
                info.library, info.version, info.package, info.runtime
            );
        }
        let handle = crate::handles::ClientHandle {
            gate: Arc::new(workloads::pause::PauseGate::default()),
            clock: crate::handles::ClientClock::Process(spawner.clocks[slot as usize].1.clone()),
            process: Some(control.clone()),
            crash_point: false,
            cycle: Default::default(),
            field: Default::default(),
        };
        let settings = settings_for(s, plan, &info);
        let c = client::ExternalClient::new(
            slot,
            clients,
            proc,
            info,
            b.recorder.clone(),
            handle.clone(),
            control,
            spawner.clone(),
            b.rng(slot, "workload"),
            b.pacing(&handle),
            settings,
            shared.clone(),
        );
        out.add(handle, Box::new(move |stop| tokio::spawn(c.run(stop))));
    }
    Ok(out)
}

/// What starts each slot's processes: every slot's hello (its nodes, as the library's user), its
/// wall clock's control file, the clock library, and where stderr goes.
fn spawner_for(b: &Build<'_>, plan: &Plan) -> anyhow::Result<Spawner> {
    let s = b.scenario;
    let topo = b.topology;
    let root = topo.nodes().root.clone();
    let library = clock::install_library(&root)?;
    let stderr_dir = b.run_dir.join("clients");
    std::fs::create_dir_all(&stderr_dir)?;
    // The environment the adapter runs in, every package at its exact version, kept with the run.
    if let Some(lockfile) = &plan.installed.lockfile {
        let name = lockfile.file_name().unwrap_or_default();
        std::fs::copy(lockfile, stderr_dir.join(name)).map_err(|e| {
            anyhow::anyhow!(
                "cannot copy the adapter's lockfile {}: {e}",
                lockfile.display()
            )
        })?;
    }
    let mut hellos = Vec::new();
    let mut clocks = Vec::new();
    for (slot, links) in (0u32..).zip(&topo.clients) {
        hellos.push(hello(s, plan, slot, links, &topo.lock_nodes)?);
        let file = root.join(format!("c{slot}.clock"));
        clocks.push((file.clone(), Arc::new(NodeClock::create(&file)?)));
    }
    Ok(Spawner {
        installed: plan.installed.clone(),
        hellos,
        clocks,
        library,
        stderr_dir,
    })
}

/// Slot `slot`'s hello: the lock, its nodes and the resource, reached through its links.
fn hello(
    s: &crate::scenario::Scenario,
    plan: &Plan,
    slot: u32,
    links: &crate::topology::ClientLinks,
    lock_nodes: &[String],
) -> anyhow::Result<Hello> {
    let urls: Vec<&String> = match plan.nodes {
        NodesKind::One => links.lock.iter().take(1).collect(),
        NodesKind::Majority => links.lock.iter().collect(),
    };
    // Libraries log in as `default` (the nodes' library user), with the client password.
    let library = |e: anyhow::Result<Endpoint>| {
        e.map(|e| Endpoint {
            username: "default".into(),
            ..e
        })
    };
    let nodes = urls
        .iter()
        .zip(lock_nodes)
        .map(|(u, n)| library(endpoint(n, u)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Hello {
        kind: "hello",
        protocol: protocol::PROTOCOL,
        process: slot,
        lock: HelloLock {
            name: "fencepost-guard".into(),
            ttl_ms: s.lock.ttl.ms(),
            auto_renewal: plan.auto_renewal,
        },
        nodes,
        resource: ResourceEndpoint {
            endpoint: library(endpoint(crate::topology::RESOURCE, &links.resource))?,
            script: workloads::resource::ACCESS.to_string(),
        },
        timeout_ms: s.lock.op_timeout.ms(),
    })
}

/// How a slot's client works, from the scenario and what the library says it can do.
fn settings_for(
    s: &crate::scenario::Scenario,
    plan: &Plan,
    info: &protocol::ClientInfo,
) -> client::Settings {
    let ttl_ms = s.lock.ttl.ms();
    let renew = plan.auto_renewal && info.supports.auto_renewal;
    client::Settings {
        ttl_ms,
        reply_timeout: s.lock.op_timeout.0 * 2 + Duration::from_secs(1),
        extend_every: match (&s.client, renew) {
            (_, true) => None,
            (Some(c), false) if info.supports.extend => c
                .extend_every
                .map(|d| d.0)
                .or_else(|| plan.extend.then(|| Duration::from_millis(ttl_ms / 3))),
            _ => None,
        },
        fenced: s.resource.fenced,
        check_held: s.client.as_ref().is_none_or(|c| c.check_held) && info.supports.held,
        long_section: s
            .client
            .as_ref()
            .and_then(|c| Some((c.long_section?.0, c.long_one_in?))),
    }
}
