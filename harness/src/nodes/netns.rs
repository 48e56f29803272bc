//! A private network for nodes that must be partitioned from each other: one network namespace
//! per node, joined by a bridge, with packet-filter rules as the partitions.
//!
//! Why namespaces and not proxies: a Redis Cluster's nodes talk to each other over the cluster
//! bus and the replication links, and they announce their own addresses to the clients. A proxy
//! per node (with `cluster-announce-*`) sees a connection's destination, never which node opened
//! it, so it can only cut everything into a node at once — a one-way cut, after which the cut-off
//! node still hears its peers' replies. With each node in its own namespace, a partition is a
//! symmetric rule *in the node's own stack* (`nft`: drop packets from and to chosen peers), which
//! is what a switch failure looks like, and it covers every link: bus, replication and clients.
//!
//! Layout: a hub namespace holds a bridge; each node's namespace has `eth0` (10.213.S.(10+i)/24)
//! on a veth to that bridge; the harness's namespace has 10.213.S.1 on a veth to the same bridge,
//! so the harness and its clients reach every node directly. `tc netem` is not in this kernel, so
//! delays stay in the fault proxy; here it is cuts only.
//!
//! Cleanup holds even after SIGKILL: the namespaces are anonymous (no `/run/netns` name), kept
//! alive only by file descriptors of this process and by the redis-servers inside them (which die
//! with fencepost by their parent-death signal). When both are gone the kernel frees the
//! namespaces and with them every veth and rule — nothing to reap at the next start.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot create a network namespace: {0} (partitions between cluster nodes need root, or CAP_SYS_ADMIN and CAP_NET_ADMIN)")]
    Namespace(io::Error),
    #[error("`{program}` was not found: install iproute2 and nftables (`sudo apt-get install iproute2 nftables`)")]
    Missing { program: String },
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("no free 10.213.x.0/24 network for this run's nodes (254 in use)")]
    NoSubnet,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// An anonymous network namespace, alive while this handle (or a process in it) is.
#[derive(Debug)]
pub struct NetNs {
    file: File,
}

impl NetNs {
    /// A new, empty network namespace (only `lo`, down).
    pub fn create() -> Result<NetNs, NetError> {
        // unshare(CLONE_NEWNET) moves only the calling thread: a short-lived thread of its own
        // makes the namespace, opens it, and exits; the harness's threads stay where they are.
        std::thread::spawn(|| {
            // SAFETY: unshare(2) on the calling thread only.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(NetError::Namespace(io::Error::last_os_error()));
            }
            File::open("/proc/thread-self/ns/net").map_err(NetError::Namespace)
        })
        .join()
        .map_err(|_| NetError::Namespace(io::Error::other("the namespace thread panicked")))?
        .map(|file| NetNs { file })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A path other programs (`ip … netns PATH`) can open to reach this namespace.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd())
    }
}

/// Runs `program` with `input` on stdin, inside `ns` (the harness's own namespace when None),
/// and waits for it.
pub fn run(ns: Option<&NetNs>, program: &str, args: &[&str], input: &str) -> Result<(), NetError> {
    let mut cmd = Command::new(program);
    // Its own process group: a terminal's Ctrl-C must not cut a heal short.
    cmd.process_group(0)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(ns) = ns {
        enter(&mut cmd, ns);
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => NetError::Missing {
            program: program.into(),
        },
        _ => NetError::Io(e),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(NetError::Command {
        command: format!("{program} {}", args.join(" ")),
        stderr: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            if input.is_empty() {
                String::new()
            } else {
                format!(" (input: {})", input.trim().replace('\n', "; "))
            }
        ),
    })
}

