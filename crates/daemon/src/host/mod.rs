//! The host: every group of this host, with no I/O. The I/O side feeds it one [`Input`] at a
//! time with [`Engine::handle`] and carries out the [`Effect`]s it leaves (frames to send,
//! hooks to run or cancel, systemd status); tests drive it the same way, without sockets.
//!
//! It owns the core's [`Node`] (one router per group, keyed by a stable [`RouterId`]) and,
//! split by what each owns:
//! - [`links`]: the links and whether each group's link can carry adverts;
//! - [`groups`]: each group's runtime (name, link, VIPs, trackers, what the core was told);
//! - [`health`]: trackers, sync groups and VIP interfaces folded into one verdict per group;
//! - [`frames`]: Ethernet framing and the choice of source MAC;
//! - [`pause`]: a pause of the whole machine, which backups do not take for their master's death;
//! - [`vips`]: removed addresses, refused native changes and their retries;
//! - [`vmac`]: a virtual MAC's macvlan kept up only while its group is master;
//! - [`ledger`]: dropped packets, per group, per link, and the throttled log;
//! - [`report`]: the types `carpctl` is shown (status rows, events);
//! - [`show`]: how they are built, systemd's summary, notify's environment, ucarp's log wording;
//! - [`tallies`]: what the metrics count as it happens.
//!
//! Log lines keep ucarp's wording; in config mode each line about a group starts with `[name]`.

mod frames;
mod groups;
mod health;
mod input;
pub mod jobs;
pub mod ledger;
mod links;
mod pause;
pub mod report;
mod show;
pub mod tallies;
pub mod tracker_health;
mod vip_retry;
mod vips;
mod vmac;

#[cfg(test)]
mod tests;

pub use input::{Effect, HookRequest, Input, LinkId};
use report::Event;

use crate::settings::GroupSettings;
use crate::sys::iface::VipLink;
use crate::sys::prefetch::prefetch;
use carpd_proto::{
    Action, Command, DropReason, Instant, Node, Reconfigured, RouterId, State, VrConfig,
};
use groups::Group;
use ledger::Ledger;
use links::LinkState;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use tracker_health::Health;

/// The room the effect list keeps between wake-ups: a busy master's round of adverts.
const EFFECTS_ROOM: usize = 512;

/// Every group of the host and the links they use.
#[derive(Debug)]
pub struct Engine {
    node: Node,
    /// Config mode: log lines about a group start with its name.
    named_logs: bool,
    links: BTreeMap<LinkId, LinkState>,
    /// boxed: the map's nodes stay small and dense with thousands of groups
    groups: BTreeMap<RouterId, Box<Group>>,
    /// packets dropped: per group, per link, and the throttled log
    ledger: Ledger,
    effects: Vec<Effect>,
    health: Health,
    /// what the metrics count as it happens
    tallies: tallies::Tallies,
    /// the VIP interfaces groups use, by name
    vip_links: BTreeMap<String, VipLink>,
    /// the groups with a refused VIP change to try again: the loop's next deadline looks at
    /// these alone, not at every group on every wake-up
    retrying: std::collections::BTreeSet<RouterId>,
}

impl Engine {
    /// An engine with no group; `named_logs` prefixes group log lines with `[name]`.
    pub fn new(named_logs: bool) -> Self {
        Engine {
            node: Node::new(),
            named_logs,
            links: BTreeMap::new(),
            groups: BTreeMap::new(),
            ledger: Ledger::default(),
            effects: Vec::new(),
            health: Health::default(),
            tallies: tallies::Tallies::default(),
            vip_links: BTreeMap::new(),
            retrying: Default::default(),
        }
    }

    /// What the metrics counted as it happened.
    pub fn tallies(&self) -> &tallies::Tallies {
        &self.tallies
    }

    /// The source address a group advertises from.
    pub fn source_of(&self, router: RouterId) -> Option<IpAddr> {
        Some(self.node.router(router)?.config().source)
    }

    /// Starts a group on `link` (INIT to BACKUP, the down hook unless neutral) with the
    /// core's `config`.
    pub fn add_group(
        &mut self,
        now: Instant,
        settings: &GroupSettings,
        config: VrConfig,
        link: LinkId,
        seed: u64,
    ) -> RouterId {
        let router = self.node.add_router(link.0, config, now, seed);
        self.groups
            .insert(router, Box::new(Group::new(settings, link, now)));
        self.refresh_link(now, link);
        self.drain(now);
        self.apply_health(now, router);
        router
    }

    /// Stops a group (a master bows out and gives up its VIPs) and forgets it; its last
    /// effects are left like any others. False if there is no such group.
    pub fn remove_group(&mut self, now: Instant, router: RouterId) -> bool {
        if !self.node.remove_router(now, router) {
            return false;
        }
        self.drain(now);
        self.groups.remove(&router);
        self.retrying.remove(&router);
        self.ledger.forget_group(router);
        // Forget VIP interfaces no group uses any more.
        let groups = &self.groups;
        self.vip_links.retain(|name, _| {
            groups
                .values()
                .any(|g| g.vips_elsewhere() == Some(name.as_str()))
        });
        true
    }

