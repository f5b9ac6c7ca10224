//! One verdict per group from its trackers, its sync group and its VIP interface, and the
//! core told of it (FAULT, demotion on the demote byte or on advskew).

use super::groups::{Applied, Group};
use super::input::Effect;
use super::report::Event;
use super::tracker_health::{Change, TrackerHealth, Verdict};
use super::Engine;
use crate::settings::tracking::{DemoteBy, TrackerSettings};
use crate::sys::iface::VipLink;
use carpd_proto::{Command, Instant, RouterId, State};

impl Engine {
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
    pub fn trackers(&self) -> impl Iterator<Item = (&String, &TrackerHealth)> {
        self.health.all()
    }

    pub(super) fn tracker_event(&mut self, change: Change) {
        self.effects.push(Effect::Event(Box::new(Event::Tracker {
            tracker: change.tracker,
            healthy: change.healthy,
            detail: change.detail,
        })));
    }

    pub(super) fn tracker_observed(
        &mut self,
        now: Instant,
        tracker: String,
        ok: bool,
        detail: String,
    ) {
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
    pub(super) fn verdict_of(&self, router: RouterId) -> Verdict {
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
            .map(|g| &**g)
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
    /// exist (yet), or it is down (the kernel routes to no address of a down interface). A
    /// virtual MAC's macvlan is down by design while the group is not master: only its
    /// absence counts.
    pub(super) fn vip_link_fault(&self, group: &Group) -> Option<String> {
        if let Some(vmac) = &group.vmac {
            let present = self.vip_links.get(&vmac.name).is_some_and(|l| l.present);
            return (!present).then(|| format!("vmac_interface {} does not exist", vmac.name));
        }
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
    pub(super) fn apply_health(&mut self, now: Instant, router: RouterId) {
        let tag = self.tag(router);
        let verdict = self.verdict_of(router);
        let Some(group) = self.groups.get_mut(&router) else {
            return;
        };
        let (demote, skew) = match group.demote_by {
            DemoteBy::Demote => (verdict.demotion, 0),
            DemoteBy::Advskew => (0, verdict.demotion),
        };
        let now_applied = Applied {
            fault: !verdict.faulted_by.is_empty(),
            demote,
            skew,
        };
        let was = std::mem::replace(&mut group.applied, now_applied);
        let demote_by = group.demote_by;
        if now_applied.fault != was.fault {
            self.set_fault(now, router, &tag, now_applied.fault, &verdict);
        }
        if (demote, skew) != (was.demote, was.skew) {
            self.set_demotion(now, router, &tag, now_applied, verdict.demotion, demote_by);
        }
        self.drain(now);
    }

    /// Puts a group in FAULT or takes it out, with the log line that says why.
    fn set_fault(
        &mut self,
        now: Instant,
        router: RouterId,
        tag: &str,
        fault: bool,
        verdict: &Verdict,
    ) {
        if fault {
            let master = self.state(router) == State::Master;
            tracing::warn!(
                "{tag}FAULT ({}): {}not competing until that is over",
                verdict.faulted_by.join("; "),
                if master { "bowing out, " } else { "" }
            );
        } else {
            tracing::warn!(
                "{tag}Fault over (trackers healthy, sync group links up, VIP interface usable): leaving FAULT"
            );
        }
        self.node
            .handle_router_command(now, router, Command::SetFault(fault));
        self.drain(now);
    }

    /// Gives the core a group's new demotion (demote byte and advskew demotion), with the log
    /// line and the `demotion` event that show what is advertised now.
    fn set_demotion(
        &mut self,
        now: Instant,
        router: RouterId,
        tag: &str,
        applied: Applied,
        demotion: u8,
        demote_by: DemoteBy,
    ) {
        self.node
            .handle_router_command(now, router, Command::SetDemote(applied.demote));
        self.node
            .handle_router_command(now, router, Command::SetSkewDemotion(applied.skew));
        let Some(vr) = self.node.router(router) else {
            return;
        };
        let (demote, advskew) = (vr.demote(), vr.advskew());
        let priority = vr.config().protocol.is_vrrp().then(|| vr.priority());
        match priority {
            Some(priority) => tracing::warn!(
                "{tag}Demotion {demotion} (failed trackers' weights): advertising priority {priority}"
            ),
            None => tracing::warn!(
                "{tag}Demotion {demotion} (failed trackers' weights): advertising demote {demote}, advskew {advskew}"
            ),
        }
        self.emit(router, |group| Event::Demotion {
            group,
            demotion,
            demote_by: demote_by.as_str().into(),
            demote,
            advskew,
            priority,
        });
    }
}
