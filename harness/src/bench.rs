//! What the proxy costs: GET round trips to a real redis-server, direct and through an embedded
//! proxy with no toxics. Throughput is measured with many connections in closed loops (every
//! connection sends its next GET when the last answer is in); added latency with one connection
//! at a time, where queueing does not hide it. Rounds alternate direct and proxied runs and the
//! report takes the median round, so a noisy neighbour on a 2-core machine skews both alike.
//!
//! Run: `fencepost bench proxy` or `cargo bench -p fencepost --bench proxy` (which also measures
//! proxies of other makes started by hand: see harness/benches/proxy.rs). It lives in the
//! harness, beside the command that runs it: the proxy crate itself starts no redis-server.

use std::fmt;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::proxy::{ProxyConfig, Registry};

/// A redis-server of the bench's own on a free 127.0.0.1 port, without persistence. Killed (by
/// its PID) when dropped.
pub struct RedisServer {
    child: Child,
    addr: SocketAddr,
    unix_socket: std::path::PathBuf,
}

impl RedisServer {
    /// Start `redis-server` (or `$FENCEPOST_REDIS_SERVER`) and wait until it answers PING.
    pub async fn start(port: Option<u16>) -> anyhow::Result<RedisServer> {
        let bin = std::env::var("FENCEPOST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = match port {
            Some(p) => p,
            None => std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port(),
        };
        let unix_socket = std::env::temp_dir().join(format!(
            "fencepost-bench-{}-{port}.sock",
            std::process::id()
        ));
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(&unix_socket)
            .args(["--unixsocketperm", "700"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--protected-mode", "yes", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = RedisServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            unix_socket,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = TcpStream::connect(server.addr).await {
                if round_trip(&mut conn, b"*1\r\n$4\r\nPING\r\n", 7)
                    .await
                    .is_ok()
                {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                bail!("{bin} did not answer on {} within 10 s", server.addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's Unix socket, in the form a proxy takes as its upstream.
    pub fn unix_upstream(&self) -> String {
        format!("unix:{}", self.unix_socket.display())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.unix_socket);
    }
}

/// Send one request and read exactly `reply_len` bytes of reply.
async fn round_trip(conn: &mut TcpStream, request: &[u8], reply_len: usize) -> std::io::Result<()> {
    let mut buf = [0u8; 256];
    conn.write_all(request).await?;
    let mut got = 0;
    while got < reply_len {
        // one request in flight: nothing but this reply can arrive, so read into the whole
        // buffer (a short read lets tokio skip the next, would-block, recv)
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(())
}

/// How to run the bench.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Connections in the throughput runs.
    pub connections: usize,
    /// Length of each throughput run.
    pub load_duration: Duration,
    /// Round trips in each single-connection latency run.
    pub latency_round_trips: usize,
    /// Alternating direct/proxied rounds; the median round is reported.
    pub rounds: usize,
    /// Start redis-server on this port instead of a free one (to point other proxies at it).
    pub redis_port: Option<u16>,
    /// Other proxies in front of that redis-server to measure alike, by name (for comparison).
    pub others: Vec<(String, SocketAddr)>,
}

impl Default for BenchConfig {
    fn default() -> BenchConfig {
        BenchConfig {
            connections: 50,
            load_duration: Duration::from_secs(3),
            latency_round_trips: 20_000,
            rounds: 3,
            redis_port: None,
            others: Vec::new(),
        }
    }
}

/// One throughput run.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadResult {
    pub round_trips: u64,
    pub round_trips_per_s: f64,
    pub median_us: f64,
    pub p99_us: f64,
    /// CPU time (user + system) of this process (clients, and the proxy when proxied) per
    /// round trip: robust to other load on the machine, where throughput is not.
    pub own_cpu_us_per_round_trip: f64,
    /// CPU time of redis-server per round trip.
    pub redis_cpu_us_per_round_trip: f64,
}

/// One path to redis-server, measured against the direct path of the same round (the direct
/// path itself has ratio 1 and adds nothing).
#[derive(Clone, Debug)]
pub struct PathReport {
    /// Median throughput run.
    pub load: LoadResult,
    /// Round trips per second through this path / direct, under load (median round).
    pub throughput_ratio: f64,
    /// One connection, unloaded.
    pub median_us: f64,
    /// This path's − direct median round trip, one connection (median round).
    pub added_median_us: f64,
}

/// What the bench measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub config: BenchConfig,
    pub direct: PathReport,
    /// Through the proxy to the node's Unix socket: the path fencepost's own runs use for the
    /// links to the nodes it starts, and the one the targets are judged on.
    pub proxied: PathReport,
    /// Through the proxy to the node's TCP port, as a Toxiproxy between hosts (and fencepost's
    /// links to nodes it did not start) work.
    pub proxied_tcp: PathReport,
    /// Through the other proxies of the config, in its order.
    pub others: Vec<PathReport>,
}

impl BenchReport {
    /// The targets of issue 4: throughput ≥ 70 % of direct, added median latency ≤ 50 µs.
    pub fn meets_targets(&self) -> bool {
        self.proxied.throughput_ratio >= 0.70 && self.proxied.added_median_us <= 50.0
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "GET round trips to redis-server, {} connections for {:?} per run, median of {} rounds",
            c.connections, c.load_duration, c.rounds,
        )?;
        writeln!(
            f,
            "| path | round trips/s | % of direct | median µs | p99 µs | CPU µs/round trip: bench process | redis-server | 1 connection: median µs | added µs |"
        )?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        let named = [
            ("direct (TCP)", &self.direct),
            (
                "proxy → node's Unix socket (fencepost's links)",
                &self.proxied,
            ),
            ("proxy → node's TCP port", &self.proxied_tcp),
        ];
        let others = c.others.iter().map(|(n, _)| n.as_str()).zip(&self.others);
        for (name, p) in named.into_iter().chain(others) {
            let r = &p.load;
            writeln!(
                f,
                "| {name} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                r.round_trips_per_s,
                p.throughput_ratio * 100.0,
                r.median_us,
                r.p99_us,
                r.own_cpu_us_per_round_trip,
                r.redis_cpu_us_per_round_trip,
                p.median_us,
                p.added_median_us
            )?;
        }
        writeln!(
            f,
            "throughput through fencepost's links: {:.1} % of direct (target ≥ 70 %); added median latency {:.1} µs (target ≤ 50 µs)",
            self.proxied.throughput_ratio * 100.0,
            self.proxied.added_median_us
        )?;
        write!(
            f,
            "targets {}",
            if self.meets_targets() {
                "met"
            } else {
                "NOT met"
            }
        )
    }
}

const KEY: &str = "fencepost:bench";
const VALUE: &str = "0123456789abcdef";

fn get_request() -> Vec<u8> {
    format!("*2\r\n$3\r\nGET\r\n${}\r\n{KEY}\r\n", KEY.len()).into_bytes()
}

fn get_reply_len() -> usize {
    format!("${}\r\n{VALUE}\r\n", VALUE.len()).len()
}

/// Run `connections` closed loops of GETs against `addr` for `duration`.
async fn load(
    redis_pid: u32,
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        let c = TcpStream::connect(addr).await?;
        c.set_nodelay(true)?;
        conns.push(c);
    }
    let start = Instant::now() + Duration::from_millis(50);
    let warm_until = start + Duration::from_millis(300);
    let end = warm_until + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        tasks.spawn(async move {
            let (req, reply_len) = (get_request(), get_reply_len());
            let mut samples_ns: Vec<u32> = Vec::with_capacity(1 << 16);
            tokio::time::sleep_until(start).await;
            loop {
                let t0 = std::time::Instant::now();
                round_trip(&mut conn, &req, reply_len).await?;
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if now >= warm_until {
                    samples_ns.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                }
            }
            Ok::<_, std::io::Error>(samples_ns)
        });
    }
    tokio::time::sleep_until(warm_until).await;
    let cpu_start = cpu_time_s(redis_pid);
    let mut all: Vec<u32> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r??);
    }
    let cpu_end = cpu_time_s(redis_pid);
    let n = all.len().max(1) as f64;
    let per_rt = |s: f64| s * 1e6 / n;
    all.sort_unstable();
    Ok(LoadResult {
        round_trips: all.len() as u64,
        round_trips_per_s: all.len() as f64 / duration.as_secs_f64(),
        median_us: percentile_us(&all, 0.5),
        p99_us: percentile_us(&all, 0.99),
        own_cpu_us_per_round_trip: per_rt(cpu_end.0 - cpu_start.0),
        redis_cpu_us_per_round_trip: per_rt(cpu_end.1 - cpu_start.1),
    })
}

