//! Client handles: a client as the faults reach it — its pause point, its wall clock, its
//! process group, its cycle's pacing, the field faults a client process carries out — built by
//! the clients, used by the nemeses. A module of its own so that neither has to know the other:
//! clients never import nemeses, nemeses never import clients.

use checkers::Fault;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use workloads::cycle::CycleHooks;
use workloads::pause::PauseGate;

/// A client as nemeses reach it.
#[derive(Clone)]
pub struct ClientHandle {
    /// Where client-side faults strike a holder (after its validity check, before its write).
    pub gate: Arc<PauseGate>,
    /// The clock its validity arithmetic reads.
    pub clock: ClientClock,
    /// Its process group, for a client that runs as a process of its own.
    pub process: Option<Arc<ProcessControl>>,
    /// Its pause point is also where it can crash (a Streams consumer between read and ack).
    pub crash_point: bool,
    /// Its cycle's hooks: a contention burst, a fault aimed at its next acquire.
    pub cycle: CycleHooks,
    /// The field faults a client process carries out at its next call (none for in-process
    /// clients).
    pub field: Arc<FieldFaults>,
}

/// A client's wall clock: the skewable clock of an in-process client, or the control file of
/// the clock library a client process preloads.
#[derive(Clone)]
pub enum ClientClock {
    InProcess(workloads::clock::Clock),
    Process(Arc<crate::nodes::clock::NodeClock>),
}

impl ClientClock {
    /// Jumps the clock by `offset_ns` and runs it at `rate_ppm` (1 000 000 = real time).
    pub fn skew(&self, offset_ns: i64, rate_ppm: u64) -> Result<(), String> {
        match self {
            ClientClock::InProcess(c) => {
                c.skew(offset_ns, rate_ppm);
                Ok(())
            }
            ClientClock::Process(c) if rate_ppm != 1_000_000 => {
                c.set_rate(rate_ppm as f64 / 1e6).map_err(|e| e.to_string())
            }
            ClientClock::Process(c) => {
                c.jump(offset_ns);
                Ok(())
            }
        }
    }

    /// Back to real time.
    pub fn reset(&self) {
        match self {
            ClientClock::InProcess(c) => c.reset_skew(),
            ClientClock::Process(c) => c.reset(),
        }
    }
}

/// The adapter's process group, as faults reach it: stop, continue, kill; and how long it has
/// been kept stopped (so a reply's deadline does not count time the harness itself stopped it).
#[derive(Debug, Default)]
pub struct ProcessControl {
    /// The current process group (0: none).
    pgid: AtomicI32,
    /// The history's number of the process now running, plus one (0: none).
    process: AtomicU32,
    stopped_at: Mutex<Option<Instant>>,
    stopped_total_ns: AtomicU64,
}

impl ProcessControl {
    /// The group now running (0: none), with no stop in progress.
    pub fn set(&self, pgid: i32) {
        self.pgid.store(pgid, Ordering::SeqCst);
        *self.stopped_at.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Names the history's process now running in the group (set as it starts).
    pub fn set_process(&self, process: u32) {
        self.process
            .store(process.saturating_add(1), Ordering::SeqCst);
    }

    /// The history's number of the process now running, if any: what a fault that stops it
    /// records as frozen.
    pub fn process(&self) -> Option<u32> {
        self.process.load(Ordering::SeqCst).checked_sub(1)
    }

    pub fn pgid(&self) -> Option<i32> {
        Some(self.pgid.load(Ordering::SeqCst)).filter(|&p| p > 0)
    }

    fn signal(&self, sig: libc::c_int) -> std::io::Result<()> {
        let Some(pgid) = self.pgid() else {
            return Err(std::io::Error::other("no client process is running"));
        };
        // SAFETY: kill(2) of a process group we created.
        if unsafe { libc::kill(-pgid, sig) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// SIGSTOP of the whole group: every thread, renewal threads included.
    pub fn stop(&self) -> std::io::Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.stopped_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        Ok(())
    }

    pub fn cont(&self) -> std::io::Result<()> {
        let since = self
            .stopped_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(t) = since {
            self.stopped_total_ns
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::SeqCst);
        }
        self.signal(libc::SIGCONT)
    }

    pub fn kill(&self) -> std::io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Nanoseconds the group has been kept stopped so far (including a stop in progress).
    pub fn stopped_ns(&self) -> u64 {
        let now = self
            .stopped_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(0, |t| t.elapsed().as_nanos() as u64);
        self.stopped_total_ns.load(Ordering::SeqCst) + now
    }
}

/// Which of a client process's calls an armed abandon waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOp {
    Acquire,
    Extend,
    Release,
    /// Whichever of acquire, extend or release comes first.
    Any,
}

