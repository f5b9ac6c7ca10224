//! Signals: SIGUSR1 status, SIGUSR2 demote, SIGTERM bow-out (also towards ucarp).

use crate::common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
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
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn sigterm_bow_out_makes_a_ucarp_backup_take_over_at_once() {
    let Some(lab) = lab("tbo", 41, 2, &["ucarp"]) else {
        return;
    };
    let g = Group::new(&lab, 3);
    // carpd first: started together, ucarp (which reads adverts up to ~1 s late) can time
    // out before it has read carpd's first advert and be master for a moment, after which
    // its timers, not the bow-out, may decide when it takes over.
    let a = start(&lab, Impl::Carpd, 1, &g, 0, false, "a");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a"]);
    let _u = start(&lab, Impl::Ucarp, 2, &g, 50, false, "u");
    std::thread::sleep(Duration::from_secs(4));
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "u"]);
    assert!(
        !lab.log("u").contains("Switching to state: MASTER"),
        "ucarp was master before the stop:\n{}",
        lab.log("u")
    );
    let t = Instant::now();
    assert_eq!(stop(&lab, &a, Signal::SIGTERM), Some(0));
    // ucarp alone would wait 3 s + 50/256 s after the last advert; the bow-out makes it
    // take over on receipt ("going to time out"). ucarp reads through libpcap with up to
    // ~1 s of delay, so allow that.
    expect_holders(&lab, g.vip, &[2], Duration::from_millis(2500), &["a", "u"]);
    assert!(t.elapsed() < Duration::from_millis(2500));
    // ucarp may log its reason a few ms after its up script has added the VIP.
    assert!(
        carpd_lab::wait_until(Duration::from_secs(1), || lab
            .log("u")
            .contains("Putting MASTER DOWN (going to time out)")),
        "{}",
        lab.log("u")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn systemd_notify_ready_then_status_on_each_state() {
    let Some(lab) = lab("tsn", 42, 1, &[]) else {
        return;
    };
    let path = lab.dir().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ip = lab.host(1).ip.to_string();
    let vip = lab.address(100).to_string();
    let notify = format!("NOTIFY_SOCKET={}", path.display());
    lab.spawn(
        lab.host(1),
        "env",
        &[
            &notify,
            carpd(),
            "-i",
            "eth0",
            "-s",
            &ip,
            "-v",
            "2",
            "-p",
            "pw",
            "-a",
            &vip,
            "-f",
            "none",
        ],
        "a",
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let mut received = |what: &str| {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what}: {e}\n{}", lab.log("a")));
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    // READY=1 and the first state (BACKUP), then MASTER once elected.
    let mut seen = String::new();
    while !(seen.contains("READY=1") && seen.contains("STATUS=BACKUP on eth0 id 2")) {
        seen.push_str(&received("READY and BACKUP"));
        seen.push('\n');
    }
    assert!(!seen.contains("MASTER"), "{seen}");
    let next = received("MASTER status");
    assert!(next.contains("STATUS=MASTER on eth0 id 2"), "{next}");
}
