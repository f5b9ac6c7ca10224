//! Drives conntrackd (`[conntrack]`) as its documented primary-backup procedure does, for
//! the groups with `conntrack = true`, with the race closed: the group's up hook waits for
//! the commit of the external cache before it switches the virtual MAC or adds a VIP, so
//! that no packet of a synced flow meets a kernel that does not know the flow yet.
//!
//! conntrackd is one per host, so the driver keeps one role for all those groups: primary
//! while any of them is master, backup when none is. Becoming primary runs `-c` (commit),
//! `-f` (flush the caches), `-R` (resync with the kernel) and `-B` (bulk send); becoming
//! backup (or fault, or stopping) runs `-t` (shorten the kernel's timers) and `-n` (ask the
//! peer for a resync). Each once per change of role, not once per group.
//!
//! Commands run one at a time with conntrackd's own client (`conntrackd -C FILE -x`), each
//! bounded by `timeout`: one that does not answer is killed, logged and counted, and the
//! failover goes on (losing flows beats losing the address). A backup step still running or
//! queued when the role turns primary again is dropped, so that a hung conntrackd costs the
//! failover at most one bound.

use crate::mgmt::control::protocol::{CommandView, CommitView, ConntrackView};
use crate::settings::conntrack::ConntrackSettings;
use crate::sys::child::{self, Ended};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One conntrackd client command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `-c`: commit the external cache to the kernel
    Commit,
    /// `-f`: flush the internal and external caches
    Flush,
    /// `-R`: resync the internal cache with the kernel's table
    Resync,
    /// `-B`: send the internal cache to the peer
    BulkSend,
    /// `-t`: shorten the kernel's timers (to `PurgeTimeout`)
    ResetTimers,
    /// `-n`: ask the peer to send its cache
    RequestResync,
}

/// Every step, in the order `status` lists them.
pub const STEPS: [Step; 6] = [
    Step::Commit,
    Step::Flush,
    Step::Resync,
    Step::BulkSend,
    Step::ResetTimers,
    Step::RequestResync,
];

impl Step {
    /// conntrackd's option for it.
    pub fn flag(self) -> &'static str {
        match self {
            Step::Commit => "-c",
            Step::Flush => "-f",
            Step::Resync => "-R",
            Step::BulkSend => "-B",
            Step::ResetTimers => "-t",
            Step::RequestResync => "-n",
        }
    }

    /// Its name in `status` and the metrics' `command` label.
    pub fn name(self) -> &'static str {
        match self {
            Step::Commit => "commit",
            Step::Flush => "flush",
            Step::Resync => "resync",
            Step::BulkSend => "bulk_send",
            Step::ResetTimers => "reset_timers",
            Step::RequestResync => "request_resync",
        }
    }

    /// What it does, for the log.
    fn what(self) -> &'static str {
        match self {
            Step::Commit => "commit the external cache to the kernel",
            Step::Flush => "flush the caches",
            Step::Resync => "resync with the kernel's table",
            Step::BulkSend => "bulk send to the peer",
            Step::ResetTimers => "shorten the kernel's timers",
            Step::RequestResync => "ask the peer for a resync",
        }
    }
}

/// How one command ended, for the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// exit status 0
    Ok,
    /// another status, a signal, or it could not be started
    Failed,
    /// still running at the bound: killed
    Timeout,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
        }
    }
}

/// The role the driver has put conntrackd in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Role {
    /// nothing asked yet
    #[default]
    Unknown,
    Primary,
    Backup,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Unknown => "unknown",
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }
}

/// What `status` and the metrics read: kept by the driver's task.
#[derive(Debug)]
struct Record {
    settings: ConntrackSettings,
    role: Role,
    masters: BTreeSet<String>,
    counts: BTreeMap<(Step, Outcome), u64>,
    last_commit: Option<CommitView>,
}