impl CallOp {
    /// Whether the call `op` (a protocol op name) is one this waits for.
    pub fn matches(self, op: &str) -> bool {
        match self {
            CallOp::Acquire => op == "acquire",
            CallOp::Extend => op == "extend",
            CallOp::Release => op == "release",
            CallOp::Any => matches!(op, "acquire" | "extend" | "release"),
        }
    }
}

/// A field fault armed on a client process: what it does, at which call.
#[derive(Debug)]
pub enum FieldFault {
    /// The next matching call carries `abandon_after_ms`.
    Abandon { op: CallOp, after_ms: u64 },
    /// Once the client holds the lock (after its read), it sends `starve` for `ms`.
    Starve { ms: u64 },
}

/// Where a client says a field fault took effect (`Ok`) or why it did not (`Err`, for the
/// nemesis to record as a failed injection).
pub type FieldDone = oneshot::Sender<Result<(), String>>;

/// An armed field fault: what to do, the fault to record once it took effect (the client records
/// its start and stop at the moments they happen), and where to say how it went.
#[derive(Debug)]
pub struct ArmedField {
    pub what: FieldFault,
    pub fault: Fault,
    pub done: FieldDone,
}

/// What a client process's adapter said, in its hello, it can carry out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSupport {
    /// `library version`, for messages.
    pub adapter: String,
    pub abandon: bool,
    pub starve: bool,
}

/// Field faults of a client process (the client protocol's `abandon_after_ms` and `starve`):
/// armed by a nemesis, carried out by the client at its next matching call.
#[derive(Debug, Default)]
pub struct FieldFaults {
    armed: Mutex<Option<ArmedField>>,
    support: Mutex<Option<FieldSupport>>,
}

impl FieldFaults {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ArmedField>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms `armed` (replacing one not yet taken).
    pub fn arm(&self, armed: ArmedField) {
        *self.slot() = Some(armed);
    }

    /// Something is armed and not yet taken.
    pub fn is_armed(&self) -> bool {
        self.slot().is_some()
    }

    /// Takes back a fault no call took (true), or finds it already taken (false).
    pub fn disarm(&self) -> bool {
        self.slot().take().is_some()
    }

    /// The armed abandon, if it waits for the call `op`.
    pub fn take_abandon(&self, op: &str) -> Option<(u64, Fault, FieldDone)> {
        let mut slot = self.slot();
        match slot.as_ref().map(|a| &a.what) {
            Some(FieldFault::Abandon { op: want, .. }) if want.matches(op) => {}
            _ => return None,
        }
        let a = slot.take()?;
        let FieldFault::Abandon { after_ms, .. } = a.what else {
            return None;
        };
        Some((after_ms, a.fault, a.done))
    }

    /// The armed starve, if any.
    pub fn take_starve(&self) -> Option<(u64, Fault, FieldDone)> {
        let mut slot = self.slot();
        if !matches!(
            slot.as_ref().map(|a| &a.what),
            Some(FieldFault::Starve { .. })
        ) {
            return None;
        }
        let a = slot.take()?;
        let FieldFault::Starve { ms } = a.what else {
            return None;
        };
        Some((ms, a.fault, a.done))
    }

    /// Set by the client from its adapter's hello.
    pub fn set_support(&self, support: FieldSupport) {
        *self.support.lock().unwrap_or_else(|p| p.into_inner()) = Some(support);
    }

    /// What the client's adapter can carry out (None: not a client process).
    pub fn support(&self) -> Option<FieldSupport> {
        self.support
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
