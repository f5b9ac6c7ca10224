//! VRRPv2 against the real keepalived 2.2.7 from Debian at its default version, with
//! `auth_type PASS`: carpd as master and as backup, priority 0 on a stop both ways,
//! preemption both ways, crash take-over within Master_Down, a wrong password never obeyed,
//! and a VRRPv3 group with `vrrp2_compat` taking over a VRRPv2 estate without an election.

use crate::common::*;
use crate::control::{expect_following, status};
use crate::keepalived_interop::kill_keepalived;
use carpd_lab::Lab;
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VRID: u8 = 51;

/// A keepalived instance of VRID 51 on eth0 at its default version (2), 1 s adverts, with a
/// simple text password.
fn keepalived_conf(lab: &Lab, name: &str, priority: u8, password: &str, vip: Ipv4Addr) -> PathBuf {
    let path = lab.dir().join(format!("{name}.conf"));
    let text = format!(
        "global_defs {{\n  router_id {name}\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n}}\n\
         vrrp_instance v2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  priority {priority}\n  \
         advert_int 1\n  authentication {{\n    auth_type PASS\n    auth_pass {password}\n  }}\n  \
         virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n"
    );
    std::fs::write(&path, text).expect("writing keepalived.conf");
    path
}

/// A carpd config with one group "v2" of VRID 51: VRRPv2 at 1 s with `password`, or VRRPv3
/// at 1 s with `vrrp2_compat` and that password for its VRRPv2 adverts.
fn carpd_conf(
    lab: &Lab,
    name: &str,
    priority: u8,
    password: &str,
    vip: Ipv4Addr,
    compat: bool,
) -> PathBuf {
    let protocol = if compat {
        "protocol = \"vrrp3\"\nvrrp2_compat = true"
    } else {
        "protocol = \"vrrp2\""
    };
    write_config(
        lab,
        name,
        &format!(
            "[[group]]\nname = \"v2\"\n{protocol}\ninterface = \"eth0\"\nvhid = {VRID}\n\
             vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 1\npassword = \"{password}\"\npreempt = true\n"
        ),
    )
}

/// RFC 3768's Master_Down_Interval of a backup at priority 100 and 1 s: 3 × 1 s + Skew_Time
/// (156/256 s).
const MASTER_DOWN: Duration = Duration::from_micros(3_609_375);

/// Within Skew_Time (0.61 s), well before Master_Down, from a stop.
pub fn after_a_stop() -> std::ops::Range<Duration> {
    Duration::ZERO..MASTER_DOWN - Duration::from_secs(1)
}

