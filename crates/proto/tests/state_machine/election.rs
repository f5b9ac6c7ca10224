//! The election: who becomes master, ties, bow-outs, demote byte, drops, strangers.

use crate::common::*;
use carpd_proto::wire::carp::Advertisement;
use carpd_proto::{
    Action, Command, DropReason, HookId, HookKind, Instant, State, StateChangeReason, VirtualRouter,
};
use std::net::Ipv4Addr;

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
