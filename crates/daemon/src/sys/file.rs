//! Reads of files that the configuration names (the config file itself, passfiles, tracker
//! files), bounded so that no file can hold the loop: opened non-blocking (opening a FIFO
//! waits for no writer), refused unless a regular file (a FIFO, a device or a socket can block
//! a read forever or never end), and read up to a limit (`/dev/zero` or a 1 GB file costs at
//! most the limit). A hung network mount can still block `open` or `read` in the kernel;
//! callers on the loop's behalf run these reads off the loop (see `crate::io::trackers`).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// Why a configured file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Nothing at the path.
    #[error("does not exist")]
    NotFound,
    /// Something that is not a regular file.
    #[error("is {0}, not a regular file: accepted a regular file")]
    NotRegular(&'static str),
    /// A regular file over the limit (for reads that need the whole file).
    #[error("is larger than {limit} bytes: accepted a file of at most {limit} bytes")]
    TooLarge {
        /// the limit, in bytes
        limit: u64,
    },
    /// Opening or reading failed.
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound
        } else {
            FileError::Io(e)
        }
    }
}

/// What a file type is, in words, for the error that refuses it; `None` for a regular file.
pub fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("not a regular file")
    }
}

/// Opens `path` for reading without waiting for a FIFO's writer or taking a terminal.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` (see [`open_nonblocking`]) and refuses what is not a regular file.
fn open_regular(path: &Path) -> Result<File, FileError> {
    let file = open_nonblocking(path)?;
    match kind_of(file.metadata()?.file_type()) {
        None => Ok(file),
        Some(kind) => Err(FileError::NotRegular(kind)),
    }
}

/// The whole of the regular file `path`, refused if it is over `limit` bytes.
pub fn read_whole(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// At most the first `limit` bytes of the regular file `path`.
pub fn read_head(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The first line of `path` (at most `limit` bytes, the newline kept) where `path` may also
/// be a pipe or FIFO, as `-o <(echo secret)` hands one to a command line: a pipe is read
/// without blocking for at most `wait`, then refused with what was missing. Other
/// non-regular files are refused as by [`read_head`].
pub fn read_first_line(path: &Path, limit: u64, wait: Duration) -> Result<Vec<u8>, FileError> {
    let mut file = open_nonblocking(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_fifo() {
        if let Some(kind) = kind_of(file_type) {
            return Err(FileError::NotRegular(kind));
        }
    }
    let deadline = std::time::Instant::now() + wait;
    let mut line = Vec::new();
    let mut buffer = [0u8; 512];
    while (line.len() as u64) < limit && line.last() != Some(&b'\n') {
        let want = (limit - line.len() as u64).min(buffer.len() as u64) as usize;
        // A byte at a time from a pipe: what follows the first line stays unread.
        let want = if file_type.is_fifo() { 1 } else { want };
        match file.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() || !readable(&file, left)? {
                    return Err(FileError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "a pipe with no complete line after {}",
                            humantime::format_duration(wait)
                        ),
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(end) = line.iter().position(|b| *b == b'\n') {
        line.truncate(end + 1);
    }
    Ok(line)
}

/// Waits up to `wait` for `file` to be readable (or at its end).
fn readable(file: &File, wait: Duration) -> std::io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd as _;
    let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
    let millis = u16::try_from(wait.as_millis().max(1)).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("carpd-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_at_once() {
        let dir = scratch("kinds");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = Instant::now();
        for (path, kind) in [
            (fifo.as_path(), "a FIFO (named pipe)"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.as_path(), "a directory"),
        ] {
            for result in [read_whole(path, 10), read_head(path, 10)] {
                let e = result.unwrap_err();
                assert!(matches!(e, FileError::NotRegular(k) if k == kind), "{e}");
                assert!(e.to_string().contains("accepted a regular file"), "{e}");
            }
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_stop_at_the_limit() {
        let dir = scratch("limit");
        let path = dir.join("big");
        std::fs::write(&path, vec![b'x'; 10_000]).unwrap();
        assert_eq!(read_head(&path, 4096).unwrap().len(), 4096);
        let e = read_whole(&path, 4096).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is larger than 4096 bytes: accepted a file of at most 4096 bytes"
        );
        assert_eq!(read_whole(&path, 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            read_head(&dir.join("absent"), 1),
            Err(FileError::NotFound)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_first_line_comes_from_a_pipe_within_its_wait_or_not_at_all() {
        use std::io::Write as _;
        let dir = scratch("pipe");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Opened read-write, the test holds a writer that has not written yet.
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let started = Instant::now();
        let e = read_first_line(&fifo, 511, Duration::from_millis(200)).unwrap_err();
        assert!(
            e.to_string().contains("no complete line after 200ms"),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        writer.write_all(b"secret\nsecond\n").unwrap();
        assert_eq!(
            read_first_line(&fifo, 511, Duration::from_secs(5)).unwrap(),
            b"secret\n"
        );
        let e = read_first_line(Path::new("/dev/zero"), 511, Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(e, FileError::NotRegular("a character device")),
            "{e}"
        );
        let plain = dir.join("plain");
        std::fs::write(&plain, "abc\r\nmore").unwrap();
        assert_eq!(
            read_first_line(&plain, 511, Duration::ZERO).unwrap(),
            b"abc\r\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
