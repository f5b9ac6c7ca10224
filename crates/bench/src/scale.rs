//! Scenarios 8 and 9: many groups on one pair. carpd serves them all from one config file,
//! ucarp runs one process per group, keepalived one `vrrp_instance` per group; then a reload
//! that adds one group while the others must not notice.

use crate::observe::{
    adverts_by_vrid, cpu_seconds, longest_gap, now, pids_named, pss_kib, rss_kib,
};
use crate::peers::Daemon;
use crate::report::{row, Section};
use crate::scenarios::{adverts_dump, monitor};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::{wait_until, CarpMember, Lab, Pid};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The LAN of scenario 8 (10.77.98.0/24) and of scenario 9 (10.77.99.0/24).
const SUBNET_MANY: u8 = 98;
const SUBNET_RELOAD: u8 = 99;
/// How long the idle pair is measured in scenario 8.
const MEASURE: Duration = Duration::from_secs(30);
/// How long after the reload adverts and state changes are watched in scenario 9.
const AFTER_RELOAD: Duration = Duration::from_secs(10);

/// Group `vhid`'s VIP, outside the LAN's /24 (held as a /32).
fn vip(vhid: u8) -> Ipv4Addr {
    if vhid < 255 {
        Ipv4Addr::new(10, 77, 200, vhid)
    } else {
        Ipv4Addr::new(10, 77, 201, 1)
    }
}

/// Host 1 is preferred for odd vhids, host 2 for even ones: each is master of about half.
fn preferred(host: usize, vhid: u8) -> bool {
    (vhid % 2 == 1) == (host == 1)
}

/// The VIPs `host` holds once the pair has settled among groups `1..=groups`.
fn expected(host: usize, groups: u8) -> BTreeSet<Ipv4Addr> {
    (1..=groups)
        .filter(|&v| preferred(host, v))
        .map(vip)
        .collect()
}

/// How often a many-group pair advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rate {
    /// advbase 1, advskew 0 (preferred) or 50; keepalived VRRPv2 advert_int 1
    Second,
    /// advbase 0, advskew 13 (preferred: 50.8 ms adverts) or 15 (dead time 175.8 ms);
    /// keepalived VRRPv3 advert_int 0.05
    Fast,
    /// VRRPv3 at 0.1 s, priority 200 (preferred) or 100: Master_Down_Interval 3 × 100 ms +
    /// (256 − 100)/256 × 100 ms = 360.9 ms; keepalived the same
    Tenth,
}

impl Rate {
    /// carpd's protocol and timing keys for a group on a host preferred or not.
    fn carpd_keys(self, preferred: bool) -> String {
        let carp = |advbase: u8, advskew: u8| {
            format!("password = \"bench\"\nadvbase = {advbase}\nadvskew = {advskew}\n")
        };
        match (self, preferred) {
            (Rate::Second, true) => carp(1, 0),
            (Rate::Second, false) => carp(1, 50),
            (Rate::Fast, true) => carp(0, 13),
            (Rate::Fast, false) => carp(0, 15),
            (Rate::Tenth, _) => format!(
                "protocol = \"vrrp3\"\nadvert_interval = 0.1\npriority = {}\n",
                if preferred { 200 } else { 100 }
            ),
        }
    }
}

/// One implementation serving `groups` groups on both hosts of a lab.
pub(crate) struct Pair {
    daemon: Daemon,
    /// the processes started on host 1 and host 2 (carpd and keepalived: one each)
    started: [Vec<Pid>; 2],
}

/// Host `host`'s groups `1..=groups` in carpd's config file format.
fn carpd_groups(host: usize, groups: u8, rate: Rate) -> String {
    let mut s = String::from("\n");
    for v in 1..=groups {
        let _ = writeln!(
            s,
            "[[group]]\nname = \"g{v}\"\ninterface = \"eth0\"\nvhid = {v}\nvips = [\"{}/32\"]\n\
             {}preempt = true\n",
            vip(v),
            rate.carpd_keys(preferred(host, v))
        );
    }
    s
}

fn keepalived_config(host: usize, groups: u8, rate: Rate) -> String {
    let (version, interval) = match rate {
        Rate::Second => ("", "1"),
        Rate::Fast => ("\n  vrrp_version 3", "0.05"),
        Rate::Tenth => ("\n  vrrp_version 3", "0.1"),
    };
    let mut s = format!("global_defs {{\n  router_id h{host}{version}\n}}\n");
    for v in 1..=groups {
        let priority = if preferred(host, v) { 200 } else { 100 };
        let _ = writeln!(
            s,
            "vrrp_instance g{v} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {v}\n  \
             priority {priority}\n  advert_int {interval}\n  virtual_ipaddress {{\n    {}/32 dev eth0\n  }}\n}}",
            vip(v)
        );
    }
    s
}

