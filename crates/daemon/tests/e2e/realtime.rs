//! `[daemon] realtime_priority`: the loop runs under SCHED_FIFO with its memory locked, and
//! its scripts do not.

use crate::common::{lab, stop};
use crate::common::{start_config, write_config};
use carpd_lab::wait_until;
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
