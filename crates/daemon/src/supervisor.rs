//! The loop and what it owns beyond the engine: starting the groups of a [`Settings`],
//! reloading the config file (apply the difference, touch nothing else), and answering
//! control requests.
//!
//! Start-up and reload share one path: every group to start is planned first (interface,
//! addresses, source address, host checks, instance lock) and only when every plan holds is
//! anything changed; a reload that fails to plan changes nothing.

use crate::host::{Effect, Engine, Input, LinkId};
use crate::io::conntrack::ConntrackDriver;
use crate::io::hooks::{ConntrackLink, HookRunner, HookSpec, VipMode, VmacLink};
use crate::io::turns::Turns;
use crate::io::vmac_links::{self, ParentArp, VmacSpec};
use crate::io::{notify, Channels, Io, LinkIo, Next};
use crate::mgmt::control::protocol::{
    error_line, reply_line, DrainReply, Event, GroupView, ReloadReport, Request, StatusReply,
    TrackerView,
};
use crate::mgmt::control::{self, access::Access};
use crate::mgmt::reload;
use crate::settings::conntrack::ConntrackSettings;
use crate::settings::{GroupSettings, Origin, Settings};
use crate::startup::{self, random_seed, HostView, Refusal};
use crate::sys::iface::{self, format_mac, Interface};
use crate::sys::lock::PidLock;
use crate::sys::netlink::{Dad, LinkAddress, Netlink};
use anyhow::{Context as _, Result};
use carpd_proto::{RouterId, VrConfig};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// How long start-up waits for a tentative IPv6 source address: the kernel's detection
/// takes up to about 2 s with its defaults (a random delay of up to 1 s, then one probe
/// and 1 s of listening).
const DAD_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A group ready to start: everything checked, nothing changed yet.
struct Plan {
    settings: GroupSettings,
    link: PlannedLink,
    vips: Vec<(IpAddr, u8)>,
    stale_vips: Vec<(IpAddr, u8)>,
    config: VrConfig,
}

/// The link a planned group uses.
enum PlannedLink {
    Existing,
    New(Interface),
}

/// Everything one running group holds, in one place: it starts and stops as a whole.
struct GroupSlot {
    /// its settings
    settings: GroupSettings,
    /// its instance lock (one carpd per interface and vhid); `None` when it could not be
    /// taken (logged)
    lock: Option<PidLock>,
    /// its hook runner
    runner: HookRunner,
}

/// The daemon: settings, engine, I/O, and the running groups.
struct Daemon {
    /// the settings apart from the groups (origin, `[daemon]`, trackers)
    base: Settings,
    /// the running groups, by their router in the engine (the one map of groups here)
    /// boxed: the map's nodes stay small and dense with thousands of groups
    slots: BTreeMap<RouterId, Box<GroupSlot>>,
    named_logs: bool,
    engine: Engine,
    io: Io,
    netlink: Netlink,
    done: mpsc::UnboundedSender<crate::io::hooks::Done>,
    wall_epoch: SystemTime,
    next_link: u32,
    /// subscribed to route events (a group had routes at start)
    route_events: bool,
    /// what carpd changed on the parents of virtual MACs
    parent_arp: ParentArp,
    /// the conntrackd driver (`[conntrack]`)
    conntrack: Option<ConntrackDriver>,
    /// hands the heap's free pages back after a takeover of many groups
    trim: crate::sys::memory::AfterBursts,
    /// the native hook jobs in flight across all groups, and the groups in line
    turns: Turns,
    /// the loop runs under SCHED_FIFO (chosen at start only)
    realtime: bool,
}

