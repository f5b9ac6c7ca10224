//! The engine: every group of this host, with no I/O. The driver feeds it one [`Input`] at a
//! time with [`Engine::handle`] and carries out the [`Effect`]s it leaves (frames to send,
//! hooks to run or cancel, systemd status); tests drive it the same way, without sockets.
//!
//! It owns the core's [`Node`] (one router per group, keyed by a stable [`RouterId`]), the
//! state of each link as the core should see it, and each group's runtime (its name, link,
//! VIPs and how they are managed). Log lines keep ucarp's wording; in config mode each line
//! about a group starts with `[name]`.

use crate::drops::DropLog;
use crate::health::{Change, Health, Verdict};
use crate::hooks::Job;
use crate::settings::tracking::{DemoteBy, TrackerSettings};
use crate::settings::GroupSettings;
use crate::sys::iface::VipLink;
use carpd_proto::wire::arp::gratuitous_frame;
use carpd_proto::wire::ethernet::{
    multicast_mac, Frame, BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
};
use carpd_proto::{
    Action, Command, Destination, DropReason, HookId, Instant, Node, Reconfigured, RouterId, State,
    StateChangeReason, VrConfig,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::ControlFlow;

/// A link's key: stable while carpd runs, across re-creation of the kernel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// SIGTERM, SIGINT or SIGQUIT (the name, without SIG): every group leaves, carpd exits.
    Stop(&'static str),
    /// SIGHUP: stop, as ucarp does (command-line mode).
    Hangup,
    /// SIGUSR1: log each group's state.
    Status,
    /// SIGUSR2: every master bows out and stays backup for 3 s (ucarp's demote).
    Demote,
    /// A deadline of the core has come.
    Timer,
    /// A hook job of `router` is over (done, killed, skipped).
    HookDone {
        /// the group
        router: RouterId,
        /// the job
        job: Job,
        /// how it ran, when something ran (for the metrics)
        report: Option<crate::hooks::HookReport>,
    },
    /// What is known of a link now: whether the interface exists, whether it is up with
    /// carrier, and its Ethernet address.
    Link {
        /// the link
        link: LinkId,
        /// the interface exists under its name
        present: bool,
        /// administratively up and with carrier
        running: bool,
        /// its Ethernet address
        mac: [u8; 6],
    },
    /// Someone removed this address from the link.
    AddressRemoved {
        /// the link
        link: LinkId,
        /// the address
        address: IpAddr,
    },
    /// What is known of a VIP interface now (`vip_interface`).
    VipLink {
        /// its name
        name: String,
        /// its state
        state: VipLink,
    },
    /// Someone removed this address from a VIP interface.
    VipAddressRemoved {
        /// the interface's name
        name: String,
        /// the address
        address: IpAddr,
    },
    /// An Ethernet frame arrived on the link.
    Frame {
        /// the link
        link: LinkId,
        /// the whole frame
        bytes: Vec<u8>,
    },
    /// A VRRP packet arrived on the link's IPv6 socket (the IPv6 header taken off).
    Packet6 {
        /// the link
        link: LinkId,
        /// its sender
        source: std::net::Ipv6Addr,
        /// where it was sent
        destination: std::net::Ipv6Addr,
        /// its hop limit on arrival
        hop_limit: u8,
        /// the VRRP packet
        bytes: Vec<u8>,
    },
    /// A tracker's check came back (or its interface or file changed).
    Tracker {
        /// the tracker's name
        tracker: String,
        /// a success (healthy observation)
        ok: bool,
        /// what was seen, for the logs and `carpctl`
        detail: String,
    },
}

/// What a hook runner is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRequest {
    /// queue this job
    Run(Job),
    /// cancel this hook (skip it if queued, kill it if running)
    Cancel(HookId),
}

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this Ethernet frame on the link.
    Transmit {
        /// the link
        link: LinkId,
        /// the whole frame
        frame: Vec<u8>,
        /// its ethertype (the packet socket wants it)
        ethertype: u16,
    },
    /// Send this Ethernet frame on an interface that is no link (a VIP interface).
    TransmitOn {
        /// the interface's kernel index
        index: u32,
        /// the whole frame
        frame: Vec<u8>,
        /// its ethertype
        ethertype: u16,
    },
    /// Send this IPv4 packet (header included) to a unicast peer; the kernel routes it.
    SendIp {
        /// the link whose interface it leaves by
        link: LinkId,
        /// the peer
        to: Ipv4Addr,
        /// the whole IPv4 packet
        packet: Vec<u8>,
    },
    /// Send this VRRP packet over IPv6 from the group's link-local address; the socket
    /// writes the IPv6 header and the checksum.
    SendIp6 {
        /// the link
        link: LinkId,
        /// the group's source address
        from: std::net::Ipv6Addr,
        /// ff02::12 or a unicast peer
        to: std::net::Ipv6Addr,
        /// the VRRP packet
        packet: Vec<u8>,
    },
    /// A request for a group's hook runner.
    Hook {
        /// the group
        router: RouterId,
        /// what to do
        request: HookRequest,
    },
    /// The one-line status for systemd changed.
    Status(String),
    /// Something `carpctl watch` shows.
    Event(Event),
    /// Call a notify script (after the calls before it).
    Notify(crate::notify::Notification),
}

/// The group an event is about, as `carpctl watch` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    /// its name
    pub group: String,
    /// its interface
    pub interface: String,
    /// its vhid
    pub vhid: u8,
}

/// What happened, beyond the event's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// nothing more
    None {},
    /// a state change
    State {
        /// old state
        from: &'static str,
        /// new state
        to: &'static str,
        /// why (see `StateChangeReason::as_str`)
        reason: &'static str,
    },
    /// a group's settings changed
    Changed {
        /// whether it had to restart (bow-out, INIT to BACKUP)
        restarted: bool,
    },
    /// a tracker's health changed
    Tracker {
        /// its name
        tracker: String,
        /// healthy now
        healthy: bool,
        /// the observation that decided it
        detail: String,
    },
    /// a group's demotion changed
    Demotion {
        /// the sum of the weights of its failed trackers
        demotion: u8,
        /// where it goes: `demote` or `advskew`
        demote_by: &'static str,
        /// the demote byte advertised now
        demote: u8,
        /// the advskew advertised now
        advskew: u8,
        /// a VRRPv3 group's priority advertised now (its demotion lowers it)
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
    },
}

/// One event of the ordered stream `carpctl watch` reads, JSON as
/// `{"event": "state", "group": .., "interface": .., "vhid": .., "from": .., "to": .., "reason": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// its kind: `state`, `demote`, `promote`, `changed`, `tracker`, `demotion`
    pub event: &'static str,
    /// the group, for events about one
    #[serde(flatten)]
    pub group: Option<GroupRef>,
    /// the rest
    #[serde(flatten)]
    pub detail: Detail,
}

/// What `carpctl status` shows of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// name, interface and vhid
    pub group: GroupRef,
    /// INIT, BACKUP or MASTER
    pub state: State,
    /// when it entered that state
    pub since: Instant,
    /// its VIPs with their prefixes, as configured
    pub vips: Vec<String>,
    /// advbase in effect
    pub advbase: u8,
    /// advskew in effect (the configured one plus the demotion with `demote_by = "advskew"`)
    pub advskew: u8,
    /// advskew as configured
    pub configured_advskew: u8,
    /// demote counter in effect
    pub demote: u8,
    /// drained by the operator (`carpctl demote`)
    pub drained: bool,
    /// in FAULT, or held there at start
    pub fault: bool,
    /// the sum of the weights of its failed trackers
    pub demotion: u8,
    /// where the demotion goes
    pub demote_by: DemoteBy,
    /// its trackers: name, healthy, weight
    pub track: Vec<(String, bool, u8)>,
    /// its sync group
    pub sync: Option<String>,
    /// why it is in FAULT (failed trackers, members of its sync group without link)
    pub fault_causes: Vec<String>,
    /// the current master's address, when known
    pub master: Option<IpAddr>,
    /// `carp` or `vrrp3`
    pub protocol: &'static str,
    /// a VRRPv3 group's values
    pub vrrp3: Option<Vrrp3Status>,
    /// unicast peers (empty: multicast)
    pub peers: Vec<IpAddr>,
    /// whether listed peers' adverts must carry TTL 255
    pub unicast_ttl_check: bool,
    /// the core's counters
    pub stats: carpd_proto::RouterStats,
    /// packets dropped for this group, by kind
    pub drops: BTreeMap<&'static str, u64>,
    /// the interface its VIPs are added to (`vip_interface`, else its own)
    pub vip_interface: String,
}

