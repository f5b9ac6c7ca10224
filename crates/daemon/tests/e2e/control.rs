//! carpctl and reload against a running config-mode carpd: a reload that adds, removes,
//! changes in place and restarts groups under a tcpdump capture, a bad reload, demote and
//! promote, access for root and for another user, and floods on the control socket.

use crate::common::{lab, stop};
use crate::common::{start_config, write_config};
use crate::config_mode::group;
use carpd_lab::wait_until;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn carpctl() -> &'static str {
    env!("CARGO_BIN_EXE_carpctl")
}

pub fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(carpctl())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("carpctl")
}

/// Waits until carpd's group `group` (at `socket`) follows the master `master`; panics with
/// carpd's `log` otherwise.
pub fn expect_following(lab: &carpd_lab::Lab, socket: &Path, group: &str, master: &str, log: &str) {
    let following = carpd_lab::wait_until(crate::common::SETTLE, || {
        socket.exists() && status(socket)[group]["master"] == master
    });
    assert!(
        following,
        "{group} does not follow {master}\n{}",
        lab.log(log)
    );
}

/// The whole reply of `carpctl --json status`.
pub fn status_reply(socket: &Path) -> Value {
    let out = ctl(socket, &["--json", "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The groups of `carpctl --json status`, by name.
pub fn status(socket: &Path) -> BTreeMap<String, Value> {
    status_reply(socket)["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| (g["name"].as_str().expect("name").to_string(), g.clone()))
        .collect()
}

/// The group's state, or "" while carpd is not answering yet.
pub fn state_of(socket: &Path, name: &str) -> String {
    if ctl(socket, &["status"]).status.success() {
        if let Some(g) = status(socket).get(name) {
            return g["state"].as_str().unwrap_or_default().to_string();
        }
    }
    String::new()
}

/// A named group on eth0 of the lab at `subnet`.
fn named(name: &str, vhid: u8, subnet: u8, advskew: u8) -> String {
    group(
        "eth0",
        vhid,
        Ipv4Addr::new(10, 77, subnet, 100 + vhid),
        advskew,
    )
    .replacen("[[group]]\n", &format!("[[group]]\nname = \"{name}\"\n"), 1)
}

/// (seconds, vrid, prio, intvl) of each advert in the capture.
pub fn adverts(text: &str) -> Vec<(f64, u8, u8, u8)> {
    text.lines()
        .filter_map(|line| {
            let at: f64 = line.split_whitespace().next()?.parse().ok()?;
            let field = |key: &str| -> Option<u8> {
                let rest = &line[line.find(key)? + key.len()..];
                rest.trim_start()
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            };
            Some((at, field("vrid")?, field("prio")?, field("intvl")?))
        })
        .collect()
}

pub fn longest_gap(adverts: &[(f64, u8, u8, u8)], vrid: u8) -> f64 {
    let times: Vec<f64> = adverts
        .iter()
        .filter(|a| a.1 == vrid)
        .map(|a| a.0)
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn reload_applies_the_difference_and_leaves_untouched_groups_alone() {
    let Some(lab) = lab("rld", 32, 2, &["tcpdump"]) else {
        return;
    };
    let socket = lab.dir().join("h1.toml.sock");
    let first: String = [
        named("keep", 1, 32, 0),
        named("restart", 2, 32, 0),
        named("tune", 3, 32, 0),
        named("drop", 4, 32, 0),
    ]
    .concat();
    let path = write_config(&lab, "h1.toml", &first);
    let h1 = start_config(&lab, 1, &path, "h1");
    let vip = |vhid: u8| Ipv4Addr::new(10, 77, 32, 100 + vhid);
    assert!(
        wait_until(Duration::from_secs(10), || (1..=4)
            .all(|v| lab.has_address(lab.host(1), vip(v)))),
        "{}",
        lab.log("h1")
    );
    // In config mode every group line names its group, those of its VIP runner too.
    assert!(
        lab.log("h1")
            .contains(&format!("[tune] Adding virtual IP {}/32 to eth0", vip(3))),
        "{}",
        lab.log("h1")
    );
    let watch = lab
        .spawn(
            lab.host(1),
            carpctl(),
            &[
                "--socket",
                socket.to_str().expect("utf-8"),
                "--json",
                "watch",
            ],
            "watch",
        )
        .expect("watch");
    assert!(wait_until(Duration::from_secs(5), || lab
        .log("watch")
        .contains("watching")));
    let cap = lab
        .capture(lab.host(2), "ip proto 112", "reload")
        .expect("capture");
    std::thread::sleep(Duration::from_millis(2500));

    // keep: untouched. restart: new vhid (6). tune: advskew 20 and a second VIP, in place.
    // drop: removed. add: new.
    let second: String = [
        named("keep", 1, 32, 0),
        named("restart", 6, 32, 0),
        named("tune", 3, 32, 20).replace(
            &format!("vips = [\"{}/32\"]", vip(3)),
            &format!("vips = [\"{}/32\", \"10.77.32.200/32\"]", vip(3)),
        ),
        named("add", 5, 32, 0),
    ]
    .concat();
    write_config(&lab, "h1.toml", &second);
    let out = ctl(&socket, &["reload"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "added: add",
        "removed: drop",
        "changed: tune",
        "restarted: restart",
        "unchanged: 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // add and restart become master after their dead time; tune's new VIP goes up at once.
    assert!(
        wait_until(Duration::from_secs(6), || {
            [1, 3, 5, 6]
                .iter()
                .all(|v| lab.has_address(lab.host(1), vip(*v)))
                && lab.has_address(lab.host(1), Ipv4Addr::new(10, 77, 32, 200))
                && !lab.has_address(lab.host(1), vip(4))
                && !lab.has_address(lab.host(1), vip(2))
        }),
        "{}",
        lab.log("h1")
    );
    std::thread::sleep(Duration::from_millis(2500));
    cap.stop(&lab);
    let seen = adverts(&cap.text(&["-tt"]).expect("tcpdump -r"));
    for vrid in [1, 3] {
        let gap = longest_gap(&seen, vrid);
        assert!(
            gap > 0.0 && gap <= 1.5,
            "vrid {vrid}: longest advert gap {gap} s"
        );
    }
    // tune advertises its new skew; drop and restart's old vhid bowed out.
    assert!(seen.iter().any(|a| a.1 == 3 && a.2 == 20), "{seen:?}");
    for vrid in [2, 4] {
        assert!(
            seen.iter().any(|a| a.1 == vrid && a.2 == 255 && a.3 == 255),
            "bow-out of {vrid}: {seen:?}"
        );
    }
    // No event at all for keep; no state event for tune.
    let events: Vec<Value> = lab
        .log("watch")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!events.iter().any(|e| e["group"] == "keep"), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| e["group"] == "tune" && e["event"] == "state"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "state"
            && e["group"] == "drop"
            && e["to"] == "INIT"
            && e["from"] == "MASTER"
            && e["interface"] == "eth0"
            && e["vhid"] == 4),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["event"] == "reload"), "{events:?}");
    let groups = status(&socket);
    assert_eq!(groups.len(), 4);
    assert_eq!(groups["tune"]["advskew"], 20);
    assert_eq!(
        groups["tune"]["transitions"], 2,
        "INIT to BACKUP to MASTER, nothing since"
    );

    // A bad file: refused whole, printed, exit 1; everything runs on.
    write_config(&lab, "h1.toml", &second.replace("vhid = 5", "vhid = 300"));
    let out = ctl(&socket, &["reload"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("vhid = 300: accepted 1 to 255"), "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert_eq!(status(&socket).len(), 4);
    assert!(lab.log("h1").contains("reload refused, nothing changed"));

    // SIGHUP reloads too (the file fixed, a group removed).
    write_config(
        &lab,
        "h1.toml",
        &second.replace(&named("add", 5, 32, 0), ""),
    );
    lab.signal(h1.pid, Signal::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || status(&socket).len() == 3),
        "{}",
        lab.log("h1")
    );
    assert!(wait_until(Duration::from_secs(3), || !lab
        .has_address(lab.host(1), vip(5))));
    lab.signal(watch, Signal::SIGTERM);
    assert_eq!(
        stop(&lab, &h1, Signal::SIGTERM),
        Some(0),
        "{}",
        lab.log("h1")
    );
    assert!(!socket.exists(), "the socket file is removed at exit");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn demote_drains_a_group_until_promote_and_only_root_may_steer() {
    let Some(lab) = lab("ctl", 33, 2, &["setpriv"]) else {
        return;
    };
    let config = |advskew: u8| [named("web", 1, 33, advskew), named("db", 2, 33, advskew)].concat();
    let p1 = write_config(&lab, "h1.toml", &config(0));
    // Host 2 lets group "users" (gid 100 on Debian) in; host 1 is root-only.
    let p2 = write_config(
        &lab,
        "h2.toml",
        &format!("control_group = \"users\"\n\n{}", config(50)),
    );
    let h1 = start_config(&lab, 1, &p1, "h1");
    let h2 = start_config(&lab, 2, &p2, "h2");
    let s1 = lab.dir().join("h1.toml.sock");
    let s2 = lab.dir().join("h2.toml.sock");
    assert!(
        wait_until(Duration::from_secs(10), || state_of(&s1, "web") == "MASTER"
            && state_of(&s1, "db") == "MASTER"
            && state_of(&s2, "web") == "BACKUP"),
        "{}",
        lab.log("h1")
    );
    let web = status(&s2)["web"].clone();
    assert_eq!(web["master"], lab.host(1).ip.to_string(), "{web}");
    assert!(web["adverts_received"].as_u64().unwrap_or(0) > 0, "{web}");

    // Drain web on host 1: host 2 takes it at once (bow-out), and h1 stays BACKUP although
    // it is preferred and preempts.
    let out = ctl(&s1, &["demote", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_until(Duration::from_secs(2), || state_of(&s2, "web") == "MASTER"));
    std::thread::sleep(Duration::from_secs(4));
    let web1 = status(&s1)["web"].clone();
    assert_eq!(
        (
            web1["state"].as_str(),
            web1["demoted_by_operator"].as_bool()
        ),
        (Some("BACKUP"), Some(true)),
        "{web1}"
    );
    assert_eq!(state_of(&s1, "db"), "MASTER", "db is not drained");
    // Promote: preferred again, it preempts.
    let out = ctl(&s1, &["promote", "--all"]);
    assert!(out.status.success());
    assert!(
        wait_until(Duration::from_secs(5), || state_of(&s1, "web") == "MASTER"),
        "{}",
        lab.log("h1")
    );
    // An unknown group names the ones there are.
    let out = ctl(&s1, &["demote", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no group named \"nope\": accepted one of \"web\", \"db\""),
        "{stderr}"
    );

    // The socket is 0600: another user cannot connect; and when the file is opened up by
    // mistake, carpd itself refuses that user.
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let mode = std::fs::metadata(&s1).expect("socket").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // carpctl as another user: a copy that user may run, wherever the checkout is.
    let carpctl_for_all =
        carpd_lab::readable_copy(std::path::Path::new(carpctl()), &lab.dir().join("bin"))
            .expect("carpctl copy");
    let as_user = |socket: &PathBuf, gid: u32| {
        Command::new("setpriv")
            .args(["--reuid=65534", &format!("--regid={gid}"), "--clear-groups"])
            .arg(&carpctl_for_all)
            .arg("--socket")
            .arg(socket)
            .arg("status")
            .output()
            .expect("setpriv")
    };
    let as_nobody = |socket: &PathBuf| as_user(socket, 65534);
    // The control group's members may use host 2's socket (0660, group users); others not.
    let meta = std::fs::metadata(&s2).expect("socket");
    assert_eq!(
        (meta.permissions().mode() & 0o777, meta.gid()),
        (0o660, 100)
    );
    let out = as_user(&s2, 100);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("web") && stdout.contains("BACKUP"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(as_nobody(&s2).status.code(), Some(2), "not in the group");
    let out = as_nobody(&s1);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    std::fs::set_permissions(&s1, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = as_nobody(&s1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("may not use carpd's control socket"),
        "{stderr}"
    );

    // Floods: 300 idle connections, 50 of garbage, 20 oversized, 50 that leave mid-request.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(UnixStream::connect(&s1).expect("idle connection"));
    }
    let mut garbage = Vec::new();
    for i in 0..50 {
        let mut c = UnixStream::connect(&s1).expect("garbage connection");
        c.write_all(format!("\x00\x7f{{not json {i}\n").as_bytes())
            .expect("write");
        garbage.push(c);
    }
    for _ in 0..20 {
        let mut c = UnixStream::connect(&s1).expect("oversized connection");
        let _ = c.write_all(&vec![b'x'; 10_000]);
        idle.push(c);
    }
    for _ in 0..50 {
        let mut c = UnixStream::connect(&s1).expect("vanishing connection");
        let _ = c.write_all(b"{\"command\":\"sta");
    }
    let started = Instant::now();
    let groups = status(&s1);
    let took = started.elapsed();
    assert_eq!(groups.len(), 2);
    assert!(
        took < Duration::from_secs(1),
        "status took {took:?} under the flood"
    );
    for mut c in garbage {
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reply = String::new();
        let _ = c.read_to_string(&mut reply);
        assert!(reply.contains("\"error\":\"bad request"), "{reply}");
    }
    drop(idle);
    // Nothing moved during all this.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state_of(&s1, "web"), "MASTER");
    assert_eq!(state_of(&s2, "web"), "BACKUP");
    assert_eq!(status(&s2)["web"]["transitions"], 3, "{}", lab.log("h2"));
    stop(&lab, &h1, Signal::SIGTERM);
    stop(&lab, &h2, Signal::SIGTERM);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_one_group_carpd_from_the_command_line_has_a_socket_too() {
    let Some(lab) = lab("cli", 34, 1, &[]) else {
        return;
    };
    let socket = lab.dir().join("one.sock");
    let src = lab.host(1).ip.to_string();
    let pid = lab
        .spawn(
            lab.host(1),
            crate::common::carpd(),
            &[
                "-i",
                "eth0",
                "-s",
                &src,
                "-v",
                "9",
                "-p",
                "pw",
                "-a",
                "10.77.34.109",
                "--control-socket",
                socket.to_str().expect("utf-8"),
            ],
            "one",
        )
        .expect("carpd");
    assert!(
        wait_until(Duration::from_secs(6), || socket.exists()
            && state_of(&socket, "eth0-9") == "MASTER"),
        "{}",
        lab.log("one")
    );
    let out = ctl(&socket, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("GROUP"), "{text}");
    assert!(
        text.contains("eth0-9") && text.contains("10.77.34.109/32"),
        "{text}"
    );
    // Reload needs a config file.
    let out = ctl(&socket, &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("accepted reload in config mode"));
    stop(&lab, &crate::common::Member { pid }, Signal::SIGTERM);
}

/// `carpctl import keepalived FILE` needs no carpd: the config on stdout, what was left out
/// on stderr, and 0, 3 or 1 as the exit status.
#[test]
fn carpctl_import_keepalived_prints_the_config_and_exits_by_what_it_left_out() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived-import");
    for (name, status, needle) in [
        ("pair-v2", 0, ""),
        (
            "firewall",
            3,
            "firewall.conf:61: virtual_routes: not carried over (blackhole",
        ),
        (
            "bad-priority",
            1,
            "bad-priority.conf:4: priority 300: accepted 1 to 255",
        ),
    ] {
        let out = std::process::Command::new(carpctl())
            .args(["import", "keepalived"])
            .arg(dir.join(format!("{name}.conf")))
            .output()
            .expect("carpctl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.contains("[[group]]"),
            status != 1,
            "{name}: {stdout}"
        );
    }
}
