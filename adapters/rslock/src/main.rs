//! fencepost adapter for the `rslock` crate (Redlock for Rust), over all the hello's nodes.
//!
//! Speaks fencepost's client protocol (docs/client-protocol.md) on stdin/stdout. What rslock
//! 0.10.0 does, as this adapter relies on it (src/lock.rs of the crate):
//!
//! - `LockManager::new(urls)` makes one redis `Client` per node; each connection is made on first
//!   use with `get_multiplexed_async_connection()`, i.e. redis-rs' default timeouts (connect 1 s,
//!   response 500 ms), which rslock offers no way to change. The adapter therefore bounds every
//!   library call with `tokio::time::timeout(timeout_ms)` and answers `info` when it fires.
//! - `lock(name, ttl)` is `exec_or_retry`: SET name value NX PX ttl on every node at once
//!   (join_all: it waits for the slowest), the key is the resource bytes as given (no prefix), the
//!   value 20 random bytes (`get_unique_lock_id`). A node's error or timeout counts as a "no",
//!   exactly like a node that holds the key: the library cannot tell a denial from an unreachable
//!   node. Granted when a majority said OK and `ttl - drift - elapsed > 0`, drift =
//!   ttl * 0.01 + 2 ms, elapsed on `Instant`; that difference is `Lock::validity_time` (ms).
//!   If `ttl <= drift + elapsed` it returns `TtlExceeded` at once, without deleting what it set;
//!   otherwise a failed attempt deletes its value on every node (a second round) and, with
//!   `set_retry(1, _)`, returns `Unavailable` after that one attempt.
//! - `extend(lock, ttl)` is the same loop with a compare-and-SET PX script (SET only if the value
//!   is ours); a failed extension also deletes our value everywhere. The lock it returns is a new
//!   `Lock` with a fresh `validity_time`; the old one is left as it was.
//! - `unlock(lock)` runs compare-and-DEL on every node and returns `()`: "best effort", it never
//!   says whether anything was deleted.
//! - Connection errors, login errors and timeouts never surface: each node's call turns them into
//!   `false` (a "no"). So `Unavailable` is answered as the library's "no" (`granted`/`extended`
//!   false); the hello refuses to start when a node itself rejects the credentials (else every
//!   acquire would be a silent denial); and a call still running at `timeout_ms` is cancelled and
//!   answered `info`. With `timeout_ms` near redis-rs' fixed 500 ms, a call into a stopped node may
//!   end either way (the library's own timeout, then `ok`; or ours, then `info`).
//!
//! Older 0.x lines (`--client rslock@VERSION`): `build.rs` reads the resolved crate's own
//! signatures and sets cfgs, and the `compat` items below bridge them: the manager and its error
//! under their old names (`RedLock`, `RedLockError`), millisecond TTLs and retry delays, a `Lock`
//! that borrows its manager (the manager and the lock name are leaked once, so every lock is
//! `'static`; where `extend` borrows the lock as long as the manager, each held lock is leaked
//! too, a few dozen bytes per grant), errors without `TtlExceeded`/`TtlTooLarge` or `Display`,
//! and no connection warm-up before persistent connections existed (each call then connects
//! anew, as the library does). What the protocol asks is the same for every line.
//!
//! `abandon_after_ms` drops the library's future when it fires (tokio's timeout, as a caller
//! with a deadline would) and forgets the lock object; `starve` spins on the runtime's only
//! thread, so nothing of the library's runs meanwhile.
//!
//! Answers: a grant's `token` is the value as fencepost's node journal records it (the raw bytes
//! decoded as lossy UTF-8); `held` is rslock's validity arithmetic (the lock's `validity_time` less
//! the time since the call that produced it returned), the library having no `held` of its own;
//! `released` is `null`: `unlock()` returns `()` ("best effort") and never says whether it
//! deleted the key, so there is no answer of the library's to report or to judge.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::time::Duration;

use serde_json::{json, Map, Value as Json};

use compat::{err_text, is_denial, lock_arg, refused_before_sending, HeldLock, LockManager, RLock};

/// The API generations of rslock 0.x, as `build.rs` found them in the resolved crate.
mod compat {
    use std::time::Duration;

    #[cfg(not(rslock_redlock_names))]
    pub use rslock::{LockError, LockManager};
    #[cfg(rslock_redlock_names)]
    pub use rslock::{RedLock as LockManager, RedLockError as LockError};

