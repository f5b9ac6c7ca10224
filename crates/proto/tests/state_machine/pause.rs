//! A pause of the whole machine: a backup whose master-down deadline fell due in it waits
//! one more advert interval for the master, once, and only when the lateness is a pause.

use crate::common::*;
use carpd_proto::{HookKind, Instant, Node, State, StateChangeReason, VirtualRouter};
use std::time::Duration;

/// A backup that heard PEER's advert (advbase 1, advskew 0) at 1 s: master down at 4 s.
fn following() -> VirtualRouter {
    let mut vr = VirtualRouter::new(config(ME).build().unwrap(), Instant::ZERO, 3);
    vr.handle_advert(at(1_000_000), &advert(PEER, 1, 0, 0, 1));
    drain(&mut vr);
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    vr
}

#[test]
fn a_backup_whose_deadline_fell_due_in_a_pause_waits_one_interval_once() {
    let mut vr = following();
    // Woken 0.6 s after the deadline it slept towards: one interval (1 s) more, nothing else.
    let second = Duration::from_secs(1);
    assert_eq!(
        vr.defer_master_down(at(4_600_000), Duration::from_millis(600)),
        Some(second)
    );
    assert_eq!(vr.poll_timeout(), Some(at(5_600_000)));
    vr.handle_timeout(at(4_600_000));
    assert!(drain(&mut vr).is_empty());
    assert_eq!(vr.state(), State::Backup);
    // Another pause at the new deadline: not put off again, the master is declared dead.
    assert_eq!(
        vr.defer_master_down(at(5_900_000), Duration::from_millis(300)),
        None
    );
    vr.handle_timeout(at(5_900_000));
    assert_eq!(
        summarise(&mut vr),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterDown),
            A::Hook(HookKind::Up),
            A::Sent(1, 0),
        ]
    );
}

#[test]
fn the_master_heard_after_the_pause_keeps_its_place_and_the_next_pause_is_waited_for_again() {
    let mut vr = following();
    assert!(vr
        .defer_master_down(at(4_100_000), Duration::from_millis(100))
        .is_some());
    // The master's overdue advert comes: followed as usual, deadline 3 s from it.
    vr.handle_advert(at(4_100_100), &advert(PEER, 1, 0, 0, 2));
    assert!(drain(&mut vr).is_empty());
    assert_eq!(vr.poll_timeout(), Some(at(7_100_100)));
    // A new deadline may be put off by a new pause.
    assert!(vr
        .defer_master_down(at(7_200_000), Duration::from_millis(100))
        .is_some());
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn a_late_wake_up_that_is_no_pause_or_a_deadline_not_due_changes_nothing() {
    let mut vr = following();
    // 1/16 of the 1 s interval is 62.5 ms: 60 ms late is scheduling, not a pause.
    assert_eq!(
        vr.defer_master_down(at(4_060_000), Duration::from_millis(60)),
        None
    );
    // Not due yet: nothing to put off.
    assert_eq!(
        vr.defer_master_down(at(3_999_999), Duration::from_secs(2)),
        None
    );
    assert_eq!(vr.poll_timeout(), Some(at(4_000_000)));
    // A master has no master-down deadline.
    vr.handle_timeout(at(4_060_000));
    drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    assert_eq!(
        vr.defer_master_down(at(5_500_000), Duration::from_secs(1)),
        None
    );
}

#[test]
fn the_fastest_carp_backup_waits_one_3_9_ms_interval_from_244_us_late() {
    let mut b = config(ME);
    b.protocol.carp_mut().unwrap().advbase = 0;
    b.protocol.carp_mut().unwrap().advskew = 1;
    let mut vr = VirtualRouter::new(b.build().unwrap(), Instant::ZERO, 3);
    vr.handle_advert(at(1_000_000), &advert(PEER, 0, 1, 0, 1));
    drain(&mut vr);
    let down = vr.poll_timeout().expect("master down");
    // Dead time 3 × 1/256 s; one interval is its third, 1/16 of that 244 µs.
    assert_eq!(down, at(1_011_718));
    let late = down + Duration::from_micros(300);
    assert_eq!(vr.defer_master_down(late, Duration::from_micros(240)), None);
    assert_eq!(
        vr.defer_master_down(late, Duration::from_micros(250)),
        Some(Duration::from_nanos(3_906_000))
    );
}

#[test]
fn the_node_puts_off_only_the_due_master_down_deadlines() {
    let mut node = Node::new();
    let due = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 1);
    let mut later = config(ME);
    later.protocol.carp_mut().unwrap().advskew = 200;
    let _later = node.add_router(3, later.build().unwrap(), Instant::ZERO, 2);
    while node.poll_action().is_some() {}
    // Started at 0: master down at 3 s for the first, 3 + 200/256 s for the second.
    let deferred = node.stalled(at(3_100_000), Duration::from_millis(500));
    assert_eq!(deferred, [(due, Duration::from_secs(1))]);
    assert_eq!(node.poll_timeout(), Some(at(3_781_250)));
    assert_eq!(
        node.router(due).unwrap().poll_timeout(),
        Some(at(4_100_000))
    );
    node.handle_timeout(at(3_100_000));
    assert!(node.poll_action().is_none(), "nobody took over");
    assert_eq!(node.router(due).unwrap().state(), State::Backup);
}
