//! One virtual router (one vhid on one interface): the state machine that CARP, VRRPv3 and
//! VRRPv2 share. What differs between them (what an advert says, who is preferred, the timers) is in
//! [`crate::election`]; the phases, hooks, drains, faults and take-overs are the same.
//!
//! Methods come in two groups. Inputs: [`VirtualRouter::handle_timeout`],
//! [`VirtualRouter::handle_advert`], [`VirtualRouter::handle_link`],
//! [`VirtualRouter::handle_command`], [`VirtualRouter::handle_hook_done`]. Outputs:
//! [`VirtualRouter::poll_action`] (drain it to empty after every input) and
//! [`VirtualRouter::poll_timeout`] (read it after draining).
//!
//! The protocol facts behind it are in docs/protocol.md: the advert (§1), its HMAC and counter
//! (§2, §3), what a receiver checks (§4), gratuitous ARP (§5), timers and the election (§6),
//! scripts (§7), VRRPv3 (§9) and VRRPv2 (§10).

use crate::action::{Action, DropReason, HookId, HookKind, State, StateChangeReason};
use crate::config::{VrConfig, DEMOTE_HOLD};
use crate::election::{Heard, Preference};
use crate::rng::SplitMix64;
use crate::time::Instant;
use crate::wire::carp::Advertisement;
use crate::wire::vrrp3::Checksum;
use core::time::Duration;
use smallvec::SmallVec;
use std::net::IpAddr;

mod hearing;
mod replays;
mod stall;
mod vrrp;

use replays::Replays;

/// The most a master's advert goes out ahead of its deadline to share another router's
/// wake-up (see [`VirtualRouter::advert_slack`]).
pub const ADVERT_SLACK_MAX: Duration = Duration::from_millis(16);

/// An operator's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// SIGUSR2: a master bows out and stays backup for 3 s, then takes part again.
    Demote,
    /// Stop: a master bows out (and runs the down hook with `-z`); the router goes to INIT.
    Stop,
    /// Set the demote counter advertised and compared (OpenBSD rule: higher loses).
    SetDemote(u8),
    /// The operator's drain (`carpctl demote`): a master bows out at once and the router
    /// stays BACKUP, taking no part in the election, until [`Command::Resume`].
    Drain,
    /// Ends a drain: the router takes part in the election again (as a backup that has just
    /// heard nothing).
    Resume,
    /// Enter (`true`) or leave (`false`) FAULT. Entering: a master bows out at once (so every
    /// backup, ucarp's too, takes over without waiting the dead time) and runs its down hook;
    /// in FAULT the router neither advertises nor competes. Leaving: BACKUP with the
    /// master-down timer armed (or drained, when the operator drained it meanwhile).
    SetFault(bool),
    /// Add this much to the configured advskew, in what is advertised and compared (a
    /// tracker's weight with `demote_by = "advskew"`: ucarp peers honour advskew, not the
    /// demote byte). Capped so that adverts never read as a bow-out.
    SetSkewDemotion(u8),
}

/// What a router counted since it started (RFC 8347's counters where they apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// adverts sent, bow-outs included
    pub adverts_sent: u64,
    /// adverts received that verified and were used
    pub adverts_received: u64,
    /// state changes, the start-up INIT to BACKUP included
    pub transitions: u64,
    /// VRRPv3 adverts used although their address list or interval differs from ours
    pub advert_mismatches: u64,
}

/// Whether [`VirtualRouter::reconfigure`] could apply a change in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconfigured {
    /// Timing, VIPs, source, group or flags: the state and its timers are kept.
    InPlace,
    /// The vhid or the password changed: peers cannot know us as the same router, so it
    /// bowed out (when master) and started again as BACKUP.
    Restarted,
}

