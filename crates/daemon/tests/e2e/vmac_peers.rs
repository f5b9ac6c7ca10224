//! The virtual MAC beside the peers that have one: FRR's vrrpd (always on a macvlan with the
//! virtual MAC, VRRPv3 here) and keepalived with `use_vmac` (VRRPv2, its default). A client
//! whose entry for the VIP is pinned to the virtual MAC keeps reaching the VIP when either
//! side's master goes: after a crash within Master_Down + 0.5 s, after a stop within the
//! backup's Skew_Time and a little.

use crate::common::*;
use crate::keepalived_interop::kill_keepalived;
use carpd_lab::{frr, wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// RFC 3768 and 9568's Master_Down_Interval of a backup at priority 100 and 1 s: 3 s +
/// Skew_Time (156/256 s).
const MASTER_DOWN: Duration = Duration::from_micros(3_609_375);

/// The pinned client (host 3) probes `vip` every 20 ms while `what` happens at its start; the
/// longest outage after it.
fn outage_across(lab: &Lab, vip: Ipv4Addr, vrid: u8, what: impl FnOnce()) -> Duration {
    let mac = format!("00:00:5e:00:01:{vrid:02x}");
    lab.pin_neighbour(lab.host(3), vip, &mac).expect("pin");
    let probe = lab
        .probe(lab.host(3), vip, Duration::from_millis(20))
        .expect("probe");
    std::thread::sleep(Duration::from_secs(1));
    let at = probe.elapsed();
    what();
    // Replies again, then a second of them.
    let back = wait_until(SETTLE, || ping_once(lab, lab.host(3), vip));
    assert!(back, "the pinned client never reached {vip} again");
    std::thread::sleep(Duration::from_secs(1));
    let report = probe.finish().expect("probe");
    let (before, after) = report.outage_after(at).expect("replies after");
    after - before
}

/// A carpd group "v" of `vrid` on eth0 at 1 s with a virtual MAC: VRRPv3, or VRRPv2 with
/// keepalived's password.
fn carpd_conf(
    lab: &Lab,
    name: &str,
    (vrid, version): (u8, u8),
    priority: u8,
    vip: Ipv4Addr,
) -> PathBuf {
    let protocol = match version {
        2 => "protocol = \"vrrp2\"\npassword = \"s3cret\"",
        _ => "protocol = \"vrrp3\"",
    };
    write_config(
        lab,
        name,
        &format!(
            "[[group]]\nname = \"v\"\n{protocol}\ninterface = \"eth0\"\nvhid = {vrid}\n\
             vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 1\nvmac = true\n"
        ),
    )
}

fn peers_lab(prefix: &str, subnet: u8, peer: anyhow::Result<()>, tools: &[&str]) -> Option<Lab> {
    prerequisites(prefix, peer)?;
    lab(prefix, subnet, 3, tools)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_pinned_client_follows_from_a_crashed_frr_master_to_carpd() {
    const VRID: u8 = 71;
    let Some(lab) = peers_lab("vmfa", 162, frr::available("vrrpd"), &["vtysh"]) else {
        return;
    };
    let vip = lab.address(100);
    frr::start_vrrpd(&lab, lab.host(1), "frr1", (VRID, 3, 200, 1000), vip).expect("vrrpd");
    let state = || frr::vrrp_state(&lab, lab.host(1), "frr1");
    assert!(
        wait_until(SETTLE, || state().as_deref() == Some("Master")),
        "{}",
        lab.log("frr1-vrrpd")
    );
    let c = carpd_conf(&lab, "c2.toml", (VRID, 3), 100, vip);
    let _carpd = start_config(&lab, 2, &c, "c2");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        lab.link_up(lab.host(2), "vrrp.71"),
        Some(false),
        "{}",
        lab.log("c2")
    );
    let outage = outage_across(&lab, vip, VRID, || {
        let pid = std::fs::read_to_string(lab.dir().join("frr1/vrrpd.pid")).expect("vrrpd pid");
        lab.signal(
            carpd_lab::Pid(pid.trim().parse().expect("pid")),
            Signal::SIGKILL,
        );
        lab.set_port(lab.host(1), false).expect("port down");
    });
    eprintln!("pinned client: {outage:?} without the VIP after FRR's crash");
    assert!(
        lab.has_address_on(lab.host(2), "vrrp.71", vip),
        "{}",
        lab.log("c2")
    );
    assert!(
        outage <= MASTER_DOWN + Duration::from_millis(500),
        "{outage:?} after FRR's crash: expected at most Master_Down {MASTER_DOWN:?} + 0.5 s\n{}",
        lab.log("c2")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_pinned_client_follows_from_a_stopped_carpd_master_to_frr() {
    const VRID: u8 = 72;
    let Some(lab) = peers_lab("vmfb", 163, frr::available("vrrpd"), &["vtysh"]) else {
        return;
    };
    let vip = lab.address(100);
    let c = carpd_conf(&lab, "c1.toml", (VRID, 3), 200, vip);
    let carpd = start_config(&lab, 1, &c, "c1");
    assert!(
        wait_until(SETTLE, || lab.has_address_on(lab.host(1), "vrrp.72", vip)),
        "{}",
        lab.log("c1")
    );
    frr::start_vrrpd(&lab, lab.host(2), "frr2", (VRID, 3, 100, 1000), vip).expect("vrrpd");
    let state = || frr::vrrp_state(&lab, lab.host(2), "frr2");
    assert!(
        wait_until(SETTLE, || state().as_deref() == Some("Backup")),
        "{}",
        lab.log("frr2-vrrpd")
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        state().as_deref(),
        Some("Backup"),
        "FRR took over from a live carpd"
    );
    let outage = outage_across(&lab, vip, VRID, || {
        stop(&lab, &carpd, Signal::SIGTERM);
    });
    eprintln!("pinned client: {outage:?} without the VIP after carpd's stop");
    assert_eq!(
        state().as_deref(),
        Some("Master"),
        "{}",
        lab.log("frr2-vrrpd")
    );
    assert_eq!(
        lab.link_up(lab.host(1), "vrrp.72"),
        None,
        "carpd deleted its macvlan"
    );
    assert!(
        outage <= Duration::from_millis(1500),
        "{outage:?} after carpd's stop (FRR's Skew_Time is 0.61 s)\n{}",
        lab.log("frr2-vrrpd")
    );
}

/// keepalived at its defaults (VRRPv2, PASS) with `use_vmac`: its macvlan `vrrp.<vrid>`.
fn keepalived_conf(lab: &Lab, name: &str, vrid: u8, priority: u8, vip: Ipv4Addr) -> PathBuf {
    let path = lab.dir().join(format!("{name}.conf"));
    let text = format!(
        "global_defs {{\n  router_id {name}\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n}}\n\
         vrrp_instance v {{\n  state BACKUP\n  interface eth0\n  use_vmac\n  virtual_router_id {vrid}\n  \
         priority {priority}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    auth_pass s3cret\n  }}\n  \
         virtual_ipaddress {{\n    {vip}/24\n  }}\n}}\n"
    );
    std::fs::write(&path, text).expect("writing keepalived.conf");
    path
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_pinned_client_follows_between_carpd_and_keepalived_with_use_vmac() {
    const VRID: u8 = 73;
    let Some(lab) = peers_lab("vmka", 164, Ok(()), &["keepalived"]) else {
        return;
    };
    let vip = lab.address(100);
    // keepalived master, carpd backup: keepalived crashes (its VRRP child killed, port cut).
    let k = keepalived_conf(&lab, "k1", VRID, 200, vip);
    let _keepalived = start_keepalived(&lab, 1, &k, "k1");
    assert!(
        wait_until(SETTLE, || lab.has_address_on(lab.host(1), "vrrp.73", vip)),
        "{}",
        lab.log("k1")
    );
    let c = carpd_conf(&lab, "c2.toml", (VRID, 2), 100, vip);
    let carpd = start_config(&lab, 2, &c, "c2");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        lab.link_up(lab.host(2), "vrrp.73"),
        Some(false),
        "{}",
        lab.log("c2")
    );
    let outage = outage_across(&lab, vip, VRID, || {
        lab.set_port(lab.host(1), false).expect("port down");
        kill_keepalived(&lab, "k1");
    });
    eprintln!("pinned client: {outage:?} without the VIP after keepalived's crash");
    assert!(
        lab.has_address_on(lab.host(2), "vrrp.73", vip),
        "{}",
        lab.log("c2")
    );
    assert!(
        outage <= MASTER_DOWN + Duration::from_millis(500),
        "{outage:?} after keepalived's crash\n{}",
        lab.log("c2")
    );

    // carpd master, keepalived backup: host 1 comes back (its crashed keepalived's macvlan
    // removed) with a new keepalived as backup, then carpd stops.
    lab.run(lab.host(1), "ip", &["link", "del", "vrrp.73"])
        .expect("ip");
    lab.set_port(lab.host(1), true).expect("port up");
    let k = keepalived_conf(&lab, "k1b", VRID, 100, vip);
    let _keepalived = start_keepalived(&lab, 1, &k, "k1b");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        lab.holders_on("vrrp.73", vip),
        vec![2],
        "{}",
        lab.log("k1b")
    );
    let outage = outage_across(&lab, vip, VRID, || {
        stop(&lab, &carpd, Signal::SIGTERM);
    });
    eprintln!("pinned client: {outage:?} without the VIP after carpd's stop");
    assert!(
        wait_until(SETTLE, || lab.has_address_on(lab.host(1), "vrrp.73", vip)),
        "{}",
        lab.log("k1b")
    );
    assert!(
        outage <= Duration::from_millis(1500),
        "{outage:?} after carpd's stop (keepalived's Skew_Time is 0.61 s)\n{}",
        lab.log("k1b")
    );
}
