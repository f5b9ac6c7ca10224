//! The scenarios. Each builds fresh LANs, runs carpd and the peer alternately, and returns a
//! section of the report.

use crate::observe::{
    address_events, adverts_from, cpu_seconds, log_times, now, pids_named, rss_kib, switches,
};
use crate::peers::{self, Daemon, Member};
use crate::report::svg::Panel;
use crate::report::{row, Section};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::{wait_until, Lab, Pid, ProbeReport};
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use std::collections::BTreeMap;
use std::time::Duration;

const PREFIX: &str = "bn";
/// How often the client pings the VIP: the resolution of every outage figure.
pub(crate) const PROBE: Duration = Duration::from_millis(2);
const SUBNET: u8 = 90;

pub(crate) fn member(advbase: u8, advskew: u8, preempt: bool, priority: u8) -> Member {
    Member {
        advbase,
        advskew,
        preempt,
        priority,
        ipv6: false,
    }
}

/// The usual pair: host 1 preferred (advskew 0), host 2 backup (advskew 50), advbase 1.
fn usual() -> (Member, Member) {
    (member(1, 0, false, 200), member(1, 50, false, 100))
}

/// Starts the master (host 1), waits until it holds the VIP, then starts the backup (host 2)
/// and gives it a second to settle. Starting them together would let start-up jitter decide
/// the first election when dead times differ by only tens of milliseconds.
pub(crate) fn pair(
    o: &Options,
    lab: &Lab,
    daemon: (Daemon, Daemon),
    m: Member,
    b: Member,
) -> Result<(Pid, Pid)> {
    let vip = peers::vip(lab, m.ipv6);
    let mp = peers::start(lab, &o.carpd, daemon.0, 1, m, "m")?;
    if !wait_until(Duration::from_secs(20), || lab.holders_of(vip) == [1]) {
        bail!(
            "{:?}: no master on host 1 (holders {:?}):\n{}",
            daemon,
            lab.holders_of(vip),
            lab.log("m")
        );
    }
    let bp = peers::start(lab, &o.carpd, daemon.1, 2, b, "b")?;
    std::thread::sleep(Duration::from_secs(1));
    if lab.holders_of(vip) != [1] {
        bail!(
            "{:?}: host 1 lost the VIP when the backup started (holders {:?}):\n{}\n{}",
            daemon,
            lab.holders_of(vip),
            lab.log("m"),
            lab.log("b")
        );
    }
    Ok((mp, bp))
}

/// `ip -ts monitor address` on `host`'s eth0, into log `mon<host>`.
pub(crate) fn monitor(lab: &Lab, host: usize) -> Result<()> {
    lab.spawn(
        lab.host(host),
        "ip",
        &["-ts", "monitor", "address", "dev", "eth0"],
        &format!("mon{host}"),
    )?;
    Ok(())
}

/// Every advert seen by host 3, into log `dump`, once tcpdump listens.
pub(crate) fn adverts_dump(lab: &Lab) -> Result<()> {
    lab.spawn(
        lab.host(3),
        "tcpdump",
        &["-l", "-tt", "-n", "-i", "eth0", "ip proto 112"],
        "dump",
    )?;
    if !wait_until(Duration::from_secs(10), || {
        lab.log("dump").contains("listening on")
    }) {
        bail!("tcpdump did not start: {}", lab.log("dump"));
    }
    Ok(())
}

/// The outage after `at` (epoch seconds) in `report`, as epoch seconds (last reply before
/// it, first reply after it).
fn outage(report: &ProbeReport, at: f64) -> Option<(f64, f64)> {
    let base = report.started_epoch();
    let from = Duration::from_secs_f64((at - base).max(0.0));
    report
        .outage_after(from)
        .map(|(a, b)| (base + a.as_secs_f64(), base + b.as_secs_f64()))
}

/// The outage's length after `at`, in milliseconds (NaN when there was no reply after it).
pub(crate) fn outage_ms(report: &ProbeReport, at: f64) -> f64 {
    outage(report, at).map_or(f64::NAN, |(a, b)| (b - a) * 1000.0)
}

