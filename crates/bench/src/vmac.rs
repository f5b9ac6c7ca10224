//! Scenario 18: the virtual MAC, seen by a client that never learns from gratuitous ARP (its
//! entry for the VIP is pinned, `nud permanent`): a pair of carpd with `vmac = true` against a
//! pair of FRR vrrpd (which always answers from the virtual MAC), across a crash and a planned
//! stop of the master; and carpd without `vmac`, where the pinned entry names the old master's
//! own MAC and the client loses the VIP until someone changes it.

use crate::report::{row, Section};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::{frr, wait_until, Lab, Pid};
use std::time::Duration;

/// Its own LAN, 10.77.196.0/24.
const PREFIX: &str = "bnw";
const SUBNET: u8 = 196;
const VRID: u8 = 74;
/// VRRPv3 at 1 s, the backup at priority 100: 3 s + Skew_Time (156/256 s).
const MASTER_DOWN_MS: f64 = 3609.4;
/// How long the client is watched after the fault: without `vmac` it never gets the VIP back.
const WINDOW: Duration = Duration::from_secs(8);
/// How often the client pings the VIP.
const PROBE: Duration = Duration::from_millis(5);

/// Who runs the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    /// carpd, VRRPv3, `vmac = true`
    CarpdVmac,
    /// FRR vrrpd, VRRPv3 (always on its virtual MAC's macvlan)
    Frr,
    /// carpd, VRRPv3, without `vmac`
    CarpdPlain,
}

impl Pair {
    fn name(self) -> &'static str {
        match self {
            Pair::CarpdVmac => "carpd vmac",
            Pair::Frr => "FRR vrrpd",
            Pair::CarpdPlain => "carpd without vmac",
        }
    }
}

/// How the master goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// every process of the master killed, its switch port cut
    Crash,
    /// SIGTERM to the daemon
    Stop,
}

/// Starts `pair`'s member on `host` at `priority`; the pid to stop it with.
fn start(o: &Options, lab: &Lab, pair: Pair, host: usize, priority: u8) -> Result<Pid> {
    let vip = lab.address(100);
    match pair {
        Pair::CarpdVmac | Pair::CarpdPlain => {
            let vmac = if pair == Pair::CarpdVmac {
                "vmac = true\n"
            } else {
                ""
            };
            let conf = lab.carpd_config(
                &format!("c{host}.toml"),
                &format!(
                    "\n[[group]]\nname = \"v\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = {VRID}\n\
                     vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 1\npreempt = true\n{vmac}"
                ),
            )?;
            lab.start_carpd_config(&o.carpd, lab.host(host), &conf, &format!("m{host}"))
        }
        Pair::Frr => {
            let name = format!("m{host}");
            frr::start_vrrpd(lab, lab.host(host), &name, (VRID, 3, priority, 1000), vip)?;
            let pidfile = lab.dir().join(&name).join("vrrpd.pid");
            if !wait_until(Duration::from_secs(10), || pidfile.exists()) {
                bail!(
                    "FRR vrrpd did not start:\n{}",
                    lab.log(&format!("{name}-vrrpd"))
                );
            }
            let pid = std::fs::read_to_string(&pidfile)?;
            Ok(Pid(pid.trim().parse()?))
        }
    }
}

/// Whether `host` holds the VIP (on the virtual MAC's macvlan, or on eth0 without one).
fn holds(lab: &Lab, pair: Pair, host: usize) -> bool {
    let vip = lab.address(100);
    match pair {
        Pair::CarpdVmac => lab.has_address_on(lab.host(host), &format!("vrrp.{VRID}"), vip),
        Pair::CarpdPlain => lab.has_address(lab.host(host), vip),
        // FRR keeps the VIP on its macvlan on both hosts and protodowns the backup's.
        Pair::Frr => {
            frr::vrrp_state(lab, lab.host(host), &format!("m{host}")).as_deref() == Some("Master")
        }
    }
}

