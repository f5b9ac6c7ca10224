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
    mut command: tokio::process::Command,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
) -> Ended {
    command
        .stdin(std::process::Stdio::null())
        .env_remove("NOTIFY_SOCKET")
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Ended::NotStarted(e),
    };
    let ended = tokio::select! {
        status = child.wait() => {
            return match status {
                Ok(status) => Ended::Exited(status),
                Err(e) => Ended::WaitFailed(e),
            };
        }
        () = tokio::time::sleep(timeout) => Ended::TimedOut,
        () = cancel => Ended::Cancelled,
    };
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.wait().await;
    ended
}
