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
use crate::io::conntrack::Conntrack;
use crate::settings::routes::RouteSpec;
use crate::sys::child::{self, Ended};
use crate::sys::netlink::Netlink;
use carpd_proto::{HookId, HookKind, RouterId};
use std::collections::VecDeque;
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

#[derive(Debug)]
enum Request {
    Run(Job),
    Cancel(HookId),
    /// New settings for the jobs queued after this; `master`: the group holds its VIPs now,
    /// so move them from the old settings to the new ones ([`Job::Reconcile`]).
    Respec(Box<HookSpec>, bool),
}

/// One entry of a runner's queue.
#[derive(Debug)]
enum Item {
    Job(Job),
    Respec(Box<HookSpec>, bool),
}

/// Runs the hooks of one group in order and reports each completion on a channel (also for
/// a hook that was cancelled, skipped or killed).
#[derive(Debug)]
pub struct HookRunner {
    requests: Option<mpsc::UnboundedSender<Request>>,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl HookRunner {
    /// Starts the runner of group `router`; completions are sent to `done` with `router`.
    pub fn start(spec: HookSpec, router: RouterId, done: mpsc::UnboundedSender<Done>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Request>();
        let timeout = spec.timeout;
        let task = tokio::spawn(serve(spec, rx, router, done));
        HookRunner {
            requests: Some(tx),
            task,
            timeout,
        }
    }

    /// Queues a job.
    pub fn request(&self, job: Job) {
        self.send(Request::Run(job));
    }

    /// Uses `spec` for the jobs asked for after this call (those asked before keep the old
    /// one). With `master`, the VIPs are moved from the old settings to the new ones in
    /// order with the other jobs, and [`Job::Reconcile`] is reported when that is done.
    pub fn respec(&self, spec: HookSpec, master: bool) {
        self.send(Request::Respec(Box::new(spec), master));
    }

    /// Cancels hook `id`: skipped if queued, killed with its process group if running,
    /// nothing if it has finished.
    pub fn cancel(&self, id: HookId) {
        self.send(Request::Cancel(id));
    }

    fn send(&self, request: Request) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(request);
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

/// The runner's task: one job at a time, taking requests while a job runs.
async fn serve(
    mut spec: HookSpec,
    mut requests: mpsc::UnboundedReceiver<Request>,
    router: RouterId,
    done: mpsc::UnboundedSender<Done>,
) {
    let mut queue: VecDeque<Item> = VecDeque::new();
    let mut open = true;
    loop {
        let item = match queue.pop_front() {
            Some(item) => item,
            None if open => match requests.recv().await {
                Some(Request::Run(job)) => Item::Job(job),
                Some(Request::Respec(spec, master)) => Item::Respec(spec, master),
                // Nothing queued or running: that hook has finished already.
                Some(Request::Cancel(_)) => continue,
                None => break,
            },
            None => break,
        };
        let job = match item {
            Item::Job(job) => job,
            Item::Respec(new, master) => {
                if master {
                    reconcile(&spec, &new).await;
                    move_conntrack(&spec, &new);
                }
                spec = *new;
                if master {
                    let _ = done.send((router, Job::Reconcile, None));
                }
                continue;
            }
        };
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let mut cancel_tx = Some(cancel_tx);
        let started = std::time::Instant::now();
        let run = run_hook(&spec, job, cancel_rx);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                request = requests.recv(), if open => match request {
                    Some(Request::Run(next)) => queue.push_back(Item::Job(next)),
                    Some(Request::Respec(spec, master)) => queue.push_back(Item::Respec(spec, master)),
                    Some(Request::Cancel(id)) => {
                        if matches!(job, Job::Hook { id: running, .. } if running == id) {
                            if let Some(tx) = cancel_tx.take() {
                                let _ = tx.send(());
                            }
                        } else if let Some(at) = queue
                            .iter()
                            .position(|i| matches!(i, Item::Job(Job::Hook { id: queued, .. }) if *queued == id))
                        {
                            if let Some(Item::Job(skipped)) = queue.remove(at) {
                                tracing::debug!("Skipping cancelled hook {skipped:?}");
                                let report = HookReport {
                                    kind: skipped.kind(),
                                    result: HookResult::Skipped,
                                    duration: Duration::ZERO,
                                    error: None,
                                };
                                let _ = done.send((router, skipped, Some(report)));
                            }
                        }
                    }
                    None => open = false,
                },
            }
        };
        let report = result.map(|(result, error)| HookReport {
            kind: job.kind(),
            result,
            duration: started.elapsed(),
            error,
        });
        let _ = done.send((router, job, report));
    }
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
                Some(script) => Some((run_script(spec, script, kind, cancel).await, None)),
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
