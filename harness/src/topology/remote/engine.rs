//! Node faults on containers, through the Docker Engine API.
//!
//! When a topology file has an `[engine]`, fencepost controls the nodes' containers the way it
//! controls its own redis-servers: a node pause is a container pause (the cgroup freezer, the
//! container's SIGSTOP), a crash is SIGKILL to the container followed by a start (the container
//! keeps its volume, so what survives is what the node's persistence wrote), and the node's clock
//! is bent through the clock library the container preloads from the shared control folder.
//!
//! Containers are found by the label `io.fencepost.node = <node name>` (and the compose project,
//! when the file names one), never by a guessed container name: fencepost touches only
//! containers that say they are its nodes. It talks to the engine over its Unix socket with
//! `bollard` and negotiates the API version, so an older engine (Debian's 20.10 speaks 1.41)
//! works as well as a new one.

use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::{KillContainerOptions, ListContainersOptions};
use bollard::Docker;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The label naming which fencepost node a container is.
pub const NODE_LABEL: &str = "io.fencepost.node";
const PROJECT_LABEL: &str = "com.docker.compose.project";

/// `[engine]` in a topology file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The engine: `docker` (the only one so far).
    pub kind: EngineKind,
    /// The engine's socket (default: `DOCKER_HOST`, else /var/run/docker.sock).
    #[serde(default)]
    pub socket: Option<String>,
    /// Only containers of this compose project (its `com.docker.compose.project` label); by
    /// default, when fencepost runs in a container, its own container's project.
    #[serde(default)]
    pub compose_project: Option<String>,
    /// A folder shared with the node containers at the same path: fencepost writes the clock
    /// library, each node's clock control file and each node's persistence include file there.
    /// Needed for clock faults and for persistence settings.
    #[serde(default)]
    pub control_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Docker,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {socket}: {source}; start dockerd, or fix `socket` in [engine]")]
    Connect {
        socket: String,
        source: bollard::errors::Error,
    },
    #[error("no container carries the label {NODE_LABEL}={node}{project}; label the node's service in the compose file, or fix [engine] compose_project")]
    Missing { node: String, project: String },
    #[error("containers {names} all carry the label {NODE_LABEL}={node}; set [engine] compose_project to the one to use")]
    Ambiguous { node: String, names: String },
    #[error("{action} node {node} (container {container}): {source}")]
    Call {
        action: &'static str,
        node: String,
        container: String,
        source: bollard::errors::Error,
    },
    #[error("node {node}'s container did not stop within {limit_ms} ms of SIGKILL")]
    NotStopped { node: String, limit_ms: u128 },
}

/// The compose project of the container fencepost itself runs in, if it runs in one (its
/// hostname is its container's id): by default the nodes are its own project's.
async fn own_project(docker: &Docker) -> Option<String> {
    let host = std::fs::read_to_string("/etc/hostname").ok()?;
    let me = docker.inspect_container(host.trim(), None).await.ok()?;
    me.config?.labels?.get(PROJECT_LABEL).cloned()
}

/// A container's state, as far as faults care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Paused,
    /// Exited, created, dead: not running.
    Down,
}

/// The engine and the node containers it controls.
pub struct Engine {
    docker: Docker,
    /// Node name → container id.
    containers: HashMap<String, String>,
}