    #[cfg(rslock_lock_lifetime)]
    pub type RLock = rslock::Lock<'static>;
    #[cfg(not(rslock_lock_lifetime))]
    pub type RLock = rslock::Lock;

    /// The lock object as the adapter keeps it: leaked where `extend` must borrow it as long as
    /// the manager.
    #[cfg(rslock_extend_borrows_lock)]
    pub type HeldLock = &'static RLock;
    #[cfg(not(rslock_extend_borrows_lock))]
    pub type HeldLock = RLock;

    #[cfg(rslock_extend_borrows_lock)]
    pub fn keep(lock: RLock) -> HeldLock {
        Box::leak(Box::new(lock))
    }
    #[cfg(not(rslock_extend_borrows_lock))]
    pub fn keep(lock: RLock) -> HeldLock {
        lock
    }

    #[cfg(rslock_extend_borrows_lock)]
    pub fn lock_arg(held: &HeldLock) -> &'static RLock {
        held
    }
    #[cfg(not(rslock_extend_borrows_lock))]
    pub fn lock_arg(held: &HeldLock) -> &RLock {
        held
    }

    /// A TTL as the library takes it.
    #[cfg(rslock_ttl_ms)]
    pub fn ttl(ms: u64) -> usize {
        ms as usize
    }
    #[cfg(not(rslock_ttl_ms))]
    pub fn ttl(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// One attempt per acquire/extend: exec_or_retry retries only while current_try (from 1) is
    /// below the count; the delay is then never used.
    pub fn one_attempt(manager: &mut LockManager) {
        #[cfg(rslock_retry_delay_ms)]
        manager.set_retry(1, 200);
        #[cfg(not(rslock_retry_delay_ms))]
        manager.set_retry(1, Duration::from_millis(200));
    }

    /// The library's "no": not enough nodes said yes (`Unavailable`: it cannot tell a node that
    /// holds the key from one it cannot reach), or the validity ran out while acquiring.
    pub fn is_denial(e: &LockError) -> bool {
        #[cfg(rslock_ttl_exceeded)]
        if matches!(e, LockError::TtlExceeded) {
            return true;
        }
        matches!(e, LockError::Unavailable)
    }

    /// Refused before anything was sent: the TTL does not fit, no random value.
    pub fn refused_before_sending(e: &LockError) -> bool {
        #[cfg(rslock_ttl_too_large)]
        if matches!(e, LockError::TtlTooLarge) {
            return true;
        }
        matches!(e, LockError::Io(_))
    }

    #[cfg(rslock_error_display)]
    pub fn err_text(e: &LockError) -> String {
        e.to_string()
    }
    #[cfg(not(rslock_error_display))]
    pub fn err_text(e: &LockError) -> String {
        format!("{e:?}")
    }

    /// Connects every node now, where the library keeps connections (a GET of the lock key
    /// through it); before that each call connected anew and there is nothing to warm.
    pub async fn warm_up(manager: &'static LockManager, key: &'static [u8], limit: Duration) {
        #[cfg(rslock_query)]
        let _ = tokio::time::timeout(limit, manager.query_redis_for_key_value(key)).await;
        #[cfg(not(rslock_query))]
        let _ = (manager, key, limit);
    }
}

const PROTOCOL: i64 = 1;
/// End of input or bye: exit this long after it at the latest, even with an op still running.
const EXIT_DEADLINE: Duration = Duration::from_millis(800);

/// The lock file cargo resolved this build with (written before compiling, also for a version
/// override), so the versions reported are the ones compiled in.
const CARGO_LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"));

// --- small helpers -----------------------------------------------------------------------------

fn log(msg: &str) {
    eprintln!("rslock-adapter: {msg}");
}

/// CLOCK_MONOTONIC in nanoseconds (fencepost reads the same clock).
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The version of `name` in Cargo.lock; with several, the one `parent` depends on.
fn locked_version(name: &str, parent: Option<&str>) -> Option<String> {
    let mut versions = Vec::new();
    let mut parent_dep: Option<String> = None;
    for block in CARGO_LOCK.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{key} = \""))
                    .and_then(|r| r.strip_suffix('"'))
                    .map(str::to_string)
            })
        };
        if field("name").as_deref() == Some(name) {
            versions.extend(field("version"));
        }
        if parent.is_some() && field("name").as_deref() == parent {
            // dependencies = [ "redis", ... ] or [ "redis 1.8.1", ... ]
            parent_dep = block
                .lines()
                .map(|l| l.trim().trim_end_matches(',').trim_matches('"'))
                .find_map(|d| d.strip_prefix(&format!("{name} ")).map(str::to_string));
        }
    }
    match parent_dep {
        Some(d) => Some(d.split_whitespace().next().unwrap_or("").to_string()),
        None => versions.into_iter().next(),
    }
}