/// Where a router is, with the timers that belong to that place (an impossible combination,
/// such as an advert timer in BACKUP, cannot be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not taking part.
    Init,
    /// Listening for the master.
    Backup {
        /// When the master is declared dead (None while the link is down or on hold).
        master_down_at: Option<Instant>,
        /// After a demote: adverts do not count for the election until then.
        hold_until: Option<Instant>,
    },
    /// Taking over from a live master that we beat (preemption, a demoted master, a master
    /// whose interval exceeds our dead time): MASTER for the hooks and the logs, but silent on
    /// the wire until the up hook is done, so that the old master keeps serving until we can.
    TakingOver {
        /// the up hook we wait for
        up_hook: HookId,
        /// When the old master is declared dead: then advertise without waiting for the hook.
        master_down_at: Instant,
    },
    /// Drained by the operator: BACKUP, no timer, adverts heard but not acted upon.
    Drained,
    /// Something the group depends on failed: no timer, adverts heard but not acted upon.
    Fault,
    /// Advertising.
    Master {
        /// When the next advert is due.
        advert_at: Instant,
        /// The up hook until it has finished: the VIP is announced then, not before.
        up_hook: Option<HookId>,
        /// Adverts left before the delayed gratuitous ARP (ucarp `sc_delayed_arp`,
        /// docs/protocol.md §5); 0 = none.
        delayed_arp: u8,
    },
}

impl Phase {
    /// BACKUP with no timer: the link is down, or the caller arms one next.
    const IDLE_BACKUP: Phase = Phase::Backup {
        master_down_at: None,
        hold_until: None,
    };
}

/// A CARP virtual router.
///
/// Hooks and the holder of the VIP: a router asks for the up hook when it becomes MASTER and
/// for the down hook when it leaves (and at start-up unless `neutral`); hooks run in order.
/// Leaving MASTER while the up hook is queued or running cancels it first
/// ([`Action::CancelHook`]), so a slow up script cannot finish after the down script and leave
/// two holders. Taking over from a live master waits for the up hook before the first advert
/// (see [`Phase::TakingOver`]), so a slow script cannot leave the VIP without a holder.
/// Taking over from a dead or departed master advertises at once.
#[derive(Debug)]
pub struct VirtualRouter {
    config: VrConfig,
    phase: Phase,
    link_up: bool,
    demote: u8,
    /// added to the configured advskew ([`Command::SetSkewDemotion`])
    skew_demotion: u8,
    /// [`Command::SetFault`]: in FAULT now, or as soon as the router starts
    fault: bool,
    /// drained by the operator; kept through FAULT and restarts
    drained: bool,
    /// Until then (after start-up or FAULT, `preempt_delay`), no live master is taken over.
    preempt_hold_until: Option<Instant>,
    /// While master with `garp_refresh`: when the VIPs are announced again.
    garp_refresh_at: Option<Instant>,
    /// While master: when the last advert went out (bounds the answers to a worse master).
    last_advert_at: Option<Instant>,
    next_hook: u64,
    counter: u64,
    /// the counters of the last CARP adverts accepted
    replays: Replays,
    rng: SplitMix64,
    /// in order; room for one inline (a master's advert), so that sending needs no block
    actions: SmallVec<[Action; 1]>,
    stats: RouterStats,
    /// The address of the last master heard (ours while we are master).
    master: Option<IpAddr>,
    /// The last master heard on the wire, its claim and when: while it is alive (heard within
    /// the master-down interval), a backup takes its cues from it alone.
    followed: Option<(IpAddr, Preference, Instant)>,
    /// VRRPv3: the interval the master advertises (RFC 9568 Master_Adver_Interval), which a
    /// backup's master-down interval is computed from; `None` until one was heard.
    master_interval: Option<Duration>,
    /// VRRPv3 over IPv4: the checksum variant of the last advert heard.
    peer_checksum: Option<Checksum>,
    /// `vrrp2_compat`: the last router heard speaking VRRPv3 and when; its VRRPv2 copies
    /// are not heard twice.
    last_v3: Option<(IpAddr, Instant)>,
    /// Why the master-down timer will fire: the master went silent, or it left (VRRPv3
    /// priority 0, after which a backup waits only its Skew_Time).
    down_reason: StateChangeReason,
    /// The master-down deadline a pause of the machine put off ([`VirtualRouter::defer_master_down`]):
    /// it is not put off again.
    stall_deferred: Option<Instant>,
}

