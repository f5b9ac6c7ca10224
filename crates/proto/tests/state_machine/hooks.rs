//! Hooks and take-overs: no advert before the up hook, cancelled hooks, GARP timing.

use crate::common::*;
use carpd_proto::{Command, HookId, HookKind, Instant, State, StateChangeReason, VirtualRouter};
use std::net::Ipv4Addr;

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
