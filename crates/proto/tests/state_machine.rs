//! The state machine with a fake clock: exact actions and deadlines, to the microsecond.

use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use carpd_proto::{
    Action, Command, Destination, DropReason, HookId, HookKind, Instant, Node, State,
    StateChangeReason, VirtualRouter, VrConfigBuilder,
};
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
const ME: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 12);

fn config(source: Ipv4Addr) -> VrConfigBuilder {
    VrConfigBuilder::new(7, source, vec![VIP], b"secret")
}

fn preempting(source: Ipv4Addr) -> VrConfigBuilder {
    let mut b = config(source);
    b.preempt = true;
    b
}

fn at(micros: u64) -> Instant {
    Instant::from_micros(micros)
}

fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

/// The actions without the advert bytes, for readable comparisons; adverts become
/// `Sent(advbase, advskew)` after their bytes are checked to parse and verify.
#[derive(Debug, PartialEq, Eq)]
enum A {
    Changed(State, State, StateChangeReason),
    Hook(HookKind),
    /// cancel this hook request
    Cancel(u64),
    Sent(u8, u8),
    Garp,
    Dropped(DropReason),
}

fn summarise(vr: &mut VirtualRouter) -> Vec<A> {
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
fn advert(source: Ipv4Addr, advbase: u8, advskew: u8, demote: u8, counter: u64) -> Advertisement {
    advert_with(b"secret", source, advbase, advskew, demote, counter)
}

fn advert_with(
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
fn master(b: VrConfigBuilder) -> VirtualRouter {
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    let md = vr.poll_timeout().unwrap();
    vr.handle_timeout(md);
    // Hook ids count from 1 per router: the start-up down hook, then this up hook.
    vr.handle_hook_done(md, HookId(2));
    drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    vr
}

#[test]
fn first_election_on_an_empty_segment() {
    // Input: one router, defaults, nobody else. Output: BACKUP with the down hook, MASTER at
    // exactly 3 s with up hook and advert, GARP after the hook, adverts every 1 s, the second
    // GARP with the third advert.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 42);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Init, State::Backup, StateChangeReason::Startup),
            A::Hook(HookKind::Down)
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(3_000_000)));
    vr.handle_timeout(at(2_999_999));
    assert!(summarise(&mut vr).is_empty(), "nothing before the deadline");
    vr.handle_timeout(at(3_000_000));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterDown),
            A::Hook(HookKind::Up),
            A::Sent(1, 0),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    vr.handle_hook_done(at(3_010_000), HookId(1));
    assert!(
        summarise(&mut vr).is_empty(),
        "the down hook's end changes nothing"
    );
    vr.handle_hook_done(at(3_010_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp]);
    vr.handle_timeout(at(4_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    vr.handle_timeout(at(5_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0), A::Garp]);
    vr.handle_timeout(at(6_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    assert_eq!(vr.poll_timeout(), Some(at(7_000_000)));
}

#[test]
fn neutral_skips_the_startup_down_hook_and_skew_delays_election() {
    let mut b = config(ME);
    b.neutral = true;
    b.protocol.carp_mut().unwrap().advskew = 100;
    let mut vr = VirtualRouter::new(b.build().unwrap(), at(5), 1);
    assert_eq!(
        summarise(&mut vr),
        [A::Changed(
            State::Init,
            State::Backup,
            StateChangeReason::Startup
        )]
    );
    // 3 × 1 s + 100/256 s (not multiplied): 3.390625 s after start.
    assert_eq!(vr.poll_timeout(), Some(at(5 + 3_390_625)));
}

#[test]
fn counters_increase_by_one_per_advert() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 9);
    drain(&mut vr);
    vr.handle_timeout(at(3_000_000));
    vr.handle_timeout(at(4_000_000));
    let counters: Vec<u64> = drain(&mut vr)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => {
                Some(Advertisement::parse(&packet).unwrap().carp.counter)
            }
            _ => None,
        })
        .collect();
    assert_eq!(counters.len(), 2);
    assert_eq!(counters[1], counters[0].wrapping_add(1));
}

#[test]
fn backup_follows_a_master_and_rearms_from_each_advert() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_500_000), &advert(PEER, 1, 0, 0, 10));
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), Some(at(4_500_000)));
    vr.handle_advert(at(2_500_000), &advert(PEER, 1, 0, 0, 11));
    assert_eq!(vr.poll_timeout(), Some(at(5_500_000)));
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn preemption_waits_for_the_up_hook_before_the_first_advert() {
    // Input: backup with --preempt, advskew 0, hears a master with advskew 50. Output: MASTER
    // and the up hook at once, but no advert until the hook is done (the old master serves
    // until then); the old master's adverts meanwhile only re-arm the wait.
    let mut b = config(ME);
    b.preempt = true;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 50, 0, 10));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::Preemption),
            A::Hook(HookKind::Up),
        ]
    );
    assert!(!vr.is_advertising());
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    vr.handle_advert(at(2_195_312), &advert(PEER, 1, 50, 0, 11));
    assert!(
        summarise(&mut vr).is_empty(),
        "no reassertion before the VIP is up"
    );
    assert_eq!(vr.poll_timeout(), Some(at(5_195_312)));
    // The start-up down hook (id 1) ending changes nothing; the up hook (id 2) does: GARP,
    // then the first advert with the better timing, then adverts every second.
    vr.handle_hook_done(at(2_500_000), HookId(1));
    assert!(summarise(&mut vr).is_empty());
    vr.handle_hook_done(at(5_000_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp, A::Sent(1, 0)]);
    assert!(vr.is_advertising());
    assert_eq!(vr.poll_timeout(), Some(at(6_000_000)));
    vr.handle_timeout(at(6_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    vr.handle_timeout(at(7_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0), A::Garp]);
    // Without --preempt the same advert only re-arms the timer.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 50, 0, 10));
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    // Equal timing never preempts.
    let mut b = config(ME);
    b.preempt = true;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 0, 0, 10));
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn master_steps_down_for_a_preferred_master_and_reasserts_against_a_worse_one() {
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advskew = 50;
    let mut vr = master(b.clone());
    // A worse master (advskew 100) within a quarter interval of our last advert: GARP now,
    // and our next advert
    // brought forward to a quarter interval after the last one (so that the other master
    // steps down soon, yet never more than 4 extra adverts per interval).
    vr.handle_advert(at(3_100_000), &advert(PEER, 1, 100, 0, 10));
    assert_eq!(summarise(&mut vr), [A::Garp]);
    // (Master since 3.195312 s: its dead time is 3 s + 50/256 s.)
    assert_eq!(vr.poll_timeout(), Some(at(3_195_312 + 298_828)));
    // More of its adverts within that quarter change nothing more: no advert, same schedule.
    for (i, t) in [3_200_000, 3_300_000, 3_400_000].into_iter().enumerate() {
        vr.handle_advert(at(t), &advert(PEER, 1, 100, 0, 20 + i as u64));
        assert_eq!(summarise(&mut vr), [A::Garp]);
        assert_eq!(vr.poll_timeout(), Some(at(3_195_312 + 298_828)));
    }
    // Heard again after that quarter: an advert at once, the schedule restarting from now.
    vr.handle_advert(at(3_600_000), &advert(PEER, 1, 100, 0, 11));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 50), A::Garp]);
    assert_eq!(vr.poll_timeout(), Some(at(3_600_000 + 1_195_312)));
    let next = vr.poll_timeout().unwrap();
    vr.handle_timeout(next);
    assert_eq!(summarise(&mut vr), [A::Sent(1, 50)]);
    let next = vr.poll_timeout().unwrap();
    vr.handle_timeout(next);
    assert_eq!(summarise(&mut vr), [A::Sent(1, 50), A::Garp]);
    // A better one (advskew 0): one last advert, then BACKUP with the down hook.
    vr.handle_advert(at(6_000_000), &advert(PEER, 1, 0, 0, 12));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(1, 50),
            A::Changed(
                State::Master,
                State::Backup,
                StateChangeReason::PreferredMaster
            ),
            A::Hook(HookKind::Down),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(6_000_000 + 3_195_312)));
}

