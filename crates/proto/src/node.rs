//! A node: the virtual routers of one host, with packets routed by (interface, vhid).

use crate::action::{Action, DropReason};
use crate::config::VrConfig;
use crate::time::Instant;
use crate::vr::{Command, VirtualRouter};
use crate::wire::carp::Advertisement;
use crate::wire::ipv4::{is_fragment, CARP_TTL};
use crate::HookId;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// Index of a router in its node, in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub usize);

/// An action with the router it comes from (`None` for packets no router claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// the router, if any
    pub router: Option<RouterId>,
    /// what to do
    pub action: Action,
}

/// All virtual routers of a host.
#[derive(Debug, Default)]
pub struct Node {
    routers: Vec<(u32, VirtualRouter)>,
    unclaimed: VecDeque<Action>,
    next_router: usize,
}

impl Node {
    /// An empty node.
    pub fn new() -> Self {
        Node::default()
    }

    /// Adds a router on interface `ifindex`; it starts at `now` (see [`VirtualRouter::new`]).
    pub fn add_router(
        &mut self,
        ifindex: u32,
        config: VrConfig,
        now: Instant,
        seed: u64,
    ) -> RouterId {
        self.routers
            .push((ifindex, VirtualRouter::new(config, now, seed)));
        RouterId(self.routers.len() - 1)
    }

    /// A router by id.
    pub fn router(&self, id: RouterId) -> Option<&VirtualRouter> {
        self.routers.get(id.0).map(|(_, vr)| vr)
    }

    /// An IPv4 packet (from the IP header on) arrived on `ifindex`.
    ///
    /// Checks in ucarp's order where it has one (ucarp.md §1.7): fragments are dropped (ucarp
    /// does not look), then own packets are ignored, then TTL 255, then the header (codec),
    /// then vhid; the router checks group, HMAC and replay.
    pub fn handle_packet(&mut self, now: Instant, ifindex: u32, bytes: &[u8]) {
        let source = || {
            bytes
                .get(12..16)
                .map(|s| Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        };
        // Adverts are never fragmented: a fragment that happens to hold a whole advert's
        // bytes must not count as one (ucarp takes it as one).
        if is_fragment(bytes) {
            self.unclaimed.push_back(Action::Dropped {
                reason: DropReason::Fragment,
                source: source(),
            });
            return;
        }
        let advert = match Advertisement::parse(bytes) {
            Ok(a) => a,
            Err(e) => {
                self.unclaimed.push_back(Action::Dropped {
                    reason: DropReason::Malformed(e),
                    source: source(),
                });
                return;
            }
        };
        let source = advert.ip.source;
        // Our own multicast looped back (ucarp's filter: `src host not <srcip>`).
        if self
            .routers
            .iter()
            .any(|(i, vr)| *i == ifindex && vr.config().source == source)
        {
            return;
        }
        if advert.ip.ttl != CARP_TTL {
            self.unclaimed.push_back(Action::Dropped {
                reason: DropReason::BadTtl(advert.ip.ttl),
                source: Some(source),
            });
            return;
        }
        let vhid = advert.carp.vhid;
        let mut claimed = false;
        for (i, vr) in self.routers.iter_mut() {
            if *i == ifindex && vr.config().vhid == vhid {
                vr.handle_advert(now, &advert);
                claimed = true;
            }
        }
        if !claimed {
            self.unclaimed.push_back(Action::Dropped {
                reason: DropReason::UnknownVhid(vhid),
                source: Some(source),
            });
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (_, vr) in self.routers.iter_mut() {
            if vr.poll_timeout().is_some_and(|t| t <= now) {
                vr.handle_timeout(now);
            }
        }
    }

    /// The link of `ifindex` came up or went down.
    pub fn handle_link(&mut self, now: Instant, ifindex: u32, up: bool) {
        for (i, vr) in self.routers.iter_mut() {
            if *i == ifindex {
                vr.handle_link(now, up);
            }
        }
    }

    /// A command for every router.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        for (_, vr) in self.routers.iter_mut() {
            vr.handle_command(now, command);
        }
    }

    /// A hook of `router` finished (or was cancelled or killed).
    pub fn handle_hook_done(&mut self, now: Instant, router: RouterId, hook: HookId) {
        if let Some((_, vr)) = self.routers.get_mut(router.0) {
            vr.handle_hook_done(now, hook);
        }
    }

    /// The next action of any router (routers in turn, each in its own order).
    pub fn poll_action(&mut self) -> Option<Output> {
        if let Some(action) = self.unclaimed.pop_front() {
            return Some(Output {
                router: None,
                action,
            });
        }
        let start = self.next_router;
        let n = self.routers.len();
        for k in 0..n {
            let i = (start + k) % n;
            if let Some(action) = self.routers[i].1.poll_action() {
                self.next_router = i;
                return Some(Output {
                    router: Some(RouterId(i)),
                    action,
                });
            }
        }
        None
    }

    /// The earliest deadline of any router.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.routers
            .iter()
            .filter_map(|(_, vr)| vr.poll_timeout())
            .min()
    }
}
