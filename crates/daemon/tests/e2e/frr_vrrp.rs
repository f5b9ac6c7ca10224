//! VRRPv2 against FRR's vrrpd 8.4 from Debian (`vrrp N version 2`, its macvlan with the
//! virtual MAC made as FRR's documentation says): carpd as backup of an FRR master that
//! crashes, and FRR as backup of a carpd master that stops.

use crate::common::*;
use crate::control::{expect_following, status};
use crate::keepalived_v2::after_a_crash;
use carpd_lab::{frr, wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const VRID: u8 = 52;

/// The lab with FRR's zebra and vrrpd, or `None` (with the reason) when they are missing.
fn frr_lab(prefix: &str, subnet: u8) -> Option<Lab> {
    prerequisites(prefix, frr::available("vrrpd"))?;
    lab(prefix, subnet, 2, &["vtysh"])
}

/// A carpd VRRPv2 group "v2" of VRID 52 at 1 s without a password (FRR has no VRRPv2
/// authentication).
fn carpd_conf(lab: &Lab, name: &str, priority: u8, vip: Ipv4Addr) -> std::path::PathBuf {
    write_config(
        lab,
        name,
        &format!(
            "[[group]]\nname = \"v2\"\nprotocol = \"vrrp2\"\ninterface = \"eth0\"\nvhid = {VRID}\n\
             vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 1\npreempt = true\n"
        ),
    )
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carpd_vrrp2_backup_of_an_frr_master_takes_over_when_it_crashes() {
    let Some(lab) = frr_lab("frv2a", 154) else {
        return;
    };
    let vip = lab.address(152);
    frr::start_vrrpd(&lab, lab.host(1), "frr1", (VRID, 2, 200, 1000), vip).expect("vrrpd");
    let state = || frr::vrrp_state(&lab, lab.host(1), "frr1");
    assert!(
        wait_until(SETTLE, || state().as_deref() == Some("Master")),
        "FRR: {:?}\n{}",
        state(),
        lab.log("frr1-vrrpd")
    );
    let c = carpd_conf(&lab, "c2.toml", 100, vip);
    let _carpd = start_config(&lab, 2, &c, "c2");
    let socket = lab.dir().join("c2.toml.sock");
    expect_following(&lab, &socket, "v2", &lab.host(1).ip.to_string(), "c2");
    // Backup for 5 s (more than Master_Down): FRR's adverts are heard and obeyed.
    let held = wait_until(Duration::from_secs(5), || lab.has_address(lab.host(2), vip));
    assert!(
        !held,
        "carpd took the VIP from a live FRR master\n{}",
        lab.log("c2")
    );
    let group = &status(&socket)["v2"];
    assert_eq!(group["state"], "BACKUP", "{group}");
    assert_eq!(group["drops"], serde_json::json!({}), "{group}");
    assert_eq!(state().as_deref(), Some("Master"));

    // FRR crashes (vrrpd killed, its port cut): carpd takes over after Master_Down.
    let pid = std::fs::read_to_string(lab.dir().join("frr1/vrrpd.pid")).expect("vrrpd pid");
    let at = Instant::now();
    let pid = carpd_lab::Pid(pid.trim().parse().expect("pid"));
    lab.signal(pid, Signal::SIGKILL);
    lab.set_port(lab.host(1), false).expect("port down");
    expect_takeover(&lab, vip, 2, at, after_a_crash(), ("FRR's crash", "c2"));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn frr_vrrp2_backup_of_a_carpd_master_takes_over_when_it_stops() {
    let Some(lab) = frr_lab("frv2b", 155) else {
        return;
    };
    let vip = lab.address(152);
    let c = carpd_conf(&lab, "c1.toml", 200, vip);
    let carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1"]);
    frr::start_vrrpd(&lab, lab.host(2), "frr2", (VRID, 2, 100, 1000), vip).expect("vrrpd");
    let state = || frr::vrrp_state(&lab, lab.host(2), "frr2");
    assert!(
        wait_until(SETTLE, || state().as_deref() == Some("Backup")),
        "FRR: {:?}\n{}",
        state(),
        lab.log("frr2-vrrpd")
    );
    // FRR stays backup (it waits Master_Down from its start, then keeps hearing carpd).
    let became_master = wait_until(Duration::from_secs(6), || {
        state().as_deref() == Some("Master")
    });
    assert!(
        !became_master,
        "FRR took over from a live carpd master\n{}",
        lab.log("frr2-vrrpd")
    );
    assert_eq!(
        status(&lab.dir().join("c1.toml.sock"))["v2"]["state"],
        "MASTER"
    );

    // carpd stops (priority 0): FRR takes over after its Skew_Time, long before Master_Down.
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    assert!(
        wait_until(SETTLE, || state().as_deref() == Some("Master")),
        "FRR: {:?}\n{}",
        state(),
        lab.log("frr2-vrrpd")
    );
    let took = at.elapsed();
    eprintln!("FRR took over {took:?} after carpd's stop");
    assert!(
        took < Duration::from_millis(2500),
        "FRR took over {took:?} after carpd's priority 0 (Skew_Time 0.61 s, Master_Down 3.61 s)"
    );
}