impl VirtualRouter {
    /// A router that starts now: INIT to BACKUP, the down hook unless `neutral`, and the
    /// master-down timer armed (the link is taken to be up; report otherwise with
    /// [`VirtualRouter::handle_link`]).
    pub fn new(config: VrConfig, now: Instant, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        // CARP's counter starts anywhere (ucarp); VRRPv2's IP ids count from 1 (keepalived).
        let counter = match config.protocol {
            crate::Protocol::Vrrp2(_) => 0,
            _ => rng.next_u64(),
        };
        let mut vr = VirtualRouter {
            config,
            phase: Phase::Init,
            link_up: true,
            demote: 0,
            skew_demotion: 0,
            fault: false,
            drained: false,
            preempt_hold_until: None,
            garp_refresh_at: None,
            last_advert_at: None,
            next_hook: 0,
            counter,
            replays: Replays::default(),
            rng,
            actions: SmallVec::new(),
            stats: RouterStats::default(),
            master: None,
            followed: None,
            master_interval: None,
            peer_checksum: None,
            last_v3: None,
            down_reason: StateChangeReason::MasterDown,
            stall_deferred: None,
        };
        vr.start(now);
        vr
    }

    /// INIT to BACKUP, the down hook unless neutral, then FAULT when a fault is set, drained
    /// when the operator drained it, else the master-down timer armed when the link is up.
    fn start(&mut self, now: Instant) {
        self.set_state(State::Backup, StateChangeReason::Startup);
        if !self.config.neutral {
            self.run_hook(HookKind::Down);
        }
        self.phase = Phase::IDLE_BACKUP;
        if self.fault {
            self.set_state(State::Fault, StateChangeReason::Fault);
            self.phase = Phase::Fault;
        } else {
            self.hold_preemption(now);
            self.listen(now);
            // RFC 9568 §6.4.1: the address owner is master from the start.
            if self.is_address_owner() && matches!(self.phase, Phase::Backup { .. }) {
                self.become_master(now, StateChangeReason::AddressOwner);
            }
        }
    }

    /// A VRRPv3 router with priority 255 in effect.
    fn is_address_owner(&self) -> bool {
        self.config.protocol.has_address_owner() && self.priority() == 255 && self.link_up
    }

    /// `preempt_delay` from now: services here are warming up (after start-up or FAULT).
    fn hold_preemption(&mut self, now: Instant) {
        let delay = self.config.preempt_delay;
        self.preempt_hold_until = (!delay.is_zero()).then(|| now + delay);
    }

    /// BACKUP taking part in the election (the master-down timer armed when the link is up),
    /// or drained when the operator said so.
    fn listen(&mut self, now: Instant) {
        if self.drained {
            self.phase = Phase::Drained;
        } else if self.link_up {
            self.arm_master_down(now);
        } else {
            self.phase = Phase::IDLE_BACKUP;
        }
    }

    /// Applies a new configuration. Timing, VIPs, source, multicast group and flags change
    /// in place: the state is kept, a master keeps its advert schedule (brought forward when
    /// the new interval is shorter) and announces the new VIP list once its hooks have put
    /// it up (see [`VirtualRouter::announce_vips`]), and a backup's master-down timer is
    /// brought forward when the new dead time is shorter. A new vhid or password restarts
    /// the router: a master bows out (and runs the down hook when the new configuration says
    /// so), then it starts again as at start-up.
    pub fn reconfigure(&mut self, now: Instant, config: VrConfig) -> Reconfigured {
        if config.needs_restart(&self.config) {
            self.restart(now, config);
            return Reconfigured::Restarted;
        }
        self.config = config;
        let (advert_interval, master_down_interval) =
            (self.advert_interval(), self.master_down_interval());
        match &mut self.phase {
            Phase::Master { advert_at, .. } => {
                *advert_at = (*advert_at).min(now + advert_interval);
                self.master = Some(self.config.source);
                self.garp_refresh_at = self.config.garp_refresh.map(|every| now + every);
            }
            Phase::Backup {
                master_down_at: Some(at),
                ..
            } => *at = (*at).min(now + master_down_interval),
            Phase::TakingOver { master_down_at, .. } => {
                *master_down_at = (*master_down_at).min(now + master_down_interval)
            }
            Phase::Backup { .. } | Phase::Drained | Phase::Fault | Phase::Init => {}
        }
        Reconfigured::InPlace
    }

    /// Stops (a master bows out, and runs the down hook when its configuration says so) and
    /// starts again with `config` as at start-up; hook ids keep counting, so completions of
    /// the old hooks are never taken for new ones.
    pub fn restart(&mut self, now: Instant, config: VrConfig) {
        self.handle_command(now, Command::Stop);
        self.config = config;
        self.master = None;
        self.master_interval = None;
        self.peer_checksum = None;
        self.last_v3 = None;
        self.start(now);
    }

