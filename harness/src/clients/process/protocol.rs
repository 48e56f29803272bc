//! One adapter process and the protocol on its pipes (docs/client-protocol.md).
//!
//! The process is spawned with a parent-death signal (it dies with fencepost, even by SIGKILL) in
//! a process group of its own (so a stop or a kill reaches every thread and child), with stdin
//! and stdout as pipes and stderr into a file of the run folder. A reader task turns stdout into
//! lines. Everything the adapter says is checked: a line that is not JSON, a reply to an op not
//! asked, another protocol version — each is a [`ProtocolError`] naming the adapter, the line
//! and the fix.

use serde::Serialize;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::handles::ProcessControl;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

pub const PROTOCOL: u64 = 1;

/// What an adapter did wrong, or what happened to it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProtocolError {
    #[error("the adapter `{adapter}` printed something that is not a protocol line: {line:?} ({why}); write logs to stderr, and one JSON object per line to stdout")]
    NotJson {
        adapter: String,
        line: String,
        why: String,
    },
    #[error("the adapter `{adapter}` answered {got} where fencepost asked {asked}: {line:?}; answer each op once, in order, with its id and op")]
    Unexpected {
        adapter: String,
        asked: String,
        got: String,
        line: String,
    },
    #[error("the adapter `{adapter}` speaks protocol {got}; fencepost speaks {PROTOCOL}: update the adapter to docs/client-protocol.md")]
    Version { adapter: String, got: String },
    #[error("the adapter `{adapter}` refused to run: {message}")]
    Refused { adapter: String, message: String },
    #[error("the adapter `{adapter}` exited ({status}) before answering{stderr}")]
    Exited {
        adapter: String,
        status: String,
        stderr: String,
    },
    #[error("the adapter `{adapter}` did not answer {what} within {waited_ms} ms{stderr}")]
    Silent {
        adapter: String,
        what: String,
        waited_ms: u64,
        stderr: String,
    },
    #[error("cannot start the adapter `{adapter}` ({program}): {error}; check that the program exists and is executable")]
    Spawn {
        adapter: String,
        program: String,
        error: String,
    },
    #[error("the adapter `{adapter}`'s hello lacks {field}: answer with library, version, lock_keys and supports (docs/client-protocol.md)")]
    Hello { adapter: String, field: String },
    #[error("the adapter `{adapter}` answered {field} = {value} to {what}: {why}")]
    BadField {
        adapter: String,
        what: String,
        field: String,
        value: String,
        why: String,
    },
}

impl ProtocolError {
    /// The adapter broke the protocol (what it said was wrong), as opposed to a process that
    /// exited, went silent or could not start — which faults (a kill, a pause) cause too.
    pub fn is_violation(&self) -> bool {
        matches!(
            self,
            ProtocolError::NotJson { .. }
                | ProtocolError::Unexpected { .. }
                | ProtocolError::Version { .. }
                | ProtocolError::Hello { .. }
                | ProtocolError::BadField { .. }
        )
    }
}

/// The first node-facing settings of a client, sent in the hello.
#[derive(Debug, Clone, Serialize)]
pub struct Hello {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub protocol: u64,
    pub process: u32,
    pub lock: HelloLock,
    pub nodes: Vec<Endpoint>,
    pub resource: ResourceEndpoint,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelloLock {
    pub name: String,
    pub ttl_ms: u64,
    pub auto_renewal: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub script: String,
}

pub use crate::store::{ClientInfo, Supports};

/// One reply, as read (fields the op did not need are absent).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub outcome: String,
    pub invoke_ns: Option<u64>,
    pub complete_ns: Option<u64>,
    pub error: Option<String>,
    pub body: serde_json::Map<String, Json>,
}

