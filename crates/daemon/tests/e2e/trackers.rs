//! Trackers against real peers: a failing check hands the VIP over (carpd and ucarp peers),
//! weights on the demote byte and on advskew, interface and file trackers, and a check that
//! hangs while the master keeps advertising on time.

use crate::common::{expect_holders, lab, start, Group, Impl};
use crate::config_mode::{group, start_config, write_config};
use crate::control::{adverts, ctl, longest_gap, status};
use carpd_lab::{wait_until, Lab};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A native group named `name` with `extra` lines (track, demote_by).
fn tracked(name: &str, vhid: u8, vip: Ipv4Addr, advskew: u8, extra: &str) -> String {
    group("eth0", vhid, vip, advskew).replacen(
        "[[group]]\n",
        &format!("[[group]]\nname = \"{name}\"\n{extra}\n"),
        1,
    )
}

/// A script tracker that fails while `flag` exists.
fn flag_tracker(name: &str, flag: &Path, extra: &str) -> String {
    format!(
        "[[tracker]]\nname = \"{name}\"\nscript = [\"/bin/sh\", \"-c\", \"test ! -e {}\"]\n{extra}\n\n",
        flag.display()
    )
}

/// The socket `write_config` puts beside a config file.
fn socket_of(lab: &Lab, config: &str) -> std::path::PathBuf {
    lab.dir().join(format!("{config}.sock"))
}

/// How long until exactly `expected` hold `vip`, at most `within`; panics with the logs.
fn time_until_holders(
    lab: &Lab,
    vip: Ipv4Addr,
    expected: &[usize],
    within: Duration,
    logs: &[&str],
) -> Duration {
    let start = Instant::now();
    expect_holders(lab, vip, expected, within, logs);
    start.elapsed()
}

