//! Scenario 12: failover at each implementation's fastest setting, 50 groups at ~50 ms and
//! 255 VRRPv3 groups at 0.1 s in one process, while `stress-ng` keeps every CPU busy.

use crate::observe::{now, parse_stamp};
use crate::peers::{Daemon, Member};
use crate::report::{row, Row, Section};
use crate::scale::{start_pair, state_changes, Pair, Rate};
use crate::scenarios::{crash_outage, member, pair};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{Context, Result};
use carpd_lab::Lab;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The LANs of this scenario: 10.77.102.0/24 to 10.77.110.0/24.
const SUBNET: u8 = 102;
/// The many-group pairs: how many groups, how often they advertise, and how the rows name
/// them.
const MANY: [(u8, Rate, &str); 2] = [
    (50, Rate::Fast, "50 groups at ~50 ms"),
    (255, Rate::Tenth, "255 groups, VRRPv3 at 0.1 s"),
];

/// `stress-ng` with one CPU hog per CPU, for as long as it lives.
struct Stress(Child);

impl Stress {
    fn start() -> Result<Stress> {
        let child = Command::new("stress-ng")
            .args(["--cpu", "0", "--cpu-method", "matrixprod", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting stress-ng (Debian package stress-ng)")?;
        // Let its workers start before anything is measured.
        std::thread::sleep(Duration::from_secs(1));
        Ok(Stress(child))
    }
}

impl Drop for Stress {
    fn drop(&mut self) {
        // SIGTERM lets stress-ng stop its workers; SIGKILL would leave them running.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// A SCHED_FIFO thread (priority 90, above any daemon's) that sleeps 1 ms at a time and keeps
/// the wake-ups that came more than [`STALL_MS`] late: a realtime thread woken late while the
/// daemons sleep is the machine (hypervisor or kernel) stalling, not a daemon.
struct StallWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<(f64, f64)>, f64)>,
}

/// Lateness worth recording, in ms: the margin of carpd's fastest CARP pair is 7.8 ms.
const STALL_MS: f64 = 3.0;

impl StallWatch {
    fn start() -> StallWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // chrt (util-linux) sets this thread's policy: the lab has no unsafe code.
            let tid = nix::unistd::gettid().to_string();
            let set = Command::new("chrt")
                .args(["--fifo", "--pid", "90", &tid])
                .status();
            if !matches!(set, Ok(s) if s.success()) {
                eprintln!(
                    "stall watch: no SCHED_FIFO ({set:?}): its figures are the normal scheduler's"
                );
            }
            let (mut late, mut worst) = (Vec::new(), 0.0f64);
            let tick = Duration::from_millis(1);
            while !stopping.load(Ordering::Relaxed) {
                let before = std::time::Instant::now();
                std::thread::sleep(tick);
                let ms = (before.elapsed().saturating_sub(tick)).as_secs_f64() * 1000.0;
                worst = worst.max(ms);
                if ms > STALL_MS {
                    late.push((now(), ms));
                }
            }
            (late, worst)
        });
        StallWatch { stop, thread }
    }

    /// The late wake-ups (Unix time, ms late) and the latest of all wake-ups, in ms.
    fn finish(self) -> (Vec<(f64, f64)>, f64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((Vec::new(), f64::NAN))
    }
}

/// One fastest-setting pair: how it is started and what its dead time is.
struct Fastest {
    daemon: Daemon,
    master: Member,
    backup: Member,
    label: &'static str,
}

/// The pairs compared: carpd's fastest CARP setting from the command line as a user starts it
/// (no flag; the VIP managed natively), the same with ucarp's up/down scripts, and from a
/// config file with `realtime_priority = 0`; carpd's fastest VRRPv3 setting; keepalived's
/// fastest. Without a setting, carpd takes SCHED_FIFO at these intervals: the third pair says
/// 0, to show what that buys.
fn fastest() -> [Fastest; 5] {
    // CARP advbase 0, advskew 1 on both: adverts every 3.9 ms, dead time 3 × 1/256 s = 11.7 ms
    // (equal timings: the master stays master, by address).
    let carp = (member(0, 1, false, 0), member(0, 1, false, 0));
    // VRRPv3 advert_interval 0.01 s (the peers module writes advbase + advskew/256 to two
    // decimals: 3/256 s is 0.01), priorities 200/100: Master_Down_Interval 3 × 10 ms +
    // (256 − 100)/256 × 10 ms = 36.1 ms.
    let v3 = (member(0, 3, false, 200), member(0, 3, false, 100));
    [
        Fastest {
            daemon: Daemon::CarpdNative,
            master: carp.0,
            backup: carp.1,
            label: "carpd -b 0 -k 1 from the command line, no realtime option (dead time 11.7 ms)",
        },
        Fastest {
            daemon: Daemon::Carpd,
            master: carp.0,
            backup: carp.1,
            label: "the same with up/down scripts (`ip addr`), as ucarp",
        },
        Fastest {
            daemon: Daemon::CarpdNormalScheduler,
            master: carp.0,
            backup: carp.1,
            label: "carpd CARP advbase 0 advskew 1, realtime_priority = 0",
        },
        Fastest {
            daemon: Daemon::CarpdVrrp3,
            master: v3.0,
            backup: v3.1,
            label: "carpd VRRPv3 advert_interval 0.01 (Master_Down 36.1 ms)",
        },
        Fastest {
            daemon: Daemon::Keepalived,
            master: v3.0,
            backup: v3.1,
            label: "keepalived VRRPv3 advert_int 0.01 (Master_Down 36.1 ms)",
        },
    ]
}