/// Binds the control socket; in command-line mode a socket in use (another carpd, e.g. in
/// another network namespace) only costs carpctl for this one, never the start.
fn control_socket(settings: &Settings) -> Result<Option<(control::ControlSocket, Access)>> {
    let access = match &settings.daemon.control_group {
        Some(group) => Access::with_group(group).map_err(Refusal)?,
        None => Access::root_only(),
    };
    match control::bind(&settings.daemon.control_socket, &access) {
        Ok(socket) => Ok(Some((socket, access))),
        Err(e) if settings.origin == Origin::CommandLine => {
            tracing::warn!("{e}; carpctl cannot reach this carpd (use --control-socket PATH)");
            Ok(None)
        }
        Err(e @ control::BindError::InUse(_)) => Err(Refusal(format!("carpd: {e}")).into()),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// Runs every group of `settings` until a stop signal.
pub async fn run(mut settings: Settings, pidfile: Option<&Path>) -> Result<()> {
    let named_logs = matches!(settings.origin, Origin::File(_));
    let mut locks = startup::lock_groups(&settings.groups)?;
    let _pidfile = startup::create_pidfile(pidfile)?;
    let netlink = Netlink::open().context("opening rtnetlink")?;
    // Route events only when a group has routes at start (a reload that adds the first
    // routes adds and removes them, but does not put back one deleted behind carpd's back
    // until a restart; the reload report says so).
    let routes = settings.groups.iter().any(|g| !g.routes.is_empty());
    let net_events =
        Netlink::events(routes).context("subscribing to rtnetlink link and address events")?;
    let (done, done_rx) = mpsc::unbounded_channel();
    let (calls_tx, calls) = mpsc::channel(64);
    let events = control::event_channel();
    let (observed, observations) = mpsc::unbounded_channel();
    let (scraper, scrapes) = mpsc::channel(16);
    let metrics = match settings.daemon.metrics_listen {
        Some(address) => Some(crate::mgmt::metrics::bind(address).map_err(|e| {
            Refusal(format!(
                "carpd: cannot serve metrics on {address}: {e}: accepted a free local address and port ([daemon] metrics_listen)"
            ))
        })?),
        None => None,
    };
    let channels = Channels {
        done: done_rx,
        net_events,
        calls,
        observations,
        scrapes,
        events: events.clone(),
    };
    let mut daemon = Daemon {
        named_logs,
        engine: Engine::new(named_logs),
        io: Io::new(channels, observed, named_logs)?,
        netlink,
        slots: BTreeMap::new(),
        done,
        wall_epoch: SystemTime::now(),
        next_link: 0,
        route_events: routes,
        parent_arp: ParentArp::default(),
        conntrack: settings
            .conntrack
            .clone()
            .map(|c| ConntrackDriver::start(c, if named_logs { "[conntrack] " } else { "" })),
        base: Settings {
            groups: Vec::new(),
            ..settings.clone()
        },
        trim: Default::default(),
        turns: Turns::default(),
        realtime: false,
    };
    let plans = daemon.plan(&settings, &settings.groups).await?;
    daemon.remove_orphan_vips(&settings.groups).await;
    let socket = control_socket(&settings)?;
    // Trackers first: a group starts knowing whether it may compete.
    daemon
        .engine
        .set_trackers(daemon.io.now(), &settings.trackers);
    daemon.io.trackers().sync(&settings.trackers);
    daemon.start(plans, &mut locks).await?;
    let realtime = crate::loop_priority::plan(&settings);
    // Each running group keeps its own copy; the plans and the parsed file are done with.
    drop(std::mem::take(&mut settings.groups));
    if let Some((socket, access)) = socket {
        control::serve(socket, access, calls_tx, events);
    }
    daemon.realtime = realtime.as_ref().is_some_and(crate::loop_priority::enter);
    crate::sys::privileges::drop_to_network(daemon.realtime);
    // After the drop: the endpoint's thread keeps the credentials it starts with.
    if let Some(listener) = metrics {
        if let Some(address) = settings.daemon.metrics_listen {
            tracing::info!("Serving metrics on http://{address}/metrics");
        }
        crate::mgmt::metrics::serve(listener, scraper.clone());
    }
    // Kept so that the scrape channel stays open when no endpoint is served.
    let _scraper = scraper;
    daemon.apply();
    crate::sys::memory::release_free_pages();
    // systemd Type=notify: ready once the first state (BACKUP) is known.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&daemon.engine.summary()),
    ]);
    daemon.serve().await;
    Ok(())
}

impl Daemon {
    fn tag(&self, name: &str) -> String {
        if self.named_logs {
            format!("[{name}] ")
        } else {
            String::new()
        }
    }

    /// The loop, until every group has been told to stop and their hooks are done.
    async fn serve(&mut self) {
        loop {
            let next = self.io.next(self.engine.poll_timeout()).await;
            let now = self.io.now();
            let flow = match next {
                Next::Input(input) => {
                    if let Input::HookDone { router, job, .. } = &input {
                        if let Some(slot) = self.slots.get_mut(router) {
                            slot.runner.job_done(job, &mut self.turns);
                        }
                        self.pass_turns();
                        self.trim.finished(now);
                    }
                    let repair = match &input {
                        Input::Link {
                            link,
                            present: true,
                            ..
                        } => Some((Some(*link), None)),
                        Input::VipLink { name, state } if !state.present => {
                            Some((None, Some(name.clone())))
                        }
                        _ => None,
                    };
                    for (link, frame) in self.io.fresh_frames() {
                        self.engine.prefetch_frame(link, frame);
                    }
                    let flow = self.engine.handle(now, input);
                    if let Some((link, gone)) = repair {
                        self.repair_vmacs(link, gone.as_deref()).await;
                    }
                    flow
                }
                Next::Reload => {
                    tracing::warn!("Received SIGHUP: reloading the config file");
                    if let Err(e) = self.reload().await {
                        tracing::error!("reload refused, nothing changed: {e}");
                    }
                    ControlFlow::Continue(())
                }
                Next::Call(call) => {
                    let reply = self.call(call.request).await;
                    let _ = call.reply.send(reply);
                    ControlFlow::Continue(())
                }
                Next::Scrape(scrape) => {
                    let conntrack = self.conntrack.as_ref().map(ConntrackDriver::view);
                    let _ = scrape.send(crate::mgmt::metrics::render(
                        &self.engine,
                        self.wall_epoch,
                        conntrack.as_ref(),
                    ));
                    ControlFlow::Continue(())
                }
            };
            self.apply();
            if flow.is_break() {
                break;
            }
            self.trim.woke(now);
        }
        // The last changes (to INIT) are notified too, each within its group's hook timeout.
        let limit = self
            .slots
            .values()
            .map(|slot| slot.settings.hook_timeout)
            .max()
            .unwrap_or_default()
            + std::time::Duration::from_secs(1);
        let slots = std::mem::take(&mut self.slots);
        let vmacs: Vec<(String, (String, u32))> = slots
            .values()
            .filter_map(|slot| {
                let tag = self.tag(&slot.settings.name);
                Some((tag, self.vmac_of(&slot.settings)?))
            })
            .collect();
        let turns = &mut self.turns;
        let finishing: Vec<_> = slots
            .into_values()
            .map(|slot| slot.runner.finish(turns))
            .collect();
        futures::future::join_all(finishing).await;
        for (tag, (name, index)) in vmacs {
            vmac_links::delete(&self.netlink, &name, index, &tag).await;
        }
        // After the runners: the last down hooks queued conntrackd's backup steps.
        if let Some(driver) = self.conntrack.take() {
            driver.finish().await;
        }
        self.parent_arp.restore_all();
        self.io.finish_notifications(limit).await;
        tracing::info!("carpd stopped");
    }

