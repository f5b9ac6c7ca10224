//! Up/down scripts, called exactly as ucarp calls them (argv: interface, the VIP as typed,
//! and the xparam when given; no shell, no PATH search) but asynchronously: adverts and
//! packets are handled while a script runs. Scripts of one group run one at a time, in the
//! order asked, so a down never overtakes the up before it. The core cancels an up hook it
//! no longer wants (it left MASTER while the hook was queued or running): a queued one is
//! skipped, a running one is killed at once with its whole process group, and the down
//! script runs next. A script still running at the timeout is killed the same way. Scripts
//! inherit no descriptors (see `sys::descriptors`) and get `CARPD_*` variables describing the
//! event.
//!
//! Without scripts carpd manages the VIPs itself (native mode): up adds them through
//! rtnetlink, then the group's routes; down removes the routes, then the VIPs; in the same
//! ordered queue.
//!
//! A group with a virtual MAC (`vmac = true`) has its macvlan brought up first by every job
//! that puts the VIPs up (script or native) and down first by every job that takes them away,
//! in the same queue: it answers from the virtual MAC only between the two.
//!
//! A group with `conntrack = true` has its up hook wait for conntrackd's commit (see
//! [`crate::io::conntrack`]) before anything else, and its down hook tell the driver after the
//! VIPs are gone.

pub use crate::host::jobs::{HookReport, HookResult, Job};
use crate::host::HookRequest;
use crate::io::conntrack::Conntrack;
use crate::io::turns::Turns;
use crate::settings::routes::RouteSpec;
use crate::sys::child::{self, Ended};
use crate::sys::netlink::Netlink;
use carpd_proto::{HookId, HookKind, RouterId};
use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
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
        vips: Vec<(IpAddr, u8)>,
        /// routes added after the VIPs, removed before them
        routes: Vec<RouteSpec>,
        /// the interface's current index (it changes if the interface is re-created)
        ifindex: Arc<AtomicU32>,
    },
}

/// A virtual MAC's macvlan, as the hook runner switches it.
#[derive(Debug, Clone)]
pub struct VmacLink {
    /// request connection
    pub netlink: Netlink,
    /// its name, for the log
    pub name: String,
    /// its current index (it changes if carpd makes it again)
    pub index: Arc<AtomicU32>,
}

/// A group's part in driving conntrackd (`conntrack = true`).
#[derive(Debug, Clone)]
pub struct ConntrackLink {
    /// the driver
    pub driver: Conntrack,
    /// the group's name, as the driver counts its masters
    pub member: String,
}

/// A finished job of a group, with its report when something ran (or was skipped).
pub type Done = (RouterId, Job, Option<HookReport>);

/// What the group's hooks are and get.
#[derive(Debug, Clone)]
pub struct HookSpec {
    /// scripts or native
    pub mode: VipMode,
    /// what the runner's log lines start with: `[name] ` in config mode, nothing in ucarp's
    /// command-line mode (its exact lines)
    pub tag: String,
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
    /// the virtual MAC's macvlan (`vmac = true`)
    pub vmac: Option<VmacLink>,
    /// conntrackd, driven by this group's transitions (`conntrack = true`)
    pub conntrack: Option<ConntrackLink>,
}

/// One entry of a runner's queue.
#[derive(Debug)]
enum Item {
    Job(Job),
    /// New settings for the jobs queued after this; `master`: the group holds its VIPs now,
    /// so move them from the old settings to the new ones ([`Job::Reconcile`]).
    Respec(Box<HookSpec>, bool),
}

/// The job a runner has started and not yet heard back from.
#[derive(Debug)]
struct Running {
    /// what it reports when done ([`Job::Reconcile`] for a reconcile)
    job: Job,
    /// kills a running script (a hook no longer wanted)
    cancel: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// it holds one of the [`Turns`]
    turn: bool,
}

