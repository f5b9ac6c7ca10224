//! One virtual router (one vhid on one interface): the CARP state machine.
//!
//! Methods come in two groups. Inputs: [`VirtualRouter::handle_timeout`],
//! [`VirtualRouter::handle_advert`], [`VirtualRouter::handle_link`],
//! [`VirtualRouter::handle_command`], [`VirtualRouter::handle_hook_done`]. Outputs:
//! [`VirtualRouter::poll_action`] (drain it to empty after every input) and
//! [`VirtualRouter::poll_timeout`] (read it after draining).

use crate::action::{Action, DropReason, HookKind, State, StateChangeReason};
use crate::config::{VrConfig, DEMOTE_HOLD};
use crate::rng::SplitMix64;
use crate::time::Instant;
use crate::wire::carp::{Advertisement, CarpRepr};
use crate::wire::ethernet::{multicast_mac, BROADCAST};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// How many recent counters a router remembers to drop exact replays.
const REPLAY_WINDOW: usize = 32;

/// An operator's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// SIGUSR2: a master bows out and stays backup for 3 s, then takes part again.
    Demote,
    /// Stop: a master bows out (and runs the down hook with `-z`); the router goes to INIT.
    Stop,
    /// Set the demote counter advertised and compared (OpenBSD rule: higher loses).
    SetDemote(u8),
}

/// A CARP virtual router.
#[derive(Debug)]
pub struct VirtualRouter {
    config: VrConfig,
    state: State,
    link_up: bool,
    demote: u8,
    /// BACKUP: when the master is declared dead (None while the link is down or on hold).
    master_down_at: Option<Instant>,
    /// MASTER: when the next advert is due.
    advert_at: Option<Instant>,
    /// BACKUP after a demote: adverts do not count for the election until then.
    hold_until: Option<Instant>,
    /// Adverts left before the delayed gratuitous ARP (ucarp `sc_delayed_arp`); 0 = none.
    delayed_arp: u8,
    /// The up hook is running; announce the VIP when it is done.
    announce_after_up_hook: bool,
    counter: u64,
    recent_counters: [Option<u64>; REPLAY_WINDOW],
    recent_next: usize,
    rng: SplitMix64,
    actions: VecDeque<Action>,
}

impl VirtualRouter {
    /// A router that starts now: INIT to BACKUP, the down hook unless `neutral`, and the
    /// master-down timer armed (the link is taken to be up; report otherwise with
    /// [`VirtualRouter::handle_link`]).
    pub fn new(config: VrConfig, now: Instant, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let counter = rng.next_u64();
        let mut vr = VirtualRouter {
            config,
            state: State::Init,
            link_up: true,
            demote: 0,
            master_down_at: None,
            advert_at: None,
            hold_until: None,
            delayed_arp: 0,
            announce_after_up_hook: false,
            counter,
            recent_counters: [None; REPLAY_WINDOW],
            recent_next: 0,
            rng,
            actions: VecDeque::new(),
        };
        vr.set_state(State::Backup, StateChangeReason::Startup);
        if !vr.config.neutral {
            vr.actions.push_back(Action::RunHook(HookKind::Down));
        }
        vr.master_down_at = Some(now + vr.config.master_down_interval());
        vr
    }

