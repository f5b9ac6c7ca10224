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
    prepare(&mut command);
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
    kill_group(&mut child).await;
    ended
}

/// The most of a program's output [`run_captured`] keeps (each of stdout and stderr).
pub const CAPTURED_MAX: u64 = 4096;

/// As [`run`], and what the program wrote to stdout and stderr (each up to
/// [`CAPTURED_MAX`] bytes, lossily decoded, trimmed), for the log of a short command. A
/// function of its own so that [`run`]'s future, which every group's hook runner holds, does
/// not grow by the reading.
pub async fn run_captured(
    mut command: tokio::process::Command,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
) -> (Ended, String) {
    prepare(&mut command);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return (Ended::NotStarted(e), String::new()),
    };
    let output = output(child.stdout.take(), child.stderr.take());
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
    kill_group(&mut child).await;
    (ended, String::new())
}

/// No stdin, no systemd notify socket, a process group of its own, killed if dropped.
fn prepare(command: &mut tokio::process::Command) {
    command
        .stdin(std::process::Stdio::null())
        .env_remove("NOTIFY_SOCKET")
        .process_group(0)
        .kill_on_drop(true);
}

/// Kills `child`'s process group and reaps it.
async fn kill_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.wait().await;
}

/// What the two pipes carry until they close: stdout, then stderr after "; ".
async fn output(
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
) -> String {
    use tokio::io::AsyncReadExt;
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
}

/// For tests: writes `body` to `path` as an executable script without this process ever
/// holding the file open for writing. The tests run on many threads; a thread that forks while
/// another has the file open gives its child a copy of that descriptor until the child execs,
/// and running the script in that window fails with ETXTBSY ("Text file busy"). A short-lived
/// `sh` writes the file instead, so no descriptor to it is ever ours to copy.
#[cfg(test)]
pub fn write_script(path: &std::path::Path, body: &str) {
    use std::io::Write;
    let mut writer = std::process::Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh runs");
    writer
        .stdin
        .take()
        .expect("piped")
        .write_all(body.as_bytes())
        .expect("script written to sh");
    let status = writer.wait().expect("sh ends");
    assert!(status.success(), "writing {}: {status}", path.display());
}
