//! The Debian package under a real systemd: two Debian 12 containers booted with
//! systemd-nspawn in two lab hosts, the built .deb installed in each, and carpd run the way
//! users run it (`systemctl enable --now`, `stop`, `reload`, `kill`, `carpd@NAME`, `ifup`).

use crate::common::expect_holders;
use carpd_lab::nspawn::{debian_root, Container};
use carpd_lab::{wait_until, Lab};
use serde_json::Value;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The workspace's target directory (the root is cached there, the .deb is built there).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The newest `carpd_<this version>-*.deb` that `cargo deb -p carpd` built: scripts/test
/// runs scripts/check-deb, which builds it, just before the tests (run alone after a change,
/// build it again first).
fn built_deb() -> PathBuf {
    let dir = target_dir().join("debian");
    let newest = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let prefix = format!("carpd_{}-", env!("CARGO_PKG_VERSION"));
                name.starts_with(&prefix) && name.ends_with(".deb")
            })
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    });
    newest.unwrap_or_else(|| {
        panic!(
            "no carpd_{}-*.deb in {}: scripts/test builds it first (scripts/check-deb, cargo deb -p carpd)",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        )
    })
}

/// One CARP group of carpd.toml on eth0.
fn group(name: &str, vhid: u8, vip: Ipv4Addr, advskew: u8) -> String {
    format!(
        "[[group]]\nname = \"{name}\"\ninterface = \"eth0\"\nvhid = {vhid}\nvips = [\"{vip}/24\"]\npassword = \"secret\"\nadvskew = {advskew}\npreempt = true\n\n"
    )
}

/// The groups of `carpctl --json status` in `c`, by name.
fn status(c: &Container) -> Value {
    let text = c
        .ok(&["carpctl", "--json", "status"])
        .expect("carpctl status");
    serde_json::from_str(&text).expect("status JSON")
}

/// `since` of group `name` in `c`'s status.
fn since(c: &Container, name: &str) -> String {
    status(c)["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| g["since"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no group {name} in {}", c.ns))
}

/// A property of a unit (`systemctl show -p NAME --value`).
fn property(c: &Container, unit: &str, name: &str) -> String {
    c.ok(&["systemctl", "show", "-p", name, "--value", unit])
        .expect("systemctl show")
        .trim()
        .to_string()
}

/// One journal entry of carpd: its message from the level tag on (a copy through stderr
/// would carry a timestamp before it), its process, when, and its syslog priority.
struct Entry {
    message: String,
    pid: String,
    at: u64,
    priority: u8,
}

/// The unit's journal entries at warning and above (`journalctl -u UNIT -p warning`), in
/// order. Panics if any entry, at any priority, reached the journal twice: stderr and syslog
/// would give the same message from the same process within microseconds (the stderr copy at
/// priority info), where a real repeat needs other transitions in between.
fn warnings_once(c: &Container, unit: &str) -> Vec<String> {
    let text = c
        .ok(&["journalctl", "-q", "--no-pager", "-u", unit, "-o", "json"])
        .expect("journalctl");
    let entries: Vec<Entry> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("journal JSON"))
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            let message = field("MESSAGE");
            let tagged = ["[INFO] ", "[WARNING] ", "[ERROR] "]
                .iter()
                .find_map(|tag| message.find(tag))
                .map_or(message.as_str(), |i| &message[i..])
                .to_string();
            Entry {
                message: tagged,
                pid: field("_PID"),
                at: field("__REALTIME_TIMESTAMP").parse().unwrap_or(0),
                priority: field("PRIORITY").parse().unwrap_or(7),
            }
        })
        .collect();
    for (i, e) in entries.iter().enumerate() {
        let twice = entries[i + 1..]
            .iter()
            .any(|o| o.message == e.message && o.pid == e.pid && o.at.abs_diff(e.at) < 100_000);
        if twice {
            let all: Vec<String> = entries
                .iter()
                .map(|e| format!("{} <{}> {}", e.pid, e.priority, e.message))
                .collect();
            panic!(
                "{unit} in {}: {:?} reached the journal twice:\n{}",
                c.ns,
                e.message,
                all.join("\n")
            );
        }
    }
    entries
        .into_iter()
        .filter(|e| e.priority <= 4)
        .map(|e| e.message)
        .collect()
}

/// The unit's whole journal, for failure messages.
fn journal(c: &Container, unit: &str) -> String {
    c.ok(&["journalctl", "-q", "--no-pager", "-u", unit])
        .unwrap_or_else(|e| format!("{e:#}"))
}

