//! Taps: each lock node's own record of the lock keys, read from its replication stream.
//!
//! To judge what a lock library answered (the blame checker), fencepost needs what the nodes
//! actually did, not what the clients said. A tap connects to a lock node directly (not through
//! the fault proxy) as its admin user and asks for a replication stream (`PSYNC ? -1`): after the
//! snapshot (skipped; the lock keys are read directly instead) the node sends every effect it
//! applies, with values — a script's `SET` as `SET key value PXAT ms`, an extension as
//! `PEXPIREAT`, an expiry or a release as `DEL` (Redis before 7.0 sends `SET … PX ms` and
//! `PEXPIRE` relative to when it applied them: journaled as such, anchored by the record on the
//! node's clock); a sorted-set lease's `ZADD key score member` as a holding per member ending
//! at its score, `ZREM` as its release (any other command on a lock key is journaled as
//! unreadable: the node is blind from there). Each change of a lock key is journaled to
//! `node-events.jsonl` with the moment it arrived, and the node's `TIME` every 100 ms (expiries
//! are on its clock, which a clock fault may bend). The tap acknowledges offset 0 (the node
//! streams only after an acknowledgement) and never more, so `WAIT` never counts it. A node that
//! crashes loses its tap's stream (`lost`); the tap reconnects and reads the keys again.
//!
//! The record is whole only where the stream has caught up with the node. A node puts a new
//! replica online a server tick or two after its snapshot (up to ~200 ms), and buffers its
//! changes until then; a run that ended inside that stall after a reconnect left its last
//! grants and releases off the record, and blame read them as never made (found by explore on
//! python-redis-lock under a crash). So the tap publishes a mark on its node and reads the keys
//! only once the stream brings the mark back, and does the same when the run stops; a stream
//! that cannot catch up at the stop is journaled as lost there.

use crate::recorder::Recorder;
use checkers::node_record::{Change, NodeEvent};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where node events are written, line by line as they happen.
pub struct Journal {
    file: Mutex<std::fs::File>,
    rec: Arc<Recorder>,
}

impl Journal {
    pub fn create(path: &Path, rec: Arc<Recorder>) -> std::io::Result<Journal> {
        Ok(Journal {
            file: Mutex::new(std::fs::File::create(path)?),
            rec,
        })
    }

    fn write(&self, node: &str, change: Change) {
        let e = NodeEvent {
            time_ns: self.rec.now(),
            node: node.to_string(),
            change,
        };
        let mut line = serde_json::to_vec(&e).expect("events serialize");
        line.push(b'\n');
        let _ = self
            .file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(&line);
    }
}

/// What a tap reads: the lock keys, and the members of a sorted-set lease that mark its mode
/// rather than a holder (left out of the record).
#[derive(Clone, Debug, Default)]
pub struct Watched {
    pub keys: Vec<String>,
    pub markers: Vec<String>,
}

impl Watched {
    fn is_marker(&self, member: &str) -> bool {
        self.markers.iter().any(|m| m == member)
    }
}

/// The taps of a run.
pub struct Taps {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Taps {
    /// Starts one tap per lock node and waits (up to 10 s) until each streams: a grant made
    /// before its node's stream began could not be matched; `admin_url(node)` gives the node's
    /// admin URL (read again after a restart).
    pub async fn start(
        nodes: &[String],
        admin_url: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        watched: Watched,
        journal: Arc<Journal>,
    ) -> Taps {
        let (stop, rx) = watch::channel(false);
        let admin_url = Arc::new(admin_url);
        let mut ready = Vec::new();
        let mut tasks = Vec::new();
        for n in nodes {
            let (n, watched, journal, rx, url) = (
                n.clone(),
                watched.clone(),
                journal.clone(),
                rx.clone(),
                admin_url.clone(),
            );
            let (tx, started) = tokio::sync::oneshot::channel();
            ready.push((n.clone(), started));
            tasks.push(tokio::spawn(async move {
                tap(&n, &*url, &watched, &journal, rx, tx).await
            }));
        }
        for (n, started) in ready {
            if tokio::time::timeout(Duration::from_secs(10), started)
                .await
                .is_err()
            {
                eprintln!("fencepost: warning: the tap on {n} did not start streaming within 10 s; grants before its first record are not judged");
            }
        }
        Taps { stop, tasks }
    }