    /// The configuration.
    pub fn config(&self) -> &VrConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest instant at which [`VirtualRouter::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.master_down_at, self.advert_at, self.hold_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.hold_until.is_some_and(|t| t <= now) {
            self.hold_until = None;
            if self.state == State::Backup && self.link_up {
                self.master_down_at = Some(now + self.config.master_down_interval());
            }
        }
        match self.state {
            State::Backup if self.master_down_at.is_some_and(|t| t <= now) => {
                self.become_master(now, StateChangeReason::MasterDown);
            }
            State::Master if self.advert_at.is_some_and(|t| t <= now) => {
                self.send_advert(self.config.advbase, self.config.advskew);
                self.advert_at = Some(now + self.config.advert_interval());
            }
            _ => {}
        }
    }

    /// A well-formed advertisement for this vhid arrived (TTL and source already checked by
    /// the caller, see [`crate::Node::handle_packet`]).
    pub fn handle_advert(&mut self, now: Instant, advert: &Advertisement) {
        if self.state == State::Init || !self.link_up {
            return;
        }
        let carp = &advert.carp;
        let source = advert.ip.source;
        // ucarp carp.c packethandler: a different multicast destination is not for us.
        if advert.ip.destination != self.config.group {
            return self.drop(DropReason::WrongGroup(advert.ip.destination), source);
        }
        if !self.config.auth.verify(carp.counter, &carp.digest) {
            return self.drop(DropReason::BadDigest, source);
        }
        // ucarp accepts any counter; carpd also accepts any, but not one it has just seen.
        if self.recent_counters.contains(&Some(carp.counter)) {
            return self.drop(DropReason::Replay, source);
        }
        self.recent_counters[self.recent_next] = Some(carp.counter);
        self.recent_next = (self.recent_next + 1) % REPLAY_WINDOW;

        match self.state {
            State::Master => self.master_heard(now, carp, source),
            State::Backup => self.backup_heard(now, carp),
            State::Init => {}
        }
    }

    fn master_heard(&mut self, now: Instant, carp: &CarpRepr, source: Ipv4Addr) {
        if self.peer_is_preferred(carp, source) {
            // ucarp packethandler: one more advert "to be really sure the new master knows",
            // then BACKUP.
            self.send_advert(self.config.advbase, self.config.advskew);
            self.become_backup(StateChangeReason::PreferredMaster);
            self.master_down_at = Some(now + self.config.master_down_interval());
        } else {
            // ucarp packethandler: reassert with a GARP now and another with the second
            // following advert.
            self.announce();
            self.delayed_arp = 2;
        }
    }

    fn backup_heard(&mut self, now: Instant, carp: &CarpRepr) {
        if self.hold_until.is_some() {
            return;
        }
        let local = self.timing();
        let remote = timing(carp.advbase, carp.advskew);
        let reason = if carp.is_bow_out() {
            Some(StateChangeReason::MasterBowedOut)
        } else if carp.demote > self.demote {
            // OpenBSD carp_proto_input_c: a master with a higher demote count loses.
            Some(StateChangeReason::MasterDemoted)
        } else if self.config.preempt && carp.demote == self.demote && local < remote {
            Some(StateChangeReason::Preemption)
        } else if self.config.master_down_interval()
            < crate::time::advert_interval(carp.advbase, carp.advskew)
        {
            // ucarp packethandler "going to time out": the master's interval exceeds our
            // dead time, so it would be declared dead between two of its adverts.
            Some(StateChangeReason::MasterWillTimeOut)
        } else {
            None
        };
        match reason {
            Some(reason) => self.become_master(now, reason),
            None => self.master_down_at = Some(now + self.config.master_down_interval()),
        }
    }

    /// Whether an advert from `source` beats us while we are master.
    ///
    /// OpenBSD's demote rule first (lower demote wins), then timing (`advbase·256 + advskew`,
    /// smaller wins), then ucarp's tie-break: the peer wins when its address, read as the raw
    /// network-order word on a little-endian host, is smaller (ucarp.md §2.3). That orders by
    /// the last octet first; carpd does the same on every host so that mixed pairs agree.
    fn peer_is_preferred(&self, carp: &CarpRepr, source: Ipv4Addr) -> bool {
        if carp.demote != self.demote {
            return carp.demote < self.demote;
        }
        let local = self.timing();
        let remote = timing(carp.advbase, carp.advskew);
        if local != remote {
            return remote < local;
        }
        ucarp_address_order(source) < ucarp_address_order(self.config.source)
    }

    /// The link came up or went down.
    pub fn handle_link(&mut self, now: Instant, up: bool) {
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            if self.state == State::Backup {
                self.hold_until = None;
                self.master_down_at = Some(now + self.config.master_down_interval());
            }
        } else {
            if self.state == State::Master {
                self.become_backup(StateChangeReason::LinkDown);
            }
            self.master_down_at = None;
            self.hold_until = None;
        }
    }

    /// An operator's command.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Demote => {
                if self.state == State::Master {
                    self.bow_out();
                    self.become_backup(StateChangeReason::Demoted);
                    self.hold_until = Some(now + DEMOTE_HOLD);
                }
            }
            Command::Stop => {
                let was_master = self.state == State::Master;
                if was_master && self.link_up {
                    self.bow_out();
                }
                if self.state != State::Init {
                    self.set_state(State::Init, StateChangeReason::Stopped);
                }
                if was_master && self.config.down_hook_on_stop {
                    self.actions.push_back(Action::RunHook(HookKind::Down));
                }
                self.master_down_at = None;
                self.advert_at = None;
                self.hold_until = None;
                self.announce_after_up_hook = false;
            }
            Command::SetDemote(demote) => self.demote = demote,
        }
    }

    /// A hook the router asked for has finished (or was killed at its timeout).
    pub fn handle_hook_done(&mut self, _now: Instant, kind: HookKind) {
        if kind == HookKind::Up && self.announce_after_up_hook {
            self.announce_after_up_hook = false;
            if self.state == State::Master {
                self.announce();
            }
        }
    }

    fn timing(&self) -> u32 {
        timing(self.config.advbase, self.config.advskew)
    }

    fn become_master(&mut self, now: Instant, reason: StateChangeReason) {
        self.set_state(State::Master, reason);
        self.master_down_at = None;
        self.hold_until = None;
        self.actions.push_back(Action::RunHook(HookKind::Up));
        // The first GARP waits for the up hook (the VIP must be on the interface when
        // clients switch); the advert goes out at once so that the old master steps down.
        self.announce_after_up_hook = true;
        self.send_advert(self.config.advbase, self.config.advskew);
        // ucarp carp_master_down: a second GARP with the third advert.
        self.delayed_arp = 2;
        self.advert_at = Some(now + self.config.advert_interval());
    }

    fn become_backup(&mut self, reason: StateChangeReason) {
        self.set_state(State::Backup, reason);
        self.advert_at = None;
        self.delayed_arp = 0;
        self.announce_after_up_hook = false;
        self.actions.push_back(Action::RunHook(HookKind::Down));
    }

    fn set_state(&mut self, to: State, reason: StateChangeReason) {
        let from = self.state;
        self.state = to;
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }

    fn announce(&mut self) {
        for &vip in &self.config.vips {
            self.actions.push_back(Action::Garp { vip });
        }
    }

    fn send_advert(&mut self, advbase: u8, advskew: u8) {
        self.counter = self.counter.wrapping_add(1);
        let carp = CarpRepr {
            vhid: self.config.vhid,
            advskew,
            demote: self.demote,
            advbase,
            counter: self.counter,
            digest: self.config.auth.digest(self.counter),
        };
        let ident = self.rng.next_u64() as u16;
        let advert = Advertisement::outgoing(self.config.source, self.config.group, ident, carp);
        let link_destination = if self.config.broadcast {
            BROADCAST
        } else {
            multicast_mac(self.config.group)
        };
        self.actions.push_back(Action::SendAdvert {
            packet: advert.emit(),
            link_destination,
        });
        if self.delayed_arp > 0 {
            self.delayed_arp -= 1;
            if self.delayed_arp == 0 {
                self.announce();
            }
        }
    }

    /// The bow-out advert (OpenBSD carp_send_ad: advbase 255, advskew 255): every backup,
    /// ucarp's included, takes over on receipt instead of waiting for the dead time.
    fn bow_out(&mut self) {
        self.delayed_arp = 0;
        self.send_advert(255, 255);
    }

    fn drop(&mut self, reason: DropReason, source: Ipv4Addr) {
        self.actions.push_back(Action::Dropped {
            reason,
            source: Some(source),
        });
    }
}

/// `advbase·256 + advskew`: the preference order of two routers (smaller is preferred).
fn timing(advbase: u8, advskew: u8) -> u32 {
    u32::from(advbase) * 256 + u32::from(advskew)
}

/// ucarp's tie-break key: the address's network-order bytes read as a little-endian word,
/// which is what `ip_src.s_addr < srcip.s_addr` compares on x86.
pub fn ucarp_address_order(address: Ipv4Addr) -> u32 {
    u32::from_le_bytes(address.octets())
}