/// What `carpctl status` shows of a VRRPv3 group beside what every group has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrrp3Status {
    /// the priority advertised and compared (the configured one lowered by the demotion)
    pub priority: u8,
    /// the priority as configured
    pub configured_priority: u8,
    /// our advert interval in centiseconds
    pub advert_interval_cs: u16,
    /// the interval the master advertises, once one was heard
    pub master_advert_interval: Option<std::time::Duration>,
    /// the IPv4 checksum variant sent
    pub v3_checksum: &'static str,
    /// the IPv4 checksum variant of the last advert heard
    pub peer_v3_checksum: Option<&'static str>,
    /// RFC 9568 Accept_Mode as configured
    pub accept_mode: bool,
}

/// Where an announcement leaves: the group's link, or its VIP interface by kernel index.
enum AnnounceOn {
    Link(LinkId),
    Index(u32),
}

#[derive(Debug)]
struct LinkState {
    name: String,
    mac: [u8; 6],
    present: bool,
    running: bool,
}

#[derive(Debug)]
struct Group {
    name: String,
    link: LinkId,
    vhid: u8,
    vips: Vec<IpAddr>,
    /// the VIPs as `carpctl status` shows them (address/prefix)
    vips_shown: Vec<String>,
    native: bool,
    ignore_ifstate: bool,
    /// What the core was last told about the link, for this group.
    link_up: bool,
    /// when the group entered its state
    since: Instant,
    /// packets dropped for this group, by kind
    drops: BTreeMap<&'static str, u64>,
    /// the trackers it depends on
    track: Vec<String>,
    /// where their weights go
    demote_by: DemoteBy,
    /// its sync group
    sync: Option<String>,
    /// its notify script and the hook timeout that bounds it
    notify: Option<(Vec<String>, std::time::Duration)>,
    /// `CARPD_VIPS` for the notify script
    vips_typed: String,
    /// What the core was last told: fault, demote byte, skew demotion.
    applied: (bool, u8, u8),
    /// where its VIPs go when not on its link
    vip_interface: Option<String>,
    /// native mode: VIP changes the kernel refused, and when to try again
    vip_retry: crate::vip_retry::VipRetry,
    /// when a disagreeing advert was last logged
    mismatch_logged_at: Option<Instant>,
    /// disagreeing adverts since then
    mismatches_unlogged: u64,
}

impl Group {
    fn new(settings: &GroupSettings, link: LinkId, now: Instant) -> Group {
        Group {
            name: settings.name.clone(),
            link,
            vhid: settings.vhid,
            vips: settings.vips.iter().map(|v| v.address).collect(),
            vips_shown: settings
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix_or_default()))
                .collect(),
            native: settings.native(),
            ignore_ifstate: settings.ignore_ifstate,
            link_up: true,
            since: now,
            drops: BTreeMap::new(),
            track: settings.track.clone(),
            demote_by: settings.demote_by,
            sync: settings.sync.clone(),
            notify: settings
                .notify_script
                .clone()
                .map(|argv| (argv, settings.hook_timeout)),
            vips_typed: settings
                .vips
                .iter()
                .map(|v| v.typed.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            applied: (false, 0, 0),
            vip_interface: settings.vip_interface.clone(),
            vip_retry: Default::default(),
            mismatch_logged_at: None,
            mismatches_unlogged: 0,
        }
    }
}

/// How often disagreeing adverts of one group are logged at most.
const MISMATCH_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Every group of the host and the links they use.
#[derive(Debug)]
pub struct Engine {
    node: Node,
    /// Config mode: log lines about a group start with its name.
    named_logs: bool,
    links: BTreeMap<LinkId, LinkState>,
    groups: BTreeMap<RouterId, Group>,
    drops: DropLog,
    effects: Vec<Effect>,
    send_errors: u64,
    health: Health,
    /// what the metrics count as it happens
    tallies: crate::metrics::Tallies,
    /// packets dropped, by link and reason
    drops_by_link: BTreeMap<(LinkId, &'static str), u64>,
    /// the link of the frame being handled, for drops that no group claims
    frame_link: Option<LinkId>,
    /// the VIP interfaces groups use, by name
    vip_links: BTreeMap<String, VipLink>,
}

impl Engine {
    /// An engine with no group; `named_logs` prefixes group log lines with `[name]`.
    pub fn new(named_logs: bool) -> Self {
        Engine {
            node: Node::new(),
            named_logs,
            links: BTreeMap::new(),
            groups: BTreeMap::new(),
            drops: DropLog::default(),
            effects: Vec::new(),
            send_errors: 0,
            health: Health::default(),
            tallies: crate::metrics::Tallies::default(),
            drops_by_link: BTreeMap::new(),
            frame_link: None,
            vip_links: BTreeMap::new(),
        }
    }

    /// What the metrics counted as it happened.
    pub fn tallies(&self) -> &crate::metrics::Tallies {
        &self.tallies
    }

    /// Packets dropped so far, by interface name and reason.
    pub fn drops_by_interface(&self) -> Vec<((String, &'static str), u64)> {
        let mut totals: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        for ((link, reason), count) in &self.drops_by_link {
            let name = self.links.get(link).map_or("?", |l| l.name.as_str());
            *totals.entry((name.to_string(), reason)).or_default() += count;
        }
        totals.into_iter().collect()
    }

    fn count_drop(&mut self, link: Option<LinkId>, reason: DropReason) {
        if let Some(link) = link {
            *self.drops_by_link.entry((link, reason.kind())).or_default() += 1;
        }
    }

    /// Takes the trackers of new settings (before the groups that track them are added or
    /// changed): kept trackers keep their health, new ones are failed until first observed.
    /// Call [`Engine::refresh_health`] once the groups have their new settings.
    pub fn set_trackers(&mut self, now: Instant, trackers: &[TrackerSettings]) {
        for change in self.health.define(now, trackers) {
            self.tracker_event(change);
        }
    }

    /// Every group gets what its trackers add up to now (after a reload changed weights).
    pub fn refresh_health(&mut self, now: Instant) {
        let routers: Vec<RouterId> = self.groups.keys().copied().collect();
        for router in routers {
            self.apply_health(now, router);
        }
    }

    /// What the trackers are now: name and health, by name.
    pub fn trackers(&self) -> impl Iterator<Item = (&String, &crate::health::TrackerHealth)> {
        self.health.all()
    }

    fn tracker_event(&mut self, change: Change) {
        self.effects.push(Effect::Event(Event {
            event: "tracker",
            group: None,
            detail: Detail::Tracker {
                tracker: change.tracker,
                healthy: change.healthy,
                detail: change.detail,
            },
        }));
    }

    fn tracker_observed(&mut self, now: Instant, tracker: String, ok: bool, detail: String) {
        let Some(change) = self.health.observe(now, &tracker, ok, detail) else {
            return;
        };
        if change.healthy {
            tracing::warn!("Tracker {tracker} is healthy: {}", change.detail);
        } else {
            tracing::warn!("Tracker {tracker} failed: {}", change.detail);
        }
        self.tracker_event(change);
        // Through sync groups a tracker reaches groups that do not list it: every group is
        // looked at (nothing changes for those it does not reach).
        self.refresh_health(now);
    }

    /// What a group's trackers add up to, with its sync group's: the union of the members'
    /// trackers, and a member whose link is down faults every member.
    fn verdict_of(&self, router: RouterId) -> Verdict {
        let Some(group) = self.groups.get(&router) else {
            return Verdict::default();
        };
        let Some(sync) = &group.sync else {
            let mut verdict = self.health.verdict(&group.track);
            verdict.faulted_by.extend(self.vip_link_fault(group));
            verdict
                .faulted_by
                .extend(group.vip_retry.fault().map(str::to_string));
            return verdict;
        };
        let members: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.sync.as_ref() == Some(sync))
            .collect();
        let mut track: Vec<String> = Vec::new();
        for name in members.iter().flat_map(|g| &g.track) {
            if !track.contains(name) {
                track.push(name.clone());
            }
        }
        let mut verdict = self.health.verdict(&track);
        for member in &members {
            let causes = self
                .vip_link_fault(member)
                .into_iter()
                .chain(member.vip_retry.fault().map(str::to_string));
            for cause in causes {
                verdict.faulted_by.push(format!(
                    "{cause} (sync group \"{sync}\" member \"{}\")",
                    member.name
                ));
            }
        }
        for member in members.iter().filter(|m| !m.link_up) {
            let interface = self
                .links
                .get(&member.link)
                .map_or("?", |l| l.name.as_str());
            verdict.faulted_by.push(format!(
                "{interface} of sync group \"{sync}\" member \"{}\" is down",
                member.name
            ));
        }
        verdict
    }

    /// Why the group's VIP interface cannot hold its VIPs now, if it cannot: it does not
    /// exist (yet), or it is down (the kernel routes to no address of a down interface).
    fn vip_link_fault(&self, group: &Group) -> Option<String> {
        let name = group.vip_interface.as_ref()?;
        match self.vip_links.get(name) {
            Some(l) if l.present && l.running => None,
            Some(l) if l.present => Some(format!("vip_interface {name} is down")),
            _ => Some(format!("vip_interface {name} does not exist")),
        }
    }