    /// Stops the taps once each has caught up with its node (or given up on it).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(STOP_SYNC + Duration::from_secs(1), t).await;
        }
    }
}

async fn tap(
    node: &str,
    admin_url: &(dyn Fn(&str) -> Option<String> + Send + Sync),
    watched: &Watched,
    journal: &Journal,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut first = true;
    let mut ready = Some(ready);
    while !*stop.borrow() {
        if let Some(url) = admin_url(node) {
            let r = session(
                node, &url, watched, journal, &mut stop, &mut first, &mut ready,
            )
            .await;
            if r.is_ok() {
                return;
            }
        }
        if !first {
            journal.write(node, Change::Lost);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// `redis://user:password@host:port/` → (user, password, host:port).
fn parts(url: &str) -> Option<(String, String, String)> {
    let rest = url.split_once("://")?.1.trim_end_matches('/');
    let (creds, addr) = rest.rsplit_once('@')?;
    let (user, pass) = creds.split_once(':')?;
    Some((user.into(), pass.into(), addr.into()))
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).into_bytes());
        out.extend(a.as_bytes());
        out.extend(b"\r\n");
    }
    out
}

type Reader = BufReader<tokio::net::tcp::OwnedReadHalf>;

async fn line(r: &mut Reader) -> Result<String, String> {
    let mut s = String::new();
    let n = r.read_line(&mut s).await.map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("the node closed the stream".into());
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// One command of the stream: an array of bulk strings.
async fn command(r: &mut Reader) -> Result<Vec<Vec<u8>>, String> {
    let head = loop {
        let l = line(r).await?;
        if !l.is_empty() {
            break l;
        }
    };
    let n: usize = head
        .strip_prefix('*')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected line in the replication stream: {head:?}"))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let h = line(r).await?;
        let len: usize = h
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected bulk header {h:?}"))?;
        let mut buf = vec![0u8; len + 2];
        r.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        buf.truncate(len);
        out.push(buf);
    }
    Ok(out)
}

