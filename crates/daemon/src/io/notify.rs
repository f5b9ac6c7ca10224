//! Notify scripts: one call per state change of any group, run one at a time in the order the
//! changes happened (a slow call delays the calls after it, never the loop and never the order),
//! each bounded by its group's hook timeout. The event is in the environment: `CARPD_GROUP`,
//! `CARPD_INTERFACE`, `CARPD_VHID`, `CARPD_STATE` (the new state), `CARPD_FROM`,
//! `CARPD_REASON`, `CARPD_VIPS`.

pub use crate::host::jobs::Notification;
use crate::sys::child::{self, Ended};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The queue of calls and the task that runs them.
#[derive(Debug)]
pub struct Notifier {
    calls: Option<mpsc::UnboundedSender<Notification>>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts the task.
    pub fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Notifier {
            calls: Some(tx),
            task: tokio::spawn(serve(rx)),
        }
    }

    /// Queues a call behind the ones already queued.
    pub fn call(&self, notification: Notification) {
        if let Some(tx) = &self.calls {
            let _ = tx.send(notification);
        }
    }

    /// Takes no more calls and lets the queued ones run (each within its timeout), for at
    /// most `limit`.
    pub async fn finish(&mut self, limit: Duration) {
        self.calls = None;
        if tokio::time::timeout(limit, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

async fn serve(mut calls: mpsc::UnboundedReceiver<Notification>) {
    while let Some(n) = calls.recv().await {
        let mut command = tokio::process::Command::new(&n.argv[0]);
        command
            .args(&n.argv[1..])
            .envs(n.env.iter().map(|(k, v)| (k, v)));
        let program = &n.argv[0];
        let tag = &n.tag;
        match child::run(command, n.timeout, std::future::pending()).await {
            Ended::Exited(status) if status.success() => {}
            Ended::Exited(status) => match status.code() {
                Some(code) => tracing::warn!("{tag}notify script {program} exited with status {code}"),
                None => tracing::warn!(
                    "{tag}notify script {program} was killed by signal {}",
                    status.signal().unwrap_or(0)
                ),
            },
            Ended::TimedOut => tracing::warn!(
                "{tag}notify script {program} still running after {}: killed with its process group",
                humantime::format_duration(n.timeout)
            ),
            Ended::Cancelled => {}
            Ended::NotStarted(e) => tracing::error!("{tag}Unable to exec notify script {program}: {e}"),
            Ended::WaitFailed(e) => tracing::error!("{tag}waiting for notify script {program}: {e}"),
        }
    }
}
