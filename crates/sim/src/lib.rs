//! A deterministic simulator: many carpd nodes on one Ethernet segment, in virtual time.
//!
//! The segment delivers each advert to every other live node in the same partition, after a
//! seeded random delay, unless seeded random loss drops it. Each node's hooks run one at a
//! time, in order, for the time its [`Hooks`] say; the VIP is held from the end of the up hook
//! (or its start, for an up script that adds the VIP first and then works on) to the end of
//! the down hook (or a crash). A cancelled hook is killed at once, its end effect never
//! happens. Time jumps from deadline to deadline; after every step the invariants are checked
//! and the first violation is kept with the time it happened, and the longest stretches with
//! no holder and with two holders are measured.

use carpd_proto::rng::SplitMix64;
use carpd_proto::{
    Action, HookId, HookKind, Instant, Node, RouterId, State, StateChangeReason, VrConfigBuilder,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

/// The shared VIP of simulated groups.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);

/// Properties of the simulated segment.
#[derive(Debug, Clone, Copy)]
pub struct SegmentConfig {
    /// Probability that one delivery of one advert is lost.
    pub loss: f64,
    /// Smallest delivery delay.
    pub delay_min: Duration,
    /// Largest delivery delay.
    pub delay_max: Duration,
    /// How long every hook runs, unless a node has its own [`Hooks`].
    pub hook_time: Duration,
}

/// How one node's hooks behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hooks {
    /// how long the up hook runs
    pub up: Duration,
    /// how long the down hook runs (the VIP goes at its end)
    pub down: Duration,
    /// the up hook adds the VIP at its start and then works on (else: at its end)
    pub up_adds_first: bool,
}

impl Hooks {
    /// Both hooks take `time`; the VIP comes with the end of the up hook.
    pub fn uniform(time: Duration) -> Self {
        Hooks {
            up: time,
            down: time,
            up_adds_first: false,
        }
    }
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            loss: 0.0,
            delay_min: Duration::from_micros(50),
            delay_max: Duration::from_millis(2),
            hook_time: Duration::from_millis(10),
        }
    }
}

/// A state change seen in the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// when
    pub at: Instant,
    /// which node (index)
    pub node: usize,
    /// new state
    pub to: State,
    /// why
    pub reason: StateChangeReason,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Deliver {
        to: usize,
        incarnation: u32,
        packet: Vec<u8>,
    },
    HookDone {
        node: usize,
        incarnation: u32,
        id: HookId,
    },
}

/// A state change of one of the extra groups added with [`Sim::add_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTransition {
    /// when
    pub at: Instant,
    /// which node (index)
    pub node: usize,
    /// the group's vhid
    pub vhid: u8,
    /// new state
    pub to: State,
}

struct SimNode {
    config: VrConfigBuilder,
    node: Option<Node>,
    /// The router of the group under test (vhid 7) in `node`.
    main: Option<RouterId>,
    /// Extra groups added mid-run, by router, with their vhid; their hooks complete at once.
    extra: BTreeMap<RouterId, u8>,
    incarnation: u32,
    holds_vip: bool,
    partition: u32,
    hooks: Hooks,
    running_hook: Option<(HookId, HookKind)>,
    queued_hooks: VecDeque<(HookId, HookKind)>,
}

/// Stretches of time measured since the last [`Sim::reset_measures`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measures {
    /// the longest time with no node holding the VIP
    pub longest_without_holder: Duration,
    /// the longest time with two or more nodes holding the VIP
    pub longest_with_two_holders: Duration,
}

/// The simulated segment and its nodes.
pub struct Sim {
    now: Instant,
    segment: SegmentConfig,
    rng: SplitMix64,
    nodes: Vec<SimNode>,
    events: BinaryHeap<Reverse<(Instant, u64, Event)>>,
    sequence: u64,
    /// Both holding the VIP (or both MASTER) while connected, since when; per pair.
    overlap_since: Vec<Option<Instant>>,
    transitions: Vec<Transition>,
    group_transitions: Vec<GroupTransition>,
    violation: Option<String>,
    overlap_bound: Duration,
    /// Last arrival time per (sender, receiver): one segment never reorders a sender's frames.
    last_arrival: Vec<Instant>,
    measures: Measures,
    without_holder_since: Option<Instant>,
    two_holders_since: Option<Instant>,
}

