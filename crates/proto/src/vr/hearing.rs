//! What a router does with an advert that passed its protocol's checks: the election proper
//! (docs/protocol.md §6, "Election"; RFC 9568 §6.4). Which claim wins and what each protocol
//! does on a departure or a better master is asked of [`crate::election`]; the phases are
//! [`super::Phase`]'s.

use super::{Phase, VirtualRouter};
use crate::action::{DropReason, HookId, StateChangeReason};
use crate::election::{Departure, Heard};
use crate::time::Instant;

impl VirtualRouter {
    /// An advert that passed its protocol's checks: the election proper.
    pub(super) fn heard(&mut self, now: Instant, heard: Heard) {
        self.stats.adverts_received += 1;
        if self.set_aside_stranger(now, &heard) {
            return;
        }
        if !heard.leaving {
            self.followed = Some((heard.source, heard.preference, now));
        } else if self
            .followed
            .is_some_and(|(source, ..)| source == heard.source)
        {
            self.followed = None;
        }
        if !heard.leaving {
            self.master = Some(heard.source);
            if self.config.protocol.follows_master_interval() {
                self.master_interval = Some(heard.interval);
            }
        } else if self.master == Some(heard.source) {
            self.master = None;
        }

        match self.phase {
            Phase::Master { up_hook, .. } => self.master_heard(now, &heard, up_hook),
            Phase::TakingOver { up_hook, .. } => self.taking_over_heard(now, &heard, up_hook),
            Phase::Backup { hold_until, .. } => {
                if hold_until.is_none() {
                    self.backup_heard(now, &heard);
                }
            }
            Phase::Drained | Phase::Fault | Phase::Init => {}
        }
    }

    /// Whether a backup that follows a live master sets `heard` aside: it comes from another
    /// router that does not beat that master, so it is no reason to take over (a stranger
    /// with a worse claim, a forged departure). Such a router that beats this backup may be
    /// the next master (three routers: the best one died and the second took over before
    /// this one's longer dead time ran out), so its adverts keep the master-down timer
    /// armed; the others are dropped and counted. Once the followed master has been silent
    /// for the master-down interval, every advert counts as usual again.
    pub(super) fn set_aside_stranger(&mut self, now: Instant, heard: &Heard) -> bool {
        let Phase::Backup {
            hold_until: None, ..
        } = self.phase
        else {
            return false;
        };
        let Some((master, claim, at)) = self.followed else {
            return false;
        };
        if heard.source == master || now >= at + self.master_down_interval() {
            return false;
        }
        let beats_master = heard.preference < claim
            || (heard.preference == claim
                && self.config.protocol.peer_wins_tie(heard.source, master));
        if beats_master && !heard.leaving {
            return false;
        }
        if !heard.leaving && self.peer_is_preferred(heard) {
            self.arm_master_down(now);
        } else {
            self.drop(DropReason::NotTheMaster { master }, heard.source);
        }
        true
    }

    /// Sends the regular advert now and schedules the next one an interval later.
    pub(super) fn advertise_now(&mut self, now: Instant) {
        self.send_advert(false);
        self.last_advert_at = Some(now);
        let next = now + self.advert_interval();
        if let Phase::Master { advert_at, .. } = &mut self.phase {
            *advert_at = next;
        }
    }

