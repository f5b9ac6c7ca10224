//! The control socket `carpctl` talks to: a Unix stream socket, one JSON request per line,
//! one JSON reply per line (`watch`: a line per event until the client leaves).
//!
//! It runs beside the loop: each connection is a task of its own, and only a complete,
//! well-formed request from an allowed user reaches the loop, through a bounded channel, so a
//! slow, silent, abusive or vanished client can delay neither an advert nor another client.
//! Limits: a request line of at most [`MAX_REQUEST`] bytes, sent within [`REQUEST_TIMEOUT`];
//! a reply (or event) written within [`WRITE_TIMEOUT`]; at most [`MAX_CONNECTIONS`] at once.

pub mod access;
pub mod protocol;

use access::Access;
use protocol::{error_line, Event, Request};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 4096;
/// How long a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a reply (or one event of `watch`) may take to write.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are told so and closed.
pub const MAX_CONNECTIONS: usize = 1024;
/// Events kept for a `watch` client that reads slowly before it is told it missed some.
const EVENT_BACKLOG: usize = 4096;

/// A request for the loop, with where its one-line JSON reply goes.
#[derive(Debug)]
pub struct Call {
    /// what is asked
    pub request: Request,
    /// the reply (a JSON object, no newline)
    pub reply: oneshot::Sender<String>,
}

/// The bound socket; the file is removed when this is dropped.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A live process answers on it (another carpd).
    #[error("control socket {0} is in use by another carpd: accepted a path no running carpd listens on")]
    InUse(PathBuf),
    /// Something other than a socket is at the path: carpd never replaces it.
    #[error(
        "control socket {path} {what}: accepted a path that is absent or a socket a carpd left"
    )]
    NotSocket {
        /// the path
        path: PathBuf,
        /// what is there
        what: String,
    },
    /// Creating, binding or setting its mode failed.
    #[error("control socket {path}: {error}")]
    Io {
        /// the path
        path: PathBuf,
        /// what failed
        error: io::Error,
    },
}

/// Binds the control socket at `path` (its directory created if missing; a file left by a
/// dead carpd replaced), with mode 0600, or 0660 and group `access`'s group.
pub fn bind(path: &Path, access: &Access) -> Result<ControlSocket, BindError> {
    let io_error = |error| BindError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    socket_or_absent(path).map_err(|what| BindError::NotSocket {
        path: path.to_path_buf(),
        what,
    })?;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(BindError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_error)?;
    }
    let listener = UnixListener::bind(path).map_err(io_error)?;
    let socket = ControlSocket {
        listener,
        path: path.to_path_buf(),
    };
    access.apply_to(path).map_err(io_error)?;
    Ok(socket)
}

/// The longest socket path, in bytes: `sun_path` holds 108 with its closing NUL.
pub const MAX_PATH: usize = 107;

/// Whether `path` may become the control socket: absent, or a socket (one a carpd left, or
/// a live one, which [`bind`] refuses separately). Anything else there is someone's file
/// that binding would replace and stopping would delete; the error says what it is.
pub fn socket_or_absent(path: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::FileTypeExt as _;
    let length = path.as_os_str().as_bytes().len();
    if length > MAX_PATH {
        return Err(format!(
            "is {length} bytes long: accepted at most {MAX_PATH} bytes (a Unix socket's path)"
        ));
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot be checked: {e}")),
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(m) => Err(format!(
            "is {}, not a socket",
            crate::sys::file::kind_of(m.file_type()).unwrap_or("a regular file")
        )),
    }
}

/// Serves the socket until the daemon exits: requests go to `calls`, events of `events` to
/// `watch` clients.
pub fn serve(
    socket: ControlSocket,
    access: Access,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Arc<str>>,
) -> tokio::task::JoinHandle<()> {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let access = Arc::new(access);
    tokio::spawn(async move {
        // The socket file lives as long as this task.
        let socket = socket;
        loop {
            let stream = match socket.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and the like: wait a little instead of spinning.
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                tokio::spawn(refuse(
                    stream,
                    format!("carpd serves {MAX_CONNECTIONS} control connections at most: try again later"),
                ));
                continue;
            };
            let (access, calls, events) = (Arc::clone(&access), calls.clone(), events.clone());
            tokio::spawn(async move {
                connection(stream, &access, calls, events).await;
                drop(permit);
            });
        }
    })
}

/// Writes one error line and closes.
async fn refuse(mut stream: UnixStream, message: String) {
    let line = format!("{}\n", error_line(&message));
    let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(line.as_bytes())).await;
    let _ = stream.shutdown().await;
    drain(&mut stream).await;
}