/// How many of `lines` say that group `name` became MASTER.
fn masters(lines: &[String], name: &str) -> usize {
    let needle = format!("[{name}] Switching to state: MASTER");
    lines.iter().filter(|l| l.contains(&needle)).count()
}

/// Boots the two containers and installs the package in each; `None` (with a message on
/// stderr) where systemd-nspawn cannot boot a container at all.
fn containers(lab: &Lab) -> Option<(Container, Container)> {
    let root = debian_root(&target_dir().join("nspawn/bookworm")).expect("the Debian 12 root");
    let deb = built_deb();
    let binds = [(deb.as_path(), "/root/carpd.deb")];
    let c1 = match Container::boot(lab, lab.host(1), &root, &binds) {
        Ok(c) => c,
        Err(e) => {
            // Straight to stderr, which the test harness does not capture: a skip is seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: systemd-nspawn cannot boot a container on this machine: {e:#}"
            );
            return None;
        }
    };
    let c2 = Container::boot(lab, lab.host(2), &root, &binds).expect("second container");
    for c in [&c1, &c2] {
        c.ok(&["dpkg", "-i", "/root/carpd.deb"])
            .expect("dpkg -i carpd.deb");
        let mode = c.ok(&["stat", "-c", "%F %a", "/etc/carpd"]).expect("stat");
        assert_eq!(mode.trim(), "directory 755", "the package makes /etc/carpd");
    }
    Some((c1, c2))
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn the_package_under_a_real_systemd_starts_hands_over_reloads_restarts_and_logs_once() {
    let _heavy = crate::common::heavy();
    let Some(lab) = crate::common::lab("tsd", 181, 2, &["systemd-nspawn", "mmdebstrap", "nsenter"])
    else {
        return;
    };
    let Some((c1, c2)) = containers(&lab) else {
        return;
    };
    let (web, api) = (lab.address(120), lab.address(121));
    let config = |advskew: u8, with_api: bool| {
        let mut text = group("web", 20, web, advskew);
        if with_api {
            text.push_str(&group("api", 21, api, advskew));
        }
        text
    };
    c1.write("/etc/carpd/carpd.toml", &config(10, false))
        .expect("config");
    c2.write("/etc/carpd/carpd.toml", &config(100, false))
        .expect("config");

    // enable --now returns once carpd said READY=1, which it says once every group's first
    // state is known: active at once, and the status text has the states.
    for c in [&c1, &c2] {
        c.ok(&["systemctl", "enable", "--now", "carpd"])
            .expect("enable --now");
        assert_eq!(property(c, "carpd", "ActiveState"), "active");
        let text = property(c, "carpd", "StatusText");
        assert!(
            ["1 group: 0 MASTER, 1 BACKUP", "1 group: 1 MASTER, 0 BACKUP"].contains(&text.as_str()),
            "StatusText in {}: {text:?}",
            c.ns
        );
    }
    expect_holders(&lab, web, &[1], Duration::from_secs(10), &[]);
    assert!(
        wait_until(Duration::from_secs(5), || property(
            &c1,
            "carpd",
            "StatusText"
        )
            == "1 group: 1 MASTER, 0 BACKUP"),
        "{:?}",
        property(&c1, "carpd", "StatusText")
    );

    // A planned stop of the master hands over within 1 s (it bows out as it goes).
    let begun = Instant::now();
    c1.ok(&["systemctl", "stop", "carpd"]).expect("stop");
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(web) == [2]),
        "holders {:?}",
        lab.holders(web)
    );
    let handover = begun.elapsed();
    println!("planned stop: the VIP moved {handover:?} after systemctl stop began");
    assert!(
        handover <= Duration::from_secs(1),
        "hand-over took {handover:?}"
    );
    c1.ok(&["systemctl", "start", "carpd"]).expect("start");
    expect_holders(&lab, web, &[1], Duration::from_secs(10), &[]);

    // A reload adds a group and leaves the other alone on both hosts.
    let before = (since(&c1, "web"), since(&c2, "web"));
    c1.write("/etc/carpd/carpd.toml", &config(10, true))
        .expect("config");
    c2.write("/etc/carpd/carpd.toml", &config(100, true))
        .expect("config");
    std::thread::sleep(Duration::from_millis(1100)); // a `since` would move by a second
    for c in [&c1, &c2] {
        c.ok(&["systemctl", "reload", "carpd"]).expect("reload");
    }
    expect_holders(&lab, api, &[1], Duration::from_secs(10), &[]);
    assert_eq!((since(&c1, "web"), since(&c2, "web")), before);
    assert_eq!(lab.holders(web), [1]);

    // Killed: systemd restarts it (Restart=on-failure) and it becomes MASTER again.
    let pid = property(&c1, "carpd", "MainPID");
    if let Err(e) = c1.ok(&["systemctl", "kill", "-s", "KILL", "carpd"]) {
        panic!(
            "{e:#}\n{}\n{}",
            c1.ok(&["systemd-cgls", "--no-pager", "-u", "carpd.service"])
                .unwrap_or_default(),
            c1.ok(&["journalctl", "--no-pager", "-n", "40"])
                .unwrap_or_default()
        );
    }
    assert!(
        wait_until(Duration::from_secs(10), || {
            property(&c1, "carpd", "NRestarts") == "1"
                && property(&c1, "carpd", "ActiveState") == "active"
        }),
        "not restarted: {} {}",
        property(&c1, "carpd", "NRestarts"),
        property(&c1, "carpd", "ActiveState")
    );
    assert_ne!(property(&c1, "carpd", "MainPID"), pid);
    expect_holders(&lab, web, &[1], Duration::from_secs(10), &[]);
    expect_holders(&lab, api, &[1], Duration::from_secs(10), &[]);

    // Each transition once in the journal: web became MASTER on host 1 at the start, after
    // the restart by hand and after the kill; api after the reload and after the kill.
    let lines = warnings_once(&c1, "carpd");
    assert_eq!(
        (masters(&lines, "web"), masters(&lines, "api")),
        (3, 2),
        "{lines:#?}"
    );
    // Host 2 held web while host 1 was stopped (and maybe for a moment after the kill).
    let lines = warnings_once(&c2, "carpd");
    assert!((1..=2).contains(&masters(&lines, "web")), "{lines:#?}");

    // carpd@NAME runs one ucarp-style group from /etc/carpd/NAME.conf beside carpd.service.
    let single = lab.address(130);
    c1.write(
        "/etc/carpd/vip30.conf",
        &format!(
            "CARPD_OPTS=\"-i eth0 -s {} -v 30 -p secret -a {single} -P\"\n",
            lab.host(1).ip
        ),
    )
    .expect("vip30.conf");
    c1.ok(&["systemctl", "start", "carpd@vip30"])
        .expect("carpd@vip30");
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(single) == [1]),
        "holders of {single}: {:?}\n{}",
        lab.holders(single),
        journal(&c1, "carpd@vip30")
    );
    assert_eq!(property(&c1, "carpd", "ActiveState"), "active");
    let lines = warnings_once(&c1, "carpd@vip30");
    let became = lines
        .iter()
        .filter(|l| l.contains("Switching to state: MASTER"));
    assert_eq!(became.count(), 1, "{lines:#?}");

    // ifupdown: `ifup eth1` with ucarp-* directives starts carpd (the package's hook), as
    // Debian's ucarp package does; `ifdown eth1` stops it.
    lab.add_second_lan(182).expect("second LAN");
    let eth1 = lab.host(2).ip.octets()[3];
    let routed = Ipv4Addr::new(10, 77, 182, 140);
    c2.write(
        "/etc/network/interfaces.d/eth1",
        &format!(
            "iface eth1 inet static\n    address 10.77.182.{eth1}/24\n    ucarp-vid 40\n    ucarp-vip {routed}\n    ucarp-password secret\n    ucarp-master yes\n\niface eth1:ucarp inet static\n    address {routed}/32\n"
        ),
    )
    .expect("interfaces");
    c2.ok(&["ip", "addr", "flush", "dev", "eth1"])
        .expect("flush");
    c2.ok(&["ifup", "eth1"]).expect("ifup eth1");
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders_on("eth1", routed)
            == [2]),
        "holders of {routed} on eth1: {:?}",
        lab.holders_on("eth1", routed)
    );
    c2.ok(&["ifdown", "eth1"]).expect("ifdown eth1");
    assert!(
        wait_until(Duration::from_secs(5), || c2
            .exec(&["pgrep", "-f", "carpd -i eth1"])
            .is_ok_and(|o| !o.status.success())),
        "carpd on eth1 still runs after ifdown"
    );
}
