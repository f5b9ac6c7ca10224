//! Bad inputs found by fault testing (issue 14): each ends in a clear message naming the
//! value and what is accepted, exit status 1, and nothing on the host changed; fragments are
//! dropped; inherited descriptors never reach scripts; a renamed interface is logged.

use crate::common::*;
use carpd_lab::{wait_until, Lab};
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use std::process::Output;
use std::time::Duration;

/// Runs carpd expecting it to exit; one that keeps running is stopped after 10 s (exit 124).
fn carpd_once(lab: &Lab, host: usize, args: &[&str]) -> Output {
    let ip = lab.host(host).ip.to_string();
    let mut all = vec!["10", carpd(), "-i", "eth0", "-s", &ip, "-f", "none", "-n"];
    all.extend_from_slice(args);
    lab.run(lab.host(host), "timeout", &all).expect("run carpd")
}

fn refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status; stderr: {stderr}"
    );
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn addresses_carpd_did_not_add_are_refused_and_left_alone() {
    let Some(lab) = lab("rva", 84, 2, &[]) else {
        return;
    };
    let own = lab.host(1).ip;
    // -a equal to -s: refused before anything runs, the host keeps its address.
    let out = carpd_once(&lab, 1, &["-p", "x", "-v", "9", "-a", &own.to_string()]);
    refused(&out, &format!("--addr {own} is this host's own --srcip"));
    assert!(lab.has_address(lab.host(1), own));
    // An administrator's address as a native VIP: refused, kept.
    let admin = lab.address(150);
    lab.run(
        lab.host(1),
        "ip",
        &["addr", "add", &format!("{admin}/24"), "dev", "eth0"],
    )
    .unwrap();
    let out = carpd_once(&lab, 1, &["-p", "x", "-v", "9", "-a", &admin.to_string()]);
    refused(
        &out,
        &format!("--addr {admin} is already on eth0 and carpd did not add it"),
    );
    assert!(
        lab.has_address(lab.host(1), admin),
        "the address was removed"
    );
    // A -s that is not on the interface: refused, or a warning with -S.
    let out = carpd_once(
        &lab,
        1,
        &[
            "-s",
            &lab.address(77).to_string(),
            "-p",
            "x",
            "-v",
            "9",
            "-a",
            &lab.address(100).to_string(),
        ],
    );
    refused(
        &out,
        &format!("--srcip {} is not an address of eth0", lab.address(77)),
    );
    let pid = lab
        .spawn(
            lab.host(1),
            carpd(),
            &[
                "-i",
                "eth0",
                "-s",
                &lab.address(77).to_string(),
                "-v",
                "9",
                "-p",
                "x",
                "-a",
                &lab.address(100).to_string(),
                "-f",
                "none",
                "-S",
            ],
            "s",
        )
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .log("s")
            .contains("going on because of --ignoreifstate")),
        "{}",
        lab.log("s")
    );
    assert_eq!(
        lab.wait_exit(pid, Duration::ZERO),
        None,
        "carpd -S exited:\n{}",
        lab.log("s")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_second_instance_and_a_live_pidfile_are_refused() {
    let Some(lab) = lab("rsi", 85, 2, &[]) else {
        return;
    };
    let g = Group::new(&lab, 44);
    let pidfile = lab.dir().join("carpd.pid");
    let pidfile = pidfile.to_str().unwrap();
    let ip = lab.host(1).ip.to_string();
    let vip = g.vip.to_string();
    let first = lab
        .spawn(
            lab.host(1),
            carpd(),
            &[
                "-i",
                "eth0",
                "-s",
                &ip,
                "-v",
                "44",
                "-p",
                "secret",
                "-a",
                &vip,
                "-f",
                "none",
                "--pidfile",
                pidfile,
            ],
            "a",
        )
        .unwrap();
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a"]);
    let out = carpd_once(&lab, 1, &["-p", "secret", "-v", "44", "-a", &vip]);
    refused(&out, "already serves eth0 vhid 44 on this host");
    refused(&out, &format!("held by running process {}", first.0));
    let out = carpd_once(
        &lab,
        1,
        &[
            "-p",
            "secret",
            "-v",
            "45",
            "-a",
            &lab.address(101).to_string(),
            "--pidfile",
            pidfile,
        ],
    );
    refused(
        &out,
        &format!("--pidfile {pidfile} is held by running process {}", first.0),
    );
    assert_eq!(
        std::fs::read_to_string(pidfile).unwrap().trim(),
        first.0.to_string(),
        "the first one's pidfile was overwritten"
    );
    assert_eq!(
        lab.holders(g.vip),
        [1],
        "the refused instances changed the VIP"
    );
    // The same vhid on another host's namespace is another interface: allowed.
    let _other = start(&lab, Impl::Carpd, 2, &g, 50, false, "b");
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .log("b")
            .contains("Switching to state: BACKUP")),
        "{}",
        lab.log("b")
    );
    // When the first ends, its pidfile goes and the lock is free again.
    lab.signal(first, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(lab.wait_exit(first, Duration::from_secs(10)), Some(0));
    assert!(!std::path::Path::new(pidfile).exists());
}