impl Sim {
    /// An empty segment; `seed` drives loss, delays and every node's counters.
    pub fn new(seed: u64, segment: SegmentConfig) -> Self {
        Sim {
            now: Instant::ZERO,
            segment,
            rng: SplitMix64::new(seed),
            nodes: Vec::new(),
            events: BinaryHeap::new(),
            sequence: 0,
            overlap_since: Vec::new(),
            transitions: Vec::new(),
            group_transitions: Vec::new(),
            violation: None,
            overlap_bound: Duration::ZERO,
            last_arrival: Vec::new(),
            measures: Measures::default(),
            without_holder_since: Some(Instant::ZERO),
            two_holders_since: None,
        }
    }

    /// A node config for vhid 7 with address `10.77.0.<host>`, the given skew and preempt,
    /// and the down hook on stop (`-z`, as native mode always does).
    pub fn config(host: u8, advskew: u8, preempt: bool) -> VrConfigBuilder {
        let mut b = VrConfigBuilder::new(7, Ipv4Addr::new(10, 77, 0, host), vec![VIP], b"secret");
        b.protocol.carp_mut().expect("a CARP builder").advskew = advskew;
        b.preempt = preempt;
        b.down_hook_on_stop = true;
        b
    }

    /// Adds a node and starts it now. Returns its index.
    pub fn add_node(&mut self, config: VrConfigBuilder) -> usize {
        let hooks = Hooks::uniform(self.segment.hook_time);
        self.add_node_with_hooks(config, hooks)
    }

    /// Adds a node whose hooks behave as `hooks` and starts it now. Returns its index.
    pub fn add_node_with_hooks(&mut self, config: VrConfigBuilder, hooks: Hooks) -> usize {
        let index = self.nodes.len();
        self.nodes.push(SimNode {
            config,
            node: None,
            main: None,
            extra: BTreeMap::new(),
            incarnation: 0,
            holds_vip: false,
            partition: 0,
            hooks,
            running_hook: None,
            queued_hooks: VecDeque::new(),
        });
        self.overlap_since = vec![None; self.nodes.len() * self.nodes.len()];
        self.last_arrival = vec![Instant::ZERO; self.nodes.len() * self.nodes.len()];
        self.refresh_bound();
        self.restart(index);
        index
    }

    fn refresh_bound(&mut self) {
        // The longest time two connected nodes may both hold the VIP: one master-down
        // interval of the slowest node, plus delivery and the slowest hooks.
        let worst = self
            .nodes
            .iter()
            .filter_map(|n| n.config.clone().build().ok())
            .map(|c| c.master_down_interval())
            .max()
            .unwrap_or_default();
        let hooks = self
            .nodes
            .iter()
            .map(|n| n.hooks.up + n.hooks.down)
            .max()
            .unwrap_or_default();
        self.overlap_bound = worst + self.segment.delay_max + hooks;
    }

    /// Crashes node `index`: it stops at once, sends nothing, and its VIP goes with it.
    pub fn crash(&mut self, index: usize) {
        let n = &mut self.nodes[index];
        n.node = None;
        n.holds_vip = false;
        n.incarnation += 1;
        n.running_hook = None;
        n.queued_hooks.clear();
    }

    /// Starts (or restarts) node `index` with a fresh process.
    pub fn restart(&mut self, index: usize) {
        let seed = self.rng.next_u64();
        let now = self.now;
        let n = &mut self.nodes[index];
        n.incarnation += 1;
        n.holds_vip = false;
        n.running_hook = None;
        n.queued_hooks.clear();
        let config = n
            .config
            .clone()
            .build()
            .expect("simulated configs are valid");
        let mut node = Node::new();
        n.main = Some(node.add_router(1, config, now, seed));
        n.extra.clear();
        n.node = Some(node);
        self.drain(index);
    }

