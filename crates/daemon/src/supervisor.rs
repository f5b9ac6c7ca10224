//! The loop and what it owns beyond the engine: starting the groups of a [`Settings`],
//! reloading the config file (apply the difference, touch nothing else), and answering
//! control requests.
//!
//! Start-up and reload share one path: every group to start is planned first (interface,
//! addresses, source address, host checks, instance lock) and only when every plan holds is
//! anything changed; a reload that fails to plan changes nothing.

use crate::host::{Engine, LinkId};
use crate::io::hooks::{HookRunner, HookSpec, VipMode};
use crate::io::trackers::Trackers;
use crate::io::{self, notify, Io, LinkIo, Next, Runner, Signals};
use crate::mgmt::control::protocol::{
    error_line, reply_line, DrainReply, Event, GroupView, ReloadReport, Request, StatusReply,
    TrackerView,
};
use crate::mgmt::control::{self, access::Access};
use crate::mgmt::reload;
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
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
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

/// The daemon: settings, engine, I/O, and what each group holds.
struct Daemon {
    settings: Settings,
    named_logs: bool,
    engine: Engine,
    io: Io,
    netlink: Netlink,
    locks: BTreeMap<(String, u8), PidLock>,
    ids: BTreeMap<String, RouterId>,
    done: mpsc::UnboundedSender<crate::io::hooks::Done>,
    wall_epoch: SystemTime,
    next_link: u32,
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
pub async fn run(settings: Settings, pidfile: Option<&Path>) -> Result<()> {
    let named_logs = matches!(settings.origin, Origin::File(_));
    let locks = startup::lock_groups(&settings.groups)?;
    let _pidfile = startup::create_pidfile(pidfile)?;
    let netlink = Netlink::open().context("opening rtnetlink")?;
    let net_events =
        Netlink::events().context("subscribing to rtnetlink link and address events")?;
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
    let epoch = crate::sys::timer::monotonic_now();
    let timer =
        crate::sys::timer::DeadlineTimer::new().context("creating the deadline timer (timerfd)")?;
    let mut daemon = Daemon {
        named_logs,
        engine: Engine::new(named_logs),
        io: Io {
            epoch,
            timer,
            signals: Signals::new()?,
            done: done_rx,
            net_events,
            calls,
            links: BTreeMap::new(),
            runners: BTreeMap::new(),
            batch: None,
            batch_link: LinkId(0),
            hangup_reloads: named_logs,
            events: events.clone(),
            trackers: Trackers::new(observed),
            observations,
            notifier: crate::io::notify::Notifier::start(),
            scrapes,
            vip_links: Default::default(),
            pending: Default::default(),
        },
        netlink,
        locks,
        ids: BTreeMap::new(),
        done,
        wall_epoch: SystemTime::now(),
        next_link: 0,
        settings: Settings {
            groups: Vec::new(),
            ..settings.clone()
        },
    };
    let plans = daemon.plan(&settings, &settings.groups).await?;
    daemon.remove_orphan_vips(&settings.groups).await;
    let socket = control_socket(&settings)?;
    // Trackers first: a group starts knowing whether it may compete.
    daemon
        .engine
        .set_trackers(daemon.io.now(), &settings.trackers);
    daemon.io.trackers.sync(&settings.trackers);
    daemon.start(plans).await?;
    daemon.settings = settings;
    if let Some((socket, access)) = socket {
        control::serve(socket, access, calls_tx, events);
    }
    let realtime = daemon
        .settings
        .daemon
        .realtime_priority
        .is_some_and(enter_realtime);
    crate::sys::privileges::drop_to_network(realtime);
    // After the drop: the endpoint's thread keeps the credentials it starts with.
    if let Some(listener) = metrics {
        if let Some(address) = daemon.settings.daemon.metrics_listen {
            tracing::info!("Serving metrics on http://{address}/metrics");
        }
        crate::mgmt::metrics::serve(listener, scraper.clone());
    }
    // Kept so that the scrape channel stays open when no endpoint is served.
    let _scraper = scraper;
    daemon.io.apply(&mut daemon.engine);
    // systemd Type=notify: ready once the first state (BACKUP) is known.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&daemon.engine.summary()),
    ]);
    daemon.serve().await;
    Ok(())
}