/// Percent-encoding of a URL's user or password.
fn url_part(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn node_url(node: &Json) -> Result<String, String> {
    let host = node
        .get("host")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("a node without a \"host\": {node}"))?;
    let port = node
        .get("port")
        .and_then(Json::as_u64)
        .ok_or_else(|| format!("a node without a \"port\": {node}"))?;
    let user = node.get("username").and_then(Json::as_str).unwrap_or("");
    let password = node.get("password").and_then(Json::as_str).unwrap_or("");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let auth = match (user.is_empty(), password.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!(":{}@", url_part(password)),
        (false, _) => format!("{}:{}@", url_part(user), url_part(password)),
    };
    let url = format!("redis://{auth}{host}:{port}/");
    // rslock's LockManager::new unwraps Client::open: check the URL first.
    redis::Client::open(url.as_str())
        .map_err(|e| format!("bad node address {host}:{port}: {e}"))?;
    Ok(url)
}

// --- output ------------------------------------------------------------------------------------

/// The protocol's stdout: fd 1 as it was at start. fd 1 itself is pointed at stderr, so that
/// anything else printed lands in the stderr log.
struct Out(File);

impl Out {
    fn claim() -> Out {
        // SAFETY: plain fd duplication at start, before any other thread exists.
        unsafe {
            let fd = libc::dup(1);
            if fd < 0 {
                log("cannot duplicate stdout");
                std::process::exit(2);
            }
            libc::dup2(2, 1);
            Out(File::from_raw_fd(fd))
        }
    }

    fn write(&mut self, msg: &Json) {
        let mut line = msg.to_string();
        line.push('\n');
        if let Err(e) = self
            .0
            .write_all(line.as_bytes())
            .and_then(|()| self.0.flush())
        {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0); // fencepost is gone
            }
            log(&format!("cannot write stdout: {e}"));
            std::process::exit(2);
        }
    }
}

// --- input -------------------------------------------------------------------------------------

enum Input {
    Msg(Map<String, Json>),
    /// End of stdin, or bye.
    End,
    Malformed(String),
}

fn check_op(m: &Map<String, Json>) -> Result<(), String> {
    match m.get("type").and_then(Json::as_str) {
        Some("op") => {}
        Some("hello") => return Ok(()), // checked where it is expected
        Some(t) => {
            return Err(format!(
                "unexpected message type {t:?} (expected \"op\" or \"bye\")"
            ))
        }
        None => unreachable!(),
    }
    if !m.get("id").is_some_and(|v| v.is_i64() || v.is_u64()) {
        return Err(format!(
            "op without an integer \"id\": {}",
            Json::Object(m.clone())
        ));
    }
    if !m.get("op").is_some_and(Json::is_string) {
        return Err(format!(
            "op without a string \"op\": {}",
            Json::Object(m.clone())
        ));
    }
    Ok(())
}

/// Reads stdin on its own thread, in order; end of input and bye also start the exit deadline.
fn reader(tx: tokio::sync::mpsc::UnboundedSender<Input>) {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut line_no = 0u64;
    let end = |tx: &tokio::sync::mpsc::UnboundedSender<Input>| {
        let _ = tx.send(Input::End);
        std::thread::sleep(EXIT_DEADLINE);
        std::process::exit(0);
    };
    loop {
        let mut raw = Vec::new();
        match stdin.read_until(b'\n', &mut raw) {
            Ok(0) => end(&tx),
            Ok(_) => {}
            Err(e) => {
                log(&format!("cannot read stdin: {e}"));
                end(&tx)
            }
        }
        line_no += 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue; // an empty line is no message
        }
        let short = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
        let parsed: Result<Json, String> = std::str::from_utf8(&raw)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(s).map_err(|e| e.to_string()));
        let msg = match parsed {
            Ok(Json::Object(m)) if m.get("type").is_some_and(Json::is_string) => m,
            Ok(_) => {
                let _ = tx.send(Input::Malformed(format!(
                    "line {line_no}: not a JSON object with a \"type\": {short:?}"
                )));
                return;
            }
            Err(e) => {
                let _ = tx.send(Input::Malformed(format!(
                    "line {line_no}: not UTF-8 JSON ({e}): {short:?}"
                )));
                return;
            }
        };
        if msg.get("type").and_then(Json::as_str) == Some("bye") {
            end(&tx);
        }
        if let Err(e) = check_op(&msg) {
            let _ = tx.send(Input::Malformed(format!("line {line_no}: {e}")));
            return;
        }
        if tx.send(Input::Msg(msg)).is_err() {
            return;
        }
    }
}