/// Transitions logged by a pair's two daemons (carpd, ucarp and keepalived wordings).
fn transitions(lab: &Lab) -> usize {
    ["m", "b"]
        .iter()
        .map(|log| {
            let l = lab.log(log);
            l.matches("Switching to state").count() + l.matches("Entering ").count()
        })
        .sum()
}

/// The transition lines a pair's two daemons logged after `skip` of them, for the record of
/// a spurious one.
fn transition_lines(lab: &Lab, skip: usize) -> Vec<String> {
    let mut lines: Vec<String> = ["m", "b"]
        .iter()
        .flat_map(|log| {
            lab.log(log)
                .lines()
                .filter(|l| l.contains("Switching to state") || l.contains("Entering "))
                .map(|l| format!("{log}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort_by(|a, b| a.get(3..).cmp(&b.get(3..)));
    lines.into_iter().skip(skip).collect()
}

/// CPU seconds of the kernel's softirq threads (ksoftirqd/N), which run the network receive
/// path when it is deferred.
fn ksoftirqd_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        comm.starts_with("ksoftirqd").then_some(pid)
    })
    .filter_map(super::observe::cpu_seconds)
    .sum()
}

/// Crash failovers of one fastest pair under load: the client's longest gap per crash.
fn crashes(o: &Options, f: &Fastest, index: u8) -> Result<Samples> {
    let mut gaps = Samples::default();
    for rep in 0..o.reps {
        let lab = Lab::new("bnx", SUBNET + index, 3)?;
        pair(o, &lab, (f.daemon, f.daemon), f.master, f.backup)?;
        // Spread the cut over the advert interval (a few ms) and past any start-up effect.
        let gap = crash_outage(
            &lab,
            Duration::from_millis(1000 + (rep as u64 * 7) % 10),
            Duration::from_millis(300),
            &format!("{} under load", f.label),
        )?;
        println!("under load, crash, {} rep {rep}: {gap:.1} ms", f.label);
        gaps.push(gap);
    }
    Ok(gaps)
}

/// The worst of `s` as a one-sample set, for a row held against a worst case.
fn worst(s: &Samples) -> Samples {
    let mut w = Samples::default();
    if let Some(m) = s.max() {
        w.push(m);
    }
    w
}

/// One many-group pair in the soak, with its log lengths and CPU when the soak began.
struct ManySoak {
    lab: Lab,
    pair: Pair,
    lines: [usize; 2],
    cpu0: f64,
}

/// Spurious transitions and CPU (% of a core) of one many-group pair over `secs` of soak.
fn many_figures(m: &ManySoak, secs: f64) -> (Samples, Samples) {
    let mut cpu = Samples::default();
    cpu.push((m.pair.cpu(&m.lab) - m.cpu0) / secs * 100.0);
    let mut changes = Samples::default();
    changes.push(
        (state_changes(&m.lab.log("h1"), m.lines[0], None)
            + state_changes(&m.lab.log("h2"), m.lines[1], None)) as f64,
    );
    (changes, cpu)
}

/// Scenario 12.
pub fn under_load(o: &Options) -> Result<Section> {
    let pairs = fastest();
    let _stress = Stress::start()?;

    // Crash failovers, one pair at a time.
    let mut gaps = Vec::new();
    for (i, f) in pairs.iter().enumerate() {
        gaps.push(crashes(o, f, i as u8)?);
    }

    // The soak: the fastest pairs and the many-group pairs side by side.
    let mut soaking = Vec::new();
    for (i, f) in pairs.iter().enumerate() {
        let lab = Lab::new(&format!("bny{i}"), SUBNET + i as u8, 3)?;
        pair(o, &lab, (f.daemon, f.daemon), f.master, f.backup)?;
        soaking.push(lab);
    }
    let mut many = Vec::new();
    let mut subnet = SUBNET + pairs.len() as u8;
    for (k, (groups, rate, _)) in MANY.iter().enumerate() {
        for (i, daemon) in [Daemon::CarpdNative, Daemon::Keepalived]
            .into_iter()
            .enumerate()
        {
            let lab = Lab::new(&format!("bnz{k}{i}"), subnet, 3)?;
            subnet += 1;
            let pair = start_pair(o, &lab, daemon, *groups, *rate)?;
            many.push(ManySoak {
                lab,
                pair,
                lines: [0, 0],
                cpu0: 0.0,
            });
        }
    }
    // Creating and deleting the LANs' namespaces and veths stalls packet delivery on every
    // bridge for tens of milliseconds (seen as flaps of every 0.01 s pair, keepalived's
    // included, within the same 0.5 s): the soak counts from when the last LAN is up.
    std::thread::sleep(Duration::from_secs(5));
    let soaking: Vec<(Lab, usize)> = soaking
        .into_iter()
        .map(|lab| {
            let before = transitions(&lab);
            (lab, before)
        })
        .collect();
    for m in &mut many {
        m.lines = m.pair.log_lines(&m.lab);
        m.cpu0 = m.pair.cpu(&m.lab);
    }
    let t0 = now();
    let softirq0 = ksoftirqd_seconds();
    let watch = StallWatch::start();
    std::thread::sleep(o.load_soak);
    let (stalls, worst_stall) = watch.finish();
    let secs = now() - t0;
    let softirq = ksoftirqd_seconds() - softirq0;
    println!("under load, soak: ksoftirqd ran {softirq:.2} s of {secs:.0} s");
    for (at, ms) in &stalls {
        println!("under load, soak: the SCHED_FIFO watcher woke {ms:.1} ms late at {at:.3}");
    }
    let long_stalls = stalls.iter().filter(|s| s.1 > 7.8).count();
    let mut spurious = Vec::new();
    // carpd's transitions in the soak, and how many came within 50 ms of a watcher's stall.
    let (mut carpd_spurious, mut near_stall) = (0, 0);
    for ((lab, before), f) in soaking.iter().zip(&pairs) {
        let vip = lab.address(100);
        let moved = usize::from(lab.holders(vip) != [1]);
        // A carpd backup that waited for a master paused with it (docs/protocol.md §6).
        for line in lab
            .log("b")
            .lines()
            .filter(|l| l.contains("(the machine was paused)"))
        {
            println!("under load, soak, waited in {}: {line}", f.label);
        }
        for line in transition_lines(lab, *before) {
            println!("under load, soak, spurious in {}: {line}", f.label);
            // "b: 2026-12-04T03:11:11.451298Z: ...": keepalived's stamps have no fraction.
            let Some(at) = line
                .get(3..)
                .and_then(|l| parse_stamp(l.split(": ").next()?))
            else {
                continue;
            };
            carpd_spurious += 1;
            if stalls.iter().any(|(end, _)| (end - at).abs() < 0.05) {
                near_stall += 1;
            }
        }
        let mut s = Samples::default();
        s.push((transitions(lab) - before + moved) as f64);
        spurious.push(s);
    }
    let many_results: Vec<(Samples, Samples)> =
        many.iter().map(|m| many_figures(m, secs)).collect();

    let keepalived = pairs.len() - 1;
    let mut rows: Vec<Row> = Vec::new();
    for (i, f) in pairs.iter().enumerate().take(keepalived) {
        // carpd's fastest CARP pair as a user starts it is held against the goals; every
        // pair against 0 spurious but the one that shows what the normal scheduler does.
        let worst_goal = if i == 0 {
            Goal::AtMostAndRatio(20.0, 0.5)
        } else {
            Goal::None
        };
        let spurious_goal = if f.daemon == Daemon::CarpdNormalScheduler {
            Goal::None
        } else {
            Goal::AtMost(0.0)
        };
        let figures = [
            (
                "crash, client's longest gap".to_string(),
                "ms",
                gaps[i].clone(),
                gaps[keepalived].clone(),
                Goal::None,
                1,
            ),
            (
                format!("crash, worst of {}", gaps[i].0.len()),
                "ms",
                worst(&gaps[i]),
                worst(&gaps[keepalived]),
                worst_goal,
                1,
            ),
            (
                format!("spurious transitions in {secs:.0} s"),
                "count",
                spurious[i].clone(),
                spurious[keepalived].clone(),
                spurious_goal,
                0,
            ),
        ];
        for (figure, unit, ours, theirs, goal, digits) in figures {
            let label = format!("{}: {figure}", f.label);
            rows.push(row(
                &label,
                unit,
                ours,
                "keepalived 0.01",
                theirs,
                goal,
                digits,
            ));
        }
    }
    for (k, (_, rate, name)) in MANY.iter().enumerate() {
        let (ours, theirs) = (&many_results[2 * k], &many_results[2 * k + 1]);
        // The 50-group pair's CPU is held against 0.3 × keepalived's; the 255-group pair's
        // goal is its spurious count.
        let cpu_goal = if *rate == Rate::Fast {
            Goal::RatioAtMost(0.3)
        } else {
            Goal::None
        };
        let figures = [
            (
                format!("spurious transitions in {secs:.0} s"),
                "count",
                ours.0.clone(),
                theirs.0.clone(),
                Goal::AtMost(0.0),
                0,
            ),
            (
                "CPU of the pair".to_string(),
                "% of a core",
                ours.1.clone(),
                theirs.1.clone(),
                cpu_goal,
                2,
            ),
        ];
        for (figure, unit, ours, theirs, goal, digits) in figures {
            let label = format!("{name}: {figure}");
            rows.push(row(&label, unit, ours, "keepalived", theirs, goal, digits));
        }
    }
    drop(many);
    drop(soaking);
    Ok(Section {
        title: "12. Fastest failover and many groups under load".into(),
        method: format!(
            "`stress-ng --cpu 0` keeps both CPUs busy throughout (one matrix-multiplying hog per CPU, \
             at the daemons' own nice level). Each implementation at its fastest: carpd CARP advbase 0 \
             advskew 1 on both hosts (adverts every 3.9 ms, dead time 11.7 ms) started from the command \
             line as a user starts it (`-b 0 -k 1 -a VIP/24`, carpd managing the VIP, no other option: \
             carpd puts its loop on SCHED_FIFO priority 10 by itself for adverts under 100 ms), the same \
             with ucarp's up/down scripts running `ip addr` (the scripts themselves run on the normal \
             scheduler), and from a config file with `realtime_priority = 0` (the normal scheduler, \
             shown for what the default buys: no goal); carpd VRRPv3 and keepalived VRRPv3 at 0.01 s \
             adverts with priorities 200/100 (Master_Down_Interval 36.1 ms); keepalived has no realtime \
             setting by default. First {} crash failovers per pair (the master's port cut, the client \
             pinging every 2 ms); then every pair below runs side by side for {} s, counted from 5 s \
             after the last LAN is up (creating a LAN's namespaces stalls delivery on every bridge for \
             tens of ms, which flapped every 0.01 s pair, keepalived's included, in trial runs). The \
             many-group pairs run one carpd process per host against keepalived with one \
             `vrrp_instance` per group, host 1 preferred for odd vhids and host 2 for even ones: 50 \
             groups at carpd advbase 0, advskew 13 where preferred, 15 elsewhere (50.8 ms adverts, \
             175.8 ms dead time; SCHED_FIFO by default) against keepalived at advert_int 0.05 \
             (VRRPv3); 255 groups at VRRPv3 advert_interval 0.1 with priorities 200/100 \
             (Master_Down_Interval 360.9 ms; 100 ms is not under 100 ms, so carpd stays on the normal \
             scheduler) against keepalived at advert_int 0.1. Every transition after the first \
             election is spurious; CPU is user + system of every daemon process on both hosts over \
             the soak.",
            o.reps,
            o.load_soak.as_secs()
        ),
        rows,
        notes: vec![
            format!(
                "Machine stalls: a SCHED_FIFO watcher thread (priority 90, above every daemon, \
                 sleeping 1 ms at a time) woke more than {STALL_MS} ms late {} times in the soak \
                 (its latest wake-up: {worst_stall:.1} ms late), {long_stalls} times beyond 7.8 ms (the margin of \
                 the fastest CARP pair: a master's advert that late lets its backup take over). A \
                 realtime thread woken that late is the machine (the hypervisor or the kernel), not \
                 a daemon. Of carpd's {carpd_spurious} transitions in the soak, {near_stall} came \
                 within 50 ms of such a stall; the bench's output lists each with its time. \
                 ksoftirqd ran {softirq:.2} s in the soak (the receive path was not deferred).",
                stalls.len()
            ),
            "carpd's fastest CARP setting and keepalived's fastest VRRPv3 setting differ in dead time \
             (11.7 ms against 36.1 ms): that is the protocols' floor, which is why the goal is held \
             against keepalived's worst case as well as against 20 ms. carpd's VRRPv3 row is the \
             same-timer comparison."
                .into(),
            "Without realtime_priority, carpd puts its loop on SCHED_FIFO (priority 10, memory \
             locked) when a group advertises more often than every 100 ms, and logs that with the \
             group's name; its scripts still run on the normal scheduler. The realtime_priority = 0 \
             row shares the CPUs with the hogs under the normal scheduler, as keepalived does by \
             default."
                .into(),
        ],
    })
}
