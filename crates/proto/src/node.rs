//! A node: the virtual routers of one host, with packets routed by (interface, vhid).

use crate::action::{Action, DropReason};
use crate::config::VrConfig;
use crate::time::Instant;
use crate::vr::{Command, Reconfigured, VirtualRouter};
use crate::wire::carp::Advertisement;
use crate::wire::ipv4::{is_fragment, CARP_TTL};
use crate::HookId;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

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

/// A router and the link it serves.
#[derive(Debug)]
struct Entry {
    link: u32,
    router: VirtualRouter,
}

/// All virtual routers of a host, keyed by [`RouterId`]; packets are routed to them by
/// (link, vhid). `link` is the driver's key for an interface, stable across re-creation of the
/// kernel interface.
#[derive(Debug, Default)]
pub struct Node {
    routers: BTreeMap<RouterId, Entry>,
    /// Actions of no router (unclaimed packets) and the last actions of removed routers.
    pending: VecDeque<Output>,
    /// Where [`Node::poll_action`] looks first, so that no router starves the others.
    next_router: RouterId,
    next_id: u64,
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
        self.routers.insert(id, Entry { link, router });
        id
    }

    /// Stops router `id` (a master bows out, and runs its down hook when its configuration
    /// says so) and removes it. Its last actions are still returned by
    /// [`Node::poll_action`]; later completions of its hooks are ignored. False if there was
    /// no such router.
    pub fn remove_router(&mut self, now: Instant, id: RouterId) -> bool {
        let Some(mut entry) = self.routers.remove(&id) else {
            return false;
        };
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
        let entry = self.routers.get_mut(&id)?;
        if entry.link != link {
            entry.link = link;
            entry.router.restart(now, config);
            return Some(Reconfigured::Restarted);
        }
        Some(entry.router.reconfigure(now, config))
    }

    /// Router `id` alone gets a command.
    pub fn handle_router_command(&mut self, now: Instant, id: RouterId, command: Command) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.handle_command(now, command);
        }
    }

    /// Router `id` announces its VIPs when it is master with its VIPs up.
    pub fn announce_vips(&mut self, id: RouterId) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.announce_vips();
        }
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
        self.routers.iter().map(|(id, e)| (*id, &e.router))
    }

    /// An IPv4 packet (from the IP header on) arrived on `ifindex`.
    ///
    /// Checks in ucarp's order where it has one (ucarp.md §1.7): fragments are dropped (ucarp
    /// does not look), then own packets are ignored, then TTL 255, then the header (codec),
    /// then vhid; the router checks group, HMAC and replay.
    pub fn handle_packet(&mut self, now: Instant, link: u32, bytes: &[u8]) {
        let source = || {
            bytes
                .get(12..16)
                .map(|s| Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        };
        // Adverts are never fragmented: a fragment that happens to hold a whole advert's
        // bytes must not count as one (ucarp takes it as one).
        if is_fragment(bytes) {
            self.drop_unclaimed(DropReason::Fragment, source());
            return;
        }
        let advert = match Advertisement::parse(bytes) {
            Ok(a) => a,
            Err(e) => {
                self.drop_unclaimed(DropReason::Malformed(e), source());
                return;
            }
        };
        let source = advert.ip.source;
        // Our own multicast looped back (ucarp's filter: `src host not <srcip>`).
        if self
            .routers
            .values()
            .any(|e| e.link == link && e.router.config().source == source)
        {
            return;
        }
        if advert.ip.ttl != CARP_TTL {
            self.drop_unclaimed(DropReason::BadTtl(advert.ip.ttl), Some(source));
            return;
        }
        let vhid = advert.carp.vhid;
        let mut claimed = false;
        for e in self.routers.values_mut() {
            if e.link == link && e.router.config().vhid == vhid {
                e.router.handle_advert(now, &advert);
                claimed = true;
            }
        }
        if !claimed {
            self.drop_unclaimed(DropReason::UnknownVhid(vhid), Some(source));
        }
    }

    fn drop_unclaimed(&mut self, reason: DropReason, source: Option<Ipv4Addr>) {
        self.pending.push_back(Output {
            router: None,
            action: Action::Dropped { reason, source },
        });
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for e in self.routers.values_mut() {
            if e.router.poll_timeout().is_some_and(|t| t <= now) {
                e.router.handle_timeout(now);
            }
        }
    }

    /// `link` came up or went down.
    pub fn handle_link(&mut self, now: Instant, link: u32, up: bool) {
        for e in self.routers.values_mut() {
            if e.link == link {
                e.router.handle_link(now, up);
            }
        }
    }

    /// `link` came up or went down, for router `id` alone (a router that ignores the
    /// interface's state is told it is up).
    pub fn handle_router_link(&mut self, now: Instant, id: RouterId, up: bool) {
        if let Some(e) = self.routers.get_mut(&id) {
            e.router.handle_link(now, up);
        }
    }

    /// A command for every router.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        for e in self.routers.values_mut() {
            e.router.handle_command(now, command);
        }
    }

    /// A hook of `router` finished (or was cancelled or killed).
    pub fn handle_hook_done(&mut self, now: Instant, router: RouterId, hook: HookId) {
        if let Some(e) = self.routers.get_mut(&router) {
            e.router.handle_hook_done(now, hook);
        }
    }

    /// The next action of any router (routers in turn, each in its own order).
    pub fn poll_action(&mut self) -> Option<Output> {
        if let Some(output) = self.pending.pop_front() {
            return Some(output);
        }
        let start = self.next_router;
        let found = self
            .routers
            .range_mut(start..)
            .find_map(|(id, e)| Some((*id, e.router.poll_action()?)))
            .or_else(|| {
                self.routers
                    .range_mut(..start)
                    .find_map(|(id, e)| Some((*id, e.router.poll_action()?)))
            });
        let (id, action) = found?;
        self.next_router = id;
        Some(Output {
            router: Some(id),
            action,
        })
    }

    /// The earliest deadline of any router.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.routers
            .values()
            .filter_map(|e| e.router.poll_timeout())
            .min()
    }
}