// --- the adapter -------------------------------------------------------------------------------

/// The library's lock object and what the adapter knows about it.
struct Held {
    lock: HeldLock,
    /// CLOCK_MONOTONIC when the call that produced `lock` returned (its validity counts from there).
    since_ns: u64,
    /// Released through the library already.
    released: bool,
}

struct Adapter {
    /// Leaked once: a lock of the older lines borrows its manager and its name.
    manager: &'static LockManager,
    name: &'static str,
    ttl_ms: u64,
    timeout: Duration,
    held: Option<Held>,
    resource: redis::Client,
    resource_con: Option<redis::aio::MultiplexedConnection>,
    script: String,
    script_sha: String,
}

/// The fields and outcome of one reply.
struct Answer {
    outcome: &'static str,
    fields: Map<String, Json>,
    error: Option<String>,
}

fn ok(fields: Json) -> Answer {
    Answer {
        outcome: "ok",
        fields: match fields {
            Json::Object(m) => m,
            _ => Map::new(),
        },
        error: None,
    }
}

fn fail(error: impl Into<String>) -> Answer {
    Answer {
        outcome: "fail",
        fields: Map::new(),
        error: Some(error.into()),
    }
}

fn info(error: impl Into<String>) -> Answer {
    Answer {
        outcome: "info",
        fields: Map::new(),
        error: Some(error.into()),
    }
}

/// invoke_ns and complete_ns of the one library call of an op.
#[derive(Default)]
struct Stamp {
    invoke: Option<u64>,
    complete: Option<u64>,
}

/// How a library call bounded by the op's deadline and, maybe, its `abandon_after_ms` ended.
enum Ended<T> {
    Returned(T),
    /// The op's deadline (`timeout_ms`) passed: the future was dropped.
    TimedOut,
    /// `abandon_after_ms` passed first: the future was dropped.
    Abandoned,
}

impl Stamp {
    /// Awaits `fut` until `limit`, or until `abandon` when that is sooner; invoke_ns and
    /// complete_ns are taken right around it. Either way the future is dropped when it fires.
    async fn bounded<T>(
        &mut self,
        limit: Duration,
        abandon: Option<&(Duration, String)>,
        fut: impl std::future::Future<Output = T>,
    ) -> Ended<T> {
        let (bound, abandoning) = match abandon {
            Some((after, _)) if *after < limit => (*after, true),
            _ => (limit, false),
        };
        match self.call(bound, fut).await {
            Ok(v) => Ended::Returned(v),
            Err(_) if abandoning => Ended::Abandoned,
            Err(_) => Ended::TimedOut,
        }
    }

    /// Awaits `fut` bounded by `limit`; invoke_ns and complete_ns are taken right around it.
    async fn call<T>(
        &mut self,
        limit: Duration,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, tokio::time::error::Elapsed> {
        self.invoke = Some(mono_ns());
        let r = tokio::time::timeout(limit, fut).await;
        self.complete = Some(mono_ns());
        r
    }
}

fn token(lock: &RLock) -> String {
    // fencepost's node journal decodes values with from_utf8_lossy: the same text here.
    String::from_utf8_lossy(&lock.val).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Remaining validity of a lock object at `now_ns`, in ns (negative once it ran out).
fn remaining_ns(h: &Held, now_ns: u64) -> i128 {
    h.lock.validity_time as i128 * 1_000_000 - (now_ns as i128 - h.since_ns as i128)
}

fn ms_floor(ns: i128) -> i64 {
    ns.div_euclid(1_000_000) as i64
}

/// rslock counts a node it cannot log in to as a "no" (every acquire would be denied, with no
/// error): a node that rejects the credentials is refused here; one that cannot be reached is
/// only logged (it may be a fault).
async fn check_logins(nodes: &[Json], node_urls: &[String], warm: Duration) -> Result<(), String> {
    let mut checks = tokio::task::JoinSet::new();
    for (i, url) in node_urls.iter().enumerate() {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(warm))
            .set_response_timeout(Some(warm));
        checks.spawn(async move {
            let r = tokio::time::timeout(warm, async {
                let mut con = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                redis::cmd("PING")
                    .query_async::<redis::Value>(&mut con)
                    .await
            })
            .await;
            (i, r)
        });
    }
    while let Some(Ok((i, r))) = checks.join_next().await {
        let label = nodes[i]
            .get("name")
            .and_then(Json::as_str)
            .map_or_else(|| format!("node {}", i + 1), str::to_string);
        match r {
            Ok(Ok(_)) => {}
            Ok(Err(e))
                if e.kind() == redis::ErrorKind::AuthenticationFailed
                    || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm) =>
            {
                return Err(format!("lock node {label} refused the login: {e}"));
            }
            Ok(Err(e)) => log(&format!(
                "lock node {label}: {e} (rslock will count it as a no)"
            )),
            Err(_) => log(&format!(
                "lock node {label}: no answer within {} ms",
                warm.as_millis()
            )),
        }
    }
    Ok(())
}