    /// Announces every VIP when the router is master with its VIPs up (for the driver, after
    /// it put up VIPs added by a reconfiguration).
    pub fn announce_vips(&mut self) {
        self.announce();
    }

    /// What the router counted.
    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// The address of the current master as far as this router knows: its own while master,
    /// the last one heard while backup, `None` before any was heard or after it went silent.
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }

    /// VRRPv3: the priority advertised and compared, the configured one lowered by the
    /// demotion (never below 1). CARP routers have none (`0`).
    pub fn priority(&self) -> u8 {
        self.config
            .protocol
            .priority(self.demote.saturating_add(self.skew_demotion))
    }

    /// VRRPv3 over IPv4: the checksum variant the last advert heard carried.
    pub fn peer_checksum(&self) -> Option<Checksum> {
        self.peer_checksum
    }

    /// VRRPv3: the interval the master advertises, once one was heard.
    pub fn master_interval(&self) -> Option<Duration> {
        self.master_interval
    }

    /// The demote counter advertised and compared.
    pub fn demote(&self) -> u8 {
        self.demote
    }

    /// The advskew advertised and compared: the configured one plus the skew demotion
    /// ([`Command::SetSkewDemotion`]), never 255 with advbase 255 (that is the bow-out).
    pub fn advskew(&self) -> u8 {
        self.config.protocol.advskew(self.skew_demotion)
    }

    /// The advertisement interval in effect: CARP `advbase + advskew/256`, demotion
    /// included; VRRPv3 the configured one.
    pub fn advert_interval(&self) -> Duration {
        self.config.protocol.advert_interval(self.skew_demotion)
    }

    /// The master-down interval in effect: CARP from our own timing (demotion included),
    /// VRRPv3 from the master's advertised interval (ours until one was heard) and our
    /// priority.
    pub fn master_down_interval(&self) -> Duration {
        self.config.protocol.master_down_interval(
            self.demote,
            self.skew_demotion,
            self.master_interval,
        )
    }

    /// VRRPv3 Skew_Time: how long a backup waits after the master left (priority 0).
    fn skew_time(&self) -> Duration {
        self.config
            .protocol
            .skew_time(self.demote, self.skew_demotion, self.master_interval)
    }

    /// Our own claim, as adverts carry it.
    fn preference(&self) -> Preference {
        self.config
            .protocol
            .preference(self.demote, self.skew_demotion)
    }

    /// Whether the operator drained the router ([`Command::Drain`]).
    pub fn is_drained(&self) -> bool {
        self.drained
    }

    /// Whether a fault is set ([`Command::SetFault`]).
    pub fn is_faulted(&self) -> bool {
        self.fault
    }

    /// The configuration.
    pub fn config(&self) -> &VrConfig {
        &self.config
    }

    /// The current state (MASTER also while taking over and not yet advertising).
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Init => State::Init,
            Phase::Backup { .. } | Phase::Drained => State::Backup,
            Phase::TakingOver { .. } | Phase::Master { .. } => State::Master,
            Phase::Fault => State::Fault,
        }
    }

    /// Whether the router sends adverts: MASTER and not waiting for its up hook to take over
    /// from a live master.
    pub fn is_advertising(&self) -> bool {
        matches!(self.phase, Phase::Master { .. })
    }

    /// The next action, in order. A queue that grew past its inline room gives its block
    /// back once drained: with thousands of routers, a block kept by each would stay between
    /// their rare bursts of actions.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            if self.actions.spilled() {
                self.actions = SmallVec::new();
            }
            return None;
        }
        Some(self.actions.remove(0))
    }

    /// How early this router's advert may go out when the node wakes for another router's
    /// timer: a 64th of the advert interval, at most [`ADVERT_SLACK_MAX`]. Sending early
    /// never brings a backup's takeover closer, and the adverts of many groups then share a
    /// wake-up (see [`crate::Node::handle_timeout`]). A router alone is woken at its deadline.
    pub fn advert_slack(&self) -> Duration {
        (self.advert_interval() / 64).min(ADVERT_SLACK_MAX)
    }

    /// The earliest instant at which [`VirtualRouter::handle_timeout`] has work: a master's
    /// advert deadline less [`VirtualRouter::advert_slack`], otherwise
    /// [`VirtualRouter::poll_timeout`] (a backup's dead timer never fires early).
    pub fn earliest_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Master { advert_at, .. } => {
                let early = advert_at.saturating_sub(self.advert_slack());
                Some(self.garp_refresh_at.map_or(early, |g| g.min(early)))
            }
            _ => self.poll_timeout(),
        }
    }

    /// The instant by which [`VirtualRouter::handle_timeout`] must be called: the next
    /// deadline of any of its timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Init | Phase::Drained | Phase::Fault => None,
            Phase::Backup {
                master_down_at,
                hold_until,
            } => [master_down_at, hold_until].into_iter().flatten().min(),
            Phase::TakingOver { master_down_at, .. } => Some(master_down_at),
            Phase::Master { advert_at, .. } => {
                Some(self.garp_refresh_at.map_or(advert_at, |g| g.min(advert_at)))
            }
        }
    }

    /// Fires every timer due at `now`; a master's advert is due from
    /// [`VirtualRouter::earliest_timeout`] on.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Backup {
                hold_until: Some(hold),
                ..
            } if hold <= now => {
                self.phase = Phase::Backup {
                    master_down_at: self.link_up.then(|| now + self.master_down_interval()),
                    hold_until: None,
                };
            }
            Phase::Backup {
                master_down_at: Some(down),
                ..
            } if down <= now => self.become_master(now, self.down_reason),
            Phase::TakingOver {
                up_hook,
                master_down_at,
            } if master_down_at <= now => {
                // The master we were taking over from went silent: nobody serves, so claim
                // the group now and announce the VIP when the hook is done.
                self.start_advertising(now, Some(up_hook));
            }
            Phase::Master { advert_at, .. } => {
                if advert_at <= now + self.advert_slack() {
                    self.advertise_now(now);
                }
                if self.garp_refresh_at.is_some_and(|at| at <= now) {
                    self.announce();
                    self.garp_refresh_at = self.config.garp_refresh.map(|every| now + every);
                }
            }
            _ => {}
        }
    }

    /// A well-formed CARP advertisement for this vhid arrived (TTL and source already checked
    /// by the caller, see [`crate::Node::handle_packet`]).
    pub fn handle_advert(&mut self, now: Instant, advert: &Advertisement) {
        if self.phase == Phase::Init || !self.link_up {
            return;
        }
        let carp = &advert.carp;
        let source = IpAddr::V4(advert.ip.source);
        if !self.accepts(source, IpAddr::V4(advert.ip.destination)) {
            return;
        }
        let Some(auth) = self.config.auth.as_ref() else {
            // A VRRPv3 router is never handed CARP (the node routes by protocol).
            return;
        };
        if !auth.verify(carp.counter, &carp.digest) {
            return self.drop(DropReason::BadDigest, source);
        }
        // ucarp accepts any counter (docs/protocol.md §3); carpd also accepts any, but not one
        // it has just seen.
        if !self.replays.fresh(carp.counter) {
            return self.drop(DropReason::Replay, source);
        }
        self.heard(now, Heard::carp(carp, advert.ip.source));
    }

    /// Whether an advert from `source` to `destination` is for us: with unicast peers, only
    /// theirs count; with multicast, only those sent to our group (docs/protocol.md §4; ucarp carp.c
    /// packethandler). Records the drop otherwise.
    fn accepts(&mut self, source: IpAddr, destination: IpAddr) -> bool {
        if self.config.is_unicast() {
            if !self.config.peers.contains(&source) {
                self.drop(DropReason::NotAPeer, source);
                return false;
            }
        } else if destination != self.config.group {
            self.drop(DropReason::WrongGroup(destination), source);
            return false;
        }
        true
    }

    /// The link came up or went down.
    pub fn handle_link(&mut self, now: Instant, up: bool) {
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        match (up, self.state()) {
            (true, State::Backup) if !self.drained => self.arm_master_down(now),
            (false, State::Master) => self.become_backup(StateChangeReason::LinkDown),
            (false, State::Backup) if !self.drained => self.phase = Phase::IDLE_BACKUP,
            _ => {}
        }
    }

    // Long on purpose: one arm per command, each short; splitting them apart would hide
    // that they are the whole list.
    /// An operator's command.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Demote => {
                if self.state() == State::Master {
                    if self.is_advertising() {
                        self.bow_out();
                    }
                    self.become_backup(StateChangeReason::Demoted);
                    self.phase = Phase::Backup {
                        master_down_at: None,
                        hold_until: Some(now + DEMOTE_HOLD),
                    };
                }
            }
            Command::Stop => {
                let was_master = self.state() == State::Master;
                if self.is_advertising() && self.link_up {
                    self.bow_out();
                }
                let up_hook = self.pending_up_hook();
                if self.phase != Phase::Init {
                    self.set_state(State::Init, StateChangeReason::Stopped);
                }
                self.phase = Phase::Init;
                // Even without the down hook, an up hook finishing after we left would put
                // the VIP on a host that no longer answers for it.
                if let Some(id) = up_hook {
                    self.actions.push(Action::CancelHook { id });
                }
                if was_master && self.config.down_hook_on_stop {
                    self.run_hook(HookKind::Down);
                }
            }
            Command::SetDemote(demote) => {
                if demote != self.demote {
                    self.demote = demote;
                    self.demotion_changed(now);
                }
            }
            Command::SetSkewDemotion(skew) => {
                if skew != self.skew_demotion {
                    self.skew_demotion = skew;
                    self.demotion_changed(now);
                }
            }
            Command::Drain => {
                self.drained = true;
                if self.state() == State::Master {
                    if self.is_advertising() && self.link_up {
                        self.bow_out();
                    }
                    self.become_backup(StateChangeReason::Drained);
                }
                if !matches!(self.phase, Phase::Init | Phase::Fault) {
                    self.phase = Phase::Drained;
                }
            }
            Command::Resume => {
                self.drained = false;
                if self.phase == Phase::Drained {
                    self.listen(now);
                }
            }
            Command::SetFault(fault) => {
                if fault == self.fault {
                    return;
                }
                self.fault = fault;
                match (fault, self.phase) {
                    (_, Phase::Init) => {}
                    (true, _) => self.enter_fault(),
                    (false, Phase::Fault) => {
                        self.set_state(State::Backup, StateChangeReason::FaultCleared);
                        self.hold_preemption(now);
                        self.listen(now);
                    }
                    (false, _) => {}
                }
            }
        }
    }

    /// A master advertises its new demotion at once, so that a backup that now beats it
    /// takes over within one network round trip instead of up to one advert interval.
    fn demotion_changed(&mut self, now: Instant) {
        if self.is_advertising() && self.link_up {
            self.advertise_now(now);
        }
    }

    /// FAULT: a master bows out and runs its down hook (an up hook still pending is
    /// cancelled first); a backup only stops competing.
    fn enter_fault(&mut self) {
        let was_master = self.state() == State::Master;
        if self.is_advertising() && self.link_up {
            self.bow_out();
        }
        let up_hook = self.pending_up_hook();
        self.set_state(State::Fault, StateChangeReason::Fault);
        self.phase = Phase::Fault;
        if let Some(id) = up_hook {
            self.actions.push(Action::CancelHook { id });
        }
        if was_master {
            self.run_hook(HookKind::Down);
        }
    }

    /// A hook the router asked for has finished (or was cancelled, or killed at its timeout).
    pub fn handle_hook_done(&mut self, now: Instant, id: HookId) {
        match self.phase {
            Phase::TakingOver { up_hook, .. } if up_hook == id => {
                // Ready: only now does the better timing go on the wire, and the old master
                // steps down when it hears it.
                self.start_advertising(now, None);
            }
            Phase::Master {
                advert_at,
                up_hook: Some(up_hook),
                delayed_arp,
            } if up_hook == id => {
                self.phase = Phase::Master {
                    advert_at,
                    up_hook: None,
                    delayed_arp,
                };
                self.announce();
            }
            _ => {}
        }
    }

    fn arm_master_down(&mut self, now: Instant) {
        self.down_reason = StateChangeReason::MasterDown;
        self.phase = Phase::Backup {
            master_down_at: Some(now + self.master_down_interval()),
            hold_until: None,
        };
    }

    /// The up hook asked for and not finished yet, if any.
    fn pending_up_hook(&self) -> Option<HookId> {
        match self.phase {
            Phase::TakingOver { up_hook, .. } => Some(up_hook),
            Phase::Master { up_hook, .. } => up_hook,
            Phase::Init | Phase::Backup { .. } | Phase::Drained | Phase::Fault => None,
        }
    }

    /// Nobody serves (the master is dead or bowed out): MASTER, the up hook, and the advert at
    /// once so that no other backup takes over too.
    fn become_master(&mut self, now: Instant, reason: StateChangeReason) {
        self.set_state(State::Master, reason);
        self.master = Some(self.config.source);
        let up_hook = self.run_hook(HookKind::Up);
        self.start_advertising(now, Some(up_hook));
    }

    /// A live master serves and we beat it: MASTER and the up hook, but no advert until the
    /// hook is done (or the old master goes silent or bows out).
    fn take_over(&mut self, now: Instant, reason: StateChangeReason) {
        self.set_state(State::Master, reason);
        self.master = Some(self.config.source);
        let up_hook = self.run_hook(HookKind::Up);
        self.phase = Phase::TakingOver {
            up_hook,
            master_down_at: now + self.master_down_interval(),
        };
    }

    /// Starts advertising; `up_hook` is the up hook still running (the VIP is announced when
    /// it is done) or `None` when the VIP is up already.
    fn start_advertising(&mut self, now: Instant, up_hook: Option<HookId>) {
        self.garp_refresh_at = self.config.garp_refresh.map(|every| now + every);
        self.phase = Phase::Master {
            advert_at: now + self.advert_interval(),
            up_hook,
            delayed_arp: 0,
        };
        // ucarp carp_master_down: script, GARP, advert (docs/protocol.md §5).
        if up_hook.is_none() {
            self.announce();
        }
        self.advertise_now(now);
        // ucarp carp_master_down: a second GARP with the third advert.
        self.set_delayed_arp(2);
    }

    fn become_backup(&mut self, reason: StateChangeReason) {
        let up_hook = self.pending_up_hook();
        self.set_state(State::Backup, reason);
        self.phase = Phase::IDLE_BACKUP;
        if let Some(id) = up_hook {
            self.actions.push(Action::CancelHook { id });
        }
        self.run_hook(HookKind::Down);
    }

    fn run_hook(&mut self, kind: HookKind) -> HookId {
        self.next_hook += 1;
        let id = HookId(self.next_hook);
        self.actions.push(Action::RunHook { id, kind });
        id
    }

    fn set_state(&mut self, to: State, reason: StateChangeReason) {
        let from = self.state();
        self.stats.transitions += 1;
        if from == State::Master || to == State::Init {
            self.master = None;
        }
        self.actions.push(Action::StateChanged { from, to, reason });
    }

    fn set_delayed_arp(&mut self, adverts: u8) {
        if let Phase::Master { delayed_arp, .. } = &mut self.phase {
            *delayed_arp = adverts;
        }
    }

    /// Gratuitous ARP for every VIP, but only while the VIP is up (no up hook pending).
    fn announce(&mut self) {
        if let Phase::Master { up_hook: None, .. } = self.phase {
            for &vip in &self.config.vips {
                self.actions.push(Action::Announce { vip });
            }
        }
    }

    /// Sends one advert (to the group, or to each unicast peer): the regular one, or the one
    /// that says the sender leaves (`leaving`).
    fn send_advert(&mut self, leaving: bool) {
        let packets = crate::advert::adverts(
            &self.config,
            self.demote,
            self.skew_demotion,
            leaving,
            &mut self.counter,
            &mut self.rng,
        );
        for (destination, packet) in packets {
            self.actions.push(Action::Send {
                destination,
                packet,
            });
        }
        self.stats.adverts_sent += 1;
        let mut due = false;
        if let Phase::Master { delayed_arp, .. } = &mut self.phase {
            if *delayed_arp > 0 {
                *delayed_arp -= 1;
                due = *delayed_arp == 0;
            }
        }
        if due {
            self.announce();
        }
    }

    /// The bow-out advert (docs/protocol.md §6; OpenBSD carp_send_ad: advbase 255, advskew 255; VRRPv3: priority
    /// 0): every CARP backup, ucarp's included, takes over on receipt instead of waiting for
    /// the dead time; a VRRPv3 backup waits only its Skew_Time.
    fn bow_out(&mut self) {
        self.set_delayed_arp(0);
        self.send_advert(true);
    }

    fn drop(&mut self, reason: DropReason, source: IpAddr) {
        self.actions.push(Action::Dropped {
            reason,
            source: Some(source),
        });
    }
}

pub use crate::election::ucarp_address_order;
