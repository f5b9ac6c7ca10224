//! Up/down scripts, called exactly as ucarp calls them (argv: interface, the VIP as typed,
//! and the xparam when given; no shell, no PATH search) but asynchronously: adverts and
//! packets are handled while a script runs. Scripts of one group run one at a time, in the
//! order asked, so a down never overtakes the up before it. A script still running at the
//! timeout is killed with its whole process group. Scripts inherit no descriptors (every
//! descriptor carpd opens is close-on-exec) and get `CARPD_*` variables describing the event.
//!
//! Without scripts carpd manages the VIPs itself (native mode): up adds them through
//! rtnetlink, down removes them, in the same ordered queue.

use crate::sys::netlink::Netlink;
use carpd_proto::HookKind;
use std::net::Ipv4Addr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the VIP is brought up and down.
#[derive(Debug, Clone)]
pub enum VipMode {
    /// The user's scripts (`-u`, `-d`; either may be absent).
    Scripts {
        /// `-u`
        up: Option<PathBuf>,
        /// `-d`
        down: Option<PathBuf>,
    },
    /// carpd adds and removes the addresses itself.
    Native {
        /// request connection
        netlink: Netlink,
        /// address and prefix of each VIP
        vips: Vec<(Ipv4Addr, u8)>,
        /// the interface's current index (it changes if the interface is re-created)
        ifindex: Arc<AtomicU32>,
    },
}

/// One queued job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// the core asked for a hook
    Hook(HookKind),
    /// native mode: put back a VIP removed by someone else while master
    Restore,
}

/// What the group's hooks are and get.
#[derive(Debug, Clone)]
pub struct HookSpec {
    /// scripts or native
    pub mode: VipMode,
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
    requests: Option<mpsc::UnboundedSender<Job>>,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl HookRunner {
    /// Starts the runner; completions are sent to `done`.
    pub fn start(spec: HookSpec, done: mpsc::UnboundedSender<Job>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let timeout = spec.timeout;
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                match (&spec.mode, job) {
                    (VipMode::Scripts { up, down }, Job::Hook(kind)) => {
                        let script = if kind == HookKind::Up { up } else { down };
                        if let Some(script) = script {
                            run_script(&spec, script, kind).await;
                        }
                    }
                    (
                        VipMode::Native {
                            netlink,
                            vips,
                            ifindex,
                        },
                        job,
                    ) => {
                        let add = job != Job::Hook(HookKind::Down);
                        native(
                            netlink,
                            vips,
                            ifindex.load(Ordering::Relaxed),
                            &spec.interface,
                            add,
                        )
                        .await;
                    }
                    (VipMode::Scripts { .. }, Job::Restore) => {}
                }
                let _ = done.send(job);
            }
        });
        HookRunner {
            requests: Some(tx),
            task,
            timeout,
        }
    }

    /// Queues a job.
    pub fn request(&self, job: Job) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(job);
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

/// Adds (or removes) every VIP on interface `ifindex`.
async fn native(
    netlink: &Netlink,
    vips: &[(Ipv4Addr, u8)],
    ifindex: u32,
    interface: &str,
    add: bool,
) {
    for &(vip, prefix) in vips {
        let result = if add {
            tracing::warn!("Adding virtual IP {vip}/{prefix} to {interface}");
            netlink.add_address(ifindex, vip, prefix).await
        } else {
            tracing::warn!("Removing virtual IP {vip}/{prefix} from {interface}");
            netlink.remove_address(ifindex, vip, prefix).await
        };
        if let Err(e) = result {
            tracing::error!(
                "{} virtual IP {vip}/{prefix} on {interface} failed: {e}",
                if add { "adding" } else { "removing" }
            );
        }
    }
}

async fn run_script(spec: &HookSpec, script: &std::path::Path, kind: HookKind) {
    let (event, state) = match kind {
        HookKind::Up => ("up", "MASTER"),
        HookKind::Down => ("down", "BACKUP"),
    };
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
        .env_remove("NOTIFY_SOCKET")
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