/// The adapter's hello: what it loaded (from Cargo.lock) and what it supports.
fn hello_reply(lock_key: &str) -> Json {
    let rslock_version = locked_version("rslock", None).unwrap_or_else(|| "unknown".into());
    let redis_version = locked_version("redis", Some("rslock")).unwrap_or_else(|| "?".into());
    let tokio_version = locked_version("tokio", None).unwrap_or_else(|| "?".into());
    json!({
        "type": "hello",
        "protocol": PROTOCOL,
        "library": "rslock",
        "package": "rslock",
        "version": rslock_version,
        "runtime": format!("rust, redis {redis_version}, tokio {tokio_version}"),
        "lock_keys": [lock_key],
        "supports": {
            "acquire": true,
            "release": true,
            "extend": true,
            "held": true,
            "auto_renewal": false,
            "fencing_token": false,
            "validity": true,
            "abandon": true,
            "starve": true,
        },
    })
}

impl Adapter {
    async fn setup(hello: &Map<String, Json>) -> Result<(Adapter, Json), String> {
        let (mut adapter, nodes, node_urls) = Adapter::from_hello(hello)?;
        // Connect now, so the first op does not pay for it: rslock connects each node on first use
        // (a GET of the lock key through the library does that), and the resource connection.
        let warm = adapter.timeout.max(Duration::from_secs(2));
        compat::warm_up(adapter.manager, adapter.name.as_bytes(), warm).await;
        check_logins(nodes, &node_urls, warm).await?;
        if let Err(e) = adapter.connect_resource(warm).await {
            log(&format!("resource: {e} (retried on the first access)"));
        }
        let reply = hello_reply(adapter.name);
        Ok((adapter, reply))
    }

    /// The adapter the hello describes (not yet connected), with its nodes as given and as URLs.
    fn from_hello(hello: &Map<String, Json>) -> Result<(Adapter, &Vec<Json>, Vec<String>), String> {
        let lock = hello.get("lock").ok_or("the hello has no \"lock\"")?;
        let name = lock
            .get("name")
            .and_then(Json::as_str)
            .ok_or("the hello's lock has no \"name\"")?
            .to_string();
        let ttl_ms = lock
            .get("ttl_ms")
            .and_then(Json::as_u64)
            .ok_or("the hello's lock has no integer \"ttl_ms\"")?;
        let timeout_ms = hello
            .get("timeout_ms")
            .and_then(Json::as_u64)
            .ok_or("the hello has no integer \"timeout_ms\"")?;
        let nodes = hello
            .get("nodes")
            .and_then(Json::as_array)
            .ok_or("the hello has no \"nodes\" list")?;
        if nodes.is_empty() {
            return Err("rslock needs at least one lock node; the hello has none".into());
        }
        let node_urls = nodes.iter().map(node_url).collect::<Result<Vec<_>, _>>()?;
        let res = hello
            .get("resource")
            .ok_or("the hello has no \"resource\"")?;
        let script = res
            .get("script")
            .and_then(Json::as_str)
            .ok_or("the hello's resource has no \"script\"")?
            .to_string();
        let resource = redis::Client::open(node_url(res)?.as_str()).map_err(|e| e.to_string())?;
        let mut manager = LockManager::new(node_urls.clone());
        compat::one_attempt(&mut manager);
        let adapter = Adapter {
            manager: Box::leak(Box::new(manager)),
            script_sha: redis::Script::new(&script).get_hash().to_string(),
            script,
            name: Box::leak(name.into_boxed_str()),
            ttl_ms,
            timeout: Duration::from_millis(timeout_ms.max(1)),
            held: None,
            resource,
            resource_con: None,
        };
        Ok((adapter, nodes, node_urls))
    }