impl Engine {
    /// Connects and finds each node's container by its label.
    pub async fn connect(config: &EngineConfig, nodes: &[String]) -> Result<Engine, EngineError> {
        let socket = config
            .socket
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        let path = socket.trim_start_matches("unix://").to_string();
        let connect = |source| EngineError::Connect {
            socket: socket.clone(),
            source,
        };
        let docker = Docker::connect_with_socket(&path, 10, bollard::API_DEFAULT_VERSION)
            .map_err(connect)?
            .negotiate_version()
            .await
            .map_err(connect)?;
        let project = match &config.compose_project {
            Some(p) => Some(p.clone()),
            None => own_project(&docker).await,
        };
        let mut label = vec![NODE_LABEL.to_string()];
        if let Some(p) = &project {
            label.push(format!("{PROJECT_LABEL}={p}"));
        }
        let listed = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([("label".to_string(), label)])),
                ..Default::default()
            }))
            .await
            .map_err(connect)?;
        let mut containers = HashMap::new();
        for node in nodes {
            let mine: Vec<_> = listed
                .iter()
                .filter(|c| {
                    c.labels
                        .as_ref()
                        .and_then(|l| l.get(NODE_LABEL))
                        .is_some_and(|n| n == node)
                })
                .collect();
            match mine.as_slice() {
                [] => {
                    return Err(EngineError::Missing {
                        node: node.clone(),
                        project: project
                            .as_ref()
                            .map(|p| format!(" in compose project {p}"))
                            .unwrap_or_default(),
                    })
                }
                [one] => {
                    containers.insert(node.clone(), one.id.clone().unwrap_or_default());
                }
                many => {
                    return Err(EngineError::Ambiguous {
                        node: node.clone(),
                        names: many
                            .iter()
                            .flat_map(|c| c.names.clone().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
        Ok(Engine { docker, containers })
    }

    fn id<'a>(&'a self, node: &'a str) -> &'a str {
        self.containers.get(node).map_or(node, String::as_str)
    }

    fn call(
        &self,
        action: &'static str,
        node: &str,
    ) -> impl FnOnce(bollard::errors::Error) -> EngineError {
        let (node, container) = (node.to_string(), self.id(node).to_string());
        move |source| EngineError::Call {
            action,
            node,
            container,
            source,
        }
    }

    /// Whether `node`'s container runs, is paused, or is down.
    pub async fn state(&self, node: &str) -> Result<State, EngineError> {
        let info = self
            .docker
            .inspect_container(self.id(node), None)
            .await
            .map_err(self.call("cannot inspect", node))?;
        let state = info.state.unwrap_or_default();
        Ok(match state.status {
            Some(ContainerStateStatusEnum::PAUSED) => State::Paused,
            Some(ContainerStateStatusEnum::RUNNING)
            | Some(ContainerStateStatusEnum::RESTARTING) => {
                if state.paused == Some(true) {
                    State::Paused
                } else {
                    State::Running
                }
            }
            _ => State::Down,
        })
    }

    /// Freezes the container's processes (the cgroup freezer).
    pub async fn pause(&self, node: &str) -> Result<(), EngineError> {
        self.docker
            .pause_container(self.id(node))
            .await
            .map_err(self.call("cannot pause", node))
    }

    pub async fn unpause(&self, node: &str) -> Result<(), EngineError> {
        self.docker
            .unpause_container(self.id(node))
            .await
            .map_err(self.call("cannot unpause", node))
    }

    /// SIGKILL to the container, returning once the engine reports it down.
    pub async fn kill(&self, node: &str) -> Result<(), EngineError> {
        self.docker
            .kill_container(
                self.id(node),
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await
            .map_err(self.call("cannot kill", node))?;
        let limit = Duration::from_secs(10);
        let deadline = tokio::time::Instant::now() + limit;
        while self.state(node).await? != State::Down {
            if tokio::time::Instant::now() > deadline {
                return Err(EngineError::NotStopped {
                    node: node.to_string(),
                    limit_ms: limit.as_millis(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Starts a stopped container (its volumes and environment as they were).
    pub async fn start(&self, node: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(self.id(node), None)
            .await
            .map_err(self.call("cannot start", node))
    }

    /// Brings every node's container back to running — unpauses a paused one, starts a stopped
    /// one — and says what it did (empty when all ran). At the start of a run this undoes a
    /// killed run's leftovers; at its end, this run's own.
    pub async fn restore(&self) -> Result<Vec<String>, EngineError> {
        let mut done = Vec::new();
        let mut nodes: Vec<&String> = self.containers.keys().collect();
        nodes.sort();
        for node in nodes {
            match self.state(node).await? {
                State::Running => {}
                State::Paused => {
                    self.unpause(node).await?;
                    done.push(format!("unpaused {node}"));
                }
                State::Down => {
                    self.start(node).await?;
                    done.push(format!("started {node}"));
                }
            }
        }
        Ok(done)
    }
}