/// A valid advert with a better timing than the master's, from host 3, as a fragment or whole.
fn better_adverts(lab: &Lab, vhid: u8, vip: std::net::Ipv4Addr, fragment: bool) -> Vec<Vec<u8>> {
    let auth = Authenticator::new(b"secret", vhid, &[vip]).unwrap();
    (0..200u64)
        .map(|counter| {
            let carp = CarpRepr {
                vhid,
                advskew: 1,
                demote: 0,
                advbase: 0,
                counter: 1_000 + counter,
                digest: auth.digest(1_000 + counter),
            };
            let mut packet = Advertisement::outgoing(lab.host(3).ip, DEFAULT_GROUP, 7, carp).emit();
            if fragment {
                // More fragments, offset 0, and a header checksum that agrees.
                packet[6] = 0x20;
                packet[7] = 0;
                packet[10] = 0;
                packet[11] = 0;
                let sum = carpd_proto::wire::checksum(&packet[..20]);
                packet[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            packet.to_vec()
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn fragments_are_dropped_and_counted() {
    let Some(lab) = lab("rfr", 86, 3, &[]) else {
        return;
    };
    let mut g = Group::new(&lab, 46);
    g.native = true;
    let a = start(&lab, Impl::Carpd, 1, &g, 0, false, "a");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a"]);
    let frames = better_adverts(&lab, g.vhid, g.vip, true);
    carpd_lab::flood(&lab.host(3).ns, frames, 100, Duration::from_secs(2)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    lab.signal(a.pid, nix::sys::signal::Signal::SIGUSR1);
    assert!(
        wait_until(Duration::from_secs(3), || lab
            .log("a")
            .contains("dropped fragment:")),
        "{}",
        lab.log("a")
    );
    let log = lab.log("a");
    assert!(
        !log.contains("Preferred master advertised"),
        "a fragment made the master step down:\n{log}"
    );
    assert!(log.contains("IP fragment of protocol 112 from"), "{log}");
    assert_eq!(lab.holders(g.vip), [1]);
    // The same adverts whole do make it step down: the check above can fail.
    let frames = better_adverts(&lab, g.vhid, g.vip, false);
    carpd_lab::flood(&lab.host(3).ns, frames, 100, Duration::from_secs(1)).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || lab
            .log("a")
            .contains("Preferred master advertised")),
        "{}",
        lab.log("a")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn scripts_get_no_descriptor_inherited_from_carpds_parent() {
    let Some(lab) = lab("rfd", 87, 2, &[]) else {
        return;
    };
    let (up, down) = lab.vip_scripts("a").unwrap();
    let marker = lab.dir().join("inherited-marker");
    std::fs::write(&marker, "x").unwrap();
    let ip = lab.host(1).ip.to_string();
    let vip = lab.address(100).to_string();
    // A parent that leaves descriptor 7 open on a file, as shells and supervisors do.
    let wrapper = format!(
        "exec 7<{} 9>>{}; exec \"$0\" \"$@\"",
        marker.display(),
        marker.display()
    );
    let _a = lab
        .spawn(
            lab.host(1),
            "sh",
            &[
                "-c",
                &wrapper,
                carpd(),
                "-i",
                "eth0",
                "-s",
                &ip,
                "-v",
                "47",
                "-p",
                "secret",
                "-a",
                &vip,
                "-f",
                "none",
                "-u",
                up.to_str().unwrap(),
                "-d",
                down.to_str().unwrap(),
            ],
            "a",
        )
        .unwrap();
    expect_holders(&lab, lab.address(100), &[1], SETTLE, &["a"]);
    let hooks = std::fs::read_to_string(lab.dir().join("a-hooks.log")).unwrap();
    assert_eq!(
        hooks.lines().count(),
        2,
        "down at start-up, then up:\n{hooks}"
    );
    assert!(
        !hooks.contains("inherited-marker"),
        "a script got carpd's parent's descriptor:\n{hooks}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_renamed_interface_is_logged_once_each_way() {
    let Some(lab) = lab("rrn", 88, 2, &[]) else {
        return;
    };
    let mut g = Group::new(&lab, 48);
    g.native = true;
    let a = start(&lab, Impl::Carpd, 1, &g, 0, true, "a");
    let _b = start(&lab, Impl::Carpd, 2, &g, 50, false, "b");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "b"]);
    let ip = |args: &[&str]| {
        let out = lab.run(lab.host(1), "ip", args).unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ip(&["link", "set", "eth0", "down"]);
    ip(&["link", "set", "eth0", "name", "eth9"]);
    ip(&["link", "set", "eth9", "up"]);
    expect_holders(&lab, g.vip, &[2], SETTLE, &["a", "b"]);
    assert!(
        wait_until(Duration::from_secs(3), || lab
            .log("a")
            .contains("Interface eth0 was renamed to eth9")),
        "{}",
        lab.log("a")
    );
    ip(&["link", "set", "eth9", "down"]);
    ip(&["link", "set", "eth9", "name", "eth0"]);
    ip(&["link", "set", "eth0", "up"]);
    expect_holders(&lab, g.vip, &[1], SETTLE, &["a", "b"]);
    let log = lab.log("a");
    assert_eq!(log.matches("was renamed to").count(), 1, "{log}");
    assert_eq!(log.matches("Interface eth0 is back").count(), 1, "{log}");
    assert_eq!(
        lab.wait_exit(a.pid, Duration::ZERO),
        None,
        "carpd exited:\n{log}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn too_many_open_files_is_said_plainly() {
    let Some(lab) = lab("rmf", 89, 2, &["prlimit"]) else {
        return;
    };
    let ip = lab.host(1).ip.to_string();
    let vip = lab.address(100).to_string();
    // Walk the descriptor limit up: each start-up step fails in turn for lack of descriptors,
    // and the packet socket's step must say so, not blame a missing capability.
    let mut named = false;
    for limit in 3..24 {
        let nofile = format!("--nofile={limit}:{limit}");
        let out = lab
            .run(
                lab.host(1),
                "timeout",
                &[
                    "5",
                    "prlimit",
                    &nofile,
                    carpd(),
                    "-i",
                    "eth0",
                    "-s",
                    &ip,
                    "-v",
                    "49",
                    "-p",
                    "x",
                    "-a",
                    &vip,
                    "-f",
                    "none",
                    "-n",
                ],
            )
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(124) {
            break; // enough descriptors: it runs
        }
        if stderr.contains("os error 24") {
            assert!(!stderr.contains("CAP_NET_RAW"), "limit {limit}: {stderr}");
        }
        named |= stderr.contains("for CARP: too many open files");
    }
    assert!(
        named,
        "no limit made the packet socket fail for lack of descriptors"
    );
}