    fn op_ttl(&self, op: &Map<String, Json>) -> u64 {
        op.get("ttl_ms")
            .and_then(Json::as_u64)
            .unwrap_or(self.ttl_ms)
    }

    fn cancelled(&self, what: &str) -> Answer {
        info(format!(
            "no answer from rslock's {what} within {} ms (call cancelled; rslock waits for every node, with redis-rs' own 1 s connect and 500 ms response timeouts)",
            self.timeout.as_millis()
        ))
    }

    /// The op's `abandon_after_ms`: when to stop waiting for the library call, and its text.
    fn abandon(op: &Map<String, Json>) -> Option<(Duration, String)> {
        let v = op.get("abandon_after_ms")?;
        let ms = v.as_f64().filter(|ms| *ms >= 0.0)?;
        Some((Duration::from_secs_f64(ms / 1000.0), v.to_string()))
    }

    /// The answer to an abandoned call: `info`, and the lock object forgotten, as a user who gave
    /// up would drop it.
    fn abandoned(&mut self, what: String) -> Answer {
        self.held = None;
        info(format!("abandoned after {what} ms"))
    }

    async fn acquire(&mut self, op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let ttl = self.op_ttl(op);
        self.held = None;
        let call = self.manager.lock(self.name.as_bytes(), compat::ttl(ttl));
        let abandon = Self::abandon(op);
        match stamp.bounded(self.timeout, abandon.as_ref(), call).await {
            Ended::TimedOut => self.cancelled("lock"),
            Ended::Abandoned => self.abandoned(abandon.map(|a| a.1).unwrap_or_default()),
            Ended::Returned(Ok(lock)) => {
                log(&format!(
                    "op {}: granted, value {} (hex), validity {} ms",
                    op["id"],
                    hex(&lock.val),
                    lock.validity_time
                ));
                let answer = ok(json!({
                    "granted": true,
                    "validity_ms": lock.validity_time,
                    "token": token(&lock),
                    "fence": null,
                }));
                self.held = Some(Held {
                    lock: compat::keep(lock),
                    since_ns: stamp.complete.unwrap_or_else(mono_ns),
                    released: false,
                });
                answer
            }
            Ended::Returned(Err(e)) if is_denial(&e) => {
                log(&format!("op {}: not granted: {}", op["id"], err_text(&e)));
                ok(json!({"granted": false, "validity_ms": null, "token": null, "fence": null}))
            }
            Ended::Returned(Err(e)) if refused_before_sending(&e) => fail(err_text(&e)),
            Ended::Returned(Err(e)) => info(err_text(&e)),
        }
    }

    async fn extend(&mut self, op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let ttl = self.op_ttl(op);
        let Some(held) = self.held.as_mut() else {
            return fail("no lock object to extend: nothing was acquired, or a call was abandoned");
        };
        let call = self.manager.extend(lock_arg(&held.lock), compat::ttl(ttl));
        let abandon = Self::abandon(op);
        match stamp.bounded(self.timeout, abandon.as_ref(), call).await {
            Ended::TimedOut => self.cancelled("extend"),
            Ended::Abandoned => self.abandoned(abandon.map(|a| a.1).unwrap_or_default()),
            Ended::Returned(Ok(lock)) => {
                let validity = lock.validity_time;
                held.lock = compat::keep(lock);
                held.since_ns = stamp.complete.unwrap_or_else(mono_ns);
                ok(json!({"extended": true, "validity_ms": validity}))
            }
            Ended::Returned(Err(e)) if is_denial(&e) => {
                log(&format!("op {}: not extended: {}", op["id"], err_text(&e)));
                // The lock object is unchanged: its own validity goes on.
                let left = ms_floor(remaining_ns(held, stamp.complete.unwrap_or_else(mono_ns)));
                ok(
                    json!({"extended": false, "validity_ms": if held.released { Json::Null } else { left.into() }}),
                )
            }
            Ended::Returned(Err(e)) if refused_before_sending(&e) => fail(err_text(&e)),
            Ended::Returned(Err(e)) => info(err_text(&e)),
        }
    }