/// Skips the snapshot that opens a full resynchronization (`$len` or diskless `$EOF:mark`).
async fn skip_rdb(r: &mut Reader) -> Result<(), String> {
    let head = loop {
        let l = line(r).await?;
        if !l.is_empty() {
            break l;
        }
    };
    if let Some(mark) = head.strip_prefix("$EOF:") {
        let mark = mark.as_bytes();
        let mut tail: Vec<u8> = Vec::new();
        let mut byte = [0u8; 1];
        while !tail.ends_with(mark) {
            r.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
            tail.push(byte[0]);
            if tail.len() > mark.len() * 4 {
                tail.drain(..tail.len() - mark.len());
            }
        }
        return Ok(());
    }
    let len: u64 = head
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected snapshot header {head:?}"))?;
    let mut take = r.take(len);
    tokio::io::copy(&mut take, &mut tokio::io::sink())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn session(
    node: &str,
    url: &str,
    watched: &Watched,
    journal: &Journal,
    stop: &mut watch::Receiver<bool>,
    first: &mut bool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), String> {
    let (mut r, mut wr) = open_stream(url).await?;
    let admin = admin_connection(url).await?;
    let (seen_tx, mut seen) = watch::channel(0u64);
    // An acknowledgement every tick and the node's clock every fifth (100 ms): after a diskless
    // snapshot the node streams only once its replica has acknowledged while it is online (up
    // to a server tick after the snapshot was sent), so the first acknowledgements come often.
    // Offset 0, never moved on: `WAIT` counts replicas by the offset they acknowledged, so it
    // never counts the tap.
    // A failed acknowledgement is a lost stream as much as a failed read: whichever notices a
    // dead node first (a node stopped, then killed, may fail the write before the read sees the
    // end), the session ends in error, so the loss is journaled and the tap reconnects.
    let mut clock = admin.clone();
    let sampler = async {
        let mut tick = tokio::time::interval(ACK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut acks = 0u64;
        loop {
            tick.tick().await;
            wr.write_all(&resp(&["REPLCONF", "ACK", "0"]))
                .await
                .map_err(|e| format!("the node's stream broke: {e}"))?;
            if acks.is_multiple_of(CLOCK_EVERY_ACKS) {
                clock_sample(node, &mut clock, journal).await;
            }
            acks = acks.wrapping_add(1);
        }
    };
    let reader = async {
        loop {
            let cmd = command(&mut r).await?;
            match sync_mark(&cmd) {
                Some(n) => {
                    seen_tx.send_replace(n);
                }
                None => apply(node, &cmd, watched, journal),
            }
        }
    };
    let control = async {
        let mut admin = admin;
        // The keys are read once the stream is live, so that every change after the reading
        // reaches the record as it happens (not a stall later, nor never if the run ends first).
        let start = async {
            catch_up(&mut admin, &mut seen, 1, CONNECT_SYNC).await?;
            snapshot(node, &mut admin, watched, journal, *first).await;
            Ok::<(), String>(())
        };
        tokio::select! {
            r = start => r?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        *first = false;
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        let _ = stop.wait_for(|s| *s).await;
        // Everything the node did before the run stopped is on record only once the stream
        // has caught up with it; if it cannot say so, the record may miss the run's last
        // changes on this node: it is blind from here.
        if let Err(e) = catch_up(&mut admin, &mut seen, 2, STOP_SYNC).await {
            eprintln!("fencepost: warning: the tap on {node} could not catch up with its node when the run stopped ({e}); its last changes are not judged");
            journal.write(node, Change::Lost);
        }
        Ok(())
    };
    tokio::select! {
        r = control => r,
        r = sampler => r,
        r = reader => r,
    }
}

/// How often a tap acknowledges its stream.
const ACK_EVERY: Duration = Duration::from_millis(20);
/// The node's clock is read every this many acknowledgements (100 ms).
const CLOCK_EVERY_ACKS: u64 = 5;
/// How long a (re)connected tap waits for its stream to go live before it gives up and tries
/// again.
const CONNECT_SYNC: Duration = Duration::from_secs(2);
/// How long a tap waits, once the run stopped, for its stream to catch up with its node.
const STOP_SYNC: Duration = Duration::from_secs(1);
/// The channel a tap publishes its marks on (no one listens).
const SYNC_CHANNEL: &str = "fencepost:tap-sync";

/// Publishes mark `n` on the tap's node and waits until the stream brings it back: a node
/// streams a `PUBLISH` to its replicas in order with its writes, so every change it made before
/// the mark is then on record.
async fn catch_up(
    admin: &mut redis::aio::MultiplexedConnection,
    seen: &mut watch::Receiver<u64>,
    n: u64,
    within: Duration,
) -> Result<(), String> {
    let sync = async {
        let _receivers: i64 = redis::cmd("PUBLISH")
            .arg(SYNC_CHANNEL)
            .arg(n)
            .query_async(admin)
            .await
            .map_err(|e| format!("cannot publish the tap's mark: {e}"))?;
        seen.wait_for(|&s| s >= n)
            .await
            .map_err(|_| "the stream's reader ended".to_string())?;
        Ok(())
    };
    tokio::time::timeout(within, sync).await.map_err(|_| {
        format!(
            "the stream did not catch up with the node within {} ms",
            within.as_millis()
        )
    })?
}

/// The tap's own mark, if `cmd` is one: `PUBLISH fencepost:tap-sync N`.
fn sync_mark(cmd: &[Vec<u8>]) -> Option<u64> {
    match cmd {
        [name, channel, n]
            if name.eq_ignore_ascii_case(b"PUBLISH") && channel == SYNC_CHANNEL.as_bytes() =>
        {
            std::str::from_utf8(n).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// Logs in as the admin user and asks for a replication stream at once (no wait for more
/// replicas) that the node does not time out; returns it past the snapshot, which is skipped.
async fn open_stream(url: &str) -> Result<(Reader, OwnedWriteHalf), String> {
    let (user, pass, addr) = parts(url).ok_or("bad admin URL")?;
    let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (rd, mut wr) = stream.into_split();
    let mut r = BufReader::new(rd);
    for args in [
        vec!["AUTH", &user, &pass],
        vec!["CONFIG", "SET", "repl-diskless-sync-delay", "0"],
        vec!["CONFIG", "SET", "repl-timeout", "3600"],
        vec!["REPLCONF", "capa", "eof", "capa", "psync2"],
    ] {
        wr.write_all(&resp(&args))
            .await
            .map_err(|e| e.to_string())?;
        let l = line(&mut r).await?;
        if l.starts_with('-') && args[0] == "AUTH" {
            return Err(format!("the tap cannot log in: {l}"));
        }
    }
    wr.write_all(&resp(&["PSYNC", "?", "-1"]))
        .await
        .map_err(|e| e.to_string())?;
    let l = loop {
        let l = line(&mut r).await?;
        if !l.is_empty() {
            break l;
        }
    };
    if !l.starts_with("+FULLRESYNC") && !l.starts_with("+CONTINUE") {
        return Err(format!("the node refused a replication stream: {l}"));
    }
    skip_rdb(&mut r).await?;
    Ok((r, wr))
}

/// An admin connection to the node, for its clock, its keys and the tap's marks.
async fn admin_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| "admin connection timed out".to_string())?
    .map_err(|e| e.to_string())
}

/// The keys as they are now (the stream's snapshot was skipped) and the node's clock,
/// journaled. A key that holds nothing is journaled only on a re-read (after a lost stream: the
/// key may have gone meanwhile).
async fn snapshot(
    node: &str,
    admin: &mut redis::aio::MultiplexedConnection,
    watched: &Watched,
    journal: &Journal,
    first: bool,
) {
    let now_ms = clock_sample(node, admin, journal).await;
    for k in &watched.keys {
        let kind: String = redis::cmd("TYPE")
            .arg(k)
            .query_async(&mut *admin)
            .await
            .unwrap_or_default();
        if kind == "zset" {
            zset_snapshot(node, k, watched, now_ms, admin, journal, first).await;
            continue;
        }
        let v: Option<String> = redis::cmd("GET")
            .arg(k)
            .query_async(&mut *admin)
            .await
            .unwrap_or(None);
        let pttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut *admin)
            .await
            .unwrap_or(-2);
        if v.is_some() || !first {
            journal.write(
                node,
                Change::Snapshot {
                    key: k.clone(),
                    value: v,
                    pttl_ms: (pttl >= 0).then_some(pttl as u64),
                },
            );
        }
    }
}

/// A sorted-set lease as it is now: on a re-read the set as a whole first (the node sees again),
/// then each holder member with what is left of its lease (its score against the node's clock
/// as just read, `now_ms`); markers and members already past their score are left out.
async fn zset_snapshot(
    node: &str,
    key: &str,
    watched: &Watched,
    now_ms: Option<u64>,
    admin: &mut redis::aio::MultiplexedConnection,
    journal: &Journal,
    first: bool,
) {
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(admin)
        .await
        .unwrap_or_default();
    if !first {
        journal.write(
            node,
            Change::Snapshot {
                key: key.to_string(),
                value: None,
                pttl_ms: None,
            },
        );
    }
    for (member, score) in members {
        if watched.is_marker(&member) {
            continue;
        }
        let left_ms = now_ms.map(|now| score as i64 - now as i64);
        if left_ms.is_some_and(|l| l <= 0) {
            continue;
        }
        journal.write(
            node,
            Change::Snapshot {
                key: checkers::node_record::member_key(key, &member),
                value: Some(member),
                pttl_ms: left_ms.map(|l| l as u64),
            },
        );
    }
}

async fn clock_sample(
    node: &str,
    admin: &mut redis::aio::MultiplexedConnection,
    journal: &Journal,
) -> Option<u64> {
    let sent_ns = journal.rec.now();
    let t: Result<(u64, u64), _> = tokio::time::timeout(
        Duration::from_millis(200),
        redis::cmd("TIME").query_async(admin),
    )
    .await
    .map_err(|_| ())
    .and_then(|r| r.map_err(|_| ()));
    let (s, us) = t.ok()?;
    let node_ms = s * 1000 + us / 1000;
    // The round trip bounds how stale the reading is when it is journaled: under load (a
    // contention burst on two cores) it was seen past the fixed 5 ms slack.
    journal.write(
        node,
        Change::Clock {
            node_ms,
            rtt_ns: journal.rec.now().saturating_sub(sent_ns),
        },
    );
    Some(node_ms)
}

/// Journals what one command of the stream did to the lock keys.
fn apply(node: &str, cmd: &[Vec<u8>], watched: &Watched, journal: &Journal) {
    let keys = &watched.keys;
    let text = |i: usize| cmd.get(i).map(|b| String::from_utf8_lossy(b).into_owned());
    let Some(name) = text(0).map(|n| n.to_ascii_uppercase()) else {
        return;
    };
    let is_lock = |k: &Option<String>| k.as_ref().is_some_and(|k| keys.contains(k));
    match name.as_str() {
        "SET" if is_lock(&text(1)) => {
            let (mut expire_at_ms, mut ttl_ms) = (None, None);
            let number = |i: usize| text(i).and_then(|v| v.parse::<u64>().ok());
            let mut i = 3;
            while let Some(opt) = text(i) {
                match opt.to_ascii_uppercase().as_str() {
                    "PXAT" => expire_at_ms = number(i + 1),
                    "EXAT" => expire_at_ms = number(i + 1).map(|s| s * 1000),
                    // Redis before 7.0 sends the client's relative expiry as it was given.
                    "PX" => ttl_ms = number(i + 1),
                    "EX" => ttl_ms = number(i + 1).map(|s| s * 1000),
                    _ => {}
                }
                i += 1;
            }
            let (key, value) = (text(1).unwrap_or_default(), text(2).unwrap_or_default());
            let change = match (expire_at_ms, ttl_ms) {
                (None, Some(ttl_ms)) => Change::SetFor { key, value, ttl_ms },
                _ => Change::Set {
                    key,
                    value,
                    expire_at_ms,
                },
            };
            journal.write(node, change);
        }
        "PEXPIRE" | "EXPIRE" if is_lock(&text(1)) => {
            match text(2).and_then(|v| v.parse::<u64>().ok()) {
                Some(n) => journal.write(
                    node,
                    Change::ExpireIn {
                        key: text(1).unwrap_or_default(),
                        ttl_ms: if name == "EXPIRE" { n * 1000 } else { n },
                    },
                ),
                None => journal.write(
                    node,
                    Change::Unreadable {
                        key: text(1).unwrap_or_default(),
                        command: name,
                    },
                ),
            }
        }
        "PEXPIREAT" | "EXPIREAT" if is_lock(&text(1)) => {
            let at = text(2).and_then(|v| v.parse::<u64>().ok());
            if let Some(at) = at {
                journal.write(
                    node,
                    Change::Expire {
                        key: text(1).unwrap_or_default(),
                        expire_at_ms: if name == "EXPIREAT" { at * 1000 } else { at },
                    },
                );
            }
        }
        "DEL" | "UNLINK" => {
            for i in 1..cmd.len() {
                let k = text(i);
                if is_lock(&k) {
                    journal.write(
                        node,
                        Change::Del {
                            key: k.unwrap_or_default(),
                        },
                    );
                }
            }
        }
        // A sorted-set lease (Symfony's RedisStore): each member a holder whose lease ends at
        // its score, on the node's clock. Each member is a holding of its own in the record
        // (`checkers::node_record::member_key`); the set's own expiry and the removal of members
        // already past their score change nothing the members' scores do not say.
        "ZADD" if is_lock(&text(1)) => {
            let key = text(1).unwrap_or_default();
            let mut i = 2;
            while text(i).is_some_and(|o| {
                matches!(
                    o.to_ascii_uppercase().as_str(),
                    "NX" | "XX" | "GT" | "LT" | "CH" | "INCR"
                )
            }) {
                i += 1;
            }
            while let (Some(score), Some(member)) = (text(i), text(i + 1)) {
                if watched.is_marker(&member) {
                    i += 2;
                    continue;
                }
                let expire_at_ms = score.parse::<f64>().ok().map(|s| s as u64);
                journal.write(
                    node,
                    Change::Set {
                        key: checkers::node_record::member_key(&key, &member),
                        value: member,
                        expire_at_ms,
                    },
                );
                i += 2;
            }
        }
        "ZREM" if is_lock(&text(1)) => {
            let key = text(1).unwrap_or_default();
            for i in 2..cmd.len() {
                if let Some(member) = text(i).filter(|m| !watched.is_marker(m)) {
                    journal.write(
                        node,
                        Change::Del {
                            key: checkers::node_record::member_key(&key, &member),
                        },
                    );
                }
            }
        }
        "ZREMRANGEBYSCORE" if is_lock(&text(1)) => {}
        // The stream carries writes only: any other command on a lock key changed it in a way
        // the record cannot read (a hash's HSET, a list's LPUSH).
        "PING" | "SELECT" | "MULTI" | "EXEC" => {}
        _ if is_lock(&text(1)) => journal.write(
            node,
            Change::Unreadable {
                key: text(1).unwrap_or_default(),
                command: name,
            },
        ),
        _ => {}
    }
}
