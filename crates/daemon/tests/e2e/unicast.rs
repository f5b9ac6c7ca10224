//! Unicast peers on a LAN whose switch drops multicast (an nftables rule in the switch
//! namespace): VRRPv3 with keepalived's `unicast_peer`, and CARP between two carpd nodes.

use crate::common::start_keepalived;
use crate::common::*;
use crate::common::{start_config, write_config};
use crate::keepalived_interop::vip6;
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// A native-VIP group on eth0 with `protocol_keys` and unicast `peers`.
fn unicast_group(lab: &Lab, name: &str, protocol_keys: &str, peer: Ipv4Addr) -> std::path::PathBuf {
    write_config(lab, name, &group_text(lab, protocol_keys, Some(peer)))
}

/// The group of [`unicast_group`], with `peer` or multicast.
fn group_text(lab: &Lab, protocol_keys: &str, peer: Option<Ipv4Addr>) -> String {
    let vip = lab.address(100);
    let peers = peer
        .map(|p| format!("peers = [\"{p}\"]\n"))
        .unwrap_or_default();
    format!(
        "[[group]]\nname = \"u\"\ninterface = \"eth0\"\nvips = [\"{vip}/24\"]\npreempt = true\n\
         {peers}{protocol_keys}"
    )
}

/// The split brain the filtered switch causes without unicast: both hosts hold the VIP.
fn multicast_splits(lab: &Lab, protocol_keys: [&str; 2]) {
    let vip = lab.address(100);
    let group = |keys: &str| {
        format!("[[group]]\nname = \"m\"\ninterface = \"eth0\"\nvips = [\"{vip}/24\"]\n{keys}")
    };
    let a = start_config(
        lab,
        1,
        &write_config(lab, "m1.toml", &group(protocol_keys[0])),
        "m1",
    );
    let b = start_config(
        lab,
        2,
        &write_config(lab, "m2.toml", &group(protocol_keys[1])),
        "m2",
    );
    expect_holders(lab, vip, &[1, 2], SETTLE, &["m1", "m2"]);
    stop(lab, &a, Signal::SIGTERM);
    stop(lab, &b, Signal::SIGTERM);
    expect_holders(lab, vip, &[], SETTLE, &["m1", "m2"]);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn vrrp3_unicast_with_keepalived_when_the_switch_drops_multicast() {
    let Some(lab) = lab("uck", 113, 2, &["keepalived", "nft"]) else {
        return;
    };
    lab.drop_multicast().expect("nftables rule");
    let (h1, h2) = (lab.host(1).ip, lab.host(2).ip);
    // The environment: multicast VRRPv3 cannot work here.
    multicast_splits(
        &lab,
        [
            "protocol = \"vrrp3\"\nvhid = 51\npriority = 200\nadvert_interval = 0.1\n",
            "protocol = \"vrrp3\"\nvhid = 51\npriority = 100\nadvert_interval = 0.1\n",
        ],
    );
    let vip = lab.address(100);
    let conf = lab.dir().join("k2.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id k2\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\n\
             vrrp_instance u {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  \
             advert_int 0.5\n  unicast_src_ip {h2}\n  unicast_peer {{\n    {h1}\n  }}\n  \
             virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let _k = start_keepalived(&lab, 2, &conf, "k2");
    let keys = "protocol = \"vrrp3\"\nvhid = 51\npriority = 200\nadvert_interval = 0.5\n";
    let c = unicast_group(&lab, "c1.toml", keys, h2);
    let carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1", "k2"]);
    expect_settled(&lab, vip, Duration::from_secs(3), &["c1", "k2"]);
    // A graceful stop: priority 0 by unicast; keepalived takes over after its Skew_Time
    // (305 ms), well before its Master_Down_Interval (1.8 s).
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    expect_holders(&lab, vip, &[2], SETTLE, &["c1", "k2"]);
    let took = at.elapsed();
    eprintln!("keepalived took over {took:?} after carpd's stop (unicast)");
    assert!(
        took < Duration::from_millis(1300),
        "{took:?}\n{}",
        lab.log("k2")
    );
    // carpd comes back, hears keepalived's unicast adverts (its lower priority) and preempts.
    let _carpd = start_config(&lab, 1, &c, "c1b");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1b", "k2"]);
    assert!(
        lab.log("c1b").contains("Putting MASTER down - preemption"),
        "carpd did not take over by hearing keepalived:\n{}",
        lab.log("c1b")
    );
    let (two, _) = watch_holders(&lab, vip, Duration::from_secs(1));
    assert_eq!(two, Duration::ZERO);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carp_unicast_between_two_carpd_nodes_when_the_switch_drops_multicast() {
    let Some(lab) = lab("ucc", 114, 2, &["nft"]) else {
        return;
    };
    lab.drop_multicast().expect("nftables rule");
    multicast_splits(
        &lab,
        [
            "vhid = 52\npassword = \"secret\"\n",
            "vhid = 52\npassword = \"secret\"\nadvskew = 50\n",
        ],
    );
    let vip = lab.address(100);
    let (h1, h2) = (lab.host(1).ip, lab.host(2).ip);
    // Host 1 starts with the group multicast: no raw socket of protocol 112 (the kernel
    // would copy every advert on the link to it). The reload that gives the group its peer
    // opens it.
    let keys = "vhid = 52\npassword = \"secret\"\n";
    let one = write_config(&lab, "u1.toml", &group_text(&lab, keys, None));
    let a = start_config(&lab, 1, &one, "u1");
    assert!(
        wait_until(SETTLE, || lab.log("u1").contains("BACKUP")),
        "{}",
        lab.log("u1")
    );
    assert_eq!(raw_vrrp_sockets(&lab, 1), 0, "{}", lab.log("u1"));
    unicast_group(&lab, "u1.toml", keys, h2);
    lab.signal(a.pid, Signal::SIGHUP);
    assert!(
        wait_until(SETTLE, || lab.log("u1").contains("Reloaded")),
        "{}",
        lab.log("u1")
    );
    assert_eq!(raw_vrrp_sockets(&lab, 1), 1, "{}", lab.log("u1"));
    let two = unicast_group(
        &lab,
        "u2.toml",
        "vhid = 52\npassword = \"secret\"\nadvskew = 50\n",
        h1,
    );
    let _b = start_config(&lab, 2, &two, "u2");
    expect_holders(&lab, vip, &[1], SETTLE, &["u1", "u2"]);
    expect_settled(&lab, vip, Duration::from_secs(3), &["u1", "u2"]);
    // The bow-out goes by unicast too: host 2 takes over at once, not after 3.2 s.
    let at = Instant::now();
    stop(&lab, &a, Signal::SIGTERM);
    expect_holders(&lab, vip, &[2], SETTLE, &["u1", "u2"]);
    let took = at.elapsed();
    eprintln!("carpd took over {took:?} after the other's stop (unicast CARP)");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// How many raw IPv4 sockets of protocol 112 (VRRP, CARP) are open in host `host`'s
/// namespace (`/proc/net/raw` shows the protocol as the local port, in hex).
fn raw_vrrp_sockets(lab: &Lab, host: usize) -> usize {
    let out = lab
        .run(lab.host(host), "cat", &["/proc/net/raw"])
        .expect("cat /proc/net/raw");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(":0070"))
        })
        .count()
}

/// A VRRPv3 IPv6 group `u6` (VRID 53, 0.2 s) with the lab's IPv6 VIP, and `peers` if any.
fn group6(vip: Ipv6Addr, priority: u8, peer: Option<Ipv6Addr>) -> String {
    let peers = peer
        .map(|p| format!("peers = [\"{p}\"]\n"))
        .unwrap_or_default();
    format!(
        "[[group]]\nname = \"u6\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 53\n\
         vips = [\"{vip}/64\"]\npriority = {priority}\nadvert_interval = 0.2\npreempt = true\n{peers}"
    )
}

/// The split brain the filtered switch causes for IPv6 without unicast: a multicast pair
/// both hold `vip`.
fn multicast6_splits(lab: &Lab, vip: Ipv6Addr) {
    let holders = |want: &[usize]| wait_until(SETTLE, || lab.holders6(vip) == want);
    let m1 = start_config(
        lab,
        1,
        &write_config(lab, "m1.toml", &group6(vip, 200, None)),
        "m1",
    );
    let m2 = start_config(
        lab,
        2,
        &write_config(lab, "m2.toml", &group6(vip, 100, None)),
        "m2",
    );
    assert!(holders(&[1, 2]), "{}\n{}", lab.log("m1"), lab.log("m2"));
    stop(lab, &m1, Signal::SIGTERM);
    stop(lab, &m2, Signal::SIGTERM);
    assert!(holders(&[]));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn vrrp3_ipv6_unicast_between_two_carpd_nodes_when_the_switch_drops_the_group() {
    let Some(lab) = lab("uc6", 116, 2, &["nft"]) else {
        return;
    };
    lab.drop_multicast().expect("nftables rules");
    let (l1, l2) = (
        lab.link_local(lab.host(1)).expect("link-local"),
        lab.link_local(lab.host(2)).expect("link-local"),
    );
    let vip = vip6(116);
    let holders = |want: &[usize]| wait_until(SETTLE, || lab.holders6(vip) == want);
    multicast6_splits(&lab, vip);
    let a = start_config(
        &lab,
        1,
        &write_config(&lab, "a.toml", &group6(vip, 200, Some(l2))),
        "a",
    );
    let _b = start_config(
        &lab,
        2,
        &write_config(&lab, "b.toml", &group6(vip, 100, Some(l1))),
        "b",
    );
    // Settled: no split brain although ff02::12 never crosses the switch.
    expect_settled6(&lab, vip, &[1], &["a", "b"]);
    let at = Instant::now();
    stop(&lab, &a, Signal::SIGTERM);
    assert!(holders(&[2]), "{}", lab.log("b"));
    let took = at.elapsed();
    eprintln!("carpd took over {took:?} after the other's stop (IPv6 unicast)");
    // Skew_Time at priority 100 and 0.2 s: 122 ms; Master_Down_Interval 722 ms.
    assert!(
        took < Duration::from_millis(600),
        "{took:?}\n{}",
        lab.log("b")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn vrrp3_ipv6_unicast_with_keepalived_when_the_switch_drops_the_group() {
    let Some(lab) = lab("uk6", 117, 2, &["keepalived", "nft"]) else {
        return;
    };
    lab.drop_multicast().expect("nftables rules");
    let vip = vip6(117);
    multicast6_splits(&lab, vip);
    let (l1, l2) = (
        lab.link_local(lab.host(1)).expect("link-local"),
        lab.link_local(lab.host(2)).expect("link-local"),
    );
    // keepalived's unicast source is its link-local address by default; its peer is ours.
    let conf = lab.dir().join("k2.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id k2\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\n\
             vrrp_instance u6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 53\n  priority 100\n  \
             advert_int 0.2\n  unicast_peer {{\n    {l1}\n  }}\n  \
             virtual_ipaddress {{\n    {vip}/64 dev eth0\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let _k = start_keepalived(&lab, 2, &conf, "k2");
    let c = write_config(&lab, "c1.toml", &group6(vip, 200, Some(l2)));
    let carpd = start_config(&lab, 1, &c, "c1");
    let holders = |want: &[usize]| wait_until(SETTLE, || lab.holders6(vip) == want);
    expect_settled6(&lab, vip, &[1], &["c1", "k2"]);
    // A graceful stop: priority 0 by unicast, keepalived takes over after its Skew_Time
    // (122 ms at 0.2 s), well before its Master_Down_Interval (722 ms).
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    assert!(holders(&[2]), "{}", lab.log("k2"));
    let took = at.elapsed();
    eprintln!("keepalived took over {took:?} after carpd's stop (IPv6 unicast)");
    assert!(
        took < Duration::from_millis(600),
        "{took:?}\n{}",
        lab.log("k2")
    );
    // carpd comes back, hears keepalived's unicast adverts and preempts.
    let _carpd = start_config(&lab, 1, &c, "c1b");
    assert!(holders(&[1]), "{}\n{}", lab.log("c1b"), lab.log("k2"));
    assert!(
        lab.log("c1b").contains("Putting MASTER down - preemption"),
        "carpd did not take over by hearing keepalived:\n{}",
        lab.log("c1b")
    );
}
