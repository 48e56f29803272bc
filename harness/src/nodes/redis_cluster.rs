//! A Redis Cluster of real redis-servers: 16,384 hash slots over N primaries, each with its
//! replicas, each node in a namespace of its own on the run's private network ([`netns`]).
//!
//! Formation does what `redis-cli --cluster create` does, over admin connections instead of a
//! subprocess (so the admin password never appears in a process's argv): distinct config epochs,
//! slots split evenly over the primaries, `CLUSTER MEET`, `CLUSTER REPLICATE`, then wait until
//! every node says `cluster_state:ok`, every node maps every slot to the same primary, and every
//! replica's link to its primary is up. The nemeses ask the same questions later: who owns the
//! workload key's slot, who replicates it, who is master now.
//!
//! [`netns`]: super::netns

use super::netns::Lan;
use super::node::{ClusterMember, NodeConfig, Persistence, Place, PLACED_PORT};
use super::{random_password, NodeSet};
use redis::aio::MultiplexedConnection;
use std::time::{Duration, Instant};

/// Hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The shape a scenario asks for.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSpec {
    pub shards: u32,
    pub replicas: u32,
    pub node_timeout_ms: u64,
}

/// A formed cluster: its nodes' names, addresses and credentials (the processes themselves are
/// in the run's [`NodeSet`]).
#[derive(Debug, Clone)]
pub struct ClusterMap {
    /// `c1..cN`: the first `shards` start as primaries, the rest as their replicas.
    pub names: Vec<String>,
    pub ips: Vec<String>,
    pub admin_password: String,
    pub client_password: String,
    /// The key the workload writes: the cluster nemeses strike the shard that holds it.
    pub key: String,
    pub slot: u16,
    /// From the first process start to a healthy cluster.
    pub formed_ms: u64,
}

/// A primary's address and the slot ranges it serves, as one node sees them.
type SlotOwner = (String, Vec<(u16, u16)>);

/// One line of `CLUSTER NODES`, as far as the harness needs it.
#[derive(Debug, Clone)]
pub struct NodeLine {
    pub id: String,
    pub ip: String,
    pub flags: Vec<String>,
    /// The primary's id, for a replica.
    pub master: Option<String>,
    pub slots: Vec<(u16, u16)>,
}

impl NodeLine {
    pub fn is_primary(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    pub fn is_failing(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?")
    }

    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
    }
}

/// Parses `CLUSTER NODES` output (importing/migrating markers are skipped).
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let ip = f[1].split(':').next().unwrap_or_default().to_string();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(NodeLine {
                id: f[0].to_string(),
                ip,
                flags: f[2].split(',').map(str::to_string).collect(),
                master: (f[3] != "-").then(|| f[3].to_string()),
                slots,
            })
        })
        .collect()
}

impl ClusterMap {
    pub fn admin_url(&self, i: usize) -> String {
        format!(
            "redis://{}:{}@{}:{PLACED_PORT}/",
            super::node::ADMIN_USER,
            self.admin_password,
            self.ips[i]
        )
    }

    /// The URLs a cluster client starts from (it discovers the rest with `CLUSTER SLOTS`).
    pub fn client_urls(&self) -> Vec<String> {
        self.ips
            .iter()
            .map(|ip| {
                format!(
                    "redis://{}:{}@{ip}:{PLACED_PORT}/",
                    super::node::CLIENT_USER,
                    self.client_password
                )
            })
            .collect()
    }

    pub fn index_of_ip(&self, ip: &str) -> Option<usize> {
        self.ips.iter().position(|i| i == ip)
    }