/// Two masters with equal timing: who stays, in ucarp's raw little-endian address order.
fn tie(me: Ipv4Addr, peer: Ipv4Addr) -> State {
    let mut vr = master(config(me));
    vr.handle_advert(at(3_500_000), &advert(peer, 1, 0, 0, 99));
    drain(&mut vr);
    vr.state()
}

#[test]
fn equal_timing_tie_break_in_ucarps_address_order() {
    // Differ in the last octet: the lower address stays master.
    assert_eq!(tie(ME, PEER), State::Master);
    assert_eq!(tie(PEER, ME), State::Backup);
    // Differ in the third octet: ucarp on x86 orders by the last octet first, so 10.77.1.1
    // beats 10.77.0.2 although it is numerically higher (docs/protocol.md §6, "Tie-break", checked against ucarp).
    let high = Ipv4Addr::new(10, 77, 1, 1);
    let low = Ipv4Addr::new(10, 77, 0, 2);
    assert_eq!(tie(high, low), State::Master);
    assert_eq!(tie(low, high), State::Backup);
    // Same last octet, different second-to-last: 10.77.2.5 vs 10.77.1.5 → .1.5 wins.
    assert_eq!(
        tie(Ipv4Addr::new(10, 77, 1, 5), Ipv4Addr::new(10, 77, 2, 5)),
        State::Master
    );
    assert_eq!(
        tie(Ipv4Addr::new(10, 77, 2, 5), Ipv4Addr::new(10, 77, 1, 5)),
        State::Backup
    );
}

#[test]
fn bow_out_is_sent_on_stop_and_demote_and_honoured_on_receive() {
    let mut b = config(ME);
    b.down_hook_on_stop = true;
    let mut vr = master(b);
    vr.handle_command(at(3_200_000), Command::Stop);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Init, StateChangeReason::Stopped),
            A::Hook(HookKind::Down),
        ]
    );
    assert_eq!(vr.poll_timeout(), None);

    // A backup hearing the bow-out takes over at once, even without --preempt.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 0, 0, 5));
    vr.handle_advert(at(1_400_000), &advert(PEER, 255, 255, 0, 6));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(
                State::Backup,
                State::Master,
                StateChangeReason::MasterBowedOut
            ),
            A::Hook(HookKind::Up),
            A::Sent(1, 0),
        ]
    );
}

#[test]
fn demote_bows_out_holds_three_seconds_then_rejoins() {
    let mut b = config(ME);
    b.preempt = true;
    let mut vr = master(b);
    vr.handle_command(at(3_500_000), Command::Demote);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Backup, StateChangeReason::Demoted),
            A::Hook(HookKind::Down),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(6_500_000)));
    // During the hold a slower master does not provoke preemption.
    vr.handle_advert(at(4_000_000), &advert(PEER, 1, 50, 0, 1));
    assert!(summarise(&mut vr).is_empty());
    vr.handle_timeout(at(6_500_000));
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), Some(at(9_500_000)));
    // After it, the preferred node preempts again.
    vr.handle_advert(at(7_000_000), &advert(PEER, 1, 50, 0, 2));
    assert_eq!(vr.state(), State::Master);
    // Demote as backup does nothing.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_command(at(1), Command::Demote);
    assert!(summarise(&mut vr).is_empty());
}

#[test]
fn advbase_zero_uses_subsecond_intervals() {
    // advskew 13: adverts every 13/256 s = 50 781 µs; dead time 3 × that = 152 343 µs.
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advbase = 0;
    b.protocol.carp_mut().unwrap().advskew = 13;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    assert_eq!(vr.poll_timeout(), Some(at(152_343)));
    vr.handle_advert(at(100_000), &advert(PEER, 0, 10, 0, 1));
    assert_eq!(vr.poll_timeout(), Some(at(252_343)));
    vr.handle_timeout(at(252_343));
    assert_eq!(vr.state(), State::Master);
    drain(&mut vr);
    assert_eq!(vr.poll_timeout(), Some(at(252_343 + 50_781)));
    // A master with advbase 1 would time out between its adverts at this dead time: take
    // over at once ("going to time out").
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advbase = 0;
    b.protocol.carp_mut().unwrap().advskew = 13;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(10_000), &advert(PEER, 1, 0, 0, 1));
    assert_eq!(
        summarise(&mut vr)[0],
        A::Changed(
            State::Backup,
            State::Master,
            StateChangeReason::MasterWillTimeOut
        )
    );
}