    /// Records what a VIP interface is now; the groups that use it leave or enter FAULT.
    pub fn set_vip_link(&mut self, now: Instant, name: &str, state: VipLink) {
        if self.vip_links.get(name) == Some(&state) {
            return;
        }
        let before = self.vip_links.insert(name.to_string(), state);
        if before.is_some_and(|b| b.present && !state.present) {
            tracing::warn!("VIP interface {name} was removed");
        } else if before.is_some_and(|b| !b.present && state.present) {
            tracing::warn!("VIP interface {name} exists (index {})", state.index);
        }
        self.refresh_health(now);
    }

    /// Tells the core what the group's trackers add up to, when that changed: FAULT, and the
    /// demotion on the demote byte or on advskew. Its actions are drained right away, so
    /// that the events of one group come out before those of the next.
    fn apply_health(&mut self, now: Instant, router: RouterId) {
        let tag = self.tag(router);
        let verdict = self.verdict_of(router);
        let Some(group) = self.groups.get_mut(&router) else {
            return;
        };
        let fault = !verdict.faulted_by.is_empty();
        let (demote, skew) = match group.demote_by {
            DemoteBy::Demote => (verdict.demotion, 0),
            DemoteBy::Advskew => (0, verdict.demotion),
        };
        let (was_fault, was_demote, was_skew) = group.applied;
        group.applied = (fault, demote, skew);
        let demote_by = group.demote_by;
        if fault && !was_fault {
            let master = self.node.router(router).map(|r| r.state()) == Some(State::Master);
            tracing::warn!(
                "{tag}FAULT ({}): {}not competing until that is over",
                verdict.faulted_by.join("; "),
                if master { "bowing out, " } else { "" }
            );
        } else if !fault && was_fault {
            tracing::warn!(
                "{tag}Fault over (trackers healthy, sync group links up, VIP interface usable): leaving FAULT"
            );
        }
        if fault != was_fault {
            self.node
                .handle_router_command(now, router, Command::SetFault(fault));
            self.drain(now);
        }
        if (demote, skew) != (was_demote, was_skew) {
            self.node
                .handle_router_command(now, router, Command::SetDemote(demote));
            self.node
                .handle_router_command(now, router, Command::SetSkewDemotion(skew));
            let Some(vr) = self.node.router(router) else {
                return;
            };
            let (demote, advskew) = (vr.demote(), vr.advskew());
            let priority = vr.config().vrrp3.map(|_| vr.priority());
            match priority {
                Some(priority) => tracing::warn!(
                    "{tag}Demotion {} (failed trackers' weights): advertising priority {priority}",
                    verdict.demotion
                ),
                None => tracing::warn!(
                    "{tag}Demotion {} (failed trackers' weights): advertising demote {demote}, advskew {advskew}",
                    verdict.demotion
                ),
            }
            let event = self.event(
                router,
                "demotion",
                Detail::Demotion {
                    demotion: verdict.demotion,
                    demote_by: demote_by.as_str(),
                    demote,
                    advskew,
                    priority,
                },
            );
            self.effects.push(Effect::Event(event));
        }
        self.drain(now);
    }

    /// Adds a link, up or not as `running` says.
    pub fn add_link(&mut self, id: LinkId, name: &str, mac: [u8; 6], running: bool) {
        self.links.insert(
            id,
            LinkState {
                name: name.to_string(),
                mac,
                present: true,
                running,
            },
        );
    }

