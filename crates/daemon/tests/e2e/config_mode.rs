//! Config mode: many groups on several interfaces in one process, from one file.

use crate::common::{carpd, lab, start_config, stop, write_config};
use carpd_lab::{wait_until, CarpMember, Lab};
use nix::sys::signal::Signal;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// One `[[group]]` table in native mode (carpd manages the VIP).
pub fn group(interface: &str, vhid: u8, vip: Ipv4Addr, advskew: u8) -> String {
    format!(
        "[[group]]\ninterface = \"{interface}\"\nvhid = {vhid}\nvips = [\"{vip}/32\"]\npassword = \"secret\"\nadvskew = {advskew}\npreempt = true\n\n"
    )
}

/// Waits until `host` holds exactly `expected` among `all`; panics with the logs otherwise.
fn expect_holds(
    lab: &Lab,
    host: usize,
    all: &[Ipv4Addr],
    expected: &BTreeSet<Ipv4Addr>,
    within: Duration,
    logs: &[&str],
) {
    let held = || -> BTreeSet<Ipv4Addr> {
        let on_host: BTreeSet<Ipv4Addr> = lab.all_addresses(lab.host(host)).into_iter().collect();
        all.iter()
            .copied()
            .filter(|a| on_host.contains(a))
            .collect()
    };
    if !wait_until(within, || held() == *expected) {
        let now = held();
        let mut text = String::new();
        for log in logs {
            let _ = write!(text, "--- {log}\n{}\n", lab.log(log));
        }
        panic!(
            "host {host} holds {} of the VIPs, expected {}; missing {:?}, extra {:?}\n{text}",
            now.len(),
            expected.len(),
            expected.difference(&now).collect::<Vec<_>>(),
            now.difference(expected).collect::<Vec<_>>()
        );
    }
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn sixty_groups_on_two_interfaces_each_host_master_of_half_one_peer_is_ucarp() {
    let Some(lab) = lab("cfg", 27, 2, &["ucarp"]) else {
        return;
    };
    lab.add_second_lan(28).expect("second LAN");
    // vhids 1..=30 on eth0 and the same vhids on eth1. Host 1 is preferred (advskew 10) for
    // even vhids, host 2 for odd ones. On host 2, eth0 vhid 30 is served by ucarp instead.
    let vip = |interface: &str, vhid: u8| {
        Ipv4Addr::new(
            10,
            77,
            if interface == "eth0" { 27 } else { 28 },
            100 + vhid,
        )
    };
    let mut configs = [String::new(), String::new()];
    let mut all = Vec::new();
    let mut wanted = [BTreeSet::new(), BTreeSet::new()];
    for interface in ["eth0", "eth1"] {
        for vhid in 1..=30u8 {
            all.push(vip(interface, vhid));
            let preferred = if vhid % 2 == 0 { 0 } else { 1 };
            wanted[preferred].insert(vip(interface, vhid));
            for (host, config) in configs.iter_mut().enumerate() {
                if host == 1 && interface == "eth0" && vhid == 30 {
                    continue;
                }
                let advskew = if host == preferred { 10 } else { 100 };
                config.push_str(&group(interface, vhid, vip(interface, vhid), advskew));
            }
        }
    }
    let paths = [
        write_config(&lab, "h1.toml", &configs[0]),
        write_config(&lab, "h2.toml", &configs[1]),
    ];
    // Both files pass --check-config.
    for path in &paths {
        let out = std::process::Command::new(carpd())
            .args(["--check-config", path.to_str().expect("utf-8")])
            .output()
            .expect("check-config");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    }
    let h1 = start_config(&lab, 1, &paths[0], "h1");
    let h2 = start_config(&lab, 2, &paths[1], "h2");
    let mut ucarp = CarpMember::new(30, vip("eth0", 30), "secret");
    ucarp.advskew = 100;
    ucarp.preempt = true;
    ucarp.scripts = Some(lab.vip_scripts("ucarp").expect("scripts"));
    lab.start_carp("ucarp", lab.host(2), &ucarp, "ucarp")
        .expect("ucarp");
    let logs = ["h1", "h2", "ucarp"];
    let settle = Duration::from_secs(20);
    expect_holds(&lab, 1, &all, &wanted[0], settle, &logs);
    expect_holds(&lab, 2, &all, &wanted[1], settle, &logs);
    // Held steadily: a few more seconds change nothing.
    std::thread::sleep(Duration::from_secs(3));
    expect_holds(&lab, 1, &all, &wanted[0], Duration::ZERO, &logs);
    expect_holds(&lab, 2, &all, &wanted[1], Duration::ZERO, &logs);
    let log1 = lab.log("h1");
    assert!(
        log1.contains("[eth1-30] Switching to state: MASTER"),
        "{log1}"
    );
    assert!(
        log1.contains("[eth0-29] Switching to state: BACKUP"),
        "{log1}"
    );

    // Host 1 stops: every group it was master of bows out, and host 2 (ucarp for eth0
    // vhid 30) takes all of them over at once.
    assert_eq!(
        stop(&lab, &h1, Signal::SIGTERM),
        Some(0),
        "{}",
        lab.log("h1")
    );
    let every: BTreeSet<Ipv4Addr> = all.iter().copied().collect();
    expect_holds(&lab, 2, &all, &every, Duration::from_secs(5), &logs);
    expect_holds(&lab, 1, &all, &BTreeSet::new(), Duration::ZERO, &logs);
    stop(&lab, &h2, Signal::SIGTERM);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn two_hundred_fifty_five_groups_on_one_interface() {
    let Some(lab) = lab("c255", 29, 2, &[]) else {
        return;
    };
    let vip = |vhid: u8| {
        if vhid < 255 {
            Ipv4Addr::new(10, 77, 129, vhid)
        } else {
            Ipv4Addr::new(10, 77, 130, 1)
        }
    };
    let all: Vec<Ipv4Addr> = (1..=255u8).map(vip).collect();
    let config = |advskew: u8| -> String {
        (1..=255u8)
            .map(|v| group("eth0", v, vip(v), advskew))
            .collect()
    };
    let h1 = start_config(&lab, 1, &write_config(&lab, "h1.toml", &config(0)), "h1");
    // Host 1's dead time is only 195 ms shorter than host 2's: started together, a start-up
    // slowed by the other tests could let host 2 win first (and then yield, as it should).
    // Host 2 starts once every group of host 1 runs, so host 1's timers run out first.
    let started = wait_until(Duration::from_secs(10), || {
        lab.log("h1").matches("Switching to state: BACKUP").count() == 255
    });
    assert!(
        started,
        "host 1's groups did not all start: {}",
        lab.log("h1")
    );
    let h2 = start_config(&lab, 2, &write_config(&lab, "h2.toml", &config(50)), "h2");
    let every: BTreeSet<Ipv4Addr> = all.iter().copied().collect();
    let logs = ["h1", "h2"];
    expect_holds(&lab, 1, &all, &every, Duration::from_secs(20), &logs);
    expect_holds(
        &lab,
        2,
        &all,
        &BTreeSet::new(),
        Duration::from_secs(5),
        &logs,
    );
    std::thread::sleep(Duration::from_secs(3));
    expect_holds(&lab, 2, &all, &BTreeSet::new(), Duration::ZERO, &logs);
    assert!(
        !lab.log("h2").contains("Switching to state: MASTER"),
        "host 2 was never master: {}\nhost 1: {}",
        lab.log("h2"),
        lab.log("h1")
    );
    assert_eq!(
        stop(&lab, &h1, Signal::SIGTERM),
        Some(0),
        "{}",
        lab.log("h1")
    );
    expect_holds(&lab, 2, &all, &every, Duration::from_secs(5), &logs);
    stop(&lab, &h2, Signal::SIGTERM);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn config_mode_refuses_a_bad_file_and_group_options_beside_it() {
    let dir = std::env::temp_dir().join(format!("carpd-e2e-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[group]]\ninterface = \"eth0\"\nvhid = 300\nvips = [\"10.77.0.9\"]\npassword = \"x\"\n",
    )
    .expect("write");
    for args in [
        vec!["--check-config", bad.to_str().expect("utf-8")],
        vec!["--config", bad.to_str().expect("utf-8")],
    ] {
        let out = std::process::Command::new(carpd())
            .args(&args)
            .output()
            .expect("carpd");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("bad.toml:3:8: group 1: vhid = 300: accepted 1 to 255"),
            "{args:?}: {stderr}"
        );
    }
    let out = std::process::Command::new(carpd())
        .args(["--config", bad.to_str().expect("utf-8"), "-v", "3", "-P"])
        .output()
        .expect("carpd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--config with --vhid, --preempt"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
