//! What the host asks of the I/O side beyond sending frames: hook jobs (and how they ended)
//! and notify script calls. The I/O side runs them (`io::hooks`, `io::notify`).

use carpd_proto::{HookId, HookKind};
use std::time::Duration;

/// One queued job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// the core asked for a hook
    Hook {
        /// the core's id for it
        id: HookId,
        /// up or down
        kind: HookKind,
    },
    /// native mode: put back a VIP removed by someone else while master
    Restore,
    /// native mode: remove the VIPs again, after a removal failed when the group left MASTER
    Release,
    /// a master's VIPs or scripts changed on reload: the old set taken down, the new one put
    /// up (native mode: only the addresses that differ)
    Reconcile,
}

/// How a hook run ended, for `carpd_hook_runs_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookResult {
    /// exit 0 (native: every address change went through)
    Ok,
    /// another exit status, a signal, a start failure (native: a change failed)
    Failed,
    /// still running at the hook timeout: killed
    Timeout,
    /// no longer wanted while it ran: killed
    Cancelled,
    /// no longer wanted before it ran
    Skipped,
}

impl HookResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HookResult::Ok => "ok",
            HookResult::Failed => "failed",
            HookResult::Timeout => "timeout",
            HookResult::Cancelled => "cancelled",
            HookResult::Skipped => "skipped",
        }
    }
}

/// One hook run, as the metrics count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    /// `up`, `down`, `restore`, `release` or `reconcile`
    pub kind: &'static str,
    /// how it ended
    pub result: HookResult,
    /// how long it took
    pub duration: Duration,
    /// native mode: the first address change that failed, and why
    pub error: Option<String>,
}

impl Job {
    /// Whether this job adds the VIPs in native mode (the others take them away).
    pub fn adds(&self) -> bool {
        !matches!(
            self,
            Job::Release
                | Job::Hook {
                    kind: HookKind::Down,
                    ..
                }
        )
    }
}

impl Job {
    /// The kind label of the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Hook {
                kind: HookKind::Up, ..
            } => "up",
            Job::Hook {
                kind: HookKind::Down,
                ..
            } => "down",
            Job::Restore => "restore",
            Job::Release => "release",
            Job::Reconcile => "reconcile",
        }
    }
}

/// One call of a notify script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// the program and its arguments
    pub argv: Vec<String>,
    /// the environment describing the change
    pub env: Vec<(&'static str, String)>,
    /// killed with its process group after this
    pub timeout: Duration,
    /// what log lines about it start with (`[name] `)
    pub tag: String,
}