    /// Answers one control request with one JSON line.
    async fn call(&mut self, request: Request) -> String {
        let now = self.io.now();
        match request {
            Request::Status { group } => match self.engine.group_status(group.as_deref()) {
                Ok(groups) => reply_line(&StatusReply {
                    groups: groups
                        .iter()
                        .map(|g| GroupView::new(g, self.wall_epoch, now))
                        .collect(),
                    trackers: self
                        .engine
                        .trackers()
                        .map(|(name, t)| TrackerView::new(name, t, now))
                        .collect(),
                    conntrack: self.conntrack.as_ref().map(ConntrackDriver::view),
                }),
                Err(e) => error_line(&e),
            },
            Request::Demote { ref group } | Request::Promote { ref group } => {
                let drain = matches!(request, Request::Demote { .. });
                match self.engine.drain_groups(now, group.as_deref(), drain) {
                    Ok(groups) => reply_line(&DrainReply { groups }),
                    Err(e) => error_line(&e),
                }
            }
            Request::Reload => match self.reload().await {
                Ok(report) => {
                    serde_json::to_string(&report).unwrap_or_else(|e| error_line(&e.to_string()))
                }
                Err(e) => {
                    tracing::error!("reload refused, nothing changed: {e}");
                    error_line(&format!("{e}\nreload refused: nothing changed"))
                }
            },
            // Served by the connection itself.
            Request::Watch => error_line("watch is served by the connection"),
        }
    }

    /// The link serving `interface`, if any.
    fn link_named(&self, interface: &str) -> Option<LinkId> {
        self.io.link_named(interface)
    }

    /// Checks each group against the host; nothing changes. `settings` are the settings the
    /// groups belong to (every VIP in them is excluded from the default source address).
    async fn plan(&self, settings: &Settings, groups: &[GroupSettings]) -> Result<Vec<Plan>> {
        let mut addresses: BTreeMap<String, Vec<LinkAddress>> = BTreeMap::new();
        let mut interfaces: BTreeMap<String, Interface> = BTreeMap::new();
        let mut plans = Vec::with_capacity(groups.len());
        for g in groups {
            // First: a parent that cannot carry a macvlan is said as such.
            if let Some(spec) = VmacSpec::of(g) {
                self.check_vmac(g, &spec).await?;
            }
            let link = match self.link_named(&g.interface) {
                Some(id) => {
                    interfaces
                        .entry(g.interface.clone())
                        .or_insert_with(|| self.io.interface(id).expect("a link").clone());
                    PlannedLink::Existing
                }
                None => {
                    let interface = match interfaces.get(&g.interface) {
                        Some(i) => i.clone(),
                        None => iface::lookup(&g.interface).with_context(|| {
                            format!("Unable to open interface [{}]", g.interface)
                        })?,
                    };
                    interfaces.insert(g.interface.clone(), interface.clone());
                    PlannedLink::New(interface)
                }
            };
            let index = interfaces[&g.interface].index;
            if !addresses.contains_key(&g.interface) {
                let list = self
                    .netlink
                    .addresses(index)
                    .await
                    .with_context(|| format!("listing the addresses of {}", g.interface))?;
                addresses.insert(g.interface.clone(), list);
            }
            let srcip = startup::source_address(g, &addresses[&g.interface], settings)?;
            let dad = addresses[&g.interface]
                .iter()
                .find(|a| a.address == srcip)
                .map(|a| a.dad);
            if dad.is_some_and(|d| d != Dad::Done) {
                let list = self.await_dad(g, index, srcip).await?;
                addresses.insert(g.interface.clone(), list);
            }
            let here = &addresses[&g.interface];
            let vip_addresses = match g.vip_interface() {
                name if name == g.interface => here.clone(),
                name => self.vip_addresses(name).await?,
            };
            let vips: Vec<(IpAddr, u8)> = g
                .vips
                .iter()
                .map(|v| (v.address, v.prefix_or_default()))
                .collect();
            let findings = startup::check(&HostView {
                interface: &g.interface,
                addresses: here,
                srcip,
                vips: &vips,
                vip_interface: g.vip_interface(),
                vip_addresses: &vip_addresses,
                native: g.native(),
                ignore_ifstate: g.ignore_ifstate,
                peers: &g.peers,
            })?;
            for warning in &findings.warnings {
                tracing::warn!("{warning}");
            }
            let config = g
                .router_config(srcip)
                .with_context(|| format!("invalid configuration of group \"{}\"", g.name))?;
            plans.push(Plan {
                settings: g.clone(),
                link,
                vips,
                stale_vips: findings.stale_vips,
                config,
            });
        }
        Ok(plans)
    }

