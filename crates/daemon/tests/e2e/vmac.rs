//! The virtual MAC (`vmac = true`): a client whose neighbour entry for the VIP is pinned to
//! the virtual MAC (`nud permanent`, it never learns from gratuitous ARP) keeps reaching the
//! VIP across a master's crash and a planned stop; ARP for the VIP gets one answer, from the
//! virtual MAC; the backup's switch port carries no frame from the virtual MAC (a capture on
//! the switch, inbound), not after a link flap either; the macvlan is made down, up only on
//! the master, and gone after a stop, a reload that removes the group, and a crash followed by
//! a start; bad input refuses the start and makes nothing.

use crate::common::*;
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The vhid of the pair test: virtual MAC 00:00:5e:00:01:3d on vrrp.61.
const VHID: u8 = 61;
const VMAC: &str = "00:00:5e:00:01:3d";
const MACVLAN: &str = "vrrp.61";

/// CARP's master-down time of the backup (advbase 1, advskew 100): 3 s + 100/256 s.
const MASTER_DOWN: Duration = Duration::from_micros(3_390_625);

/// A carpd config: one CARP group "web" at advbase 1 with `advskew`, a virtual MAC, `extra`.
pub fn vmac_conf(lab: &Lab, name: &str, advskew: u8, vip: Ipv4Addr, extra: &str) -> PathBuf {
    write_config(
        lab,
        name,
        &format!(
            "[[group]]\nname = \"web\"\ninterface = \"eth0\"\nvhid = {VHID}\nvips = [\"{vip}/24\"]\n\
             password = \"vmac\"\nadvbase = 1\nadvskew = {advskew}\nvmac = true\n{extra}\n"
        ),
    )
}

