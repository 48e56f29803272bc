//! Starting a run on a remote set-up, stage by stage: connect to the shared Toxiproxy and sweep
//! a dead run's proxies off it, take this run's lease, take over the node containers (when the
//! run faults them), plan the Sentinels, bring the nodes to a clean slate, take over their
//! clocks, and create the client → node links. The runner then drives it like a local set-up
//! (with no processes of its own).

use super::{
    admin_connection, control, lease, port_of, proxy_port, sentinel, url, wait_answers,
    Credentials, Remote, RemoteNode, RemoteTopology,
};
use crate::nodes::clock::NodeClock;
use crate::nodes::node::Persistence;
use crate::nodes::{NodeInfo, NodeSet};
use crate::proxy::{Network, ToxiproxyClient};
use crate::topology::{link, ClientLinks, Setup, Spec, Topology, RESOURCE};
use anyhow::Context;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The nodes a run uses, as named in the topology file.
struct Nodes<'t> {
    t: &'t RemoteTopology,
    /// The lock nodes the scenario uses, in order.
    lock: Vec<&'t RemoteNode>,
    /// Those and the resource node, last.
    all: Vec<&'t RemoteNode>,
    /// Admin URL of each, by the name the run uses (`resource` for the resource node).
    admin: HashMap<String, String>,
}

