//! A node: the virtual routers of one host, with packets routed by (interface, protocol,
//! family, vhid).

use crate::action::{Action, DropReason, ProtocolKind};
use crate::config::VrConfig;
use crate::protocol::Protocol;
use crate::time::Instant;
use crate::vr::{Command, Reconfigured, VirtualRouter, ADVERT_SLACK_MAX};
use crate::wire::carp::{Advertisement, CarpRepr, Packet, AUTHLEN};
use crate::wire::ipv4::{is_fragment, Ipv4Repr, CARP_TTL, PROTOCOL_CARP};
use crate::wire::vrrp2::Vrrp2Repr;
use crate::wire::vrrp3::Vrrp3Repr;
use crate::wire::DecodeError;
use crate::HookId;
use core::time::Duration;
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

/// The routers filed under one (link, protocol, vhid): nearly always one, kept in the index
/// itself, so that a packet's lookup touches no other memory.
type Ids = smallvec::SmallVec<[RouterId; 2]>;

/// Which routers a packet may be for: CARP (IPv4), VRRPv3 over IPv4, VRRPv3 over IPv6,
/// VRRPv2 (IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Route {
    Carp,
    Vrrp3V4,
    Vrrp3V6,
    Vrrp2,
}

impl Route {
    fn of(config: &VrConfig) -> Route {
        match (&config.protocol, config.source.is_ipv4()) {
            (Protocol::Carp(_), _) => Route::Carp,
            (Protocol::Vrrp3(_), true) => Route::Vrrp3V4,
            (Protocol::Vrrp3(_), false) => Route::Vrrp3V6,
            (Protocol::Vrrp2(_), _) => Route::Vrrp2,
        }
    }

    fn kind(self) -> ProtocolKind {
        match self {
            Route::Carp => ProtocolKind::Carp,
            Route::Vrrp3V4 | Route::Vrrp3V6 => ProtocolKind::Vrrp3,
            Route::Vrrp2 => ProtocolKind::Vrrp2,
        }
    }
}

/// Whether an IPv4 payload whose first byte says version 2, type 1 is VRRPv2 rather than
/// CARP. Byte 3 is CARP's authlen, always 7 (and CARP is 36 bytes), and VRRPv2's address
/// count (a VRRPv2 advert is 16 bytes plus 4 per address): another value there is VRRPv2,
/// well-formed or not (counted as another protocol, not as a short CARP packet); with 7, only
/// VRRPv2's length for 7 addresses (44 bytes) is VRRPv2.
fn is_vrrp2(payload: &[u8]) -> bool {
    match payload {
        [0x21, _, _, count, ..] if *count == AUTHLEN => {
            payload.len() == 16 + 4 * usize::from(*count)
        }
        [0x21, _, _, _, ..] => true,
        _ => false,
    }
}

/// A router's id in its node: given once, never reused, so it stays valid (and never names
/// another router) when other routers are added or removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub u64);

/// An action with the router it comes from (`None` for packets no router claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// the router, if any
    pub router: Option<RouterId>,
    /// what to do
    pub action: Action,
}

/// A router, the link it serves, and its deadline as filed in [`Node::timers`].
#[derive(Debug)]
struct Entry {
    link: u32,
    router: VirtualRouter,
    deadline: Option<Instant>,
}

/// All virtual routers of a host, keyed by [`RouterId`]; packets are routed to them by
/// (link, vhid). `link` is the driver's key for an interface, stable across re-creation of the
/// kernel interface.
///
/// Work per packet, timer or action depends on the routers it concerns, not on how many
/// there are: routers are indexed by (link, vhid) and by their own source address, deadlines
/// are kept in order, and only routers that were handed something are asked for actions.
#[derive(Debug, Default)]
pub struct Node {
    /// Boxed: a router is most of a kilobyte, and the table's slots stay small and dense.
    /// A hash table with a fast hash (keys are small numbers): a lookup is one probe where a
    /// B-tree walked three nodes, each a cache miss at thousands of routers; the few callers
    /// that want id order sort.
    routers: FxHashMap<RouterId, Box<Entry>>,
    /// The routers serving each (link, protocol and family, vhid).
    by_vhid: FxHashMap<(u32, Route, u8), Ids>,
    /// How many routers send from each (link, source address): adverts from these are our own.
    sources: FxHashMap<(u32, IpAddr), usize>,
    /// Every router's deadline, earliest first.
    timers: BTreeSet<(Instant, RouterId)>,
    /// Routers that may have actions queued.
    ready: BTreeSet<RouterId>,
    /// Actions of no router (unclaimed packets) and the last actions of removed routers.
    pending: VecDeque<Output>,
    /// Where [`Node::poll_action`] looks first, so that no router starves the others.
    next_router: RouterId,
    next_id: u64,
    /// The routers due at a wake-up, gathered before they are handed it; the list keeps its
    /// room (with thousands of masters sharing a wake-up, hundreds are due at once).
    due: Vec<RouterId>,
}

