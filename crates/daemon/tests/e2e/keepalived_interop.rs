//! VRRPv3 against the real keepalived 2.2.7 from Debian, over IPv4: carpd sits in a
//! keepalived group as one of its routers, as master and as backup.

use crate::common::*;
use crate::control::status;
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VRID: u8 = 50;

/// A keepalived VRRPv3 instance of VRID 50 on eth0.
fn keepalived_conf(lab: &Lab, name: &str, priority: u8, interval: &str, vip: Ipv4Addr) -> PathBuf {
    let path = lab.dir().join(format!("{name}.conf"));
    let text = format!(
        "global_defs {{\n  router_id {name}\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n}}\n\
         vrrp_instance v3 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  priority {priority}\n  \
         advert_int {interval}\n  virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n"
    );
    std::fs::write(&path, text).expect("writing keepalived.conf");
    path
}

/// A carpd config with one VRRPv3 group "v3" of VRID 50 (VIP managed natively, IPv4 or
/// IPv6).
fn carpd_conf(
    lab: &Lab,
    name: &str,
    priority: u8,
    interval: &str,
    vip: impl Into<std::net::IpAddr>,
) -> PathBuf {
    let vip = match vip.into() {
        std::net::IpAddr::V4(a) => format!("{a}/24"),
        std::net::IpAddr::V6(a) => format!("{a}/64"),
    };
    write_config(
        lab,
        name,
        &format!(
            "[[group]]\nname = \"v3\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = {VRID}\n\
             vips = [\"{vip}\"]\npriority = {priority}\nadvert_interval = {interval}\npreempt = true\n"
        ),
    )
}

/// How long after `since` until `host` holds `vip` (polling), or `None` by `within`. (After
/// a crash the dead host keeps its copy: only the new holder is watched.)
fn time_until_held(
    lab: &Lab,
    vip: Ipv4Addr,
    host: usize,
    since: Instant,
    within: Duration,
) -> Option<Duration> {
    wait_until(within, || lab.has_address(lab.host(host), vip)).then(|| since.elapsed())
}

