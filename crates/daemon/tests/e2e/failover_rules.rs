//! Failover rules beyond one tracker: sync groups that move together, preempt_delay, and
//! clients following the winner when a partition heals or, over IPv6, when the master
//! changes.

use crate::common::{expect_holders, lab};
use crate::common::{start_config, write_config};
use crate::config_mode::group;
use crate::control::status;
use crate::trackers::{socket_of, time_until_holders, tracked};
use carpd_lab::{wait_until, Lab};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

/// A group with a name and a sync group, native, on `interface`.
fn synced(name: &str, interface: &str, vip: Ipv4Addr, advskew: u8) -> String {
    group(interface, 10, vip, advskew).replacen(
        "[[group]]\n",
        &format!("[[group]]\nname = \"{name}\"\nsync = \"edge\"\n"),
        1,
    )
}

/// Waits until exactly `expected` hold `vip` on any interface; panics with the logs.
fn expect_anywhere(lab: &Lab, vip: Ipv4Addr, expected: &[usize], within: Duration, logs: &[&str]) {
    let holders = || -> Vec<usize> {
        (1..=2)
            .filter(|&h| lab.all_addresses(lab.host(h)).contains(&vip))
            .collect()
    };
    if !wait_until(within, || holders() == expected) {
        let text: String = logs
            .iter()
            .map(|l| format!("--- {l}\n{}\n", lab.log(l)))
            .collect();
        panic!(
            "holders of {vip}: {:?}, expected {expected:?} within {within:?}\n{text}",
            holders()
        );
    }
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_sync_group_hands_over_together_when_one_member_loses_its_link() {
    let Some(lab) = lab("tsy", 47, 2, &[]) else {
        return;
    };
    lab.add_second_lan(48).expect("second LAN");
    let inside = Ipv4Addr::new(10, 77, 47, 110);
    let outside = Ipv4Addr::new(10, 77, 48, 110);
    let config = |advskew| {
        synced("inside", "eth0", inside, advskew) + &synced("outside", "eth1", outside, advskew)
    };
    let h1 = write_config(&lab, "h1.toml", &config(10));
    let h2 = write_config(&lab, "h2.toml", &config(100));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, inside, &[1], Duration::from_secs(15), &logs);
    expect_anywhere(&lab, outside, &[1], Duration::from_secs(5), &logs);
    // Host 1's outside switch port goes down: eth1 loses its carrier.
    let port = |up: &str| {
        let out = Command::new("ip")
            .args([
                "-n",
                "tsybr",
                "link",
                "set",
                &format!("{}q", lab.host(1).port),
                up,
            ])
            .output()
            .expect("ip");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    port("down");
    // inside's link is fine: it bows out at once because its sync partner lost its link.
    let took = time_until_holders(&lab, inside, &[2], Duration::from_millis(1500), &logs);
    eprintln!("sync group: inside moved {took:?} after outside's link went down");
    // outside could not bow out on a dead link: host 2 takes it after the dead time.
    expect_anywhere(&lab, outside, &[2], Duration::from_secs(5), &logs);
    let socket = socket_of(&lab, "h1.toml");
    let groups = status(&socket);
    for name in ["inside", "outside"] {
        assert_eq!(groups[name]["state"], "FAULT", "{name}: {}", groups[name]);
        assert_eq!(groups[name]["sync"], "edge");
    }
    let causes = groups["inside"]["fault_causes"].to_string();
    assert!(
        causes.contains("eth1") && causes.contains("outside"),
        "{causes}"
    );
    // Carrier back: both leave FAULT together and preempt back.
    port("up");
    expect_holders(&lab, inside, &[1], Duration::from_secs(5), &logs);
    expect_anywhere(&lab, outside, &[1], Duration::from_secs(5), &logs);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn preempt_delay_lets_a_live_master_serve_while_the_preferred_node_warms_up() {
    let Some(lab) = lab("tpd", 49, 2, &[]) else {
        return;
    };
    let vip = lab.address(111);
    let h1 = write_config(
        &lab,
        "h1.toml",
        &tracked("web", 11, vip, 10, "preempt_delay = 4.0"),
    );
    let h2 = write_config(&lab, "h2.toml", &tracked("web", 11, vip, 100, ""));
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[2], Duration::from_secs(15), &logs);
    let started = Instant::now();
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(8), &logs);
    let took = started.elapsed();
    eprintln!("preempt_delay 4 s: preferred node took over {took:?} after its start");
    // Not before the delay; after it, at the next advert of the live master (1 s).
    assert!(
        took >= Duration::from_secs(4) && took <= Duration::from_millis(5600),
        "took over {took:?} after start"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn after_a_partition_heals_clients_follow_the_winner_at_once() {
    let Some(lab) = lab("tsb", 52, 3, &["ping"]) else {
        return;
    };
    let vip = lab.address(113);
    let h1 = write_config(&lab, "h1.toml", &tracked("web", 13, vip, 0, ""));
    let h2 = write_config(&lab, "h2.toml", &tracked("web", 13, vip, 100, ""));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &logs);
    // Partition: host 1's switch port leaves the bridge. Host 2 takes over on its side, so
    // both are masters and the client follows the loser.
    let bridge = |args: &[&str]| {
        let mut all = vec!["-n", "tsbbr", "link", "set", lab.host(1).port.as_str()];
        all.extend_from_slice(args);
        let out = Command::new("ip").args(&all).output().expect("ip");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    bridge(&["nomaster"]);
    expect_holders(&lab, vip, &[1, 2], Duration::from_secs(6), &logs);
    let client = lab.host(3).clone();
    let loser = lab.mac(lab.host(2));
    let winner = lab.mac(lab.host(1));
    assert!(wait_until(Duration::from_secs(3), || {
        crate::common::ping_once(&lab, &client, vip);
        lab.neighbour(&client, vip).as_deref() == Some(loser.as_str())
    }));
    // Heal. The winner hears the worse master (or the loser's last advert as it steps down)
    // and announces the VIP at once; the client must not wait for its ARP entry to age.
    std::thread::sleep(Duration::from_millis(1200));
    let healed = Instant::now();
    bridge(&["master", "br0"]);
    assert!(
        wait_until(Duration::from_millis(1500), || {
            lab.neighbour(&client, vip).as_deref() == Some(winner.as_str())
        }),
        "the client's entry is {:?}, not the winner's {winner}",
        lab.neighbour(&client, vip)
    );
    let took = healed.elapsed();
    eprintln!("partition healed: client follows the winner after {took:?}");
    // One advert interval (1 s) until the first advert crosses, plus delivery, plus the `ip`
    // commands of the heal and of the polling, which take up to a few hundred ms when every
    // test runs at once on two cores (typically it is under 200 ms in all).
    assert!(took <= Duration::from_millis(1500), "{took:?}");
    expect_holders(&lab, vip, &[1], Duration::from_secs(3), &logs);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn garp_refresh_reannounces_the_vip_while_master() {
    let Some(lab) = lab("tgf", 55, 2, &["tcpdump"]) else {
        return;
    };
    let vip = lab.address(116);
    let h1 = write_config(
        &lab,
        "h1.toml",
        &tracked("web", 16, vip, 0, "garp_refresh = 1.0"),
    );
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    // Past ucarp's two gratuitous ARPs of the takeover.
    std::thread::sleep(Duration::from_secs(3));
    let cap = lab.capture(lab.host(2), "arp", "garp").expect("capture");
    std::thread::sleep(Duration::from_millis(4500));
    cap.stop(&lab);
    let text = cap.text(&[]).expect("tcpdump -r");
    let garps = text
        .lines()
        .filter(|l| l.contains(&format!("who-has {vip} ")) && l.contains(&format!("tell {vip},")))
        .count();
    eprintln!("garp_refresh 1 s: {garps} gratuitous ARPs in 4.5 s");
    assert!(
        (4..=5).contains(&garps),
        "{garps} gratuitous ARPs in 4.5 s:\n{text}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn an_ipv6_clients_neighbour_entry_follows_the_new_master() {
    let Some(lab) = lab("tna", 56, 3, &["ping"]) else {
        return;
    };
    let vip: std::net::Ipv6Addr = "fd77:56::100".parse().unwrap();
    let group = |priority: u8| {
        format!(
            "[[group]]\nname = \"v6\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 56\n\
             vips = [\"{vip}/64\"]\npriority = {priority}\nadvert_interval = 0.2\npreempt = true\n"
        )
    };
    // Started as the lab's links come up, while their link-local addresses are still
    // tentative: carpd waits for duplicate address detection before it takes part, so that
    // no advert fails and neither host becomes master for want of hearing the other.
    let a = start_config(&lab, 1, &write_config(&lab, "a.toml", &group(200)), "a");
    let _b = start_config(&lab, 2, &write_config(&lab, "b.toml", &group(100)), "b");
    assert!(
        wait_until(Duration::from_secs(15), || lab.holders6(vip) == [1]),
        "{}\n{}",
        lab.log("a"),
        lab.log("b")
    );
    std::thread::sleep(Duration::from_secs(1));
    for log in ["a", "b"] {
        let text = lab.log(log);
        assert!(
            text.contains("to finish duplicate address detection") && !text.contains("has failed"),
            "{text}"
        );
    }
    let masters = lab.log("b").matches("state: MASTER").count();
    // The client, on the VIP's prefix, learns host 1's MAC for the VIP by talking to it.
    let client = lab.host(3).clone();
    let out = lab
        .run(
            &client,
            "ip",
            &["-6", "addr", "add", "fd77:56::3/64", "dev", "eth0", "nodad"],
        )
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (old, new) = (lab.mac(lab.host(1)), lab.mac(lab.host(2)));
    assert!(wait_until(Duration::from_secs(5), || {
        lab.run(
            &client,
            "ping",
            &["-6", "-c", "1", "-W", "1", &vip.to_string()],
        )
        .is_ok_and(|o| o.status.success())
            && lab.neighbour(&client, vip).as_deref() == Some(old.as_str())
    }));
    // Host 1 leaves; host 2 takes over after its Skew_Time and sends an unsolicited Neighbor
    // Advertisement with the override flag. The client sends nothing meanwhile, so only that
    // advertisement can change its entry (which would otherwise stay host 1's until it is
    // used and found stale).
    let at = Instant::now();
    crate::common::stop(&lab, &a, nix::sys::signal::Signal::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(2), || {
            lab.neighbour(&client, vip).as_deref() == Some(new.as_str())
        }),
        "the client's entry is {:?}, not the new master's {new}\n{}",
        lab.neighbour(&client, vip),
        lab.log("b")
    );
    eprintln!(
        "IPv6 client follows the new master after {:?}",
        at.elapsed()
    );
    // The takeover came from host 1's priority 0 (Skew_Time 122 ms), not from host 2's
    // Master_Down_Interval (722 ms).
    assert!(
        lab.log("b").matches("state: MASTER").count() == masters + 1
            && at.elapsed() < Duration::from_millis(600),
        "{}",
        lab.log("b")
    );
    assert_eq!(lab.holders6(vip), [2]);
}