    /// An admin connection to node `i`, within a second.
    pub async fn admin(&self, i: usize) -> Result<MultiplexedConnection, String> {
        let client = redis::Client::open(self.admin_url(i)).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| format!("{}: {e}", self.names[i]))
    }

    /// Runs `cmd` on node `i` as admin.
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        i: usize,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        let mut conn = self.admin(i).await?;
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| format!("{}: {e}", self.names[i]))
    }

    /// Node `i`'s view of the cluster.
    pub async fn nodes_seen_by(&self, i: usize) -> Result<Vec<NodeLine>, String> {
        let text: String = self.query(i, redis::cmd("CLUSTER").arg("NODES")).await?;
        Ok(parse_nodes(&text))
    }

    /// `master` or `slave`, as node `i` says (`ROLE`).
    pub async fn role(&self, i: usize) -> Result<String, String> {
        let v: Vec<redis::Value> = self.query(i, &redis::cmd("ROLE")).await?;
        match v.first() {
            Some(redis::Value::BulkString(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
            Some(redis::Value::SimpleString(s)) => Ok(s.clone()),
            other => Err(format!(
                "{}: unexpected ROLE reply {other:?}",
                self.names[i]
            )),
        }
    }

    /// The primary serving `slot` and its replicas (node indexes), as the first node of
    /// `askable` that answers sees it.
    pub async fn owner(
        &self,
        slot: u16,
        askable: impl IntoIterator<Item = usize>,
    ) -> Result<(usize, Vec<usize>), String> {
        let mut last = String::from("no node to ask");
        for i in askable {
            let lines = match self.nodes_seen_by(i).await {
                Ok(l) => l,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let Some(p) = lines
                .iter()
                .find(|l| l.is_primary() && !l.is_failing() && l.owns(slot))
            else {
                last = format!("{} knows no live primary for slot {slot}", self.names[i]);
                continue;
            };
            let primary = self
                .index_of_ip(&p.ip)
                .ok_or_else(|| format!("slot {slot} is on {}, no node of this run", p.ip))?;
            let replicas = lines
                .iter()
                .filter(|l| l.master.as_deref() == Some(&p.id) && !l.is_failing())
                .filter_map(|l| self.index_of_ip(&l.ip))
                .collect();
            return Ok((primary, replicas));
        }
        Err(last)
    }

    /// Why the cluster is not healthy yet (`None` when it is): every node answers with
    /// `cluster_state:ok`, sees every slot on the same live primary, and every primary has its
    /// replicas with their link up.
    pub async fn unhealthy(&self, replicas: u32) -> Option<String> {
        let mut owners: Option<Vec<SlotOwner>> = None;
        for i in 0..self.names.len() {
            let info: String = match self.query(i, redis::cmd("CLUSTER").arg("INFO")).await {
                Ok(s) => s,
                Err(e) => return Some(e),
            };
            if !info.contains("cluster_state:ok") {
                return Some(format!("{} is not cluster_state:ok", self.names[i]));
            }
            let lines = match self.nodes_seen_by(i).await {
                Ok(l) => l,
                Err(e) => return Some(e),
            };
            if let Some(l) = lines.iter().find(|l| l.is_failing()) {
                return Some(format!("{} sees {} failing", self.names[i], l.ip));
            }
            let mut view: Vec<SlotOwner> = lines
                .iter()
                .filter(|l| l.is_primary() && !l.slots.is_empty())
                .map(|l| (l.ip.clone(), l.slots.clone()))
                .collect();
            view.sort();
            for p in lines
                .iter()
                .filter(|l| l.is_primary() && !l.slots.is_empty())
            {
                let n = lines
                    .iter()
                    .filter(|l| l.master.as_deref() == Some(&p.id))
                    .count();
                if n < replicas as usize {
                    return Some(format!(
                        "{} sees {} with {n} replica(s)",
                        self.names[i], p.ip
                    ));
                }
            }
            match &owners {
                None => owners = Some(view),
                Some(o) if *o != view => {
                    return Some(format!("{} disagrees on the slot map", self.names[i]))
                }
                Some(_) => {}
            }
            let repl: String = match self.query(i, redis::cmd("INFO").arg("replication")).await {
                Ok(s) => s,
                Err(e) => return Some(e),
            };
            if repl.contains("role:slave") && !repl.contains("master_link_status:up") {
                return Some(format!("{}'s link to its primary is down", self.names[i]));
            }
        }
        None
    }

    /// Waits until [`unhealthy`](Self::unhealthy) says nothing, or `limit` passes (the last
    /// reason as the error).
    pub async fn wait_healthy(&self, replicas: u32, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            match self.unhealthy(replicas).await {
                None => return Ok(()),
                Some(why) if started.elapsed() >= limit => {
                    return Err(format!("not healthy after {} ms: {why}", limit.as_millis()))
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Starts `shards × (1 + replicas)` nodes on a private network in `cluster` and forms them into
/// a Redis Cluster; `key` is the workload's key.
pub async fn form(
    cluster: &mut NodeSet,
    spec: ClusterSpec,
    key: &str,
) -> anyhow::Result<ClusterMap> {
    let started = Instant::now();
    let mut map = start_nodes(cluster, spec, key)?;
    let ids = assign_epochs(&map).await?;
    assign_slots(&map, spec.shards as usize).await?;
    meet(&map).await?;
    attach_replicas(&map, spec, &ids).await?;
    map.wait_healthy(spec.replicas, Duration::from_secs(20))
        .await
        .map_err(|e| fail("waiting for cluster_state:ok", e))?;
    map.formed_ms = started.elapsed().as_millis() as u64;
    map.slot = map
        .query(0, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
        .await
        .map_err(|e| fail("KEYSLOT", e))?;
    Ok(map)
}

fn fail(step: &str, e: String) -> anyhow::Error {
    anyhow::anyhow!("cluster formation ({step}): {e}")
}

/// Every node of the cluster, started in a namespace of its own on a new private network
/// (sharing one pair of passwords: replicas log in to whichever node is their primary).
fn start_nodes(cluster: &mut NodeSet, spec: ClusterSpec, key: &str) -> anyhow::Result<ClusterMap> {
    use anyhow::Context;
    let n = (spec.shards * (1 + spec.replicas)) as usize;
    let lan = Lan::create(n).context("cannot build the cluster's private network")?;
    let passwords = (random_password(), random_password());
    let mut names = Vec::new();
    let mut ips = Vec::new();
    for i in 0..n {
        let name = format!("c{}", i + 1);
        cluster.start_with(
            NodeConfig {
                name: name.clone(),
                persistence: Persistence::None,
                preload: None,
                library_user: false,
                place: Some(Place {
                    netns: lan.node_ns(i),
                    ip: lan.node_ip(i),
                }),
                cluster: Some(ClusterMember {
                    node_timeout_ms: spec.node_timeout_ms,
                }),
            },
            passwords.clone(),
        )?;
        names.push(name);
        ips.push(lan.node_ip(i));
    }
    cluster.lan = Some(lan);
    Ok(ClusterMap {
        names,
        ips,
        admin_password: passwords.0,
        client_password: passwords.1,
        key: key.to_string(),
        slot: 0,
        formed_ms: 0,
    })
}

/// Each node's id, after giving each a distinct config epoch up front, as redis-cli does: no
/// collisions to resolve later.
async fn assign_epochs(map: &ClusterMap) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..map.names.len() {
        let id: String = map
            .query(i, redis::cmd("CLUSTER").arg("MYID"))
            .await
            .map_err(|e| fail("MYID", e))?;
        let _: () = map
            .query(i, redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(i + 1))
            .await
            .map_err(|e| fail("SET-CONFIG-EPOCH", e))?;
        ids.push(id);
    }
    Ok(ids)
}

/// The first `shards` nodes are primaries, each of an equal share of the slots.
async fn assign_slots(map: &ClusterMap, shards: usize) -> anyhow::Result<()> {
    for s in 0..shards {
        let first = (SLOTS as usize * s / shards) as u16;
        let last = (SLOTS as usize * (s + 1) / shards - 1) as u16;
        let _: () = map
            .query(
                s,
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(first)
                    .arg(last),
            )
            .await
            .map_err(|e| fail("ADDSLOTSRANGE", e))?;
    }
    Ok(())
}

/// Every node meets the first; gossip does the rest.
async fn meet(map: &ClusterMap) -> anyhow::Result<()> {
    for i in 1..map.names.len() {
        let _: () = map
            .query(
                i,
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg(&map.ips[0])
                    .arg(PLACED_PORT),
            )
            .await
            .map_err(|e| fail("MEET", e))?;
    }
    Ok(())
}

/// The other nodes replicate the primaries, `replicas` each; a replica can follow a primary
/// once it knows it.
async fn attach_replicas(
    map: &ClusterMap,
    spec: ClusterSpec,
    ids: &[String],
) -> anyhow::Result<()> {
    let shards = spec.shards as usize;
    for i in shards..map.names.len() {
        let primary = (i - shards) / spec.replicas as usize;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let known = map
                .nodes_seen_by(i)
                .await
                .map(|l| l.iter().any(|l| l.id == ids[primary] && l.is_primary()))
                .unwrap_or(false);
            if known {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "cluster formation: {} did not learn of {} within 10 s",
                    map.names[i],
                    map.names[primary]
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _: () = map
            .query(i, redis::cmd("CLUSTER").arg("REPLICATE").arg(&ids[primary]))
            .await
            .map_err(|e| fail("REPLICATE", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_nodes() {
        let text = "07c3 10.213.1.10:6379@16379 myself,master - 0 0 1 connected 0-5460\n\
                    67ed 10.213.1.13:6379@16379 slave 07c3 0 1 4 connected\n\
                    292f 10.213.1.11:6379@16379 master,fail? - 0 1 2 connected 5461-10922 [5462->-07c3]\n";
        let lines = parse_nodes(text);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].is_primary() && lines[0].owns(0) && lines[0].owns(5460));
        assert!(!lines[0].owns(5461));
        assert_eq!(lines[1].master.as_deref(), Some("07c3"));
        assert!(!lines[1].is_primary());
        assert!(lines[2].is_failing());
        assert_eq!(lines[2].slots, vec![(5461, 10922)]);
    }
}