fn tracker_status(socket: &Path, name: &str) -> Value {
    let out = ctl(socket, &["--json", "status"]);
    let reply: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    reply["trackers"]
        .as_array()
        .expect("trackers")
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_failing_check_hands_over_within_its_fall_time_and_the_master_preempts_back_when_healthy() {
    let Some(lab) = lab("tck", 43, 2, &[]) else {
        return;
    };
    let vip = lab.address(107);
    let flag = lab.dir().join("service-broken");
    // interval 0.5 s, fall 2, rise 2, weight 0 (FAULT).
    let h1 = write_config(
        &lab,
        "h1.toml",
        &(flag_tracker("service", &flag, "interval = 0.5\nfall = 2\nrise = 2")
            + &tracked("web", 7, vip, 10, "track = [\"service\"]")),
    );
    let h2 = write_config(&lab, "h2.toml", &tracked("web", 7, vip, 100, ""));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &logs);
    let socket = socket_of(&lab, "h1.toml");
    // Watch the events while the check fails.
    let mut watch = Command::new(crate::control::carpctl())
        .arg("--socket")
        .arg(&socket)
        .args(["--json", "watch"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("carpctl watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    assert!(lines
        .next()
        .expect("a line")
        .expect("text")
        .contains("watching"));

    std::fs::write(&flag, "").expect("flag");
    // Bound: fall × interval, plus up to one interval until the first failing check, plus
    // one advert interval.
    let took = time_until_holders(&lab, vip, &[2], Duration::from_millis(2500), &logs);
    eprintln!("check failed: host 2 sole holder after {took:?}");
    let g = &status(&socket)["web"];
    assert_eq!(g["state"], "FAULT", "{g}");
    assert_eq!(g["fault"], true);
    assert_eq!(g["track"][0]["healthy"], false);
    let t = tracker_status(&socket, "service");
    assert_eq!(
        (t["healthy"].clone(), t["kind"].clone()),
        (Value::Bool(false), Value::from("script"))
    );
    assert_eq!(t["detail"], "exit status 1", "{t}");
    // Text status shows FAULT and the tracker table.
    let text = String::from_utf8_lossy(&ctl(&socket, &["status"]).stdout).to_string();
    assert!(
        text.contains("FAULT") && text.contains("TRACKER") && text.contains("exit status 1"),
        "{text}"
    );

    std::fs::remove_file(&flag).expect("flag");
    let back = time_until_holders(&lab, vip, &[1], Duration::from_secs(5), &logs);
    eprintln!("check healthy again: host 1 sole holder after {back:?}");
    assert_eq!(status(&socket)["web"]["state"], "MASTER");

    let _ = watch.kill();
    let _ = watch.wait();
    let events: Vec<Value> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let position = |f: &dyn Fn(&Value) -> bool| events.iter().position(f);
    let failed = position(&|e| e["event"] == "tracker" && e["healthy"] == false);
    let fault =
        position(&|e| e["event"] == "state" && e["to"] == "FAULT" && e["reason"] == "fault");
    let healthy = position(&|e| e["event"] == "tracker" && e["healthy"] == true);
    let cleared =
        position(&|e| e["event"] == "state" && e["from"] == "FAULT" && e["to"] == "BACKUP");
    let master = position(&|e| e["event"] == "state" && e["to"] == "MASTER");
    assert!(
        failed.is_some()
            && failed < fault
            && fault < healthy
            && healthy < cleared
            && cleared < master,
        "{events:?}"
    );
    assert_eq!(events[failed.unwrap()]["tracker"], "service");
}

#[test]
fn against_ucarp_a_weight_on_advskew_and_a_failing_check_both_hand_over_and_back() {
    let Some(lab) = lab("tuc", 44, 2, &["ucarp"]) else {
        return;
    };
    let g = Group::new(&lab, 9);
    let flag = lab.dir().join("service-broken");
    let maintenance = lab.dir().join("maintenance");
    let config = flag_tracker("service", &flag, "interval = 0.5")
        + &format!(
            "[[tracker]]\nname = \"maintenance\"\nfile = \"{}\"\ninterval = 0.2\nweight = 100\n\n",
            maintenance.display()
        )
        + &tracked(
            "web",
            g.vhid,
            g.vip,
            10,
            "track = [\"service\", \"maintenance\"]\ndemote_by = \"advskew\"",
        );
    let h1 = write_config(&lab, "h1.toml", &config);
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let logs = ["h1", "u"];
    expect_holders(&lab, g.vip, &[1], Duration::from_secs(15), &logs);
    // ucarp at advskew 50 with --preempt: it takes over when carpd advertises more.
    let _u = start(&lab, Impl::Ucarp, 2, &g, 50, true, "u");
    std::thread::sleep(Duration::from_secs(3));
    expect_holders(&lab, g.vip, &[1], Duration::from_secs(1), &logs);
    let socket = socket_of(&lab, "h1.toml");

    std::fs::write(&maintenance, "1\n").expect("maintenance");
    let took = time_until_holders(&lab, g.vip, &[2], Duration::from_secs(5), &logs);
    eprintln!("weight 100 on advskew: ucarp sole holder after {took:?}");
    let web = &status(&socket)["web"];
    assert_eq!(
        (
            web["advskew"].clone(),
            web["configured_advskew"].clone(),
            web["demote"].clone()
        ),
        (Value::from(110), Value::from(10), Value::from(0)),
        "{web}"
    );
    assert_eq!(
        (web["demotion"].clone(), web["demote_by"].clone()),
        (Value::from(100), Value::from("advskew"))
    );
    std::fs::write(&maintenance, "0\n").expect("maintenance");
    expect_holders(&lab, g.vip, &[1], Duration::from_secs(6), &logs);
    assert_eq!(status(&socket)["web"]["advskew"], 10);

    // weight 0: carpd bows out, ucarp takes over at once (no dead time to wait).
    std::fs::write(&flag, "").expect("flag");
    let took = time_until_holders(&lab, g.vip, &[2], Duration::from_secs(4), &logs);
    eprintln!("check failed: ucarp sole holder after {took:?}");
    std::fs::remove_file(&flag).expect("flag");
    expect_holders(&lab, g.vip, &[1], Duration::from_secs(6), &logs);
}

#[test]
fn an_interface_tracker_demotes_by_the_demote_byte_and_a_carpd_peer_takes_over() {
    let Some(lab) = lab("tif2", 45, 2, &[]) else {
        return;
    };
    let h = lab.host(1).clone();
    let ip = |args: &[&str]| {
        let out = lab.run(&h, "ip", args).expect("ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A veth pair inside host 1 (this kernel may have no dummy driver).
    ip(&[
        "link", "add", "upl0", "type", "veth", "peer", "name", "upl1",
    ]);
    ip(&["link", "set", "upl1", "up"]);
    ip(&["link", "set", "upl0", "up"]);
    let vip = lab.address(108);
    let h1 = write_config(
        &lab,
        "h1.toml",
        &("[[tracker]]\nname = \"uplink\"\ninterface = \"upl0\"\nweight = 20\n\n".to_string()
            + &tracked("edge", 8, vip, 10, "track = [\"uplink\"]")),
    );
    // The peer has worse timing and no preempt: only the demote byte can move the VIP.
    let h2 = write_config(
        &lab,
        "h2.toml",
        &tracked("edge", 8, vip, 100, "").replace("preempt = true\n", ""),
    );
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &logs);
    let socket = socket_of(&lab, "h1.toml");
    assert_eq!(tracker_status(&socket, "uplink")["healthy"], true);

    ip(&["link", "set", "upl0", "down"]);
    let took = time_until_holders(&lab, vip, &[2], Duration::from_secs(2), &logs);
    eprintln!("uplink down: host 2 sole holder after {took:?}");
    let edge = &status(&socket)["edge"];
    assert_eq!(
        (edge["state"].clone(), edge["demote"].clone()),
        (Value::from("BACKUP"), Value::from(20)),
        "{edge}"
    );
    assert!(tracker_status(&socket, "uplink")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("upl0 is down"));
    // Back up: demote 0 again, and host 1's better timing with preempt wins.
    ip(&["link", "set", "upl0", "up"]);
    expect_holders(&lab, vip, &[1], Duration::from_secs(4), &logs);
    // Removed: failed again.
    ip(&["link", "del", "upl0"]);
    expect_holders(&lab, vip, &[2], Duration::from_secs(2), &logs);
    assert!(tracker_status(&socket, "uplink")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("was removed"));
}

#[test]
fn a_hung_check_is_killed_at_its_timeout_and_the_master_advertises_on_time() {
    let Some(lab) = lab("thung", 46, 2, &["tcpdump"]) else {
        return;
    };
    let vip = lab.address(109);
    // A check that never ends by itself (a unique argument, to count its processes).
    let h1 = write_config(
        &lab,
        "h1.toml",
        &("[[tracker]]\nname = \"stuck\"\nscript = [\"/bin/sleep\", \"317.5\"]\ninterval = 0.5\ntimeout = 0.3\nweight = 10\n\n".to_string()
            + &tracked("web", 4, vip, 0, "track = [\"stuck\"]")),
    );
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let cap = lab
        .capture(lab.host(2), "ip proto 112", "stuck")
        .expect("capture");
    std::thread::sleep(Duration::from_secs(6));
    cap.stop(&lab);
    let seen = adverts(&cap.text(&["-tt"]).expect("tcpdump -r"));
    assert!(seen.len() >= 5, "{seen:?}");
    let gap = longest_gap(&seen, 4);
    eprintln!(
        "hung check: {} adverts in 6 s, longest gap {gap:.3} s",
        seen.len()
    );
    assert!(gap < 1.1, "longest advert gap {gap} s with a hung check");
    let socket = socket_of(&lab, "h1.toml");
    let t = tracker_status(&socket, "stuck");
    assert_eq!(t["healthy"], false);
    assert!(
        t["detail"]
            .as_str()
            .unwrap_or("")
            .contains("still running after 300ms: killed"),
        "{t}"
    );
    assert_eq!(status(&socket)["web"]["demote"], 10);
    // Each check was killed at its timeout: at most the current one is alive.
    let alive = || {
        let out = Command::new("pgrep")
            .args(["-fc", "sleep 317.5"])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(1), || alive() <= 1),
        "{} checks alive",
        alive()
    );
}

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
fn a_slow_notify_script_gets_every_transition_in_the_order_it_happened() {
    let Some(lab) = lab("tnf", 51, 1, &[]) else {
        return;
    };
    let vip = lab.address(112);
    let maintenance = lab.dir().join("maintenance");
    let calls = lab.dir().join("notify.log");
    // Each call takes 0.5 s: faster changes queue up behind it.
    let notify = format!(
        "notify_script = [\"/bin/sh\", \"-c\", \"sleep 0.5; echo \\\"$CARPD_GROUP $CARPD_INTERFACE $CARPD_VHID $CARPD_FROM $CARPD_STATE $CARPD_REASON\\\" >> {}\"]",
        calls.display()
    );
    let h1 = write_config(
        &lab,
        "h1.toml",
        &(format!(
            "[[tracker]]\nname = \"m\"\nfile = \"{}\"\ninterval = 0.1\n\n",
            maintenance.display()
        ) + &tracked("web", 12, vip, 0, &format!("track = [\"m\"]\n{notify}"))),
    );
    let m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let mut watch = Command::new(crate::control::carpctl())
        .arg("--socket")
        .arg(&socket)
        .args(["--json", "watch"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("carpctl watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    assert!(lines
        .next()
        .expect("a line")
        .expect("text")
        .contains("watching"));
    for value in ["1", "0", "1", "0"] {
        std::fs::write(&maintenance, value).expect("maintenance");
        std::thread::sleep(Duration::from_millis(400));
    }
    expect_holders(&lab, vip, &[1], Duration::from_secs(6), &["h1"]);
    crate::common::stop(&lab, &m1, nix::sys::signal::Signal::SIGTERM);
    let _ = watch.kill();
    let _ = watch.wait();
    let watched: Vec<String> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|e| e["event"] == "state")
        .map(|e| {
            format!(
                "web eth0 12 {} {} {}",
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    let read = || std::fs::read_to_string(&calls).unwrap_or_default();
    // The stop waits for the queued calls (within the hook timeout).
    let called: Vec<String> = read().lines().map(String::from).collect();
    let startup = [
        "web eth0 12 INIT BACKUP startup",
        "web eth0 12 BACKUP FAULT fault",
        "web eth0 12 FAULT BACKUP fault-cleared",
        "web eth0 12 BACKUP MASTER master-down",
    ];
    assert!(called.len() > startup.len(), "{called:?}");
    assert_eq!(called[..startup.len()], startup, "{called:?}");
    // After that, exactly what carpctl watch saw, in the same order, and the stop last.
    let rest = &called[startup.len()..];
    assert_eq!(
        rest[..watched.len()],
        watched[..],
        "notify {called:?}\nwatch {watched:?}"
    );
    assert!(
        watched
            .iter()
            .filter(|w| w.contains(" FAULT fault"))
            .count()
            >= 2,
        "{watched:?}"
    );
    assert_eq!(
        called.last().map(String::as_str),
        Some("web eth0 12 MASTER INIT stopped")
    );
}

#[test]
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
    // One advert interval (1 s) until the first advert crosses, plus delivery.
    assert!(took <= Duration::from_millis(1250), "{took:?}");
    expect_holders(&lab, vip, &[1], Duration::from_secs(3), &logs);
}