#[test]
fn demote_byte_higher_loses() {
    // A master advertising demote 1 loses to us (demote 0) even with better timing.
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advskew = 100;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000), &advert(PEER, 1, 0, 1, 1));
    assert_eq!(
        summarise(&mut vr)[0],
        A::Changed(
            State::Backup,
            State::Master,
            StateChangeReason::MasterDemoted
        )
    );
    // As master with demote 2, a worse-timed peer with demote 0 wins.
    let mut vr = master(config(ME));
    vr.handle_command(at(3_100_000), Command::SetDemote(2));
    drain(&mut vr);
    vr.handle_advert(at(3_200_000), &advert(PEER, 1, 200, 0, 1));
    let actions = summarise(&mut vr);
    assert!(
        actions.contains(&A::Changed(
            State::Master,
            State::Backup,
            StateChangeReason::PreferredMaster
        )),
        "{actions:?}"
    );
    // And our adverts carry the demote byte: the one sent at once, and the next regular one.
    let mut vr = master(config(ME));
    vr.handle_command(at(3_100_000), Command::SetDemote(3));
    vr.handle_timeout(at(4_100_000));
    let sent: Vec<u8> = drain(&mut vr)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => Some(packet[20 + 4]),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [3, 3]);
}

#[test]
fn link_loss_makes_backup_and_return_rejoins() {
    let mut vr = master(config(ME));
    vr.handle_link(at(3_500_000), false);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Master, State::Backup, StateChangeReason::LinkDown),
            A::Hook(HookKind::Down)
        ]
    );
    assert_eq!(vr.poll_timeout(), None, "no timers while the link is down");
    vr.handle_advert(at(3_600_000), &advert(PEER, 1, 0, 0, 1));
    assert!(summarise(&mut vr).is_empty(), "adverts ignored while down");
    vr.handle_link(at(20_000_000), true);
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(
        vr.poll_timeout(),
        Some(at(23_000_000)),
        "no ten-second sleep"
    );
    vr.handle_timeout(at(23_000_000));
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn wrong_password_and_replays_are_dropped_without_effect() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert_with(b"wrong", PEER, 1, 0, 0, 1));
    assert_eq!(summarise(&mut vr), [A::Dropped(DropReason::BadDigest)]);
    assert_eq!(
        vr.poll_timeout(),
        Some(at(3_000_000)),
        "a bad packet does not re-arm"
    );
    // A bow-out with the wrong password does not make us master either.
    vr.handle_advert(at(1_100_000), &advert_with(b"wrong", PEER, 255, 255, 0, 2));
    assert_eq!(summarise(&mut vr), [A::Dropped(DropReason::BadDigest)]);
    assert_eq!(vr.state(), State::Backup);
    // A valid advert re-arms; its exact replay is dropped and does not.
    vr.handle_advert(at(2_000_000), &advert(PEER, 1, 0, 0, 77));
    assert_eq!(vr.poll_timeout(), Some(at(5_000_000)));
    vr.handle_advert(at(2_500_000), &advert(PEER, 1, 0, 0, 77));
    assert_eq!(summarise(&mut vr), [A::Dropped(DropReason::Replay)]);
    assert_eq!(vr.poll_timeout(), Some(at(5_000_000)));
}

#[test]
fn node_routes_by_vhid_and_drops_the_rest() {
    let mut node = Node::new();
    let id = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 1);
    while node.poll_action().is_some() {}
    // Own looped-back packet: silently ignored.
    node.handle_packet(at(1), 2, &advert(ME, 1, 0, 0, 1).emit());
    assert!(node.poll_action().is_none());
    // Another vhid: counted.
    let mut other = advert(PEER, 1, 0, 0, 1);
    other.carp.vhid = 8;
    node.handle_packet(at(2), 2, &other.emit());
    let out = node.poll_action().unwrap();
    assert_eq!(out.router, None);
    assert!(matches!(
        out.action,
        Action::Dropped {
            reason: DropReason::UnknownVhid(8),
            ..
        }
    ));
    // TTL 64: counted.
    let mut hop = advert(PEER, 1, 0, 0, 2);
    hop.ip.ttl = 64;
    node.handle_packet(at(3), 2, &hop.emit());
    assert_eq!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::BadTtl(64),
            source: Some(PEER.into())
        }
    );
    // Wrong interface: not ours.
    node.handle_packet(at(4), 3, &advert(PEER, 1, 0, 0, 3).emit());
    assert!(matches!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::UnknownVhid(7),
            ..
        }
    ));
    // A good one re-arms the right router.
    node.handle_packet(at(1_000_000), 2, &advert(PEER, 1, 0, 0, 4).emit());
    assert!(node.poll_action().is_none());
    assert_eq!(node.poll_timeout(), Some(at(4_000_000)));
    assert_eq!(node.router(id).unwrap().state(), State::Backup);
    // Garbage: counted as malformed with the source when readable.
    node.handle_packet(at(5), 2, &[0x45, 0, 0, 20]);
    assert!(matches!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::Malformed(_),
            source: None
        }
    ));
}

