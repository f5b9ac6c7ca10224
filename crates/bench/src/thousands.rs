//! Scenario 19: 2,040 groups per host (8 links × 255 vhids) in one carpd, beside keepalived
//! with 2,040 `vrrp_instance`s: start-up to every VIP, memory, CPU, the cost of one group, a
//! reload that changes one group, a link going down, and a crash of the master.

use crate::observe::{cpu_seconds, now, pids_named, rss_kib};
use crate::peers::Daemon;
use crate::report::{row, Section};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::{wait_until, Lab};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The first LAN (eth0) is 10.77.197.0/24; eth1–eth7 are 10.77.231–237.0/24.
const SUBNET: u8 = 197;
const LINKS: u8 = 8;
const VHIDS: u8 = 255;
const GROUPS: usize = LINKS as usize * VHIDS as usize;
/// How long the settled pair's CPU is measured.
const MEASURE: Duration = Duration::from_secs(30);
/// The backup's dead time: 3 × advbase 1 + advskew 50/256 (keepalived: 3 × 1 s + (256 −
/// 100)/256 s skew, 3.61 s).
const CARPD_DEAD_TIME: f64 = 3.0 + 50.0 / 256.0;
/// The link that goes down on the master.
const DOWN_LINK: u8 = 5;
/// The group the reload changes, and its VIP after it.
const RELOADED: (u8, u8) = (3, 17);
const RELOADED_VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 220, 17);

fn name(link: u8, vhid: u8) -> String {
    format!("g{link}_{vhid}")
}

/// Group (link, vhid)'s VIP, a /32 outside every LAN.
fn vip(link: u8, vhid: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 210 + link, vhid)
}

/// The VIP a host's config gives the group: the reloaded group's changes after the reload.
fn vip_of(link: u8, vhid: u8, reloaded: bool) -> Ipv4Addr {
    if reloaded && (link, vhid) == RELOADED {
        RELOADED_VIP
    } else {
        vip(link, vhid)
    }
}

fn all() -> impl Iterator<Item = (u8, u8)> {
    (0..LINKS).flat_map(|l| (1..=VHIDS).map(move |v| (l, v)))
}

/// Host 1 is preferred for every group (advskew 0 against 50; priority 200 against 100).
fn config(daemon: Daemon, host: usize, reloaded: bool) -> String {
    let mut s = String::new();
    if daemon == Daemon::Keepalived {
        let _ = writeln!(s, "global_defs {{\n  router_id h{host}\n}}");
    }
    for (l, v) in all() {
        let address = vip_of(l, v, reloaded);
        let n = name(l, v);
        if daemon == Daemon::Keepalived {
            let priority = if host == 1 { 200 } else { 100 };
            let _ = writeln!(
                s,
                "vrrp_instance {n} {{\n  state BACKUP\n  interface eth{l}\n  virtual_router_id {v}\n  \
                 priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {address}/32 dev eth{l}\n  }}\n}}"
            );
        } else {
            let advskew = if host == 1 { 0 } else { 50 };
            let _ = writeln!(
                s,
                "[[group]]\nname = \"{n}\"\ninterface = \"eth{l}\"\nvhid = {v}\nvips = [\"{address}/32\"]\n\
                 password = \"bench\"\nadvbase = 1\nadvskew = {advskew}\npreempt = true\n"
            );
        }
    }
    s
}

/// A lab of two hosts on 8 LANs (eth0–eth7).
fn lab() -> Result<Lab> {
    let lab = Lab::new("bnt", SUBNET, 2)?;
    for l in 1..LINKS {
        lab.add_lan(
            &format!("br{l}"),
            &format!("eth{l}"),
            230 + l,
            &format!("t{l}"),
            &[1, 2],
        )?;
    }
    Ok(lab)
}

/// How many of the 2,040 VIPs `host` holds (the reloaded group's, before or after).
fn held(lab: &Lab, host: usize) -> usize {
    lab.all_addresses(lab.host(host))
        .into_iter()
        .filter(|a| {
            *a == RELOADED_VIP
                || (a.octets()[..2] == [10, 77] && (210..210 + LINKS).contains(&a.octets()[2]))
        })
        .count()
}

