//! Private folders and files: what a root-run harness writes where other local users can look.
//!
//! fencepost runs as root (CI does; Redis Cluster and container runs need it) and writes a run's
//! node configs — with the nodes' admin and client passwords — and the clock library it preloads
//! into node and adapter processes under the system's temporary folder, which every local user
//! can write to. So a run's folder is made the way `mkdtemp(3)` makes one: a fresh name with a
//! random part, created with mode 0700 by one `mkdir` that fails on anything already there (a
//! planted folder, a symlink), then checked to be a folder we own that nobody else can enter.
//! Nothing is ever reused or followed. Files that hold a secret are created 0600 without
//! following a symlink ([`write_secret`]), and the children fencepost spawns run with umask 077
//! ([`crate::nodes::spawner`]), so the files they write (logs, AOF, a Sentinel's rewritten
//! config) are private too.
//!
//! The parent folder must not let another user move our folder away: it must be owned by us or
//! root, and if others may write to it, have the sticky bit (as /tmp has).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many fresh names to try before giving up (each collision is a folder someone else made).
const ATTEMPTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    #[error("cannot use {parent} for fencepost's private folders: {why}; set TMPDIR to a folder only you (or root) can write to")]
    UnsafeParent { parent: PathBuf, why: String },
    #[error("cannot create a private folder in {parent}: {source}")]
    Create {
        parent: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create a private folder in {parent}: {ATTEMPTS} fresh names were all taken (someone is planting folders there?); set TMPDIR to a folder only you can write to")]
    Exhausted { parent: PathBuf },
    #[error("{path} is not the private folder fencepost just made ({why}); refusing to use it")]
    NotOurs { path: PathBuf, why: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() }
}

/// Refuses a parent folder in which another user could replace what we create.
pub fn check_parent(parent: &Path) -> Result<(), PrivateError> {
    let bad = |why: String| PrivateError::UnsafeParent {
        parent: parent.to_path_buf(),
        why,
    };
    let meta = std::fs::metadata(parent).map_err(|e| bad(e.to_string()))?;
    if !meta.is_dir() {
        return Err(bad("it is not a folder".into()));
    }
    let owner = meta.uid();
    if owner != euid() && owner != 0 {
        return Err(bad(format!(
            "it belongs to user {owner}, who could move our folder away"
        )));
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(bad(format!(
            "others may write to it (mode {:o}) and it has no sticky bit",
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Creates a fresh folder `PARENT/PREFIX-RANDOM`, mode 0700, owned by us; never reuses or
/// follows anything that exists.
pub fn create(parent: &Path, prefix: &str) -> Result<PathBuf, PrivateError> {
    create_named(parent, || format!("{prefix}-{}", random_hex(6)))
}

/// [`create`] with the names drawn from `name` (tests plant folders at the names it will draw).
pub fn create_named(
    parent: &Path,
    mut name: impl FnMut() -> String,
) -> Result<PathBuf, PrivateError> {
    check_parent(parent)?;
    for _ in 0..ATTEMPTS {
        let path = parent.join(name());
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                verify(&path)?;
                return Ok(path);
            }
            // Someone else's folder, file or symlink: draw another name, touch nothing.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(PrivateError::Create {
                    parent: parent.to_path_buf(),
                    source,
                })
            }
        }
    }
    Err(PrivateError::Exhausted {
        parent: parent.to_path_buf(),
    })
}

/// Creates `dir` (one level, inside a private folder) with mode 0700, or checks that it is
/// already ours and private.
pub fn subdir(dir: &Path) -> Result<(), PrivateError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => verify(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => verify(dir),
        Err(source) => Err(PrivateError::Create {
            parent: dir.to_path_buf(),
            source,
        }),
    }
}

/// Checks that `path` is a folder (not a symlink) we own that nobody else may enter.
fn verify(path: &Path) -> Result<(), PrivateError> {
    let not_ours = |why: String| PrivateError::NotOurs {
        path: path.to_path_buf(),
        why,
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| not_ours(e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(not_ours("not a folder".into()));
    }
    if meta.uid() != euid() {
        return Err(not_ours(format!("owned by user {}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        // Our umask cannot add bits; a folder with them is not the one mkdir just made.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| not_ours(e.to_string()))?;
    }
    Ok(())
}

/// Writes `contents` to `path` with mode 0600, replacing a file of ours but never following a
/// symlink: for files that hold a password.
pub fn write_secret(path: &Path, contents: &[u8]) -> Result<(), PrivateError> {
    let err = |source| PrivateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(err)?;
    // A file that existed keeps its mode through open: make it private before writing.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    f.write_all(contents).map_err(err)
}

/// `n` random bytes from the OS, as hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // SAFETY: getrandom(2) writes at most `n` bytes into the buffer we own.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), n, 0) };
    assert_eq!(
        got,
        n as isize,
        "getrandom failed: {}",
        std::io::Error::last_os_error()
    );
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fencepost-private-unit-{name}-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        DirBuilder::new().mode(0o700).create(&d).unwrap();
        d
    }

    #[test]
    fn planted_names_are_skipped_and_never_followed() {
        let parent = scratch("planted");
        let victim = parent.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::fs::create_dir(parent.join("taken-dir")).unwrap();
        std::fs::write(parent.join("taken-dir/marker"), "theirs").unwrap();
        symlink(&victim, parent.join("taken-link")).unwrap();
        symlink(parent.join("elsewhere"), parent.join("taken-dangling")).unwrap();
        let mut names = ["taken-dir", "taken-link", "taken-dangling", "fresh"].into_iter();
        let made = create_named(&parent, || names.next().unwrap().to_string()).unwrap();
        assert_eq!(made, parent.join("fresh"));
        let meta = std::fs::symlink_metadata(&made).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o700);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(!parent.join("elsewhere").exists());
        assert_eq!(
            std::fs::read_dir(parent.join("taken-dir")).unwrap().count(),
            1
        );
        std::fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn secrets_are_private_and_never_written_through_a_symlink() {
        let dir = scratch("secret");
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        symlink(&victim, dir.join("redis.conf")).unwrap();
        assert!(write_secret(&dir.join("redis.conf"), b"pw").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let f = dir.join("sentinel.conf");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&f, b"new").unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_parent_others_can_write_without_a_sticky_bit_is_refused() {
        let dir = scratch("parent");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = create(&dir, "fencepost").unwrap_err().to_string();
        assert!(e.contains("no sticky bit") && e.contains("TMPDIR"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let made = create(&dir, "fencepost").unwrap();
        assert!(made.starts_with(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
