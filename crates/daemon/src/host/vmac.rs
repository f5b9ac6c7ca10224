//! A virtual MAC's macvlan follows its group: up only while the group is master, so that a
//! backup never answers for the VIPs or sends a frame from the virtual MAC. The group's hook
//! jobs bring it up and down in order with the VIPs; when it is found in the other state
//! (someone ran `ip link set up`, a network manager touched it), a job of the same queue puts
//! it back.

use super::input::{Effect, HookRequest};
use super::jobs::Job;
use super::Engine;
use crate::sys::iface::VipLink;
use carpd_proto::{RouterId, State};

impl Engine {
    /// What the macvlan `name` is now: a group that owns it and is in the other state
    /// queues the job that puts it right (a release while not master, a restore while master).
    pub(super) fn vmac_link_seen(&mut self, name: &str, state: VipLink) {
        if !state.present {
            return;
        }
        let owners: Vec<RouterId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.vmac.as_ref().is_some_and(|v| v.name == name))
            .map(|(router, _)| *router)
            .collect();
        for router in owners {
            let master = self.state(router) == State::Master;
            let tag = self.tag(router);
            let job = match (master, state.up) {
                (false, true) => {
                    tracing::warn!(
                        "{tag}{name} was brought up while not MASTER: taking it down (a backup must not answer from the virtual MAC)"
                    );
                    Job::Release
                }
                (true, false) => {
                    tracing::warn!("{tag}{name} was brought down while MASTER: bringing it up");
                    Job::Restore
                }
                _ => continue,
            };
            self.effects.push(Effect::Hook {
                router,
                request: HookRequest::Run(job),
            });
        }
    }
}
