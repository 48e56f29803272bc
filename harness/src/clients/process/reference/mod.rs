//! The reference adapter: fencepost's own locks (`single`, `redlock`) behind the client protocol.
//!
//! `fencepost adapter --lock single` is an adapter like any other (adapters/fencepost-single):
//! it reads the hello from stdin, connects fencepost's lock clients to the nodes it names, and
//! answers every op with what the lock said, stamped on `CLOCK_MONOTONIC`. Running the same
//! scenarios with it and with the in-process locks shows what the protocol changes — nothing
//! in the verdicts — and what it costs.
//!
//! It honours the field faults too, so they can be tried on fencepost's own lock: a call that
//! carries `abandon_after_ms` is dropped (the Rust way to give up on a future) if it has not
//! returned by then — the command may still land — and the lock object is forgotten; `starve`
//! busy-loops the thread running the lock's calls, without yielding, for `ms`.

mod flaw;

pub use flaw::{parse_flaw, AdapterFlaw, FLAWS};

use crate::recorder::monotonic_raw_ns;
use crate::scenario::lock::LockKind;
use checkers::Grant;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value as Json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use workloads::clock::Clock;
use workloads::conn::Conn;
use workloads::lock::redlock::{Redlock, RedlockConfig};
use workloads::lock::single::SingleLock;
use workloads::lock::{Acquired, LeaseConfig, LockClient, Released};
use workloads::outcome::CallError;

/// `redis://user:password@host:port/` from a hello endpoint.
fn url(e: &Json) -> anyhow::Result<String> {
    let s = |k: &str| {
        e.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let port = e
        .get("port")
        .and_then(Json::as_u64)
        .ok_or_else(|| anyhow::anyhow!("hello endpoint without a port"))?;
    Ok(format!(
        "redis://{}:{}@{}:{port}/",
        s("username"),
        s("password"),
        s("host")
    ))
}

struct Adapter {
    lock: LockClient,
    resource: Conn,
    script: redis::Script,
    clock: Clock,
    held: Option<(Grant, u64)>,
    /// A deliberately wrong part of its answers ([`flaw`]).
    lie: Option<flaw::Lie>,
    rng: ChaCha8Rng,
}

/// A call error as the protocol's outcome.
fn outcome(e: &CallError) -> &'static str {
    match e.kind() {
        checkers::OpKind::Fail => "fail",
        _ => "info",
    }
}

impl Adapter {
    async fn setup(
        kind: LockKind,
        adapter_flaw: Option<AdapterFlaw>,
        hello: &Json,
    ) -> anyhow::Result<(Adapter, Json)> {
        let flaw = adapter_flaw.and_then(AdapterFlaw::lock);
        let timeout = Duration::from_millis(hello["timeout_ms"].as_u64().unwrap_or(500));
        let name = hello["lock"]["name"]
            .as_str()
            .unwrap_or("guard")
            .to_string();
        let config = LeaseConfig {
            name,
            ttl_ms: hello["lock"]["ttl_ms"].as_u64().unwrap_or(1000),
            drift_ms: 2,
            op_timeout_ms: timeout.as_millis() as u64,
        };
        let nodes = hello["nodes"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("hello without nodes"))?;
        let urls: Vec<String> = nodes.iter().map(url).collect::<anyhow::Result<_>>()?;
        let connect = |u: String| async move {
            workloads::conn::connect(&u, timeout).await.map_err(|e| {
                anyhow::anyhow!("cannot connect to {}: {e}", crate::topology::redact(&u))
            })
        };
        let rng =
            ChaCha8Rng::seed_from_u64(hello["process"].as_u64().unwrap_or(0) ^ monotonic_raw_ns());
        let lock = match kind {
            LockKind::Single => {
                anyhow::ensure!(
                    urls.len() == 1,
                    "fencepost's single lock takes 1 node, not {}",
                    urls.len()
                );
                let conn = connect(urls[0].clone()).await?;
                let lock = SingleLock::new(config.clone(), conn, rng);
                LockClient::Single(match flaw {
                    Some(f) => lock.flawed(f),
                    None => lock,
                })
            }
            LockKind::Redlock => {
                anyhow::ensure!(
                    urls.len() >= 3,
                    "fencepost's Redlock takes 3 or more nodes, not {}",
                    urls.len()
                );
                let mut conns = Vec::new();
                for u in &urls {
                    conns.push(connect(u.clone()).await?);
                }
                LockClient::Redlock(
                    Redlock::new(config.clone(), RedlockConfig::default(), conns, rng)
                        .reconnecting(urls.clone()),
                )
            }
            other => anyhow::bail!(
                "the reference adapter runs single or redlock, not {}",
                other.name()
            ),
        };
        anyhow::ensure!(
            adapter_flaw.is_none() || kind == LockKind::Single,
            "the deliberate flaws are built into the single lock only"
        );
        let extends = kind == LockKind::Single;
        let library = match adapter_flaw {
            None => format!("fencepost-{}", kind.name()),
            Some(f) => format!("fencepost-{}+{}", kind.name(), f.name()),
        };
        let resource = connect(url(&hello["resource"])?).await?;
        let reply = json!({
            "type": "hello", "protocol": 1,
            "library": library,
            "package": "fencepost", "version": env!("CARGO_PKG_VERSION"),
            "runtime": "rust (in the fencepost binary)",
            "lock_keys": [config.lock_key()],
            "supports": {"acquire": true, "release": true, "extend": extends, "held": true,
                         "auto_renewal": false, "fencing_token": true, "validity": true,
                         "abandon": true, "starve": true},
        });
        Ok((
            Adapter {
                lock,
                resource,
                script: redis::Script::new(
                    hello["resource"]["script"].as_str().unwrap_or_default(),
                ),
                clock: Clock::new(),
                held: None,
                lie: match adapter_flaw {
                    Some(AdapterFlaw::Answer(l)) => Some(l),
                    _ => None,
                },
                rng: ChaCha8Rng::seed_from_u64(monotonic_raw_ns()),
            },
            reply,
        ))
    }

