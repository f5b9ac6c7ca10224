//! Two carpd nodes.

use crate::common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carpd_pair_elects_fails_over_and_preempts() {
    let Some(lab) = lab("tpa", 10, 3, &[]) else {
        return;
    };
    let g = Group::new(&lab, 7);
    let a = start(&lab, Impl::Carpd, 1, &g, 0, true, "a");
    let _b = start(&lab, Impl::Carpd, 2, &g, 50, false, "b");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "b"]);
    expect_client_sees(&lab, 3, g.vip, 1, SETTLE);
    // The master dies with its host: process killed, switch port cut.
    lab.signal(a.pid, Signal::SIGKILL);
    lab.set_port(lab.host(1), false).unwrap();
    expect_holders(&lab, g.vip, &[1, 2], SETTLE, &["a", "b"]);
    expect_client_sees(&lab, 3, g.vip, 2, SETTLE);
    // It comes back; its startup down-script removes the stale VIP; --preempt takes over.
    lab.set_port(lab.host(1), true).unwrap();
    let _a = start(&lab, Impl::Carpd, 1, &g, 0, true, "a2");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a2", "b"]);
    expect_client_sees(&lab, 3, g.vip, 1, SETTLE);
    assert!(
        lab.log("a2").contains("Putting MASTER down - preemption"),
        "{}",
        lab.log("a2")
    );
    assert!(lab
        .log("b")
        .contains("Preferred master advertised: going back to BACKUP state"));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carpd_pair_equal_timing_masters_meet_and_the_lower_address_stays() {
    let Some(lab) = lab("ttb", 11, 2, &[]) else {
        return;
    };
    let mut g = Group::new(&lab, 9);
    // -S: keep running while the switch port is cut, so that both become master.
    g.extra = vec!["-S".into()];
    lab.set_port(lab.host(2), false).unwrap();
    let _a = start(&lab, Impl::Carpd, 1, &g, 0, false, "a");
    let _b = start(&lab, Impl::Carpd, 2, &g, 0, false, "b");
    expect_holders(&lab, g.vip, &[1, 2], SETTLE, &["a", "b"]);
    // The partition heals: two masters with equal timing hear each other. ucarp's tie-break
    // (raw address order; here the last octet decides: .11 < .12) leaves host 1.
    lab.set_port(lab.host(2), true).unwrap();
    expect_holders(&lab, g.vip, &[1], Duration::from_secs(5), &["a", "b"]);
    assert!(
        lab.log("b").contains("Preferred master advertised"),
        "{}",
        lab.log("b")
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.holders(g.vip), [1], "stable");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn two_groups_share_a_lan_without_interference() {
    let Some(lab) = lab("tgr", 12, 2, &[]) else {
        return;
    };
    let g1 = Group::new(&lab, 1);
    let mut g2 = Group::new(&lab, 2);
    g2.vip = lab.address(101);
    g2.pass = vec!["-p".into(), "other".into()];
    let a1 = start(&lab, Impl::Carpd, 1, &g1, 0, false, "a1");
    let _b1 = start(&lab, Impl::Carpd, 2, &g1, 50, false, "b1");
    let a2 = start(&lab, Impl::Carpd, 1, &g2, 50, false, "a2");
    let _b2 = start(&lab, Impl::Carpd, 2, &g2, 0, false, "b2");
    expect_holders(&lab, g1.vip, &[1], SETTLE, &["a1", "b1"]);
    expect_holders(&lab, g2.vip, &[2], SETTLE, &["a2", "b2"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        (lab.holders(g1.vip), lab.holders(g2.vip)),
        (vec![1], vec![2]),
        "stable"
    );
    for log in ["a1", "b1", "a2", "b2"] {
        assert!(
            !lab.log(log).contains("Bad digest"),
            "{log}: {}",
            lab.log(log)
        );
    }
    // Host 1 stops both: group 1 moves to host 2 at once (bow-out), group 2 stays.
    stop(&lab, &a1, Signal::SIGTERM);
    stop(&lab, &a2, Signal::SIGTERM);
    expect_holders(&lab, g1.vip, &[2], Duration::from_secs(3), &["a1", "b1"]);
    assert_eq!(lab.holders(g2.vip), [2]);
}