/// Reads and forgets what the client sent (a request's worth at most, for a second at most)
/// before the socket is closed: closing a Unix socket with unread data resets it, and the
/// client would lose the error line written to it.
async fn drain<R: tokio::io::AsyncRead + Unpin>(read: &mut R) {
    let mut buffer = [0u8; 1024];
    let mut left = MAX_REQUEST + 1;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while left > 0 {
            match read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// One client: one request, its reply (or the event stream), then close.
async fn connection(
    stream: UnixStream,
    access: &Access,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Arc<str>>,
) {
    if let Err(message) = access.check(&stream) {
        tracing::warn!("control socket: {message}");
        return refuse(stream, message).await;
    }
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let request = match read_request(&mut reader).await {
        Ok(line) => Request::parse(&line),
        Err(message) => Err(message),
    };
    let request = match request {
        Ok(request) => request,
        Err(message) => {
            let line = format!("{}\n", error_line(&message));
            let _ = tokio::time::timeout(WRITE_TIMEOUT, write.write_all(line.as_bytes())).await;
            let _ = write.shutdown().await;
            return drain(&mut reader).await;
        }
    };
    if request == Request::Watch {
        return watch(reader, write, events.subscribe()).await;
    }
    let (reply, answer) = oneshot::channel();
    let line = if calls.send(Call { request, reply }).await.is_err() {
        error_line("carpd is stopping")
    } else {
        answer
            .await
            .unwrap_or_else(|_| error_line("carpd is stopping"))
    };
    let line = format!("{line}\n");
    let _ = tokio::time::timeout(WRITE_TIMEOUT, write.write_all(line.as_bytes())).await;
}

/// Reads one request line within the size and time limits.
async fn read_request<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Result<String, String> {
    let mut line = Vec::new();
    let mut limited = (&mut *reader).take(MAX_REQUEST as u64 + 1);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, limited.read_until(b'\n', &mut line)).await;
    match read {
        Err(_) => Err(format!(
            "no complete request within {} s: accepted one JSON object on one line",
            REQUEST_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("reading the request: {e}")),
        Ok(Ok(_)) if line.len() > MAX_REQUEST => Err(format!(
            "request longer than {MAX_REQUEST} bytes: accepted one JSON object of at most {MAX_REQUEST} bytes on one line"
        )),
        Ok(Ok(0)) => Err("empty request: accepted one JSON object on one line".into()),
        Ok(Ok(_)) => String::from_utf8(line)
            .map_err(|_| "the request is not UTF-8: accepted one JSON object on one line".into()),
    }
}

/// Streams events until the client leaves or stops reading.
async fn watch<R: tokio::io::AsyncRead + Unpin>(
    mut reader: BufReader<R>,
    mut write: tokio::net::unix::OwnedWriteHalf,
    mut events: broadcast::Receiver<Arc<str>>,
) {
    if !send_line(&mut write, &Event::Watching {}.to_line()).await {
        return;
    }
    let mut sink = [0u8; 256];
    loop {
        let line = tokio::select! {
            // The client closed (or sent more): it is gone.
            _ = reader.read(&mut sink) => return,
            event = events.recv() => match event {
                Ok(line) => line.to_string(),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Event::Lagged { missed }.to_line()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        if !send_line(&mut write, &line).await {
            return;
        }
    }
}

/// Writes one line within [`WRITE_TIMEOUT`]; false when the client is gone or stuck.
async fn send_line(write: &mut tokio::net::unix::OwnedWriteHalf, line: &str) -> bool {
    let line = format!("{line}\n");
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, write.write_all(line.as_bytes())).await,
        Ok(Ok(()))
    )
}

/// The channel events go out on (kept by the loop; `watch` clients subscribe).
pub fn event_channel() -> broadcast::Sender<Arc<str>> {
    broadcast::channel(EVENT_BACKLOG).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, Write as _};

    #[test]
    fn at_the_connection_limit_a_client_gets_the_error_line_not_a_reset() {
        let dir = std::env::temp_dir().join(format!("carpd-control-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.sock");
        let served = path.clone();
        // The server on a runtime of its own; its calls are never answered (no loop).
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let socket = bind(&served, &Access::root_only()).unwrap();
                let (calls, _keep) = mpsc::channel(1);
                let _serving = serve(socket, Access::root_only(), calls, event_channel());
                ready_tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        });
        ready_rx.recv().unwrap();
        // Every slot taken by a client that says nothing (each waits for its request).
        let held: Vec<std::os::unix::net::UnixStream> = (0..MAX_CONNECTIONS)
            .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let mut over = std::os::unix::net::UnixStream::connect(&path).unwrap();
        over.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // As carpctl does: the request goes out after carpd has already refused (a closed
        // socket would fail this write with EPIPE and the client would never see why).
        std::thread::sleep(Duration::from_millis(300));
        over.write_all(b"{\"command\":\"status\"}\n").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(&over).read_line(&mut line).unwrap();
        assert!(
            line.contains("serves 1024 control connections at most: try again later"),
            "{line:?}"
        );
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