/// Polls until host `host` holds `count` of the VIPs (within `limit`); the seconds since
/// `from`, or `None`.
fn until_held(lab: &Lab, host: usize, count: usize, from: f64, limit: Duration) -> Option<f64> {
    wait_until(limit, || held(lab, host) == count).then(|| now() - from)
}

/// Writes `host`'s config and returns its path.
fn write(lab: &Lab, daemon: Daemon, host: usize, reloaded: bool) -> Result<std::path::PathBuf> {
    let text = config(daemon, host, reloaded);
    if daemon == Daemon::Keepalived {
        let path = lab.dir().join(format!("t{host}.conf"));
        std::fs::write(&path, text)?;
        Ok(path)
    } else {
        lab.carpd_config(&format!("t{host}.toml"), &text)
    }
}

fn start(
    o: &Options,
    lab: &Lab,
    daemon: Daemon,
    host: usize,
    conf: &std::path::Path,
) -> Result<carpd_lab::Pid> {
    let log = format!("h{host}");
    if daemon == Daemon::Keepalived {
        lab.start_keepalived(lab.host(host), conf, &log)
    } else {
        lab.start_carpd_config(&o.carpd, lab.host(host), conf, &log)
    }
}

/// The resident memory of `daemon`'s processes on `host`, in KiB.
fn rss(lab: &Lab, daemon: Daemon, host: usize) -> f64 {
    pids_named(&lab.host(host).ns, daemon.comm())
        .into_iter()
        .filter_map(rss_kib)
        .sum()
}

fn cpu(lab: &Lab, daemon: Daemon, host: usize) -> f64 {
    pids_named(&lab.host(host).ns, daemon.comm())
        .into_iter()
        .filter_map(cpu_seconds)
        .sum()
}

/// State changes logged after line `skip` of `log`, of the groups `counted` picks by name.
fn changes(log: &str, skip: usize, counted: impl Fn(u8, u8) -> bool) -> usize {
    log.lines()
        .skip(skip)
        .filter(|l| l.contains("Switching to state") || l.contains("Entering "))
        .filter(|l| {
            all().any(|(link, vhid)| {
                let n = name(link, vhid);
                (l.contains(&format!("[{n}]")) || l.contains(&format!("({n})")))
                    && counted(link, vhid)
            })
        })
        .count()
}

/// The figures of one repetition of one implementation.
#[derive(Default)]
struct Figures {
    /// by index: 0 start-up s, 1 RSS KiB (both hosts), 2 CPU % of the pair, 3 bytes per
    /// group, 4 µs per advert, 5 crash takeover s, 6 reload applied s, 7 state changes after
    /// the reload, 8 state changes outside the downed link, 9 that link's takeover s
    s: [Samples; 10],
}