/// Runs the hooks of one group in order and reports each completion on a channel (also for
/// a hook that was cancelled, skipped or killed).
///
/// A runner at rest is a queue and its settings, nothing more: the job it runs is a task of
/// its own while it runs, and the next one starts when the loop hands the completion back
/// ([`HookRunner::job_done`]). Thousands of groups therefore cost no task, channel or
/// future while nothing happens, and the jobs of many groups (a takeover of all of them)
/// run side by side, their address changes in flight on one netlink connection together.
#[derive(Debug)]
pub struct HookRunner {
    /// the settings of the jobs started from now on
    spec: Arc<HookSpec>,
    router: RouterId,
    done: mpsc::UnboundedSender<Done>,
    /// asked for and not started, in order
    queue: VecDeque<Item>,
    running: Option<Running>,
    /// in line for a turn ([`Turns`]): it waits to be resumed
    in_line: bool,
}

impl HookRunner {
    /// A runner of group `router` with nothing queued; completions are sent to `done` with
    /// `router`.
    pub fn start(spec: HookSpec, router: RouterId, done: mpsc::UnboundedSender<Done>) -> Self {
        HookRunner {
            spec: Arc::new(spec),
            router,
            done,
            queue: VecDeque::new(),
            running: None,
            in_line: false,
        }
    }

    /// Carries out a request of the engine for this group's hooks; a job carpd carries out
    /// itself starts when it has one of the `turns`.
    pub fn request(&mut self, request: HookRequest, turns: &mut Turns) {
        match request {
            HookRequest::Run(job) => {
                self.queue.push_back(Item::Job(job));
                self.advance(turns, false);
            }
            HookRequest::Cancel(id) => self.cancel(id),
        }
    }

    /// Uses `spec` for the jobs asked for after this call (those asked before keep the old
    /// one). With `master`, the VIPs are moved from the old settings to the new ones in
    /// order with the other jobs, and [`Job::Reconcile`] is reported when that is done.
    pub fn respec(&mut self, spec: HookSpec, master: bool, turns: &mut Turns) {
        self.queue.push_back(Item::Respec(Box::new(spec), master));
        self.advance(turns, false);
    }

    /// Cancels hook `id`: skipped if queued, killed with its process group if running,
    /// nothing if it has finished.
    fn cancel(&mut self, id: HookId) {
        if let Some(running) = &mut self.running {
            if matches!(running.job, Job::Hook { id: running, .. } if running == id) {
                if let Some(tx) = running.cancel.take() {
                    let _ = tx.send(());
                }
                return;
            }
        }
        let queued = self
            .queue
            .iter()
            .position(|i| matches!(i, Item::Job(Job::Hook { id: queued, .. }) if *queued == id));
        if let Some(Item::Job(skipped)) = queued.and_then(|at| self.queue.remove(at)) {
            tracing::debug!("Skipping cancelled hook {skipped:?}");
            let report = HookReport {
                kind: skipped.kind(),
                result: HookResult::Skipped,
                duration: Duration::ZERO,
                error: None,
            };
            let _ = self.done.send((self.router, skipped, Some(report)));
        }
    }

    /// The loop got `job`'s completion: when it is the running job's (not a skipped one's),
    /// its turn is given back and the next queued job starts. The loop then hands the turns
    /// that are free to the groups in line ([`Turns::next_in_line`], [`HookRunner::resume`]).
    pub fn job_done(&mut self, job: &Job, turns: &mut Turns) {
        if let Some(running) = self.running.take_if(|r| r.job == *job) {
            if running.turn {
                turns.give_back();
            }
            self.advance(turns, false);
        }
    }

    /// Named by [`Turns::next_in_line`]: goes on with the turn it was handed (or gives it
    /// back when nothing is left to run).
    pub fn resume(&mut self, turns: &mut Turns) {
        self.in_line = false;
        self.advance(turns, true);
    }

    /// Whether the queue's next item needs a turn: a job carpd carries out itself, or moving
    /// a master's VIPs from native settings to native ones.
    fn needs_turn(&self, item: &Item) -> bool {
        let native = |spec: &HookSpec| matches!(spec.mode, VipMode::Native { .. });
        match item {
            Item::Job(_) => native(&self.spec),
            Item::Respec(new, master) => *master && native(&self.spec) && native(new),
        }
    }

