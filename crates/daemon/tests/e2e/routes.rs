//! A group's `routes` (keepalived's `virtual_routes`): added while master after the VIPs,
//! removed when it leaves, put back when deleted behind carpd's back.

use crate::common::*;
use carpd_lab::{wait_until, Host, Lab};
use nix::sys::signal::Signal;
use std::time::Duration;

/// The lines of `ip route show DEST table all` in `host`.
fn routes_to(lab: &Lab, host: &Host, destination: &str) -> String {
    let out = lab
        .run(host, "ip", &["route", "show", destination, "table", "all"])
        .expect("ip route");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether `host`'s route to `destination` satisfies `want` within 3 s (polling).
fn route_within(lab: &Lab, host: &Host, destination: &str, want: impl Fn(&str) -> bool) -> bool {
    wait_until(Duration::from_secs(3), || {
        want(&routes_to(lab, host, destination))
    })
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn routes_follow_the_master_and_come_back_when_deleted() {
    let Some(lab) = lab("rts", 58, 2, &[]) else {
        return;
    };
    let vip = lab.address(120);
    let gateway = lab.address(254);
    let config = |advskew: u8| {
        format!(
            "[[group]]\nname = \"gw\"\ninterface = \"eth0\"\nvhid = 20\nvips = [\"{vip}/24\"]\npassword = \"secret\"\nadvskew = {advskew}\npreempt = true\n\
             routes = [\"10.99.0.0/24 via {gateway} dev eth0\", \"10.98.0.0/16 via {gateway} metric 7 table 100\"]\n"
        )
    };
    let h1 = write_config(&lab, "h1.toml", &config(0));
    let h2 = write_config(&lab, "h2.toml", &config(100));
    let m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    expect_holders(&lab, vip, &[1], SETTLE, &["h1", "h2"]);
    let (one, two) = (lab.host(1).clone(), lab.host(2).clone());
    let want = format!("10.99.0.0/24 via {gateway} dev eth0 proto 112");
    assert!(
        route_within(&lab, &one, "10.99.0.0/24", |r| r == want),
        "{:?}\n{}",
        routes_to(&lab, &one, "10.99.0.0/24"),
        lab.log("h1")
    );
    assert_eq!(
        routes_to(&lab, &one, "10.98.0.0/16"),
        format!("10.98.0.0/16 via {gateway} dev eth0 table 100 proto 112 metric 7")
    );
    assert_eq!(
        routes_to(&lab, &two, "10.99.0.0/24"),
        "",
        "the backup has none"
    );

    // Deleted behind carpd's back: put back.
    let out = lab
        .run(&one, "ip", &["route", "del", "10.99.0.0/24"])
        .expect("ip route del");
    assert!(out.status.success());
    assert!(
        route_within(&lab, &one, "10.99.0.0/24", |r| r == want),
        "not put back\n{}",
        lab.log("h1")
    );
    assert!(lab
        .log("h1")
        .contains("Route 10.99.0.0/24 (table 254) was removed while MASTER"));

    // A planned stop: the routes move with the VIP.
    stop(&lab, &m1, Signal::SIGTERM);
    expect_holders(&lab, vip, &[2], SETTLE, &["h2"]);
    assert!(
        route_within(&lab, &two, "10.99.0.0/24", |r| r.contains("proto 112")),
        "{}",
        lab.log("h2")
    );
    assert_eq!(routes_to(&lab, &one, "10.99.0.0/24"), "", "removed on stop");
    assert_eq!(routes_to(&lab, &one, "10.98.0.0/16"), "", "removed on stop");
}
