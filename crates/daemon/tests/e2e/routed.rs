//! Across routers: two carpd nodes in two subnets, unicast peers through a router, the VIP on
//! `lo` (`vip_interface = "lo"`), each node's routing daemon (BIRD 2, or FRR) announcing it by
//! eBGP from the package's example file to the router's BIRD (AS 65000), and a client in a
//! third subnet pinging the VIP every 2 ms: a crash of the holder (SIGKILL and its link cut at
//! the router) and a planned stop (SIGTERM). Then a VIP interface that appears late.

use crate::common::*;
use crate::common::{start_config, write_config};
use crate::control::status;
use carpd_lab::bgp::{self, Example};
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::time::Duration;

/// How often the client pings.
const PROBE: Duration = Duration::from_millis(2);

/// carpd's timing on both nodes: advbase 0 with advskew 40 (h1) and 80 (h2): h2 takes over
/// 3 × 80/256 s = 938 ms after h1's last advert.
const DEAD_TIME: Duration = Duration::from_millis(938);

/// A routed lab: h1 and h2 are the carpd nodes, h3 the client, `br` the router.
fn routed_lab(prefix: &str, subnet: u8) -> Option<Lab> {
    let check = carpd_lab::require(&["ip", "tcpdump"]).and_then(|()| bgp::available());
    prerequisites(prefix, check)?;
    Some(Lab::routed(prefix, subnet, 3).expect("building the routed lab"))
}

/// The carpd config of node `host` (1 or 2): the VIP on lo, the other node as unicast peer
/// across the router. Node 1 runs BIRD and tracks its BGP session, as the README advises: in
/// FAULT while the session is down, so that it never holds a VIP the router cannot reach.
fn node_toml(lab: &Lab, host: usize, vip: Ipv4Addr) -> std::path::PathBuf {
    let peer = lab.host(3 - host).ip;
    let advskew = 40 * host;
    let (tracker, track) = if host == 1 {
        let ctl = lab.dir().join("bird1.ctl");
        (
            format!(
                "[[tracker]]\nname = \"bgp\"\nscript = [\"/bin/sh\", \"-c\", \"birdc -s {} show protocols upstream | grep -q Established\"]\ninterval = 0.2\n\n",
                ctl.display()
            ),
            "track = [\"bgp\"]\n",
        )
    } else {
        (String::new(), "")
    };
    write_config(
        lab,
        &format!("c{host}.toml"),
        &format!(
            "{tracker}[[group]]\nname = \"api\"\ninterface = \"eth0\"\nvhid = 60\nvips = [\"{vip}\"]\npassword = \"secret\"\n\
             advbase = 0\nadvskew = {advskew}\npreempt = true\nvip_interface = \"lo\"\n\
             peers = [\"{peer}\"]\nunicast_ttl_check = false\n{track}"
        ),
    )
}

/// Waits until the router routes `vip` to host `host` (and only there); panics with the logs.
fn expect_route(lab: &Lab, vip: Ipv4Addr, host: usize, within: Duration) {
    let want = lab.host(host).ip;
    let ok = wait_until(within, || bgp::route_via(lab, vip) == Some(want));
    assert!(
        ok,
        "router's route to {vip}: {:?}, expected via {want}\n{}\n{}",
        bgp::route_via(lab, vip),
        lab.log("c1"),
        lab.log("c2")
    );
}

/// The client's (h3's) longest gap in ms around `fault`, which moves `vip` to `host`: from
/// just before it until the VIP is on `host`'s lo, the router routes it there, and 0.5 s more.
fn outage_around(lab: &Lab, vip: Ipv4Addr, host: usize, fault: impl FnOnce()) -> f64 {
    let probe = lab.probe(lab.host(3), vip, PROBE).expect("probe");
    std::thread::sleep(Duration::from_millis(300));
    let at = probe.elapsed();
    fault();
    assert!(
        wait_until(SETTLE, || lab.has_address_on(lab.host(host), "lo", vip)),
        "h{host} did not take the VIP\n{}\n{}",
        lab.log("c1"),
        lab.log("c2")
    );
    expect_route(lab, vip, host, SETTLE);
    std::thread::sleep(Duration::from_millis(500));
    outage_ms(&probe.finish().expect("probe"), at)
}

/// The client's longest gap between two replies after `from` (probe time), in ms.
fn outage_ms(report: &carpd_lab::ProbeReport, from: Duration) -> f64 {
    report
        .outage_after(from)
        .map_or(f64::INFINITY, |(a, b)| (b - a).as_secs_f64() * 1000.0)
}

