//! Trackers against real peers: a failing check hands the VIP over (carpd and ucarp peers),
//! weights on the demote byte and on advskew, interface and file trackers, and a check that
//! hangs while the master keeps advertising on time.

use crate::common::{expect_holders, lab, start, Group, Impl};
use crate::common::{start_config, write_config};
use crate::config_mode::group;
use crate::control::{adverts, ctl, longest_gap, status};
use carpd_lab::{wait_until, Lab};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A native group named `name` with `extra` lines (track, demote_by).
pub fn tracked(name: &str, vhid: u8, vip: Ipv4Addr, advskew: u8, extra: &str) -> String {
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
pub fn socket_of(lab: &Lab, config: &str) -> std::path::PathBuf {
    lab.dir().join(format!("{config}.sock"))
}

/// How long until exactly `expected` hold `vip`, at most `within`; panics with the logs.
pub fn time_until_holders(
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

/// `carpctl --json watch` running beside a test.
pub struct Watch {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Watch {
    /// Starts watching and waits for its first line.
    pub fn start(socket: &Path) -> Watch {
        let mut child = Command::new(crate::control::carpctl())
            .arg("--socket")
            .arg(socket)
            .args(["--json", "watch"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("carpctl watch");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("text");
        assert!(first.contains("watching"), "{first}");
        Watch { child, lines }
    }

    /// Stops watching: every event seen, in order.
    pub fn events(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }
}

pub fn tracker_status(socket: &Path, name: &str) -> Value {
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
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
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
    let watch = Watch::start(&socket);

    std::fs::write(&flag, "").expect("flag");
    // Bound: fall × interval, plus up to one interval until the first failing check, plus
    // one advert interval.
    let took = time_until_holders(&lab, vip, &[2], Duration::from_millis(2500), &logs);
    eprintln!("check failed: host 2 sole holder after {took:?}");
    let g = &status(&socket)["web"];
    assert_eq!(g["state"], "FAULT", "{g}");
    assert_eq!(g["fault"], true);
    assert_eq!(g["fault_causes"][0], "tracker service failed", "{g}");
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

    let events = watch.events();
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
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
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
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
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
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
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

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_reload_reports_tracker_changes_and_keeps_a_changed_trackers_health() {
    let Some(lab) = lab("trl", 54, 1, &[]) else {
        return;
    };
    let vip = lab.address(115);
    let config = |interval: &str, extra: &str| {
        format!(
            "[[tracker]]\nname = \"a\"\nscript = [\"/bin/true\"]\ninterval = {interval}\n\n{extra}"
        ) + &tracked("web", 15, vip, 0, "track = [\"a\"]")
    };
    let h1 = write_config(&lab, "h1.toml", &config("0.5", ""));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let before = status(&socket)["web"]["transitions"].clone();
    // Change a's interval, add b (used by no group): a keeps its health, nothing moves.
    let text = std::fs::read_to_string(&h1).expect("config");
    let text = text.replace(
        &config("0.5", ""),
        &config(
            "0.2",
            "[[tracker]]\nname = \"b\"\nfile = \"/nonexistent/b\"\n\n",
        ),
    );
    std::fs::write(&h1, text).expect("config");
    let out = ctl(&socket, &["--json", "reload"]);
    let reply: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        reply["trackers_changed"],
        serde_json::json!(["a"]),
        "{reply}"
    );
    assert_eq!(reply["trackers_added"], serde_json::json!(["b"]), "{reply}");
    assert_eq!(reply["changed"], serde_json::json!([]), "{reply}");
    std::thread::sleep(Duration::from_secs(1));
    let web = &status(&socket)["web"];
    assert_eq!(
        (web["state"].clone(), web["transitions"].clone()),
        (Value::from("MASTER"), before),
        "{web}"
    );
    assert_eq!(tracker_status(&socket, "a")["healthy"], true);
    assert_eq!(
        tracker_status(&socket, "b")["healthy"],
        true,
        "absent file: healthy"
    );
    let text = String::from_utf8_lossy(&ctl(&socket, &["reload"]).stdout).to_string();
    assert!(
        !text.contains("trackers"),
        "nothing changed this time: {text}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_process_tracker_faults_the_group_while_no_process_of_its_name_runs() {
    let Some(lab) = lab("trp", 57, 1, &[]) else {
        return;
    };
    let vip = lab.address(116);
    // A program with a name no other process has: a copy of sleep.
    let name = format!("carpdproc{}", std::process::id() % 100_000);
    let program = lab.dir().join(&name);
    std::fs::copy("/bin/sleep", &program).expect("copying sleep");
    let text = format!("[[tracker]]\nname = \"app\"\nprocess = \"{name}\"\ninterval = 0.2\n\n")
        + &tracked("web", 16, vip, 0, "track = [\"app\"]");
    let h1 = write_config(&lab, "h1.toml", &text);
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let socket = socket_of(&lab, "h1.toml");
    // A tracker is failed until its first check ("not checked yet"), so the group is FAULT
    // from the start: wait for the check's own verdict, not just the state.
    let absent = format!("no process named {name} runs");
    assert!(
        wait_until(Duration::from_secs(10), || socket.exists()
            && tracker_status(&socket, "app")["detail"] == absent.as_str()),
        "no process yet: the check says so\n{}",
        lab.log("h1")
    );
    assert_eq!(status(&socket)["web"]["state"], "FAULT");
    let mut app = Command::new(&program).arg("60").spawn().expect("the app");
    expect_holders(&lab, vip, &[1], Duration::from_secs(10), &["h1"]);
    assert_eq!(tracker_status(&socket, "app")["healthy"], true);
    let _ = app.kill();
    let _ = app.wait();
    expect_holders(&lab, vip, &[], Duration::from_secs(5), &["h1"]);
    assert_eq!(status(&socket)["web"]["state"], "FAULT");
}