    /// Forgets a link no group uses any more.
    pub fn remove_link(&mut self, id: LinkId) {
        self.links.remove(&id);
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
        self.groups.insert(router, Group::new(settings, link, now));
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
        // Forget VIP interfaces no group uses any more.
        let groups = &self.groups;
        self.vip_links.retain(|name, _| {
            groups
                .values()
                .any(|g| g.vip_interface.as_ref() == Some(name))
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
        group.drops = old.drops;
        group.link_up = old.link_up;
        group.applied = old.applied;
        self.groups.insert(router, group);
        let done = self.node.reconfigure(now, router, old.link.0, config)?;
        let restarted = done == Reconfigured::Restarted;
        let event = self.event(router, "changed", Detail::Changed { restarted });
        self.effects.push(Effect::Event(event));
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
            let event = self.event(
                router,
                if drain { "demote" } else { "promote" },
                Detail::None {},
            );
            self.effects.push(Effect::Event(event));
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

    /// What `carpctl status` shows of the groups named (every group for `None`).
    pub fn group_status(&self, name: Option<&str>) -> Result<Vec<GroupStatus>, String> {
        let routers = self.select(name)?;
        Ok(routers
            .into_iter()
            .filter_map(|router| {
                let group = self.groups.get(&router)?;
                let vr = self.node.router(router)?;
                let verdict = self.verdict_of(router);
                let track = group
                    .track
                    .iter()
                    .map(|name| {
                        let t = self.health.get(name);
                        (
                            name.clone(),
                            t.is_some_and(|t| t.healthy),
                            t.map_or(0, |t| t.weight),
                        )
                    })
                    .collect();
                Some(GroupStatus {
                    group: self.group_ref(router)?,
                    state: vr.state(),
                    since: group.since,
                    vips: group.vips_shown.clone(),
                    advbase: vr.config().advbase,
                    advskew: vr.advskew(),
                    configured_advskew: vr.config().advskew,
                    demote: vr.demote(),
                    drained: vr.is_drained(),
                    fault: vr.is_faulted(),
                    demotion: verdict.demotion,
                    demote_by: group.demote_by,
                    track,
                    sync: group.sync.clone(),
                    fault_causes: verdict.faulted_by,
                    master: vr.master(),
                    protocol: vr.config().protocol_name(),
                    vrrp3: vr.config().vrrp3.map(|p| Vrrp3Status {
                        priority: vr.priority(),
                        configured_priority: p.priority,
                        advert_interval_cs: p.interval_cs,
                        master_advert_interval: vr.master_interval(),
                        v3_checksum: p.checksum.as_str(),
                        peer_v3_checksum: vr.peer_checksum().map(|c| c.as_str()),
                        accept_mode: p.accept_mode,
                    }),
                    peers: vr.config().peers.clone(),
                    unicast_ttl_check: vr.config().unicast_ttl_check,
                    stats: vr.stats(),
                    drops: group.drops.clone(),
                    vip_interface: self.vip_interface_of(group).unwrap_or("?").to_string(),
                })
            })
            .collect())
    }

    fn group_ref(&self, router: RouterId) -> Option<GroupRef> {
        let group = self.groups.get(&router)?;
        Some(GroupRef {
            group: group.name.clone(),
            interface: self.links.get(&group.link)?.name.clone(),
            vhid: group.vhid,
        })
    }

    fn event(&self, router: RouterId, event: &'static str, detail: Detail) -> Event {
        Event {
            event,
            group: self.group_ref(router),
            detail,
        }
    }

    /// The effects left by the last inputs, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The next deadline: the core's timers, or the drop log's throttle expiring with
    /// drops still unlogged. None when nothing is due, and then the loop sleeps until input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retries = self.groups.values().filter_map(|g| g.vip_retry.next());
        [self.node.poll_timeout(), self.drops.next_flush()]
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
        let flow = match input {
            Input::Stop(signal) => self.stop(now, signal),
            Input::Hangup => self.stop(now, "HUP"),
            Input::Status => {
                self.status();
                ControlFlow::Continue(())
            }
            Input::Demote => {
                self.node.handle_command(now, Command::Demote);
                ControlFlow::Continue(())
            }
            Input::Timer => {
                self.node.handle_timeout(now);
                self.drops.flush(now);
                self.vip_retries_due(now);
                ControlFlow::Continue(())
            }
            Input::HookDone {
                router,
                job,
                report,
            } => {
                if let Some(report) = report {
                    if let Some(group) = self.groups.get(&router) {
                        self.tallies.hook(&group.name, &report);
                    }
                    self.native_change_done(now, router, job, &report);
                }
                self.hook_done(now, router, job);
                ControlFlow::Continue(())
            }
            Input::Link {
                link,
                present,
                running,
                mac,
            } => {
                if let Some(l) = self.links.get_mut(&link) {
                    if l.present && present && mac != l.mac {
                        tracing::warn!(
                            "{} has a new Ethernet address [{}]",
                            l.name,
                            crate::sys::iface::format_mac(&mac)
                        );
                    }
                    l.mac = mac;
                    l.present = present;
                    l.running = running;
                }
                self.refresh_link(now, link);
                ControlFlow::Continue(())
            }
            Input::AddressRemoved { link, address } => {
                // Only groups whose VIPs are on their link: a VIP interface has its own input.
                let name = self
                    .links
                    .get(&link)
                    .map_or("?", |l| l.name.as_str())
                    .to_string();
                self.address_removed(&name, address, |g| {
                    g.link == link && g.vip_interface.is_none()
                });
                ControlFlow::Continue(())
            }
            Input::VipAddressRemoved { name, address } => {
                self.address_removed(&name, address, |g| {
                    g.vip_interface.as_deref() == Some(name.as_str())
                });
                ControlFlow::Continue(())
            }
            Input::VipLink { name, state } => {
                self.set_vip_link(now, &name, state);
                ControlFlow::Continue(())
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
                self.frame_link = Some(link);
                self.drain(now);
                self.frame_link = None;
                ControlFlow::Continue(())
            }
            Input::Frame { link, bytes } => {
                match Frame::parse(&bytes) {
                    Ok(frame) if frame.ethertype == ETHERTYPE_IPV4 => {
                        self.node.handle_packet(now, link.0, frame.payload);
                        // Its drops are counted on this link.
                        self.frame_link = Some(link);
                        self.drain(now);
                        self.frame_link = None;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.count_drop(Some(link), DropReason::Malformed(e));
                        self.drops.record(now, DropReason::Malformed(e), None)
                    }
                }
                ControlFlow::Continue(())
            }
            Input::Tracker {
                tracker,
                ok,
                detail,
            } => {
                self.tracker_observed(now, tracker, ok, detail);
                ControlFlow::Continue(())
            }
        };
        self.drain(now);
        flow
    }

    /// `[name] ` in config mode, nothing in command-line mode (ucarp's exact lines).
    fn tag(&self, router: RouterId) -> String {
        match self.groups.get(&router) {
            Some(g) if self.named_logs => format!("[{}] ", g.name),
            _ => String::new(),
        }
    }

    fn stop(&mut self, now: Instant, signal: &str) -> ControlFlow<()> {
        tracing::info!("Received SIG{signal}: leaving");
        self.node.handle_command(now, Command::Stop);
        ControlFlow::Break(())
    }

    /// ucarp's SIGUSR1 line for one group, e.g. "MASTER on eth0 id 7".
    fn status_line(&self, router: RouterId, group: &Group) -> String {
        let interface = self.links.get(&group.link).map_or("?", |l| l.name.as_str());
        format!(
            "{}{} on {interface} id {}",
            self.tag(router),
            self.state(router).as_str(),
            group.vhid
        )
    }

    /// The one line systemd shows: the group's ucarp status line, or counts per state.
    pub fn summary(&self) -> String {
        if !self.named_logs {
            if let Some((router, group)) = self.groups.iter().next() {
                return self.status_line(*router, group);
            }
        }
        let count = |s: State| self.groups.keys().filter(|r| self.state(**r) == s).count();
        let mut line = format!(
            "{} group{}: {} MASTER, {} BACKUP",
            self.groups.len(),
            if self.groups.len() == 1 { "" } else { "s" },
            count(State::Master),
            count(State::Backup)
        );
        let faults = count(State::Fault);
        if faults > 0 {
            line.push_str(&format!(", {faults} FAULT"));
        }
        line
    }

    fn status(&self) {
        for (router, group) in &self.groups {
            tracing::info!("{}", self.status_line(*router, group));
        }
        for (kind, total) in self.drops.totals() {
            tracing::info!("dropped {kind}: {total}");
        }
    }

    /// Tells the core, group by group, whether the link can carry adverts (a group with
    /// ignore_ifstate ignores the carrier and the admin state, not the interface's absence).
    fn refresh_link(&mut self, now: Instant, link: LinkId) {
        let Some(state) = self.links.get(&link) else {
            return;
        };
        let (present, running, name) = (state.present, state.running, state.name.clone());
        let routers: Vec<RouterId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.link == link)
            .map(|(r, _)| *r)
            .collect();
        let mut synced = false;
        for router in routers {
            let tag = self.tag(router);
            let group = self.groups.get_mut(&router).expect("listed above");
            let up = present && (running || group.ignore_ifstate);
            if up == group.link_up {
                continue;
            }
            group.link_up = up;
            if up {
                tracing::warn!("{tag}Link up on {name}: taking part in the election again");
            } else {
                tracing::warn!("{tag}Link down on {name}: BACKUP until it is back");
            }
            self.node.handle_router_link(now, router, up);
            synced |= self.groups[&router].sync.is_some();
        }
        // A member's link faults its whole sync group.
        if synced {
            self.drain(now);
            self.refresh_health(now);
        }
    }

    /// The interface a group's VIPs are on: its `vip_interface`, else its link's.
    fn vip_interface_of<'a>(&'a self, group: &'a Group) -> Option<&'a str> {
        match &group.vip_interface {
            Some(name) => Some(name),
            None => self.links.get(&group.link).map(|l| l.name.as_str()),
        }
    }

    /// `address` was removed from interface `name`, where the groups `holds_vips_there` keep
    /// their VIPs: a master whose VIP it was puts it back (native mode) or says so (scripts).
    fn address_removed(
        &mut self,
        name: &str,
        address: IpAddr,
        holds_vips_there: impl Fn(&Group) -> bool,
    ) {
        let found = self.groups.iter().find(|(r, g)| {
            holds_vips_there(g) && g.vips.contains(&address) && self.state(**r) == State::Master
        });
        let Some((router, group)) = found else {
            return;
        };
        let (router, native) = (*router, group.native);
        let tag = self.tag(router);
        if native {
            tracing::warn!(
                "{tag}Virtual IP {address} was removed from {name} while MASTER: putting it back"
            );
            self.effects.push(Effect::Hook {
                router,
                request: HookRequest::Run(Job::Restore),
            });
        } else {
            tracing::warn!(
                "{tag}Virtual IP {address} was removed from {name} while MASTER (the scripts manage it)"
            );
        }
    }

    /// How a native VIP change went: an add the kernel refused faults the group (it bows out
    /// and the peer takes over) until a retry; a refused removal is tried again later.
    fn native_change_done(
        &mut self,
        now: Instant,
        router: RouterId,
        job: Job,
        report: &crate::hooks::HookReport,
    ) {
        let tag = self.tag(router);
        let Some(group) = self.groups.get_mut(&router).filter(|g| g.native) else {
            return;
        };
        if matches!(job, Job::Reconcile) {
            return;
        }
        let failed = report.result == crate::hooks::HookResult::Failed;
        let error = report.error.as_deref().unwrap_or("unknown error");
        match (job.adds(), failed) {
            (true, true) => {
                let wait = group.vip_retry.add_failed(now, error);
                tracing::error!(
                    "{tag}Cannot add the virtual IPs ({error}): FAULT, so that a peer serves them; trying again in {}",
                    humantime::format_duration(wait)
                );
                self.apply_health(now, router);
            }
            (true, false) => group.vip_retry.add_succeeded(),
            (false, true) => {
                let wait = group.vip_retry.release_failed(now);
                tracing::error!(
                    "{tag}Cannot remove the virtual IPs ({error}): trying again in {}",
                    humantime::format_duration(wait)
                );
            }
            (false, false) => group.vip_retry.release_succeeded(),
        }
    }

    /// Retries of refused VIP changes that fell due: a lifted add fault lets the group compete
    /// again; a removal is tried again unless the group is MASTER again by now.
    fn vip_retries_due(&mut self, now: Instant) {
        let routers: Vec<RouterId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.vip_retry.next().is_some_and(|t| t <= now))
            .map(|(r, _)| *r)
            .collect();
        for router in routers {
            let master = self.state(router) == State::Master;
            let tag = self.tag(router);
            let Some(group) = self.groups.get_mut(&router) else {
                continue;
            };
            let due = group.vip_retry.take_due(now);
            if due.release && !master {
                tracing::warn!("{tag}Trying again to remove the virtual IPs");
                self.effects.push(Effect::Hook {
                    router,
                    request: HookRequest::Run(Job::Release),
                });
            }
            if due.fault_lifted {
                tracing::warn!("{tag}Trying again to add the virtual IPs: the fault is lifted");
                self.apply_health(now, router);
            }
        }
    }

    fn hook_done(&mut self, now: Instant, router: RouterId, job: Job) {
        match job {
            Job::Hook { id, .. } => self.node.handle_hook_done(now, router, id),
            Job::Release => {}
            Job::Restore | Job::Reconcile => {
                if self.state(router) == State::Master {
                    let vips = self
                        .groups
                        .get(&router)
                        .map(|g| g.vips.clone())
                        .unwrap_or_default();
                    for vip in vips {
                        self.announce(router, vip);
                    }
                }
            }
        }
    }

    fn link_of(&self, router: RouterId) -> Option<(LinkId, [u8; 6])> {
        let link = self.groups.get(&router)?.link;
        Some((link, self.links.get(&link)?.mac))
    }