impl<'t> Nodes<'t> {
    fn of(t: &'t RemoteTopology, spec: &Spec, creds: &Credentials) -> Nodes<'t> {
        let lock: Vec<&RemoteNode> = t.lock_nodes.iter().take(spec.lock_nodes as usize).collect();
        let all: Vec<&RemoteNode> = lock.iter().copied().chain([&t.resource]).collect();
        let mut nodes = Nodes {
            t,
            lock,
            all,
            admin: HashMap::new(),
        };
        nodes.admin = nodes
            .all
            .iter()
            .map(|n| {
                let admin = url(&creds.admin_user, &creds.admin_password, &n.address);
                (nodes.name_of(n), admin)
            })
            .collect();
        nodes
    }

    /// The name the run uses for node `n`.
    fn name_of(&self, n: &RemoteNode) -> String {
        if std::ptr::eq(n, &self.t.resource) {
            RESOURCE.to_string()
        } else {
            n.name.clone()
        }
    }

    /// What node `n` keeps across a restart: the scenario's persistence, none for the resource.
    fn persistence_of(&self, n: &RemoteNode, persistence: Persistence) -> Persistence {
        if std::ptr::eq(n, &self.t.resource) {
            Persistence::None
        } else {
            persistence
        }
    }

    fn admin_of(&self, n: &RemoteNode) -> &str {
        &self.admin[&self.name_of(n)]
    }
}

/// The shared Toxiproxy, swept of a dead run's proxies, and whether a live run faults the nodes.
struct Shared {
    api: ToxiproxyClient,
    prefix: String,
    /// Live runs that fault the nodes through this Toxiproxy now.
    others: Vec<String>,
}

async fn connect_toxiproxy(
    t: &RemoteTopology,
    file: &Path,
    run_id: &str,
) -> anyhow::Result<Shared> {
    let api = ToxiproxyClient::new(&t.toxiproxy)
        .with_context(|| format!("{}: bad toxiproxy URL", file.display()))?;
    api.version().await.with_context(|| {
        format!(
            "Toxiproxy at {} does not answer; start it or fix `toxiproxy` in {}",
            t.toxiproxy,
            file.display()
        )
    })?;
    let prefix = lease::prefix(run_id);
    let swept = lease::sweep(&api, &prefix)
        .await
        .with_context(|| format!("cannot list the proxies on {}", t.toxiproxy))?;
    if !swept.deleted.is_empty() {
        eprintln!(
            "fencepost: removed {} proxies a dead run left on {}: {}",
            swept.deleted.len(),
            t.toxiproxy,
            swept.deleted.join(", ")
        );
    }
    Ok(Shared {
        api,
        prefix,
        others: swept.live_engine_runs,
    })
}

/// Whether this run faults the nodes itself (pauses, kills, skews or reconfigures them): then it
/// needs them to itself; a run with network faults only can share them.
fn controls_nodes(t: &RemoteTopology, spec: &Spec) -> bool {
    t.engine.is_some()
        && (spec.persistence != Persistence::None
            || spec
                .faults
                .iter()
                .any(|(_, needs)| needs.node_processes || needs.node_clocks))
}

/// The node containers this run faults, restored from a dead run's leftovers, with each lock
/// node's clock and include file taken over; `None` when the run does not fault the nodes (or
/// another run does now). Also whether the include files now carry the scenario's persistence.
async fn take_engine(
    nodes: &Nodes<'_>,
    spec: &Spec,
    file: &Path,
    controls: bool,
    others_control: bool,
) -> anyhow::Result<(
    Option<Arc<super::engine::Engine>>,
    Vec<Arc<NodeClock>>,
    bool,
)> {
    let t = nodes.t;
    let config = match &t.engine {
        // With another run faulting the containers now, a paused one is its, not a leftover.
        Some(_) if others_control => return Ok((None, Vec::new(), false)),
        None => return Ok((None, Vec::new(), false)),
        Some(config) => config,
    };
    // Every node of the topology, not only the ones this scenario uses: a dead run may have left
    // any of them paused or stopped.
    let names: Vec<String> = t
        .lock_nodes
        .iter()
        .chain([&t.resource])
        .map(|n| nodes.name_of(n))
        .collect();
    let engine = super::engine::Engine::connect(config, &names)
        .await
        .with_context(|| format!("{}: [engine]", file.display()))?;
    let done = engine
        .restore()
        .await
        .context("cannot bring the node containers back to running")?;
    if !done.is_empty() {
        eprintln!(
            "fencepost: a dead run left node containers stopped: {}",
            done.join(", ")
        );
    }
    let mut clocks = Vec::new();
    let mut configured = false;
    if let (Some(dir), true) = (&config.control_dir, controls) {
        let lock: Vec<&str> = nodes.lock.iter().map(|n| n.name.as_str()).collect();
        let includes: Vec<(String, Persistence)> = nodes
            .all
            .iter()
            .map(|n| (nodes.name_of(n), nodes.persistence_of(n, spec.persistence)))
            .collect();
        clocks = control::prepare(dir, &lock, &includes)?;
        configured = true;
    }
    // Only a run that faults the nodes restores them at its end.
    Ok((controls.then(|| Arc::new(engine)), clocks, configured))
}

/// Sentinel's set-up on the topology: its first lock node as primary, the second as replica.
fn sentinel_plan(t: &RemoteTopology, creds: &Credentials) -> Option<sentinel::SentinelPlan> {
    let (sentinels, [primary, replica]) = (t.sentinels.as_slice(), t.lock_nodes.get(..2)?) else {
        return None;
    };
    if sentinels.is_empty() {
        return None;
    }
    let node = |n: &RemoteNode| sentinel::DataNode {
        name: n.name.clone(),
        address: n.address.clone(),
        upstream: n.upstream().to_string(),
        admin_url: url(&creds.admin_user, &creds.admin_password, &n.address),
    };
    Some(sentinel::SentinelPlan {
        sentinel_urls: sentinels.iter().map(|a| format!("redis://{a}/")).collect(),
        primary: node(primary),
        replica: node(replica),
        proxy_listen_host: t.proxy_listen_host.clone(),
        proxy_host: t.proxy_host.clone(),
        client_user: creds.client_user.clone(),
        client_password: creds.client_password.clone(),
        admin_user: creds.admin_user.clone(),
        admin_password: creds.admin_password.clone(),
    })
}

/// Every node answers, holds none of fencepost's keys a previous run left, and (when its include
/// file carries it) runs with the scenario's persistence.
async fn clean_slate(
    nodes: &Nodes<'_>,
    persistence: Persistence,
    configured: bool,
) -> anyhow::Result<()> {
    for n in &nodes.all {
        wait_answers(nodes.admin_of(n), Duration::from_secs(20))
            .await
            .map_err(|e| anyhow::anyhow!("node {} at {}: {e}", n.name, n.address))?;
    }
    for n in &nodes.all {
        let mut conn = admin_connection(nodes.admin_of(n), n).await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("fencepost:*")
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        if configured {
            for (k, v) in nodes.persistence_of(n, persistence).directives() {
                let _: () = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg(k)
                    .arg(v)
                    .query_async(&mut conn)
                    .await
                    .with_context(|| format!("CONFIG SET {k} {v} on node {}", n.name))?;
            }
        }
    }
    Ok(())
}

/// Each client's links to every node, through proxies this run creates on the shared Toxiproxy.
async fn client_links(
    nodes: &Nodes<'_>,
    network: &Network,
    clients: u32,
    creds: &Credentials,
) -> anyhow::Result<Vec<ClientLinks>> {
    let t = nodes.t;
    let mut out = Vec::new();
    for c in 0..clients {
        let mut lock = Vec::new();
        for n in &nodes.all {
            let proxy = link(c, &nodes.name_of(n));
            let port = proxy_port(network, &proxy, n.upstream(), &t.proxy_listen_host)
                .await
                .with_context(|| format!("through {}", t.toxiproxy))?;
            lock.push(url(
                &creds.client_user,
                &creds.client_password,
                &format!("{}:{port}", t.proxy_host),
            ));
        }
        let resource = lock.pop().expect("the resource link was created last");
        out.push(ClientLinks { lock, resource });
    }
    Ok(out)
}

/// Connects to the given topology (see the module's header) and returns a topology the runner
/// drives like a local one.
pub async fn start(
    t: &RemoteTopology,
    file: &Path,
    spec: &Spec,
    run_id: &str,
) -> anyhow::Result<Topology> {
    t.supports(spec, file)?;
    let creds = t.credentials(file)?;
    let nodes = Nodes::of(t, spec, &creds);
    let shared = connect_toxiproxy(t, file, run_id).await?;
    let controls = controls_nodes(t, spec);
    let others_control = !shared.others.is_empty();
    if controls && others_control {
        anyhow::bail!(
            "another fencepost run ({}) is injecting node faults through {} now; wait for it to end (two runs cannot pause and crash the same containers)",
            shared.others.join(", "),
            t.toxiproxy
        );
    }
    let lease = lease::Lease::take(&shared.api, &shared.prefix, t.resource.upstream(), controls)
        .await
        .with_context(|| format!("cannot create this run's lease on {}", t.toxiproxy))?;
    let (engine, node_clocks, configured) =
        take_engine(&nodes, spec, file, controls, others_control).await?;
    let plan = sentinel_plan(t, &creds);
    if let Some(plan) = &plan {
        // A killed failover run leaves n1 a replica of n2 and the Sentinels watching them.
        if t.engine.is_some() && !others_control {
            plan.reset()
                .await
                .context("cannot reset the Sentinels and the replica a dead run left")?;
        }
    }
    clean_slate(&nodes, spec.persistence, configured).await?;
    if let Some(engine) = &engine {
        if spec.faults.iter().any(|(_, needs)| needs.node_clocks) {
            for (n, nc) in nodes.lock.iter().zip(&node_clocks) {
                control::take_clock(engine, &n.name, &nodes.admin[&n.name], nc).await?;
            }
        }
    }
    let network = Network::External(shared.api.scoped(&shared.prefix));
    let clients = client_links(&nodes, &network, spec.clients, &creds).await?;

    let remote = Remote {
        nodes: nodes
            .all
            .iter()
            .map(|n| NodeInfo {
                name: nodes.name_of(n),
                host: None,
                port: port_of(&n.address),
                pid: None,
            })
            .collect(),
        admin: nodes.admin.clone(),
        engine,
        lease,
        sentinel: plan.filter(|_| spec.sentinel.is_some()),
        replication: None,
    };
    Ok(Topology::new(
        Setup::Remote(Box::new(remote)),
        NodeSet::new(run_id).context("cannot create the run's temporary folder")?,
        network,
        nodes.lock.iter().map(|n| n.name.clone()).collect(),
        clients,
        nodes.admin[RESOURCE].clone(),
        node_clocks,
        spec.persistence,
    ))
}
