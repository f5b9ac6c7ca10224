//! Running a program with a time limit, for hooks and tracker checks alike: in a process
//! group of its own, with no stdin, and killed with its whole group at the limit or when
//! cancelled, so that nothing it started outlives it.

use std::future::Future;
use std::process::ExitStatus;
use std::time::Duration;

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    /// It exited (or was killed by a signal from elsewhere).
    Exited(ExitStatus),
    /// Still running at the limit: killed with its process group.
    TimedOut,
    /// Cancelled: killed with its process group.
    Cancelled,
    /// It could not be started (no such file, not executable, ...).
    NotStarted(std::io::Error),
    /// Waiting for it failed.
    WaitFailed(std::io::Error),
}

/// Runs `command` until it exits, `timeout` passes or `cancel` completes.
pub async fn run(
    command: tokio::process::Command,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
) -> Ended {
    run_inner(command, timeout, cancel, false).await.0
}

/// The most of a program's output [`run_captured`] keeps (each of stdout and stderr).
pub const CAPTURED_MAX: u64 = 4096;

/// As [`run`], and what the program wrote to stdout and stderr (each up to
/// [`CAPTURED_MAX`] bytes, lossily decoded, trimmed), for the log of a short command.
pub async fn run_captured(
    command: tokio::process::Command,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
) -> (Ended, String) {
    run_inner(command, timeout, cancel, true).await
}

async fn run_inner(
    mut command: tokio::process::Command,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
    capture: bool,
) -> (Ended, String) {
    use tokio::io::AsyncReadExt;
    command
        .stdin(std::process::Stdio::null())
        .env_remove("NOTIFY_SOCKET")
        .process_group(0)
        .kill_on_drop(true);
    if capture {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return (Ended::NotStarted(e), String::new()),
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let output = async move {
        async fn drain(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
            let mut kept = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = (&mut pipe).take(CAPTURED_MAX).read_to_end(&mut kept).await;
                // The rest is read and dropped, so that the program never blocks on a full pipe.
                let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
            }
            kept
        }
        let (out, err) = tokio::join!(drain(stdout), drain(stderr));
        let mut text = String::from_utf8_lossy(&out).trim().to_string();
        let err = String::from_utf8_lossy(&err);
        if !err.trim().is_empty() {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(err.trim());
        }
        text
    };
    let pid = child.id();
    let ended = tokio::select! {
        (status, text) = async { tokio::join!(child.wait(), output) } => {
            return match status {
                Ok(status) => (Ended::Exited(status), text),
                Err(e) => (Ended::WaitFailed(e), text),
            };
        }
        () = tokio::time::sleep(timeout) => Ended::TimedOut,
        () = cancel => Ended::Cancelled,
    };
    if let Some(pid) = pid {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.wait().await;
    (ended, String::new())
}