    async fn held(&mut self, _op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let Some(held) = self.held.as_ref() else {
            return fail("no lock object to ask: nothing was acquired, or a call was abandoned");
        };
        // rslock has no "held" of its own: a user goes by the lock's validity_time.
        let (is_held, validity) = stamp
            .call(self.timeout, async {
                if held.released {
                    (false, Json::Null)
                } else {
                    let left = remaining_ns(held, mono_ns());
                    (left > 0, ms_floor(left).into())
                }
            })
            .await
            .expect("no await inside");
        ok(json!({"held": is_held, "validity_ms": validity}))
    }

    async fn release(&mut self, op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let Some(held) = self.held.as_mut() else {
            return fail(
                "no lock object to release: nothing was acquired, or a call was abandoned",
            );
        };
        let abandon = Self::abandon(op);
        let call = self.manager.unlock(lock_arg(&held.lock));
        match stamp.bounded(self.timeout, abandon.as_ref(), call).await {
            Ended::TimedOut => self.cancelled("unlock"),
            Ended::Abandoned => self.abandoned(abandon.map(|a| a.1).unwrap_or_default()),
            Ended::Returned(()) => {
                // unlock() returns nothing: the library does not say whether it deleted the key.
                held.released = true;
                ok(json!({"released": null}))
            }
        }
    }

    /// Busy for the op's `ms` on the runtime's only thread, without yielding: rslock's futures,
    /// redis-rs' connections and timers make no progress meanwhile.
    fn starve(op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let Some(ms) = op.get("ms").and_then(Json::as_f64).filter(|ms| *ms >= 0.0) else {
            return fail(format!(
                "starve needs a number of milliseconds \"ms\", got {}",
                op.get("ms").unwrap_or(&Json::Null)
            ));
        };
        let start = mono_ns();
        stamp.invoke = Some(start);
        let end = start + (ms * 1e6) as u64;
        while mono_ns() < end {
            std::hint::spin_loop();
        }
        stamp.complete = Some(mono_ns());
        ok(json!({}))
    }

    async fn connect_resource(&mut self, limit: Duration) -> Result<(), String> {
        if self.resource_con.is_some() {
            return Ok(());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(limit))
            .set_response_timeout(Some(self.timeout));
        match tokio::time::timeout(
            limit,
            self.resource
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(Ok(con)) => {
                self.resource_con = Some(con);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("cannot connect to the resource: {e}")),
            Err(_) => Err(format!(
                "cannot connect to the resource within {} ms",
                limit.as_millis()
            )),
        }
    }

