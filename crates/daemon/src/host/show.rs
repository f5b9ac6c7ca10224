//! How the host shows itself: `carpctl status` rows and events built from the groups,
//! systemd's one-line summary, the notify script's environment, and the log lines in ucarp's
//! wording.

use super::groups::Group;
use super::input::Effect;
use super::report::{Event, GroupRef, GroupStatus, ProtocolStatus, Vrrp2Status, Vrrp3Status};
use super::Engine;
use carpd_proto::{Instant, RouterId, State, StateChangeReason};
use std::net::IpAddr;

/// How often disagreeing adverts of one group are logged at most.
const MISMATCH_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Engine {
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
                    protocol: protocol_status(vr),
                    demote: vr.demote(),
                    drained: vr.is_drained(),
                    fault: vr.is_faulted(),
                    demotion: verdict.demotion,
                    demote_by: group.demote_by,
                    track,
                    sync: group.sync.clone(),
                    fault_causes: verdict.faulted_by,
                    master: vr.master(),
                    peers: vr.config().peers.clone(),
                    unicast_ttl_check: vr.config().unicast_ttl_check,
                    stats: vr.stats(),
                    drops: self.ledger.of_group(router),
                    vip_interface: self.vip_interface_of(group).unwrap_or("?").to_string(),
                })
            })
            .collect())
    }

    pub(super) fn group_ref(&self, router: RouterId) -> Option<GroupRef> {
        let group = self.groups.get(&router)?;
        Some(GroupRef {
            group: group.name.clone(),
            interface: self.links.get(&group.link)?.name.clone(),
            vhid: group.vhid,
        })
    }

    /// The group as its metrics label it (none for a group that is gone).
    pub(super) fn labels(&self, router: RouterId) -> Option<super::tallies::GroupLabels> {
        let at = self.group_ref(router)?;
        Some(super::tallies::GroupLabels {
            group: at.group,
            interface: at.interface,
            vhid: at.vhid,
        })
    }

    /// Leaves the event `make` builds for this group (none for a group that is gone).
    pub(super) fn emit(&mut self, router: RouterId, make: impl FnOnce(GroupRef) -> Event) {
        if let Some(group) = self.group_ref(router) {
            self.effects.push(Effect::Event(Box::new(make(group))));
        }
    }

    /// `[name] ` in config mode, nothing in command-line mode (ucarp's exact lines).
    pub(super) fn tag(&self, router: RouterId) -> String {
        match self.groups.get(&router) {
            Some(g) if self.named_logs => format!("[{}] ", g.name),
            _ => String::new(),
        }
    }
    /// ucarp's SIGUSR1 line for one group, e.g. "MASTER on eth0 id 7".
    pub(super) fn status_line(&self, router: RouterId, group: &Group) -> String {
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

    pub(super) fn status(&self) {
        for (router, group) in &self.groups {
            tracing::info!("{}", self.status_line(*router, group));
        }
        for (kind, total) in self.ledger.totals() {
            tracing::info!("dropped {kind}: {total}");
        }
    }
    /// A group changed state: ucarp's log lines, the event, the metrics' transition, the
    /// notify script.
    pub(super) fn state_changed(
        &mut self,
        now: Instant,
        router: RouterId,
        from: State,
        to: State,
        reason: StateChangeReason,
    ) {
        log_state_change(&self.tag(router), to, reason);
        if let Some(group) = self.groups.get_mut(&router) {
            group.since = now;
        }
        if let Some(labels) = self.labels(router) {
            self.tallies.transition(&labels, to);
        }
        self.emit(router, |group| Event::State {
            group,
            from: from.as_str().into(),
            to: to.as_str().into(),
            reason: reason.as_str().into(),
        });
        self.notify(router, from, to, reason);
    }

    /// An advert that disagrees with the group (the core counted it): logged at once, then at
    /// most once a minute with how many came meanwhile.
    pub(super) fn mismatch(
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
            .filter(|r| r.config().protocol.is_vrrp())
            .map(|r| (r.config().advert_interval().as_millis() / 10) as u16);
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
    pub(super) fn notify(
        &mut self,
        router: RouterId,
        from: State,
        to: State,
        reason: StateChangeReason,
    ) {
        let tag = self.tag(router);
        let (Some(group), Some(at)) = (self.groups.get(&router), self.group_ref(router)) else {
            return;
        };
        let Some((argv, timeout)) = &group.notify else {
            return;
        };
        self.effects
            .push(Effect::Notify(Box::new(super::jobs::Notification {
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
            })));
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

/// A router's protocol as `carpctl status` shows it: CARP's timing in effect and configured,
/// or VRRP's values.
fn protocol_status(vr: &carpd_proto::VirtualRouter) -> ProtocolStatus {
    let v2_auth = vr.config().vrrp2_auth().map(|a| a.name());
    match vr.config().protocol {
        carpd_proto::Protocol::Carp(carp) => ProtocolStatus::Carp {
            advbase: carp.advbase,
            advskew: vr.advskew(),
            configured_advskew: carp.advskew,
        },
        carpd_proto::Protocol::Vrrp3(p) => ProtocolStatus::Vrrp3(Vrrp3Status {
            priority: vr.priority(),
            configured_priority: p.priority,
            advert_interval_cs: p.interval_cs,
            master_advert_interval: vr.master_interval(),
            v3_checksum: p.checksum.as_str(),
            peer_v3_checksum: vr.peer_checksum().map(|c| c.as_str()),
            accept_mode: p.accept_mode,
            vrrp2_compat: v2_auth,
        }),
        carpd_proto::Protocol::Vrrp2(p) => ProtocolStatus::Vrrp2(Vrrp2Status {
            priority: vr.priority(),
            configured_priority: p.priority,
            advert_interval_s: p.interval_s,
            master_advert_interval: vr.master_interval(),
            auth_type: v2_auth.unwrap_or("none"),
        }),
    }
}
