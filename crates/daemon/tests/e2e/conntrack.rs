//! Stateful failover (`conntrack = true`): a NAT firewall pair (crates/lab firewall.rs:
//! client — LAN — fw1/fw2 — WAN — server, running the shipped examples of
//! packaging/examples/conntrackd: conntrackd FTFW over a third link, a forward filter that
//! admits only SYN as new, SNAT to the WAN VIP, carpd with both VIPs in one sync group) whose
//! carpd drives conntrackd. 20 TCP flows, each echoing a line every 20 ms, survive fw1's crash
//! (every process killed, its links cut), the failback to fw1 and a planned stop of fw1, with no reset and a stall of at
//! most Master_Down + 1 s; the commit ends before the first VIP is added. The same crash with
//! `conntrack = false` loses them (so the test can fail). A conntrackd that hangs or is dead
//! costs the failover at most one bound, and is logged and counted.

use crate::common::*;
use crate::control::{ctl, status, status_reply};
use crate::trackers::socket_of;
use carpd_lab::firewall::{FirewallPair, CLIENT, FW1, FW2, SERVER};
use carpd_lab::flows::{EchoServer, Flows, FlowsReport};
use carpd_lab::{wait_until, Pid};
use nix::sys::signal::Signal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// VRRPv3 at 0.1 s, fw2 at priority 100: Master_Down = 3 × 0.1 s + (256 − 100)/256 × 0.1 s.
const MASTER_DOWN: Duration = Duration::from_micros(360_937);

/// The flows.
const FLOWS: usize = 20;
const EVERY: Duration = Duration::from_millis(20);

/// The pair's lab, or `None` where it cannot run (which fails the test).
fn pair(prefix: &str, lan: u8) -> FirewallPair {
    prerequisites(
        prefix,
        carpd_lab::require(&["ip", "nft", "conntrackd", "conntrack", "sysctl"]),
    );
    FirewallPair::build(prefix, lan, lan + 1, lan + 2).expect("building the firewall pair")
}

/// Waits until `fw` holds both VIPs; panics with its log otherwise.
fn expect_holds(pair: &FirewallPair, fw: usize, within: Duration) {
    assert!(
        wait_until(within, || pair.holds_vips(fw)),
        "fw{fw} does not hold both VIPs\n{}",
        pair.lab.log(&format!("fw{fw}"))
    );
}

/// conntrackd's view in carpd's `status` at `socket`.
fn conntrack_status(socket: &Path) -> Value {
    status_reply(socket)["conntrack"].clone()
}

/// A running pair: conntrackd and carpd on both firewalls.
struct Running {
    /// fw1's carpd config (to start it again)
    c1: PathBuf,
    /// fw1's carpd
    fw1: Member,
    /// fw2's carpd
    fw2: Member,
    /// fw2's control socket
    socket2: PathBuf,
    /// conntrackd of fw1 and fw2
    conntrackd: Vec<Pid>,
}

/// Starts conntrackd on both firewalls, then carpd (the shipped example, `conntrack` as
/// given, `[conntrack] timeout`) on fw1 until it holds both VIPs, then on fw2 until it
/// answers as backup.
fn start_pair(pair: &FirewallPair, conntrack: bool, timeout: f64) -> Running {
    let lab = &pair.lab;
    let conntrackd = [FW1, FW2]
        .iter()
        .map(|&fw| pair.start_conntrackd(fw).expect("conntrackd"))
        .collect();
    let config = |fw| {
        pair.carpd_config(fw, conntrack, Some(timeout))
            .expect("carpd config")
    };
    let (c1, c2) = (config(FW1), config(FW2));
    let fw1 = start_config(lab, FW1, &c1, "fw1");
    expect_holds(pair, FW1, SETTLE);
    let fw2 = start_config(lab, FW2, &c2, "fw2");
    let socket2 = socket_of(lab, "fw2.toml");
    let backup = wait_until(SETTLE, || {
        socket2.exists()
            && ctl(&socket2, &["status"]).status.success()
            && status(&socket2)["lan"]["state"] == "BACKUP"
            && status(&socket2)["wan"]["state"] == "BACKUP"
            && (!conntrack || conntrack_status(&socket2)["role"] == "backup")
    });
    assert!(backup, "fw2 is not a backup\n{}", lab.log("fw2"));
    Running {
        c1,
        fw1,
        fw2,
        socket2,
        conntrackd,
    }
}

