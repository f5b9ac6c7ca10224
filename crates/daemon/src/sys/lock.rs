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
        Self::acquire_noting(path, "")
    }

    /// As [`PidLock::acquire`], with `note` written after the pid line (an instance lock
    /// lists the VIPs its group may add, see [`live_instance_notes`]).
    pub fn acquire_noting(path: &Path, note: &str) -> Result<PidLock, LockError> {
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
                // The pid is the first line; an instance lock lists its VIPs after it.
                return Err(LockError::Held {
                    pid: text.lines().next().and_then(|l| l.trim().parse().ok()),
                });
            }
            Err((_, errno)) => return Err(LockError::Io(errno.into())),
        };
        lock.set_len(0)?;
        lock.rewind()?;
        write!(lock, "{}\n{note}", std::process::id())?;
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

/// Takes the instance lock for `interface` and `vhid`, creating [`RUN_DIR`] if needed, with
/// `note` (the group's VIPs, see [`vip_note`]) after the pid.
pub fn lock_instance(
    interface: &str,
    vhid: u8,
    note: &str,
) -> Result<PidLock, (PathBuf, LockError)> {
    let path = instance_lock_path(interface, vhid);
    if let Err(e) = std::fs::create_dir_all(RUN_DIR) {
        return Err((path, e.into()));
    }
    PidLock::acquire_noting(&path, note).map_err(|e| (path, e))
}

/// An instance lock's note: a line `vip INTERFACE ADDRESS` for each VIP its group may add, so
/// that another carpd starting on the same host can tell a VIP a live instance owns from one
/// a dead instance left. The line `vips listed` is there even when the list is empty.
pub fn vip_note<'a>(vips: impl IntoIterator<Item = (&'a str, std::net::IpAddr)>) -> String {
    let mut note = String::from("vips listed\n");
    for (interface, address) in vips {
        note.push_str(&format!("vip {interface} {address}\n"));
    }
    note
}

/// What a live instance lock says of its VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveNote {
    /// the VIPs it may add: (interface, address)
    Vips(Vec<(String, std::net::IpAddr)>),
    /// an instance that does not list its VIPs (a carpd from before the list): any marked
    /// address could be its
    Unlisted,
}

/// The notes of this network namespace's instance locks that a live process holds (this one
/// included): the ones a dead carpd left are ignored. Each file is read bounded (a lock is a
/// few lines).
pub fn live_instance_notes() -> Vec<LiveNote> {
    let suffix = match std::fs::metadata("/proc/self/ns/net") {
        Ok(namespace) => format!(".netns-{}.lock", namespace.ino()),
        Err(_) => ".lock".to_string(),
    };
    let Ok(entries) = std::fs::read_dir(RUN_DIR) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with(&suffix) {
            continue;
        }
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path)
        else {
            continue;
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            continue;
        }
        // A lock nobody holds is a dead instance's: take it for a moment and let go.
        if let Err((file, Errno::EWOULDBLOCK)) = Flock::lock(file, FlockArg::LockSharedNonblock) {
            let mut text = String::new();
            let _ = file.take(64 * 1024).read_to_string(&mut text);
            notes.push(parse_note(&text));
        }
    }
    notes
}

fn parse_note(text: &str) -> LiveNote {
    if !text.lines().any(|l| l == "vips listed") {
        return LiveNote::Unlisted;
    }
    LiveNote::Vips(
        text.lines()
            .filter_map(|l| {
                let mut words = l.strip_prefix("vip ")?.split(' ');
                Some((words.next()?.to_string(), words.next()?.parse().ok()?))
            })
            .collect(),
    )
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
        // With a note after the pid (an instance lock's VIPs), the pid is still read.
        let noted = dir.join("noted.lock");
        let held =
            PidLock::acquire_noting(&noted, &vip_note([("eth0", "10.0.0.9".parse().unwrap())]))
                .unwrap();
        match PidLock::acquire(&noted) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("second lock: {other:?}"),
        }
        drop(held);
        first.remove();
        assert!(!path.exists());
        let again = Pidfile::create(&path).unwrap();
        assert!(path.exists());
        drop(again);
        assert!(!path.exists(), "a pidfile goes when carpd ends");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_live_lock_is_read_with_its_vips_and_a_dead_ones_is_not() {
        let dir = std::env::temp_dir().join(format!("carpd-lock-note-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("eth0-7.lock");
        let note = vip_note([
            ("eth0", "10.0.0.9".parse().unwrap()),
            ("lo", "::1".parse().unwrap()),
        ]);
        let lock = PidLock::acquire_noting(&path, &note).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            parse_note(&text),
            LiveNote::Vips(vec![
                ("eth0".into(), "10.0.0.9".parse().unwrap()),
                ("lo".into(), "::1".parse().unwrap())
            ])
        );
        assert_eq!(
            parse_note(&format!("{}\n", std::process::id())),
            LiveNote::Unlisted
        );
        assert_eq!(parse_note("1\nvips listed\n"), LiveNote::Vips(vec![]));
        // Held: a shared lock is refused; released: granted (a dead instance's).
        let probe = || {
            let f = File::open(&path).unwrap();
            Flock::lock(f, FlockArg::LockSharedNonblock).is_err()
        };
        assert!(probe());
        drop(lock);
        assert!(!probe());
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