/// Stops `capture` and returns its frames, one `tcpdump -r -e` line each.
pub fn frames(capture: &carpd_lab::Capture, lab: &Lab) -> Vec<String> {
    capture.stop(lab);
    capture
        .text(&["-e"])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The ARP replies `client` gets to `count` requests for `vip`: the MAC of each.
fn arp_answers(lab: &Lab, client: usize, vip: Ipv4Addr, count: u32) -> Vec<String> {
    let out = lab
        .run(
            lab.host(client),
            "arping",
            &["-c", &count.to_string(), "-i", "eth0", &vip.to_string()],
        )
        .expect("arping");
    // Thomas Habets' arping: "42 bytes from 00:00:5e:00:01:3d (10.77.160.100): index=0 ..."
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect()
}

/// Waits until exactly `expected` hosts hold `vip` on the macvlan.
fn expect_on_macvlan(lab: &Lab, vip: Ipv4Addr, expected: &[usize], logs: &[&str]) {
    let ok = wait_until(SETTLE, || lab.holders_on(MACVLAN, vip) == expected);
    let text: Vec<String> = logs.iter().map(|l| lab.log(l)).collect();
    assert!(
        ok,
        "holders of {vip} on {MACVLAN}: {:?}, expected {expected:?}\n{}",
        lab.holders_on(MACVLAN, vip),
        text.join("\n---\n")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_pinned_client_follows_the_virtual_mac_across_a_crash_and_a_planned_stop() {
    let Some(lab) = lab("vma", 160, 3, &["tcpdump", "arping"]) else {
        return;
    };
    let vip = lab.address(100);
    let c1 = vmac_conf(&lab, "c1.toml", 0, vip, "");
    let c2 = vmac_conf(&lab, "c2.toml", 100, vip, "");
    let _first = start_config(&lab, 1, &c1, "c1");
    expect_on_macvlan(&lab, vip, &[1], &["c1"]);
    let second = start_config(&lab, 2, &c2, "c2");
    assert!(
        wait_until(SETTLE, || lab.link_up(lab.host(2), MACVLAN) == Some(false)),
        "the backup's {MACVLAN}: {:?}\n{}",
        lab.link_up(lab.host(2), MACVLAN),
        lab.log("c2")
    );
    assert_eq!(lab.link_up(lab.host(1), MACVLAN), Some(true));
    let backup_port = lab
        .capture_from(lab.host(2), &format!("ether src {VMAC}"), "backup-port")
        .expect("capture");
    let arp = |key: &str| {
        lab.run(
            lab.host(1),
            "cat",
            &[&format!("/proc/sys/net/ipv4/conf/eth0/{key}")],
        )
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
    };
    assert_eq!(
        (arp("arp_ignore"), arp("arp_announce")),
        ("1".into(), "2".into())
    );

    // One answer per ARP request, from the virtual MAC: not the parents'.
    let answers = arp_answers(&lab, 3, vip, 3);
    assert_eq!(answers, vec![VMAC; 3], "ARP answers for {vip}");

    // The backup's parent flaps: its macvlan stays down. Brought up by hand, carpd takes it
    // down again.
    lab.set_link(lab.host(2), false).expect("link down");
    std::thread::sleep(Duration::from_millis(500));
    lab.set_link(lab.host(2), true).expect("link up");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lab.link_up(lab.host(2), MACVLAN),
        Some(false),
        "after a flap"
    );
    lab.run(lab.host(2), "ip", &["link", "set", MACVLAN, "up"])
        .expect("ip");
    assert!(
        wait_until(Duration::from_secs(2), || lab.link_up(lab.host(2), MACVLAN)
            == Some(false)),
        "{MACVLAN} brought up by hand on the backup stays up\n{}",
        lab.log("c2")
    );
    assert!(lab
        .log("c2")
        .contains("was brought up while not MASTER: taking it down"));
    expect_on_macvlan(&lab, vip, &[1], &["c1", "c2"]);

    // The client never learns: its entry is the virtual MAC, for good.
    lab.pin_neighbour(lab.host(3), vip, VMAC).expect("pin");
    let probe = lab
        .probe(lab.host(3), vip, Duration::from_millis(20))
        .expect("probe");
    std::thread::sleep(Duration::from_secs(1));
    let leaked = frames(&backup_port, &lab);
    assert!(
        leaked.is_empty(),
        "the backup's switch port carried frames from {VMAC}:\n{}",
        leaked.join("\n")
    );

    // The master crashes (killed, its port cut): the backup answers from the same MAC.
    let crash = Instant::now();
    let crash_at = probe.elapsed();
    lab.signal(_first.pid, Signal::SIGKILL);
    lab.set_port(lab.host(1), false).expect("port down");
    assert!(
        wait_until(SETTLE, || lab.has_address_on(lab.host(2), MACVLAN, vip)),
        "{}",
        lab.log("c2")
    );
    eprintln!("host 2 took over {:?} after the crash", crash.elapsed());

    // The crashed host comes back: its leftover macvlan (up, with the VIP) is replaced by a
    // fresh one, down, before it takes part; it stays backup (no preempt).
    let first = start_config(&lab, 1, &c1, "c1-again");
    assert!(
        wait_until(SETTLE, || lab
            .log("c1-again")
            .contains("Switching to state: BACKUP")),
        "{}",
        lab.log("c1-again")
    );
    assert!(
        lab.log("c1-again")
            .contains(&format!("Deleted {MACVLAN}, left by an earlier carpd")),
        "{}",
        lab.log("c1-again")
    );
    assert_eq!(lab.link_up(lab.host(1), MACVLAN), Some(false));
    lab.set_port(lab.host(1), true).expect("port up");
    let backup_port = lab
        .capture_from(lab.host(1), &format!("ether src {VMAC}"), "backup-port-1")
        .expect("capture");
    std::thread::sleep(Duration::from_secs(3));
    expect_on_macvlan(&lab, vip, &[2], &["c1-again", "c2"]);
    let leaked = frames(&backup_port, &lab);
    assert!(
        leaked.is_empty(),
        "the restarted backup's switch port carried frames from {VMAC}:\n{}",
        leaked.join("\n")
    );

    // A planned stop: the backup takes over at once, the stopped host keeps no macvlan.
    let stop_at = probe.elapsed();
    stop(&lab, &second, Signal::SIGTERM);
    expect_on_macvlan(&lab, vip, &[1], &["c1-again", "c2"]);
    assert_eq!(lab.link_up(lab.host(2), MACVLAN), None, "{}", lab.log("c2"));
    std::thread::sleep(Duration::from_secs(1));
    let report = probe.finish().expect("probe");
    let gap = |from: Duration| {
        report
            .outage_after(from)
            .map(|(before, after)| after - before)
            .expect("replies after")
    };
    let crash_outage = gap(crash_at);
    let stop_outage = gap(stop_at);
    eprintln!(
        "pinned client: outage {crash_outage:?} across the crash, {stop_outage:?} across the stop"
    );
    assert!(
        crash_outage <= MASTER_DOWN + Duration::from_millis(500),
        "outage {crash_outage:?} across a crash: expected at most Master_Down ({MASTER_DOWN:?}) + 0.5 s\n{}",
        lab.log("c2")
    );
    assert!(
        stop_outage <= Duration::from_millis(500),
        "outage {stop_outage:?} across a planned stop\n{}",
        lab.log("c1-again")
    );
    stop(&lab, &first, Signal::SIGTERM);
    assert_eq!(lab.link_up(lab.host(1), MACVLAN), None);
    assert_eq!(arp("arp_ignore"), "0", "put back at exit");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn bad_vmac_input_makes_nothing_and_no_macvlan_outlives_carpd() {
    let Some(lab) = lab("vmb", 161, 1, &[]) else {
        return;
    };
    let vip = lab.address(100);
    let h = lab.host(1);
    let ip = |args: &[&str]| {
        let out = lab.run(h, "ip", args).expect("ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    let refused = |text: &str, log: &str, needle: &str| {
        let path = write_config(&lab, &format!("{log}.toml"), text);
        let member = start_config(&lab, 1, &path, log);
        let code = lab.wait_exit(member.pid, Duration::from_secs(10));
        assert!(
            code.is_some_and(|c| c != 0),
            "{log}: {code:?}\n{}",
            lab.log(log)
        );
        assert!(
            lab.log(log).contains(needle),
            "{needle:?} not in\n{}",
            lab.log(log)
        );
    };
    let group = |vhid: u8, interface: &str, extra: &str| {
        format!(
            "[[group]]\nname = \"g{vhid}\"\ninterface = \"{interface}\"\nvhid = {vhid}\n\
             vips = [\"{vip}/24\"]\npassword = \"pw\"\nvmac = true\n{extra}\n"
        )
    };
    // A name that is not carpd's: refused, left alone.
    ip(&[
        "link", "add", "vrrp.62", "type", "veth", "peer", "name", "vx62",
    ]);
    refused(
        &group(62, "eth0", ""),
        "taken",
        "vmac_interface \"vrrp.62\" already exists and is not carpd's",
    );
    assert_eq!(
        lab.link_up(h, "vrrp.62"),
        Some(false),
        "the veth is still there"
    );
    // A parent that is not Ethernet (a TUN device has no MAC) and loopback.
    ip(&["tuntap", "add", "tun0", "mode", "tun"]);
    refused(&group(63, "tun0", ""), "tun", "not an Ethernet interface");
    refused(
        &group(63, "lo", ""),
        "lo",
        "vmac = true on interface = \"lo\"",
    );
    // Two groups with one vhid on one interface.
    refused(
        &format!(
            "{}{}",
            group(64, "eth0", ""),
            group(64, "eth0", "vmac_interface = \"x64\"").replace("g64", "h64")
        ),
        "twice",
        "already has the virtual MAC 00:00:5e:00:01:40",
    );
    let links =
        String::from_utf8_lossy(&lab.run(h, "ip", &["-o", "link"]).expect("ip").stdout).to_string();
    assert!(
        !links.contains("macvlan") && !links.contains("@eth0"),
        "{links}"
    );

    // Two groups; a reload removes one: its macvlan goes, the other's stays.
    let both = format!(
        "{}{}",
        group(65, "eth0", ""),
        group(66, "eth0", "").replace(&format!("{vip}/24"), &format!("{}/24", lab.address(101)))
    );
    let path = write_config(&lab, "both.toml", &both);
    let carpd = start_config(&lab, 1, &path, "both");
    assert!(
        wait_until(SETTLE, || lab.link_up(h, "vrrp.65").is_some()
            && lab.link_up(h, "vrrp.66").is_some()),
        "{}",
        lab.log("both")
    );
    write_config(&lab, "both.toml", &group(65, "eth0", ""));
    lab.signal(carpd.pid, Signal::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .link_up(h, "vrrp.66")
            .is_none()),
        "{}",
        lab.log("both")
    );
    assert!(lab.link_up(h, "vrrp.65").is_some());
    // Killed: its macvlan stays (nothing runs to delete it) until a carpd starts; one that no
    // longer has that group deletes it as a leftover.
    lab.signal(carpd.pid, Signal::SIGKILL);
    lab.wait_exit(carpd.pid, Duration::from_secs(5));
    assert!(lab.link_up(h, "vrrp.65").is_some());
    let plain = group(67, "eth0", "").replace("vmac = true\n", "");
    let path = write_config(&lab, "plain.toml", &plain);
    let carpd = start_config(&lab, 1, &path, "plain");
    assert!(
        wait_until(SETTLE, || lab
            .log("plain")
            .contains("Deleted vrrp.65: a macvlan carpd made")),
        "{}",
        lab.log("plain")
    );
    assert_eq!(lab.link_up(h, "vrrp.65"), None);
    stop(&lab, &carpd, Signal::SIGTERM);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn ipv6_adverts_leave_from_the_virtual_mac_and_are_heard() {
    let Some(lab) = lab("vm6", 165, 2, &["tcpdump"]) else {
        return;
    };
    for i in 1..=2 {
        assert!(
            lab.link_local(lab.host(i)).is_some(),
            "no link-local address"
        );
    }
    const VMAC6: &str = "00:00:5e:00:02:44";
    let conf = |name: &str, priority: u8| {
        write_config(
            &lab,
            name,
            &format!(
                "[[group]]\nname = \"six\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 68\n\
                 vips = [\"fe80::68\", \"2001:db8:165::68/64\"]\npriority = {priority}\n\
                 advert_interval = 0.5\nvmac = true\n"
            ),
        )
    };
    let _high = start_config(&lab, 2, &conf("c2.toml", 200), "c2");
    assert!(
        wait_until(SETTLE, || lab.link_up(lab.host(2), "vrrp6.68")
            == Some(true)),
        "{}",
        lab.log("c2")
    );
    let master_port = lab
        .capture_from(
            lab.host(2),
            &format!("ether src {VMAC6} and ip6 proto 112"),
            "six-master",
        )
        .expect("capture");
    let backup_port = lab
        .capture_from(lab.host(1), &format!("ether src {VMAC6}"), "six-backup")
        .expect("capture");
    let _low = start_config(&lab, 1, &conf("c1.toml", 100), "c1");
    // The backup hears the master's adverts (written whole by carpd, from the virtual MAC)
    // and stays backup beyond its Master_Down (3 × 0.5 s + skew).
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        lab.log("c1").contains("Switching to state: BACKUP")
            && !lab.log("c1").contains("Switching to state: MASTER"),
        "{}",
        lab.log("c1")
    );
    assert_eq!(lab.link_up(lab.host(1), "vrrp6.68"), Some(false));
    let adverts = frames(&master_port, &lab);
    assert!(adverts.len() >= 6, "adverts from {VMAC6}: {adverts:?}");
    assert!(
        adverts.iter().all(|a| a.contains("ff02::12")),
        "{adverts:?}"
    );
    let leaked = frames(&backup_port, &lab);
    assert!(
        leaked.is_empty(),
        "the backup sent from {VMAC6}: {leaked:?}"
    );
}