/// The whole story on one routed lab, with h2's routing daemon `second`.
fn across_a_router(prefix: &str, subnet: u8, second: Example) {
    let _heavy = heavy();
    let Some(lab) = routed_lab(prefix, subnet) else {
        return;
    };
    let vip = Ipv4Addr::new(10, 77, subnet + 3, 10);
    bgp::start_fabric(&lab, second, vip).expect("BGP between the nodes and the router");
    let c1 = node_toml(&lab, 1, vip);
    let c2 = node_toml(&lab, 2, vip);
    let a = start_config(&lab, 1, &c1, "c1");
    let _b = start_config(&lab, 2, &c2, "c2");
    let on_lo = |want: &[usize]| wait_until(SETTLE, || lab.holders_on("lo", vip) == want);
    assert!(
        on_lo(&[1]),
        "{:?}\n{}\n{}",
        lab.holders_on("lo", vip),
        lab.log("c1"),
        lab.log("c2")
    );
    assert!(lab.holders(vip).is_empty(), "the VIP is on lo, not on eth0");
    expect_route(&lab, vip, 1, SETTLE);
    // The router learned the VIP and nothing else (no lo 127/8, no node subnet).
    let learned = bgp::learned_routes(&lab);
    assert_eq!(learned.len(), 1, "{learned:?}");
    assert!(
        learned[0].starts_with(&format!("{vip} via {}", lab.host(1).ip)),
        "{learned:?}"
    );
    let client = lab.host(3).clone();
    assert!(
        ping_once(&lab, &client, vip),
        "client cannot reach {vip} across the router"
    );
    // carpctl shows where the VIP lives.
    let socket = lab.dir().join("c1.toml.sock");
    let s = status(&socket);
    assert_eq!(s["api"]["vip_interface"], "lo", "{s:?}");
    assert_eq!(s["api"]["state"], "MASTER");

    // Crash: carpd killed and the link cut at the router.
    let capture = lab.capture(lab.host(2), "arp", "arp2").expect("tcpdump");
    // Killed first: cut first, carpd could notice the lost carrier and give the VIP up.
    let crash = outage_around(&lab, vip, 2, || {
        lab.signal(a.pid, Signal::SIGKILL);
        lab.wait_exit(a.pid, Duration::from_secs(5));
        lab.set_port(lab.host(1), false).expect("cutting h1 off");
    });
    std::thread::sleep(Duration::from_secs(2));
    capture.stop(&lab);
    let arp = capture.text(&["-n"]).expect("capture");
    assert!(
        !arp.contains(&vip.to_string()),
        "a gratuitous ARP for a VIP on lo:\n{arp}"
    );
    eprintln!("{prefix}: crash outage across the router: {crash:.0} ms (dead time {DEAD_TIME:?})");
    assert!(
        crash < (DEAD_TIME + Duration::from_millis(1500)).as_secs_f64() * 1000.0,
        "crash outage {crash:.0} ms\n{}",
        lab.log("c2")
    );
    assert!(
        crash >= 0.8 * DEAD_TIME.as_secs_f64() * 1000.0,
        "an outage shorter than the dead time ({crash:.0} ms) means the crash was not one"
    );

    // The VIP guard works on lo: taken away by hand, put back.
    lab.run(
        lab.host(2),
        "ip",
        &["addr", "del", &format!("{vip}/32"), "dev", "lo"],
    )
    .expect("ip addr del");
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_address_on(
            lab.host(2),
            "lo",
            vip
        )),
        "the VIP taken off lo was not put back\n{}",
        lab.log("c2")
    );

    // h1 comes back: carpd restarts while its link is still cut (the VIP its killed
    // predecessor left on lo is removed at start), then the link returns. It waits in FAULT
    // until its BGP session is up again, then preempts: the client barely notices.
    assert!(
        lab.has_address_on(lab.host(1), "lo", vip),
        "SIGKILL leaves the VIP"
    );
    let a = start_config(&lab, 1, &c1, "c1");
    assert!(
        wait_until(SETTLE, || !lab.has_address_on(lab.host(1), "lo", vip)),
        "{}",
        lab.log("c1")
    );
    assert!(
        lab.log("c1").contains("Removed stale virtual IP"),
        "{}",
        lab.log("c1")
    );
    let back = outage_around(&lab, vip, 1, || {
        lab.set_port(lab.host(1), true).expect("h1 back");
    });
    eprintln!("{prefix}: outage when h1 returns and preempts: {back:.0} ms");
    assert!(
        back < 500.0,
        "return outage {back:.0} ms\n{}\n{}",
        lab.log("c1"),
        lab.log("c2")
    );
    assert!(
        lab.log("c1").contains("Tracker bgp is healthy"),
        "h1 waited for its BGP session\n{}",
        lab.log("c1")
    );
    assert!(
        on_lo(&[1]),
        "h2 kept the VIP: {:?}",
        lab.holders_on("lo", vip)
    );

    // Planned: SIGTERM, bow-out, h2 takes over at once.
    let planned = outage_around(&lab, vip, 2, || {
        stop(&lab, &a, Signal::SIGTERM);
    });
    eprintln!("{prefix}: planned outage across the router: {planned:.0} ms");
    assert!(
        planned < 500.0,
        "planned outage {planned:.0} ms\n{}\n{}",
        lab.log("c1"),
        lab.log("c2")
    );
    assert!(
        !lab.has_address_on(lab.host(1), "lo", vip),
        "h1 kept the VIP after SIGTERM"
    );
    let learned = bgp::learned_routes(&lab);
    assert_eq!(learned.len(), 1, "{learned:?}");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_vip_on_lo_fails_over_across_a_router_with_bird_on_both_nodes() {
    across_a_router("rtb", 120, Example::Bird);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_vip_on_lo_fails_over_across_a_router_with_frr_on_one_node() {
    across_a_router("rtf", 124, Example::Frr);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn the_example_routing_configs_parse() {
    let Some(()) = prerequisites("rtx", bgp::available()) else {
        return;
    };
    let bird = std::process::Command::new("bird")
        .args(["-p", "-c"])
        .arg(Example::Bird.path())
        .output()
        .expect("bird -p");
    assert!(
        bird.status.success(),
        "{}",
        String::from_utf8_lossy(&bird.stderr)
    );
    let refused = bgp::frr_dry_run(&Example::Frr.path()).expect("bgpd -C");
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_group_waits_in_fault_for_its_vip_interface_and_follows_it() {
    let Some(lab) = lab("rtw", 128, 1, &[]) else {
        return;
    };
    let vip = lab.address(100);
    let conf = write_config(
        &lab,
        "w.toml",
        &format!(
            "[[group]]\nname = \"late\"\ninterface = \"eth0\"\nvhid = 61\nvips = [\"{vip}/24\"]\npassword = \"secret\"\nvip_interface = \"vipd0\"\n"
        ),
    );
    let socket = lab.dir().join("w.toml.sock");
    let _c = start_config(&lab, 1, &conf, "w");
    let h1 = lab.host(1).clone();
    let state = |want: &str| {
        wait_until(Duration::from_secs(10), || {
            socket.exists() && status(&socket)["late"]["state"] == want
        })
    };
    assert!(state("FAULT"), "{}", lab.log("w"));
    let s = status(&socket);
    assert_eq!(s["late"]["vip_interface"], "vipd0");
    assert_eq!(
        s["late"]["fault_causes"][0], "vip_interface vipd0 does not exist",
        "{s:?}"
    );
    assert_eq!(
        lab.log("w").matches("does not exist").count(),
        2,
        "one warning and one FAULT line:\n{}",
        lab.log("w")
    );
    // It appears (a veth pair here: this kernel has no dummy driver) and comes up.
    let ip = |args: &[&str]| {
        let out = lab.run(&h1, "ip", args).expect("ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ip(&[
        "link", "add", "vipd0", "type", "veth", "peer", "name", "vipd0p",
    ]);
    ip(&["link", "set", "vipd0p", "up"]);
    let arp = lab
        .capture_on(&h1, "vipd0p", "arp", "vipd0")
        .expect("tcpdump");
    ip(&["link", "set", "vipd0", "up"]);
    assert!(state("MASTER"), "{}", lab.log("w"));
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .has_address_on(&h1, "vipd0", vip)),
        "{}",
        lab.log("w")
    );
    assert!(!lab.has_address(&h1, vip), "not on eth0");
    std::thread::sleep(Duration::from_secs(3));
    arp.stop(&lab);
    let text = arp.text(&["-n"]).expect("capture");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("who-has {vip} ")) && l.contains(&format!("tell {vip},"))),
        "no gratuitous ARP on an ARP-capable VIP interface:\n{text}"
    );
    // It goes away: FAULT again (the peer, had there been one, takes over).
    ip(&["link", "del", "vipd0"]);
    assert!(state("FAULT"), "{}", lab.log("w"));
    // Re-created under the same name: back, and the VIP goes to the new one.
    ip(&[
        "link", "add", "vipd0", "type", "veth", "peer", "name", "vipd0p",
    ]);
    ip(&["link", "set", "vipd0p", "up"]);
    ip(&["link", "set", "vipd0", "up"]);
    assert!(state("MASTER"), "{}", lab.log("w"));
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .has_address_on(&h1, "vipd0", vip)),
        "{}",
        lab.log("w")
    );
}