    /// Gives a group new settings on the same link: in place where the protocol allows it
    /// (the group keeps its state and its advert schedule); a new vhid or password restarts
    /// it in the core (bow-out, INIT to BACKUP). The daemon restarts a group that moves to
    /// another interface by removing it and adding it again.
    pub fn reconfigure_group(
        &mut self,
        now: Instant,
        router: RouterId,
        settings: &GroupSettings,
        config: VrConfig,
    ) -> Option<Reconfigured> {
        let old = self.groups.remove(&router)?;
        let mut group = Group::new(settings, old.link, old.since);
        group.link_up = old.link_up;
        group.applied = old.applied;
        self.groups.insert(router, Box::new(group));
        // A new Group has no retry pending.
        self.retrying.remove(&router);
        let done = self.node.reconfigure(now, router, old.link.0, config)?;
        let restarted = done == Reconfigured::Restarted;
        self.emit(router, |group| Event::Changed { group, restarted });
        self.drain(now);
        self.apply_health(now, router);
        Some(done)
    }

    /// The groups named (every group for `None`): drained (`carpctl demote`: a master bows
    /// out, BACKUP until promoted) or promoted back. An unknown name is an error that names
    /// the groups there are.
    pub fn drain_groups(
        &mut self,
        now: Instant,
        name: Option<&str>,
        drain: bool,
    ) -> Result<Vec<String>, String> {
        let routers = self.select(name)?;
        let mut names = Vec::new();
        for router in routers {
            let command = if drain {
                Command::Drain
            } else {
                Command::Resume
            };
            self.emit(router, |group| match drain {
                true => Event::Demote { group },
                false => Event::Promote { group },
            });
            self.node.handle_router_command(now, router, command);
            names.push(self.groups[&router].name.clone());
            let tag = self.tag(router);
            if drain {
                tracing::warn!("{tag}Demoted by the operator: BACKUP until promoted");
            } else {
                tracing::warn!("{tag}Promoted by the operator: taking part in the election again");
            }
            self.drain(now);
        }
        Ok(names)
    }

    /// The group with this name, or every group for `None`.
    fn select(&self, name: Option<&str>) -> Result<Vec<RouterId>, String> {
        let Some(name) = name else {
            return Ok(self.groups.keys().copied().collect());
        };
        match self.groups.iter().find(|(_, g)| g.name == name) {
            Some((router, _)) => Ok(vec![*router]),
            None => Err(format!(
                "no group named \"{name}\": accepted {}",
                self.group_names()
            )),
        }
    }

    fn group_names(&self) -> String {
        if self.groups.is_empty() {
            return "none (no group is configured)".into();
        }
        let names: Vec<String> = self
            .groups
            .values()
            .map(|g| format!("\"{}\"", g.name))
            .collect();
        format!("one of {}", names.join(", "))
    }