    pub(super) fn master_heard(&mut self, now: Instant, heard: &Heard, up_hook: Option<HookId>) {
        if self.peer_is_preferred(heard) {
            // ucarp packethandler (docs/protocol.md §6): one more advert "to be really sure the
            // new master knows", then BACKUP. VRRPv3 (RFC 9568 §6.4.3) steps down without one.
            if self.config.protocol.last_advert_on_step_down() {
                self.send_advert(false);
            }
            self.become_backup(StateChangeReason::PreferredMaster);
            self.master = Some(heard.source);
            self.arm_master_down(now);
        } else {
            // A worse master: a partition has healed, or it has just started. Advertise now,
            // so that it steps down within a round trip instead of an advert interval; but
            // no sooner than a quarter interval after the last advert (the next one is brought
            // forward to then), so that a peer that never steps down cannot make us send one
            // advert per packet it sends.
            let quarter = self.advert_interval() / 4;
            let allowed = self.last_advert_at.map(|last| last + quarter);
            match (&mut self.phase, allowed) {
                (Phase::Master { advert_at, .. }, Some(allowed)) if now < allowed => {
                    *advert_at = (*advert_at).min(allowed);
                }
                (Phase::Master { .. }, _) => self.advertise_now(now),
                _ => {}
            }
            if up_hook.is_none() {
                // ucarp packethandler (docs/protocol.md §6): reassert with a GARP now and another with the second
                // following advert (once the VIP is up: before, the up hook will announce
                // it), so that clients and switches that followed the other master come back.
                self.announce();
                self.set_delayed_arp(2);
            }
        }
    }

    pub(super) fn taking_over_heard(&mut self, now: Instant, heard: &Heard, up_hook: HookId) {
        if heard.leaving {
            // The master we were waiting to replace has left: claim the group at once.
            self.start_advertising(now, Some(up_hook));
        } else if self.peer_is_preferred(heard) {
            // A master we do not beat (a third router, or the old one got better): give up.
            self.become_backup(StateChangeReason::PreferredMaster);
            self.master = Some(heard.source);
            self.arm_master_down(now);
        } else {
            // The old master still serves: keep waiting for our up hook.
            self.phase = Phase::TakingOver {
                up_hook,
                master_down_at: now + self.master_down_interval(),
            };
        }
    }

    pub(super) fn backup_heard(&mut self, now: Instant, heard: &Heard) {
        if heard.leaving {
            return match self.config.protocol.departure() {
                Departure::TakeOverNow => {
                    self.become_master(now, StateChangeReason::MasterBowedOut)
                }
                Departure::AfterSkewTime => {
                    self.down_reason = StateChangeReason::MasterLeft;
                    self.phase = Phase::Backup {
                        master_down_at: Some(now + self.skew_time()),
                        hold_until: None,
                    };
                }
            };
        }
        let local = self.preference();
        let remote = heard.preference;
        // preempt_delay: services here are still warming up, so a live master that serves
        // keeps serving (it is still replaced when it dies, bows out or will time out).
        let warming_up = self.preempt_hold_until.is_some_and(|until| now < until);
        // Every other reason to take over is about a master that is alive and serving.
        let reason = if remote.demote > local.demote && !warming_up {
            // OpenBSD carp_proto_input_c: a master with a higher demote count loses.
            Some(StateChangeReason::MasterDemoted)
        } else if self.config.preempt
            && remote.demote == local.demote
            && local.rank < remote.rank
            && !warming_up
        {
            Some(StateChangeReason::Preemption)
        } else if self.config.protocol.replaces_masters_too_slow_for_it()
            && self.master_down_interval() < heard.interval
        {
            // ucarp packethandler "going to time out" (docs/protocol.md §6): the master's interval exceeds our
            // dead time, so it would be declared dead between two of its adverts. (A VRRPv3
            // backup times the master by its own advertised interval.)
            Some(StateChangeReason::MasterWillTimeOut)
        } else {
            None
        };
        match reason {
            Some(reason) => self.take_over(now, reason),
            None => self.arm_master_down(now),
        }
    }

    /// Whether an advert beats us while we are master: the smaller [`Preference`] (CARP's
    /// demote counter, then its timing; VRRPv3's priority), then the protocol's tie-break
    /// ([`crate::election::peer_wins_tie`]).
    pub(super) fn peer_is_preferred(&self, heard: &Heard) -> bool {
        let local = self.preference();
        if heard.preference != local {
            return heard.preference < local;
        }
        self.config
            .protocol
            .peer_wins_tie(heard.source, self.config.source)
    }
}