    /// Starts the next job unless one runs; settings changes at the head of the queue take
    /// effect on the way. `held`: a turn was handed to this runner for it.
    fn advance(&mut self, turns: &mut Turns, mut held: bool) {
        while self.running.is_none() {
            let Some(next) = self.queue.front() else {
                break;
            };
            let turn = self.needs_turn(next);
            // In line already, or no turn free: resumed when one is.
            if turn && !held && (self.in_line || !turns.take(self.router)) {
                self.in_line = true;
                break;
            }
            held &= !turn;
            let item = self.queue.pop_front().expect("the front was there");
            let (router, done) = (self.router, self.done.clone());
            match item {
                Item::Respec(new, false) => self.spec = Arc::new(*new),
                Item::Respec(new, true) => {
                    let (old, new) = (Arc::clone(&self.spec), Arc::new(*new));
                    self.spec = Arc::clone(&new);
                    let task = tokio::spawn(async move {
                        move_reported(&old, &new, (router, &done)).await;
                    });
                    self.running = Some(Running {
                        job: Job::Reconcile,
                        cancel: None,
                        task,
                        turn,
                    });
                }
                Item::Job(job) => {
                    let (cancel, cancelled) = oneshot::channel();
                    let spec = Arc::clone(&self.spec);
                    let task = tokio::spawn(async move {
                        run_reported(&spec, job, cancelled, (router, &done)).await;
                    });
                    self.running = Some(Running {
                        job,
                        cancel: Some(cancel),
                        task,
                        turn,
                    });
                }
            }
        }
        if held {
            turns.give_back();
        }
        if self.queue.is_empty() {
            // Thousands of idle runners keep no queue buffer.
            self.queue = VecDeque::new();
        }
    }

    /// Lets the running job and the queued ones finish, in order (each within its timeout),
    /// then stops the runner. Nothing is handed back by the loop any more: the jobs run here
    /// one after the other, and still report on the channel. The turn of the running job is
    /// given back now (the loop hands it on); the jobs run here take none.
    pub fn finish(self, turns: &mut Turns) -> impl Future<Output = ()> {
        if self.running.as_ref().is_some_and(|r| r.turn) {
            turns.give_back();
        }
        self.finish_jobs()
    }

    async fn finish_jobs(mut self) {
        let jobs = self.queue.len() as u32 + u32::from(self.running.is_some());
        let limit = self.spec.timeout * jobs.max(1) + Duration::from_secs(1);
        let (router, done) = (self.router, self.done.clone());
        let running = self.running.take();
        let abort = running.as_ref().map(|r| r.task.abort_handle());
        let mut spec = Arc::clone(&self.spec);
        let queue = std::mem::take(&mut self.queue);
        let rest = async move {
            if let Some(running) = running {
                let _ = running.task.await;
            }
            for item in queue {
                match item {
                    Item::Respec(new, master) => {
                        let new = Arc::new(*new);
                        if master {
                            move_reported(&spec, &new, (router, &done)).await;
                        }
                        spec = new;
                    }
                    Item::Job(job) => {
                        run_reported(&spec, job, oneshot::channel().1, (router, &done)).await;
                    }
                }
            }
        };
        if tokio::time::timeout(limit, rest).await.is_err() {
            if let Some(abort) = abort {
                abort.abort();
            }
        }
    }
}

/// Where a runner's completions go: its group, and the loop's channel.
type ReportTo<'a> = (RouterId, &'a mpsc::UnboundedSender<Done>);

/// Runs one job and reports it, with how long it took when something ran.
async fn run_reported(
    spec: &HookSpec,
    job: Job,
    cancel: oneshot::Receiver<()>,
    (router, done): ReportTo<'_>,
) {
    let started = std::time::Instant::now();
    let report = run_hook(spec, job, cancel)
        .await
        .map(|(result, error)| HookReport {
            kind: job.kind(),
            result,
            duration: started.elapsed(),
            error,
        });
    let _ = done.send((router, job, report));
}

