//! Scripts: ucarp's argv, carpd's environment, no leaked descriptors, and a hung script that
//! does not stop adverts.

use crate::common::*;
use std::time::Duration;

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn scripts_get_ucarps_argv_carpd_env_and_no_descriptors() {
    let Some(lab) = lab("thk", 30, 2, &[]) else {
        return;
    };
    let g = Group::new(&lab, 5);
    let a = start(&lab, Impl::Carpd, 1, &g, 0, false, "a");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a"]);
    // After start-up carpd keeps only CAP_NET_ADMIN (bit 12) and CAP_NET_RAW (bit 13).
    let status = std::fs::read_to_string(format!("/proc/{}/status", a.pid.0)).unwrap();
    let effective = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    assert_eq!(
        effective.split_whitespace().nth(1),
        Some("0000000000003000"),
        "{effective}"
    );
    // The password ("secret") is never logged, not even in the status output.
    lab.signal(a.pid, nix::sys::signal::Signal::SIGUSR1);
    assert!(carpd_lab::wait_until(
        std::time::Duration::from_secs(3),
        || lab.log("a").contains("MASTER on eth0")
    ));
    assert!(!lab.log("a").contains("secret"), "{}", lab.log("a"));
    let hooks = std::fs::read_to_string(lab.dir().join("a-hooks.log")).unwrap();
    let lines: Vec<&str> = hooks.lines().collect();
    // Startup down script (no --neutral), then the up script.
    assert!(
        lines[0].starts_with(&format!("del argc=2 args=eth0 {} state=BACKUP", g.vip)),
        "{hooks}"
    );
    assert!(
        lines[1].starts_with(&format!("add argc=2 args=eth0 {} state=MASTER", g.vip)),
        "{hooks}"
    );
    for line in &lines {
        let targets = line.split("fds=").nth(1).unwrap();
        // Sockets, epoll or eventfd descriptors would be carpd's (ucarp leaks its UDP socket
        // and libpcap's eventfd into scripts); descriptors the test harness itself inherited
        // are plain files or pipes.
        assert!(
            !targets.contains("socket:") && !targets.contains("anon_inode:"),
            "script inherited carpd's descriptors: {line}"
        );
    }
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_hung_up_script_does_not_stop_adverts_and_is_killed() {
    let Some(lab) = lab("thg", 31, 2, &[]) else {
        return;
    };
    let g = Group::new(&lab, 6);
    let up = lab
        .script("slow-up", "ip addr add \"$2\"/24 dev \"$1\"\nexec sleep 60")
        .unwrap();
    let (_, down) = lab.vip_scripts("b").unwrap();
    let h1 = lab.host(1).ip.to_string();
    let vip = g.vip.to_string();
    let a = lab
        .spawn(
            lab.host(1),
            carpd(),
            &[
                "-i",
                "eth0",
                "-s",
                &h1,
                "-v",
                "6",
                "-p",
                "secret",
                "-a",
                &vip,
                "-f",
                "none",
                "-n",
                "-u",
                up.to_str().unwrap(),
                "--hook-timeout",
                "4s",
            ],
            "a",
        )
        .unwrap();
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a"]);
    let _b = start(&lab, Impl::Carpd, 2, &g, 50, false, "b");
    // Adverts continue while the script sleeps: the backup never takes over.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        lab.holders(g.vip),
        [1],
        "backup took over while the up script hung:\n{}",
        lab.log("b")
    );
    assert!(
        !lab.log("b").contains("Switching to state: MASTER"),
        "{}",
        lab.log("b")
    );
    assert!(
        lab.log("a").contains("still running after 4s"),
        "{}",
        lab.log("a")
    );
    // Signals are answered meanwhile.
    lab.signal(a, nix::sys::signal::Signal::SIGUSR1);
    assert!(
        carpd_lab::wait_until(Duration::from_secs(3), || lab
            .log("a")
            .contains("MASTER on eth0 id 6")),
        "{}",
        lab.log("a")
    );
    let _ = down;
}