/// A router that became master at 3 s from a dead master and whose up hook (id 2) still runs.
fn master_with_up_hook_running(b: VrConfigBuilder) -> VirtualRouter {
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

#[test]
fn leaving_master_cancels_a_running_up_hook_before_the_down_hook() {
    // Stop (with -z): bow-out, INIT, the up hook cancelled, then the down hook.
    let mut b = config(ME);
    b.down_hook_on_stop = true;
    let mut vr = master_with_up_hook_running(b);
    vr.handle_command(at(3_500_000), Command::Stop);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Init, StateChangeReason::Stopped),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    // Stop without -z: no down hook, but the up hook is cancelled all the same.
    let mut vr = master_with_up_hook_running(config(ME));
    vr.handle_command(at(3_500_000), Command::Stop);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Init, StateChangeReason::Stopped),
            A::Cancel(2),
        ]
    );
    // Preempted by a better master.
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advskew = 50;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    vr.handle_timeout(vr.poll_timeout().unwrap());
    drain(&mut vr);
    vr.handle_advert(at(3_400_000), &advert(PEER, 1, 0, 0, 9));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(1, 50),
            A::Changed(
                State::Master,
                State::Backup,
                StateChangeReason::PreferredMaster
            ),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    // The cancelled hook's completion arrives late: nothing happens, in BACKUP or later.
    vr.handle_hook_done(at(3_450_000), HookId(2));
    assert!(summarise(&mut vr).is_empty());
    // Demoted, and link lost.
    let mut vr = master_with_up_hook_running(config(ME));
    vr.handle_command(at(3_500_000), Command::Demote);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Backup, StateChangeReason::Demoted),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    let mut vr = master_with_up_hook_running(config(ME));
    vr.handle_link(at(3_500_000), false);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Master, State::Backup, StateChangeReason::LinkDown),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    // Once the up hook is done there is nothing to cancel.
    let mut vr = master_with_up_hook_running(config(ME));
    vr.handle_hook_done(at(3_100_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp]);
    vr.handle_command(at(3_500_000), Command::Demote);
    assert!(!summarise(&mut vr).contains(&A::Cancel(2)));
}

#[test]
fn no_gratuitous_arp_before_the_up_hook_is_done() {
    // A slow up hook: the delayed GARP (third advert) and a reassertion against a worse
    // master wait for it; the hook's end announces.
    let mut vr = master_with_up_hook_running(config(ME));
    vr.handle_timeout(at(4_000_000));
    vr.handle_timeout(at(5_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0), A::Sent(1, 0)]);
    // 0.1 s after an advert: no advert at once (the next is brought forward), no GARP yet.
    vr.handle_advert(at(5_100_000), &advert(PEER, 1, 100, 0, 3));
    assert!(summarise(&mut vr).is_empty());
    vr.handle_hook_done(at(5_200_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp]);
}

/// A backup with --preempt taking over at 1 s from PEER (advskew 50); its up hook is id 2.
fn taking_over() -> VirtualRouter {
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

#[test]
fn taking_over_from_a_live_master_ends_in_every_way_it_can() {
    // The old master bows out while our hook runs: nobody serves, so advertise at once; the
    // GARP follows the hook.
    let mut vr = taking_over();
    vr.handle_advert(at(1_500_000), &advert(PEER, 255, 255, 0, 11));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    assert_eq!(vr.poll_timeout(), Some(at(2_500_000)));
    vr.handle_hook_done(at(1_600_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp]);

    // The old master goes silent for the dead time: advertise without waiting for the hook.
    let mut vr = taking_over();
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    vr.handle_timeout(at(4_000_000));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    assert!(vr.is_advertising());

    // A master we do not beat appears (a third router with timing 0·256 + 200 against our
    // 1·256 + 0): give up, cancel our hook, run the down hook.
    let mut vr = taking_over();
    vr.handle_advert(
        at(1_500_000),
        &advert(Ipv4Addr::new(10, 77, 0, 13), 0, 200, 0, 1),
    );
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(
                State::Master,
                State::Backup,
                StateChangeReason::PreferredMaster
            ),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(4_500_000)));

    // Stopped or demoted before the first advert: no bow-out (we never claimed the group),
    // the hook cancelled, the down hook run.
    let mut vr = taking_over();
    vr.handle_command(at(1_500_000), Command::Stop);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Master, State::Init, StateChangeReason::Stopped),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    let mut vr = taking_over();
    vr.handle_command(at(1_500_000), Command::Demote);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Master, State::Backup, StateChangeReason::Demoted),
            A::Cancel(2),
            A::Hook(HookKind::Down),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(at(4_500_000)));
}

#[test]
fn a_demoted_live_master_is_also_replaced_only_when_ready() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 0, 3, 10));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(
                State::Backup,
                State::Master,
                StateChangeReason::MasterDemoted
            ),
            A::Hook(HookKind::Up),
        ]
    );
    vr.handle_hook_done(at(1_200_000), HookId(2));
    assert_eq!(summarise(&mut vr), [A::Garp, A::Sent(1, 0)]);
}

#[test]
fn fragments_are_dropped_with_their_own_reason() {
    let mut node = Node::new();
    let id = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    while node.poll_action().is_some() {}
    // A whole advert from a better master, but marked as a fragment (offset 0, MF set): it
    // must not make anything happen.
    let bow_out = advert(PEER, 255, 255, 0, 1).emit();
    for (high, low) in [(0x20u8, 0u8), (0x00, 0x08)] {
        let mut bytes = bow_out;
        bytes[6] = high;
        bytes[7] = low;
        // Recompute the header checksum so that only the fragment bits are wrong.
        bytes[10] = 0;
        bytes[11] = 0;
        let sum = carpd_proto::wire::checksum(&bytes[..20]);
        bytes[10..12].copy_from_slice(&sum.to_be_bytes());
        node.handle_packet(at(500_000), 1, &bytes);
        let out: Vec<Action> = std::iter::from_fn(|| node.poll_action())
            .map(|o| o.action)
            .collect();
        assert_eq!(
            out,
            [Action::Dropped {
                reason: DropReason::Fragment,
                source: Some(PEER.into())
            }]
        );
    }
    assert_eq!(node.router(id).unwrap().state(), State::Backup);
    // The same advert whole is taken (the bow-out makes us master).
    node.handle_packet(at(600_000), 1, &bow_out);
    assert_eq!(node.router(id).unwrap().state(), State::Master);
}

/// Drains a node, keeping which router each action came from.
fn drain_node(node: &mut Node) -> Vec<(Option<carpd_proto::RouterId>, Action)> {
    std::iter::from_fn(|| node.poll_action())
        .map(|o| (o.router, o.action))
        .collect()
}

