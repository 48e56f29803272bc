//! Node clocks: the harness's side of the clock library that skews a redis-server's wall clock.
//!
//! Redis expires keys by the wall clock (its monotonic clock serves timers only), so a node whose
//! wall clock jumps forward expires every lock it holds at once — Kleppmann's clock failure of
//! Redlock. Each lock node is started with `LD_PRELOAD` = the clock library (`clock/fakeclock.c`,
//! built by `build.rs` and embedded in this binary) and `FENCEPOST_CLOCK_FILE` = its own control
//! file. The file holds {offset, rate, anchor}; the library maps it read-only and applies
//! `skewed(real) = real + offset + (real − anchor) × (rate − 1)` to `CLOCK_REALTIME`,
//! `gettimeofday` and `time`. The harness maps the same file read-write and changes the skew
//! while the node runs; the file outlives a crash, so a restarted node keeps its skew.
//!
//! Writes use a sequence lock: `seq` is odd while the harness writes, and the library retries a
//! read that straddles a write. The layout here must match `struct control` in the C file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The clock library, built from `clock/fakeclock.c` by `build.rs`.
pub const LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libfencepost_clock.so"));
/// The library's file name in a run's folder.
pub const LIBRARY_FILE: &str = "libfencepost_clock.so";
/// The environment variable naming a node's control file.
pub const CONTROL_ENV: &str = "FENCEPOST_CLOCK_FILE";

const MAGIC: u64 = 0x6b63_6f6c_6370_6674; // "ftpclock", little-endian
const RATE_ONE_PPB: i64 = 1_000_000_000;
const FILE_LEN: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("cannot write the clock library to {path}: {source}")]
    Library {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the clock control file {path}: {source}")]
    Control {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rate {rate} is out of range: use a factor in 0.001..=1000 (1 is real time)")]
    Rate { rate: f64 },
}

/// Writes the embedded clock library into `dir` — the run's private folder, which only this
/// user can write to ([`crate::private_dir`]): the library is loaded into every node and adapter
/// process, so a folder another user could write to would let them run code as root — once per
/// run, and returns its path. A library already there is left alone: processes map it while
/// they run, and rewriting the file under them would corrupt their code (a new copy goes in by
/// rename, a fresh inode, created without following anything already at its name).
pub fn install_library(dir: &Path) -> Result<PathBuf, ClockError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LIBRARY_FILE);
    let err = |source| ClockError::Library {
        path: path.clone(),
        source,
    };
    if std::fs::read(&path).is_ok_and(|b| b == LIBRARY) {
        return Ok(path);
    }
    let tmp = dir.join(format!(
        ".{LIBRARY_FILE}.{}",
        crate::private_dir::random_hex(6)
    ));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(LIBRARY))
        .map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}

/// The `preload` of a node's config: the library and the variable naming its control file.
pub fn preload(library: &Path, control: &Path) -> (PathBuf, Vec<(String, String)>) {
    (
        library.to_path_buf(),
        vec![(CONTROL_ENV.to_string(), control.display().to_string())],
    )
}

/// Wall-clock nanoseconds since the Unix epoch (the harness's own clock is never skewed).
pub fn real_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The control block, as laid out in the file (`struct control`).
#[repr(C)]
struct Control {
    magic: AtomicU64,
    seq: AtomicU64,
    offset_ns: AtomicI64,
    rate_ppb: AtomicI64,
    anchor_ns: AtomicI64,
}

/// One node's skew, as the harness sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skew {
    pub offset_ns: i64,
    /// Parts per billion: 1_000_000_000 is real time, 2_000_000_000 runs twice as fast.
    pub rate_ppb: i64,
    /// Real time (Unix ns) from which the rate applies.
    pub anchor_ns: i64,
}

impl Skew {
    pub const NONE: Skew = Skew {
        offset_ns: 0,
        rate_ppb: RATE_ONE_PPB,
        anchor_ns: 0,
    };

    /// The skewed reading at real time `real_ns` (the library's formula).
    pub fn apply(&self, real_ns: i64) -> i64 {
        let drift = (real_ns - self.anchor_ns) as i128 * (self.rate_ppb - RATE_ONE_PPB) as i128
            / RATE_ONE_PPB as i128;
        (real_ns as i128 + self.offset_ns as i128 + drift) as i64
    }
}

/// A node's control file, mapped read-write. Dropping it unmaps the file (the node keeps
/// its last skew until it exits).
pub struct NodeClock {
    path: PathBuf,
    map: NonNull<Control>,
    /// Serialises writers (the sequence lock has one writer at a time).
    write: Mutex<()>,
}

// SAFETY: the mapping is only accessed through atomics, and writes are serialised by `write`.
unsafe impl Send for NodeClock {}
unsafe impl Sync for NodeClock {}