    /// The effects left by the last inputs, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The effects left by the last inputs, in order; the list keeps its room for the next
    /// ones (a busy master's wake-up leaves hundreds, and a new list each time costs the
    /// allocator more than the adverts themselves).
    /// A burst (every group's start) gives its room back at the next call.
    pub fn drain_effects(&mut self) -> std::vec::Drain<'_, Effect> {
        if self.effects.capacity() > EFFECTS_ROOM && self.effects.len() <= EFFECTS_ROOM {
            self.effects.shrink_to(EFFECTS_ROOM);
        }
        self.effects.drain(..)
    }

    /// The next deadline: the core's timers, or the drop log's throttle expiring with
    /// drops still unlogged. None when nothing is due, and then the loop sleeps until input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retries = self
            .retrying
            .iter()
            .filter_map(|r| self.groups.get(r)?.vip_retry.next());
        [self.node.poll_timeout(), self.ledger.next_flush()]
            .into_iter()
            .flatten()
            .chain(retries)
            .min()
    }

    /// The state of a group.
    pub fn state(&self, router: RouterId) -> State {
        self.node.router(router).map_or(State::Init, |r| r.state())
    }

    /// Handles one input; [`ControlFlow::Break`] once every group has been told to stop (the
    /// loop then finishes the hooks and exits).
    pub fn handle(&mut self, now: Instant, input: Input) -> ControlFlow<()> {
        let flow = self.dispatch(now, input);
        self.drain(now);
        flow
    }

    /// Hands one input to the part of the host that owns what it is about.
    fn dispatch(&mut self, now: Instant, input: Input) -> ControlFlow<()> {
        match input {
            Input::Stop(signal) => return self.stop(now, signal),
            Input::Hangup => return self.stop(now, "HUP"),
            Input::Status => self.status(),
            Input::Demote => self.node.handle_command(now, Command::Demote),
            Input::Timer => {
                self.node.due_soon(now).for_each(prefetch);
                self.node.handle_timeout(now);
                self.prefetch_ready();
                self.ledger.flush(now);
                self.vip_retries_due(now);
            }
            Input::Stalled(late) => self.stalled(now, late),
            Input::HookDone {
                router,
                job,
                report,
            } => self.hook_finished(now, router, job, report),
            Input::Link {
                link,
                present,
                running,
                mac,
            } => self.link_changed(now, link, present, running, mac),
            Input::AddressRemoved { link, address } => self.link_address_removed(link, address),
            Input::RouteRemoved {
                destination,
                prefix,
                table,
            } => self.route_removed(destination, prefix, table),
            Input::VipAddressRemoved { name, address } => {
                self.address_removed(&name, address, |g| {
                    g.vips_elsewhere() == Some(name.as_str())
                });
            }
            Input::VipLink { name, state } => {
                self.set_vip_link(now, &name, state);
                self.vmac_link_seen(&name, state);
            }
            Input::Packet6 {
                link,
                source,
                destination,
                hop_limit,
                bytes,
            } => {
                self.node
                    .handle_packet_v6(now, link.0, source, destination, hop_limit, &bytes);
                self.drain_from(now, Some(link));
            }
            Input::Frame { link, bytes } => self.frame_received(now, link, &bytes),
            Input::Tracker {
                tracker,
                ok,
                detail,
            } => self.tracker_observed(now, tracker, ok, detail),
        }
        ControlFlow::Continue(())
    }

    /// Starts loading what an advert reads of each group whose timer fired (its link and
    /// virtual MAC, [`Engine::transmit`]): with thousands of groups these are rarely cached,
    /// and loading them together overlaps the waits (see [`crate::sys::prefetch`]).
    fn prefetch_ready(&self) {
        for router in self.node.ready() {
            if let Some(group) = self.groups.get(&router) {
                prefetch(&group.link);
                prefetch(&group.vmac);
            }
        }
    }

    fn stop(&mut self, now: Instant, signal: &str) -> ControlFlow<()> {
        tracing::info!("Received SIG{signal}: leaving");
        self.node.handle_command(now, Command::Stop);
        ControlFlow::Break(())
    }

    /// Turns the core's actions into effects and log lines.
    fn drain(&mut self, now: Instant) {
        self.drain_from(now, None);
    }

    /// [`drain`](Self::drain) after a packet that came on `link`: drops no group claims are
    /// counted on it.
    fn drain_from(&mut self, now: Instant, link: Option<LinkId>) {
        let mut changed = false;
        while let Some(out) = self.node.poll_action() {
            match out.router {
                Some(router) => changed |= self.act(now, router, out.action),
                None => {
                    if let Action::Dropped { reason, source } = out.action {
                        self.unclaimed_drop(now, link, reason, source);
                    }
                }
            }
        }
        if changed {
            self.effects.push(Effect::Status(self.summary()));
        }
    }

    /// Carries out one action of a group's router; true when its state changed.
    fn act(&mut self, now: Instant, router: RouterId, action: Action) -> bool {
        match action {
            Action::Send {
                destination,
                packet,
            } => self.transmit(router, destination, packet),
            Action::Announce { vip } => self.announce(router, vip),
            Action::RunHook { id, kind } => self.effects.push(Effect::Hook {
                router,
                request: HookRequest::Run(jobs::Job::Hook { id, kind }),
            }),
            Action::CancelHook { id } => self.effects.push(Effect::Hook {
                router,
                request: HookRequest::Cancel(id),
            }),
            Action::StateChanged { from, to, reason } => {
                self.state_changed(now, router, from, to, reason);
                return true;
            }
            Action::Dropped { reason, source } => {
                let link = self.groups.get(&router).map(|g| g.link);
                self.ledger.record(now, reason, source, link, Some(router));
            }
            Action::Mismatch {
                source,
                addresses,
                interval_cs,
            } => self.mismatch(now, router, source, addresses, interval_cs),
        }
        false
    }

    /// A drop the core could not give a group: counted on the link it came on, and for
    /// another protocol on the vhid of one of ours, on that group (its status shows it).
    fn unclaimed_drop(
        &mut self,
        now: Instant,
        link: Option<LinkId>,
        reason: DropReason,
        source: Option<IpAddr>,
    ) {
        let group = match reason {
            DropReason::OtherProtocol { vhid, .. } => self
                .groups
                .iter()
                .find(|(_, g)| Some(g.link) == link && g.vhid == vhid)
                .map(|(router, _)| *router),
            _ => None,
        };
        self.ledger.record(now, reason, source, link, group);
    }

    /// Packets dropped so far, by interface name and reason.
    pub fn drops_by_interface(&self) -> Vec<((String, &'static str), u64)> {
        let mut totals: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        for ((link, reason), count) in self.ledger.by_link() {
            let name = self.links.get(link).map_or("?", |l| l.name.as_str());
            *totals.entry((name.to_string(), reason)).or_default() += count;
        }
        totals.into_iter().collect()
    }
}