#[test]
fn node_routes_by_link_and_vhid_and_keeps_ids_across_removal() {
    let mut node = Node::new();
    // The same vhid on two links, and a second vhid on the first link.
    let a = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    let b = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 2);
    let mut other = config(ME);
    other.vhid = 8;
    let c = node.add_router(1, other.build().unwrap(), Instant::ZERO, 3);
    let startup = drain_node(&mut node);
    for id in [a, b, c] {
        assert!(
            startup.iter().any(|(r, action)| *r == Some(id)
                && matches!(
                    action,
                    Action::RunHook {
                        kind: HookKind::Down,
                        ..
                    }
                )),
            "{id:?} starts with its down hook: {startup:?}"
        );
    }
    // A better master on link 2 for vhid 7 moves only router b.
    node.handle_packet(at(100_000), 2, &advert(PEER, 255, 255, 0, 1).emit());
    let out = drain_node(&mut node);
    assert!(out.iter().all(|(r, _)| *r == Some(b)), "{out:?}");
    assert_eq!(node.router(b).unwrap().state(), State::Master);
    assert_eq!(node.router(a).unwrap().state(), State::Backup);
    assert_eq!(node.router(c).unwrap().state(), State::Backup);

    // Removing b (a master) bows out on its behalf; a and c keep their ids and their state.
    assert!(node.remove_router(at(200_000), b));
    let out = drain_node(&mut node);
    assert!(out.iter().all(|(r, _)| *r == Some(b)), "{out:?}");
    assert!(out.iter().any(|(_, action)| matches!(action,
        Action::Send { packet, .. } if Advertisement::parse(packet).unwrap().carp.advbase == 255)));
    assert!(out.iter().any(|(_, action)| matches!(
        action,
        Action::StateChanged {
            to: State::Init,
            ..
        }
    )));
    assert!(node.router(b).is_none() && node.link_of(b).is_none());
    assert!(!node.remove_router(at(200_000), b), "gone already");
    // A late hook completion for the removed router is ignored.
    node.handle_hook_done(at(210_000), b, HookId(1));
    assert!(node.poll_action().is_none());
    assert_eq!(node.link_of(c), Some(1));
    let d = node.add_router(2, config(ME).build().unwrap(), at(300_000), 4);
    assert!(d != a && d != b && d != c, "ids are never reused");
    assert_eq!(
        node.routers().map(|(id, _)| id).collect::<Vec<_>>(),
        [a, c, d]
    );
    // Packets for vhid 7 on link 2 now reach d.
    drain_node(&mut node);
    node.handle_packet(at(400_000), 2, &advert(PEER, 1, 0, 0, 2).emit());
    assert!(drain_node(&mut node).iter().all(|(r, _)| *r == Some(d)));
}

#[test]
fn node_deadline_is_the_earliest_router_deadline() {
    let mut node = Node::new();
    let mut slow = config(ME);
    slow.protocol.carp_mut().unwrap().advbase = 3;
    slow.vhid = 9;
    node.add_router(1, slow.build().unwrap(), Instant::ZERO, 1);
    let fast = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 2);
    drain_node(&mut node);
    assert_eq!(node.poll_timeout(), Some(at(3_000_000)));
    node.remove_router(at(1), fast);
    drain_node(&mut node);
    assert_eq!(node.poll_timeout(), Some(at(9_000_000)));
}

/// The node's deadline must be the earliest of its routers' own deadlines.
fn assert_deadline_consistent(node: &Node) {
    let earliest = node.routers().filter_map(|(_, r)| r.poll_timeout()).min();
    assert_eq!(node.poll_timeout(), earliest);
}

#[test]
fn node_indexes_follow_adds_removals_and_reconfiguration() {
    const OTHER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 13);
    let mut node = Node::new();
    let with = |vhid: u8, source: Ipv4Addr| {
        let mut b = config(source);
        b.vhid = vhid;
        b.protocol.carp_mut().unwrap().advskew = vhid;
        b.build().unwrap()
    };
    let ids: Vec<carpd_proto::RouterId> = (1..=255u8)
        .map(|v| node.add_router(1, with(v, ME), Instant::ZERO, u64::from(v)))
        .collect();
    drain_node(&mut node);
    // The smallest skew times out first.
    assert_eq!(
        node.poll_timeout(),
        node.router(ids[0]).unwrap().poll_timeout()
    );
    let for_vhid = |vhid: u8, source: Ipv4Addr, counter: u64| {
        let auth = Authenticator::new(b"secret", vhid, &[VIP]).unwrap();
        let mut a = advert(source, 1, 0, 0, counter);
        a.carp.vhid = vhid;
        a.carp.digest = auth.digest(counter);
        a.emit()
    };
    // An advert for vhid 1 re-arms that router alone: vhid 2 is now first.
    node.handle_packet(at(1_000_000), 1, &for_vhid(1, PEER, 1));
    assert!(drain_node(&mut node).is_empty());
    assert_deadline_consistent(&node);
    let second = node.router(ids[1]).unwrap().poll_timeout();
    assert_eq!(node.poll_timeout(), second);
    // Its timer fires: it alone becomes master, with its own actions.
    node.handle_timeout(second.unwrap());
    let out = drain_node(&mut node);
    assert!(
        !out.is_empty() && out.iter().all(|(r, _)| *r == Some(ids[1])),
        "{out:?}"
    );
    let masters: Vec<_> = node
        .routers()
        .filter(|(_, r)| r.state() == State::Master)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(masters, [ids[1]]);
    assert_deadline_consistent(&node);
    // vhid 3 moves to vhid 255 (freed by removing its router) with another source.
    assert!(node.remove_router(at(1_100_000), ids[254]));
    assert_eq!(
        node.reconfigure(at(1_100_000), ids[2], 1, with(255, OTHER)),
        Some(carpd_proto::Reconfigured::Restarted)
    );
    drain_node(&mut node);
    assert_deadline_consistent(&node);
    node.handle_packet(at(1_200_000), 1, &for_vhid(3, PEER, 2));
    assert!(matches!(
        drain_node(&mut node).as_slice(),
        [(
            None,
            Action::Dropped {
                reason: DropReason::UnknownVhid(3),
                ..
            }
        )]
    ));
    node.handle_packet(at(1_300_000), 1, &for_vhid(255, PEER, 3));
    assert!(drain_node(&mut node).is_empty());
    assert_eq!(
        node.router(ids[2]).unwrap().poll_timeout(),
        Some(at(1_300_000 + 3_000_000 + 255 * 1_000_000 / 256)),
        "vhid 255 reaches the reconfigured router"
    );
    // Its new source is ours, its old one still is (the others use it); once it is gone,
    // adverts from its source are a peer's.
    let before = node.router(ids[4]).unwrap().poll_timeout();
    node.handle_packet(at(1_400_000), 1, &for_vhid(5, OTHER, 4));
    assert!(drain_node(&mut node).is_empty());
    assert_eq!(
        node.router(ids[4]).unwrap().poll_timeout(),
        before,
        "own advert"
    );
    node.handle_packet(at(1_500_000), 1, &for_vhid(6, ME, 5));
    assert!(drain_node(&mut node).is_empty());
    assert!(node.remove_router(at(1_600_000), ids[2]));
    drain_node(&mut node);
    node.handle_packet(at(1_700_000), 1, &for_vhid(5, OTHER, 6));
    assert!(drain_node(&mut node).is_empty());
    assert_ne!(
        node.router(ids[4]).unwrap().poll_timeout(),
        before,
        "a peer's advert"
    );
    assert_deadline_consistent(&node);
    // A removed router's timer never fires.
    assert!(node.remove_router(at(1_800_000), ids[0]));
    drain_node(&mut node);
    node.handle_timeout(at(60_000_000));
    assert!(drain_node(&mut node)
        .iter()
        .all(|(r, _)| r.is_some_and(|r| r != ids[0])));
    assert_deadline_consistent(&node);
}

