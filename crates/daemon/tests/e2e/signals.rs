//! Signals: SIGUSR1 status, SIGUSR2 demote, SIGTERM bow-out (also towards ucarp).

use crate::common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
fn usr1_reports_and_usr2_demotes_without_freezing() {
    let Some(lab) = lab("tsg", 40, 2, &[]) else {
        return;
    };
    let g = Group::new(&lab, 4);
    let a = start(&lab, Impl::Carpd, 1, &g, 0, true, "a");
    let b = start(&lab, Impl::Carpd, 2, &g, 50, false, "b");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "b"]);
    lab.signal(a.pid, Signal::SIGUSR1);
    lab.signal(b.pid, Signal::SIGUSR1);
    assert!(carpd_lab::wait_until(Duration::from_secs(3), || lab
        .log("a")
        .contains("[INFO] MASTER on eth0 id 4")));
    assert!(carpd_lab::wait_until(Duration::from_secs(3), || lab
        .log("b")
        .contains("[INFO] BACKUP on eth0 id 4")));
    // SIGUSR2: the master bows out; the backup takes over well before its 3 s dead time.
    let t = Instant::now();
    lab.signal(a.pid, Signal::SIGUSR2);
    expect_holders(&lab, g.vip, &[2], Duration::from_secs(2), &["a", "b"]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "handover took {:?}",
        t.elapsed()
    );
    // The demoted node answers signals during its 3 s hold, then preempts back (--preempt).
    lab.signal(a.pid, Signal::SIGUSR1);
    assert!(carpd_lab::wait_until(Duration::from_secs(2), || lab
        .log("a")
        .contains("[INFO] BACKUP on eth0 id 4")));
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "b"]);
}

#[test]
fn sigterm_bow_out_makes_a_ucarp_backup_take_over_at_once() {
    let Some(lab) = lab("tbo", 41, 2, &["ucarp"]) else {
        return;
    };
    let g = Group::new(&lab, 3);
    let a = start(&lab, Impl::Carpd, 1, &g, 0, false, "a");
    let _u = start(&lab, Impl::Ucarp, 2, &g, 50, false, "u");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "u"]);
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    assert_eq!(stop(&lab, &a, Signal::SIGTERM), Some(0));
    // ucarp alone would wait 3 s + 50/256 s after the last advert; the bow-out makes it
    // take over on receipt ("going to time out"). ucarp reads through libpcap with up to
    // ~1 s of delay, so allow that.
    expect_holders(&lab, g.vip, &[2], Duration::from_millis(2500), &["a", "u"]);
    assert!(t.elapsed() < Duration::from_millis(2500));
    assert!(
        lab.log("u")
            .contains("Putting MASTER DOWN (going to time out)"),
        "{}",
        lab.log("u")
    );
}