/// How often `command` ended with `result` in `view`.
fn runs(view: &Value, command: &str, result: &str) -> u64 {
    view["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .find(|c| c["command"] == command)
        .and_then(|c| c[result].as_u64())
        .unwrap_or(0)
}

/// Starts the flows through the pair and waits until fw2 (the backup's conntrackd) has them
/// in its external cache when `synced_on` names it.
fn flows(pair: &FirewallPair, synced_on: Option<usize>) -> Flows {
    let client = &pair.lab.host(CLIENT).ns;
    let flows = Flows::start(client, pair.server(), FLOWS, EVERY).expect("the flows start");
    if let Some(fw) = synced_on {
        let synced = wait_until(Duration::from_secs(10), || {
            pair.external_flows(fw, Some(pair.server().port())) >= FLOWS
        });
        assert!(
            synced,
            "fw{fw}'s conntrackd never had the {FLOWS} flows in its external cache"
        );
    }
    flows
}

/// Lets the flows run `for_` longer, then stops them (a flow silent for 1 s is lost).
fn settle(flows: Flows, for_: Duration) -> FlowsReport {
    std::thread::sleep(for_);
    flows.finish(Duration::from_secs(1))
}

/// Asserts that every flow survived `what` without a reset and with a stall of at most
/// Master_Down + 1 s.
fn expect_kept(report: &FlowsReport, what: &str, log: &str) {
    eprintln!(
        "{what}: {} of {} flows survived, {} reset, longest stall {:?}",
        report.survived, report.flows, report.broken, report.longest_stall
    );
    assert_eq!(
        (report.survived, report.broken),
        (FLOWS, 0),
        "{what}: flows lost: {:?}\n{log}",
        report
            .records
            .iter()
            .find(|r| r.broken.is_some() || r.echoes == 0)
    );
    assert!(
        report.longest_stall <= MASTER_DOWN + Duration::from_secs(1),
        "{what}: a flow stalled {:?}, above Master_Down + 1 s\n{log}",
        report.longest_stall
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_nat_pair_keeps_its_tcp_flows_across_a_crash_a_failback_and_a_planned_stop() {
    let pair = pair("ctk", 170);
    let lab = &pair.lab;
    let _server = EchoServer::start(&lab.host(SERVER).ns, pair.server().port()).expect("echo");
    let Running {
        c1,
        fw1: _fw1,
        socket2,
        ..
    } = start_pair(&pair, true, 2.0);

    // 1. fw1 crashes.
    let running = flows(&pair, Some(FW2));
    let crashed = Instant::now();
    pair.crash(FW1).expect("crash");
    expect_holds(&pair, FW2, SETTLE);
    eprintln!(
        "fw2 holds both VIPs {:?} after the crash",
        crashed.elapsed()
    );
    let report = settle(running, Duration::from_secs(3));
    let log2 = lab.log("fw2");
    expect_kept(&report, "fw1's crash", &log2);
    // The race is closed: the commit ended before the first VIP was added.
    let committed = log2.find("conntrackd -c (commit").expect("a commit");
    let added = log2.find("Adding virtual IP").expect("a VIP added");
    assert!(
        committed < added,
        "the VIPs went up before the commit ended\n{log2}"
    );
    let view = conntrack_status(&socket2);
    assert_eq!(view["role"], "primary", "{view}");
    assert_eq!(view["masters"], serde_json::json!(["lan", "wan"]), "{view}");
    assert_eq!(view["last_commit"]["result"], "ok", "{view}");
    // Once for the sync group, not once per member.
    assert_eq!(runs(&view, "commit", "ok"), 1, "{view}");

    // 2. fw1 comes back (rebooted) and takes over again (preempt): the flows move back with
    // it.
    pair.reboot(FW1).expect("reboot");
    pair.start_conntrackd(FW1).expect("conntrackd");
    let running = flows(&pair, None);
    let fw1 = start_config(lab, FW1, &c1, "fw1-back");
    expect_holds(&pair, FW1, SETTLE);
    assert!(wait_until(SETTLE, || !pair.holds_vips(FW2)));
    let report = settle(running, Duration::from_secs(3));
    expect_kept(&report, "the failback to fw1", &lab.log("fw1-back"));
    assert_eq!(conntrack_status(&socket2)["role"], "backup");

    // 3. fw1 stops as planned (carpd only: conntrackd goes on).
    let running = flows(&pair, Some(FW2));
    stop(lab, &fw1, Signal::SIGTERM);
    expect_holds(&pair, FW2, SETTLE);
    let report = settle(running, Duration::from_secs(3));
    expect_kept(&report, "fw1's planned stop", &lab.log("fw2"));
    let fw1_log = lab.log("fw1-back");
    assert!(
        fw1_log.contains("conntrackd becomes backup"),
        "fw1 did not hand conntrackd back\n{fw1_log}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn without_conntrack_the_same_crash_loses_the_flows() {
    let pair = pair("ctn", 174);
    let lab = &pair.lab;
    let _server = EchoServer::start(&lab.host(SERVER).ns, pair.server().port()).expect("echo");
    let _running = start_pair(&pair, false, 2.0);
    // conntrackd syncs the flows, but nobody commits them on fw2.
    let running = flows(&pair, Some(FW2));
    pair.crash(FW1).expect("crash");
    expect_holds(&pair, FW2, SETTLE);
    let report = settle(running, Duration::from_secs(3));
    eprintln!(
        "without conntrack: {} of {} flows survived, {} reset",
        report.survived, report.flows, report.broken
    );
    assert_eq!(report.survived, 0, "{:?}", report.records);
    assert!(!lab.log("fw2").contains("conntrackd -c"));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_hung_or_dead_conntrackd_costs_the_failover_one_bound_and_is_counted() {
    let pair = pair("cth", 177);
    let lab = &pair.lab;
    let Running {
        c1,
        fw1: _fw1,
        fw2,
        socket2,
        conntrackd,
    } = start_pair(&pair, true, 1.0);

    // fw2's conntrackd hangs: fw2 still takes the VIPs, one 1 s bound late at most.
    lab.signal(conntrackd[1], Signal::SIGSTOP);
    let crashed = Instant::now();
    pair.crash(FW1).expect("crash");
    expect_holds(&pair, FW2, SETTLE);
    let took = crashed.elapsed();
    eprintln!("with a hung conntrackd fw2 holds both VIPs {took:?} after the crash");
    assert!(
        took <= MASTER_DOWN + Duration::from_secs(1) + Duration::from_millis(700),
        "took {took:?}\n{}",
        lab.log("fw2")
    );
    let view = conntrack_status(&socket2);
    assert_eq!(runs(&view, "commit", "timeout"), 1, "{view}");
    assert_eq!(view["last_commit"]["result"], "timeout", "{view}");
    assert!(lab.log("fw2").contains("did not answer within"));

    // fw2's conntrackd dies: the next failover fails its commands at once, and says why.
    lab.signal(conntrackd[1], Signal::SIGKILL);
    pair.reboot(FW1).expect("reboot");
    let _fw1_back = start_config(lab, FW1, &c1, "fw1-back");
    expect_holds(&pair, FW1, SETTLE);
    assert!(wait_until(SETTLE, || runs(
        &conntrack_status(&socket2),
        "reset_timers",
        "failed"
    ) == 1));
    stop(lab, &fw2, Signal::SIGTERM);
    let log2 = lab.log("fw2");
    assert!(
        log2.contains("conntrackd -t (shorten the kernel's timers) failed")
            && log2.contains("is conntrackd running?"),
        "{log2}"
    );
}
