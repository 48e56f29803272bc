//! Spawning child processes that die with fencepost, hear no terminal and write private files.
//!
//! Every child is started with `PR_SET_PDEATHSIG = SIGKILL`, so if fencepost dies — even by
//! SIGKILL, where no cleanup code runs — the kernel kills its redis-servers too. The signal fires
//! when the *thread* that forked the child exits, so all spawns go through one thread that lives
//! as long as the process: spawning from a tokio blocking thread would kill the child when that
//! thread idles out.
//!
//! Every child leads a process group of its own: a terminal's Ctrl-C goes to its foreground
//! group, and a node, Sentinel, adapter or suite case in that group would die before fencepost
//! could end the run in order (read the resource, heal the faults, judge). In its own group only
//! fencepost hears the Ctrl-C and stops its children itself. Children run with umask 077: what
//! they write (logs, AOF files, a Sentinel's rewritten config with its passwords) is private.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();

fn sender() -> mpsc::Sender<Job> {
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("fencepost-spawner".into())
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })
                .expect("cannot start the spawner thread");
            Mutex::new(tx)
        })
        .lock()
        .expect("spawner poisoned")
        .clone()
}

/// Spawns `cmd` from the long-lived spawner thread with a parent-death signal.
pub fn spawn(cmd: Command) -> io::Result<Child> {
    spawn_in(cmd, None)
}

/// [`spawn`], with the child entering the network namespace open as `netns` before it runs.
pub fn spawn_in(mut cmd: Command, netns: Option<RawFd>) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, _exit, umask,
    // setns).
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(0o077);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            match netns {
                Some(fd) => super::netns::enter_fd(fd),
                None => Ok(()),
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    sender()
        .send(Box::new(move || {
            let _ = tx.send(cmd.spawn());
        }))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// Sends a signal to one child by PID (never by name).
/// Passes a signal fencepost received (`SIGINT` or `SIGTERM`, as [`crate::interrupt`] names
/// it) on to children that lead process groups of their own: a terminal's Ctrl-C reached
/// fencepost alone. Children already gone are skipped.
pub fn pass_on(name: &str, pids: impl IntoIterator<Item = u32>) {
    let sig = if name == "SIGTERM" {
        libc::SIGTERM
    } else {
        libc::SIGINT
    };
    for pid in pids {
        let _ = signal(pid, sig);
    }
}

pub fn signal(pid: u32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) with a PID we spawned.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