#[test]
fn drain_bows_out_and_stays_backup_until_resumed() {
    let mut b = config(ME);
    b.preempt = true;
    let mut vr = master(b);
    vr.handle_command(at(3_500_000), Command::Drain);
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Backup, StateChangeReason::Drained),
            A::Hook(HookKind::Down),
        ]
    );
    assert!(vr.is_drained());
    assert_eq!(vr.poll_timeout(), None, "no timer while drained");
    // A slower master would be preempted, and a bow-out would be taken over: not while drained.
    vr.handle_advert(at(4_000_000), &advert(PEER, 1, 50, 0, 1));
    vr.handle_advert(at(4_100_000), &advert(PEER, 255, 255, 0, 2));
    vr.handle_timeout(at(60_000_000));
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.state(), State::Backup);
    // Link flaps keep it drained.
    vr.handle_link(at(61_000_000), false);
    vr.handle_link(at(62_000_000), true);
    assert!(vr.is_drained() && vr.poll_timeout().is_none());
    // Resume: a backup that has just heard nothing, then MASTER at the dead time.
    vr.handle_command(at(70_000_000), Command::Resume);
    assert!(!vr.is_drained());
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), Some(at(73_000_000)));
    vr.handle_advert(at(71_000_000), &advert(PEER, 1, 50, 0, 3));
    assert_eq!(vr.state(), State::Master, "preempts again once resumed");
    // Draining a backup holds it too; resuming twice is harmless.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_command(at(1), Command::Drain);
    assert!(summarise(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), None);
    vr.handle_command(at(2), Command::Resume);
    vr.handle_command(at(3), Command::Resume);
    assert_eq!(vr.poll_timeout(), Some(at(3_000_002)));
}

#[test]
fn reconfigure_keeps_state_and_schedule_in_place_and_restarts_for_a_new_password() {
    let mut vr = master(config(ME));
    // MASTER since 3 s, next advert at 4 s. A slower advbase keeps the advert due at 4 s.
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    let mut slower = config(ME);
    slower.protocol.carp_mut().unwrap().advbase = 3;
    slower.protocol.carp_mut().unwrap().advskew = 20;
    slower.vips.push(Ipv4Addr::new(10, 77, 0, 101).into());
    assert_eq!(
        vr.reconfigure(at(3_500_000), slower.build().unwrap()),
        carpd_proto::Reconfigured::InPlace
    );
    assert!(summarise(&mut vr).is_empty(), "no state change, no hook");
    assert_eq!(vr.state(), State::Master);
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    vr.handle_timeout(at(4_000_000));
    let auth = Authenticator::new(b"secret", 7, &[VIP, Ipv4Addr::new(10, 77, 0, 101)]).unwrap();
    let sent: Vec<Advertisement> = drain(&mut vr)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => Some(Advertisement::parse(&packet).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].carp.advbase, sent[0].carp.advskew), (3, 20));
    assert!(
        auth.verify(sent[0].carp.counter, &sent[0].carp.digest),
        "signed over the new VIPs"
    );
    assert_eq!(vr.poll_timeout(), Some(at(7_078_125)));
    // A faster one brings the next advert forward.
    assert_eq!(
        vr.reconfigure(at(5_000_000), config(ME).build().unwrap()),
        carpd_proto::Reconfigured::InPlace
    );
    assert_eq!(vr.poll_timeout(), Some(at(6_000_000)));
    // A new password: bow out, down hook (down_hook_on_stop), then INIT to BACKUP again.
    let mut other = config(ME);
    other.password = b"other".to_vec();
    other.down_hook_on_stop = true;
    let mut old = config(ME);
    old.down_hook_on_stop = true;
    let mut vr = master(old);
    assert_eq!(
        vr.reconfigure(at(3_500_000), other.build().unwrap()),
        carpd_proto::Reconfigured::Restarted
    );
    let actions = drain(&mut vr);
    assert!(
        matches!(&actions[0], Action::Send { packet, .. } if Advertisement::parse(packet).unwrap().carp.is_bow_out())
    );
    let changes: Vec<(State, State)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [(State::Master, State::Init), (State::Init, State::Backup)]
    );
    assert_eq!(vr.poll_timeout(), Some(at(6_500_000)));
    // Hook ids go on counting: 1 start-up down, 2 up, 3 down at stop, 4 down at restart.
    let hooks: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RunHook { id, .. } => Some(id.0),
            _ => None,
        })
        .collect();
    assert_eq!(hooks, [3, 4]);
}