/// CPU seconds (user + system) used so far by this process and by `pid`.
fn cpu_time_s(pid: u32) -> (f64, f64) {
    // SAFETY: getrusage only writes the struct we pass.
    let own = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    // /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks
    let other = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_comm = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_comm.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
            Some(ticks / hz)
        })
        .unwrap_or(0.0);
    (own, other)
}

/// Median round trip of one connection doing `n` sequential GETs.
async fn unloaded_median_us(addr: SocketAddr, n: usize) -> anyhow::Result<f64> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    let (req, reply_len) = (get_request(), get_reply_len());
    for _ in 0..n / 10 {
        round_trip(&mut conn, &req, reply_len).await?;
    }
    let mut samples: Vec<u32> = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = std::time::Instant::now();
        round_trip(&mut conn, &req, reply_len).await?;
        samples.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }
    samples.sort_unstable();
    Ok(percentile_us(&samples, 0.5))
}

fn percentile_us(sorted_ns: &[u32], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let i = ((sorted_ns.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted_ns[i]) / 1000.0
}

fn median_by<T: Clone>(mut xs: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    xs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    xs[xs.len() / 2].clone()
}

/// What one path measured in one round.
struct Sample {
    load: LoadResult,
    unloaded_median_us: f64,
}

/// Start a redis-server, measure direct and proxied round trips, stop it.
pub async fn bench_proxy(config: BenchConfig) -> anyhow::Result<BenchReport> {
    let redis = RedisServer::start(config.redis_port).await?;
    {
        let mut c = TcpStream::connect(redis.addr()).await?;
        let set = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{KEY}\r\n${}\r\n{VALUE}\r\n",
            KEY.len(),
            VALUE.len()
        );
        round_trip(&mut c, set.as_bytes(), 5).await?;
    }
    let registry = Registry::new(0);
    let mut addrs = vec![redis.addr()];
    for (name, upstream) in [
        ("bench-unix", redis.unix_upstream()),
        ("bench-tcp", redis.addr().to_string()),
    ] {
        let proxy = registry.create(ProxyConfig::new(name, upstream)).await?;
        addrs.push(proxy.listen_addr().context("proxy address")?);
    }
    addrs.extend(config.others.iter().map(|(_, addr)| *addr));

    // samples[path][round]; rounds run the paths in turn, so a noisy neighbour skews all alike
    let mut samples: Vec<Vec<Sample>> = addrs.iter().map(|_| Vec::new()).collect();
    for _ in 0..config.rounds.max(1) {
        for (path, &addr) in addrs.iter().enumerate() {
            let load = load(redis.pid(), addr, config.connections, config.load_duration).await?;
            let unloaded_median_us = unloaded_median_us(addr, config.latency_round_trips).await?;
            samples[path].push(Sample {
                load,
                unloaded_median_us,
            });
        }
    }
    registry.shutdown().await;
    drop(redis);

    let direct = &samples[0];
    let path_report = |through: &[Sample]| {
        let ratios = through
            .iter()
            .zip(direct)
            .map(|(p, d)| p.load.round_trips_per_s / d.load.round_trips_per_s.max(1.0))
            .collect();
        let added = through
            .iter()
            .zip(direct)
            .map(|(p, d)| p.unloaded_median_us - d.unloaded_median_us)
            .collect();
        PathReport {
            load: median_by(through.iter().map(|s| s.load).collect(), |r| {
                r.round_trips_per_s
            }),
            throughput_ratio: median_by(ratios, |x| *x),
            median_us: median_by(
                through.iter().map(|s| s.unloaded_median_us).collect(),
                |x| *x,
            ),
            added_median_us: median_by(added, |x| *x),
        }
    };
    Ok(BenchReport {
        direct: path_report(direct),
        proxied: path_report(&samples[1]),
        proxied_tcp: path_report(&samples[2]),
        others: samples[3..].iter().map(|s| path_report(s)).collect(),
        config,
    })
}
