//! Ctrl-C and SIGTERM as orderly stops.
//!
//! Installed before the first process is started, so a signal at any moment — while nodes start,
//! mid-run, while results are written — is turned into a flag the runner checks, and the run
//! still stops its clients, heals its faults, saves the history and ends every process. (If
//! fencepost is SIGKILLed instead, its children's parent-death signal ends them.)

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Which signal arrived, if any.
#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM (from now on they no longer kill the process).
    pub fn install() -> std::io::Result<Interrupt> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            let _ = tx.send(Some(name));
        });
        Ok(Interrupt { rx })
    }

    /// The signal received so far.
    pub fn received(&self) -> Option<&'static str> {
        *self.rx.borrow()
    }

    /// Waits for a signal.
    pub async fn wait(&mut self) -> &'static str {
        match self.rx.wait_for(|s| s.is_some()).await {
            Ok(s) => s.expect("waited for Some"),
            Err(_) => std::future::pending().await,
        }
    }
}