fn holder_intervals(lab: &Lab, initial: usize, start: f64, end: f64) -> Vec<(usize, f64, f64)> {
    let vip = lab.address(100);
    let mut out = Vec::new();
    for host in [1, 2] {
        let mut since = (host == initial).then_some(start);
        for (t, added) in address_events(&lab.log(&format!("mon{host}")), vip) {
            match (added, since) {
                (true, None) => since = Some(t),
                (false, Some(s)) => {
                    out.push((host, s, t));
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            out.push((host, s, end));
        }
    }
    out
}

pub(crate) fn jitter(rep: usize) -> Duration {
    // Spread the moment of the fault over the advert interval.
    Duration::from_millis(1500 + (rep as u64 * 173) % 1000)
}

/// Scenarios 1 and 5: the master's switch port is cut at advbase 1.
pub fn crash_failover(o: &Options) -> Result<(Section, Section, Vec<Panel>)> {
    let dead = 3.0 + 50.0 / 256.0;
    let mut gap: BTreeMap<&str, Samples> = BTreeMap::new();
    let mut excess: BTreeMap<&str, Samples> = BTreeMap::new();
    let mut takeover: BTreeMap<&str, Samples> = BTreeMap::new();
    let mut panels = Vec::new();
    for rep in 0..o.reps {
        for daemon in [Daemon::Carpd, Daemon::Ucarp, Daemon::CarpdNative] {
            let lab = Lab::new(PREFIX, SUBNET, 3)?;
            let (m, b) = usual();
            pair(o, &lab, (daemon, daemon), m, b)?;
            monitor(&lab, 1)?;
            monitor(&lab, 2)?;
            adverts_dump(&lab)?;
            let vip = lab.address(100);
            let probe = lab.probe(lab.host(3), vip, PROBE)?;
            std::thread::sleep(jitter(rep));
            lab.set_port(lab.host(1), false)?;
            // Stamped once `ip link set down` has returned: the port is down from here on.
            let cut = now();
            if !wait_until(Duration::from_secs(12), || lab.holders(vip).contains(&2)) {
                bail!("{daemon:?}: no takeover:\n{}", lab.log("b"));
            }
            std::thread::sleep(Duration::from_secs(1));
            let report = probe.finish()?;
            let replies = report.reply_epochs();
            let Some((last_before, first)) = outage(&report, cut) else {
                bail!("{daemon:?}: no reply after the cut")
            };
            gap.entry(daemon.name())
                .or_default()
                .push((first - last_before) * 1000.0);
            if let Some(last_advert) = adverts_from(&lab.log("dump"), lab.host(1).ip)
                .into_iter()
                .filter(|&t| t < cut)
                .reduce(f64::max)
            {
                excess
                    .entry(daemon.name())
                    .or_default()
                    .push((first - last_advert - dead) * 1000.0);
            }
            if let Some(decision) = log_times(&lab.log("b"), "Switching to state: MASTER")
                .into_iter()
                .find(|&t| t > cut - 0.5)
            {
                takeover
                    .entry(daemon.name())
                    .or_default()
                    .push((first - decision) * 1000.0);
            }
            if rep == 0 && daemon != Daemon::CarpdNative {
                panels.push(Panel {
                    title: format!(
                        "{}: master's port cut at advbase 1 (backup advskew 50, dead time 3.195 s)",
                        daemon.name()
                    ),
                    cut,
                    replies: replies.clone(),
                    holders: holder_intervals(&lab, 1, cut - 2.0, cut + 6.0),
                });
            }
            println!(
                "crash {} rep {rep}: gap {:.0} ms",
                daemon.name(),
                (first - last_before) * 1000.0
            );
        }
    }
    let get = |m: &BTreeMap<&str, Samples>, d: Daemon| m.get(d.name()).cloned().unwrap_or_default();
    let crash = Section {
        title: "1. Crash failover at advbase 1".into(),
        method: "Two hosts (advskew 0 and 50, advbase 1, the same `ip addr add|del` scripts), a client \
                 pinging the VIP every 2 ms. The master's switch port is cut at a moment spread over \
                 the advert interval. Excess = first reply after the cut − the master's last advert \
                 (captured on the client) − the backup's dead time (3 × 1 s + 50/256 s)."
            .into(),
        rows: vec![
            row("client's longest gap", "ms", get(&gap, Daemon::Carpd), "ucarp", get(&gap, Daemon::Ucarp), Goal::None, 0),
            row("excess over the dead time", "ms", get(&excess, Daemon::Carpd), "ucarp", get(&excess, Daemon::Ucarp), Goal::AtMost(20.0), 1),
            row("excess over the dead time, carpd native", "ms", get(&excess, Daemon::CarpdNative), "ucarp", get(&excess, Daemon::Ucarp), Goal::AtMost(20.0), 1),
        ],
        notes: vec![
            "The longest gap is mostly the protocol's dead time, which both implement alike; the excess is what an implementation adds to it.".into(),
            "ucarp's excess comes from its receive path and loop: adverts reach it through a libpcap ring without immediate mode (~1 s late), and the master-down check runs only when poll() returns, so detection is quantised by a poll period of advbase + advskew/256.".into(),
        ],
    };
    let takeover_section = Section {
        title: "5. Takeover latency: decision to first client reply".into(),
        method:
            "Same runs as scenario 1 (and the same with carpd managing the VIP itself): from the \
                 backup's \"Switching to state: MASTER\" log line to the client's first reply."
                .into(),
        rows: vec![
            row(
                "script path (`ip addr add` script, then GARP)",
                "ms",
                get(&takeover, Daemon::Carpd),
                "ucarp",
                get(&takeover, Daemon::Ucarp),
                Goal::None,
                1,
            ),
            row(
                "native path (rtnetlink, then GARP)",
                "ms",
                get(&takeover, Daemon::CarpdNative),
                "ucarp",
                get(&takeover, Daemon::Ucarp),
                Goal::None,
                1,
            ),
            row(
                "native path vs carpd's script path",
                "ms",
                get(&takeover, Daemon::CarpdNative),
                "carpd (scripts)",
                get(&takeover, Daemon::Carpd),
                Goal::NoWorseThanPeer,
                1,
            ),
        ],
        notes: vec![
            "The client probes every 2 ms, so each figure includes up to 2 ms of probe phase."
                .into(),
        ],
    };
    Ok((crash, takeover_section, panels))
}

/// Scenario 2: SIGTERM (with -z) and SIGUSR2 on the master.
pub fn planned_handover(o: &Options) -> Result<Section> {
    // (name, signal, carpd side (master, backup), peer side (master, backup))
    type Variant = (
        &'static str,
        nix::sys::signal::Signal,
        (Daemon, Daemon),
        (Daemon, Daemon),
    );
    let variants: [Variant; 3] = [
        (
            "SIGTERM (-z)",
            nix::sys::signal::Signal::SIGTERM,
            (Daemon::Carpd, Daemon::Carpd),
            (Daemon::Ucarp, Daemon::Ucarp),
        ),
        (
            "SIGUSR2 (demote)",
            nix::sys::signal::Signal::SIGUSR2,
            (Daemon::Carpd, Daemon::Carpd),
            (Daemon::Ucarp, Daemon::Ucarp),
        ),
        (
            "SIGTERM, carpd master → ucarp backup",
            nix::sys::signal::Signal::SIGTERM,
            (Daemon::Carpd, Daemon::Ucarp),
            (Daemon::Ucarp, Daemon::Ucarp),
        ),
    ];
    let mut rows = Vec::new();
    for (name, signal, ours, theirs) in variants {
        let mut carpd = Samples::default();
        let mut peer = Samples::default();
        for rep in 0..o.reps {
            for (side, daemons) in [(0, ours), (1, theirs)] {
                let lab = Lab::new(PREFIX, SUBNET, 3)?;
                let (m, b) = usual();
                let (master, _) = pair(o, &lab, daemons, m, b)?;
                let vip = lab.address(100);
                let probe = lab.probe(lab.host(3), vip, PROBE)?;
                std::thread::sleep(jitter(rep));
                let at = now();
                lab.signal(master, signal);
                if !wait_until(Duration::from_secs(10), || lab.holders(vip) == [2]) {
                    bail!("{name}: no handover:\n{}\n{}", lab.log("m"), lab.log("b"));
                }
                std::thread::sleep(Duration::from_millis(500));
                let g = outage_ms(&probe.finish()?, at);
                if side == 0 {
                    carpd.push(g)
                } else {
                    peer.push(g)
                }
                println!("handover {name} side {side} rep {rep}: {g:.0} ms");
            }
        }
        let goal = if ours.1 == Daemon::Carpd {
            Goal::AtMost(20.0)
        } else {
            Goal::None
        };
        rows.push(row(
            &format!("{name}: client's longest gap"),
            "ms",
            carpd,
            "ucarp pair",
            peer,
            goal,
            0,
        ));
    }
    Ok(Section {
        title: "2. Planned handover".into(),
        method: "Master (advskew 0) and backup (advskew 50) at advbase 1 with the same scripts, client \
                 pinging every 2 ms; the master gets the signal."
            .into(),
        rows,
        notes: vec![
            "carpd bows out (advbase 255, advskew 255) before it runs its down script; the backup takes over on receipt. ucarp goes silent, so its backup waits the whole dead time.".into(),
            "With a ucarp backup the bow-out is honoured through ucarp's \"going to time out\" rule, but only when ucarp reads the packet, up to ~1 s late (libpcap ring).".into(),
        ],
    })
}

/// The client's longest gap (ms) when host 1 of a running pair crashes: host 3 pings the VIP,
/// host 1's switch port is cut after `settle`, and the gap is read `after` host 2 holds the VIP.
pub(crate) fn crash_outage(
    lab: &Lab,
    settle: Duration,
    after: Duration,
    what: &str,
) -> Result<f64> {
    let vip = lab.address(100);
    let probe = lab.probe(lab.host(3), vip, PROBE)?;
    std::thread::sleep(settle);
    lab.set_port(lab.host(1), false)?;
    let cut = now();
    if !wait_until(Duration::from_secs(10), || lab.holders(vip).contains(&2)) {
        bail!("{what}: no takeover:\n{}", lab.log("b"));
    }
    std::thread::sleep(after);
    Ok(outage_ms(&probe.finish()?, cut))
}

/// Scenario 3: sub-second failover, carpd at advbase 0 against keepalived VRRPv3. Both
/// manage the VIP themselves (carpd's native mode), as keepalived always does.
pub fn subsecond(o: &Options) -> Result<Section> {
    let mut rows = Vec::new();
    // (master advskew, backup advskew, keepalived advert_int, goal)
    let cases = [
        (13u8, 15u8, "0.05", Goal::AtMostAndNoWorse(200.0)),
        (26, 28, "0.1", Goal::NoWorseThanPeer),
        (13, 16, "0.05", Goal::None),
        (26, 32, "0.1", Goal::None),
    ];
    for (skew, backup_skew, label, goal) in cases {
        let mut carpd = Samples::default();
        let mut keep = Samples::default();
        for rep in 0..o.reps {
            for daemon in [Daemon::CarpdNative, Daemon::Keepalived] {
                let lab = Lab::new(PREFIX, SUBNET, 3)?;
                let (m, b) = match daemon {
                    Daemon::Keepalived => {
                        (member(0, skew, false, 200), member(0, skew, false, 100))
                    }
                    _ => (member(0, skew, false, 0), member(0, backup_skew, false, 0)),
                };
                pair(o, &lab, (daemon, daemon), m, b)?;
                let g = crash_outage(
                    &lab,
                    Duration::from_millis(1000 + (rep as u64 * 37) % 100),
                    Duration::from_millis(500),
                    daemon.name(),
                )?;
                if daemon == Daemon::Keepalived {
                    keep.push(g)
                } else {
                    carpd.push(g)
                }
                println!(
                    "subsecond {label} {skew}/{backup_skew} {} rep {rep}: {g:.0} ms",
                    daemon.name()
                );
            }
        }
        let dead = 3.0 * f64::from(backup_skew) / 256.0 * 1000.0;
        rows.push(row(
            &format!("adverts every {label} s, carpd advskew {skew}/{backup_skew} (dead time {dead:.1} ms): client's longest gap"),
            "ms",
            carpd,
            "keepalived",
            keep,
            goal,
            0,
        ));
    }
    Ok(Section {
        title: "3. Sub-second failover".into(),
        method: "carpd (managing the VIP itself, as keepalived does) with advbase 0: master advskew 13 \
                 (adverts every 50.8 ms) or 26 (101.6 ms); the backup's advskew sets its dead time, \
                 3 × advskew/256 s. keepalived VRRPv3 with advert_int 0.05 or 0.1 and priorities 200/100: \
                 dead time 3 × interval + (256 − 100)/256 × interval = 180.5 ms or 361 ms. The master's \
                 port is cut; the client pings every 2 ms."
            .into(),
        rows,
        notes: vec![
            "At the same advert rate, the backup's skew is carpd's free setting, as the backup's priority is keepalived's. With backup skews 15 and 28 carpd's dead time is 175.8 ms and 328 ms, a little under keepalived's; these two rows carry the goals. The 16/32 rows (187.5 ms, 375 ms: longer than keepalived's) are shown for comparison and carry none.".into(),
            "Within each row the outage varies by up to one advert interval (51 or 102 ms) with the moment of the cut relative to the last advert; with five runs, differences between implementations smaller than that are within the noise.".into(),
            "At 0.1 s adverts no implementation can stay under 200 ms: three missed adverts take 300 ms. That row is held against keepalived only.".into(),
        ],
    })
}

/// A fresh LAN where host 2 (advskew 50, no preempt) is master alone, with `ip monitor
/// address` running on hosts 1 and 2: the start of both preemption scenarios.
fn host2_master_alone(o: &Options, daemon: Daemon) -> Result<Lab> {
    let lab = Lab::new(PREFIX, SUBNET, 3)?;
    let vip = lab.address(100);
    peers::start(&lab, &o.carpd, daemon, 2, member(1, 50, false, 0), "b")?;
    if !wait_until(Duration::from_secs(20), || lab.holders(vip) == [2]) {
        bail!("{daemon:?}: host 2 never master");
    }
    monitor(&lab, 1)?;
    monitor(&lab, 2)?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(lab)
}

/// Scenario 4: how long both hold the VIP when a better node with --preempt joins.
pub fn preemption(o: &Options) -> Result<Section> {
    let mut overlap: BTreeMap<&str, Samples> = BTreeMap::new();
    for _ in 0..o.reps {
        for daemon in [Daemon::Carpd, Daemon::Ucarp, Daemon::CarpdNative] {
            let lab = host2_master_alone(o, daemon)?;
            let vip = lab.address(100);
            peers::start(&lab, &o.carpd, daemon, 1, member(1, 0, true, 0), "m")?;
            if !wait_until(Duration::from_secs(20), || lab.holders(vip) == [1]) {
                bail!("{daemon:?}: no preemption:\n{}", lab.log("m"));
            }
            std::thread::sleep(Duration::from_millis(300));
            let added = address_events(&lab.log("mon1"), vip)
                .into_iter()
                .find(|e| e.1)
                .map(|e| e.0);
            let removed = address_events(&lab.log("mon2"), vip)
                .into_iter()
                .find(|e| !e.1)
                .map(|e| e.0);
            if let (Some(a), Some(r)) = (added, removed) {
                // Positive: both held it; negative: nobody did for that long.
                overlap
                    .entry(daemon.name())
                    .or_default()
                    .push((r - a) * 1000.0);
                println!("preempt {}: {:.1} ms", daemon.name(), (r - a) * 1000.0);
            }
        }
    }
    let get = |d: Daemon| overlap.get(d.name()).cloned().unwrap_or_default();
    let clamp = |s: Samples| Samples(s.0.into_iter().map(|v| v.max(0.0)).collect());
    Ok(Section {
        title: "4. Preemption overlap".into(),
        method: "Host 2 (advskew 50) is master alone; host 1 (advskew 0, --preempt) starts. `ip -ts \
                 monitor address` on both hosts times the VIP's arrival on host 1 and its removal from \
                 host 2. Overlap = removal − arrival, counted as 0 when the removal came first; the \
                 signed value shows which came first (negative: a gap with no holder)."
            .into(),
        rows: vec![
            row("both hold the VIP (scripts)", "ms", clamp(get(Daemon::Carpd)), "ucarp", clamp(get(Daemon::Ucarp)), Goal::AtMost(10.0), 1),
            row("both hold the VIP (carpd native)", "ms", clamp(get(Daemon::CarpdNative)), "ucarp", clamp(get(Daemon::Ucarp)), Goal::AtMost(10.0), 1),
            row("removal − arrival, signed (scripts)", "ms", get(Daemon::Carpd), "ucarp", get(Daemon::Ucarp), Goal::None, 1),
            row("removal − arrival, signed (carpd native)", "ms", get(Daemon::CarpdNative), "ucarp", get(Daemon::Ucarp), Goal::None, 1),
        ],
        notes: vec![
            "carpd takes over from a live master only once its up script (or native add) is done, then sends its first advert; the old master steps down on receipt. Both hold the VIP from the new master's add until the old master's removal: one advert's trip plus the old master's down script (a fork and exec of `ip` with scripts, a netlink request natively). A gap with no holder is the alternative, and the worse one.".into(),
            "ucarp's new master runs its up script (and sends a GARP) before its first advert, so the old master keeps the VIP for the script's run time plus its own reaction: both hold it for tens of milliseconds, and up to a second when the old master reads the advert late through its libpcap ring.".into(),
            "Goal missed with scripts, by design of issue 14: the ≤ 10 ms goal was set when carpd advertised before its up script ran, which kept the overlap near 0 by risking a gap (the previous report's signed median was −2.7 ms, down to −5.6 ms: no holder at all). Now the overlap is the old master's down script up to its `ip addr del`; the lab's scripts first log their argv and every descriptor (a readlink per descriptor) and then run `ip`, about 10 ms here. A down script that removes the VIP first, or native mode (0.2 ms), stays under the goal.".into(),
        ],
    })
}

/// The longest stretches between `from` and `to` with no holder and with two or more, from
/// holder intervals `(host, start, end)`, in milliseconds.
fn holder_stretches(intervals: &[(usize, f64, f64)], from: f64, to: f64) -> (f64, f64) {
    let mut edges: Vec<(f64, i32)> = intervals
        .iter()
        .flat_map(|&(_, s, e)| [(s.max(from), 1), (e.min(to), -1)])
        .filter(|&(t, _)| t <= to)
        .collect();
    // At equal times, ends before starts: a hand-over in the same instant is no overlap.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut count, mut at, mut none, mut two) = (0, from, 0.0f64, 0.0f64);
    for (t, delta) in edges.into_iter().chain([(to, 0)]) {
        match count {
            0 => none = none.max(t - at),
            c if c >= 2 => two = two.max(t - at),
            _ => {}
        }
        count += delta;
        at = t;
    }
    (none * 1000.0, two * 1000.0)
}

/// Scenario 4b: preemption when the preempting host's scripts are slow.
pub fn slow_scripts(o: &Options) -> Result<Section> {
    let cases = [
        (
            "up script sleeps 5 s, then adds the VIP",
            "sleep 5\nip addr add \"$2\"/24 dev \"$1\"\nexit 0",
            None,
        ),
        (
            "start-up down script sleeps 8 s",
            "ip addr add \"$2\"/24 dev \"$1\"\nexit 0",
            Some("sleep 8\nip addr del \"$2\"/24 dev \"$1\" 2>/dev/null\nexit 0"),
        ),
    ];
    let reps = o.reps.min(3);
    let mut rows = Vec::new();
    for (name, up_body, down_body) in cases {
        let mut none: BTreeMap<&str, Samples> = BTreeMap::new();
        let mut two: BTreeMap<&str, Samples> = BTreeMap::new();
        for _ in 0..reps {
            for daemon in [Daemon::Carpd, Daemon::Ucarp] {
                let lab = host2_master_alone(o, daemon)?;
                let vip = lab.address(100);
                let up = lab.script("slow-up", up_body)?;
                let down = match down_body {
                    Some(body) => lab.script("slow-down", body)?,
                    None => lab.vip_scripts("m")?.1,
                };
                let start = now();
                peers::start_with(
                    &lab,
                    &o.carpd,
                    daemon,
                    1,
                    member(1, 0, true, 0),
                    "m",
                    Some((up, down)),
                )?;
                if !wait_until(Duration::from_secs(30), || lab.holders(vip) == [1]) {
                    bail!(
                        "{daemon:?}: no preemption with slow scripts:\n{}",
                        lab.log("m")
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
                let end = now();
                let (n, t) = holder_stretches(&holder_intervals(&lab, 2, start, end), start, end);
                println!(
                    "slow scripts, {name}, {}: no holder {n:.1} ms, two holders {t:.1} ms",
                    daemon.name()
                );
                none.entry(daemon.name()).or_default().push(n);
                two.entry(daemon.name()).or_default().push(t);
            }
        }
        let get =
            |m: &BTreeMap<&str, Samples>, d: Daemon| m.get(d.name()).cloned().unwrap_or_default();
        rows.push(row(
            &format!("{name}: longest time without a holder"),
            "ms",
            get(&none, Daemon::Carpd),
            "ucarp",
            get(&none, Daemon::Ucarp),
            Goal::AtMost(500.0),
            1,
        ));
        rows.push(row(
            &format!("{name}: longest time with two holders"),
            "ms",
            get(&two, Daemon::Carpd),
            "ucarp",
            get(&two, Daemon::Ucarp),
            Goal::None,
            1,
        ));
    }
    Ok(Section {
        title: "4b. Preemption with slow scripts".into(),
        method: format!(
            "As scenario 4 (host 2 master alone, host 1 with --preempt starts), but host 1's scripts are slow: \
             an up script that works for 5 s before it adds the VIP, or a start-up down script that takes 8 s. \
             `ip -ts monitor address` on both hosts gives who held the VIP when, from host 1's start until \
             0.5 s after it holds the VIP alone. {reps} repetitions."
        ),
        rows,
        notes: vec![
            "carpd takes over from a live master only when its queued scripts are done: until then it says MASTER but sends no advert, so the old master serves; its first advert follows the up script, and the old master steps down on it. The overlap is then the old master's own down script.".into(),
            "ucarp gets the same order because its scripts block the whole process: the start-up down script delays everything, and the up script runs before the first advert.".into(),
        ],
    })
}

/// Scenario 6: memory and CPU of master and backup.
pub fn footprint(o: &Options) -> Result<Section> {
    let daemons = [Daemon::Carpd, Daemon::Ucarp, Daemon::Keepalived];
    let results: Vec<Result<(Daemon, [Samples; 6])>> = std::thread::scope(|scope| {
        let handles: Vec<_> = daemons
            .iter()
            .enumerate()
            .map(|(i, &daemon)| {
                scope.spawn(move || -> Result<(Daemon, [Samples; 6])> {
                    let mut s: [Samples; 6] = Default::default();
                    for _ in 0..o.reps.min(3) {
                        let lab = Lab::new(&format!("{PREFIX}f{i}"), SUBNET + 1 + i as u8, 3)?;
                        pair(
                            o,
                            &lab,
                            (daemon, daemon),
                            member(1, 0, false, 200),
                            member(1, 50, false, 100),
                        )?;
                        let procs = |host: usize| pids_named(&lab.host(host).ns, daemon.comm());
                        let cpu = |host: usize| {
                            procs(host)
                                .iter()
                                .filter_map(|&p| cpu_seconds(p))
                                .sum::<f64>()
                        };
                        let wakes = |host: usize| {
                            procs(host).iter().filter_map(|&p| switches(p)).sum::<f64>()
                        };
                        let (m0, b0) = (cpu(1), cpu(2));
                        let (mw, bw) = (wakes(1), wakes(2));
                        std::thread::sleep(o.footprint);
                        let secs = o.footprint.as_secs_f64();
                        s[0].push(procs(1).iter().filter_map(|&p| rss_kib(p)).sum());
                        s[1].push(procs(2).iter().filter_map(|&p| rss_kib(p)).sum());
                        s[2].push((cpu(1) - m0) / secs * 3600.0);
                        s[3].push((cpu(2) - b0) / secs * 3600.0);
                        s[4].push((wakes(1) - mw) / secs);
                        s[5].push((wakes(2) - bw) / secs);
                    }
                    Ok((daemon, s))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("thread panicked")))
            })
            .collect()
    });
    let mut by: BTreeMap<&str, [Samples; 6]> = BTreeMap::new();
    for r in results {
        let (d, s) = r?;
        by.insert(d.name(), s);
    }
    let get = |d: Daemon, i: usize| by.get(d.name()).map(|s| s[i].clone()).unwrap_or_default();
    let mut rows = Vec::new();
    for peer in [Daemon::Ucarp, Daemon::Keepalived] {
        for (i, (metric, unit, digits)) in [
            ("master RSS", "KiB", 0),
            ("backup RSS", "KiB", 0),
            ("master CPU", "s/hour", 2),
            ("backup CPU", "s/hour", 2),
            ("master wake-ups", "per s", 1),
            ("backup wake-ups", "per s", 1),
        ]
        .into_iter()
        .enumerate()
        {
            // Issue 13: an idle carpd costs no more CPU than ucarp.
            let goal = if peer == Daemon::Ucarp && unit == "s/hour" {
                Goal::NoWorseThanPeer
            } else {
                Goal::None
            };
            rows.push(row(
                metric,
                unit,
                get(Daemon::Carpd, i),
                peer.name(),
                get(peer, i),
                goal,
                digits,
            ));
        }
    }
    Ok(Section {
        title: "6. Footprint".into(),
        method: format!(
            "A pair at advbase 1 (keepalived: advert_int 1), idle, the three implementations at once on \
             separate LANs; RSS at the end and CPU (user + system, all of a daemon's processes) over {} s, \
             scaled to an hour.",
            o.footprint.as_secs()
        ),
        rows,
        notes: vec![
            "keepalived runs a parent and a VRRP child process; both are counted.".into(),
            "Wake-ups are context switches (voluntary and not) of every thread: an idle daemon's CPU \
             is mostly the cost of being woken, so this is where its CPU goes."
                .into(),
            "Before issue 13: the build of commit ebaf6fa, in this scenario on this machine on \
             2026-12-04 (`carpd-lab bench --only footprint --carpd` that build, medians of 3): master \
             1.27 (1.22–1.30) s/hour and 2.5 wake-ups per second, backup 0.46 (0.44–0.47) s/hour, \
             against ucarp's 0.67 and 0.27 in that run (1.88 and 1.72 times). tokio's timer wheel \
             woke the loop two or three times per advert (once per coarse slot on the way to the \
             deadline, once more through its eventfd when the loop registered an earlier \
             deadline), and a 5 s drop-log interval woke it even with nothing to log. The deadline \
             is now one timerfd armed at the absolute time, the drop log has a deadline only while \
             it holds unlogged drops, and a read that finds nothing clears the socket's readiness \
             instead of costing a second read: one wake-up and four system calls per advert \
             (epoll_wait, read of the timerfd, sendto, timerfd_settime; ucarp makes six). What \
             remains above ucarp is user time: perf on the master puts 40 % of its samples in \
             carpd's own code (the async runtime's poll of every source and the engine's pass \
             over its groups, from cold caches once a second) where ucarp's loop is a few \
             system calls; the kernel's part (the send through the bridge, the wake-up) is \
             the same for both.".into(),
            "Since then the loop polls its sources in place instead of building and dropping a \
             select of 15 futures at every wake (same machine, 2026-12-04, `--only footprint \
             --reps 3`, build before against build after): master 0.90 → 0.91 s/hour, backup \
             0.33 → 0.29, RSS 6.36 → 6.18 MiB. The master did not move: perf (cpu-clock at 25 kHz) \
             puts about 100 µs of each of its adverts in user space against ucarp's 30 (tokio's \
             park, I/O and time drivers and the engine's pass, from cold caches), and the kernel \
             charges the master's send with waking the backup carpd (about 14 µs), which \
             ucarp's master never pays: ucarp's backup reads adverts from a libpcap ring that \
             wakes it once a second, which is also why it reacts a second late.".into(),
            "RSS is mostly code: the kernel maps a program's code 64 KiB around each page it \
             first runs (fault-around), and the code a one-group carpd runs was scattered over \
             its 3.7 MiB of `.text`, so 3.0 MiB of it was mapped. The release build now lays the \
             functions that run out together (`crates/daemon/symbol-order.txt`, see \
             docs/architecture.md), about 1.5 MiB mapped. The same source linked without and \
             with the order, back to back on this machine (2026-12-06, `--only footprint --reps \
             3`): master RSS 5,972 → 4,080 KiB (ucarp 5,416 and 5,424 in the same runs), master \
             CPU 0.59 → 0.54 s/hour (ucarp 0.46 and 0.44), backup CPU 0.32 and 0.32 (ucarp 0.20 \
             and 0.19). Both backups used twice what the run before (issue 32, part 7) measured \
             (0.17), and so did keepalived's (0.21 against 0.11), which points to the machine's \
             cost of a wake-up rather than to the build."
                .into(),
            "An idle master's user space, counted by callgrind with a cache model too small to \
             keep anything from one advert to the next (4 KiB first-level caches, 8 KiB last \
             level, so each line an advert touches counts about once), over 30 s after 8 s of \
             warm-up, on 2026-12-06: lines from memory (code + data read + data written) 22,904 + \
             6,340 + 5,763 = 35,007 before the two changes below, 18,725 + 3,964 + 2,853 = 25,542 \
             after them, ucarp 7,936 + 3,038 + 341 = 11,315; instructions 462,158 and 240,788, \
             ucarp 389,962. Two changes: a send wrote 64 zeroed frame headers (4 KiB) to send one \
             frame, and the loop now polls its signals and channels only when their own wakers \
             fired. That loop change had been tried twice and left out; the second time, three \
             `--only thousands --reps 3` runs back to back gave 1.35 and 1.36 % of a core with it \
             against 1.17 without, but alternated four times on one machine it gave 0.89 \
             and 0.94 with it, 0.92 and 0.93 without. Under valgrind SHA-1 runs without the CPU's \
             SHA instructions (2,250 of carpd's code lines above), which the native build uses. \
             What remains is code: the loop, the engine's pass and tokio's drivers touch about \
             550 lines of code per advert where ucarp's loop touches about 265."
                .into(),
        ],
    })
}

/// Wrong-password adverts from host 3, as a hostile host would send them.
fn hostile(lab: &Lab) -> Vec<Vec<u8>> {
    let vip = lab.address(100);
    let wrong = match Authenticator::new(b"guess", 7, &[vip]) {
        Ok(a) => a,
        Err(_) => return Vec::new(),
    };
    (0..256u64)
        .map(|counter| {
            let carp = CarpRepr {
                vhid: 7,
                advskew: 0,
                demote: 0,
                advbase: 1,
                counter,
                digest: wrong.digest(counter),
            };
            let packet = Advertisement::outgoing(lab.host(3).ip, DEFAULT_GROUP, 1, carp).emit();
            packet.to_vec()
        })
        .collect()
}

/// Scenario 7: a hostile flood at the backup.
pub fn flood(o: &Options) -> Result<Section> {
    let mut rows = Vec::new();
    let seconds = 5u64;
    for rate in [10_000u64, 50_000, 100_000] {
        let mut s: [[Samples; 3]; 2] = Default::default();
        for _ in 0..o.reps.min(2) {
            for (side, daemon) in [(0, Daemon::Carpd), (1, Daemon::Ucarp)] {
                let lab = Lab::new(PREFIX, SUBNET, 3)?;
                let (m, b) = usual();
                let (_, backup) = pair(o, &lab, (daemon, daemon), m, b)?;
                let cpu0 = cpu_seconds(backup.0).unwrap_or(0.0);
                let lines0 = lab.log("b").lines().count();
                let takeovers0 = lab.log("b").matches("Switching to state: MASTER").count();
                let sent = carpd_lab::flood(
                    &lab.host(3).ns,
                    hostile(&lab),
                    rate,
                    Duration::from_secs(seconds),
                )?;
                std::thread::sleep(Duration::from_secs(1));
                let cpu = (cpu_seconds(backup.0).unwrap_or(0.0) - cpu0)
                    / sent.elapsed.as_secs_f64()
                    * 100.0;
                let log = lab.log("b");
                let takeovers = log.matches("Switching to state: MASTER").count() - takeovers0
                    + usize::from(lab.holders(lab.address(100)) != [1]);
                s[side][0].push(cpu);
                s[side][1].push((log.lines().count() - lines0) as f64);
                s[side][2].push(takeovers as f64);
                println!(
                    "flood {rate}/s {}: cpu {cpu:.0} %, {} lines, {takeovers} takeovers",
                    daemon.name(),
                    log.lines().count() - lines0
                );
            }
        }
        let [c, u] = s;
        let [c_cpu, c_lines, c_take] = c;
        let [u_cpu, u_lines, u_take] = u;
        rows.push(row(
            &format!("{rate}/s: backup CPU"),
            "%",
            c_cpu,
            "ucarp",
            u_cpu,
            Goal::None,
            0,
        ));
        rows.push(row(
            &format!("{rate}/s: log lines"),
            "lines",
            c_lines,
            "ucarp",
            u_lines,
            Goal::None,
            0,
        ));
        rows.push(row(
            &format!("{rate}/s: false takeovers"),
            "count",
            c_take,
            "ucarp",
            u_take,
            Goal::AtMost(0.0),
            0,
        ));
    }
    Ok(Section {
        title: "7. Hostile flood at a backup".into(),
        method: format!(
            "A pair at advbase 1; a third host sends adverts for the group with a wrong password (and a \
             bow-out timing, which would make a backup take over if it were believed) for {seconds} s at each \
             rate. CPU is the backup's over the flood; log lines are what the backup wrote meanwhile; a false \
             takeover is a backup that became master or a VIP no longer on the master only."
        ),
        rows,
        notes: vec!["ucarp logs one \"Bad digest\" line per packet; carpd counts drops per kind and logs at most one line per kind every 5 s, naming the sender.".into()],
    })
}

/// Scenario 3b: a sub-second soak with no spurious transition, carpd and keepalived at once.
pub fn soak(o: &Options) -> Result<Section> {
    let results: Vec<Result<(Daemon, f64)>> = std::thread::scope(|scope| {
        [Daemon::Carpd, Daemon::Keepalived]
            .into_iter()
            .enumerate()
            .map(|(i, daemon)| {
                scope.spawn(move || -> Result<(Daemon, f64)> {
                    let lab = Lab::new(&format!("{PREFIX}s{i}"), SUBNET + 5 + i as u8, 3)?;
                    let (m, b) = match daemon {
                        Daemon::Keepalived => {
                            (member(0, 13, false, 200), member(0, 13, false, 100))
                        }
                        _ => (member(0, 13, false, 0), member(0, 15, false, 0)),
                    };
                    let daemon = if daemon == Daemon::Carpd {
                        Daemon::CarpdNative
                    } else {
                        daemon
                    };
                    pair(o, &lab, (daemon, daemon), m, b)?;
                    std::thread::sleep(Duration::from_secs(1));
                    let count = |log: &str| {
                        let l = lab.log(log);
                        l.matches("Switching to state").count() + l.matches("Entering ").count()
                    };
                    let before = count("m") + count("b");
                    std::thread::sleep(o.soak);
                    let spurious = count("m") + count("b") - before
                        + usize::from(lab.holders(lab.address(100)) != [1]);
                    Ok((daemon, spurious as f64))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("thread panicked")))
            })
            .collect()
    });
    let mut c = Samples::default();
    let mut k = Samples::default();
    for r in results {
        let (d, v) = r?;
        if d == Daemon::Keepalived {
            k.push(v)
        } else {
            c.push(v)
        }
    }
    Ok(Section {
        title: "3b. Sub-second soak".into(),
        method: format!(
            "carpd at advbase 0, advskew 13/15 (50.8 ms adverts, 175.8 ms dead time, native VIP) and keepalived at advert_int 0.05, side by \
             side on the same machine for {} s while nothing fails; every state change after the first \
             election is spurious.",
            o.soak.as_secs()
        ),
        rows: vec![row("spurious transitions", "count", c, "keepalived", k, Goal::AtMost(0.0), 0)],
        notes: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::holder_stretches;

    #[test]
    fn stretches_without_and_with_two_holders() {
        // Host 2 holds 0–5 s, host 1 from 4.9 s: 100 ms of two holders, no gap.
        let (none, two) = holder_stretches(&[(2, 0.0, 5.0), (1, 4.9, 9.0)], 1.0, 9.0);
        assert_eq!(none, 0.0);
        assert!((two - 100.0).abs() < 1e-6, "{two}");
        // Host 2 leaves at 5 s, host 1 arrives at 5.25 s: a 250 ms gap.
        let (none, two) = holder_stretches(&[(2, 0.0, 5.0), (1, 5.25, 9.0)], 1.0, 9.0);
        assert!((none - 250.0).abs() < 1e-6, "{none}");
        assert_eq!(two, 0.0);
        // Nobody at all between the bounds.
        assert_eq!(holder_stretches(&[], 1.0, 2.0).0, 1000.0);
    }
}