    /// Tells the LAN where `vip` is now: a gratuitous ARP or an unsolicited NA from the
    /// interface that holds it. A VIP interface that does no ARP (`lo`, a dummy) gets none:
    /// there the host's routing daemon announces the address.
    fn announce(&mut self, router: RouterId, vip: IpAddr) {
        let Some(group) = self.groups.get(&router) else {
            return;
        };
        let (mac, on) = match &group.vip_interface {
            None => {
                let Some((link, mac)) = self.link_of(router) else {
                    return;
                };
                (mac, AnnounceOn::Link(link))
            }
            Some(name) => {
                let state = self.vip_links.get(name).copied().unwrap_or_default();
                let Some(mac) = state.announce_from.filter(|_| state.present) else {
                    tracing::debug!("{vip} is on {name}, which does no ARP: nothing to announce");
                    return;
                };
                (mac, AnnounceOn::Index(state.index))
            }
        };
        let (frame, ethertype) = match vip {
            IpAddr::V4(vip) => {
                tracing::debug!("Sending gratuitous ARP for {vip}");
                (gratuitous_frame(mac, vip).to_vec(), ETHERTYPE_ARP)
            }
            IpAddr::V6(vip) => {
                tracing::debug!("Sending unsolicited neighbor advertisement for {vip}");
                (
                    carpd_proto::wire::ndp::unsolicited_na_frame(mac, vip),
                    ETHERTYPE_IPV6,
                )
            }
        };
        self.effects.push(match on {
            AnnounceOn::Link(link) => Effect::Transmit {
                link,
                frame,
                ethertype,
            },
            AnnounceOn::Index(index) => Effect::TransmitOn {
                index,
                frame,
                ethertype,
            },
        });
    }

    fn transmit(&mut self, router: RouterId, destination: Destination, packet: Vec<u8>) {
        let Some((link, mac)) = self.link_of(router) else {
            return;
        };
        let link_destination = match destination {
            Destination::Multicast(IpAddr::V4(group)) => multicast_mac(group),
            Destination::Broadcast => BROADCAST,
            Destination::Unicast(IpAddr::V4(to)) => {
                self.effects.push(Effect::SendIp { link, to, packet });
                return;
            }
            Destination::Multicast(IpAddr::V6(to)) | Destination::Unicast(IpAddr::V6(to)) => {
                // VRRPv3 over IPv6: the socket writes the header, from the group's source.
                let from = self.node.router(router).map(|r| r.config().source);
                if let Some(IpAddr::V6(from)) = from {
                    self.effects.push(Effect::SendIp6 {
                        link,
                        from,
                        to,
                        packet,
                    });
                }
                return;
            }
        };
        let ethertype = ETHERTYPE_IPV4;
        let frame = Frame {
            destination: link_destination,
            source: mac,
            ethertype,
            payload: &packet,
        }
        .emit();
        self.effects.push(Effect::Transmit {
            link,
            frame,
            ethertype,
        });
    }

    /// Turns the core's actions into effects and log lines.
    fn drain(&mut self, now: Instant) {
        let mut changed = false;
        while let Some(out) = self.node.poll_action() {
            let Some(router) = out.router else {
                if let Action::Dropped { reason, source } = out.action {
                    // Another protocol on the vhid of one of ours: the group's status shows it.
                    if let DropReason::OtherProtocol { vhid, .. } = reason {
                        let link = self.frame_link;
                        if let Some(group) = self
                            .groups
                            .values_mut()
                            .find(|g| Some(g.link) == link && g.vhid == vhid)
                        {
                            *group.drops.entry(reason.kind()).or_default() += 1;
                        }
                    }
                    self.count_drop(self.frame_link, reason);
                    self.drops.record(now, reason, source);
                }
                continue;
            };
            match out.action {
                Action::Send {
                    destination,
                    packet,
                } => self.transmit(router, destination, packet),
                Action::Announce { vip } => self.announce(router, vip),
                Action::RunHook { id, kind } => self.effects.push(Effect::Hook {
                    router,
                    request: HookRequest::Run(Job::Hook { id, kind }),
                }),
                Action::CancelHook { id } => self.effects.push(Effect::Hook {
                    router,
                    request: HookRequest::Cancel(id),
                }),
                Action::StateChanged { from, to, reason } => {
                    log_state_change(&self.tag(router), to, reason);
                    if let Some(group) = self.groups.get_mut(&router) {
                        group.since = now;
                    }
                    let detail = Detail::State {
                        from: from.as_str(),
                        to: to.as_str(),
                        reason: reason.as_str(),
                    };
                    let event = self.event(router, "state", detail);
                    if let Some(at) = &event.group {
                        self.tallies.transition(
                            &crate::metrics::GroupLabels {
                                group: at.group.clone(),
                                interface: at.interface.clone(),
                                vhid: at.vhid,
                            },
                            to.as_str(),
                        );
                    }
                    self.effects.push(Effect::Event(event));
                    self.notify(router, from, to, reason);
                    changed = true;
                }
                Action::Dropped { reason, source } => {
                    if let Some(group) = self.groups.get_mut(&router) {
                        *group.drops.entry(reason.kind()).or_default() += 1;
                    }
                    let link = self.groups.get(&router).map(|g| g.link);
                    self.count_drop(link, reason);
                    self.drops.record(now, reason, source)
                }
                Action::Mismatch {
                    source,
                    addresses,
                    interval_cs,
                } => self.mismatch(now, router, source, addresses, interval_cs),
            }
        }
        if changed {
            self.effects.push(Effect::Status(self.summary()));
        }
    }