    /// The op's reply fields and outcome.
    async fn op(&mut self, op: &Json) -> (&'static str, Map<String, Json>) {
        let mut m = Map::new();
        let result = match op["op"].as_str().unwrap_or_default() {
            "acquire" => self.acquire(&mut m).await,
            "held" => {
                let until = self.held.as_ref().map_or(0, |(_, until)| *until);
                m.insert("held".into(), (until > self.clock.client_ns()).into());
                m.insert(VALID_UNTIL.into(), until.into());
                Ok(())
            }
            "extend" => self.extend(&mut m).await,
            "release" => match self.held.take() {
                Some((grant, _)) => self.lock.release(&grant).await.map(|r| {
                    m.insert("released".into(), (r == Released::Released).into());
                }),
                None => Err(CallError::Refused(
                    "no lock object: no grant to release".into(),
                )),
            },
            "access" => self.access(op, &mut m).await,
            _ => Err(CallError::Refused("unsupported op".into())),
        };
        if let Some(lie) = self.lie {
            let ttl_ns = self.lock.config().ttl_ms * 1_000_000;
            let op = op["op"].as_str().unwrap_or_default();
            lie.distort(op, &mut m, ttl_ns, self.held.is_some(), &mut self.rng);
        }
        match result {
            Ok(()) => ("ok", m),
            Err(e) => {
                m.insert("error".into(), e.to_string().into());
                (outcome(&e), m)
            }
        }
    }

    async fn acquire(&mut self, m: &mut Map<String, Json>) -> Result<(), CallError> {
        match self.lock.acquire(&self.clock).await? {
            Acquired::Granted {
                grant,
                valid_until_client_ns,
            } => {
                m.insert("granted".into(), true.into());
                m.insert("token".into(), grant.token.clone().into());
                m.insert("fence".into(), grant.fence.into());
                m.insert(VALID_UNTIL.into(), valid_until_client_ns.into());
                self.held = Some((grant, valid_until_client_ns));
            }
            Acquired::Denied => {
                m.insert("granted".into(), false.into());
            }
            Acquired::Lapsed => {
                m.insert("granted".into(), false.into());
                m.insert(
                    "note".into(),
                    "the lease ran out before the reply came".into(),
                );
            }
        }
        Ok(())
    }

    async fn extend(&mut self, m: &mut Map<String, Json>) -> Result<(), CallError> {
        let Some((grant, _)) = self.held.clone() else {
            return Err(CallError::Refused(
                "no lock object: no grant to extend".into(),
            ));
        };
        match self.lock.extend(&grant, &self.clock).await? {
            Some(until) => {
                self.held = Some((grant, until));
                m.insert("extended".into(), true.into());
                m.insert(VALID_UNTIL.into(), until.into());
            }
            None => {
                m.insert("extended".into(), false.into());
            }
        }
        Ok(())
    }

