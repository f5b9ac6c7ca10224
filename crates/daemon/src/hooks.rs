//! Up/down scripts, called exactly as ucarp calls them (argv: interface, the VIP as typed,
//! and the xparam when given; no shell, no PATH search) but asynchronously: adverts and
//! packets are handled while a script runs. Scripts of one group run one at a time, in the
//! order asked, so a down never overtakes the up before it. A script still running at the
//! timeout is killed with its whole process group. Scripts inherit no descriptors (every
//! descriptor carpd opens is close-on-exec) and get `CARPD_*` variables describing the event.

use carpd_proto::HookKind;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the scripts of one group are and get.
#[derive(Debug, Clone)]
pub struct HookSpec {
    /// `-u`
    pub up: Option<PathBuf>,
    /// `-d`
    pub down: Option<PathBuf>,
    /// argv[1]
    pub interface: String,
    /// argv[2]: the first VIP exactly as typed
    pub vip_typed: String,
    /// every VIP, for `CARPD_VIPS`
    pub vips: Vec<String>,
    /// argv[3] when given
    pub xparam: Option<String>,
    /// for `CARPD_VHID`
    pub vhid: u8,
    /// how long a script may run
    pub timeout: Duration,
}

/// Runs the hooks of one group in order and reports each completion on a channel.
#[derive(Debug)]
pub struct HookRunner {
    requests: Option<mpsc::UnboundedSender<HookKind>>,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl HookRunner {
    /// Starts the runner; completions are sent to `done`.
    pub fn start(spec: HookSpec, done: mpsc::UnboundedSender<HookKind>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<HookKind>();
        let timeout = spec.timeout;
        let task = tokio::spawn(async move {
            while let Some(kind) = rx.recv().await {
                run_one(&spec, kind).await;
                let _ = done.send(kind);
            }
        });
        HookRunner {
            requests: Some(tx),
            task,
            timeout,
        }
    }

    /// Queues a hook.
    pub fn request(&self, kind: HookKind) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(kind);
        }
    }

    /// Lets queued hooks finish (each within its timeout), then stops the runner.
    pub async fn finish(mut self, queued_at_most: u32) {
        self.requests = None;
        let limit = self.timeout * queued_at_most.max(1) + Duration::from_secs(1);
        if tokio::time::timeout(limit, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

async fn run_one(spec: &HookSpec, kind: HookKind) {
    let (script, event, state) = match kind {
        HookKind::Up => (&spec.up, "up", "MASTER"),
        HookKind::Down => (&spec.down, "down", "BACKUP"),
    };
    let Some(script) = script else { return };
    let mut argv = vec![spec.interface.clone(), spec.vip_typed.clone()];
    argv.extend(spec.xparam.clone());
    tracing::warn!("Spawning [{} {}]", script.display(), argv.join(" "));
    let mut command = tokio::process::Command::new(script);
    command
        .args(&argv)
        .env("CARPD_EVENT", event)
        .env("CARPD_STATE", state)
        .env("CARPD_VHID", spec.vhid.to_string())
        .env("CARPD_VIP", &spec.vip_typed)
        .env("CARPD_VIPS", spec.vips.join(" "))
        .env("CARPD_INTERFACE", &spec.interface)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("Unable to exec {}: {e}", script.display());
            return;
        }
    };
    match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => match status.code() {
            Some(code) => tracing::warn!("{} exited with status {code}", script.display()),
            None => tracing::warn!(
                "{} was killed by signal {}",
                script.display(),
                status.signal().unwrap_or(0)
            ),
        },
        Ok(Err(e)) => tracing::error!("waiting for {}: {e}", script.display()),
        Err(_) => {
            tracing::warn!(
                "{} still running after {}: killing it and its process group",
                script.display(),
                humantime::format_duration(spec.timeout)
            );
            if let Some(pid) = child.id() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
        }
    }
}