    /// Adds another group (`config`, a vhid other than 7) to the running node `index`, as a
    /// reload would; its hooks complete at once and it has its own VIP. Returns its router.
    pub fn add_group(&mut self, index: usize, config: VrConfigBuilder) -> RouterId {
        let seed = self.rng.next_u64();
        let now = self.now;
        let vhid = config.vhid;
        let config = config.build().expect("simulated configs are valid");
        let n = &mut self.nodes[index];
        let id = n
            .node
            .as_mut()
            .expect("a running node")
            .add_router(1, config, now, seed);
        n.extra.insert(id, vhid);
        self.drain(index);
        id
    }

    /// Removes group `router` from the running node `index`, as a reload would: it bows out
    /// and its hooks play out. The group under test is removed with
    /// [`Sim::remove_main_group`].
    pub fn remove_group(&mut self, index: usize, router: RouterId) {
        if let Some(node) = self.nodes[index].node.as_mut() {
            node.remove_router(self.now, router);
        }
        self.drain(index);
    }

    /// Removes the group under test from node `index` (the node keeps running its other
    /// groups); its down hook still plays out.
    pub fn remove_main_group(&mut self, index: usize) {
        if let Some(main) = self.nodes[index].main {
            self.remove_group(index, main);
        }
    }

    /// State changes of the extra groups.
    pub fn group_transitions(&self) -> &[GroupTransition] {
        &self.group_transitions
    }

    /// The state of extra group `router` on node `index` (INIT once removed).
    pub fn group_state(&self, index: usize, router: RouterId) -> State {
        self.nodes[index]
            .node
            .as_ref()
            .and_then(|n| n.router(router))
            .map_or(State::Init, |vr| vr.state())
    }

    fn main_router(&self, index: usize) -> Option<&carpd_proto::VirtualRouter> {
        let n = &self.nodes[index];
        n.node.as_ref().and_then(|node| node.router(n.main?))
    }

    /// Stops node `index` gracefully (bow-out advert, a running up hook cancelled, the down
    /// hook with `-z`): it leaves the segment at once, and its hooks play out as carpd lets
    /// them before it exits.
    pub fn stop(&mut self, index: usize) {
        if let Some(node) = self.nodes[index].node.as_mut() {
            node.handle_command(self.now, carpd_proto::Command::Stop);
        }
        self.drain(index);
        self.nodes[index].node = None;
    }

    /// Gives node `index` an operator's or a tracker's command (FAULT, demotion, drain).
    pub fn command(&mut self, index: usize, command: carpd_proto::Command) {
        if let Some(node) = self.nodes[index].node.as_mut() {
            node.handle_command(self.now, command);
        }
        self.drain(index);
    }

    /// Puts node `index` in partition `partition`; nodes hear each other only within one.
    pub fn set_partition(&mut self, index: usize, partition: u32) {
        self.nodes[index].partition = partition;
    }

    /// Puts every node back in partition 0.
    pub fn heal(&mut self) {
        for n in &mut self.nodes {
            n.partition = 0;
        }
    }

    /// Changes the loss probability.
    pub fn set_loss(&mut self, loss: f64) {
        self.segment.loss = loss;
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The longest stretches without a holder and with two holders since the start or the
    /// last [`Sim::reset_measures`].
    pub fn measures(&self) -> Measures {
        self.measures
    }

    /// Starts measuring afresh from now.
    pub fn reset_measures(&mut self) {
        let holders = self.holders().len();
        self.measures = Measures::default();
        self.without_holder_since = (holders == 0).then_some(self.now);
        self.two_holders_since = (holders >= 2).then_some(self.now);
    }

    /// Whether node `index` sends adverts (MASTER and not waiting for its up hook).
    pub fn advertising(&self, index: usize) -> bool {
        self.main_router(index)
            .is_some_and(|vr| vr.is_advertising())
    }

    /// The state of node `index` (INIT when crashed).
    pub fn state(&self, index: usize) -> State {
        self.main_router(index).map_or(State::Init, |vr| vr.state())
    }

    /// Indices of the nodes in MASTER state.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.state(i) == State::Master)
            .collect()
    }