    /// Removes the addresses with carpd's mark on the interfaces these groups serve that no
    /// group and no running carpd owns ([`startup::orphan_vips`]): a carpd killed while master
    /// and then started without that group would leave them forever. Logged one by one; a
    /// failure to look or to remove is a warning, never a reason not to start.
    async fn remove_orphan_vips(&self, groups: &[GroupSettings]) {
        let live = crate::sys::lock::live_instance_notes();
        let mut live_names = Vec::new();
        let mut listed = true;
        for note in &live {
            match note {
                crate::sys::lock::LiveNote::Vips(vips) => {
                    live_names.extend(vips.iter().map(|(name, _)| name.clone()))
                }
                crate::sys::lock::LiveNote::Unlisted => listed = false,
            }
        }
        if listed {
            let configured: Vec<&str> = groups.iter().filter_map(|g| g.vmac.as_deref()).collect();
            vmac_links::remove_orphans(&self.netlink, &configured, &live_names).await;
        }
        let mut interfaces: Vec<&str> = groups
            .iter()
            .flat_map(|g| [g.interface.as_str(), g.vip_interface()])
            .collect();
        interfaces.sort_unstable();
        interfaces.dedup();
        let mut marked = Vec::new();
        let mut indexes = BTreeMap::new();
        for name in interfaces {
            let Ok(link) = iface::vip_link(name) else {
                continue;
            };
            if !link.present {
                continue;
            }
            match self.netlink.addresses(link.index).await {
                Ok(list) => marked.extend(
                    list.iter()
                        .filter(|a| a.added_by_carpd)
                        .map(|a| (name.to_string(), a.address, a.prefix)),
                ),
                Err(e) => tracing::warn!("listing the addresses of {name}: {e}"),
            }
            indexes.insert(name.to_string(), link.index);
        }
        if marked.is_empty() {
            return;
        }
        let ours: Vec<(String, IpAddr)> = groups
            .iter()
            .flat_map(|g| {
                g.vips
                    .iter()
                    .map(|v| (g.vip_interface().to_string(), v.address))
            })
            .collect();
        let orphans =
            match startup::orphan_vips(&marked, &ours, &crate::sys::lock::live_instance_notes()) {
                Ok(orphans) => orphans,
                Err(warning) => {
                    tracing::warn!("{warning}");
                    return;
                }
            };
        for (name, address, prefix) in orphans {
            match self
                .netlink
                .remove_address(indexes[&name], address, prefix)
                .await
            {
                Ok(()) => tracing::warn!(
                    "Removed stale virtual IP {address}/{prefix} from {name}: it carries carpd's mark and no configured group or running carpd owns it"
                ),
                Err(e) => tracing::warn!(
                    "cannot remove stale virtual IP {address}/{prefix} from {name}: {e}"
                ),
            }
        }
    }

    /// Whether `g`'s virtual MAC can be made as `spec` says: its interface is Ethernet, and
    /// the name is free or carpd's own. Nothing is made here.
    async fn check_vmac(&self, g: &GroupSettings, spec: &VmacSpec) -> Result<()> {
        let look = |name: &str| {
            let name = name.to_string();
            async move {
                self.netlink
                    .link_named(&name)
                    .await
                    .with_context(|| format!("looking up {name}"))
            }
        };
        let parent = look(&spec.parent).await?;
        let existing = look(&spec.name).await?;
        match vmac_links::refusal(spec, &g.name, parent.as_ref(), existing.as_ref()) {
            Some(refused) => Err(Refusal(refused).into()),
            None => Ok(()),
        }
    }

    /// The addresses on VIP interface `name` now; none while it does not exist.
    async fn vip_addresses(&self, name: &str) -> Result<Vec<LinkAddress>> {
        let link = iface::vip_link(name)
            .with_context(|| format!("looking up the VIP interface {name}"))?;
        if !link.present {
            return Ok(Vec::new());
        }
        self.netlink
            .addresses(link.index)
            .await
            .with_context(|| format!("listing the addresses of {name}"))
    }

