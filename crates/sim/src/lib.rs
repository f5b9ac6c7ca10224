//! A deterministic simulator: many carpd nodes on one Ethernet segment, in virtual time.
//!
//! The segment delivers each advert to every other live node in the same partition, after a
//! seeded random delay, unless seeded random loss drops it. Hooks take a fixed time, in
//! order; the VIP counts as held from the end of the up hook to the end of the down hook
//! (or a crash). Time jumps from deadline to deadline; after every step the invariants are
//! checked and the first violation is kept with the time it happened.

use carpd_proto::rng::SplitMix64;
use carpd_proto::{
    Action, HookKind, Instant, Node, RouterId, State, StateChangeReason, VrConfigBuilder,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    /// How long every hook runs.
    pub hook_time: Duration,
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
        up: bool,
    },
}

struct SimNode {
    config: VrConfigBuilder,
    node: Option<Node>,
    incarnation: u32,
    holds_vip: bool,
    partition: u32,
    hooks_busy_until: Instant,
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
    violation: Option<String>,
    overlap_bound: Duration,
    /// Last arrival time per (sender, receiver): one segment never reorders a sender's frames.
    last_arrival: Vec<Instant>,
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
            violation: None,
            overlap_bound: Duration::ZERO,
            last_arrival: Vec::new(),
        }
    }

    /// A node config for vhid 7 with address `10.77.0.<host>`, the given skew and preempt.
    pub fn config(host: u8, advskew: u8, preempt: bool) -> VrConfigBuilder {
        let mut b = VrConfigBuilder::new(7, Ipv4Addr::new(10, 77, 0, host), vec![VIP], b"secret");
        b.advskew = advskew;
        b.preempt = preempt;
        b
    }

    /// Adds a node and starts it now. Returns its index.
    pub fn add_node(&mut self, config: VrConfigBuilder) -> usize {
        let index = self.nodes.len();
        self.nodes.push(SimNode {
            config,
            node: None,
            incarnation: 0,
            holds_vip: false,
            partition: 0,
            hooks_busy_until: self.now,
        });
        self.overlap_since = vec![None; self.nodes.len() * self.nodes.len()];
        self.last_arrival = vec![Instant::ZERO; self.nodes.len() * self.nodes.len()];
        self.refresh_bound();
        self.restart(index);
        index
    }

    fn refresh_bound(&mut self) {
        // The longest time two connected nodes may both hold the VIP: one master-down
        // interval of the slowest node, plus delivery and hook time.
        let worst = self
            .nodes
            .iter()
            .filter_map(|n| n.config.clone().build().ok())
            .map(|c| c.master_down_interval())
            .max()
            .unwrap_or_default();
        self.overlap_bound = worst + self.segment.delay_max + self.segment.hook_time * 2;
    }

    /// Crashes node `index`: it stops at once, sends nothing, and its VIP goes with it.
    pub fn crash(&mut self, index: usize) {
        let n = &mut self.nodes[index];
        n.node = None;
        n.holds_vip = false;
        n.incarnation += 1;
    }

    /// Starts (or restarts) node `index` with a fresh process.
    pub fn restart(&mut self, index: usize) {
        let seed = self.rng.next_u64();
        let now = self.now;
        let n = &mut self.nodes[index];
        n.incarnation += 1;
        n.holds_vip = false;
        n.hooks_busy_until = now;
        let config = n
            .config
            .clone()
            .build()
            .expect("simulated configs are valid");
        let mut node = Node::new();
        node.add_router(1, config, now, seed);
        n.node = Some(node);
        self.drain(index);
    }

    /// Stops node `index` gracefully (bow-out advert, down hook as with `-z`), then removes it.
    pub fn stop(&mut self, index: usize) {
        if let Some(node) = self.nodes[index].node.as_mut() {
            node.handle_command(self.now, carpd_proto::Command::Stop);
        }
        self.drain(index);
        self.nodes[index].node = None;
        self.nodes[index].holds_vip = false;
        self.nodes[index].incarnation += 1;
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

    /// The state of node `index` (INIT when crashed).
    pub fn state(&self, index: usize) -> State {
        self.nodes[index]
            .node
            .as_ref()
            .and_then(|n| n.router(RouterId(0)))
            .map_or(State::Init, |vr| vr.state())
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
                up,
            } => {
                let now = self.now;
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation {
                    return;
                }
                n.holds_vip = up;
                let kind = if up { HookKind::Up } else { HookKind::Down };
                if let Some(core) = n.node.as_mut() {
                    core.handle_hook_done(now, RouterId(0), kind);
                    self.drain(node);
                }
            }
        }
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
            match out.action {
                Action::SendAdvert { packet, .. } => {
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
                                packet: packet.to_vec(),
                            },
                        );
                    }
                }
                Action::RunHook(kind) => {
                    // Hooks of one node run one after another, in order.
                    let n = &mut self.nodes[index];
                    let start = n.hooks_busy_until.max(self.now);
                    let done = start + self.segment.hook_time;
                    n.hooks_busy_until = done;
                    let incarnation = n.incarnation;
                    self.schedule(
                        done,
                        Event::HookDone {
                            node: index,
                            incarnation,
                            up: kind == HookKind::Up,
                        },
                    );
                }
                Action::StateChanged { to, reason, .. } => self.transitions.push(Transition {
                    at: self.now,
                    node: index,
                    to,
                    reason,
                }),
                Action::Garp { .. } | Action::Dropped { .. } => {}
            }
        }
    }

    fn check_invariants(&mut self, at: Instant) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in (a + 1)..n {
                let connected = self.nodes[a].partition == self.nodes[b].partition;
                let both = (self.nodes[a].holds_vip && self.nodes[b].holds_vip)
                    || (self.state(a) == State::Master && self.state(b) == State::Master);
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