/// Moves the calling thread into the network namespace open as `fd`. Async-signal-safe, for a
/// child between fork and exec (where the descriptor is still open).
pub fn enter_fd(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns(2) on a descriptor the caller holds open.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd` run inside `ns`.
fn enter(cmd: &mut Command, ns: &NetNs) {
    let fd = ns.fd();
    // SAFETY: the closure only calls setns(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || enter_fd(fd));
    }
}

/// `ip -batch -` with `lines` inside `ns`.
fn ip(ns: Option<&NetNs>, lines: &[String]) -> Result<(), NetError> {
    run(ns, "ip", &["-batch", "-"], &(lines.join("\n") + "\n"))
}

/// The nodes' private network.
#[derive(Debug)]
pub struct Lan {
    hub: NetNs,
    nodes: Vec<Arc<NetNs>>,
    /// The third octet of 10.213.S.0/24.
    subnet: u8,
    /// The harness-side veth (in the harness's namespace).
    root_if: String,
}

/// Subnets are picked under a lock file, so two runs (of one process or two) never share one.
const LOCK_FILE: &str = "fencepost-lan.lock";

/// The subnet lock file: in /run, where only root writes, when we are root (Redis Cluster runs
/// need root or CAP_NET_ADMIN); else in the temp folder. Opened without following a symlink and
/// refused unless it is ours: a file another user planted could stall every run (a lock held
/// forever) or, through a symlink, make root truncate a file of theirs choosing.
fn open_lock_file() -> io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let dir = if crate::private_dir::euid() == 0 && std::path::Path::new("/run").is_dir() {
        std::path::PathBuf::from("/run")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let owner = file.metadata()?.uid();
    if owner != crate::private_dir::euid() {
        return Err(io::Error::other(format!(
            "{} belongs to user {owner}, not to this user: remove it (someone else made it)",
            path.display()
        )));
    }
    Ok(file)
}

impl Lan {
    /// A bridge with `nodes` namespaces on it, and the harness on it as 10.213.S.1.
    pub fn create(nodes: usize) -> Result<Lan, NetError> {
        let hub = NetNs::create()?;
        ip(
            Some(&hub),
            &[
                "link set lo up".into(),
                "link add br0 type bridge".into(),
                "link set br0 up".into(),
            ],
        )?;
        let mut node_ns = Vec::new();
        for _ in 0..nodes {
            node_ns.push(Arc::new(NetNs::create()?));
        }
        let (subnet, root_if) = Self::attach_harness(&hub)?;
        let lan = Lan {
            hub,
            nodes: node_ns,
            subnet,
            root_if,
        };
        let mut hub_lines = vec![
            "link set dev up0 master br0".into(),
            "link set up0 up".into(),
        ];
        for (i, ns) in lan.nodes.iter().enumerate() {
            hub_lines.push(format!(
                "link add v{i} type veth peer name eth0 netns {}",
                ns.path()
            ));
            hub_lines.push(format!("link set dev v{i} master br0"));
            hub_lines.push(format!("link set v{i} up"));
        }
        ip(Some(&lan.hub), &hub_lines)?;
        for i in 0..lan.nodes.len() {
            ip(
                Some(&lan.nodes[i]),
                &[
                    "link set lo up".into(),
                    format!("addr add {}/24 dev eth0", lan.node_ip(i)),
                    "link set eth0 up".into(),
                ],
            )?;
        }
        Ok(lan)
    }

    /// The harness's veth into the hub, with the first free 10.213.S.1/24.
    fn attach_harness(hub: &NetNs) -> Result<(u8, String), NetError> {
        let lock = open_lock_file()?;
        // SAFETY: flock(2) on a descriptor we own; released when `lock` is dropped.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        let used = Command::new("ip")
            .args(["-o", "-4", "addr", "show"])
            .output()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => NetError::Missing {
                    program: "ip".into(),
                },
                _ => NetError::Io(e),
            })?;
        let used = String::from_utf8_lossy(&used.stdout);
        let subnet = (1..=254u8)
            .find(|s| !used.contains(&format!(" 10.213.{s}.")))
            .ok_or(NetError::NoSubnet)?;
        let root_if = format!("fp{}x{subnet}", std::process::id());
        ip(
            None,
            &[
                format!(
                    "link add {root_if} type veth peer name up0 netns {}",
                    hub.path()
                ),
                format!("addr add 10.213.{subnet}.1/24 dev {root_if}"),
                format!("link set {root_if} up"),
            ],
        )?;
        drop(lock);
        Ok((subnet, root_if))
    }

    /// Node `i`'s address.
    pub fn node_ip(&self, i: usize) -> String {
        format!("10.213.{}.{}", self.subnet, 10 + i)
    }

    /// Node `i`'s namespace (its redis-server runs in it).
    pub fn node_ns(&self, i: usize) -> Arc<NetNs> {
        self.nodes[i].clone()
    }

    /// Drops every packet between node `i` and `peers`, in both directions, as rule table
    /// `table` in node `i`'s namespace (the harness's address stays reachable).
    pub fn block(&self, i: usize, peers: &[usize], table: &str) -> Result<(), NetError> {
        let set = peers
            .iter()
            .map(|&p| self.node_ip(p))
            .collect::<Vec<_>>()
            .join(", ");
        let rules = format!(
            "table inet {table} {{\n\
             chain input {{ type filter hook input priority 0; policy accept; ip saddr {{ {set} }} drop; }}\n\
             chain output {{ type filter hook output priority 0; policy accept; ip daddr {{ {set} }} drop; }}\n\
             }}\n"
        );
        run(Some(&self.nodes[i]), "nft", &["-f", "-"], &rules)
    }

    /// Removes rule table `table` from node `i`'s namespace.
    pub fn unblock(&self, i: usize, table: &str) -> Result<(), NetError> {
        run(
            Some(&self.nodes[i]),
            "nft",
            &["delete", "table", "inet", table],
            "",
        )
    }

    /// The rule tables now in node `i`'s namespace (to verify a cut took effect).
    pub fn tables(&self, i: usize) -> Result<String, NetError> {
        let mut cmd = Command::new("nft");
        cmd.args(["list", "tables"]);
        enter(&mut cmd, &self.nodes[i]);
        let out = cmd.output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting one end of a veth deletes both; the namespaces go with their descriptors.
        let _ = ip(None, &[format!("link del {}", self.root_if)]);
    }
}