    /// Waits until the source address `srcip` of group `g` on link `index` has passed IPv6
    /// duplicate address detection (an interface that has just come up has a tentative
    /// link-local address for a second or two; adverts from it fail, and a backup that cannot
    /// advertise would become a second master). Returns the link's addresses then. A failed
    /// detection is refused; one still running after [`DAD_WAIT`] is warned about.
    async fn await_dad(
        &self,
        g: &GroupSettings,
        index: u32,
        srcip: IpAddr,
    ) -> Result<Vec<LinkAddress>> {
        let started = tokio::time::Instant::now();
        let mut logged = false;
        loop {
            let list = self
                .netlink
                .addresses(index)
                .await
                .with_context(|| format!("listing the addresses of {}", g.interface))?;
            match list.iter().find(|a| a.address == srcip).map(|a| a.dad) {
                Some(Dad::Failed) => {
                    return Err(Refusal(format!(
                        "carpd: group \"{}\": {srcip} on {} failed duplicate address detection (another host on the link has it): accepted a source address that passed it; set srcip in the group or fix the duplicate",
                        g.name, g.interface
                    ))
                    .into())
                }
                Some(Dad::Tentative) if started.elapsed() < DAD_WAIT => {
                    if !logged {
                        tracing::info!(
                            "[{}] Waiting for {srcip} on {} to finish duplicate address detection before advertising from it",
                            g.name,
                            g.interface
                        );
                        logged = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Some(Dad::Tentative) => {
                    tracing::warn!(
                        "[{}] {srcip} on {} is still tentative after {} s of duplicate address detection: starting anyway; adverts fail until it is usable",
                        g.name,
                        g.interface,
                        DAD_WAIT.as_secs()
                    );
                    return Ok(list);
                }
                _ => {
                    if logged {
                        tracing::info!(
                            "[{}] {srcip} on {} is usable after {} ms",
                            g.name,
                            g.interface,
                            started.elapsed().as_millis()
                        );
                    }
                    return Ok(list);
                }
            }
        }
    }

    /// Opens a link for a new interface.
    fn add_link(&mut self, interface: Interface) -> Result<LinkId> {
        if let Some(id) = self.link_named(&interface.name) {
            return Ok(id);
        }
        if self.named_logs {
            tracing::info!(
                "Local advertised ethernet address on {} is [{}]",
                interface.name,
                format_mac(&interface.mac)
            );
        } else {
            tracing::info!(
                "Local advertised ethernet address is [{}]",
                format_mac(&interface.mac)
            );
        }
        let link = LinkIo::open(interface.clone())?;
        let id = LinkId(self.next_link);
        self.next_link += 1;
        self.engine
            .add_link(id, &interface.name, interface.mac, interface.running);
        self.io.add_link(id, link);
        Ok(id)
    }

    /// Joins on each link the multicast groups its groups use now; closes links no group uses.
    fn refresh_links(&mut self, groups: &[GroupSettings]) {
        let unused = self
            .io
            .close_unused_links(|name| groups.iter().any(|g| g.interface == name));
        for id in unused {
            self.engine.remove_link(id);
        }
        self.io.set_link_groups(groups);
        let vip_interfaces: Vec<&str> = groups
            .iter()
            .filter_map(|g| g.vmac.as_deref().or(g.vip_interface.as_deref()))
            .collect();
        self.io.vip_links().retain(&vip_interfaces);
        self.parent_arp.sync(groups);
    }

    /// The settings of the running groups.
    fn running(&self) -> Settings {
        Settings {
            groups: self.slots.values().map(|s| s.settings.clone()).collect(),
            ..self.base.clone()
        }
    }

    /// The router of the running group `name`.
    fn router_named(&self, name: &str) -> Option<RouterId> {
        self.slots
            .iter()
            .find(|(_, slot)| slot.settings.name == name)
            .map(|(router, _)| *router)
    }

    /// Hands the free turns for native hook jobs to the groups in line, in order.
    fn pass_turns(&mut self) {
        let slots = &mut self.slots;
        // A group removed while in line ran its jobs when it finished.
        self.turns
            .pass(|router, turns| match slots.get_mut(&router) {
                Some(slot) => {
                    slot.runner.resume(turns);
                    true
                }
                None => false,
            });
    }

    /// Carries out the engine's effects: hook requests go to their group's runner, the rest
    /// to the I/O side.
    fn apply(&mut self) {
        for effect in self.engine.drain_effects() {
            match effect {
                Effect::Hook { router, request } => {
                    // Frames asked for before the hook leave before it starts.
                    self.io.flush();
                    if let Some(slot) = self.slots.get_mut(&router) {
                        slot.runner.request(request, &mut self.turns);
                    }
                }
                other => self.io.apply(other),
            }
        }
        self.io.flush();
    }

    /// Starts planned groups: links opened, stale VIPs removed, runners started, groups added
    /// to the engine as BACKUP.
    /// Each takes its instance lock from `locks` (taken beforehand).
    async fn start(
        &mut self,
        plans: Vec<Plan>,
        locks: &mut BTreeMap<(String, u8), PidLock>,
    ) -> Result<()> {
        for plan in &plans {
            if let PlannedLink::New(interface) = &plan.link {
                self.add_link(interface.clone())?;
            }
        }
        let mut all = self.running().groups;
        all.extend(plans.iter().map(|p| p.settings.clone()));
        self.refresh_links(&all);
        // Gone before the groups start: what they keep fills the room the copies took,
        // instead of landing above it and leaving it as holes.
        drop(all);
        for plan in plans {
            let lock = locks.remove(&(plan.settings.interface.clone(), plan.settings.vhid));
            self.start_group(plan, lock).await?;
        }
        Ok(())
    }

    async fn start_group(&mut self, plan: Plan, lock: Option<PidLock>) -> Result<()> {
        let g = &plan.settings;
        let link_id = self
            .link_named(&g.interface)
            .expect("the group's link was opened");
        let tag = self.tag(&g.name);
        // Where the VIPs go: the link, or a VIP interface watched from now on (the engine
        // knows whether it can hold them before the group starts).
        let vmac = VmacSpec::of(g);
        if let Some(spec) = &vmac {
            vmac_links::make(&self.netlink, spec, &tag)
                .await
                .map_err(|e| Refusal(format!("carpd: group \"{}\": {e}", g.name)))?;
        }
        let ifindex = match g.vmac.as_ref().or(g.vip_interface.as_ref()) {
            None => self.io.ifindex(link_id).expect("the group's link"),
            Some(name) => {
                self.io
                    .vip_links()
                    .watch(name)
                    .with_context(|| format!("looking up the VIP interface {name}"))?;
                let state = self.io.vip_links().state(name);
                let now = self.io.now();
                self.engine.set_vip_link(now, name, state);
                if vmac.is_some() {
                    // Made above: present, down until MASTER.
                } else if state.present && state.announce_from.is_none() {
                    tracing::info!("{tag}Virtual IPs go to {name}, which does no ARP: no gratuitous ARP or neighbor advertisement is sent for them (the host's routing daemon announces them)");
                } else if !state.present {
                    tracing::warn!(
                        "{tag}VIP interface {name} does not exist (yet): waiting for it in FAULT"
                    );
                }
                self.io.vip_links().index(name)
            }
        };
        // RFC 9568 §7.2: an IPv6 router's first address is its link-local one. keepalived
        // only warns, and so does carpd: the group works either way. VIPs on a VIP interface
        // are not on the advert link: no link-local one is expected there.
        if let Some(first) = g.vips.first().filter(|v| {
            g.vip_interface.is_none()
                && g.vmac.is_none()
                && match v.address {
                    std::net::IpAddr::V6(a) => !a.is_unicast_link_local(),
                    std::net::IpAddr::V4(_) => false,
                }
        }) {
            tracing::warn!(
                "{tag}The first IPv6 virtual address {} is not link-local (RFC 9568 wants a link-local one first, as keepalived warns too): it works, but strict VRRP routers may complain",
                first.address
            );
        }
        let vmac_link = vmac.map(|spec| VmacLink {
            netlink: self.netlink.clone(),
            name: spec.name,
            index: std::sync::Arc::clone(&ifindex),
        });
        let mode = self.vip_mode(&plan, &tag, ifindex).await?;
        let spec = hook_spec(g, mode, tag, vmac_link, self.conntrack_link(g));
        let now = self.io.now();
        let router = self
            .engine
            .add_group(now, g, plan.config, link_id, random_seed());
        let runner = HookRunner::start(spec, router, self.done.clone());
        self.slots.insert(
            router,
            Box::new(GroupSlot {
                settings: plan.settings,
                lock,
                runner,
            }),
        );
        // Hooks asked for at the start go to the runner just made.
        self.apply();
        Ok(())
    }

    /// How a starting group's VIPs are managed: by carpd on `ifindex` (stale VIPs an earlier
    /// instance left removed first), or by the user's scripts.
    async fn vip_mode(
        &self,
        plan: &Plan,
        tag: &str,
        ifindex: std::sync::Arc<std::sync::atomic::AtomicU32>,
    ) -> Result<VipMode> {
        let g = &plan.settings;
        Ok(if g.native() {
            tracing::info!("{tag}No up/down script: carpd manages the virtual IP addresses itself");
            // A killed instance may have left our VIP behind: take it away before the
            // election (only what carpd added; startup::check refused anything else).
            for &(vip, prefix) in &plan.stale_vips {
                self.netlink
                    .remove_address(
                        ifindex.load(std::sync::atomic::Ordering::Relaxed),
                        vip,
                        prefix,
                    )
                    .await?;
                tracing::warn!(
                    "{tag}Removed stale virtual IP {vip}/{prefix} from {} (left by an earlier instance)",
                    g.vip_interface()
                );
            }
            VipMode::Native {
                netlink: self.netlink.clone(),
                vips: plan.vips.clone(),
                routes: g.routes.clone(),
                ifindex,
            }
        } else {
            if g.up_script.is_none() {
                tracing::warn!("{tag}Warning: no script called when going up");
            }
            if g.down_script.is_none() {
                tracing::warn!("{tag}Warning: no script called when going down");
            }
            VipMode::Scripts {
                up: g.up_script.clone(),
                down: g.down_script.clone(),
            }
        })
    }

    /// Stops a group (bow-out, VIPs released by its down hook) and lets its runner finish
    /// in the background; its lock is handed back (a restarted group keeps it).
    fn stop_group(&mut self, name: &str) -> Option<((String, u8), PidLock)> {
        let router = self.router_named(name)?;
        let now = self.io.now();
        self.engine.remove_group(now, router);
        // The down hook goes to the runner, which is still in its slot.
        self.apply();
        let GroupSlot {
            settings,
            lock,
            runner,
        } = *self.slots.remove(&router)?;
        let vmac = self.vmac_of(&settings);
        let (netlink, tag) = (self.netlink.clone(), self.tag(name));
        let finishing = runner.finish(&mut self.turns);
        self.pass_turns();
        tokio::spawn(async move {
            finishing.await;
            if let Some((name, index)) = vmac {
                vmac_links::delete(&netlink, &name, index, &tag).await;
            }
        });
        let key = (settings.interface, settings.vhid);
        lock.map(|lock| (key, lock))
    }

    /// A group's macvlan and its index now (deleted by that index once the group is done,
    /// so that a group started since under the same name keeps its own).
    fn vmac_of(&mut self, g: &GroupSettings) -> Option<(String, u32)> {
        let name = g.vmac.clone()?;
        let index = self
            .io
            .vip_links()
            .index(&name)
            .load(std::sync::atomic::Ordering::Relaxed);
        Some((name, index))
    }

    /// Makes again the macvlans of the groups that have lost theirs, when their parent
    /// exists: after the parent came back (`link`), or the macvlan `gone` was deleted.
    async fn repair_vmacs(&mut self, link: Option<LinkId>, gone: Option<&str>) {
        let specs: Vec<(String, VmacSpec)> = self
            .slots
            .values()
            .filter(|slot| match (link, gone) {
                (Some(link), _) => self.link_named(&slot.settings.interface) == Some(link),
                (_, Some(name)) => slot.settings.vmac.as_deref() == Some(name),
                _ => false,
            })
            .filter_map(|slot| Some((self.tag(&slot.settings.name), VmacSpec::of(&slot.settings)?)))
            .collect();
        for (tag, spec) in specs {
            if self.io.vip_links().state(&spec.name).present {
                continue;
            }
            vmac_links::repair(&self.netlink, &spec, &tag).await;
        }
    }

    /// Re-reads the config file and applies the difference; a file that does not load, or a
    /// group that cannot start, changes nothing.
    async fn reload(&mut self) -> Result<ReloadReport> {
        let Origin::File(path) = &self.base.origin else {
            anyhow::bail!("carpd was started from the command line: accepted reload in config mode (--config) only");
        };
        let path = path.clone();
        notify(&[
            sd_notify::NotifyState::Reloading,
            sd_notify::NotifyState::monotonic_usec_now()
                .unwrap_or(sd_notify::NotifyState::Custom("")),
        ]);
        let result = self.reload_from(&path).await;
        crate::sys::memory::release_free_pages();
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&self.engine.summary()),
        ]);
        result
    }

    async fn reload_from(&mut self, path: &Path) -> Result<ReloadReport> {
        let new = crate::settings::file::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let sources: BTreeMap<String, IpAddr> = self
            .slots
            .iter()
            .filter_map(|(router, slot)| {
                Some((slot.settings.name.clone(), self.engine.source_of(*router)?))
            })
            .collect();
        let plan = reload::plan(&self.running(), &new, &sources)?;
        if !self.route_events && new.groups.iter().any(|g| !g.routes.is_empty()) {
            tracing::warn!(
                "routes added by a reload: carpd adds and removes them, but puts back one deleted behind its back only after a restart (it listens to route events when a group had routes at start)"
            );
        }
        if let Some(warning) = crate::loop_priority::after_reload(
            self.base.daemon.realtime_priority,
            self.realtime,
            &new,
        ) {
            tracing::warn!("{warning}");
        }
        if plan.daemon_changed {
            tracing::warn!(
                "[daemon] changed in {}: control_socket, control_group, metrics_listen and realtime_priority apply at the next start",
                path.display()
            );
        }
        // Locks for the (interface, vhid) pairs that are new and checks of the groups to
        // start against the host: all before anything changes.
        let held: Vec<(&str, u8)> = self
            .slots
            .values()
            .map(|slot| (slot.settings.interface.as_str(), slot.settings.vhid))
            .collect();
        let fresh: Vec<&GroupSettings> = plan
            .start
            .iter()
            .filter(|g| !held.contains(&(g.interface.as_str(), g.vhid)))
            .collect();
        let mut locks = startup::lock_groups(fresh)?;
        let plans = self.plan(&new, &plan.start).await?;
        // Apply: stop, trackers, change in place, start. The locks of stopped groups go to
        // the groups started on the same interface and vhid; the others are released.
        for name in &plan.stop {
            if let Some((key, lock)) = self.stop_group(name) {
                locks.entry(key).or_insert(lock);
            }
        }
        self.reload_conntrack(new.conntrack.as_ref());
        let now = self.io.now();
        self.engine.set_trackers(now, &new.trackers);
        self.io.trackers().sync(&new.trackers);
        for (g, config) in plan.in_place {
            self.change_in_place(now, g, config);
        }
        self.base = Settings {
            groups: Vec::new(),
            ..new
        };
        // A start that fails half-way (a socket, a netlink call) leaves the groups that did
        // start running; the next reload sees the rest as still to add.
        let started = self.start(plans, &mut locks).await;
        drop(locks);
        let now = self.io.now();
        self.engine.refresh_health(now);
        self.refresh_links(&self.running().groups);
        self.apply();
        started?;
        let report = plan.report;
        tracing::warn!(
            "Reloaded {}: {} added, {} removed, {} changed in place, {} restarted, {} unchanged; trackers: {} added, {} removed, {} changed",
            path.display(),
            report.added.len(),
            report.removed.len(),
            report.changed.len(),
            report.restarted.len(),
            report.unchanged,
            report.trackers_added.len(),
            report.trackers_removed.len(),
            report.trackers_changed.len()
        );
        self.io.publish(&Event::Reload(report.changes()));
        Ok(report)
    }

    /// New `[conntrack]` settings: the driver started, changed or stopped (the groups that
    /// drive it get their links as they change in place or start, after this).
    fn reload_conntrack(&mut self, new: Option<&ConntrackSettings>) {
        let tag = if self.named_logs { "[conntrack] " } else { "" };
        match (self.conntrack.as_mut(), new) {
            (Some(driver), Some(new)) if self.base.conntrack.as_ref() != Some(new) => {
                tracing::warn!("{tag}[conntrack] changed: applied to the commands run from now on");
                driver.respec(new.clone());
            }
            (None, Some(new)) => self.conntrack = Some(ConntrackDriver::start(new.clone(), tag)),
            (Some(_), None) => {
                tracing::warn!("{tag}[conntrack] removed: carpd no longer drives conntrackd");
                if let Some(driver) = self.conntrack.take() {
                    tokio::spawn(driver.finish());
                }
            }
            _ => {}
        }
    }

    /// A group's link to the conntrackd driver, when it drives conntrackd.
    fn conntrack_link(&self, g: &GroupSettings) -> Option<ConntrackLink> {
        let driver = self.conntrack.as_ref().filter(|_| g.conntrack)?;
        Some(ConntrackLink {
            driver: driver.handle(),
            member: g.name.clone(),
        })
    }

    /// Gives a running group new settings in place (the plan checked that the core keeps
    /// it running); its hook runner gets the new scripts or VIPs when they changed.
    fn change_in_place(&mut self, now: carpd_proto::Instant, g: GroupSettings, config: VrConfig) {
        let Some(router) = self.router_named(&g.name) else {
            return;
        };
        let tag = self.tag(&g.name);
        let link = self.link_named(&g.interface).expect("same interface");
        let master = self.engine.state(router) == carpd_proto::State::Master;
        let done = self.engine.reconfigure_group(now, router, &g, config);
        if done == Some(carpd_proto::Reconfigured::Restarted) {
            // The plan and the core share one rule; this would be a bug, and is said.
            tracing::error!(
                "{tag}the core restarted a group the reload planned to change in place"
            );
        }
        let ifindex = match g.vmac.as_ref().or(g.vip_interface.as_ref()) {
            None => self.io.ifindex(link).expect("the group's link"),
            Some(name) => self.io.vip_links().index(name),
        };
        let vmac_link = g.vmac.clone().map(|name| VmacLink {
            netlink: self.netlink.clone(),
            name,
            index: std::sync::Arc::clone(&ifindex),
        });
        let conntrack = self.conntrack_link(&g);
        let Some(slot) = self.slots.get_mut(&router) else {
            return;
        };
        if hook_relevant(&slot.settings) != hook_relevant(&g) {
            let mode = if g.native() {
                VipMode::Native {
                    netlink: self.netlink.clone(),
                    vips: g
                        .vips
                        .iter()
                        .map(|v| (v.address, v.prefix_or_default()))
                        .collect(),
                    routes: g.routes.clone(),
                    ifindex,
                }
            } else {
                VipMode::Scripts {
                    up: g.up_script.clone(),
                    down: g.down_script.clone(),
                }
            };
            slot.runner.respec(
                hook_spec(&g, mode, tag.clone(), vmac_link, conntrack),
                master,
                &mut self.turns,
            );
        }
        slot.settings = g;
        tracing::warn!("{tag}Settings changed: applied in place");
    }
}

/// The settings a group's hooks depend on.
fn hook_relevant(g: &GroupSettings) -> impl PartialEq + '_ {
    (
        &g.vips,
        &g.routes,
        &g.up_script,
        &g.down_script,
        &g.xparam,
        g.hook_timeout,
        g.conntrack,
    )
}

fn hook_spec(
    g: &GroupSettings,
    mode: VipMode,
    tag: String,
    vmac: Option<VmacLink>,
    conntrack: Option<ConntrackLink>,
) -> HookSpec {
    HookSpec {
        conntrack,
        mode,
        tag,
        interface: g.vip_interface().to_string(),
        vip_typed: g.vips[0].typed.clone(),
        vips: g.vips.iter().map(|v| v.typed.clone()).collect(),
        xparam: g.xparam.clone(),
        vhid: g.vhid,
        timeout: g.hook_timeout,
        vmac,
    }
}