/// A master's settings changed: its VIPs move to the new ones, and conntrackd's part too;
/// reported as [`Job::Reconcile`].
async fn move_reported(old: &HookSpec, new: &HookSpec, (router, done): ReportTo<'_>) {
    reconcile(old, new).await;
    move_conntrack(old, new);
    let _ = done.send((router, Job::Reconcile, None));
}

/// Moves a master's VIPs from `old` settings to `new` ones: native to native, only the
/// addresses that differ; otherwise the old down (script or removal), then the new up.
async fn reconcile(old: &HookSpec, new: &HookSpec) {
    if let (
        VipMode::Native {
            netlink,
            vips: old_vips,
            routes: old_routes,
            ifindex,
        },
        VipMode::Native {
            vips: new_vips,
            routes: new_routes,
            ..
        },
    ) = (&old.mode, &new.mode)
    {
        let gone: Vec<(IpAddr, u8)> = old_vips
            .iter()
            .filter(|v| !new_vips.contains(v))
            .copied()
            .collect();
        let added: Vec<(IpAddr, u8)> = new_vips
            .iter()
            .filter(|v| !old_vips.contains(v))
            .copied()
            .collect();
        let index = ifindex.load(Ordering::Relaxed);
        let routes_gone: Vec<RouteSpec> = old_routes
            .iter()
            .filter(|r| !new_routes.contains(r))
            .cloned()
            .collect();
        let routes_added: Vec<RouteSpec> = new_routes
            .iter()
            .filter(|r| !old_routes.contains(r))
            .cloned()
            .collect();
        native(old, netlink, (&gone, &routes_gone), index, false).await;
        native(new, netlink, (&added, &routes_added), index, true).await;
        return;
    }
    let down = Job::Hook {
        id: HookId(0),
        kind: HookKind::Down,
    };
    let up = Job::Hook {
        id: HookId(0),
        kind: HookKind::Up,
    };
    run_job(old, down, oneshot::channel().1).await;
    run_job(new, up, oneshot::channel().1).await;
}

/// A master whose settings changed: it drives conntrackd from now on, or no longer does
/// (the primary role is asked for without waiting: its VIPs are up already).
fn move_conntrack(old: &HookSpec, new: &HookSpec) {
    match (&old.conntrack, &new.conntrack) {
        (Some(old), None) => old.driver.leave(&old.member),
        (None, Some(new)) => drop(new.driver.primary(&new.member)),
        _ => {}
    }
}

/// Runs one job as [`run_job`] does, and drives conntrackd around it when the group does
/// ([`with_conntrack`], boxed: the runner of every group holds this future, and those without
/// `conntrack = true` do not pay for the other's size).
async fn run_hook(
    spec: &HookSpec,
    job: Job,
    cancel: oneshot::Receiver<()>,
) -> Option<(HookResult, Option<String>)> {
    match &spec.conntrack {
        None => run_job(spec, job, cancel).await,
        Some(link) => Box::pin(with_conntrack(spec, link, job, cancel)).await,
    }
}

/// An up hook first waits for conntrackd's commit (unless cancelled meanwhile); a down hook
/// tells the driver once the VIPs are gone.
async fn with_conntrack(
    spec: &HookSpec,
    link: &ConntrackLink,
    job: Job,
    mut cancel: oneshot::Receiver<()>,
) -> Option<(HookResult, Option<String>)> {
    match job {
        Job::Hook {
            kind: HookKind::Up, ..
        } => {
            let mut committed = link.driver.primary(&link.member);
            tokio::select! {
                _ = &mut committed => {}
                asked = &mut cancel => {
                    if asked.is_ok() {
                        return Some((
                            HookResult::Cancelled,
                            Some("no longer wanted: the group left MASTER".to_string()),
                        ));
                    }
                    // Nothing will cancel this run any more: wait for the commit alone.
                    let _ = committed.await;
                    return run_job(spec, job, oneshot::channel().1).await;
                }
            }
            run_job(spec, job, cancel).await
        }
        Job::Hook {
            kind: HookKind::Down,
            ..
        } => {
            let result = run_job(spec, job, cancel).await;
            link.driver.backup(&link.member);
            result
        }
        Job::Restore | Job::Release | Job::Reconcile => run_job(spec, job, cancel).await,
    }
}

