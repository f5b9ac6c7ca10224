//! Scenario 10: VRRPv3 over IPv4 and IPv6, carpd against keepalived 2.2.7 with the same
//! settings: a crash (the master's switch port cut) and a planned handover (SIGTERM: priority
//! 0), at advert intervals of 1 s and 0.05 s.

use crate::observe::now;
use crate::peers::Member;
use crate::peers::{self, Daemon};
use crate::report::{row, Section};
use crate::scenarios::{jitter, member, outage_ms, pair, PROBE};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::{wait_until, Lab};
use std::time::Duration;

/// Its own LAN, 10.77.97.0/24 and fd77:97::/64.
const PREFIX: &str = "bnv";
const SUBNET: u8 = 97;

/// How the master goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// its switch port is cut
    Crash,
    /// SIGTERM: it sends priority 0 and leaves
    Stop,
}

/// One failover of a pair of `daemon` at (advbase, advskew) timing, over IPv6 if `ipv6`; the
/// client's longest gap in milliseconds.
pub(crate) fn failover(
    o: &Options,
    daemon: Daemon,
    timing: (u8, u8),
    ipv6: bool,
    fault: Fault,
    rep: usize,
) -> Result<f64> {
    let lab = Lab::new(PREFIX, SUBNET, 3)?;
    if ipv6 {
        // Both daemons start once every link-local address is usable, and the client gets
        // an address on the VIP's prefix.
        for host in 1..=3 {
            if lab.link_local(lab.host(host)).is_none() {
                bail!("host {host} has no usable link-local address");
            }
        }
        lab.add_address6(lab.host(3), lab.address6(3))?;
    }
    let (advbase, advskew) = timing;
    let m = Member {
        ipv6,
        ..member(advbase, advskew, true, 200)
    };
    let b = Member {
        ipv6,
        ..member(advbase, advskew, true, 100)
    };
    let (master, _) = pair(o, &lab, (daemon, daemon), m, b)?;
    let vip = peers::vip(&lab, ipv6);
    let probe = lab.probe(lab.host(3), vip, PROBE)?;
    std::thread::sleep(jitter(rep));
    let at = now();
    match fault {
        Fault::Crash => lab.set_port(lab.host(1), false)?,
        Fault::Stop => lab.signal(master, nix::sys::signal::Signal::SIGTERM),
    }
    if !wait_until(Duration::from_secs(15), || lab.holders_of(vip).contains(&2)) {
        bail!(
            "{daemon:?} {fault:?}: no takeover:\n{}\n{}",
            lab.log("m"),
            lab.log("b")
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    Ok(outage_ms(&probe.finish()?, at))
}

/// `o.reps` failovers of each of `daemons` (carpd first, its peer second), alternating, at
/// `timing` over IPv6 if `ipv6`: carpd's and the peer's samples (printed with `tag`).
pub(crate) fn alternate(
    o: &Options,
    daemons: [Daemon; 2],
    (timing, ipv6, fault): ((u8, u8), bool, Fault),
    tag: &str,
) -> Result<(Samples, Samples)> {
    let mut samples = [Samples::default(), Samples::default()];
    for rep in 0..o.reps {
        for (i, daemon) in daemons.into_iter().enumerate() {
            let g = failover(o, daemon, timing, ipv6, fault, rep)?;
            println!("{tag} {fault:?} {} rep {rep}: {g:.0} ms", daemon.name());
            samples[i].push(g);
        }
    }
    let [carpd, peer] = samples;
    Ok((carpd, peer))
}

/// Scenario 10.
pub fn vrrp3(o: &Options) -> Result<Section> {
    // (label, advbase, advskew): advert_int 1 and 0.05 (13/256 s, written as 0.05).
    let intervals = [("1 s", 1u8, 0u8), ("0.05 s", 0, 13)];
    let mut rows = Vec::new();
    for (family, ipv6) in [("IPv4", false), ("IPv6", true)] {
        for (label, advbase, advskew) in intervals {
            for fault in [Fault::Crash, Fault::Stop] {
                let (carpd, keepalived) = alternate(
                    o,
                    [Daemon::CarpdVrrp3, Daemon::Keepalived],
                    ((advbase, advskew), ipv6, fault),
                    &format!("vrrp3 {family} {label}"),
                )?;
                let what = match fault {
                    Fault::Crash => "crash (port cut)",
                    Fault::Stop => "planned (SIGTERM, priority 0)",
                };
                rows.push(row(
                    &format!("{family}, advert_interval {label}, {what}: client's longest gap"),
                    "ms",
                    carpd,
                    "keepalived",
                    keepalived,
                    Goal::None,
                    0,
                ));
            }
        }
    }
    Ok(Section {
        title: "10. VRRPv3 against keepalived (IPv4 and IPv6)".into(),
        method: "A pair of carpd (`protocol = \"vrrp3\"`, VIP managed natively) and a pair of keepalived \
                 (`vrrp_version 3`), each alone on a fresh LAN with the same settings: priorities 200 and 100, \
                 preempt, advert_interval 1 or 0.05 s, an IPv4 VIP (adverts to 224.0.0.18) or an IPv6 one \
                 (adverts from the link-local address to ff02::12; the new master's Neighbor Advertisement \
                 moves the client). The master's switch port is cut (the backup waits \
                 Master_Down_Interval: 3.61 s or 180 ms), or it gets SIGTERM (it sends priority 0 and the \
                 backup waits its Skew_Time: 609 ms or 30 ms). The client pings (ICMP or ICMPv6 echo) every 2 ms."
            .into(),
        rows,
        notes: vec![
            "VRRPv3 fixes both waits (Master_Down_Interval, Skew_Time) from the priorities and the interval, so two correct implementations can only differ by how fast they notice and act: no goal is set, the ratio is the check. A crash gap varies by up to one advert interval with the moment of the cut; the client's 2 ms probe sets the resolution of every figure.".into(),
        ],
    })
}