    /// An advert that disagrees with the group (the core counted it): logged at once, then at
    /// most once a minute with how many came meanwhile.
    fn mismatch(
        &mut self,
        now: Instant,
        router: RouterId,
        source: IpAddr,
        addresses: Option<Vec<IpAddr>>,
        interval_cs: Option<u16>,
    ) {
        let tag = self.tag(router);
        let ours_interval = self
            .node
            .router(router)
            .and_then(|r| r.config().vrrp3)
            .map(|p| p.interval_cs);
        let Some(group) = self.groups.get_mut(&router) else {
            return;
        };
        group.mismatches_unlogged += 1;
        if group
            .mismatch_logged_at
            .is_some_and(|at| now < at + MISMATCH_LOG_EVERY)
        {
            return;
        }
        let list = |a: &[IpAddr]| {
            a.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut what = Vec::new();
        if let Some(theirs) = &addresses {
            what.push(format!(
                "addresses [{}] where this group has [{}]",
                list(theirs),
                list(&group.vips)
            ));
        }
        if let (Some(theirs), Some(ours)) = (interval_cs, ours_interval) {
            what.push(format!(
                "interval {:.2} s where this group has {:.2} s",
                f64::from(theirs) / 100.0,
                f64::from(ours) / 100.0
            ));
        }
        tracing::warn!(
            "{tag}Advert from {source} disagrees with this group: {} ({} such adverts since the last report). carpd uses it as RFC 9568 asks; keepalived drops it, so a keepalived peer may not hear this host: give every member the same addresses and interval",
            what.join("; "),
            group.mismatches_unlogged
        );
        group.mismatches_unlogged = 0;
        group.mismatch_logged_at = Some(now);
    }

    /// A call of the group's notify script for this change, in order after the event.
    fn notify(&mut self, router: RouterId, from: State, to: State, reason: StateChangeReason) {
        let tag = self.tag(router);
        let (Some(group), Some(at)) = (self.groups.get(&router), self.group_ref(router)) else {
            return;
        };
        let Some((argv, timeout)) = &group.notify else {
            return;
        };
        self.effects
            .push(Effect::Notify(crate::notify::Notification {
                argv: argv.clone(),
                env: vec![
                    ("CARPD_GROUP", at.group),
                    ("CARPD_INTERFACE", at.interface),
                    ("CARPD_VHID", at.vhid.to_string()),
                    ("CARPD_STATE", to.as_str().to_string()),
                    ("CARPD_FROM", from.as_str().to_string()),
                    ("CARPD_REASON", reason.as_str().to_string()),
                    ("CARPD_VIPS", group.vips_typed.clone()),
                ],
                timeout: *timeout,
                tag,
            }));
    }

    /// Counts a failed send; ucarp's wording, repeated failures logged once per 100.
    pub fn send_failed(&mut self, error: &std::io::Error) {
        self.send_errors += 1;
        if self.send_errors == 1 || self.send_errors.is_multiple_of(100) {
            tracing::warn!(
                "write() has failed: {error} ({} in a row)",
                self.send_errors
            );
        }
    }

    /// A send went through.
    pub fn send_succeeded(&mut self) {
        self.send_errors = 0;
    }
}

fn log_state_change(tag: &str, to: State, reason: StateChangeReason) {
    match reason {
        StateChangeReason::Preemption => tracing::warn!("{tag}Putting MASTER down - preemption"),
        StateChangeReason::MasterWillTimeOut => {
            tracing::warn!("{tag}Putting MASTER DOWN (going to time out)")
        }
        StateChangeReason::MasterBowedOut => {
            tracing::warn!("{tag}Master bowed out: taking over at once")
        }
        StateChangeReason::MasterLeft => {
            tracing::warn!("{tag}Master left (priority 0): taking over after the skew time")
        }
        StateChangeReason::AddressOwner => {
            tracing::warn!("{tag}Priority 255, the owner of the addresses: master from the start")
        }
        StateChangeReason::MasterDemoted => {
            tracing::warn!("{tag}Master advertises a higher demote count: taking over")
        }
        StateChangeReason::Demoted => {
            tracing::warn!("{tag}Demoted (SIGUSR2): bowing out, BACKUP for 3 s")
        }
        StateChangeReason::Drained => tracing::warn!("{tag}Demoted by the operator: bowing out"),
        _ => {}
    }
    tracing::warn!("{tag}Switching to state: {}", to.as_str());
    if reason == StateChangeReason::PreferredMaster {
        tracing::warn!("{tag}Preferred master advertised: going back to BACKUP state");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carpd_proto::wire::auth::Authenticator;
    use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
    use carpd_proto::wire::ethernet::multicast_mac;
    use carpd_proto::HookKind;
    use std::path::Path;

    const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC1: [u8; 6] = [2, 0, 0, 0, 1, 1];

    /// The same vhid 7 on eth0 and eth1, each with its own VIP.
    fn engine() -> (Engine, RouterId, RouterId) {
        let text = r#"
[[group]]
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
[[group]]
interface = "eth1"
vhid = 7
vips = ["10.0.1.100"]
password = "secret"
srcip = "10.0.1.11"
"#;
        let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
        let mut engine = Engine::new(true);
        engine.add_link(LinkId(0), "eth0", MAC0, true);
        engine.add_link(LinkId(1), "eth1", MAC1, true);
        let mut ids = Vec::new();
        for (i, g) in settings.groups.iter().enumerate() {
            let config = g.router_config(g.srcip.unwrap()).unwrap();
            ids.push(engine.add_group(Instant::ZERO, g, config, LinkId(i as u32), i as u64));
        }
        (engine, ids[0], ids[1])
    }

    /// An Ethernet frame with a bow-out advert from 10.0.<net>.12 for vhid 7.
    fn bow_out_frame(net: u8) -> Vec<u8> {
        let vip = Ipv4Addr::new(10, 0, net, 100);
        let auth = Authenticator::new(b"secret", 7, &[vip]).unwrap();
        let carp = CarpRepr {
            vhid: 7,
            advskew: 255,
            demote: 0,
            advbase: 255,
            counter: 1,
            digest: auth.digest(1),
        };
        let packet =
            Advertisement::outgoing(Ipv4Addr::new(10, 0, net, 12), DEFAULT_GROUP, 1, carp).emit();
        Frame {
            destination: multicast_mac(DEFAULT_GROUP),
            source: [2, 0, 0, 0, net, 2],
            ethertype: ETHERTYPE_IPV4,
            payload: &packet,
        }
        .emit()
    }

    /// Inputs that never stop the engine.
    trait Feed {
        /// Handles `input` and checks that the loop goes on.
        fn feed(&mut self, now: Instant, input: Input);
    }

    impl Feed for Engine {
        fn feed(&mut self, now: Instant, input: Input) {
            assert!(self.handle(now, input).is_continue(), "the engine stopped");
        }
    }

    /// The group on link `net` hears its master bow out at `micros`.
    fn hear_bow_out(engine: &mut Engine, micros: u64, net: u8) {
        engine.feed(
            Instant::from_micros(micros),
            Input::Frame {
                link: LinkId(u32::from(net)),
                bytes: bow_out_frame(net),
            },
        )
    }

    /// Every hook effect is for `router` and every frame leaves on `link`.
    fn only_for(effects: &[Effect], router: RouterId, link: LinkId) {
        assert!(
            effects.iter().all(|e| match e {
                Effect::Transmit { link: l, .. }
                | Effect::SendIp { link: l, .. }
                | Effect::SendIp6 { link: l, .. } => *l == link,
                Effect::Hook { router: r, .. } => *r == router,
                // Neither group here has a VIP interface.
                Effect::TransmitOn { .. } => false,
                Effect::Status(_) | Effect::Notify(_) => true,
                Effect::Event(e) => e
                    .group
                    .as_ref()
                    .is_none_or(|g| g.interface == ["eth0", "eth1"][link.0 as usize]),
            }),
            "{effects:?}"
        );
    }

    /// One group on eth0 tracking a weight-0 tracker and a weight-30 one, on advskew.
    fn tracked_engine() -> (Engine, RouterId) {
        let text = r#"
[[tracker]]
name = "check"
interface = "eth9"
[[tracker]]
name = "soft"
interface = "eth8"
weight = 30
[[group]]
name = "web"
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
advskew = 10
track = ["check", "soft"]
demote_by = "advskew"
"#;
        let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
        let mut engine = Engine::new(true);
        engine.add_link(LinkId(0), "eth0", MAC0, true);
        engine.set_trackers(Instant::ZERO, &settings.trackers);
        let g = &settings.groups[0];
        let config = g.router_config(g.srcip.unwrap()).unwrap();
        let router = engine.add_group(Instant::ZERO, g, config, LinkId(0), 1);
        (engine, router)
    }

    fn observe(engine: &mut Engine, micros: u64, tracker: &str, ok: bool) -> Vec<Effect> {
        engine.feed(
            Instant::from_micros(micros),
            Input::Tracker {
                tracker: tracker.into(),
                ok,
                detail: format!("seen {ok}"),
            },
        );
        engine.take_effects()
    }

    /// The events' names with their key detail, in order.
    fn events(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Event(e) => Some(match &e.detail {
                    Detail::State { to, reason, .. } => format!("state {to} {reason}"),
                    Detail::Tracker {
                        tracker, healthy, ..
                    } => format!("tracker {tracker} {healthy}"),
                    Detail::Demotion {
                        demotion, advskew, ..
                    } => format!("demotion {demotion} advskew {advskew}"),
                    _ => e.event.to_string(),
                }),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn trackers_fault_and_demote_a_group_with_events_in_the_order_they_happened() {
        let (mut engine, web) = tracked_engine();
        // Unchecked trackers: FAULT from the start, demotion 30 on advskew.
        let start = events(&engine.take_effects());
        assert_eq!(
            start,
            [
                "tracker check false",
                "tracker soft false",
                "state BACKUP startup",
                "state FAULT fault",
                "demotion 30 advskew 40"
            ]
        );
        assert_eq!(engine.state(web), State::Fault);
        assert_eq!(engine.summary(), "1 group: 0 MASTER, 0 BACKUP, 1 FAULT");
        // check healthy: BACKUP, still demoted.
        assert_eq!(
            events(&observe(&mut engine, 1_000, "check", true)),
            ["tracker check true", "state BACKUP fault-cleared"]
        );
        assert_eq!(
            events(&observe(&mut engine, 2_000, "soft", true)),
            ["tracker soft true", "demotion 0 advskew 10"]
        );
        // The same observation again is no news.
        assert!(events(&observe(&mut engine, 3_000, "soft", true)).is_empty());
        let status = engine.group_status(Some("web")).unwrap();
        assert_eq!(
            (
                status[0].advskew,
                status[0].configured_advskew,
                status[0].fault
            ),
            (10, 10, false)
        );
        // Master, then check fails: the bow-out advert leaves first, then FAULT and the down
        // hook.
        hear_bow_out(&mut engine, 100_000, 0);
        engine.take_effects();
        assert_eq!(engine.state(web), State::Master);
        let effects = observe(&mut engine, 200_000, "check", false);
        assert_eq!(
            events(&effects),
            ["tracker check false", "state FAULT fault"]
        );
        let bow_out = effects.iter().position(|e| {
            matches!(
                e,
                Effect::Transmit {
                    ethertype: ETHERTYPE_IPV4,
                    ..
                }
            )
        });
        let down = effects.iter().position(|e| {
            matches!(
                e,
                Effect::Hook {
                    request: HookRequest::Run(Job::Hook {
                        kind: HookKind::Down,
                        ..
                    }),
                    ..
                }
            )
        });
        assert!(bow_out.is_some() && bow_out < down, "{effects:?}");
        let status = engine.group_status(None).unwrap();
        assert_eq!(
            status[0].track,
            [
                ("check".to_string(), false, 0),
                ("soft".to_string(), true, 30)
            ]
        );
    }

    #[test]
    fn a_sync_group_faults_together_when_one_member_loses_its_link_or_a_tracker() {
        let text = r#"
[[tracker]]
name = "check"
file = "/run/carpd/none"
[[group]]
name = "inside"
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
sync = "edge"
track = ["check"]
[[group]]
name = "outside"
interface = "eth1"
vhid = 7
vips = ["10.0.1.100"]
password = "secret"
srcip = "10.0.1.11"
sync = "edge"
"#;
        let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
        let mut engine = Engine::new(true);
        engine.add_link(LinkId(0), "eth0", MAC0, true);
        engine.add_link(LinkId(1), "eth1", MAC1, true);
        engine.set_trackers(Instant::ZERO, &settings.trackers);
        let ids: Vec<RouterId> = settings
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let config = g.router_config(g.srcip.unwrap()).unwrap();
                engine.add_group(Instant::ZERO, g, config, LinkId(i as u32), i as u64)
            })
            .collect();
        let (inside, outside) = (ids[0], ids[1]);
        // The unchecked tracker of "inside" holds both in FAULT.
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Fault, State::Fault)
        );
        observe(&mut engine, 1_000, "check", true);
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Backup, State::Backup)
        );
        for net in [0, 1] {
            hear_bow_out(&mut engine, 100_000, net);
        }
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Master, State::Master)
        );
        engine.take_effects();
        // eth1 loses its carrier: outside leaves MASTER for the link, inside bows out on eth0.
        engine.feed(
            Instant::from_micros(200_000),
            Input::Link {
                link: LinkId(1),
                present: true,
                running: false,
                mac: MAC1,
            },
        );
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Fault, State::Fault)
        );
        let effects = engine.take_effects();
        assert!(
            effects.iter().any(|e| matches!(
                e,
                Effect::Transmit {
                    link: LinkId(0),
                    ethertype: ETHERTYPE_IPV4,
                    ..
                }
            )),
            "inside bows out on eth0: {effects:?}"
        );
        let status = engine.group_status(Some("inside")).unwrap();
        assert_eq!(
            status[0].fault_causes,
            ["eth1 of sync group \"edge\" member \"outside\" is down"]
        );
        // Back: both leave FAULT at the same instant.
        engine.feed(
            Instant::from_micros(300_000),
            Input::Link {
                link: LinkId(1),
                present: true,
                running: true,
                mac: MAC1,
            },
        );
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Backup, State::Backup)
        );
        assert_eq!(
            events(&engine.take_effects())
                .iter()
                .filter(|e| e.contains("fault-cleared"))
                .count(),
            2
        );
        // The tracker only "inside" lists faults "outside" too.
        observe(&mut engine, 400_000, "check", false);
        assert_eq!(
            (engine.state(inside), engine.state(outside)),
            (State::Fault, State::Fault)
        );
    }

    /// One group on eth0 whose VIP 10.0.0.100/32 goes to `vipd0`, which is `state` at start.
    fn vip_link_engine(state: VipLink) -> (Engine, RouterId) {
        let text = r#"
[[group]]
interface = "eth0"
vhid = 7
vips = ["10.0.0.100/32"]
password = "secret"
srcip = "10.0.0.11"
vip_interface = "vipd0"
"#;
        let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
        let mut engine = Engine::new(true);
        engine.add_link(LinkId(0), "eth0", MAC0, true);
        engine.set_vip_link(Instant::ZERO, "vipd0", state);
        let g = &settings.groups[0];
        let config = g.router_config(g.srcip.unwrap()).unwrap();
        let router = engine.add_group(Instant::ZERO, g, config, LinkId(0), 1);
        (engine, router)
    }

    /// What the group's announcements were: (on a link, on an interface by index).
    fn announcements(effects: &[Effect]) -> (usize, Vec<u32>) {
        let on_link = effects
            .iter()
            .filter(
                |e| matches!(e, Effect::Transmit { ethertype, .. } if *ethertype == ETHERTYPE_ARP),
            )
            .count();
        let on_index = effects
            .iter()
            .filter_map(|e| match e {
                Effect::TransmitOn {
                    index,
                    ethertype,
                    frame,
                } => {
                    assert_eq!(*ethertype, ETHERTYPE_ARP);
                    assert_eq!(&frame[6..12], &MAC1, "from the VIP interface's MAC");
                    Some(*index)
                }
                _ => None,
            })
            .collect();
        (on_link, on_index)
    }

    /// Becomes master on a bow-out and finishes its up hook; the effects of both.
    fn take_over(engine: &mut Engine, router: RouterId, micros: u64) -> Vec<Effect> {
        hear_bow_out(engine, micros, 0);
        let mut effects = engine.take_effects();
        let up = effects.iter().find_map(|e| match e {
            Effect::Hook {
                request:
                    HookRequest::Run(
                        job @ Job::Hook {
                            kind: HookKind::Up, ..
                        },
                    ),
                ..
            } => Some(*job),
            _ => None,
        });
        if let Some(job) = up {
            let now = Instant::from_micros(micros + 1_000);
            engine.feed(
                now,
                Input::HookDone {
                    router,
                    job,
                    report: None,
                },
            );
            effects.extend(engine.take_effects());
        }
        effects
    }

    #[test]
    fn a_missing_vip_interface_holds_the_group_in_fault_until_it_appears() {
        let (mut engine, router) = vip_link_engine(VipLink::default());
        assert_eq!(engine.state(router), State::Fault);
        let status = &engine.group_status(None).unwrap()[0];
        assert_eq!(status.fault_causes, ["vip_interface vipd0 does not exist"]);
        assert_eq!(status.vip_interface, "vipd0");
        // No master heard for longer than the dead time: still FAULT, nothing added.
        engine.take_effects();
        engine.feed(Instant::from_micros(150_000), Input::Timer);
        engine.feed(Instant::from_micros(4_000_000), Input::Timer);
        assert_eq!(engine.state(router), State::Fault);
        assert!(engine
            .take_effects()
            .iter()
            .all(|e| !matches!(e, Effect::Hook { .. })));
        let lo = VipLink {
            index: 1,
            present: true,
            running: true,
            announce_from: None,
        };
        engine.feed(
            Instant::from_micros(4_100_000),
            Input::VipLink {
                name: "vipd0".into(),
                state: lo,
            },
        );
        assert_eq!(engine.state(router), State::Backup);
        let events = events(&engine.take_effects());
        assert_eq!(events, ["state BACKUP fault-cleared"]);
        // Master on lo: the VIPs are added, nothing is announced anywhere.
        let effects = take_over(&mut engine, router, 4_200_000);
        assert_eq!(engine.state(router), State::Master);
        assert_eq!(announcements(&effects), (0, vec![]), "{effects:?}");
        // Someone takes the VIP off lo: it is put back.
        engine.feed(
            Instant::from_micros(4_400_000),
            Input::VipAddressRemoved {
                name: "vipd0".into(),
                address: "10.0.0.100".parse().unwrap(),
            },
        );
        assert!(engine.take_effects().iter().any(|e| matches!(
            e,
            Effect::Hook {
                request: HookRequest::Run(Job::Restore),
                ..
            }
        )));
        // The same address removed from eth0 is not the group's.
        engine.feed(
            Instant::from_micros(4_450_000),
            Input::AddressRemoved {
                link: LinkId(0),
                address: "10.0.0.100".parse().unwrap(),
            },
        );
        assert!(engine.take_effects().is_empty());
        // vipd0 also carrying adverts of another group (a link of that name): its address
        // event is not this group's; the VIP interface's own event above restored it once.
        engine.add_link(LinkId(1), "vipd0", MAC1, true);
        engine.feed(
            Instant::from_micros(4_460_000),
            Input::AddressRemoved {
                link: LinkId(1),
                address: "10.0.0.100".parse().unwrap(),
            },
        );
        assert!(engine.take_effects().is_empty());
        // The interface goes away: FAULT, bowing out, the down hook.
        engine.feed(
            Instant::from_micros(4_500_000),
            Input::VipLink {
                name: "vipd0".into(),
                state: VipLink::default(),
            },
        );
        assert_eq!(engine.state(router), State::Fault);
        let effects = engine.take_effects();
        assert!(
            effects.iter().any(|e| matches!(
                e,
                Effect::Hook {
                    request: HookRequest::Run(Job::Hook {
                        kind: HookKind::Down,
                        ..
                    }),
                    ..
                }
            )),
            "{effects:?}"
        );
        // Down (administratively) is a fault too, with its own cause.
        let down = VipLink {
            running: false,
            ..lo
        };
        engine.set_vip_link(Instant::from_micros(4_600_000), "vipd0", down);
        assert_eq!(
            engine.group_status(None).unwrap()[0].fault_causes,
            ["vip_interface vipd0 is down"]
        );
        // The group goes: so does what the engine kept of its VIP interface.
        assert!(engine.remove_group(Instant::from_micros(4_700_000), router));
        assert!(engine.vip_links.is_empty());
    }

    #[test]
    fn vips_on_an_arp_interface_are_announced_there_from_its_own_mac() {
        let eth1 = VipLink {
            index: 9,
            present: true,
            running: true,
            announce_from: Some(MAC1),
        };
        let (mut engine, router) = vip_link_engine(eth1);
        assert_eq!(engine.state(router), State::Backup);
        let effects = take_over(&mut engine, router, 100_000);
        assert_eq!(engine.state(router), State::Master);
        assert_eq!(announcements(&effects), (0, vec![9]), "{effects:?}");
    }

    /// The job of the first hook request of `kind` among `effects`.
    fn hook_job(effects: &[Effect], kind: HookKind) -> Option<Job> {
        effects.iter().find_map(|e| match e {
            Effect::Hook {
                request: HookRequest::Run(job @ Job::Hook { kind: k, .. }),
                ..
            } if *k == kind => Some(*job),
            _ => None,
        })
    }

    /// `job` ends at `now` with the kernel refusing the change.
    fn refused(engine: &mut Engine, now: Instant, router: RouterId, job: Job) {
        let report = crate::hooks::HookReport {
            kind: job.kind(),
            result: crate::hooks::HookResult::Failed,
            duration: std::time::Duration::from_millis(1),
            error: Some("Operation not permitted (os error 1)".into()),
        };
        engine.feed(
            now,
            Input::HookDone {
                router,
                job,
                report: Some(report),
            },
        );
    }

    #[test]
    fn a_vip_add_the_kernel_refuses_is_a_fault_that_bows_out_and_is_retried() {
        let (mut engine, router, _) = engine();
        hear_bow_out(&mut engine, 1_000_000, 0);
        let effects = engine.take_effects();
        assert_eq!(engine.state(router), State::Master);
        let up = hook_job(&effects, HookKind::Up).expect("up hook");
        let t = Instant::from_micros(1_010_000);
        refused(&mut engine, t, router, up);
        assert_eq!(engine.state(router), State::Fault);
        let status = &engine.group_status(None).unwrap()[0];
        assert_eq!(
            status.fault_causes,
            ["vip add failed: Operation not permitted (os error 1)"]
        );
        let effects = engine.take_effects();
        // It bows out (advbase 255) so that the peer takes over at once, and takes the VIPs down.
        let bowed_out = effects.iter().any(|e| match e {
            Effect::Transmit { link, frame, .. } if *link == LinkId(0) => {
                Advertisement::parse(&frame[14..]).is_ok_and(|a| a.carp.advbase == 255)
            }
            _ => false,
        });
        assert!(bowed_out, "{effects:?}");
        let down = hook_job(&effects, HookKind::Down).expect("down hook");
        // The retry is the engine's next deadline: 1 s later the fault is lifted.
        assert!(engine
            .poll_timeout()
            .is_some_and(|d| d <= t + crate::vip_retry::FIRST_RETRY));
        // The removal failed too: it is tried again (as a release) once the group is not master.
        refused(&mut engine, t, router, down);
        engine.feed(t + crate::vip_retry::FIRST_RETRY, Input::Timer);
        assert_eq!(engine.state(router), State::Backup, "competing again");
        assert!(engine.group_status(None).unwrap()[0]
            .fault_causes
            .is_empty());
        let effects = engine.take_effects();
        assert!(
            effects.iter().any(|e| matches!(
                e,
                Effect::Hook {
                    request: HookRequest::Run(Job::Release),
                    ..
                }
            )),
            "{effects:?}"
        );
        // Nobody else advertises: it becomes master again at its master-down time, and a
        // second add failure waits twice as long.
        let down_at = engine.poll_timeout().expect("master-down timer");
        engine.feed(down_at, Input::Timer);
        let up = hook_job(&engine.take_effects(), HookKind::Up).expect("up hook");
        let t = down_at + std::time::Duration::from_millis(10);
        refused(&mut engine, t, router, up);
        assert_eq!(engine.state(router), State::Fault);
        engine.feed(t + crate::vip_retry::FIRST_RETRY, Input::Timer);
        assert_eq!(engine.state(router), State::Fault, "the back-off doubled");
        engine.feed(t + crate::vip_retry::FIRST_RETRY * 2, Input::Timer);
        assert_eq!(engine.state(router), State::Backup);
    }

    /// `payload` (protocol 112) from 10.0.0.12 to 224.0.0.18 in an Ethernet frame.
    fn frame_of(payload: &[u8]) -> Vec<u8> {
        let ip = carpd_proto::wire::ipv4::Ipv4Repr {
            source: Ipv4Addr::new(10, 0, 0, 12),
            destination: DEFAULT_GROUP,
            ttl: 255,
            tos: 0xc0,
            ident: 1,
            dont_fragment: false,
            protocol: 112,
            payload_len: payload.len(),
        };
        let mut packet = ip.emit().to_vec();
        packet.extend_from_slice(payload);
        Frame {
            destination: multicast_mac(DEFAULT_GROUP),
            source: [2, 0, 0, 0, 0, 2],
            ethertype: ETHERTYPE_IPV4,
            payload: &packet,
        }
        .emit()
    }

    #[test]
    fn odd_protocol_112_packets_are_counted_by_what_they_are() {
        let (mut engine, _, _) = engine();
        let v3 = carpd_proto::wire::vrrp3::Vrrp3Repr {
            vrid: 7,
            priority: 100,
            interval_cs: 100,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))],
        };
        let mut v3_type2 = v3.emit(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12)),
            IpAddr::V4(DEFAULT_GROUP),
            carpd_proto::wire::vrrp3::Checksum::Rfc9568,
        );
        v3_type2[0] = 0x32;
        // keepalived's default VRRPv2: version 2 type 1, one address, no authentication.
        let v2 = [
            0x21, 7, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut bad_checksum = frame_of(&bow_out_frame(0)[14 + 20..]);
        bad_checksum[14 + 10] ^= 0xff;
        // Without its authentication data (a sender that leaves it out): still VRRPv2.
        let v2_short = &v2[..12];
        for bytes in [
            frame_of(&v3_type2),
            frame_of(&v2),
            frame_of(v2_short),
            bad_checksum,
        ] {
            engine.feed(
                Instant::from_micros(1_000),
                Input::Frame {
                    link: LinkId(0),
                    bytes,
                },
            );
        }
        let drops: Vec<(&str, u64)> = engine
            .drops_by_interface()
            .into_iter()
            .map(|((_, reason), n)| (reason, n))
            .collect();
        assert_eq!(
            drops,
            [
                ("bad-ip-checksum", 1),
                ("other-protocol", 2),
                ("vrrp3-bad-type", 1)
            ]
        );
    }

    #[test]
    fn groups_start_as_backup_with_their_own_down_hook() {
        let (mut engine, a, b) = engine();
        let effects = engine.take_effects();
        for router in [a, b] {
            assert!(effects.iter().any(|e| matches!(e, Effect::Hook { router: r, request: HookRequest::Run(Job::Hook { kind: HookKind::Down, .. }) } if *r == router)));
            assert_eq!(engine.state(router), State::Backup);
        }
        assert_eq!(engine.summary(), "2 groups: 0 MASTER, 2 BACKUP");
    }

    #[test]
    fn a_frame_moves_only_the_group_of_its_link_and_frames_leave_on_that_link() {
        let (mut engine, a, b) = engine();
        engine.take_effects();
        hear_bow_out(&mut engine, 100_000, 1);
        assert_eq!(
            (engine.state(a), engine.state(b)),
            (State::Backup, State::Master)
        );
        let effects = engine.take_effects();
        only_for(&effects, b, LinkId(1));
        // Its first advert leaves on eth1 from eth1's MAC to the group's multicast MAC.
        let advert = effects
            .iter()
            .find_map(|e| match e {
                Effect::Transmit {
                    frame,
                    ethertype: ETHERTYPE_IPV4,
                    ..
                } => Some(frame.clone()),
                _ => None,
            })
            .expect("an advert");
        let parsed = Frame::parse(&advert).unwrap();
        assert_eq!(
            (parsed.destination, parsed.source),
            (multicast_mac(DEFAULT_GROUP), MAC1)
        );
        assert_eq!(
            Advertisement::parse(parsed.payload).unwrap().ip.source,
            Ipv4Addr::new(10, 0, 1, 11)
        );
        assert!(effects.contains(&Effect::Status("2 groups: 1 MASTER, 1 BACKUP".into())));
    }

    #[test]
    fn a_link_going_away_touches_only_its_groups_and_stop_reaches_every_group() {
        let (mut engine, a, b) = engine();
        for net in [1, 0] {
            hear_bow_out(&mut engine, 100_000, net);
        }
        engine.take_effects();
        engine.feed(
            Instant::from_micros(200_000),
            Input::Link {
                link: LinkId(0),
                present: true,
                running: false,
                mac: MAC0,
            },
        );
        assert_eq!(
            (engine.state(a), engine.state(b)),
            (State::Backup, State::Master)
        );
        // Only a leaves MASTER (its down hook); b's link is untouched.
        let effects = engine.take_effects();
        only_for(&effects, a, LinkId(0));
        assert!(!effects.is_empty());
        let flow = engine.handle(Instant::from_micros(300_000), Input::Stop("TERM"));
        assert_eq!(flow, ControlFlow::Break(()));
        assert_eq!(
            (engine.state(a), engine.state(b)),
            (State::Init, State::Init)
        );
        // Only b was master: one bow-out, on eth1.
        let adverts: Vec<LinkId> = engine
            .take_effects()
            .iter()
            .filter_map(|e| match e {
                Effect::Transmit {
                    link,
                    ethertype: ETHERTYPE_IPV4,
                    ..
                } => Some(*link),
                _ => None,
            })
            .collect();
        assert_eq!(adverts, [LinkId(1)]);
    }
}