    /// Indices of the nodes holding the VIP.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].holds_vip)
            .collect()
    }

    /// Every state change so far.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// The first invariant violation, if any.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    /// Runs until `until`, stepping from deadline to deadline.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_event = self.events.peek().map(|Reverse((t, _, _))| *t);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.node.as_ref().and_then(|node| node.poll_timeout()))
                .min();
            let next = match (next_event, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.check_invariants(next);
            self.now = next;
            while self
                .events
                .peek()
                .is_some_and(|Reverse((t, _, _))| *t <= next)
            {
                let Reverse((_, _, event)) = self.events.pop().expect("peeked");
                self.apply(event);
            }
            for i in 0..self.nodes.len() {
                if let Some(node) = self.nodes[i].node.as_mut() {
                    if node.poll_timeout().is_some_and(|t| t <= next) {
                        node.handle_timeout(next);
                        self.drain(i);
                    }
                }
            }
            self.check_invariants(next);
        }
        self.check_invariants(until);
        self.now = self.now.max(until);
    }

    /// Runs for `duration` more.
    pub fn run_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        self.run_until(until);
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Deliver {
                to,
                incarnation,
                packet,
            } => {
                let now = self.now;
                let n = &mut self.nodes[to];
                if n.incarnation != incarnation {
                    return;
                }
                if let Some(node) = n.node.as_mut() {
                    node.handle_packet(now, 1, &packet);
                    self.drain(to);
                }
            }
            Event::HookDone {
                node,
                incarnation,
                id,
            } => {
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation || n.running_hook.map(|(h, _)| h) != Some(id) {
                    return;
                }
                let (_, kind) = n.running_hook.take().expect("checked");
                n.holds_vip = kind == HookKind::Up;
                self.hook_finished(node, id);
            }
        }
    }

    /// Tells node `index` that hook `id` is over (done, killed or skipped), then starts the
    /// next queued one.
    fn hook_finished(&mut self, index: usize, id: HookId) {
        let now = self.now;
        let main = self.nodes[index].main;
        if let (Some(core), Some(main)) = (self.nodes[index].node.as_mut(), main) {
            core.handle_hook_done(now, main, id);
        }
        self.start_next_hook(index);
        self.drain(index);
    }

    fn start_next_hook(&mut self, index: usize) {
        let n = &mut self.nodes[index];
        if n.running_hook.is_some() {
            return;
        }
        let Some((id, kind)) = n.queued_hooks.pop_front() else {
            return;
        };
        n.running_hook = Some((id, kind));
        let duration = match kind {
            HookKind::Up => {
                if n.hooks.up_adds_first {
                    n.holds_vip = true;
                }
                n.hooks.up
            }
            HookKind::Down => n.hooks.down,
        };
        let incarnation = n.incarnation;
        self.schedule(
            self.now + duration,
            Event::HookDone {
                node: index,
                incarnation,
                id,
            },
        );
    }

    fn cancel_hook(&mut self, index: usize, id: HookId) {
        let n = &mut self.nodes[index];
        if n.running_hook.map(|(h, _)| h) == Some(id) {
            // Killed: what it did so far stays, its end never comes.
            n.running_hook = None;
        } else if let Some(at) = n.queued_hooks.iter().position(|(h, _)| *h == id) {
            n.queued_hooks.remove(at);
        } else {
            return;
        }
        self.hook_finished(index, id);
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.sequence += 1;
        self.events.push(Reverse((at, self.sequence, event)));
    }

    fn drain(&mut self, index: usize) {
        while let Some(out) = self.nodes[index]
            .node
            .as_mut()
            .and_then(|n| n.poll_action())
        {
            if let Some(vhid) = out.router.and_then(|r| self.nodes[index].extra.get(&r)) {
                let (vhid, router) = (*vhid, out.router.expect("an extra group's"));
                self.extra_group_action(index, router, vhid, out.action);
                continue;
            }
            match out.action {
                Action::Send { packet, .. } => self.transmit(index, packet.into_vec()),
                Action::RunHook { id, kind } => {
                    // Hooks of one node run one after another, in order.
                    self.nodes[index].queued_hooks.push_back((id, kind));
                    self.start_next_hook(index);
                }
                Action::CancelHook { id } => self.cancel_hook(index, id),
                Action::StateChanged { to, reason, .. } => self.transitions.push(Transition {
                    at: self.now,
                    node: index,
                    to,
                    reason,
                }),
                Action::Announce { .. } | Action::Dropped { .. } | Action::Mismatch { .. } => {}
            }
        }
    }

    /// An extra group's action: adverts go on the segment, hooks complete at once.
    fn extra_group_action(&mut self, index: usize, router: RouterId, vhid: u8, action: Action) {
        let now = self.now;
        match action {
            Action::Send { packet, .. } => self.transmit(index, packet.into_vec()),
            Action::RunHook { id, .. } => {
                if let Some(core) = self.nodes[index].node.as_mut() {
                    core.handle_hook_done(now, router, id);
                }
            }
            Action::StateChanged { to, .. } => self.group_transitions.push(GroupTransition {
                at: now,
                node: index,
                vhid,
                to,
            }),
            Action::CancelHook { .. }
            | Action::Announce { .. }
            | Action::Dropped { .. }
            | Action::Mismatch { .. } => {}
        }
    }

    /// Puts one advert on the segment: each other live node in the partition gets it after a
    /// random delay, unless it is lost.
    fn transmit(&mut self, index: usize, packet: Vec<u8>) {
        for to in 0..self.nodes.len() {
            if to == index
                || self.nodes[to].node.is_none()
                || self.nodes[to].partition != self.nodes[index].partition
                || self.rng.chance(self.segment.loss)
            {
                continue;
            }
            let spread = self
                .segment
                .delay_max
                .saturating_sub(self.segment.delay_min);
            let delay = self.segment.delay_min
                + Duration::from_micros(self.rng.below(spread.as_micros() as u64 + 1));
            let incarnation = self.nodes[to].incarnation;
            let link = index * self.nodes.len() + to;
            let arrival = (self.now + delay).max(self.last_arrival[link]);
            self.last_arrival[link] = arrival;
            self.schedule(
                arrival,
                Event::Deliver {
                    to,
                    incarnation,
                    packet: packet.clone(),
                },
            );
        }
    }

    fn check_invariants(&mut self, at: Instant) {
        let holders = self.nodes.iter().filter(|n| n.holds_vip).count();
        let longest = |since: &mut Option<Instant>, now_true: bool, longest: &mut Duration| {
            if now_true {
                let start = *since.get_or_insert(at);
                *longest = (*longest).max(at - start);
            } else {
                *since = None;
            }
        };
        longest(
            &mut self.without_holder_since,
            holders == 0,
            &mut self.measures.longest_without_holder,
        );
        longest(
            &mut self.two_holders_since,
            holders >= 2,
            &mut self.measures.longest_with_two_holders,
        );
        let n = self.nodes.len();
        for a in 0..n {
            for b in (a + 1)..n {
                let connected = self.nodes[a].partition == self.nodes[b].partition;
                let both = (self.nodes[a].holds_vip && self.nodes[b].holds_vip)
                    || (self.advertising(a) && self.advertising(b));
                let slot = &mut self.overlap_since[a * n + b];
                if connected && both {
                    let since = *slot.get_or_insert(at);
                    if at - since > self.overlap_bound && self.violation.is_none() {
                        self.violation = Some(format!(
                            "nodes {a} and {b} both master or both holding the VIP from {since:?} to {at:?}, longer than {:?}",
                            self.overlap_bound
                        ));
                    }
                } else {
                    *slot = None;
                }
            }
        }
    }
}