impl NodeClock {
    /// Creates the control file at `path` (or takes over an existing one) with no skew and maps
    /// it. An existing file is never truncated: a node container that outlives a run keeps it
    /// mapped, and a mapped file shrunk under a reader would fault it.
    pub fn create(path: &Path) -> Result<NodeClock, ClockError> {
        let err = |source| ClockError::Control {
            path: path.to_path_buf(),
            source,
        };
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(err)?;
        file.set_len(FILE_LEN as u64).map_err(err)?;
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of a file we own, FILE_LEN bytes long.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                FILE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(err(std::io::Error::last_os_error()));
        }
        let map = NonNull::new(p.cast::<Control>()).expect("mmap returned null");
        let clock = NodeClock {
            path: path.to_path_buf(),
            map,
            write: Mutex::new(()),
        };
        clock.store(Skew::NONE);
        clock.control().magic.store(MAGIC, Ordering::Release);
        Ok(clock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn control(&self) -> &Control {
        // SAFETY: mapped for the lifetime of self; all fields are atomics.
        unsafe { self.map.as_ref() }
    }

    /// The skew in force.
    pub fn skew(&self) -> Skew {
        let c = self.control();
        loop {
            let s1 = c.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let skew = Skew {
                offset_ns: c.offset_ns.load(Ordering::Relaxed),
                rate_ppb: c.rate_ppb.load(Ordering::Relaxed),
                anchor_ns: c.anchor_ns.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if c.seq.load(Ordering::Relaxed) == s1 {
                return skew;
            }
        }
    }

    fn store(&self, skew: Skew) {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let c = self.control();
        let s = c.seq.load(Ordering::Relaxed);
        c.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        c.offset_ns.store(skew.offset_ns, Ordering::Relaxed);
        c.rate_ppb.store(skew.rate_ppb, Ordering::Relaxed);
        c.anchor_ns.store(skew.anchor_ns, Ordering::Relaxed);
        c.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The node's skewed wall clock now, in Unix ns.
    pub fn now_ns(&self) -> i64 {
        self.skew().apply(real_now_ns())
    }

    /// How far the node's clock is ahead of the real one now (negative: behind).
    pub fn offset_now_ns(&self) -> i64 {
        let real = real_now_ns();
        self.skew().apply(real) - real
    }

    /// Jumps the node's clock by `delta_ns` (forward if positive), keeping its rate.
    pub fn jump(&self, delta_ns: i64) {
        let mut s = self.skew();
        s.offset_ns += delta_ns;
        self.store(s);
    }

    /// Sets the node's clock rate (1.0 = real time) from now on, continuing from its current
    /// reading.
    pub fn set_rate(&self, rate: f64) -> Result<(), ClockError> {
        if !(0.001..=1000.0).contains(&rate) || !rate.is_finite() {
            return Err(ClockError::Rate { rate });
        }
        let real = real_now_ns();
        let reading = self.skew().apply(real);
        self.store(Skew {
            offset_ns: reading - real,
            rate_ppb: (rate * RATE_ONE_PPB as f64).round() as i64,
            anchor_ns: real,
        });
        Ok(())
    }

    /// Back to real time: no offset, rate 1.
    pub fn reset(&self) {
        self.store(Skew::NONE);
    }
}

impl Drop for NodeClock {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping created in `create`.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), FILE_LEN);
        }
    }
}

/// How far a node's `TIME` may be from the offset asked for.
pub const CONFIRM_TOLERANCE_NS: i64 = 50_000_000;

/// The `TIME` offset from real time (ms) of the node at `url`, once it matches the skew its
/// clock control `nc` asks for.
pub async fn confirm_clock(url: &str, nc: &NodeClock) -> Result<i64, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let limit = std::time::Duration::from_millis(500);
    let mut conn = tokio::time::timeout(limit, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| "no connection within 500 ms".to_string())?
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    for _ in 0..10 {
        let before = real_now_ns();
        let answer: Result<(i64, i64), String> =
            match tokio::time::timeout(limit, redis::cmd("TIME").query_async(&mut conn)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer within 500 ms".into()),
            };
        let (s, us) = answer?;
        let after = real_now_ns();
        let mid = before + (after - before) / 2;
        let node_ns = s * 1_000_000_000 + us * 1_000;
        let expected = nc.skew().apply(mid);
        if (node_ns - expected).abs() <= CONFIRM_TOLERANCE_NS {
            return Ok((node_ns - mid) / 1_000_000);
        }
        last = format!(
            "TIME is {} ms from the skew asked for",
            (node_ns - expected) / 1_000_000
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_is_embedded() {
        assert_eq!(&LIBRARY[..4], b"\x7fELF");
    }

    #[test]
    fn skew_formula_is_continuous_across_rate_changes() {
        let dir = std::env::temp_dir().join(format!("fencepost-clock-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = NodeClock::create(&dir.join("n1.clock")).unwrap();
        assert!(c.offset_now_ns().abs() < 1_000_000);
        c.jump(10_000_000_000);
        assert!((c.offset_now_ns() - 10_000_000_000).abs() < 1_000_000);
        let before = c.now_ns();
        c.set_rate(2.0).unwrap();
        let after = c.now_ns();
        assert!((after - before).abs() < 5_000_000, "{before} → {after}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let off = c.offset_now_ns();
        assert!(
            (10_040_000_000..10_100_000_000).contains(&off),
            "rate 2 gains ~50 ms in 50 ms: {off}"
        );
        assert!(c.set_rate(0.0).is_err());
        c.reset();
        assert!(c.offset_now_ns().abs() < 1_000_000);
        drop(c);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
