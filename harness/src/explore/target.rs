//! What explore runs against: a lock library (an adapter), a user's own adapter command, or
//! one of fencepost's own locks — and the fixed part of every scenario it writes for it.

use crate::scenario::client::NodesKind;
use crate::scenario::lock::LockKind;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `--client LIB[@VERSION]`: an adapter in adapters/.
    Library(String),
    /// `--client-command "PROGRAM ARGS…"`, run from `dir`, given one lock node or all five.
    Command {
        words: Vec<String>,
        dir: PathBuf,
        nodes: NodesKind,
    },
    /// `--lock KIND`: fencepost's own in-process lock.
    Lock(LockKind),
}

impl Target {
    /// What reports call it: `redis-py`, `fencepost's single lock`, the command.
    pub fn label(&self) -> String {
        match self {
            Target::Library(l) => l.clone(),
            Target::Command { words, .. } => shell_words::join(words),
            Target::Lock(k) => format!("fencepost's {} lock", k.name()),
        }
    }

    /// The scenario name (and so the results folder): `explore-redis-py`.
    pub fn scenario_name(&self) -> String {
        let tail = match self {
            Target::Library(l) => l.replace(['@', '.'], "-"),
            Target::Command { .. } => "command".into(),
            Target::Lock(k) => k.name().to_string(),
        };
        format!("explore-{tail}")
    }

    /// The library's row in a matrix (`redis-py`, `redis-py@5.0.8`), if it is one.
    pub fn matrix_row(&self) -> Option<&str> {
        match self {
            Target::Library(l) => Some(l),
            _ => None,
        }
    }

    /// Its clients are processes of their own (a library or a command).
    pub fn client_processes(&self) -> bool {
        !matches!(self, Target::Lock(_))
    }

    /// The `[lock]` kind and node count, and the `[client]` section (TOML), for this target.
    pub fn lock_and_client(&self) -> (LockKind, u32, String) {
        let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
        match self {
            // Redlock libraries take all five nodes, the single-instance ones the first.
            Target::Library(l) => (
                LockKind::Client,
                5,
                format!("[client]\nlibrary = {}\n", quoted(l)),
            ),
            Target::Command { words, dir, nodes } => (
                LockKind::Client,
                5,
                format!(
                    "[client]\ncommand = [{}]\ndir = {}\nnodes = \"{}\"\n",
                    words
                        .iter()
                        .map(|w| quoted(w))
                        .collect::<Vec<_>>()
                        .join(", "),
                    quoted(&dir.display().to_string()),
                    match nodes {
                        NodesKind::One => "one",
                        NodesKind::Majority => "majority",
                    }
                ),
            ),
            Target::Lock(k) => (
                *k,
                if *k == LockKind::Redlock { 5 } else { 1 },
                String::new(),
            ),
        }
    }
}