    /// The resource's access script, run as given.
    async fn access(&mut self, op: &Json, m: &mut Map<String, Json>) -> Result<(), CallError> {
        let mut inv = self.script.prepare_invoke();
        for k in op["keys"].as_array().into_iter().flatten() {
            inv.key(k.as_str().unwrap_or_default());
        }
        for a in op["args"].as_array().into_iter().flatten() {
            inv.arg(a.as_str().unwrap_or_default());
        }
        let timeout = Duration::from_millis(self.lock.config().op_timeout_ms);
        let (a, v) = workloads::outcome::with_timeout(
            timeout,
            inv.invoke_async::<(i64, i64)>(&mut self.resource),
        )
        .await?;
        m.insert("result".into(), json!([a, v]));
        Ok(())
    }
}

/// Where a reply's validity ends, on the lock's clock, until the reply is stamped: the validity
/// in ms is computed after the stamp, so that a stop of the process in between can only shorten
/// it (the protocol's validity is what is left at `complete_ns`).
const VALID_UNTIL: &str = "valid_until_ns";

impl Adapter {
    /// A call given up on after `after_ms` (its future dropped: what it sent may still land),
    /// and the lock object forgotten, as a user who gave up would.
    fn abandoned(&mut self, after_ms: u64) -> (&'static str, Map<String, Json>) {
        self.held = None;
        let mut m = Map::new();
        m.insert(
            "error".into(),
            format!("abandoned after {after_ms} ms").into(),
        );
        ("info", m)
    }

    /// The reply's validity in ms, from where it ends, read after the stamp.
    fn validity_after_stamp(&self, m: &mut Map<String, Json>) {
        if let Some(until) = m.remove(VALID_UNTIL).and_then(|v| v.as_u64()) {
            let left_ns = until.saturating_sub(self.clock.client_ns());
            m.insert("validity_ms".into(), (left_ns / 1_000_000).into());
        }
    }
}

/// Keeps this thread — the one running the lock's calls and timers — busy for `d` without
/// yielding to the runtime.
fn starve(d: Duration) {
    let started = std::time::Instant::now();
    while started.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// `fencepost adapter --lock KIND [--flaw FLAW]`: serves the protocol on stdin/stdout until end
/// of input.
pub async fn serve(kind: LockKind, flaw: Option<AdapterFlaw>) -> anyhow::Result<i32> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let send = |v: Json| {
        let mut line = serde_json::to_vec(&v).expect("json serializes");
        line.push(b'\n');
        line
    };
    let hello: Json = loop {
        match lines.next_line().await? {
            Some(l) if l.trim().is_empty() => continue,
            Some(l) => break serde_json::from_str(&l)?,
            None => return Ok(0),
        }
    };
    if hello["protocol"].as_u64() != Some(1) {
        out.write_all(&send(json!({"type": "hello", "protocol": 1, "error": "fencepost's reference adapter speaks protocol 1"}))).await?;
        return Ok(2);
    }
    let (mut adapter, reply) = match Adapter::setup(kind, flaw, &hello).await {
        Ok(a) => a,
        Err(e) => {
            out.write_all(&send(
                json!({"type": "hello", "protocol": 1, "error": e.to_string()}),
            ))
            .await?;
            out.flush().await?;
            return Ok(2);
        }
    };
    out.write_all(&send(reply)).await?;
    out.flush().await?;
    while let Some(l) = lines.next_line().await? {
        if l.trim().is_empty() {
            continue;
        }
        let op: Json = serde_json::from_str(&l)?;
        if op["type"] == "bye" {
            break;
        }
        let invoke_ns = monotonic_raw_ns();
        let (outcome, mut m) = match (op["op"].as_str(), op["abandon_after_ms"].as_u64()) {
            (Some("starve"), _) => {
                starve(Duration::from_millis(op["ms"].as_u64().unwrap_or(0)));
                ("ok", Map::new())
            }
            (Some("acquire" | "extend" | "release"), Some(after_ms)) => {
                match tokio::time::timeout(Duration::from_millis(after_ms), adapter.op(&op)).await {
                    Ok(answer) => answer,
                    Err(_) => adapter.abandoned(after_ms),
                }
            }
            _ => adapter.op(&op).await,
        };
        let complete_ns = monotonic_raw_ns();
        adapter.validity_after_stamp(&mut m);
        m.insert("type".into(), "reply".into());
        m.insert("id".into(), op["id"].clone());
        m.insert("op".into(), op["op"].clone());
        m.insert("outcome".into(), outcome.into());
        m.insert("invoke_ns".into(), invoke_ns.into());
        m.insert("complete_ns".into(), complete_ns.into());
        out.write_all(&send(Json::Object(m))).await?;
        out.flush().await?;
    }
    Ok(0)
}
