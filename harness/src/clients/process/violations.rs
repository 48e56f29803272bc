//! Protocol violations: every time an adapter broke the client protocol mid-run, journaled.
//!
//! A line that is not JSON, a reply to an op not asked, a number out of range: the op is `info`
//! and the process is replaced (see [`super::client`]), so a run goes on — but a run whose
//! adapter keeps breaking the protocol is not judging the library, it is judging the adapter.
//! Each violation is journaled as it happens to `clients/protocol.jsonl` (the slot, the op, how
//! many in a row for that slot, the error clipped), and the judging counts them
//! ([`crate::judge::protocol`]): named in the summary and results.json always, and past its
//! bound the run is `unknown`, never met.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::store::Violation;
use crate::store::PROTOCOL_JOURNAL as FILE;

/// Appends violations to the journal, one line each, as they happen.
pub struct Journal {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Journal {
    /// A journal in `clients_dir`, created at the first violation.
    pub fn new(clients_dir: &Path) -> Journal {
        Journal {
            path: clients_dir.join(FILE),
            file: Mutex::new(None),
        }
    }

    pub fn record(&self, v: &Violation) {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(file) => *f = Some(file),
                Err(e) => {
                    eprintln!("fencepost: cannot write {}: {e}", self.path.display());
                    return;
                }
            }
        }
        if let Some(file) = f.as_mut() {
            let line = serde_json::to_string(v).expect("a violation serializes");
            let _ = writeln!(file, "{line}");
        }
    }
}