/// The MAC of `host`'s eth0.
fn mac_of(lab: &Lab, host: usize) -> Result<String> {
    let out = lab.run(lab.host(host), "cat", &["/sys/class/net/eth0/address"])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The longest time the client went without a reply from `at` on, counting a silence that
/// lasts to the end of the probe.
fn outage_ms(report: &carpd_lab::ProbeReport, at: Duration) -> f64 {
    let mut times: Vec<Duration> = report.replies.clone();
    times.push(report.duration);
    times
        .windows(2)
        .filter(|w| w[1] > at)
        .map(|w| w[1] - w[0])
        .max()
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// One failover of `pair` by `fault`, seen by a pinned client: its outage in ms.
fn failover(o: &Options, pair: Pair, fault: Fault) -> Result<f64> {
    let lab = Lab::new(PREFIX, SUBNET, 3)?;
    let master = start(o, &lab, pair, 1, 200)?;
    if !wait_until(Duration::from_secs(20), || holds(&lab, pair, 1)) {
        bail!(
            "{}: host 1 never became master\n{}",
            pair.name(),
            lab.log("m1")
        );
    }
    start(o, &lab, pair, 2, 100)?;
    std::thread::sleep(Duration::from_secs(5));
    if holds(&lab, pair, 2) {
        bail!("{}: the backup took over from a live master", pair.name());
    }
    let vip = lab.address(100);
    let mac = match pair {
        Pair::CarpdPlain => mac_of(&lab, 1)?,
        Pair::CarpdVmac | Pair::Frr => format!("00:00:5e:00:01:{VRID:02x}"),
    };
    lab.pin_neighbour(lab.host(3), vip, &mac)?;

    let probe = lab.probe(lab.host(3), vip, PROBE)?;
    std::thread::sleep(Duration::from_secs(1));
    let at = probe.elapsed();
    match fault {
        Fault::Crash => {
            lab.kill_all(lab.host(1));
            lab.set_port(lab.host(1), false)?;
        }
        Fault::Stop => lab.signal(master, nix::sys::signal::Signal::SIGTERM),
    }
    if !wait_until(Duration::from_secs(20), || holds(&lab, pair, 2)) {
        bail!("{}: no takeover\n{}", pair.name(), lab.log("m2"));
    }
    std::thread::sleep(WINDOW.saturating_sub(probe.elapsed() - at));
    let report = probe.finish()?;
    Ok(outage_ms(&report, at))
}

/// Scenario 18.
pub fn vmac(o: &Options) -> Result<Section> {
    frr::available("vrrpd")?;
    let mut rows = Vec::new();
    for fault in [Fault::Crash, Fault::Stop] {
        let mut samples: [Samples; 3] = Default::default();
        for rep in 0..o.reps {
            for (i, pair) in [Pair::CarpdVmac, Pair::Frr, Pair::CarpdPlain]
                .into_iter()
                .enumerate()
            {
                let ms = failover(o, pair, fault)?;
                println!("vmac {} {fault:?} rep {rep}: {ms:.0} ms", pair.name());
                samples[i].push(ms);
            }
        }
        let [carpd, frr, plain] = samples;
        let what = match fault {
            Fault::Crash => "crash (processes killed, port cut)",
            Fault::Stop => "planned (SIGTERM, priority 0)",
        };
        let goal = match fault {
            Fault::Crash => Goal::AtMost((MASTER_DOWN_MS + 500.0).round()),
            Fault::Stop => Goal::AtMost(1000.0),
        };
        rows.push(row(
            &format!("{what}: pinned client's longest gap"),
            "ms",
            carpd.clone(),
            Pair::Frr.name(),
            frr,
            goal,
            0,
        ));
        rows.push(row(
            &format!("{what}: pinned client's longest gap, against no vmac"),
            "ms",
            carpd,
            Pair::CarpdPlain.name(),
            plain,
            Goal::None,
            0,
        ));
    }
    Ok(Section {
        title: "18. Virtual MAC: a client that ignores gratuitous ARP".into(),
        method: format!(
            "A pair on a fresh LAN, VRRPv3 at 1 s, priorities 200 and 100, preempt: carpd with `vmac = true`, \
             FRR 8.4 vrrpd (always on a macvlan with the virtual MAC), or carpd without `vmac`. The client's \
             neighbour entry for the VIP is pinned (`nud permanent`) to the virtual MAC, or without `vmac` to \
             the master's own MAC, as a client that ignores gratuitous ARP keeps it; it pings the VIP every \
             {} ms. The master crashes (every process killed, its switch port cut: the backup waits \
             Master_Down, {MASTER_DOWN_MS} ms) or gets SIGTERM (priority 0: the backup waits its Skew_Time, \
             609 ms). The figure is the longest gap between replies after the fault, watched for {} s; a \
             client that never gets a reply again shows the whole window.",
            PROBE.as_millis(),
            WINDOW.as_secs()
        ),
        rows,
        notes: vec![
            "Without `vmac` the pinned client keeps sending to the old master's MAC: it loses the VIP for the whole window (until its entry changes), which is the case `vmac` exists for.".into(),
            "FRR's figures are near zero for another reason than a fast failover. FRR's backup keeps the VIP on its macvlan and only sets that macvlan protodown; once the master's port is gone the switch floods the client's frames for the virtual MAC, and the backup answers them while it is still backup (the master is dead and cut off: every echo got a reply). After SIGTERM the client got every reply across the handover too. carpd keeps a backup's macvlan administratively down, which drops those frames: its client sees the takeover at Master_Down, and no host answers for the VIP that is not master. The goals are carpd's own: Master_Down + 0.5 s after a crash, 1 s after a planned stop.".into(),
        ],
    })
}