/// Kills keepalived started under `log` (its parent and its VRRP child, by their pid files)
/// at once.
pub fn kill_keepalived(lab: &Lab, log: &str) {
    for file in [format!("{log}.vrrp.pid"), format!("{log}.pid")] {
        let text = std::fs::read_to_string(lab.dir().join(file)).unwrap_or_default();
        if let Ok(pid) = text.trim().parse::<i32>() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// VRRPv3 timers of the backup at priority 100: Skew_Time and Master_Down_Interval.
fn backup_timers(interval: Duration) -> (Duration, Duration) {
    let skew = interval * 156 / 256;
    (skew, 3 * interval + skew)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn carpd_master_with_a_keepalived_backup() {
    let Some(lab) = lab("kv4a", 110, 2, &["keepalived", "tcpdump"]) else {
        return;
    };
    let vip = lab.address(100);
    let interval = Duration::from_millis(500);
    let (skew, down) = backup_timers(interval);
    let k = keepalived_conf(&lab, "k2", 100, "0.5", vip);
    let _k = start_keepalived(&lab, 2, &k, "k2");
    let c = carpd_conf(&lab, "c1.toml", 200, "0.5", vip);
    let carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1", "k2"]);

    // Settled: one holder, and keepalived hears carpd as its master.
    expect_settled(&lab, vip, Duration::from_secs(2), &["k2"]);
    let socket = lab.dir().join("c1.toml.sock");
    let group = &status(&socket)["v3"];
    assert_eq!(group["protocol"], "vrrp3");
    assert_eq!(group["state"], "MASTER");
    assert_eq!(group["priority"], 200);

    // Graceful stop: priority 0, keepalived takes over after its Skew_Time, well before
    // Master_Down_Interval.
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    let took = time_until_held(&lab, vip, 2, at, SETTLE).expect("keepalived took over");
    eprintln!("keepalived took over {took:?} after carpd's stop");
    assert!(
        took < down - interval,
        "keepalived took over {took:?} after the stop; Skew_Time is {skew:?}, Master_Down_Interval {down:?}\n{}",
        lab.log("k2")
    );

    // carpd comes back and preempts; then crash (SIGKILL and its switch port cut):
    // keepalived waits Master_Down_Interval from carpd's last advert, which came up to one
    // interval before the crash.
    let carpd = start_config(&lab, 1, &c, "c1b");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1b", "k2"]);
    let (two, _) = watch_holders(&lab, vip, Duration::from_secs(1));
    assert_eq!(two, Duration::ZERO);
    let at = Instant::now();
    lab.signal(carpd.pid, Signal::SIGKILL);
    lab.set_port(lab.host(1), false).expect("port down");
    let took = time_until_held(&lab, vip, 2, at, SETTLE).expect("keepalived took over");
    eprintln!("keepalived took over {took:?} after carpd's crash");
    assert!(
        took >= down - interval - Duration::from_millis(100)
            && took < down + Duration::from_secs(2),
        "keepalived took over {took:?} after the crash; Master_Down_Interval is {down:?}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn keepalived_master_with_a_carpd_backup() {
    let Some(lab) = lab("kv4b", 111, 2, &["keepalived"]) else {
        return;
    };
    let vip = lab.address(100);
    let interval = Duration::from_millis(500);
    let (skew, down) = backup_timers(interval);
    let k = keepalived_conf(&lab, "k1", 200, "0.5", vip);
    let keepalived = start_keepalived(&lab, 1, &k, "k1");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1"]);
    let c = carpd_conf(&lab, "c2.toml", 100, "0.5", vip);
    let _carpd = start_config(&lab, 2, &c, "c2");
    let socket = lab.dir().join("c2.toml.sock");
    assert!(wait_until(SETTLE, || socket.exists()), "{}", lab.log("c2"));
    assert!(
        wait_until(SETTLE, || status(&socket)["v3"]["state"] == "BACKUP"
            && status(&socket)["v3"]["master"] == lab.host(1).ip.to_string()),
        "{}",
        lab.log("c2")
    );
    expect_settled(&lab, vip, Duration::from_secs(2), &["c2"]);
    let group = &status(&socket)["v3"];
    assert_eq!(
        group["peer_v3_checksum"], "pseudo-header",
        "keepalived 2.2.7 sends the IPv4 pseudo-header variant: {group}"
    );
    assert_eq!(group["master_advert_interval"], 0.5);

    // keepalived stops (priority 0): carpd takes over after its Skew_Time.
    let at = Instant::now();
    stop(&lab, &keepalived, Signal::SIGTERM);
    let took = time_until_held(&lab, vip, 2, at, SETTLE).expect("carpd took over");
    eprintln!(
        "carpd took over {took:?} after keepalived's stop\n{}\n{}",
        lab.log("c2"),
        lab.log("k1")
    );
    assert!(
        took < down - interval,
        "carpd took over {took:?} after keepalived's stop; Skew_Time is {skew:?}\n{}",
        lab.log("c2")
    );
    assert_eq!(status(&socket)["v3"]["state"], "MASTER");

    // keepalived comes back with the higher priority and preempts; carpd gives the VIP up.
    let _keepalived = start_keepalived(&lab, 1, &k, "k1b");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1b", "c2"]);
    let (two, _) = watch_holders(&lab, vip, Duration::from_secs(1));
    assert_eq!(two, Duration::ZERO);

    // keepalived crashes: carpd waits Master_Down_Interval from keepalived's last advert,
    // which came up to one interval before the crash.
    let at = Instant::now();
    kill_keepalived(&lab, "k1b");
    lab.set_port(lab.host(1), false).expect("port down");
    let took = time_until_held(&lab, vip, 2, at, SETTLE).expect("carpd took over");
    eprintln!("carpd took over {took:?} after keepalived's crash");
    assert!(
        took >= down - interval - Duration::from_millis(100)
            && took < down + Duration::from_secs(2),
        "carpd took over {took:?} after the crash; Master_Down_Interval is {down:?}\n{}",
        lab.log("c2")
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn tcpdump_decodes_carpd_vrrp3_adverts() {
    let Some(lab) = lab("kv4t", 112, 2, &["tcpdump"]) else {
        return;
    };
    let vip = lab.address(100);
    let cap = lab
        .capture(lab.host(2), "ip proto 112", "v3")
        .expect("tcpdump");
    let c = carpd_conf(&lab, "c1.toml", 200, "0.05", vip);
    let _carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &["c1"]);
    // tcpdump -w reads its ring in blocks (up to about a second late): let it catch up.
    std::thread::sleep(Duration::from_millis(2500));
    cap.stop(&lab);
    let text = cap.text(&["-v"]).expect("tcpdump -r");
    let line = text
        .lines()
        .find(|l| l.contains("VRRPv3"))
        .unwrap_or_else(|| panic!("no VRRPv3 advert in:\n{text}"));
    assert!(
        line.contains("VRRPv3, Advertisement, vrid 50, prio 200, intvl 5cs"),
        "{line}"
    );
    assert!(text.contains("ttl 255"), "{text}");
}

/// An IPv6 VIP of the lab (a ULA prefix that exists only in the namespaces).
pub fn vip6(lab_subnet: u8) -> std::net::Ipv6Addr {
    format!("fd77:{lab_subnet}::100").parse().unwrap()
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn ipv6_both_ways_with_keepalived() {
    let Some(lab) = lab("kv6", 115, 2, &["keepalived"]) else {
        return;
    };
    for host in [1, 2] {
        assert!(
            lab.link_local(lab.host(host)).is_some(),
            "host {host} has no usable link-local address"
        );
    }
    let vip = vip6(115);
    let interval = Duration::from_millis(500);
    let (skew, down) = backup_timers(interval);
    // keepalived (priority 100) on host 2, carpd (200) on host 1.
    let conf = lab.dir().join("k2.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id k2\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\n\
             vrrp_instance v6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  priority 100\n  \
             advert_int 0.5\n  virtual_ipaddress {{\n    {vip}/64 dev eth0\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let _k = start_keepalived(&lab, 2, &conf, "k2");
    let c = carpd_conf(&lab, "c1.toml", 200, "0.5", vip);
    let carpd = start_config(&lab, 1, &c, "c1");
    let holders = |want: &[usize]| wait_until(SETTLE, || lab.holders6(vip) == want);
    expect_settled6(&lab, vip, &[1], &["c1", "k2"]);
    let socket = lab.dir().join("c1.toml.sock");
    let group = &status(&socket)["v3"];
    assert_eq!(group["state"], "MASTER", "{group}");
    // Added without duplicate address detection: usable at once, never tentative.
    let shown = lab
        .run(
            lab.host(1),
            "ip",
            &["-6", "-o", "addr", "show", "dev", "eth0"],
        )
        .unwrap();
    let line = String::from_utf8_lossy(&shown.stdout)
        .lines()
        .find(|l| l.contains(&format!(" {vip}/")))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "{line}"
    );
    assert!(
        lab.log("c1").contains("is not link-local"),
        "the first-address warning: {}",
        lab.log("c1")
    );
    // Graceful stop: keepalived takes over after its Skew_Time.
    let at = Instant::now();
    stop(&lab, &carpd, Signal::SIGTERM);
    assert!(holders(&[2]), "{}", lab.log("k2"));
    let took = at.elapsed();
    eprintln!("keepalived took over {took:?} after carpd's stop (IPv6)");
    assert!(took < down - interval, "{took:?}, Skew_Time {skew:?}");
    // carpd as the backup this time: at priority 50 it stays backup to keepalived (100) and
    // names keepalived's link-local address as the master.
    let c = carpd_conf(&lab, "c1b.toml", 50, "0.5", vip);
    let _carpd = start_config(&lab, 1, &c, "c1b");
    let socket = lab.dir().join("c1b.toml.sock");
    assert!(wait_until(SETTLE, || socket.exists()));
    let k_ll = lab.link_local(lab.host(2)).unwrap().to_string();
    assert!(
        wait_until(SETTLE, || status(&socket)["v3"]["master"] == k_ll),
        "carpd never heard keepalived over IPv6: {}\n{}",
        status(&socket)["v3"],
        lab.log("c1b")
    );
    assert_eq!(lab.holders6(vip), [2]);
    // keepalived crashes: carpd takes over after Master_Down_Interval (at priority 50).
    let down50 = 3 * interval + interval * 206 / 256;
    let at = Instant::now();
    kill_keepalived(&lab, "k2");
    lab.set_port(lab.host(2), false).expect("port down");
    assert!(
        wait_until(SETTLE, || lab.has_address6(lab.host(1), vip)),
        "{}",
        lab.log("c1b")
    );
    let took = at.elapsed();
    eprintln!("carpd took over {took:?} after keepalived's crash (IPv6)");
    assert!(
        took >= down50 - Duration::from_millis(200) && took < down50 + Duration::from_secs(2),
        "{took:?}, Master_Down_Interval {down50:?}"
    );
}

/// The carpd config of [`the_rest_of_carpd_works_for_a_vrrp3_group_beside_keepalived`]:
/// a VRRPv3 group at `priority` tracking a maintenance file (weight 150), with metrics and a
/// notify script.
fn full_config(lab: &Lab, name: &str, priority: u8, vip: Ipv4Addr) -> PathBuf {
    let (flag, calls) = (lab.dir().join("maintenance"), lab.dir().join("notify.log"));
    let path = write_config(
        lab,
        name,
        &format!(
            "[[tracker]]\nname = \"m\"\nfile = \"{}\"\ninterval = 0.1\nweight = 150\n\n\
             [[group]]\nname = \"v3\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = {VRID}\n\
             vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 0.5\npreempt = true\n\
             track = [\"m\"]\nnotify_script = [\"/bin/sh\", \"-c\", \"echo \\\"$CARPD_FROM $CARPD_STATE $CARPD_REASON\\\" >> {}\"]\n",
            flag.display(),
            calls.display()
        ),
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[daemon]\n",
        "[daemon]\nmetrics_listen = \"127.0.0.1:9642\"\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn the_rest_of_carpd_works_for_a_vrrp3_group_beside_keepalived() {
    let Some(lab) = lab("kv4r", 118, 2, &["keepalived", "curl"]) else {
        return;
    };
    let vip = lab.address(100);
    let logs = ["c1", "k2"];
    let k = keepalived_conf(&lab, "k2", 100, "0.5", vip);
    let _k = start_keepalived(&lab, 2, &k, "k2");
    let c = full_config(&lab, "c1.toml", 200, vip);
    let _carpd = start_config(&lab, 1, &c, "c1");
    expect_holders(&lab, vip, &[1], SETTLE, &logs);
    expect_settled(&lab, vip, Duration::from_secs(1), &logs);
    let socket = lab.dir().join("c1.toml.sock");
    let metrics = || crate::metrics::fetch(&lab, 1, "http://127.0.0.1:9642/metrics");
    let labels = format!("{{group=\"v3\",interface=\"eth0\",vhid=\"{VRID}\"}}");
    let priority =
        |text: &str| crate::metrics::sample(text, &format!("carpd_group_priority{labels}"));
    let text = metrics();
    assert_eq!(priority(&text), Some(200.0), "{text}");
    assert_eq!(
        crate::metrics::sample(&text, &format!("carpd_group_advskew{labels}")),
        None,
        "advskew is CARP's: {text}"
    );
    // The tracker fails: priority 200 - 150 = 50, advertised at once; keepalived (100)
    // preempts.
    let flag = lab.dir().join("maintenance");
    std::fs::write(&flag, "1").unwrap();
    expect_holders(&lab, vip, &[2], Duration::from_secs(3), &logs);
    let group = &status(&socket)["v3"];
    assert_eq!(
        (
            &group["priority"],
            &group["configured_priority"],
            &group["state"]
        ),
        (
            &serde_json::json!(50),
            &serde_json::json!(200),
            &serde_json::json!("BACKUP")
        ),
        "{group}"
    );
    assert_eq!(priority(&metrics()), Some(50.0));
    // Healthy again: carpd hears keepalived's lower priority and preempts.
    std::fs::write(&flag, "0").unwrap();
    expect_holders(&lab, vip, &[1], Duration::from_secs(3), &logs);
    // The operator drains it: priority 0 on the wire, keepalived takes over after its
    // Skew_Time (305 ms), not its Master_Down_Interval (1.8 s).
    let at = Instant::now();
    let out = crate::control::ctl(&socket, &["demote", "v3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expect_holders(&lab, vip, &[2], Duration::from_secs(3), &logs);
    let took = at.elapsed();
    assert!(took < Duration::from_millis(1300), "{took:?}");
    assert_eq!(status(&socket)["v3"]["demoted_by_operator"], true);
    let out = crate::control::ctl(&socket, &["promote", "v3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expect_holders(&lab, vip, &[1], Duration::from_secs(3), &logs);
    // A reload tunes the priority in place: no state change, still master over keepalived.
    let tuned = full_config(&lab, "c1.toml", 150, vip);
    assert_eq!(tuned, c);
    let out = crate::control::ctl(&socket, &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(reply.contains("changed: v3"), "{reply}");
    std::thread::sleep(Duration::from_secs(1));
    let group = &status(&socket)["v3"];
    assert_eq!(
        (&group["configured_priority"], &group["state"]),
        (&serde_json::json!(150), &serde_json::json!("MASTER")),
        "{group}"
    );
    assert_eq!(lab.holders(vip), [1]);
    // notify saw every transition, in order: each call starts where the one before ended;
    // the tracker's demotion lost to keepalived, the drain bowed out, and both times carpd
    // came back by preemption.
    let calls = std::fs::read_to_string(lab.dir().join("notify.log")).unwrap_or_default();
    let lines: Vec<Vec<&str>> = calls.lines().map(|l| l.split(' ').collect()).collect();
    assert!(
        lines.windows(2).all(|w| w[0][1] == w[1][0]),
        "out of order:\n{calls}"
    );
    let reasons: Vec<&str> = lines.iter().skip(2).map(|l| l[2]).collect();
    assert_eq!(
        reasons,
        ["preferred-master", "preemption", "drained", "preemption"],
        "{calls}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_keepalived_master_with_one_more_vip_is_used_counted_and_logged() {
    let Some(lab) = lab("kv4m", 145, 2, &["keepalived", "curl"]) else {
        return;
    };
    let vip = lab.address(100);
    let extra = lab.address(101);
    let k = keepalived_conf(&lab, "k1", 200, "0.5", vip);
    let text = std::fs::read_to_string(&k)
        .expect("keepalived.conf")
        .replace(
            &format!("    {vip}/24 dev eth0\n"),
            &format!("    {vip}/24 dev eth0\n    {extra}/24 dev eth0\n"),
        );
    std::fs::write(&k, text).expect("keepalived.conf");
    let _keepalived = start_keepalived(&lab, 1, &k, "k1");
    expect_holders(&lab, vip, &[1], SETTLE, &["k1"]);
    let c = carpd_conf(&lab, "c2.toml", 100, "0.5", vip);
    let with_metrics = std::fs::read_to_string(&c).expect("config").replacen(
        "[daemon]\n",
        "[daemon]\nmetrics_listen = \"127.0.0.1:9644\"\n",
        1,
    );
    std::fs::write(&c, with_metrics).expect("config");
    let _carpd = start_config(&lab, 2, &c, "c2");
    let socket = lab.dir().join("c2.toml.sock");
    assert!(wait_until(SETTLE, || socket.exists()), "{}", lab.log("c2"));
    // carpd follows it as its master (RFC 9568 §7.1), and says how they differ.
    assert!(
        wait_until(SETTLE, || {
            let g = &status(&socket)["v3"];
            g["state"] == "BACKUP" && g["advert_mismatches"].as_u64().is_some_and(|n| n >= 2)
        }),
        "{}",
        lab.log("c2")
    );
    assert_eq!(status(&socket)["v3"]["master"], lab.host(1).ip.to_string());
    let log = lab.log("c2");
    let said = format!(
        "Advert from {} disagrees with this group: addresses [{vip}, {extra}] where this group has [{vip}]",
        lab.host(1).ip
    );
    assert_eq!(
        log.matches(&said).count(),
        1,
        "logged once a minute at most:\n{log}"
    );
    let metrics = crate::metrics::fetch(&lab, 2, "http://127.0.0.1:9644/metrics");
    let series = "carpd_advert_mismatches_total{group=\"v3\",interface=\"eth0\",vhid=\"50\"}";
    assert!(
        crate::metrics::sample(&metrics, series).is_some_and(|n| n >= 2.0),
        "{metrics}"
    );
    expect_settled(&lab, vip, Duration::from_secs(2), &["c2"]);
}
