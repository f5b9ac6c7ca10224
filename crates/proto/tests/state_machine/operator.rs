//! What operators and trackers do: link loss, demote, drain, fault, reconfigure, skew demotion, preempt delay.

use crate::common::*;
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::Advertisement;
use carpd_proto::{Action, Command, HookKind, Instant, State, StateChangeReason, VirtualRouter};
use std::net::Ipv4Addr;

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
