//! One carpd per interface and vhid on a host, and a pidfile with a live owner, both with
//! `flock`: a lock dies with its process, so a killed carpd never leaves a stale one.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where the instance locks live (the ifupdown hooks keep their files there too).
pub const RUN_DIR: &str = "/run/carpd";

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A live process holds it.
    #[error("held by running process {}", .pid.map_or_else(|| "(pid unknown)".to_string(), |p| p.to_string()))]
    Held {
        /// the holder's pid, as it wrote it
        pid: Option<u32>,
    },
    /// The file could not be opened or locked.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// An exclusive lock on a file that holds its owner's pid; released when dropped.
#[derive(Debug)]
pub struct PidLock {
    lock: Flock<File>,
    path: PathBuf,
}

impl PidLock {
    /// Locks `path` (created 0644 if missing) without waiting and writes our pid into it.
    pub fn acquire(path: &Path) -> Result<PidLock, LockError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    pid: text.trim().parse().ok(),
                });
            }
            Err((_, errno)) => return Err(LockError::Io(errno.into())),
        };
        lock.set_len(0)?;
        lock.rewind()?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(PidLock {
            lock,
            path: path.to_path_buf(),
        })
    }

    /// Releases the lock and removes the file (for a pidfile: nobody runs any more).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.lock);
    }
}

/// A pidfile: a [`PidLock`] whose file is removed when carpd ends, however it ends.
#[derive(Debug)]
pub struct Pidfile(Option<PidLock>);

impl Pidfile {
    /// Locks and writes `path`.
    pub fn create(path: &Path) -> Result<Pidfile, LockError> {
        PidLock::acquire(path).map(|lock| Pidfile(Some(lock)))
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        if let Some(lock) = self.0.take() {
            lock.remove();
        }
    }
}

/// The instance lock's path for `interface` and `vhid`:
/// `/run/carpd/<interface>-<vhid>.netns-<inode>.lock`. The network namespace's inode is part of
/// the name because `eth0` in two namespaces is two interfaces; it is read from `/proc/self`,
/// which every carpd may read however it was started (systemd's sandbox, ifupdown, a shell), so
/// all of them name the same lock for the same interface.
pub fn instance_lock_path(interface: &str, vhid: u8) -> PathBuf {
    let name = match std::fs::metadata("/proc/self/ns/net") {
        Ok(namespace) => format!("{interface}-{vhid}.netns-{}.lock", namespace.ino()),
        Err(_) => format!("{interface}-{vhid}.lock"),
    };
    Path::new(RUN_DIR).join(name)
}

/// Takes the instance lock for `interface` and `vhid`, creating [`RUN_DIR`] if needed.
pub fn lock_instance(interface: &str, vhid: u8) -> Result<PidLock, (PathBuf, LockError)> {
    let path = instance_lock_path(interface, vhid);
    if let Err(e) = std::fs::create_dir_all(RUN_DIR) {
        return Err((path, e.into()));
    }
    PidLock::acquire(&path).map_err(|e| (path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_the_first_ones_pid() {
        let dir = std::env::temp_dir().join(format!("carpd-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        std::fs::write(&path, "99999999\nleft over\n").unwrap();
        let first = PidLock::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id()),
            "a stale file's content is replaced"
        );
        match PidLock::acquire(&path) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("second lock: {other:?}"),
        }
        first.remove();
        assert!(!path.exists());
        let again = Pidfile::create(&path).unwrap();
        assert!(path.exists());
        drop(again);
        assert!(!path.exists(), "a pidfile goes when carpd ends");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lock_path_names_interface_and_vhid() {
        let p = instance_lock_path("eth0", 7);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("eth0-7") && name.ends_with(".lock"),
            "{name}"
        );
        assert_eq!(p.parent(), Some(Path::new(RUN_DIR)));
    }
}