#[test]
fn stats_count_adverts_and_transitions_and_name_the_master() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    assert_eq!(vr.master(), None);
    vr.handle_advert(at(100), &advert(PEER, 1, 0, 0, 1));
    vr.handle_advert(at(200), &advert(PEER, 1, 0, 0, 1));
    drain(&mut vr);
    assert_eq!(vr.master(), Some(PEER.into()));
    vr.handle_advert(at(300), &advert(PEER, 255, 255, 0, 2));
    drain(&mut vr);
    assert_eq!(vr.master(), Some(ME.into()));
    let stats = vr.stats();
    assert_eq!(stats.adverts_received, 2, "the replay is not counted");
    assert_eq!(stats.transitions, 2);
    assert_eq!(stats.adverts_sent, 1);
}

#[test]
fn fault_bows_out_at_once_runs_the_down_hook_and_ignores_the_election_until_cleared() {
    // Input: a master at 3 s gets SetFault(true) at 3.5 s. Output: the bow-out advert, FAULT,
    // the down hook; no timer; adverts (even a bow-out) change nothing. Cleared at 10 s:
    // BACKUP with the master-down timer armed from then (3 s).
    let mut vr = master(config(ME));
    vr.handle_command(at(3_500_000), Command::SetFault(true));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(255, 255),
            A::Changed(State::Master, State::Fault, StateChangeReason::Fault),
            A::Hook(HookKind::Down)
        ]
    );
    assert_eq!(vr.state(), State::Fault);
    assert!(vr.is_faulted());
    assert_eq!(vr.poll_timeout(), None);
    vr.handle_advert(at(4_000_000), &advert(PEER, 255, 255, 0, 10));
    vr.handle_advert(at(5_000_000), &advert(PEER, 1, 200, 0, 11));
    vr.handle_timeout(at(9_000_000));
    assert_eq!(summarise(&mut vr), []);
    assert_eq!(vr.state(), State::Fault);
    // The master is still followed, for carpctl status.
    assert_eq!(vr.master(), Some(PEER.into()));
    // Setting it again is no change.
    vr.handle_command(at(9_500_000), Command::SetFault(true));
    assert_eq!(summarise(&mut vr), []);
    vr.handle_command(at(10_000_000), Command::SetFault(false));
    assert_eq!(
        summarise(&mut vr),
        [A::Changed(
            State::Fault,
            State::Backup,
            StateChangeReason::FaultCleared
        )]
    );
    assert_eq!(vr.poll_timeout(), Some(at(13_000_000)));
}

#[test]
fn fault_of_a_backup_runs_no_hook_and_a_taking_over_router_cancels_its_up_hook() {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_command(at(1_000_000), Command::SetFault(true));
    assert_eq!(
        summarise(&mut vr),
        [A::Changed(
            State::Backup,
            State::Fault,
            StateChangeReason::Fault
        )]
    );
    // Taking over from a live worse master (preempt), up hook pending: cancelled, then down.
    let mut vr = VirtualRouter::new(preempting(ME).build().unwrap(), Instant::ZERO, 1);
    vr.handle_advert(at(500_000), &advert(PEER, 1, 100, 0, 1));
    drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    assert!(!vr.is_advertising());
    vr.handle_command(at(600_000), Command::SetFault(true));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Master, State::Fault, StateChangeReason::Fault),
            A::Cancel(2),
            A::Hook(HookKind::Down)
        ]
    );
}

#[test]
fn a_fault_set_before_start_or_during_a_drain_is_kept_in_order() {
    // Drained, then faulted, then resumed while faulted: it stays FAULT; the fault clears to
    // BACKUP taking part. Drained again while faulted: clearing the fault leaves it drained.
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_command(at(1), Command::Drain);
    vr.handle_command(at(2), Command::SetFault(true));
    vr.handle_command(at(3), Command::Resume);
    assert_eq!(vr.state(), State::Fault);
    vr.handle_command(at(4), Command::SetFault(false));
    assert_eq!((vr.state(), vr.is_drained()), (State::Backup, false));
    assert_eq!(vr.poll_timeout(), Some(at(3_000_004)));
    vr.handle_command(at(5), Command::SetFault(true));
    vr.handle_command(at(6), Command::Drain);
    vr.handle_command(at(7), Command::SetFault(false));
    assert_eq!((vr.state(), vr.is_drained()), (State::Backup, true));
    assert_eq!(vr.poll_timeout(), None);
    // A link event in FAULT changes nothing but is remembered.
    vr.handle_command(at(8), Command::SetFault(true));
    vr.handle_link(at(9), false);
    vr.handle_command(at(10), Command::Resume);
    vr.handle_command(at(11), Command::SetFault(false));
    assert_eq!(vr.poll_timeout(), None, "link down: no master-down timer");
    vr.handle_link(at(12), true);
    assert_eq!(vr.poll_timeout(), Some(at(3_000_012)));
    // Stopped and restarted with the fault set: INIT, BACKUP (down hook), FAULT.
    vr.handle_command(at(20), Command::SetFault(true));
    drain(&mut vr);
    vr.restart(at(21), config(ME).build().unwrap());
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Fault, State::Init, StateChangeReason::Stopped),
            A::Changed(State::Init, State::Backup, StateChangeReason::Startup),
            A::Hook(HookKind::Down),
            A::Changed(State::Backup, State::Fault, StateChangeReason::Fault),
        ]
    );
}