/// Writes host `host`'s config for `groups` groups (carpd and keepalived) and returns its path.
fn write_config(
    lab: &Lab,
    daemon: Daemon,
    host: usize,
    groups: u8,
    rate: Rate,
) -> Result<std::path::PathBuf> {
    if daemon == Daemon::Keepalived {
        let path = lab.dir().join(format!("h{host}.conf"));
        std::fs::write(&path, keepalived_config(host, groups, rate))?;
        Ok(path)
    } else {
        lab.carpd_config(&format!("h{host}.toml"), &carpd_groups(host, groups, rate))
    }
}

/// Starts `daemon` for groups `1..=groups` on hosts 1 and 2 (logs `h1`, `h2`) and waits until
/// each host holds the VIPs it is preferred for.
pub(crate) fn start_pair(
    o: &Options,
    lab: &Lab,
    daemon: Daemon,
    groups: u8,
    rate: Rate,
) -> Result<Pair> {
    let mut started: [Vec<Pid>; 2] = Default::default();
    for host in [1, 2] {
        let h = lab.host(host);
        let log = format!("h{host}");
        let pids = &mut started[host - 1];
        match daemon {
            Daemon::Ucarp if rate != Rate::Second => {
                bail!("ucarp runs the many-group pair at advbase 1 only")
            }
            Daemon::Ucarp => {
                let up = lab.script("up", "ip addr add \"$2\"/32 dev \"$1\"")?;
                let down = lab.script(
                    "down",
                    "ip addr del \"$2\"/32 dev \"$1\" 2>/dev/null; exit 0",
                )?;
                for v in 1..=groups {
                    let mut member = CarpMember::new(v, vip(v), "bench");
                    member.advskew = if preferred(host, v) { 0 } else { 50 };
                    member.preempt = true;
                    member.scripts = Some((up.clone(), down.clone()));
                    pids.push(lab.start_carp("ucarp", h, &member, &log)?);
                }
            }
            Daemon::Keepalived => {
                let conf = write_config(lab, daemon, host, groups, rate)?;
                pids.push(lab.start_keepalived(h, &conf, &log)?);
            }
            Daemon::CarpdVrrp3
            | Daemon::CarpdNormalScheduler
            | Daemon::CarpdVrrp2
            | Daemon::KeepalivedV2 => {
                bail!(
                    "the many-group scenarios run carpd with CARP on the command line's scheduler, and keepalived with VRRPv3"
                )
            }
            Daemon::Carpd | Daemon::CarpdNative => {
                let conf = write_config(lab, daemon, host, groups, rate)?;
                pids.push(lab.start_carpd_config(&o.carpd, h, &conf, &log)?);
            }
        }
    }
    let settled = || {
        [1, 2].iter().all(|&host| {
            let held: BTreeSet<Ipv4Addr> = lab.all_addresses(lab.host(host)).into_iter().collect();
            let ours: BTreeSet<Ipv4Addr> =
                (1..=255).map(vip).filter(|a| held.contains(a)).collect();
            ours == expected(host, groups)
        })
    };
    if !wait_until(Duration::from_secs(60), settled) {
        bail!(
            "{}: {groups} groups did not settle (host 1 preferred for odd vhids, host 2 for even):\n{}\n{}",
            daemon.name(),
            tail(&lab.log("h1")),
            tail(&lab.log("h2"))
        );
    }
    Ok(Pair { daemon, started })
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// State changes in `log` after its first `skip` lines, leaving out group `except`'s.
pub(crate) fn state_changes(log: &str, skip: usize, except: Option<u8>) -> usize {
    let other = except.map(|v| (format!("[g{v}]"), format!("(g{v})")));
    log.lines()
        .skip(skip)
        .filter(|l| l.contains("Switching to state") || l.contains("Entering "))
        .filter(|l| {
            other
                .as_ref()
                .is_none_or(|(ours, theirs)| !l.contains(ours) && !l.contains(theirs))
        })
        .count()
}

impl Pair {
    /// Every process of this implementation on `host` (keepalived's children too).
    fn processes(&self, lab: &Lab, host: usize) -> Vec<i32> {
        pids_named(&lab.host(host).ns, self.daemon.comm())
    }

    /// CPU seconds of every process of the pair so far.
    pub(crate) fn cpu(&self, lab: &Lab) -> f64 {
        [1, 2]
            .iter()
            .flat_map(|&h| self.processes(lab, h))
            .filter_map(cpu_seconds)
            .sum()
    }

    fn memory(&self, lab: &Lab, host: usize, read: fn(i32) -> Option<f64>) -> f64 {
        self.processes(lab, host).into_iter().filter_map(read).sum()
    }

    /// Lines in each host's log so far.
    pub(crate) fn log_lines(&self, lab: &Lab) -> [usize; 2] {
        [lab.log("h1").lines().count(), lab.log("h2").lines().count()]
    }
}

/// Scenario 8: 255 groups on a pair at advbase 1, idle.
pub fn many_groups(o: &Options) -> Result<Section> {
    let daemons = [Daemon::CarpdNative, Daemon::Ucarp, Daemon::Keepalived];
    // Per implementation: RSS per host, PSS per host, the pair's CPU, state changes while idle.
    let mut s: [[Samples; 4]; 3] = Default::default();
    for rep in 0..o.reps.min(3) {
        for (i, &daemon) in daemons.iter().enumerate() {
            let lab = Lab::new("bnm", SUBNET_MANY, 3)?;
            let pair = start_pair(o, &lab, daemon, 255, Rate::Second)?;
            std::thread::sleep(Duration::from_secs(3));
            let lines = pair.log_lines(&lab);
            let cpu0 = pair.cpu(&lab);
            let t0 = now();
            std::thread::sleep(MEASURE);
            let cpu = (pair.cpu(&lab) - cpu0) / (now() - t0) * 100.0;
            for host in [1, 2] {
                s[i][0].push(pair.memory(&lab, host, rss_kib));
                s[i][1].push(pair.memory(&lab, host, pss_kib));
            }
            s[i][2].push(cpu);
            let changes = state_changes(&lab.log("h1"), lines[0], None)
                + state_changes(&lab.log("h2"), lines[1], None);
            s[i][3].push(changes as f64);
            println!(
                "many groups {} rep {rep}: {} processes, cpu {cpu:.1} %, {changes} state changes",
                daemon.name(),
                pair.started[0].len() + pair.started[1].len()
            );
        }
    }
    let [carpd, ucarp, keepalived] = s;
    let mut rows = Vec::new();
    for (peer, theirs) in [(Daemon::Ucarp, &ucarp), (Daemon::Keepalived, &keepalived)] {
        // Each goal is listed once: memory and calm against the first peer, CPU against
        // keepalived's.
        let first = peer == Daemon::Ucarp;
        let own_goal = |x: f64| if first { Goal::AtMost(x) } else { Goal::None };
        let cpu_goal = if first {
            Goal::None
        } else {
            Goal::RatioAtMost(0.3)
        };
        let figures = [
            ("RSS per host, all processes", "KiB", own_goal(10240.0), 0),
            ("PSS per host, all processes", "KiB", Goal::None, 0),
            ("CPU of the pair", "% of a core", cpu_goal, 2),
            ("state changes while idle", "count", own_goal(0.0), 0),
        ];
        for (i, (metric, unit, goal, digits)) in figures.into_iter().enumerate() {
            rows.push(row(
                metric,
                unit,
                carpd[i].clone(),
                peer.name(),
                theirs[i].clone(),
                goal,
                digits,
            ));
        }
    }
    Ok(Section {
        title: "8. 255 groups on a pair".into(),
        method: format!(
            "255 groups (vhid 1–255, one /32 VIP each) on one interface of each of two hosts, advbase 1; host 1 \
             is preferred (advskew 0 against 50, keepalived priority 200 against 100) for odd vhids and host 2 \
             for even ones, so each is master of about half. carpd: one process, one config file, VIPs managed \
             natively; ucarp: 255 processes per host with `ip addr` scripts; keepalived: one config with 255 \
             `vrrp_instance`s (VRRPv2, its default). Each runs alone on a fresh LAN; once every VIP is where \
             it belongs and 3 s have passed, CPU (user + system, every process on both hosts) is measured \
             over {} s, then memory on each host (two samples per repetition).",
            MEASURE.as_secs()
        ),
        rows,
        notes: vec![
            "RSS sums each process's resident pages, so pages shared by ucarp's 255 processes (libc, libpcap) \
             are counted 255 times; PSS divides shared pages among the processes that map them, which makes \
             it the fair total for a many-process design."
                .into(),
            "keepalived runs a parent and a VRRP child; both are counted.".into(),
        ],
    })
}

/// Scenario 9: 254 groups running, a reload adds the 255th.
pub fn reload(o: &Options) -> Result<Section> {
    let daemons = [Daemon::CarpdNative, Daemon::Keepalived];
    // Per implementation: state changes in the 254, the longest advert gap among them (in
    // advert intervals), VIPs of the 254 removed, and whether the new group came up.
    let mut s: [[Samples; 4]; 2] = Default::default();
    for rep in 0..o.reps.min(3) {
        for (i, &daemon) in daemons.iter().enumerate() {
            let lab = Lab::new("bnr", SUBNET_RELOAD, 3)?;
            let pair = start_pair(o, &lab, daemon, 254, Rate::Second)?;
            monitor(&lab, 1)?;
            monitor(&lab, 2)?;
            adverts_dump(&lab)?;
            std::thread::sleep(Duration::from_secs(3));
            let lines = pair.log_lines(&lab);
            for host in [1, 2] {
                write_config(&lab, daemon, host, 255, Rate::Second)?;
            }
            let at = now();
            for host in [1, 2] {
                lab.signal(pair.started[host - 1][0], nix::sys::signal::Signal::SIGHUP);
            }
            std::thread::sleep(AFTER_RELOAD);
            let end = now();
            let changes = state_changes(&lab.log("h1"), lines[0], Some(255))
                + state_changes(&lab.log("h2"), lines[1], Some(255));
            let by_vrid = adverts_by_vrid(&lab.log("dump"));
            // From 2 s before the reload, so that a gap spanning it is seen whole.
            let gap = (1..=254u8)
                .map(|v| {
                    longest_gap(
                        by_vrid.get(&v).map_or(&[][..], Vec::as_slice),
                        at - 2.0,
                        end,
                    )
                })
                .fold(0.0, f64::max);
            let removed = [1, 2]
                .iter()
                .map(|&h| {
                    lab.log(&format!("mon{h}"))
                        .lines()
                        .filter(|l| {
                            l.contains("Deleted")
                                && (1..=254).any(|v| l.contains(&format!(" {}/32 ", vip(v))))
                        })
                        .count()
                })
                .sum::<usize>();
            let new_group = lab.all_addresses(lab.host(1)).contains(&vip(255))
                ^ lab.all_addresses(lab.host(2)).contains(&vip(255));
            s[i][0].push(changes as f64);
            s[i][1].push(gap);
            s[i][2].push(removed as f64);
            s[i][3].push(f64::from(u8::from(new_group)));
            println!(
                "reload {} rep {rep}: {changes} state changes, longest gap {gap:.2} intervals, {removed} VIPs removed, new group up: {new_group}",
                daemon.name()
            );
        }
    }
    let [carpd, keepalived] = s;
    let k = Daemon::Keepalived;
    Ok(Section {
        title: "9. Reload adding one group to 254".into(),
        method: format!(
            "The pair of scenario 8 with 254 groups (vhid 1–254) and a capture of every advert on a third host; \
             both hosts' files get group 255 added and both daemons get SIGHUP at once (carpd's config-mode \
             reload, also what `carpctl reload` does; keepalived's reload). Watched for {} s after the signal: \
             state changes logged for the 254 untouched groups, their longest advert gap from 2 s before the \
             reload on (in advert intervals, 1 s here), their VIPs deleted from either host (`ip monitor`), and \
             whether group 255 came up on exactly one host.",
            AFTER_RELOAD.as_secs()
        ),
        rows: vec![
            row("state changes in the 254 others", "count", carpd[0].clone(), k.name(), keepalived[0].clone(), Goal::AtMost(0.0), 0),
            row("longest advert gap in the 254 others", "intervals", carpd[1].clone(), k.name(), keepalived[1].clone(), Goal::AtMost(1.5), 2),
            row("VIPs of the 254 others removed", "count", carpd[2].clone(), k.name(), keepalived[2].clone(), Goal::AtMost(0.0), 0),
            row("group 255 up on one host", "yes = 1", carpd[3].clone(), k.name(), keepalived[3].clone(), Goal::None, 0),
        ],
        notes: vec![
            "ucarp has no reload: a new group is one more process, which leaves the others alone by construction.".into(),
            keepalived_note(&keepalived),
        ],
    })
}

/// What keepalived's reload did in this run, against what its users report of it.
fn keepalived_note(k: &[Samples; 4]) -> String {
    let calm =
        k[0].max() == Some(0.0) && k[2].max() == Some(0.0) && k[1].max().is_some_and(|g| g <= 1.5);
    if calm {
        "keepalived left its 254 unchanged instances alone in every repetition too: the reload flaps its users \
         report (instances re-initialised, VIPs dropped) did not happen with this version and configuration."
            .into()
    } else {
        "keepalived disturbed unchanged instances in at least one repetition (see its figures above).".into()
    }
}