#[derive(Debug)]
enum Request {
    /// `member` became master: the reply is sent when the commit is done
    Primary(String, oneshot::Sender<()>),
    /// `member` left MASTER
    Backup(String),
    /// `member` no longer drives conntrackd (reload), whatever its state
    Leave(String),
    /// new `[conntrack]` settings for the commands run from now on
    Respec(ConntrackSettings),
}

/// A handle on the driver, for the groups' hook runners: cheap to clone.
#[derive(Debug, Clone)]
pub struct Conntrack {
    requests: mpsc::UnboundedSender<Request>,
    record: Arc<Mutex<Record>>,
}

/// The driver: its handle and its task.
#[derive(Debug)]
pub struct ConntrackDriver {
    handle: Conntrack,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl ConntrackDriver {
    /// Starts the driver of the conntrackd `settings` names.
    pub fn start(settings: ConntrackSettings, tag: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        if !settings.socket.exists() {
            tracing::warn!(
                "{tag}conntrackd's socket {} (from {}) does not exist yet: is conntrackd running? carpd drives it as soon as it answers",
                settings.socket.display(),
                settings.config.display()
            );
        }
        tracing::info!(
            "{tag}Driving conntrackd through {} ({}), each command bounded by {}",
            settings.config.display(),
            settings.socket.display(),
            humantime::format_duration(settings.timeout)
        );
        let timeout = settings.timeout;
        let record = Arc::new(Mutex::new(Record {
            settings,
            role: Role::Unknown,
            masters: BTreeSet::new(),
            counts: BTreeMap::new(),
            last_commit: None,
        }));
        let task = tokio::spawn(serve(rx, Arc::clone(&record), tag.to_string()));
        ConntrackDriver {
            handle: Conntrack {
                requests: tx,
                record,
            },
            task,
            timeout,
        }
    }

    /// A handle for the hook runners.
    pub fn handle(&self) -> Conntrack {
        self.handle.clone()
    }

    /// New settings for the commands run from now on (reload).
    pub fn respec(&mut self, settings: ConntrackSettings) {
        self.timeout = settings.timeout;
        let _ = self.handle.requests.send(Request::Respec(settings));
    }

    /// `status`'s view.
    pub fn view(&self) -> ConntrackView {
        self.handle.view()
    }

    /// Lets the queued commands run (each within its bound), then stops the driver. Call
    /// once the hook runners are done: the last down hooks queue the backup steps.
    pub async fn finish(self) {
        let ConntrackDriver {
            handle,
            mut task,
            timeout,
        } = self;
        drop(handle);
        // At most one role change is queued: four commands.
        let limit = timeout * 4 + Duration::from_secs(1);
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
    }
}

impl Conntrack {
    /// Group `member` became master: conntrackd turns primary unless it is already. The
    /// receiver completes when the commit is done (or failed, or timed out, or was dropped):
    /// the VIPs may go up.
    pub fn primary(&self, member: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.requests.send(Request::Primary(member.to_string(), tx));
        rx
    }

    /// Group `member` left MASTER: conntrackd turns backup when no group is master.
    pub fn backup(&self, member: &str) {
        let _ = self.requests.send(Request::Backup(member.to_string()));
    }

    /// Group `member` no longer drives conntrackd (a reload set `conntrack = false`).
    pub fn leave(&self, member: &str) {
        let _ = self.requests.send(Request::Leave(member.to_string()));
    }

