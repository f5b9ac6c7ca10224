//! `[daemon] realtime_priority`: the loop runs under SCHED_FIFO with its memory locked, and
//! its scripts do not; without it, the loop does so only when a group advertises more often
//! than every 100 ms.

use crate::common::{carpd, lab, stop, Member};
use crate::common::{start_config, write_config};
use carpd_lab::{wait_until, CarpMember};
use nix::sys::signal::Signal;
use std::time::Duration;

/// (policy, realtime priority): fields 41 and 40 of a /proc/<pid>/stat line.
fn scheduling(stat: &str) -> Option<(u32, u32)> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some((fields.get(38)?.parse().ok()?, fields.get(37)?.parse().ok()?))
}

/// VmLck of a /proc/<pid>/status text, in KiB.
fn locked_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn realtime_priority_puts_the_loop_on_sched_fifo_with_memory_locked_and_scripts_stay_normal() {
    let Some(lab) = lab("rtp", 129, 1, &[]) else {
        return;
    };
    let vip = lab.address(100);
    let seen = lab.dir().join("up-sched");
    let up = lab
        .script(
            "up",
            &format!(
                "cat /proc/self/stat > {0}.tmp && mv {0}.tmp {0}",
                seen.display()
            ),
        )
        .expect("script");
    let config = write_config(
        &lab,
        "rt.toml",
        &format!(
            "[[group]]\ninterface = \"eth0\"\nvhid = 9\nvips = [\"{vip}/24\"]\npassword = \"pw\"\n\
             advbase = 1\nadvskew = 0\nup_script = \"{}\"\n",
            up.display()
        ),
    );
    // The [daemon] table must come first: write_config opened it with control_socket.
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replacen("[daemon]\n", "[daemon]\nrealtime_priority = 10\n", 1);
    std::fs::write(&config, text).expect("config");

    let member = start_config(&lab, 1, &config, "h1");
    assert!(
        wait_until(Duration::from_secs(10), || seen.exists()),
        "the up script never ran:\n{}",
        lab.log("h1")
    );
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", member.pid.0)).expect("stat");
    assert_eq!(
        scheduling(&stat),
        Some((1, 10)),
        "carpd on SCHED_FIFO (1) priority 10: {stat}\n{}",
        lab.log("h1")
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", member.pid.0)).expect("status");
    let locked = locked_kib(&status).expect("VmLck");
    let resident = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap_or("?")
        .trim()
        .to_string();
    assert!(
        locked > 1024,
        "memory locked: VmLck {locked} kB (VmRSS {resident})"
    );
    let script = std::fs::read_to_string(&seen).expect("script's stat");
    assert_eq!(
        scheduling(&script).map(|s| s.0),
        Some(0),
        "the up script runs on the normal scheduler: {script}"
    );
    assert!(
        lab.log("h1")
            .contains("Event loop on SCHED_FIFO priority 10, memory locked"),
        "{}",
        lab.log("h1")
    );
    assert_eq!(stop(&lab, &member, Signal::SIGTERM), Some(0));
}

/// The scheduling policy and realtime priority of a running carpd.
fn policy_of(lab: &carpd_lab::Lab, member: &crate::common::Member, log: &str) -> (u32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", member.pid.0)).expect("stat");
    scheduling(&stat).unwrap_or_else(|| panic!("{stat}\n{}", lab.log(log)))
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn adverts_under_100_ms_put_the_loop_on_sched_fifo_by_default_and_say_so() {
    let Some(lab) = lab("rtd", 130, 1, &[]) else {
        return;
    };
    let host = lab.host(1);
    // From the command line as a user starts it: advbase 0, advskew 1 (3.9 ms), no flag.
    let mut fast = CarpMember::new(5, format!("{}/24", lab.address(105)), "pw");
    (fast.advbase, fast.advskew) = (0, 1);
    let fast = Member {
        pid: lab.start_carp(carpd(), host, &fast, "fast").expect("spawn"),
    };
    // The same interval with 0 set: the normal scheduler; and ucarp's default timing.
    let mut off = CarpMember::new(6, format!("{}/24", lab.address(106)), "pw");
    (off.advbase, off.advskew) = (0, 1);
    off.extra = vec!["--realtime-priority".into(), "0".into()];
    let off = Member {
        pid: lab.start_carp(carpd(), host, &off, "off").expect("spawn"),
    };
    let slow = CarpMember::new(8, format!("{}/24", lab.address(108)), "pw");
    let slow = Member {
        pid: lab.start_carp(carpd(), host, &slow, "slow").expect("spawn"),
    };
    // A config file without the key, whose fastest group is VRRPv3 at 0.05 s.
    let config = write_config(
        &lab,
        "v3.toml",
        &format!(
            "[[group]]\nname = \"slow\"\ninterface = \"eth0\"\nvhid = 9\nvips = [\"{}/24\"]\npassword = \"pw\"\n\
             [[group]]\nname = \"quick\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 10\n\
             vips = [\"{}/24\"]\nadvert_interval = 0.05\npriority = 100\n",
            lab.address(109),
            lab.address(110)
        ),
    );
    let file = start_config(&lab, 1, &config, "file");
    for (vip, log) in [(105, "fast"), (106, "off"), (108, "slow"), (110, "file")] {
        let vip = lab.address(vip);
        assert!(
            wait_until(Duration::from_secs(10), || lab.holders(vip) == [1]),
            "{log} never took {vip}:\n{}",
            lab.log(log)
        );
    }
    // 3.9 ms adverts from the command line, 50 ms VRRPv3 in a file: SCHED_FIFO (1) priority
    // 10, each logged in the words of its origin.
    for (member, log, line) in [
        (
            &fast,
            "fast",
            "Event loop on SCHED_FIFO priority 10, memory locked: group eth0-5 advertises every 3.9 ms, under 100 ms (--realtime-priority 0: the normal scheduler)",
        ),
        (
            &file,
            "file",
            "Event loop on SCHED_FIFO priority 10, memory locked: group quick advertises every 50.0 ms, under 100 ms ([daemon] realtime_priority = 0: the normal scheduler)",
        ),
    ] {
        assert_eq!(policy_of(&lab, member, log), (1, 10), "{}", lab.log(log));
        assert!(lab.log(log).contains(line), "{}", lab.log(log));
    }
    for (member, log) in [(&off, "off"), (&slow, "slow")] {
        assert_eq!(
            policy_of(&lab, member, log).0,
            0,
            "{log}: the normal scheduler"
        );
        assert!(
            !lab.log(log).contains("Event loop"),
            "{log}: nothing to say\n{}",
            lab.log(log)
        );
    }
    for (member, log) in [
        (&fast, "fast"),
        (&off, "off"),
        (&slow, "slow"),
        (&file, "file"),
    ] {
        assert_eq!(stop(&lab, member, Signal::SIGTERM), Some(0), "{log}");
    }
}