/// Runs one job, the virtual MAC's macvlan switched first; a script stops early when
/// `cancel` fires. `None` when there was nothing to run (no script for it).
async fn run_job(
    spec: &HookSpec,
    job: Job,
    cancel: oneshot::Receiver<()>,
) -> Option<(HookResult, Option<String>)> {
    if let Some(vmac) = &spec.vmac {
        if let Err(e) = switch_vmac(&spec.tag, vmac, job.adds()).await {
            if job.adds() {
                // Without its macvlan up the group cannot answer for the VIPs: a failed add,
                // which faults it in native mode so that a peer serves them.
                return Some((HookResult::Failed, Some(e)));
            }
        }
    }
    match (&spec.mode, job) {
        (VipMode::Scripts { up, down }, Job::Hook { kind, .. }) => {
            let script = if kind == HookKind::Up { up } else { down };
            match script {
                // Boxed: a child's future is large, and native jobs (thousands at a
                // takeover) do not pay for it.
                Some(script) => {
                    Some((Box::pin(run_script(spec, script, kind, cancel)).await, None))
                }
                None => None,
            }
        }
        (
            VipMode::Native {
                netlink,
                vips,
                routes,
                ifindex,
            },
            job,
        ) => {
            // Native changes take milliseconds: a cancelled add completes and the down hook
            // queued behind it removes the addresses again.
            let index = ifindex.load(Ordering::Relaxed);
            Some(native(spec, netlink, (vips, routes), index, job.adds()).await)
        }
        (VipMode::Scripts { .. }, Job::Restore | Job::Release | Job::Reconcile) => None,
    }
}

/// Brings the macvlan up (or down); the failure, in words, also logged.
async fn switch_vmac(tag: &str, vmac: &VmacLink, up: bool) -> Result<(), String> {
    let index = vmac.index.load(Ordering::Relaxed);
    let name = &vmac.name;
    let word = if up { "up" } else { "down" };
    match vmac.netlink.set_link_up(index, up).await {
        Ok(()) => {
            tracing::info!("{tag}Virtual MAC interface {name} {word}");
            Ok(())
        }
        // Gone (its parent was deleted, or someone deleted it): down is what was wanted.
        Err(e) if !up && e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
        Err(e) => {
            let error = format!("setting {name} {word}: {e}");
            tracing::error!("{tag}{error}");
            Err(error)
        }
    }
}

/// Adds every VIP on interface `ifindex`, then the routes (or removes the routes, then the
/// VIPs); the first failure of a VIP, in words. A route that fails is logged and does not
/// fault the group (its VIPs serve; keepalived does the same).
async fn native(
    spec: &HookSpec,
    netlink: &Netlink,
    (vips, routes): (&[(IpAddr, u8)], &[RouteSpec]),
    ifindex: u32,
    add: bool,
) -> (HookResult, Option<String>) {
    let (tag, interface) = (&spec.tag, &spec.interface);
    let mut outcome = (HookResult::Ok, None);
    if !add {
        change_routes(tag, netlink, routes, false).await;
    }
    for &(vip, prefix) in vips {
        let result = if add {
            tracing::warn!("{tag}Adding virtual IP {vip}/{prefix} to {interface}");
            netlink.add_address(ifindex, vip, prefix).await
        } else {
            tracing::warn!("{tag}Removing virtual IP {vip}/{prefix} from {interface}");
            netlink.remove_address(ifindex, vip, prefix).await
        };
        if let Err(e) = result {
            if outcome.1.is_none() {
                outcome = (HookResult::Failed, Some(e.to_string()));
            }
            tracing::error!(
                "{tag}{} virtual IP {vip}/{prefix} on {interface} failed: {e}",
                if add { "adding" } else { "removing" }
            );
        }
    }
    if add {
        change_routes(tag, netlink, routes, true).await;
    }
    outcome
}