/// Moves the loop to SCHED_FIFO at `priority` with its memory locked; whether it did. A
/// refusal is logged with what is missing, and carpd goes on under the normal scheduler:
/// failing over late under load beats not failing over at all.
fn enter_realtime(priority: u8) -> bool {
    match crate::sys::realtime::enter(priority) {
        Ok(()) => {
            tracing::info!(
                "Event loop on SCHED_FIFO priority {priority}, memory locked ([daemon] realtime_priority)"
            );
            true
        }
        Err(e) => {
            tracing::error!(
                "[daemon] realtime_priority = {priority} not applied, running on the normal scheduler: {e}"
            );
            false
        }
    }
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
                Next::Input(input) => self.engine.handle(now, input),
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
                    let _ =
                        scrape.send(crate::mgmt::metrics::render(&self.engine, self.wall_epoch));
                    ControlFlow::Continue(())
                }
            };
            self.io.apply(&mut self.engine);
            if flow.is_break() {
                break;
            }
        }
        let finishing = std::mem::take(&mut self.io.runners)
            .into_values()
            .map(Runner::finish);
        futures::future::join_all(finishing).await;
        // The last changes (to INIT) are notified too, each within its group's hook timeout.
        let limit = self
            .settings
            .groups
            .iter()
            .map(|g| g.hook_timeout)
            .max()
            .unwrap_or_default()
            + std::time::Duration::from_secs(1);
        self.io.notifier.finish(limit).await;
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
        self.io
            .links
            .iter()
            .find(|(_, l)| l.interface.name == interface)
            .map(|(id, _)| *id)
    }

    /// Checks each group against the host; nothing changes. `settings` are the settings the
    /// groups belong to (every VIP in them is excluded from the default source address).
    async fn plan(&self, settings: &Settings, groups: &[GroupSettings]) -> Result<Vec<Plan>> {
        let mut addresses: BTreeMap<String, Vec<LinkAddress>> = BTreeMap::new();
        let mut interfaces: BTreeMap<String, Interface> = BTreeMap::new();
        let mut plans = Vec::new();
        for g in groups {
            let link = match self.link_named(&g.interface) {
                Some(id) => {
                    interfaces
                        .entry(g.interface.clone())
                        .or_insert_with(|| self.io.links[&id].interface.clone());
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
            let vip_addresses = match &g.vip_interface {
                None => here.clone(),
                Some(name) => self.vip_addresses(name).await?,
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
        let socket = io::open_socket(&interface)?;
        let id = LinkId(self.next_link);
        self.next_link += 1;
        self.engine
            .add_link(id, &interface.name, interface.mac, interface.running);
        let unicast = io::open_unicast(&interface);
        self.io.links.insert(
            id,
            LinkIo {
                ifindex: Arc::new(AtomicU32::new(interface.index)),
                interface,
                socket: Some(socket),
                unicast,
                v6: None,
                wants_v6: false,
                groups: Vec::new(),
                memberships: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Joins on each link the multicast groups its groups use now; closes links no group uses.
    fn refresh_links(&mut self, groups: &[GroupSettings]) {
        let unused: Vec<LinkId> = self
            .io
            .links
            .iter()
            .filter(|(_, l)| !groups.iter().any(|g| g.interface == l.interface.name))
            .map(|(id, _)| *id)
            .collect();
        for id in unused {
            if let Some(link) = self.io.links.remove(&id) {
                tracing::info!("{} serves no group any more: closed", link.interface.name);
            }
            self.engine.remove_link(id);
            if self.io.batch.is_some_and(|(l, _)| l == id) {
                self.io.batch = None;
            }
        }
        for link in self.io.links.values_mut() {
            let on_link = || groups.iter().filter(|g| g.interface == link.interface.name);
            let wanted = on_link()
                .filter(|g| !g.is_broadcast() && !g.is_ipv6())
                .map(|g| g.multicast_group)
                .collect();
            let v6 = on_link().any(GroupSettings::is_ipv6);
            link.set_groups(wanted);
            link.set_v6(v6);
        }
        let vip_interfaces: Vec<&str> = groups
            .iter()
            .filter_map(|g| g.vip_interface.as_deref())
            .collect();
        self.io.vip_links.retain(&vip_interfaces);
    }

    /// Starts planned groups: links opened, stale VIPs removed, runners started, groups added
    /// to the engine as BACKUP.
    async fn start(&mut self, plans: Vec<Plan>) -> Result<()> {
        for plan in &plans {
            if let PlannedLink::New(interface) = &plan.link {
                self.add_link(interface.clone())?;
            }
        }
        let mut all: Vec<GroupSettings> = self.settings.groups.clone();
        all.extend(plans.iter().map(|p| p.settings.clone()));
        self.refresh_links(&all);
        for plan in plans {
            self.start_group(plan).await?;
        }
        Ok(())
    }

    async fn start_group(&mut self, plan: Plan) -> Result<()> {
        let g = &plan.settings;
        let link_id = self
            .link_named(&g.interface)
            .expect("the group's link was opened");
        let tag = self.tag(&g.name);
        // Where the VIPs go: the link, or a VIP interface watched from now on (the engine
        // knows whether it can hold them before the group starts).
        let ifindex = match &g.vip_interface {
            None => Arc::clone(&self.io.links[&link_id].ifindex),
            Some(name) => {
                self.io
                    .vip_links
                    .watch(name)
                    .with_context(|| format!("looking up the VIP interface {name}"))?;
                let state = self.io.vip_links.state(name);
                let now = self.io.now();
                self.engine.set_vip_link(now, name, state);
                if state.present && state.announce_from.is_none() {
                    tracing::info!("{tag}Virtual IPs go to {name}, which does no ARP: no gratuitous ARP or neighbor advertisement is sent for them (the host's routing daemon announces them)");
                } else if !state.present {
                    tracing::warn!(
                        "{tag}VIP interface {name} does not exist (yet): waiting for it in FAULT"
                    );
                }
                self.io.vip_links.index(name)
            }
        };
        // RFC 9568 §7.2: an IPv6 router's first address is its link-local one. keepalived
        // only warns, and so does carpd: the group works either way. VIPs on a VIP interface
        // are not on the advert link: no link-local one is expected there.
        if let Some(first) = g.vips.first().filter(|v| {
            g.vip_interface.is_none()
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
        let mode = if g.native() {
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
        };
        let spec = hook_spec(g, mode, tag);
        let now = self.io.now();
        let router = self
            .engine
            .add_group(now, g, plan.config, link_id, random_seed());
        let runner = HookRunner::start(spec, router, self.done.clone());
        self.io.runners.insert(router, Runner { runner, queued: 0 });
        self.ids.insert(g.name.clone(), router);
        // Hooks asked for at the start go to the runner just made.
        self.io.apply(&mut self.engine);
        Ok(())
    }

    /// Stops a group (bow-out, VIPs released by its down hook) and lets its runner finish
    /// in the background.
    fn stop_group(&mut self, name: &str) {
        let Some(router) = self.ids.remove(name) else {
            return;
        };
        let now = self.io.now();
        self.engine.remove_group(now, router);
        self.io.apply(&mut self.engine);
        if let Some(runner) = self.io.runners.remove(&router) {
            tokio::spawn(runner.finish());
        }
    }

    /// Re-reads the config file and applies the difference; a file that does not load, or a
    /// group that cannot start, changes nothing.
    async fn reload(&mut self) -> Result<ReloadReport> {
        let Origin::File(path) = &self.settings.origin else {
            anyhow::bail!("carpd was started from the command line: accepted reload in config mode (--config) only");
        };
        let path = path.clone();
        notify(&[
            sd_notify::NotifyState::Reloading,
            sd_notify::NotifyState::monotonic_usec_now()
                .unwrap_or(sd_notify::NotifyState::Custom("")),
        ]);
        let result = self.reload_from(&path).await;
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&self.engine.summary()),
        ]);
        result
    }

    async fn reload_from(&mut self, path: &Path) -> Result<ReloadReport> {
        let new = crate::settings::file::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let sources: BTreeMap<String, IpAddr> = self
            .ids
            .iter()
            .filter_map(|(name, router)| Some((name.clone(), self.engine.source_of(*router)?)))
            .collect();
        let plan = reload::plan(&self.settings, &new, &sources)?;
        if plan.daemon_changed {
            tracing::warn!(
                "[daemon] changed in {}: control_socket, control_group, metrics_listen and realtime_priority apply at the next start",
                path.display()
            );
        }
        // Locks for the (interface, vhid) pairs that are new and checks of the groups to
        // start against the host: all before anything changes.
        let fresh: Vec<&GroupSettings> = plan
            .start
            .iter()
            .filter(|g| !self.locks.contains_key(&(g.interface.clone(), g.vhid)))
            .collect();
        let new_locks = startup::lock_groups(fresh)?;
        let plans = self.plan(&new, &plan.start).await?;
        // Apply: stop, trackers, change in place, start.
        for name in &plan.stop {
            self.stop_group(name);
        }
        let now = self.io.now();
        self.engine.set_trackers(now, &new.trackers);
        self.io.trackers.sync(&new.trackers);
        for (g, config) in plan.in_place {
            self.change_in_place(now, g, config);
        }
        // Keep the locks of pairs still served, drop the others, add the new ones.
        self.locks.retain(|key, _| {
            new.groups
                .iter()
                .any(|g| (g.interface.clone(), g.vhid) == *key)
        });
        self.locks.extend(new_locks);
        let groups = new.groups.clone();
        self.settings = Settings {
            groups: self
                .settings
                .groups
                .iter()
                .filter(|g| !plan.stop.contains(&g.name))
                .cloned()
                .collect(),
            ..new
        };
        // A start that fails half-way (a socket, a netlink call) leaves the groups that did
        // start running: the settings list exactly those, so the next reload sees the rest
        // as still to add.
        let started = self.start(plans).await;
        let now = self.io.now();
        self.engine.refresh_health(now);
        self.settings.groups = groups
            .into_iter()
            .filter(|g| self.ids.contains_key(&g.name))
            .collect();
        self.refresh_links(&self.settings.groups.clone());
        self.io.apply(&mut self.engine);
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

    /// Gives a running group new settings in place (the plan checked that the core keeps
    /// it running); its hook runner gets the new scripts or VIPs when they changed.
    fn change_in_place(&mut self, now: carpd_proto::Instant, g: GroupSettings, config: VrConfig) {
        let Some(&router) = self.ids.get(&g.name) else {
            return;
        };
        let old = self
            .settings
            .groups
            .iter()
            .find(|o| o.name == g.name)
            .cloned();
        let link = self.link_named(&g.interface).expect("same interface");
        let master = self.engine.state(router) == carpd_proto::State::Master;
        let done = self.engine.reconfigure_group(now, router, &g, config);
        if done == Some(carpd_proto::Reconfigured::Restarted) {
            // The plan and the core share one rule; this would be a bug, and is said.
            tracing::error!(
                "{}the core restarted a group the reload planned to change in place",
                self.tag(&g.name)
            );
        }
        if old.as_ref().map(hook_relevant) != Some(hook_relevant(&g)) {
            let mode = if g.native() {
                VipMode::Native {
                    netlink: self.netlink.clone(),
                    vips: g
                        .vips
                        .iter()
                        .map(|v| (v.address, v.prefix_or_default()))
                        .collect(),
                    ifindex: match &g.vip_interface {
                        None => Arc::clone(&self.io.links[&link].ifindex),
                        Some(name) => self.io.vip_links.index(name),
                    },
                }
            } else {
                VipMode::Scripts {
                    up: g.up_script.clone(),
                    down: g.down_script.clone(),
                }
            };
            let spec = hook_spec(&g, mode, self.tag(&g.name));
            if let Some(r) = self.io.runners.get_mut(&router) {
                if master {
                    r.queued += 1;
                }
                r.runner.respec(spec, master);
            }
        }
        tracing::warn!("{}Settings changed: applied in place", self.tag(&g.name));
    }
}

/// The settings a group's hooks depend on.
fn hook_relevant(g: &GroupSettings) -> impl PartialEq + '_ {
    (
        &g.vips,
        &g.up_script,
        &g.down_script,
        &g.xparam,
        g.hook_timeout,
    )
}

fn hook_spec(g: &GroupSettings, mode: VipMode, tag: String) -> HookSpec {
    HookSpec {
        mode,
        tag,
        interface: g.vip_interface().to_string(),
        vip_typed: g.vips[0].typed.clone(),
        vips: g.vips.iter().map(|v| v.typed.clone()).collect(),
        xparam: g.xparam.clone(),
        vhid: g.vhid,
        timeout: g.hook_timeout,
    }
}