impl Reply {
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.body.get(key).and_then(Json::as_bool)
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.body.get(key).and_then(Json::as_i64)
    }
    pub fn text(&self, key: &str) -> Option<String> {
        match self.body.get(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// A `CLOCK_MONOTONIC` stamp: an integer or a decimal string.
fn stamp(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// How one line from the adapter ended up.
#[derive(Debug)]
enum Line {
    Text(String),
    Eof,
}

/// A running adapter.
pub struct AdapterProcess {
    pub label: String,
    child: Option<Child>,
    stdin: tokio::process::ChildStdin,
    lines: mpsc::UnboundedReceiver<Line>,
    pub stderr_path: PathBuf,
    control: Arc<ProcessControl>,
    next_id: u64,
}

impl AdapterProcess {
    /// Starts the adapter: its own process group, the parent-death signal, pipes, stderr to
    /// `stderr_path`, and `env` on top of a minimal environment.
    pub fn spawn(
        installed: &super::adapter::Installed,
        env: &[(String, String)],
        stderr_path: &Path,
        control: Arc<ProcessControl>,
    ) -> Result<AdapterProcess, ProtocolError> {
        let spawn_err = |error: String| ProtocolError::Spawn {
            adapter: installed.label.clone(),
            program: installed.program.display().to_string(),
            error,
        };
        let stderr = std::fs::File::create(stderr_path).map_err(|e| spawn_err(e.to_string()))?;
        let mut cmd = Command::new(&installed.program);
        cmd.args(&installed.args)
            .current_dir(&installed.cwd)
            .env_clear()
            .envs(
                [
                    "PATH",
                    "HOME",
                    "LANG",
                    "LC_ALL",
                    "TMPDIR",
                    "SYSTEMROOT",
                    "FENCEPOST_ADAPTER_LOG",
                ]
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))),
            )
            .env("FENCEPOST_PROTOCOL", PROTOCOL.to_string())
            .env("PYTHONUNBUFFERED", "1")
            .envs(installed.env.iter().cloned())
            .envs(env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = crate::nodes::spawner::spawn(cmd).map_err(|e| spawn_err(e.to_string()))?;
        let pid = child.id() as i32;
        control.set(pid);
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin =
            tokio::process::ChildStdin::from_std(stdin).map_err(|e| spawn_err(e.to_string()))?;
        let stdout =
            tokio::process::ChildStdout::from_std(stdout).map_err(|e| spawn_err(e.to_string()))?;
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            loop {
                match r.next_line().await {
                    Ok(Some(l)) => {
                        if tx.send(Line::Text(l)).is_err() {
                            return;
                        }
                    }
                    _ => {
                        let _ = tx.send(Line::Eof);
                        return;
                    }
                }
            }
        });
        Ok(AdapterProcess {
            label: installed.label.clone(),
            child: Some(child),
            stdin,
            lines,
            stderr_path: stderr_path.to_path_buf(),
            control,
            next_id: 0,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (a kill fault ends it).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The end of the adapter's stderr, for messages.
    fn stderr_tail(&self) -> String {
        let t = crate::nodes::node::tail(&self.stderr_path, 8);
        if t.trim().is_empty() || t == "(no log)" {
            format!("; its stderr ({}) is empty", self.stderr_path.display())
        } else {
            format!(
                "; the end of its stderr ({}):\n{t}",
                self.stderr_path.display()
            )
        }
    }

    fn exited(&mut self) -> ProtocolError {
        let status = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map_or("still running, stdout closed".to_string(), |s| {
                s.to_string()
            });
        ProtocolError::Exited {
            adapter: self.label.clone(),
            status,
            stderr: self.stderr_tail(),
        }
    }

    async fn write(&mut self, msg: &Json) -> Result<(), ProtocolError> {
        let mut line = serde_json::to_vec(msg).expect("json serializes");
        line.push(b'\n');
        if self.stdin.write_all(&line).await.is_err() || self.stdin.flush().await.is_err() {
            return Err(self.exited());
        }
        Ok(())
    }

    /// The next non-empty line, or why there is none by `deadline` (a deadline that moves on by
    /// however long the process is kept stopped meanwhile).
    async fn read(&mut self, what: &str, timeout: Duration) -> Result<String, ProtocolError> {
        let started = Instant::now();
        let stopped_before = self.control.stopped_ns();
        loop {
            let stopped = Duration::from_nanos(self.control.stopped_ns() - stopped_before);
            let left = (timeout + stopped).saturating_sub(started.elapsed());
            let next =
                tokio::time::timeout(left.min(Duration::from_millis(200)), self.lines.recv()).await;
            match next {
                Ok(Some(Line::Text(l))) if l.trim().is_empty() => continue,
                Ok(Some(Line::Text(l))) => return Ok(l),
                Ok(Some(Line::Eof)) | Ok(None) => return Err(self.exited()),
                Err(_) if left > Duration::from_millis(200) => continue,
                Err(_) => {
                    return Err(ProtocolError::Silent {
                        adapter: self.label.clone(),
                        what: what.to_string(),
                        waited_ms: started.elapsed().as_millis() as u64,
                        stderr: self.stderr_tail(),
                    })
                }
            }
        }
    }

    fn parse(&self, line: &str) -> Result<serde_json::Map<String, Json>, ProtocolError> {
        match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(m)) => Ok(m),
            Ok(_) => Err(ProtocolError::NotJson {
                adapter: self.label.clone(),
                line: checkers::quote::clip(line).into_owned(),
                why: "not a JSON object".into(),
            }),
            Err(e) => Err(ProtocolError::NotJson {
                adapter: self.label.clone(),
                line: checkers::quote::clip(line).into_owned(),
                why: e.to_string(),
            }),
        }
    }

    /// Sends the hello and reads the adapter's.
    pub async fn hello(
        &mut self,
        hello: &Hello,
        timeout: Duration,
    ) -> Result<ClientInfo, ProtocolError> {
        self.write(&serde_json::to_value(hello).expect("hello serializes"))
            .await?;
        let line = self.read("the hello", timeout).await?;
        let m = self.parse(&line)?;
        if m.get("type").and_then(Json::as_str) != Some("hello") {
            return Err(ProtocolError::Unexpected {
                adapter: self.label.clone(),
                asked: "the hello".into(),
                got: "something else".into(),
                line: checkers::quote::clip(&line).into_owned(),
            });
        }
        // A refusal says why first, whatever else its hello lacks.
        if let Some(e) = m.get("error").and_then(Json::as_str) {
            return Err(ProtocolError::Refused {
                adapter: self.label.clone(),
                message: checkers::quote::clip(e).into_owned(),
            });
        }
        let protocol = m.get("protocol").cloned().unwrap_or(Json::Null);
        if protocol.as_u64() != Some(PROTOCOL) {
            return Err(ProtocolError::Version {
                adapter: self.label.clone(),
                got: checkers::quote::clip(&protocol.to_string()).into_owned(),
            });
        }
        let info: ClientInfo =
            serde_json::from_value(Json::Object(m)).map_err(|e| ProtocolError::Hello {
                adapter: self.label.clone(),
                field: checkers::quote::clip_message(&e.to_string()).into_owned(),
            })?;
        if info.lock_keys.is_empty() {
            return Err(ProtocolError::Hello {
                adapter: self.label.clone(),
                field: "lock_keys (the Redis key(s) the lock is stored under)".into(),
            });
        }
        Ok(info)
    }

    /// Sends one op and reads its reply, checked against what was asked.
    pub async fn call(
        &mut self,
        op: &str,
        mut fields: serde_json::Map<String, Json>,
        timeout: Duration,
    ) -> Result<Reply, ProtocolError> {
        self.next_id += 1;
        let id = self.next_id;
        fields.insert("type".into(), "op".into());
        fields.insert("id".into(), id.into());
        fields.insert("op".into(), op.into());
        self.write(&Json::Object(fields)).await?;
        let line = self.read(&format!("op {id} ({op})"), timeout).await?;
        let m = self.parse(&line)?;
        let ok = m.get("type").and_then(Json::as_str) == Some("reply")
            && m.get("id").and_then(Json::as_u64) == Some(id)
            && m.get("op").and_then(Json::as_str) == Some(op);
        let outcome = m.get("outcome").and_then(Json::as_str).unwrap_or("");
        if !ok || !matches!(outcome, "ok" | "fail" | "info") {
            return Err(ProtocolError::Unexpected {
                adapter: self.label.clone(),
                asked: format!("op {id} ({op})"),
                got: format!(
                    "{} {} ({}), outcome {outcome:?}",
                    m.get("type").map_or("no type".into(), Json::to_string),
                    m.get("id").map_or("no id".into(), Json::to_string),
                    m.get("op").map_or("no op".into(), Json::to_string),
                ),
                line: checkers::quote::clip(&line).into_owned(),
            });
        }
        Ok(Reply {
            outcome: outcome.to_string(),
            invoke_ns: stamp(m.get("invoke_ns")),
            complete_ns: stamp(m.get("complete_ns")),
            error: m.get("error").and_then(Json::as_str).map(str::to_string),
            body: m,
        })
    }

    /// Asks the adapter to exit, then makes sure its whole group is gone.
    pub async fn shutdown(mut self) {
        let _ = self.write(&serde_json::json!({"type": "bye"})).await;
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill();
    }

    /// SIGKILLs the whole group and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.control.cont();
        let _ = self.control.kill();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.control.set(0);
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