impl Node {
    /// An empty node.
    pub fn new() -> Self {
        Node::default()
    }

    /// Adds a router on `link`; it starts at `now` (see [`VirtualRouter::new`]).
    pub fn add_router(&mut self, link: u32, config: VrConfig, now: Instant, seed: u64) -> RouterId {
        let id = RouterId(self.next_id);
        self.next_id += 1;
        let router = VirtualRouter::new(config, now, seed);
        self.routers.insert(
            id,
            Box::new(Entry {
                link,
                router,
                deadline: None,
            }),
        );
        self.index(id);
        self.touched(id);
        id
    }

    /// Files router `id` under its (link, vhid) and (link, source).
    fn index(&mut self, id: RouterId) {
        let Some(e) = self.routers.get(&id) else {
            return;
        };
        let (link, config) = (e.link, e.router.config());
        self.by_vhid
            .entry((link, Route::of(config), config.vhid))
            .or_default()
            .push(id);
        *self.sources.entry((link, config.source)).or_default() += 1;
    }

    /// Takes router `id` out of the (link, vhid) and (link, source) indexes.
    fn unindex(&mut self, id: RouterId) {
        let Some(e) = self.routers.get(&id) else {
            return;
        };
        let (link, config) = (e.link, e.router.config());
        let key = (link, Route::of(config), config.vhid);
        if let Some(ids) = self.by_vhid.get_mut(&key) {
            ids.retain(|r| *r != id);
            if ids.is_empty() {
                self.by_vhid.remove(&key);
            }
        }
        let key = (link, config.source);
        if let Some(n) = self.sources.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.sources.remove(&key);
            }
        }
    }

    /// Router `id` was handed something: it may have actions, and its deadline may have
    /// moved.
    fn touched(&mut self, id: RouterId) {
        let Some(e) = self.routers.get_mut(&id) else {
            return;
        };
        let deadline = e.router.poll_timeout();
        if deadline != e.deadline {
            if let Some(old) = e.deadline {
                self.timers.remove(&(old, id));
            }
            if let Some(new) = deadline {
                self.timers.insert((new, id));
            }
            e.deadline = deadline;
        }
        self.ready.insert(id);
    }

    /// Stops router `id` (a master bows out, and runs its down hook when its configuration
    /// says so) and removes it. Its last actions are still returned by
    /// [`Node::poll_action`]; later completions of its hooks are ignored. False if there was
    /// no such router.
    pub fn remove_router(&mut self, now: Instant, id: RouterId) -> bool {
        self.unindex(id);
        let Some(mut entry) = self.routers.remove(&id) else {
            return false;
        };
        if let Some(deadline) = entry.deadline {
            self.timers.remove(&(deadline, id));
        }
        self.ready.remove(&id);
        entry.router.handle_command(now, Command::Stop);
        while let Some(action) = entry.router.poll_action() {
            self.pending.push_back(Output {
                router: Some(id),
                action,
            });
        }
        true
    }

    /// Gives router `id` a new configuration and link (see [`VirtualRouter::reconfigure`]):
    /// in place where the protocol allows it; a new vhid, password or link restarts it under
    /// the same id. A router moving to another link bows out on the new one: a caller that
    /// wants the bow-out heard on the old link stops the router with [`Command::Stop`] and
    /// drains its actions first. `None` if there is no such router.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        id: RouterId,
        link: u32,
        config: VrConfig,
    ) -> Option<Reconfigured> {
        self.routers.get(&id)?;
        self.unindex(id);
        let entry = self.routers.get_mut(&id)?;
        let outcome = if entry.link != link {
            entry.link = link;
            entry.router.restart(now, config);
            Reconfigured::Restarted
        } else {
            entry.router.reconfigure(now, config)
        };
        self.index(id);
        self.touched(id);
        Some(outcome)
    }

    /// Router `id` alone gets a command.
    pub fn handle_router_command(&mut self, now: Instant, id: RouterId, command: Command) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.handle_command(now, command);
        }
        self.touched(id);
    }

    /// Router `id` announces its VIPs when it is master with its VIPs up.
    pub fn announce_vips(&mut self, id: RouterId) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.announce_vips();
        }
        self.touched(id);
    }

    /// A router by id.
    pub fn router(&self, id: RouterId) -> Option<&VirtualRouter> {
        self.routers.get(&id).map(|e| &e.router)
    }

    /// The link a router serves.
    pub fn link_of(&self, id: RouterId) -> Option<u32> {
        self.routers.get(&id).map(|e| e.link)
    }

    /// Every router with its id, in id order.
    pub fn routers(&self) -> impl Iterator<Item = (RouterId, &VirtualRouter)> {
        self.ids()
            .into_iter()
            .filter_map(|id| Some((id, &self.routers.get(&id)?.router)))
    }

    /// Every router's id, in id order (the order routers were added).
    fn ids(&self) -> Vec<RouterId> {
        let mut ids: Vec<RouterId> = self.routers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// An IPv4 packet of protocol 112 (from the IP header on) arrived on `link`.
    ///
    /// Checks in ucarp's order where it has one (docs/protocol.md §4): fragments are dropped
    /// (ucarp does not look), then own packets are ignored, then the header (codec), then TTL
    /// 255, then the vhid; the router checks group, peers, HMAC and replay. The payload decides
    /// the protocol: VRRPv3 (first byte 0x31), VRRPv2 (0x21 and a VRRPv2 length) or CARP.
    pub fn handle_packet(&mut self, now: Instant, link: u32, bytes: &[u8]) {
        let source = || {
            bytes
                .get(12..16)
                .map(|s| IpAddr::from([s[0], s[1], s[2], s[3]]))
        };
        // Adverts are never fragmented: a fragment that happens to hold a whole advert's
        // bytes must not count as one (ucarp takes it as one).
        if is_fragment(bytes) {
            self.drop_unclaimed(DropReason::Fragment, source());
            return;
        }
        let (ip, payload) = match Ipv4Repr::parse(bytes) {
            Ok(parsed) => parsed,
            Err(e) => return self.drop_unclaimed(DropReason::Malformed(e), source()),
        };
        let (from, to) = (IpAddr::V4(ip.source), IpAddr::V4(ip.destination));
        if ip.protocol != PROTOCOL_CARP {
            let e = DecodeError::NotCarp(ip.protocol);
            return self.drop_unclaimed(DropReason::Malformed(e), Some(from));
        }
        // Our own multicast looped back (ucarp's filter: `src host not <srcip>`).
        if self.sources.contains_key(&(link, from)) {
            return;
        }
        match payload.first() {
            // Version 3 in the first nibble is VRRPv3 whatever its type (a bad one is counted
            // as such, not as a short CARP packet).
            Some(first) if first >> 4 == 3 => {
                self.vrrp3_packet(now, link, from, to, ip.ttl, payload, Route::Vrrp3V4)
            }
            _ if is_vrrp2(payload) => self.vrrp2_packet(now, link, &ip, payload),
            _ => {
                let carp = match Packet::new_checked(payload).and_then(|p| CarpRepr::parse(&p)) {
                    Ok(carp) => carp,
                    Err(e) => return self.drop_unclaimed(DropReason::Malformed(e), Some(from)),
                };
                let key = (link, Route::Carp, carp.vhid);
                let ids = self.by_vhid.get(&key).cloned();
                if !self.ttl_ok(ids.as_deref(), ip.ttl, from) {
                    return self.drop_unclaimed(DropReason::BadTtl(ip.ttl), Some(from));
                }
                let Some(ids) = ids else {
                    return self.other_protocol(
                        link,
                        ProtocolKind::Carp,
                        carp.vhid,
                        from,
                        &[Route::Vrrp3V4, Route::Vrrp2],
                    );
                };
                let advert = Advertisement { ip, carp };
                for id in ids {
                    if let Some(e) = self.routers.get_mut(&id) {
                        e.router.handle_advert(now, &advert);
                    }
                    self.touched(id);
                }
            }
        }
    }

    /// The routers filed under the protocol and vhid of an IPv4 packet of protocol 112 that
    /// came on `link`: those [`Node::handle_packet`] hands it to once it passes the checks
    /// (VRRPv3 routers that also hear VRRPv2 are left out). Nothing is checked or changed: a
    /// caller may start loading them from memory while earlier packets are handled.
    pub fn packet_routers(&self, link: u32, bytes: &[u8]) -> impl Iterator<Item = &VirtualRouter> {
        let header = usize::from(bytes.first().map_or(0, |b| b & 0x0f)) * 4;
        let payload = bytes
            .get(header..)
            .filter(|_| header >= 20)
            .unwrap_or_default();
        // CARP's vhid and VRRP's VRID are both the second byte.
        let key = match payload {
            [first, vhid, ..] if first >> 4 == 3 => Some((link, Route::Vrrp3V4, *vhid)),
            [_, vhid, ..] if is_vrrp2(payload) => Some((link, Route::Vrrp2, *vhid)),
            [_, vhid, ..] => Some((link, Route::Carp, *vhid)),
            _ => None,
        };
        key.and_then(|key| self.by_vhid.get(&key))
            .into_iter()
            .flatten()
            .filter_map(|id| Some(&self.routers.get(id)?.router))
    }

    /// A VRRP packet (the IPv6 header already taken off by the socket) arrived on `link`
    /// from `source` to `destination` with `hop_limit`.
    pub fn handle_packet_v6(
        &mut self,
        now: Instant,
        link: u32,
        source: Ipv6Addr,
        destination: Ipv6Addr,
        hop_limit: u8,
        vrrp: &[u8],
    ) {
        let (from, to) = (IpAddr::V6(source), IpAddr::V6(destination));
        if self.sources.contains_key(&(link, from)) {
            return;
        }
        self.vrrp3_packet(now, link, from, to, hop_limit, vrrp, Route::Vrrp3V6);
    }

    /// A VRRPv3 packet over either family: decode, hop limit, route by VRID.
    #[allow(clippy::too_many_arguments)]
    fn vrrp3_packet(
        &mut self,
        now: Instant,
        link: u32,
        from: IpAddr,
        to: IpAddr,
        ttl: u8,
        vrrp: &[u8],
        route: Route,
    ) {
        let (repr, checksum) = match Vrrp3Repr::parse(vrrp, from, to) {
            Ok(parsed) => parsed,
            Err(e) => return self.drop_unclaimed(DropReason::Malformed(e), Some(from)),
        };
        let key = (link, route, repr.vrid);
        let ids = self.by_vhid.get(&key).cloned();
        if !self.ttl_ok(ids.as_deref(), ttl, from) {
            return self.drop_unclaimed(DropReason::BadTtl(ttl), Some(from));
        }
        let Some(ids) = ids else {
            let others: &[Route] = if route == Route::Vrrp3V4 {
                &[Route::Carp, Route::Vrrp2]
            } else {
                &[]
            };
            return self.other_protocol(link, ProtocolKind::Vrrp3, repr.vrid, from, others);
        };
        for id in ids {
            if let Some(e) = self.routers.get_mut(&id) {
                e.router.handle_vrrp3(now, from, to, &repr, checksum);
            }
            self.touched(id);
        }
    }

    /// A VRRPv2 packet (first byte 0x21 and a VRRPv2 length) arrived on `link`: for the
    /// VRRPv2 groups of its VRID and the VRRPv3 groups with `vrrp2_compat`; with neither, a
    /// drop that names the protocols (counted as such even when malformed).
    fn vrrp2_packet(&mut self, now: Instant, link: u32, ip: &Ipv4Repr, vrrp: &[u8]) {
        let from = IpAddr::V4(ip.source);
        let vrid = vrrp[1];
        let mut ids = self
            .by_vhid
            .get(&(link, Route::Vrrp2, vrid))
            .cloned()
            .unwrap_or_default();
        if let Some(v3) = self.by_vhid.get(&(link, Route::Vrrp3V4, vrid)) {
            ids.extend(v3.iter().copied().filter(|id| {
                self.routers
                    .get(id)
                    .is_some_and(|e| e.router.config().protocol.speaks_vrrp2())
            }));
        }
        if ids.is_empty() {
            let others = [Route::Carp, Route::Vrrp3V4];
            return self.other_protocol(link, ProtocolKind::Vrrp2, vrid, from, &others);
        }
        let repr = match Vrrp2Repr::parse(vrrp) {
            Ok(repr) => repr,
            Err(e) => return self.drop_unclaimed(DropReason::Malformed(e), Some(from)),
        };
        if !self.ttl_ok_for(&ids, ip.ttl, from) {
            return self.drop_unclaimed(DropReason::BadTtl(ip.ttl), Some(from));
        }
        for id in ids {
            if let Some(e) = self.routers.get_mut(&id) {
                e.router.handle_vrrp2(now, ip.source, ip.destination, &repr);
            }
            self.touched(id);
        }
    }

    /// TTL (hop limit) 255, or a listed unicast peer of a router in `ids` whose TTL says
    /// nothing: the router relaxed the check (`unicast_ttl_check = false`: its peers are
    /// across a router), or the peer's address is IPv6 link-local, which no router forwards
    /// (RFC 4291 section 2.5.6), so the packet came from the link whatever its hop limit
    /// (keepalived sends IPv6 unicast adverts at the kernel's default of 64).
    /// `ids` are the routers the packet is for (`None`: no router serves its vhid); the
    /// caller looks them up once for this check and for the delivery.
    fn ttl_ok(&self, ids: Option<&[RouterId]>, ttl: u8, from: IpAddr) -> bool {
        self.ttl_ok_for(ids.unwrap_or_default(), ttl, from)
    }

    /// [`Node::ttl_ok`] for the routers `ids`.
    fn ttl_ok_for(&self, ids: &[RouterId], ttl: u8, from: IpAddr) -> bool {
        let on_link = matches!(from, IpAddr::V6(a) if a.is_unicast_link_local());
        ttl == CARP_TTL
            || ids.iter().filter_map(|id| self.routers.get(id)).any(|e| {
                let config = e.router.config();
                (on_link || !config.unicast_ttl_check) && config.peers.contains(&from)
            })
    }

    /// No router of the kind heard serves `vhid` on `link`: a drop that names the protocol
    /// when a router of another kind (`others`) serves it, else an unknown vhid.
    fn other_protocol(
        &mut self,
        link: u32,
        heard: ProtocolKind,
        vhid: u8,
        from: IpAddr,
        others: &[Route],
    ) {
        let ours = others
            .iter()
            .find(|&&route| self.by_vhid.contains_key(&(link, route, vhid)));
        let reason = match ours {
            Some(route) => DropReason::OtherProtocol {
                heard,
                ours: route.kind(),
                vhid,
            },
            None => DropReason::UnknownVhid(vhid),
        };
        self.drop_unclaimed(reason, Some(from));
    }

    fn drop_unclaimed(&mut self, reason: DropReason, source: Option<IpAddr>) {
        self.pending.push_back(Output {
            router: None,
            action: Action::Dropped { reason, source },
        });
    }

    /// Fires every timer due at `now`: those whose deadline has passed, and masters' adverts
    /// that may go out early ([`VirtualRouter::advert_slack`]), so that the groups of a busy
    /// node share wake-ups instead of waking once each.
    pub fn handle_timeout(&mut self, now: Instant) {
        let horizon = now + ADVERT_SLACK_MAX;
        let mut due = std::mem::take(&mut self.due);
        due.extend(
            self.timers
                .iter()
                .take_while(|(at, _)| *at <= horizon)
                .filter(|(at, id)| {
                    *at <= now
                        || self
                            .routers
                            .get(id)
                            .and_then(|e| e.router.earliest_timeout())
                            .is_some_and(|early| early <= now)
                })
                .map(|(_, id)| *id),
        );
        for &id in &due {
            if let Some(e) = self.routers.get_mut(&id) {
                e.router.handle_timeout(now);
            }
            self.touched(id);
        }
        due.clear();
        self.due = due;
    }

    /// The loop woke `late` after the deadline it slept towards, before
    /// [`Node::handle_timeout`] at `now`: each backup whose master-down deadline fell due
    /// meanwhile waits for its master a little longer when `late` looks like a pause of the
    /// whole machine ([`VirtualRouter::defer_master_down`]). Returns those routers, each with
    /// the wait granted.
    pub fn stalled(&mut self, now: Instant, late: Duration) -> Vec<(RouterId, Duration)> {
        // No allocation unless a router waits (a master's own due advert is the usual case).
        let mut deferred = Vec::new();
        for (_, id) in self.timers.iter().take_while(|(at, _)| *at <= now) {
            let waits = self
                .routers
                .get_mut(id)
                .and_then(|e| e.router.defer_master_down(now, late));
            if let Some(wait) = waits {
                deferred.push((*id, wait));
            }
        }
        for (id, _) in &deferred {
            self.touched(*id);
        }
        deferred
    }

    /// The routers [`Node::handle_timeout`] at `now` will look at: those whose deadline
    /// falls within the longest early-advert slack of it. A caller may start loading them
    /// from memory together first; with thousands of routers, each is otherwise a wait of
    /// its own.
    pub fn due_soon(&self, now: Instant) -> impl Iterator<Item = &VirtualRouter> {
        let horizon = now + ADVERT_SLACK_MAX;
        self.timers
            .iter()
            .take_while(move |(at, _)| *at <= horizon)
            .filter_map(|(_, id)| Some(&self.routers.get(id)?.router))
    }

    /// `link` came up or went down.
    pub fn handle_link(&mut self, now: Instant, link: u32, up: bool) {
        let mut on_link: Vec<RouterId> = self
            .routers
            .iter()
            .filter(|(_, e)| e.link == link)
            .map(|(id, _)| *id)
            .collect();
        on_link.sort_unstable();
        for id in on_link {
            self.handle_router_link(now, id, up);
        }
    }

    /// `link` came up or went down, for router `id` alone (a router that ignores the
    /// interface's state is told it is up).
    pub fn handle_router_link(&mut self, now: Instant, id: RouterId, up: bool) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.handle_link(now, up);
        }
        self.touched(id);
    }

    /// A command for every router.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        for id in self.ids() {
            self.handle_router_command(now, id, command);
        }
    }

    /// A hook of `router` finished (or was cancelled or killed).
    pub fn handle_hook_done(&mut self, now: Instant, router: RouterId, hook: HookId) {
        if let Some(e) = self.routers.get_mut(&router) {
            e.router.handle_hook_done(now, hook);
        }
        self.touched(router);
    }

    /// The next action of any router (routers in turn, each in its own order).
    pub fn poll_action(&mut self) -> Option<Output> {
        if let Some(output) = self.pending.pop_front() {
            return Some(output);
        }
        loop {
            let id = *self
                .ready
                .range(self.next_router..)
                .next()
                .or_else(|| self.ready.first())?;
            match self
                .routers
                .get_mut(&id)
                .and_then(|e| e.router.poll_action())
            {
                Some(action) => {
                    self.next_router = id;
                    return Some(Output {
                        router: Some(id),
                        action,
                    });
                }
                None => {
                    self.ready.remove(&id);
                }
            }
        }
    }

    /// The routers that may have actions queued, in id order: after
    /// [`Node::handle_timeout`], those that were due (a caller may start loading what it
    /// keeps about each before draining their actions).
    pub fn ready(&self) -> impl Iterator<Item = RouterId> + '_ {
        self.ready.iter().copied()
    }

    /// The earliest deadline of any router.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }
}