/// One implementation's run on a fresh lab.
fn run(o: &Options, daemon: Daemon, f: &mut Figures) -> Result<()> {
    let lab = lab()?;
    // One group alone first: what the 2,039 others add is the per-group cost.
    let lone = if daemon == Daemon::Keepalived {
        let path = lab.dir().join("lone.conf");
        std::fs::write(
            &path,
            "vrrp_instance lone {\n  state BACKUP\n  interface eth0\n  virtual_router_id 1\n  priority 200\n  \
             advert_int 1\n  virtual_ipaddress {\n    10.77.250.1/32 dev eth0\n  }\n}\n",
        )?;
        path
    } else {
        lab.carpd_config(
            "lone.toml",
            "[[group]]\nname = \"lone\"\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.77.250.1/32\"]\n\
             password = \"bench\"\nadvbase = 1\n",
        )?
    };
    let pid = start(o, &lab, daemon, 1, &lone)?;
    if !wait_until(Duration::from_secs(10), || {
        lab.all_addresses(lab.host(1))
            .contains(&Ipv4Addr::new(10, 77, 250, 1))
    }) {
        bail!(
            "{}: the lone group did not become master:\n{}",
            daemon.name(),
            lab.log("h1")
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let one = rss(&lab, daemon, 1);
    lab.signal(pid, nix::sys::signal::Signal::SIGTERM);
    lab.wait_exit(pid, Duration::from_secs(10));
    let _ = lab.run(
        lab.host(1),
        "ip",
        &["addr", "del", "10.77.250.1/32", "dev", "eth0"],
    );

    let confs = [
        write(&lab, daemon, 1, false)?,
        write(&lab, daemon, 2, false)?,
    ];
    let t0 = now();
    let pids = [
        start(o, &lab, daemon, 2, &confs[1])?,
        start(o, &lab, daemon, 1, &confs[0])?,
    ];
    let Some(up) = until_held(&lab, 1, GROUPS, t0, Duration::from_secs(60)) else {
        bail!(
            "{}: host 1 did not get all {GROUPS} VIPs within 60 s (it holds {})",
            daemon.name(),
            held(&lab, 1)
        );
    };
    if !wait_until(Duration::from_secs(10), || held(&lab, 2) == 0) {
        bail!(
            "{}: host 2 still holds {} VIPs",
            daemon.name(),
            held(&lab, 2)
        );
    }
    std::thread::sleep(Duration::from_secs(3));
    let (cpu0, cpu1_0, t) = (
        cpu(&lab, daemon, 1) + cpu(&lab, daemon, 2),
        cpu(&lab, daemon, 1),
        now(),
    );
    std::thread::sleep(MEASURE);
    let secs = now() - t;
    let pair = (cpu(&lab, daemon, 1) + cpu(&lab, daemon, 2) - cpu0) / secs * 100.0;
    let master = cpu(&lab, daemon, 1) - cpu1_0;
    let rss1 = rss(&lab, daemon, 1);
    let rss2 = rss(&lab, daemon, 2);
    f.s[0].push(up);
    f.s[1].push(rss1);
    f.s[1].push(rss2);
    f.s[2].push(pair);
    f.s[3].push((rss1 - one) * 1024.0 / (GROUPS - 1) as f64);
    f.s[4].push(master * 1e6 / (GROUPS as f64 * secs));

    // A reload that changes one group's VIP on both hosts.
    let lines = [lab.log("h1").lines().count(), lab.log("h2").lines().count()];
    write(&lab, daemon, 1, true)?;
    write(&lab, daemon, 2, true)?;
    let at = now();
    lab.signal(pids[1], nix::sys::signal::Signal::SIGHUP);
    lab.signal(pids[0], nix::sys::signal::Signal::SIGHUP);
    let moved = || {
        let h = lab.all_addresses(lab.host(1));
        h.contains(&RELOADED_VIP) && !h.contains(&vip(RELOADED.0, RELOADED.1))
    };
    let applied = wait_until(Duration::from_secs(20), moved).then(|| now() - at);
    std::thread::sleep(Duration::from_secs(5));
    let others = |l, v| (l, v) != RELOADED;
    let reload_changes =
        changes(&lab.log("h1"), lines[0], others) + changes(&lab.log("h2"), lines[1], others);
    f.s[6].push(applied.unwrap_or(f64::NAN));
    f.s[7].push(reload_changes as f64);

    // Host 1's eth5 goes down: host 2 takes its 255 groups, no other group moves.
    let lines = [lab.log("h1").lines().count(), lab.log("h2").lines().count()];
    let at = now();
    lab.run(
        lab.host(1),
        "ip",
        &["link", "set", &format!("eth{DOWN_LINK}"), "down"],
    )?;
    let taken = until_held(&lab, 2, usize::from(VHIDS), at, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(5));
    let elsewhere = |l, _| l != DOWN_LINK;
    let link_changes =
        changes(&lab.log("h1"), lines[0], elsewhere) + changes(&lab.log("h2"), lines[1], elsewhere);
    f.s[8].push(link_changes as f64);
    f.s[9].push(taken.unwrap_or(f64::NAN));
    lab.run(
        lab.host(1),
        "ip",
        &["link", "set", &format!("eth{DOWN_LINK}"), "up"],
    )?;
    if until_held(&lab, 1, GROUPS, now(), Duration::from_secs(30)).is_none()
        || !wait_until(Duration::from_secs(10), || held(&lab, 2) == 0)
    {
        bail!(
            "{}: host 1 did not take its link's groups back: host 1 holds {} VIPs, host 2 {}",
            daemon.name(),
            held(&lab, 1),
            held(&lab, 2)
        );
    }
    std::thread::sleep(Duration::from_secs(3));

    // The master crashes: every process of host 1 killed at once.
    let at = now();
    lab.kill_all(lab.host(1));
    let crash = until_held(&lab, 2, GROUPS, at, Duration::from_secs(30));
    f.s[5].push(crash.unwrap_or(f64::NAN));
    println!(
        "thousands {}: up {up:.2} s, RSS {rss1:.0}/{rss2:.0} KiB (one group {one:.0}), CPU {pair:.1} %, reload {applied:?} s \
         ({reload_changes} changes elsewhere), link down {taken:?} s ({link_changes} elsewhere), crash {crash:?} s",
        daemon.name()
    );
    Ok(())
}

/// Scenario 19.
pub fn thousands(o: &Options) -> Result<Section> {
    let mut carpd = Figures::default();
    let mut keepalived = Figures::default();
    for _ in 0..o.reps.min(2) {
        run(o, Daemon::CarpdNative, &mut carpd)?;
        run(o, Daemon::Keepalived, &mut keepalived)?;
    }
    let k = Daemon::Keepalived.name();
    let figure = |i: usize, metric: &str, unit: &'static str, goal: Goal, digits: usize| {
        row(
            metric,
            unit,
            carpd.s[i].clone(),
            k,
            keepalived.s[i].clone(),
            goal,
            digits,
        )
    };
    Ok(Section {
        title: "19. 2,040 groups per host".into(),
        method: format!(
            "Two hosts on 8 LANs (eth0–eth7), 255 groups on each link (vhid 1–255, one /32 VIP each): 2,040 groups \
             per host in one process. carpd: one config file, CARP advbase 1, VIPs managed natively; keepalived: \
             2,040 `vrrp_instance`s, VRRPv2 advert_int 1 (its defaults). Host 1 is preferred for every group \
             (advskew 0 against 50, priority 200 against 100). Per repetition, on a fresh lab: first one group \
             alone on host 1 (its RSS); then both hosts started together, and the time until host 1 holds all \
             2,040 VIPs; 3 s later, CPU of both hosts' processes over {} s and RSS per host (master and \
             backup); per-group cost: (RSS with 2,040 − RSS with one) / 2,039, and the master's CPU time per \
             advert it sent. Then a reload on both hosts that changes group g3_17's VIP (time until host 1 holds \
             the new one and not the old; state changes of the other 2,039 groups in 5 s); host 1's eth5 set \
             down (time until host 2 holds that link's 255 VIPs; state changes of groups on other links); eth5 \
             back up, and once host 1 holds everything again, every process of host 1 is killed (time until \
             host 2 holds all 2,040 VIPs; carpd's backup dead time is {CARPD_DEAD_TIME:.3} s, keepalived's \
             3.609 s).",
            MEASURE.as_secs()
        ),
        rows: vec![
            figure(0, "start-up until host 1 holds all 2,040 VIPs", "s", Goal::AtMost(20.0), 2),
            figure(1, "RSS per host, all processes", "KiB", Goal::NoWorseThanPeer, 0),
            figure(2, "CPU of the pair", "% of a core", Goal::RatioAtMost(0.3), 2),
            figure(3, "memory per group", "bytes", Goal::None, 0),
            figure(4, "master's CPU per advert", "µs", Goal::None, 1),
            figure(6, "reload changing one group: applied", "s", Goal::AtMost(1.0), 3),
            figure(7, "reload changing one group: state changes of the 2,039 others", "count", Goal::AtMost(0.0), 0),
            figure(8, "eth5 down on the master: state changes on the other 7 links", "count", Goal::AtMost(0.0), 0),
            figure(9, "eth5 down on the master: backup holds its 255 VIPs", "s", Goal::None, 2),
            figure(5, "master crash: backup holds all 2,040 VIPs", "s", Goal::AtMost(CARPD_DEAD_TIME + 0.5), 2),
        ],
        notes: vec![
            "The crash time runs from the kill, and a backup's dead time runs from the last advert it heard (up \
             to one interval before the kill), so it can be below the dead time. keepalived's dead time is longer \
             (3.609 s against 3.195 s) by its priority-based skew."
                .into(),
            "keepalived runs a parent and a VRRP child; both are counted in its RSS and CPU. Its per-group memory \
             is computed the same way from its own one-instance run."
                .into(),
        ],
    })
}