/// Adds (or removes) each route, logging each change and each failure.
async fn change_routes(tag: &str, netlink: &Netlink, routes: &[RouteSpec], add: bool) {
    for route in routes {
        let result = if add {
            tracing::warn!("{tag}Adding route {route}");
            netlink.add_route(route).await
        } else {
            tracing::warn!("{tag}Removing route {route}");
            netlink.remove_route(route).await
        };
        if let Err(e) = result {
            tracing::error!(
                "{tag}{} route {route} failed: {e}",
                if add { "adding" } else { "removing" }
            );
        }
    }
}

async fn run_script(
    spec: &HookSpec,
    script: &std::path::Path,
    kind: HookKind,
    cancel: oneshot::Receiver<()>,
) -> HookResult {
    let (event, state) = match kind {
        HookKind::Up => ("up", "MASTER"),
        HookKind::Down => ("down", "BACKUP"),
    };
    let mut argv = vec![spec.interface.clone(), spec.vip_typed.clone()];
    argv.extend(spec.xparam.clone());
    let tag = &spec.tag;
    tracing::warn!("{tag}Spawning [{} {}]", script.display(), argv.join(" "));
    let mut command = tokio::process::Command::new(script);
    command
        .args(&argv)
        .env("CARPD_EVENT", event)
        .env("CARPD_STATE", state)
        .env("CARPD_VHID", spec.vhid.to_string())
        .env("CARPD_VIP", &spec.vip_typed)
        .env("CARPD_VIPS", spec.vips.join(" "))
        .env("CARPD_INTERFACE", &spec.interface);
    let cancelled = async {
        if cancel.await.is_err() {
            // The group dropped its canceller: nothing will cancel this run.
            std::future::pending::<()>().await;
        }
    };
    let why_killed = match child::run(command, spec.timeout, cancelled).await {
        Ended::Exited(status) if status.success() => return HookResult::Ok,
        Ended::Exited(status) => {
            match status.code() {
                Some(code) => {
                    tracing::warn!("{tag}{} exited with status {code}", script.display())
                }
                None => tracing::warn!(
                    "{tag}{} was killed by signal {}",
                    script.display(),
                    status.signal().unwrap_or(0)
                ),
            }
            return HookResult::Failed;
        }
        Ended::NotStarted(e) => {
            tracing::error!("{tag}Unable to exec {}: {e}", script.display());
            return HookResult::Failed;
        }
        Ended::WaitFailed(e) => {
            tracing::error!("{tag}waiting for {}: {e}", script.display());
            return HookResult::Failed;
        }
        Ended::TimedOut => (
            HookResult::Timeout,
            format!(
                "still running after {}",
                humantime::format_duration(spec.timeout)
            ),
        ),
        Ended::Cancelled => (
            HookResult::Cancelled,
            "no longer wanted: the group left MASTER".to_string(),
        ),
    };
    let (result, why_killed) = why_killed;
    tracing::warn!(
        "{tag}{} {why_killed}: killing it and its process group",
        script.display()
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings of group 1 on eth0 with VIP 10.77.0.100, its VIPs managed by `mode`.
    fn spec(mode: VipMode) -> HookSpec {
        HookSpec {
            mode,
            tag: String::new(),
            interface: "eth0".into(),
            vip_typed: "10.77.0.100".into(),
            vips: vec!["10.77.0.100".into()],
            xparam: None,
            vhid: 1,
            timeout: Duration::from_secs(10),
            vmac: None,
            conntrack: None,
        }
    }

    /// A runner whose up and down scripts append their event to `<dir>/events` (the up one
    /// after `up_sleep`), and the file.
    fn runner(name: &str, up_sleep: &str) -> (HookRunner, mpsc::UnboundedReceiver<Done>, PathBuf) {
        let dir = std::env::temp_dir().join(format!("carpd-hooks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let events = dir.join("events");
        let script = |event: &str, sleep: &str| {
            let path = dir.join(event);
            let body = format!(
                "#!/bin/sh\nsleep {sleep}\necho {event} >> {}\n",
                events.display()
            );
            crate::sys::child::write_script(&path, &body);
            path
        };
        let spec = spec(VipMode::Scripts {
            up: Some(script("up", up_sleep)),
            down: Some(script("down", "0")),
        });
        let (done, reports) = mpsc::unbounded_channel();
        (HookRunner::start(spec, RouterId(7), done), reports, events)
    }

    /// The next report, failing the test rather than hanging when none comes.
    async fn next(reports: &mut mpsc::UnboundedReceiver<Done>) -> Done {
        tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .expect("a report within 10 s")
            .expect("the runner's sender")
    }

    fn hook(id: u64, kind: HookKind) -> Job {
        Job::Hook {
            id: HookId(id),
            kind,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_one_at_a_time_in_order_and_a_cancelled_queued_one_is_skipped() {
        let (mut runner, mut reports, events) = runner("order", "0.2");
        let mut turns = Turns::new(1);
        for job in [
            hook(1, HookKind::Up),
            hook(2, HookKind::Down),
            hook(3, HookKind::Up),
        ] {
            runner.request(HookRequest::Run(job), &mut turns);
        }
        runner.request(HookRequest::Cancel(HookId(3)), &mut turns);
        // Scripts take no turn.
        assert_eq!(turns.in_flight(), 0);
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let (router, job, report) = next(&mut reports).await;
            assert_eq!(router, RouterId(7));
            let report = report.expect("something ran or was skipped");
            seen.push((job, report.result));
            // What the loop does with every completion.
            runner.job_done(&job, &mut turns);
        }
        assert_eq!(
            seen,
            [
                (hook(3, HookKind::Up), HookResult::Skipped),
                (hook(1, HookKind::Up), HookResult::Ok),
                (hook(2, HookKind::Down), HookResult::Ok),
            ]
        );
        // The down did not overtake the slow up before it.
        assert_eq!(
            std::fs::read_to_string(&events).expect("events"),
            "up\ndown\n"
        );
        assert!(runner.running.is_none() && runner.queue.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_running_hook_that_is_cancelled_is_killed_and_the_next_runs() {
        let (mut runner, mut reports, events) = runner("cancel", "30");
        let mut turns = Turns::new(1);
        runner.request(HookRequest::Run(hook(1, HookKind::Up)), &mut turns);
        runner.request(HookRequest::Run(hook(2, HookKind::Down)), &mut turns);
        tokio::time::sleep(Duration::from_millis(100)).await;
        runner.request(HookRequest::Cancel(HookId(1)), &mut turns);
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let (_, job, report) = next(&mut reports).await;
            seen.push((job, report.expect("ran").result));
            runner.job_done(&job, &mut turns);
        }
        assert_eq!(
            seen,
            [
                (hook(1, HookKind::Up), HookResult::Cancelled),
                (hook(2, HookKind::Down), HookResult::Ok),
            ]
        );
        assert_eq!(std::fs::read_to_string(&events).expect("events"), "down\n");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn finish_runs_what_is_queued_without_the_loop() {
        let (mut runner, mut reports, events) = runner("finish", "0.1");
        let mut turns = Turns::new(1);
        runner.request(HookRequest::Run(hook(1, HookKind::Up)), &mut turns);
        runner.request(HookRequest::Run(hook(2, HookKind::Down)), &mut turns);
        // Nobody hands completions back any more: finish runs the rest itself.
        runner.finish(&mut turns).await;
        assert_eq!(
            std::fs::read_to_string(&events).expect("events"),
            "up\ndown\n"
        );
        let mut jobs = Vec::new();
        while let Ok((_, job, _)) = reports.try_recv() {
            jobs.push(job);
        }
        assert_eq!(jobs, [hook(1, HookKind::Up), hook(2, HookKind::Down)]);
    }

    /// Runners whose VIPs carpd manages on interface index 0, which no interface has: each
    /// job asks the kernel, which refuses at once, and nothing anywhere changes.
    async fn native_runners(count: u64) -> (Runners, mpsc::UnboundedReceiver<Done>) {
        let netlink = Netlink::open().expect("an rtnetlink socket");
        let (done, reports) = mpsc::unbounded_channel();
        let runners = (1..=count)
            .map(|n| {
                let spec = spec(VipMode::Native {
                    netlink: netlink.clone(),
                    vips: vec![("10.77.0.100".parse().unwrap(), 32)],
                    routes: Vec::new(),
                    ifindex: Arc::new(AtomicU32::new(0)),
                });
                (
                    RouterId(n),
                    HookRunner::start(spec, RouterId(n), done.clone()),
                )
            })
            .collect();
        (runners, reports)
    }

    type Runners = std::collections::BTreeMap<RouterId, HookRunner>;

    /// Every runner asks for its up hook (job id = its router's number), in order.
    fn ask_up(runners: &mut Runners, turns: &mut Turns) {
        for (router, runner) in runners.iter_mut() {
            runner.request(HookRequest::Run(hook(router.0, HookKind::Up)), turns);
        }
    }

    /// What the loop does after a completion: the free turns go to the groups in line.
    fn hand_on(turns: &mut Turns, runners: &mut Runners) {
        turns.pass(|router, turns| match runners.get_mut(&router) {
            Some(runner) => {
                runner.resume(turns);
                true
            }
            None => false,
        });
    }

    #[tokio::test(flavor = "current_thread")]
    async fn native_jobs_wait_for_a_turn_in_the_order_they_asked() {
        let (mut runners, mut reports) = native_runners(3).await;
        let mut turns = Turns::new(1);
        ask_up(&mut runners, &mut turns);
        // Group 1 asks again: behind the two in line.
        let first = runners.get_mut(&RouterId(1)).unwrap();
        first.request(HookRequest::Run(hook(4, HookKind::Down)), &mut turns);
        assert_eq!((turns.in_flight(), turns.waiting()), (1, 2));
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let (router, job, report) = next(&mut reports).await;
            assert!(report.is_some(), "{job:?} ran");
            seen.push((router.0, job));
            // What the loop does with every completion.
            runners.get_mut(&router).unwrap().job_done(&job, &mut turns);
            hand_on(&mut turns, &mut runners);
            assert!(turns.in_flight() <= 1);
        }
        assert_eq!(
            seen,
            [
                (1, hook(1, HookKind::Up)),
                (2, hook(2, HookKind::Up)),
                (3, hook(3, HookKind::Up)),
                (1, hook(4, HookKind::Down)),
            ]
        );
        assert_eq!((turns.in_flight(), turns.waiting()), (0, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_group_removed_while_in_line_does_not_keep_its_turn() {
        let (mut runners, mut reports) = native_runners(3).await;
        let mut turns = Turns::new(1);
        ask_up(&mut runners, &mut turns);
        // Group 2 goes while in line: its job runs as it finishes, without a turn.
        let removed = runners.remove(&RouterId(2)).unwrap();
        removed.finish(&mut turns).await;
        // Group 1 (which held the turn) goes too: its turn is handed on.
        let holder = runners.remove(&RouterId(1)).unwrap();
        let finishing = holder.finish(&mut turns);
        assert_eq!(turns.in_flight(), 0);
        hand_on(&mut turns, &mut runners);
        finishing.await;
        // Group 3, last in line, got the turn.
        assert_eq!((turns.in_flight(), turns.waiting()), (1, 0));
        let mut jobs = Vec::new();
        while jobs.len() < 3 {
            jobs.push(next(&mut reports).await.1);
        }
        assert!(jobs.contains(&hook(3, HookKind::Up)), "{jobs:?}");
        runners
            .get_mut(&RouterId(3))
            .unwrap()
            .job_done(&hook(3, HookKind::Up), &mut turns);
        assert_eq!(turns.in_flight(), 0);
    }
}