    /// `status`'s view.
    pub fn view(&self) -> ConntrackView {
        let record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        ConntrackView {
            config: record.settings.config.display().to_string(),
            socket: record.settings.socket.display().to_string(),
            role: record.role.as_str().to_string(),
            masters: record.masters.iter().cloned().collect(),
            last_commit: record.last_commit.clone(),
            commands: STEPS
                .iter()
                .map(|&step| {
                    let count = |o| record.counts.get(&(step, o)).copied().unwrap_or(0);
                    CommandView {
                        command: step.name().to_string(),
                        flag: step.flag().to_string(),
                        ok: count(Outcome::Ok),
                        failed: count(Outcome::Failed),
                        timeout: count(Outcome::Timeout),
                    }
                })
                .collect(),
        }
    }
}

type Running = Pin<Box<dyn Future<Output = (Ended, String)> + Send>>;

/// The driver's state inside its task.
struct Plan {
    role: Role,
    masters: BTreeSet<String>,
    queue: VecDeque<Step>,
    /// the step running, since when, and its run
    running: Option<(Step, Instant, Running)>,
    /// the up hooks waiting for the next commit to end
    waiters: Vec<oneshot::Sender<()>>,
}

impl Plan {
    /// Whether a commit is queued or running: the waiters wait for it.
    fn commit_ahead(&self) -> bool {
        self.queue.contains(&Step::Commit) || matches!(self.running, Some((Step::Commit, _, _)))
    }