#[test]
fn skew_demotion_is_advertised_at_once_and_changes_timing_and_the_election() {
    // advskew 10 plus 100: adverts say 110, at once and every 1 + 110/256 s after.
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advskew = 10;
    let mut vr = master(b);
    let now = at(3_100_000);
    vr.handle_command(now, Command::SetSkewDemotion(100));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 110)]);
    assert_eq!(vr.advskew(), 110);
    assert_eq!(vr.poll_timeout(), Some(now + vr.advert_interval()));
    assert_eq!(vr.advert_interval().as_micros(), 1_429_687);
    // A peer at advskew 50 now beats us: we step down when it advertises.
    vr.handle_advert(at(3_200_000), &advert(PEER, 1, 50, 0, 5));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Sent(1, 110),
            // ucarp's second gratuitous ARP, due with the third advert since taking over.
            A::Garp,
            A::Changed(
                State::Master,
                State::Backup,
                StateChangeReason::PreferredMaster
            ),
            A::Hook(HookKind::Down)
        ]
    );
    // Demotion back to 0: advskew 10 again; a preempting backup takes over from the peer.
    let mut b = preempting(ME);
    b.protocol.carp_mut().unwrap().advskew = 10;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    vr.handle_command(at(1), Command::SetSkewDemotion(100));
    drain(&mut vr);
    vr.handle_advert(at(500_000), &advert(PEER, 1, 50, 0, 1));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_command(at(600_000), Command::SetSkewDemotion(0));
    vr.handle_advert(at(1_500_000), &advert(PEER, 1, 50, 0, 2));
    assert_eq!(vr.state(), State::Master);
    // Capped so that advbase 255 never sends the bow-out pair.
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advbase = 255;
    b.protocol.carp_mut().unwrap().advskew = 200;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    vr.handle_command(at(1), Command::SetSkewDemotion(100));
    assert_eq!(vr.advskew(), 254);
}

#[test]
fn a_demote_byte_change_is_advertised_at_once() {
    let mut vr = master(config(ME));
    vr.handle_command(at(3_200_000), Command::SetDemote(20));
    assert_eq!(summarise(&mut vr), [A::Sent(1, 0)]);
    assert_eq!(vr.demote(), 20);
    assert_eq!(vr.poll_timeout(), Some(at(4_200_000)));
    // The same value again sends nothing.
    vr.handle_command(at(3_300_000), Command::SetDemote(20));
    assert_eq!(summarise(&mut vr), []);
}

#[test]
fn preempt_delay_holds_preemption_after_start_and_after_fault_but_not_a_dead_master() {
    // preempt, advskew 0, delay 5 s; a worse live master (advskew 100) advertises every second.
    let mut b = preempting(ME);
    b.preempt_delay = std::time::Duration::from_secs(5);
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    let mut counter = 0;
    let mut heard = |vr: &mut VirtualRouter, micros: u64| {
        counter += 1;
        vr.handle_advert(at(micros), &advert(PEER, 1, 100, 0, counter));
    };
    for s in 0..5u64 {
        heard(&mut vr, s * 1_000_000 + 500_000);
        assert_eq!(vr.state(), State::Backup, "at {s}.5 s");
    }
    // 5.5 s: the delay is over; the next advert is preempted.
    heard(&mut vr, 5_500_000);
    assert_eq!(vr.state(), State::Master);
    assert_eq!(
        summarise(&mut vr)[0],
        A::Changed(State::Backup, State::Master, StateChangeReason::Preemption)
    );
    // FAULT at 6 s, cleared at 10 s: held again until 15 s, even against a demoted master.
    vr.handle_command(at(6_000_000), Command::SetFault(true));
    vr.handle_command(at(10_000_000), Command::SetFault(false));
    vr.handle_advert(at(10_500_000), &advert(PEER, 1, 100, 9, 100));
    vr.handle_advert(at(14_500_000), &advert(PEER, 1, 100, 9, 101));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_advert(at(15_000_000), &advert(PEER, 1, 100, 9, 102));
    assert_eq!(vr.state(), State::Master);
    // A master that goes silent is replaced after the dead time, delay or not.
    let mut b = preempting(ME);
    b.preempt_delay = std::time::Duration::from_secs(60);
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    vr.handle_advert(at(500_000), &advert(PEER, 1, 100, 0, 1));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_timeout(vr.poll_timeout().unwrap());
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn garp_refresh_reannounces_while_master_and_stops_when_it_leaves() {
    let mut b = config(ME);
    b.garp_refresh = Some(std::time::Duration::from_millis(2_500));
    let mut vr = master(b);
    // Master since 3 s: refreshes at 5.5 s and 8 s, between adverts every second.
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    let mut garps = Vec::new();
    while let Some(next) = vr.poll_timeout().filter(|t| *t <= at(8_000_000)) {
        vr.handle_timeout(next);
        if summarise(&mut vr).contains(&A::Garp) {
            garps.push(next);
        }
    }
    // 5 s: ucarp's delayed GARP with the third advert; then the refreshes.
    assert_eq!(garps, [at(5_000_000), at(5_500_000), at(8_000_000)]);
    // As backup, no refresh.
    vr.handle_advert(at(8_100_000), &advert(PEER, 0, 200, 0, 1));
    drain(&mut vr);
    assert_eq!(vr.poll_timeout(), Some(at(8_100_000 + 3_000_000)));
}

#[test]
fn a_stranger_does_not_move_a_preempting_backup_that_follows_a_better_live_master() {
    const STRANGER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 99);
    // advskew 100 with preempt; the master PEER has advskew 0.
    let mut b = preempting(ME);
    b.protocol.carp_mut().unwrap().advskew = 100;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut vr);
    vr.handle_advert(at(500_000), &advert(PEER, 1, 0, 0, 10));
    assert!(summarise(&mut vr).is_empty());
    let master_down = vr.poll_timeout();
    // A worse router (advskew 200), a demoted one and a bow-out from a stranger: none moves
    // the backup while PEER is alive.
    for (i, (advbase, advskew, demote)) in [(1, 200, 0), (1, 0, 5), (255, 255, 0)]
        .into_iter()
        .enumerate()
    {
        vr.handle_advert(
            at(600_000 + i as u64 * 10_000),
            &advert(STRANGER, advbase, advskew, demote, 20 + i as u64),
        );
        assert_eq!(
            summarise(&mut vr),
            [A::Dropped(DropReason::NotTheMaster {
                master: PEER.into()
            })],
            "advert {i}"
        );
    }
    assert_eq!(vr.poll_timeout(), master_down);
    assert_eq!(vr.state(), State::Backup);
    // PEER silent for the dead time (3 s + 100/256 s): the worse router is preempted then.
    vr.handle_advert(at(4_000_000), &advert(STRANGER, 1, 200, 0, 30));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::Preemption),
            A::Hook(HookKind::Up)
        ]
    );
}