/// About Master_Down (a crash falls anywhere in an advert interval), from a crash.
pub fn after_a_crash() -> std::ops::Range<Duration> {
    MASTER_DOWN - Duration::from_millis(1100)..MASTER_DOWN + Duration::from_secs(1)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carpd_vrrp2_master_with_a_keepalived_backup() {
    let Some(lab) = lab("kv2a", 150, 2, &["keepalived"]) else {
        return;
    };
    let vip = lab.address(151);
    let k = keepalived_conf(&lab, "k2", 100, "s3cret", vip);
    let _k = start_keepalived(&lab, 2, &k, "k2");
    let c = carpd_conf(&lab, "c1.toml", 200, "s3cret", vip, false);
    let carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1", "k2"]);
    expect_settled(&lab, vip, Duration::from_secs(3), &["c1", "k2"]);
    let socket = lab.dir().join("c1.toml.sock");
    let group = &status(&socket)["v2"];
    assert_eq!(group["protocol"], "vrrp2", "{group}");
    assert_eq!(group["auth_type"], "simple", "{group}");
    assert_eq!(group["state"], "MASTER");
    assert_eq!(group["priority"], 200);
    assert_eq!(group["advert_interval"], 1.0);
    assert!(
        lab.log("k2").contains("Entering BACKUP STATE"),
        "{}",
        lab.log("k2")
    );

    // A planned stop: priority 0, keepalived takes over after its Skew_Time.
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    expect_takeover(&lab, vip, 2, at, after_a_stop(), ("carpd's stop", "k2"));

    // carpd comes back with the higher priority and preempts: one holder throughout.
    let carpd = start_config(&lab, 1, &c, "c1b");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1b", "k2"]);
    expect_settled(&lab, vip, Duration::from_secs(2), &["c1b", "k2"]);

    // A crash (SIGKILL, its switch port cut): keepalived waits Master_Down_Interval.
    let at = Instant::now();
    lab.signal(carpd.pid, Signal::SIGKILL);
    lab.set_port(lab.host(1), false).expect("port down");
    expect_takeover(&lab, vip, 2, at, after_a_crash(), ("carpd's crash", "k2"));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn keepalived_v2_master_with_a_carpd_backup() {
    let Some(lab) = lab("kv2b", 151, 2, &["keepalived"]) else {
        return;
    };
    let vip = lab.address(151);
    let k = keepalived_conf(&lab, "k1", 200, "s3cret", vip);
    let keepalived = start_keepalived(&lab, 1, &k, "k1");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1"]);
    let c = carpd_conf(&lab, "c2.toml", 100, "s3cret", vip, false);
    let _carpd = start_config(&lab, 2, &c, "c2");
    let socket = lab.dir().join("c2.toml.sock");
    expect_following(&lab, &socket, "v2", &lab.host(1).ip.to_string(), "c2");
    expect_settled(&lab, vip, Duration::from_secs(3), &["c2", "k1"]);
    let group = &status(&socket)["v2"];
    assert_eq!(group["state"], "BACKUP", "{group}");
    assert_eq!(group["master_advert_interval"], 1.0, "{group}");
    assert!(group["adverts_received"].as_u64().unwrap() >= 2, "{group}");

    // keepalived stops (priority 0): carpd takes over after its Skew_Time.
    let at = Instant::now();
    stop(&lab, &keepalived, Signal::SIGTERM);
    expect_takeover(
        &lab,
        vip,
        2,
        at,
        after_a_stop(),
        ("keepalived's stop", "c2"),
    );
    assert_eq!(status(&socket)["v2"]["state"], "MASTER");

    // keepalived comes back with the higher priority: it preempts, carpd gives the VIP up.
    let _keepalived = start_keepalived(&lab, 1, &k, "k1b");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1b", "c2"]);
    expect_settled(&lab, vip, Duration::from_secs(2), &["k1b", "c2"]);

    // keepalived crashes (both processes killed, its port cut): carpd waits Master_Down.
    let at = Instant::now();
    kill_keepalived(&lab, "k1b");
    lab.set_port(lab.host(1), false).expect("port down");
    expect_takeover(
        &lab,
        vip,
        2,
        at,
        after_a_crash(),
        ("keepalived's crash", "c2"),
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_keepalived_with_another_password_is_never_obeyed() {
    let Some(lab) = lab("kv2c", 152, 2, &["keepalived"]) else {
        return;
    };
    let vip = lab.address(151);
    // keepalived has the better priority but another password: carpd drops its adverts
    // (bad-auth) and holds the VIP as well; keepalived does not obey carpd either.
    let k = keepalived_conf(&lab, "k1", 200, "other", vip);
    let _k = start_keepalived(&lab, 1, &k, "k1");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1"]);
    let c = carpd_conf(&lab, "c2.toml", 100, "s3cret", vip, false);
    let _c = start_config(&lab, 2, &c, "c2");
    expect_holders(&lab, vip, &[1, 2], SETTLE, &["k1", "c2"]);
    let socket = lab.dir().join("c2.toml.sock");
    let group = &status(&socket)["v2"];
    assert_eq!(group["state"], "MASTER", "{group}");
    assert!(
        group["drops"]["bad-auth"].as_u64().unwrap_or(0) >= 2,
        "{group}"
    );
    assert_eq!(group["adverts_received"], 0, "{group}");
    let log = lab.log("c2");
    assert!(
        log.contains("its authentication (auth type 1, simple text password) is not this group's"),
        "{log}"
    );
    // Rate-limited: a handful of lines, not one per advert.
    let lines = log.matches("is not this group's").count();
    assert!(
        (1..=3).contains(&lines),
        "{lines} bad-auth log lines\n{log}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn vrrp2_compat_joins_a_keepalived_v2_estate_and_takes_it_over_without_an_election() {
    let Some(lab) = lab("kv2d", 153, 3, &["keepalived", "tcpdump"]) else {
        return;
    };
    let vip = lab.address(151);
    // A running VRRPv2 pair: keepalived master (200) on host 1, keepalived backup (50) on 3.
    let k1 = keepalived_conf(&lab, "k1", 200, "s3cret", vip);
    let keepalived = start_keepalived(&lab, 1, &k1, "k1");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1"]);
    let k3 = keepalived_conf(&lab, "k3", 50, "s3cret", vip);
    let _k3 = start_keepalived(&lab, 3, &k3, "k3");
    // carpd joins as a VRRPv3 node with vrrp2_compat (priority 100): it follows the VRRPv2
    // master at once and never holds the VIP while it lives.
    let c = carpd_conf(&lab, "c2.toml", 100, "s3cret", vip, true);
    let _carpd = start_config(&lab, 2, &c, "c2");
    let socket = lab.dir().join("c2.toml.sock");
    expect_following(&lab, &socket, "v2", &lab.host(1).ip.to_string(), "c2");
    expect_settled(&lab, vip, Duration::from_secs(4), &["k1", "c2", "k3"]);
    let group = &status(&socket)["v2"];
    assert_eq!(
        (&group["protocol"], &group["vrrp2_compat"], &group["state"]),
        (
            &serde_json::json!("vrrp3"),
            &serde_json::json!(true),
            &serde_json::json!("BACKUP")
        ),
        "{group}"
    );

    // The VRRPv2 master leaves (priority 0): carpd takes over after its Skew_Time and sends
    // both versions; the keepalived backup (VRRPv2 only) follows carpd's VRRPv2 adverts and
    // stays backup: one holder throughout.
    stop(&lab, &keepalived, Signal::SIGTERM);
    expect_holders(&lab, vip, &[2], SETTLE, &["c2", "k3"]);
    let capture = lab
        .capture(lab.host(3), "ip proto 112", "compat")
        .expect("tcpdump");
    expect_settled(&lab, vip, Duration::from_secs(4), &["c2", "k3"]);
    capture.stop(&lab);
    let seen = capture.text(&[]).expect("capture");
    assert!(
        seen.contains("VRRPv3, Advertisement, vrid 51, prio 100")
            && seen.contains("VRRPv2, Advertisement, vrid 51, prio 100, authtype simple, intvl 1s"),
        "carpd sends both versions:\n{seen}"
    );
    assert!(
        !lab.log("k3").contains("Entering MASTER STATE"),
        "{}",
        lab.log("k3")
    );
}