    fn release_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

/// The driver's task: requests change the plan; the plan's steps run one at a time.
async fn serve(
    mut requests: mpsc::UnboundedReceiver<Request>,
    record: Arc<Mutex<Record>>,
    tag: String,
) {
    let mut plan = Plan {
        role: Role::Unknown,
        masters: BTreeSet::new(),
        queue: VecDeque::new(),
        running: None,
        waiters: Vec::new(),
    };
    let mut open = true;
    loop {
        if plan.running.is_none() {
            if let Some(step) = plan.queue.pop_front() {
                let settings = record
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .settings
                    .clone();
                plan.running = Some((step, Instant::now(), Box::pin(command(settings, step))));
            } else if !open {
                break;
            }
        }
        tokio::select! {
            request = requests.recv(), if open => match request {
                Some(Request::Respec(settings)) => {
                    record.lock().unwrap_or_else(|e| e.into_inner()).settings = settings;
                }
                Some(request) => handle(&mut plan, request, &tag),
                None => open = false,
            },
            (ended, output) = async {
                match plan.running.as_mut() {
                    Some((_, _, run)) => run.await,
                    None => std::future::pending().await,
                }
            } => {
                let (step, started, _) = plan.running.take().expect("a step was running");
                let elapsed = started.elapsed();
                let outcome = log_step(&tag, step, elapsed, ended, &output);
                let mut r = record.lock().unwrap_or_else(|e| e.into_inner());
                *r.counts.entry((step, outcome)).or_default() += 1;
                if step == Step::Commit {
                    r.last_commit = Some(CommitView {
                        at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                        timestamp: SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map_or(0.0, |d| d.as_secs_f64()),
                        duration_seconds: elapsed.as_secs_f64(),
                        result: outcome.as_str().to_string(),
                        detail: output,
                    });
                    drop(r);
                    if !plan.queue.contains(&Step::Commit) {
                        plan.release_waiters();
                    }
                }
            }
        }
        let mut r = record.lock().unwrap_or_else(|e| e.into_inner());
        r.role = plan.role;
        r.masters.clone_from(&plan.masters);
    }
    plan.release_waiters();
}

/// One request's change to the plan.
fn handle(plan: &mut Plan, request: Request, tag: &str) {
    match request {
        Request::Primary(member, reply) => {
            plan.masters.insert(member.clone());
            if plan.role == Role::Primary {
                if plan.commit_ahead() {
                    plan.waiters.push(reply);
                } else {
                    let _ = reply.send(());
                }
                return;
            }
            tracing::warn!("{tag}{member} is master: conntrackd becomes primary (commit, flush, resync, bulk send)");
            plan.role = Role::Primary;
            // What the last role left to do is dropped: a step running for it is killed,
            // unless it is a commit (the new round's commit follows it).
            if let Some((step, _, _)) = &plan.running {
                if *step != Step::Commit {
                    tracing::info!(
                        "{tag}conntrackd {} ({}) no longer wanted: killed",
                        step.flag(),
                        step.what()
                    );
                    plan.running = None;
                }
            }
            plan.queue.clear();
            plan.queue
                .extend([Step::Commit, Step::Flush, Step::Resync, Step::BulkSend]);
            plan.waiters.push(reply);
        }
        Request::Backup(member) => {
            plan.masters.remove(&member);
            if !plan.masters.is_empty() || plan.role == Role::Backup {
                return;
            }
            tracing::warn!("{tag}no group with conntrack = true is master: conntrackd becomes backup (reset timers, request resync)");
            plan.role = Role::Backup;
            // A primary round's steps not yet started are dropped; one running ends.
            plan.queue.clear();
            if !plan.commit_ahead() {
                plan.release_waiters();
            }
            plan.queue.extend([Step::ResetTimers, Step::RequestResync]);
        }
        Request::Leave(member) => {
            plan.masters.remove(&member);
        }
        // Settings are the record's, changed by `serve`.
        Request::Respec(_) => {}
    }
}

/// Runs `conntrackd -C config <flag>` within the bound: how it ended, and what it said or
/// why it could not be run.
async fn command(settings: ConntrackSettings, step: Step) -> (Ended, String) {
    let mut command = tokio::process::Command::new(&settings.binary);
    command.arg("-C").arg(&settings.config).arg(step.flag());
    let (ended, output) =
        child::run_captured(command, settings.timeout, std::future::pending()).await;
    match &ended {
        // What the program would have said is the reason it could not run.
        Ended::NotStarted(e) | Ended::WaitFailed(e) => {
            let reason = format!("could not run {}: {e}", settings.binary.display());
            (ended, reason)
        }
        _ => (ended, output),
    }
}

/// Logs how a step ended, with its duration; its outcome.
fn log_step(tag: &str, step: Step, elapsed: Duration, ended: Ended, output: &str) -> Outcome {
    let (flag, what) = (step.flag(), step.what());
    let ms = elapsed.as_secs_f64() * 1000.0;
    let said = if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    };
    match ended {
        Ended::Exited(status) if status.success() => {
            tracing::info!("{tag}conntrackd {flag} ({what}): done in {ms:.1} ms");
            Outcome::Ok
        }
        Ended::Exited(status) => {
            tracing::error!(
                "{tag}conntrackd {flag} ({what}) failed after {ms:.1} ms ({status}){said}"
            );
            Outcome::Failed
        }
        Ended::NotStarted(_) | Ended::WaitFailed(_) => {
            tracing::error!("{tag}conntrackd {flag} ({what}) failed after {ms:.1} ms{said}");
            Outcome::Failed
        }
        Ended::TimedOut | Ended::Cancelled => {
            tracing::error!("{tag}conntrackd {flag} ({what}) did not answer within {ms:.0} ms: killed; the failover goes on without it");
            Outcome::Timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A fake conntrackd in a folder of its own: it notes each flag it is run with in `log`
    /// when it starts and when it ends; a commit takes 0.2 s; with a file `hang` it never
    /// answers; with a file `fail` it says so and exits 1.
    fn fake(name: &str) -> (PathBuf, ConntrackSettings) {
        let dir = std::env::temp_dir().join(format!("carpd-ctd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let script = format!(
            "#!/bin/sh\necho \"$3 start\" >> {d}/log\n[ -f {d}/hang ] && sleep 30\nif [ -f {d}/fail ]; then echo \"[ERROR] can't connect: is conntrackd running?\" >&2; exit 1; fi\n[ \"$3\" = -c ] && sleep 0.2\necho \"$3 end\" >> {d}/log\n"
        );
        let binary = dir.join("conntrackd");
        crate::sys::child::write_script(&binary, &script);
        let settings = ConntrackSettings {
            config: dir.join("conntrackd.conf"),
            socket: dir.join("ctl"),
            binary,
            timeout: Duration::from_millis(500),
        };
        (dir, settings)
    }

    fn log(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn count(view: &ConntrackView, command: &str) -> (u64, u64, u64) {
        let c = view
            .commands
            .iter()
            .find(|c| c.command == command)
            .expect("listed");
        (c.ok, c.failed, c.timeout)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn members_of_one_pair_make_one_round_and_wait_for_the_commit() {
        let (dir, settings) = fake("round");
        let driver = ConntrackDriver::start(settings, "");
        let ct = driver.handle();
        let (lan, wan) = (ct.primary("lan"), ct.primary("wan"));
        lan.await.unwrap();
        // The up hook may go on only once the commit has ended.
        assert_eq!(log(&dir)[..2], ["-c start", "-c end"]);
        wan.await.unwrap();
        ct.backup("lan");
        // Still primary: wan is master.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(driver.view().role, "primary");
        assert_eq!(driver.view().masters, ["wan"]);
        ct.backup("wan");
        drop(ct);
        let view = driver.view();
        driver.finish().await;
        let flags: Vec<String> = log(&dir)
            .iter()
            .filter_map(|l| l.strip_suffix(" end").map(str::to_string))
            .collect();
        assert_eq!(flags, ["-c", "-f", "-R", "-B", "-t", "-n"]);
        assert_eq!(count(&view, "commit"), (1, 0, 0));
        let commit = view.last_commit.expect("a commit");
        assert_eq!(commit.result, "ok");
        assert!(commit.duration_seconds >= 0.2, "{commit:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hung_conntrackd_delays_the_vips_by_one_bound_at_most() {
        let (dir, settings) = fake("hung");
        std::fs::write(dir.join("hang"), "").unwrap();
        let driver = ConntrackDriver::start(settings, "");
        let ct = driver.handle();
        // Start-up: backup (-t hangs).
        ct.backup("lan");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = std::time::Instant::now();
        ct.primary("lan").await.unwrap();
        let waited = asked.elapsed();
        // The commit is killed at the 0.5 s bound (and the up hook goes on), well before the
        // fake's 30 s.
        assert!(waited >= Duration::from_millis(450), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        let view = driver.view();
        assert_eq!(count(&view, "commit"), (0, 0, 1));
        // The hung -t was dropped when the role turned primary, not waited for to its bound.
        assert_eq!(count(&view, "reset_timers"), (0, 0, 0));
        assert_eq!(view.last_commit.expect("a commit").result, "timeout");
        assert_eq!(view.role, "primary");
        drop(ct);
        driver.finish().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// One group becomes master with a conntrackd that fails: the commit is counted failed
    /// once; the driver is finished (the rest of the round tried) before it is returned.
    async fn failed_commit(settings: ConntrackSettings) -> CommitView {
        let driver = ConntrackDriver::start(settings, "");
        let ct = driver.handle();
        ct.primary("lan").await.unwrap();
        let view = driver.view();
        assert_eq!(count(&view, "commit"), (0, 1, 0));
        let commit = view.last_commit.expect("a commit");
        assert_eq!(commit.result, "failed");
        drop(ct);
        driver.finish().await;
        commit
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_conntrackd_that_cannot_be_run_is_counted_with_the_reason() {
        let (dir, mut settings) = fake("gone");
        settings.binary = dir.join("no-such-conntrackd");
        let commit = failed_commit(settings).await;
        let path = dir.join("no-such-conntrackd");
        assert!(
            commit
                .detail
                .starts_with(&format!("could not run {}: ", path.display()))
                && commit.detail.contains("No such file"),
            "{commit:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_conntrackd_that_is_not_running_is_counted_and_said() {
        let (dir, settings) = fake("down");
        std::fs::write(dir.join("fail"), "").unwrap();
        let commit = failed_commit(settings).await;
        assert!(
            commit.detail.contains("is conntrackd running?"),
            "{commit:?}"
        );
        let view_after: Vec<String> = log(&dir);
        // The rest of the round was still tried, each once.
        assert_eq!(view_after, ["-c start", "-f start", "-R start", "-B start"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
