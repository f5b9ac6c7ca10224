//! Helpers shared by the state machine tests: configs, inputs, and actions summarised.

use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use carpd_proto::{
    Action, Destination, DropReason, HookId, HookKind, Instant, Node, State, StateChangeReason,
    VirtualRouter, VrConfigBuilder,
};
use std::net::Ipv4Addr;

pub(crate) const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
pub(crate) const ME: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
pub(crate) const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 12);
pub(crate) fn config(source: Ipv4Addr) -> VrConfigBuilder {
    VrConfigBuilder::new(7, source, vec![VIP], b"secret")
}
pub(crate) fn preempting(source: Ipv4Addr) -> VrConfigBuilder {
    let mut b = config(source);
    b.preempt = true;
    b
}
pub(crate) fn at(micros: u64) -> Instant {
    Instant::from_micros(micros)
}
pub(crate) fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}
/// The actions without the advert bytes, for readable comparisons; adverts become
/// `Sent(advbase, advskew)` after their bytes are checked to parse and verify.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum A {
    Changed(State, State, StateChangeReason),
    Hook(HookKind),
    /// cancel this hook request
    Cancel(u64),
    Sent(u8, u8),
    Garp,
    Dropped(DropReason),
}
pub(crate) fn summarise(vr: &mut VirtualRouter) -> Vec<A> {
    let auth = vr.config().authenticator().cloned().expect("a CARP key");
    drain(vr)
        .into_iter()
        .map(|a| match a {
            Action::StateChanged { from, to, reason } => A::Changed(from, to, reason),
            Action::RunHook { kind, .. } => A::Hook(kind),
            Action::CancelHook { id } => A::Cancel(id.0),
            Action::Send {
                packet,
                destination,
            } => {
                // Inline: a master's regular advert takes no heap block.
                assert!(!packet.spilled(), "{} bytes on the heap", packet.len());
                let adv = Advertisement::parse(&packet).expect("own advert parses");
                assert!(auth.verify(adv.carp.counter, &adv.carp.digest));
                assert_eq!(
                    destination,
                    Destination::Multicast(Ipv4Addr::new(224, 0, 0, 18).into())
                );
                A::Sent(adv.carp.advbase, adv.carp.advskew)
            }
            Action::Announce { vip } => {
                assert_eq!(vip, std::net::IpAddr::V4(VIP));
                A::Garp
            }
            Action::Dropped { reason, .. } => A::Dropped(reason),
            Action::Mismatch { .. } => panic!("CARP adverts carry no address list"),
        })
        .collect()
}
/// An advert from `source` as a peer with this timing and demote would send it.
pub(crate) fn advert(
    source: Ipv4Addr,
    advbase: u8,
    advskew: u8,
    demote: u8,
    counter: u64,
) -> Advertisement {
    advert_with(b"secret", source, advbase, advskew, demote, counter)
}
pub(crate) fn advert_with(
    password: &[u8],
    source: Ipv4Addr,
    advbase: u8,
    advskew: u8,
    demote: u8,
    counter: u64,
) -> Advertisement {
    let auth = Authenticator::new(password, 7, &[VIP]).unwrap();
    let carp = CarpRepr {
        vhid: 7,
        advskew,
        demote,
        advbase,
        counter,
        digest: auth.digest(counter),
    };
    Advertisement::outgoing(source, DEFAULT_GROUP, 1, carp)
}
/// A router that has just become master at 3 s (first election, advbase 1, advskew 0).
pub(crate) fn master(b: VrConfigBuilder) -> VirtualRouter {
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    let md = vr.poll_timeout().unwrap();
    vr.handle_timeout(md);
    // Hook ids count from 1 per router: the start-up down hook, then this up hook.
    vr.handle_hook_done(md, HookId(2));
    drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    vr
}
/// Two masters with equal timing: who stays, in ucarp's raw little-endian address order.
pub(crate) fn tie(me: Ipv4Addr, peer: Ipv4Addr) -> State {
    let mut vr = master(config(me));
    vr.handle_advert(at(3_500_000), &advert(peer, 1, 0, 0, 99));
    drain(&mut vr);
    vr.state()
}
/// A router that became master at 3 s from a dead master and whose up hook (id 2) still runs.
pub(crate) fn master_with_up_hook_running(b: VrConfigBuilder) -> VirtualRouter {
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    vr.handle_timeout(at(3_000_000));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Init, State::Backup, StateChangeReason::Startup),
            A::Hook(HookKind::Down),
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterDown),
            A::Hook(HookKind::Up),
            A::Sent(1, 0),
        ]
    );
    vr
}
/// A backup with --preempt taking over at 1 s from PEER (advskew 50); its up hook is id 2.
pub(crate) fn taking_over() -> VirtualRouter {
    let mut b = config(ME);
    b.preempt = true;
    b.down_hook_on_stop = true;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 50, 0, 10));
    drain(&mut vr);
    assert_eq!((vr.state(), vr.is_advertising()), (State::Master, false));
    vr
}
/// Drains a node, keeping which router each action came from.
pub(crate) fn drain_node(node: &mut Node) -> Vec<(Option<carpd_proto::RouterId>, Action)> {
    std::iter::from_fn(|| node.poll_action())
        .map(|o| (o.router, o.action))
        .collect()
}
/// The node's deadline must be the earliest of its routers' own deadlines.
pub(crate) fn assert_deadline_consistent(node: &Node) {
    let earliest = node.routers().filter_map(|(_, r)| r.poll_timeout()).min();
    assert_eq!(node.poll_timeout(), earliest);
}