    async fn access(&mut self, op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        let strings = |k: &str| -> Vec<String> {
            op.get(k)
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| match v {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (keys, args) = (strings("keys"), strings("args"));
        let start = mono_ns();
        let deadline = tokio::time::Instant::now() + self.timeout;
        if let Err(e) = self.connect_resource(self.timeout).await {
            // Nothing was sent.
            stamp.invoke = Some(start);
            stamp.complete = Some(mono_ns());
            return fail(format!("{e} (not sent)"));
        }
        let mut con = self.resource_con.clone().expect("connected");
        let (sha, script) = (self.script_sha.clone(), self.script.clone());
        let run = async move {
            let mut evalsha = redis::cmd("EVALSHA");
            evalsha.arg(&sha).arg(keys.len()).arg(&keys).arg(&args);
            match evalsha.query_async::<redis::Value>(&mut con).await {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    let mut eval = redis::cmd("EVAL");
                    eval.arg(&script).arg(keys.len()).arg(&keys).arg(&args);
                    eval.query_async::<redis::Value>(&mut con).await
                }
                r => r,
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match stamp.call(left, run).await {
            Err(_) => {
                self.resource_con = None; // a fresh connection next time
                info(format!(
                    "no answer from the resource within {} ms",
                    self.timeout.as_millis()
                ))
            }
            Ok(Ok(v)) => ok(json!({"result": to_json(&v)})),
            Ok(Err(e)) => {
                let text = e.to_string();
                let server_reply = matches!(
                    e.kind(),
                    redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
                );
                if !server_reply {
                    self.resource_con = None; // a fresh connection next time
                }
                // An error reply before the script ran (NOPERM, NOAUTH, ...) changed nothing; an
                // error raised inside the script may come after some of its writes.
                let lower = text.to_lowercase();
                let in_script = lower.contains("script")
                    || lower.contains("user_function")
                    || lower.contains("@user");
                if server_reply && !in_script {
                    fail(text)
                } else {
                    info(text)
                }
            }
        }
    }

    async fn handle(&mut self, op: &Map<String, Json>, stamp: &mut Stamp) -> Answer {
        match op["op"].as_str().unwrap_or("") {
            "acquire" => self.acquire(op, stamp).await,
            "extend" => self.extend(op, stamp).await,
            "held" => self.held(op, stamp).await,
            "release" => self.release(op, stamp).await,
            "access" => self.access(op, stamp).await,
            "starve" => Self::starve(op, stamp),
            _ => fail("unsupported op"),
        }
    }
}

fn to_json(v: &redis::Value) -> Json {
    use redis::Value as V;
    match v {
        V::Nil => Json::Null,
        V::Int(i) => (*i).into(),
        V::BulkString(b) => String::from_utf8_lossy(b).into_owned().into(),
        V::Array(a) | V::Set(a) => a.iter().map(to_json).collect(),
        V::SimpleString(s) => s.clone().into(),
        V::Okay => "OK".into(),
        V::Boolean(b) => (*b).into(),
        V::Double(d) => json!(d),
        V::VerbatimString { text, .. } => text.clone().into(),
        other => format!("{other:?}").into(),
    }
}

fn reply(op: &Map<String, Json>, stamp: &Stamp, answer: Answer) -> Json {
    let now = mono_ns();
    let invoke = stamp.invoke.unwrap_or(now);
    let complete = stamp.complete.unwrap_or(now.max(invoke));
    let mut m = Map::new();
    m.insert("type".into(), "reply".into());
    m.insert("id".into(), op["id"].clone());
    m.insert("op".into(), op["op"].clone());
    m.insert("outcome".into(), answer.outcome.into());
    m.insert("invoke_ns".into(), invoke.into());
    m.insert("complete_ns".into(), complete.into());
    m.extend(answer.fields);
    m.insert(
        "error".into(),
        answer.error.map_or(Json::Null, Json::String),
    );
    Json::Object(m)
}

fn refuse(out: &mut Out, message: &str) -> ! {
    log(&format!("refusing the hello: {message}"));
    out.write(&json!({"type": "hello", "protocol": PROTOCOL, "error": message}));
    std::process::exit(2);
}

fn malformed(message: &str) -> ! {
    log(&format!("malformed input {message}"));
    std::process::exit(2);
}

fn main() {
    let mut out = Out::claim();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || reader(tx));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            log(&format!("cannot start tokio: {e}"));
            std::process::exit(2)
        });
    rt.block_on(async move {
        let hello = match rx.recv().await {
            None | Some(Input::End) => std::process::exit(0),
            Some(Input::Malformed(m)) => malformed(&m),
            Some(Input::Msg(m)) => m,
        };
        if hello.get("type").and_then(Json::as_str) != Some("hello") {
            malformed(&format!(
                "line 1: the first message must be the hello, got type {}",
                hello["type"]
            ));
        }
        if hello.get("protocol").and_then(Json::as_i64) != Some(PROTOCOL) {
            refuse(
                &mut out,
                &format!(
                    "this adapter speaks fencepost protocol {PROTOCOL}, not {}",
                    hello.get("protocol").unwrap_or(&Json::Null)
                ),
            );
        }
        let mut adapter = match Adapter::setup(&hello).await {
            Ok((adapter, fields)) => {
                out.write(&fields);
                adapter
            }
            Err(e) => refuse(&mut out, &format!("adapter setup failed: {e}")),
        };
        while let Some(input) = rx.recv().await {
            let op = match input {
                Input::End => std::process::exit(0),
                Input::Malformed(m) => malformed(&m),
                Input::Msg(m) => m,
            };
            if op.get("type").and_then(Json::as_str) != Some("op") {
                malformed("a second hello (expected \"op\" or \"bye\")");
            }
            let mut stamp = Stamp::default();
            let answer = adapter.handle(&op, &mut stamp).await;
            if answer.outcome == "info" {
                log(&format!(
                    "op {} ({}): info: {}",
                    op["id"],
                    op["op"],
                    answer.error.as_deref().unwrap_or("")
                ));
            }
            out.write(&reply(&op, &stamp, answer));
        }
        std::process::exit(0);
    });
}
