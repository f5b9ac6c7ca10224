//! The VIPs of each group: where they are, an address someone removed, native changes the
//! kernel refused and their retries, and the end of a hook job.

use super::groups::Group;
use super::input::{Effect, HookRequest, LinkId};
use super::jobs::Job;
use super::Engine;
use carpd_proto::{Instant, RouterId, State};
use std::net::IpAddr;

impl Engine {
    /// The interface a group's VIPs are on: its virtual MAC's macvlan or its
    /// `vip_interface`, else its link's.
    pub(super) fn vip_interface_of<'a>(&'a self, group: &'a Group) -> Option<&'a str> {
        match group.vips_elsewhere() {
            Some(name) => Some(name),
            None => self.links.get(&group.link).map(|l| l.name.as_str()),
        }
    }

    /// `address` was removed from interface `name`, where the groups `holds_vips_there` keep
    /// their VIPs: a master whose VIP it was puts it back (native mode) or says so (scripts).
    pub(super) fn address_removed(
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

    /// A route was removed: a native master whose route it was puts its VIPs and routes
    /// back (each already there is left as it is).
    pub(super) fn route_removed(&mut self, destination: IpAddr, prefix: u8, table: u32) {
        let found = self.groups.iter().find(|(r, g)| {
            g.native
                && g.routes.contains(&(destination, prefix, table))
                && self.state(**r) == State::Master
        });
        let Some((&router, _)) = found else {
            return;
        };
        let tag = self.tag(router);
        tracing::warn!(
            "{tag}Route {destination}/{prefix} (table {table}) was removed while MASTER: putting it back"
        );
        self.effects.push(Effect::Hook {
            router,
            request: HookRequest::Run(Job::Restore),
        });
    }

    /// How a native VIP change went: an add the kernel refused faults the group (it bows out
    /// and the peer takes over) until a retry; a refused removal is tried again later.
    pub(super) fn native_change_done(
        &mut self,
        now: Instant,
        router: RouterId,
        job: Job,
        report: &super::jobs::HookReport,
    ) {
        let tag = self.tag(router);
        let Some(group) = self.groups.get_mut(&router).filter(|g| g.native) else {
            return;
        };
        if matches!(job, Job::Reconcile) {
            return;
        }
        let failed = report.result == super::jobs::HookResult::Failed;
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
        self.refile_retry(router);
    }

    /// Files `router` among the groups with a retry pending, or takes it out.
    fn refile_retry(&mut self, router: RouterId) {
        let pending = self
            .groups
            .get(&router)
            .is_some_and(|g| g.vip_retry.next().is_some());
        if pending {
            self.retrying.insert(router);
        } else {
            self.retrying.remove(&router);
        }
    }

    /// Retries of refused VIP changes that fell due: a lifted add fault lets the group compete
    /// again; a removal is tried again unless the group is MASTER again by now.
    pub(super) fn vip_retries_due(&mut self, now: Instant) {
        let routers: Vec<RouterId> = self
            .retrying
            .iter()
            .filter(|r| {
                self.groups
                    .get(r)
                    .is_some_and(|g| g.vip_retry.next().is_some_and(|t| t <= now))
            })
            .copied()
            .collect();
        for router in routers {
            let master = self.state(router) == State::Master;
            let tag = self.tag(router);
            let Some(group) = self.groups.get_mut(&router) else {
                continue;
            };
            let due = group.vip_retry.take_due(now);
            self.refile_retry(router);
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

    /// A hook job is over: counted for the metrics when something ran, a native change's
    /// outcome taken in, then the core told (or the VIPs announced after a restore).
    pub(super) fn hook_finished(
        &mut self,
        now: Instant,
        router: RouterId,
        job: Job,
        report: Option<super::jobs::HookReport>,
    ) {
        if let Some(report) = report {
            if let Some(labels) = self.labels(router) {
                self.tallies.hook(&labels, &report);
            }
            self.native_change_done(now, router, job, &report);
        }
        self.hook_done(now, router, job);
    }

    /// An address was removed from a link: only groups whose VIPs are on their link care (a
    /// VIP interface has its own input).
    pub(super) fn link_address_removed(&mut self, link: LinkId, address: IpAddr) {
        let name = self
            .links
            .get(&link)
            .map_or("?", |l| l.name.as_str())
            .to_string();
        self.address_removed(&name, address, |g| {
            g.link == link && g.vips_elsewhere().is_none()
        });
    }

    /// Tells the core a hook job is over (the announcements a restore or reconcile calls for
    /// come as its actions, drained after this input).
    pub(super) fn hook_done(&mut self, now: Instant, router: RouterId, job: Job) {
        match job {
            Job::Hook { id, .. } => self.node.handle_hook_done(now, router, id),
            Job::Release => {}
            // The VIPs are up again (or anew): the core announces them when it is master
            // with its VIPs up, its own rule for every announcement.
            Job::Restore | Job::Reconcile => self.node.announce_vips(router),
        }
    }
}
