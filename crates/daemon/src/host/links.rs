//! The links the groups run on, and whether each group's link can carry adverts now.

use super::input::LinkId;
use super::Engine;
use carpd_proto::{Instant, RouterId};

#[derive(Debug)]
pub(super) struct LinkState {
    pub(super) name: String,
    pub(super) mac: [u8; 6],
    pub(super) present: bool,
    pub(super) running: bool,
}

impl Engine {
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

    /// What is known of a link now: the groups on it follow (a new MAC is logged).
    pub(super) fn link_changed(
        &mut self,
        now: Instant,
        link: LinkId,
        present: bool,
        running: bool,
        mac: [u8; 6],
    ) {
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
    }

    /// Forgets a link no group uses any more.
    pub fn remove_link(&mut self, id: LinkId) {
        self.links.remove(&id);
    }
    /// Tells the core, group by group, whether the link can carry adverts (a group with
    /// ignore_ifstate ignores the carrier and the admin state, not the interface's absence).
    pub(super) fn refresh_link(&mut self, now: Instant, link: LinkId) {
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
}
