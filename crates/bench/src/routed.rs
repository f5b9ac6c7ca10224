//! Scenario 11: across a router. Two nodes in two subnets hold a VIP on `lo` and their BIRD
//! (the package's example) announces it by eBGP to the router's BIRD; a client in a third
//! subnet pings it. carpd (`vip_interface = "lo"`, unicast peers) against keepalived (`dev lo`,
//! `unicast_peer`), both VRRPv3 with the same timing: a crash (the holder's link cut at the router,
//! then SIGKILL) and a planned handover (SIGTERM), with the share of BGP in each outage.

use crate::observe::{address_events, now};
use crate::peers::Daemon;
use crate::report::{row, Section};
use crate::scenarios::{jitter, outage_ms};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Result};
use carpd_lab::bgp::{self, Example};
use carpd_lab::{wait_until, Lab, Pid};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Its own routed network: 10.77.98.0/24 (h1), .99 (h2), .100 (client); the VIP in .101.
const PREFIX: &str = "bnr";
const SUBNET: u8 = 98;

/// VRRPv3 timing of both pairs: advert_interval 0.1 s, priorities 200 and 100.
const INTERVAL: f64 = 0.1;
const PRIORITIES: [u8; 2] = [200, 100];

/// The backup's Master_Down_Interval in ms (RFC 9568: 3 × interval + Skew_Time, Skew_Time =
/// (256 − priority) × interval / 256).
fn master_down_ms() -> f64 {
    (3.0 * INTERVAL + f64::from(256 - u16::from(PRIORITIES[1])) * INTERVAL / 256.0) * 1000.0
}

/// How the master goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGKILL and its link cut at the router
    Crash,
    /// SIGTERM: priority 0, the backup takes over after Skew_Time
    Stop,
}

/// Starts `daemon` on node `host` (1 or 2) with the VIP on lo and the other node as its
/// unicast peer; its log is `n<host>`.
fn start(lab: &Lab, o: &Options, daemon: Daemon, host: usize, vip: Ipv4Addr) -> Result<Pid> {
    let me = lab.host(host).clone();
    let peer = lab.host(3 - host).ip;
    let priority = PRIORITIES[host - 1];
    let dir = lab.dir();
    let log = format!("n{host}");
    match daemon {
        Daemon::CarpdVrrp3 => {
            let conf = lab.carpd_config(
                &format!("{log}.toml"),
                &format!(
                    "\n[[group]]\nname = \"api\"\nprotocol = \"vrrp3\"\n\
                     interface = \"eth0\"\nvhid = 7\nvips = [\"{vip}/32\"]\nvip_interface = \"lo\"\n\
                     priority = {priority}\nadvert_interval = {INTERVAL}\npreempt = true\n\
                     peers = [\"{peer}\"]\nunicast_ttl_check = false\n"
                ),
            )?;
            lab.start_carpd_config(&o.carpd, &me, &conf, &log)
        }
        Daemon::Keepalived => {
            let conf = dir.join(format!("{log}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "global_defs {{\n  router_id {log}\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\n\
                     vrrp_instance api {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 7\n  \
                     priority {priority}\n  advert_int {INTERVAL}\n  unicast_src_ip {}\n  \
                     unicast_peer {{\n    {peer} min_ttl 1 max_ttl 255\n  }}\n  \
                     virtual_ipaddress {{\n    {vip}/32 dev lo\n  }}\n}}\n",
                    me.ip
                ),
            )?;
            lab.start_keepalived(&me, &conf, &log)
        }
        other => bail!("{other:?} has no unicast peers: it cannot cross a router"),
    }
}

/// What one failover showed: the client's outage and the BGP share, in ms.
struct Failover {
    outage: f64,
    bgp: f64,
}

/// One failover of a `daemon` pair on a fresh routed network, h2 running `second`.
fn failover(
    o: &Options,
    daemon: Daemon,
    fault: Fault,
    second: Example,
    rep: usize,
) -> Result<Failover> {
    let lab = Lab::routed(PREFIX, SUBNET, 3)?;
    let vip = Ipv4Addr::new(10, 77, SUBNET + 3, 10);
    bgp::start_fabric(&lab, second, vip)?;
    let first = start(&lab, o, daemon, 1, vip)?;
    // The second starts once the first holds the VIP, so that no start-up race decides.
    if !wait_until(Duration::from_secs(15), || lab.holders_on("lo", vip) == [1]) {
        bail!(
            "{daemon:?}: h1 never held the VIP alone:\n{}",
            lab.log("n1")
        );
    }
    start(&lab, o, daemon, 2, vip)?;
    let h1 = lab.host(1).ip;
    if !wait_until(Duration::from_secs(15), || {
        bgp::route_via(&lab, vip) == Some(h1) && lab.holders_on("lo", vip) == [1]
    }) {
        bail!(
            "{daemon:?}: not settled on h1:\n{}\n{}",
            lab.log("n1"),
            lab.log("n2")
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    lab.spawn(lab.host(2), "ip", &["-ts", "monitor", "address"], "addr2")?;
    bgp::monitor_routes(&lab, "routes")?;
    let probe = lab.probe(lab.host(3), vip, Duration::from_millis(2))?;
    std::thread::sleep(jitter(rep) / 3);
    let at = now();
    match fault {
        Fault::Crash => {
            // The link first: keepalived's VRRP process outlives a killed parent long enough
            // to send priority 0, which would make this a planned stop.
            lab.set_port(lab.host(1), false)?;
            lab.signal(first, nix::sys::signal::Signal::SIGKILL);
        }
        Fault::Stop => lab.signal(first, nix::sys::signal::Signal::SIGTERM),
    }
    let h2 = lab.host(2).ip;
    if !wait_until(Duration::from_secs(15), || {
        bgp::route_via(&lab, vip) == Some(h2)
    }) {
        bail!(
            "{daemon:?} {fault:?}: the route never moved to h2:\n{}",
            lab.log("n2")
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let outage = outage_ms(&probe.finish()?, at);
    let added = address_events(&lab.log("addr2"), vip)
        .into_iter()
        .find(|(t, added)| *added && *t >= at)
        .map(|(t, _)| t);
    let routed = bgp::route_events(&lab.log("routes"), vip)
        .into_iter()
        .find(|(t, via)| *via == Some(h2) && *t >= at)
        .map(|(t, _)| t);
    let (Some(added), Some(routed)) = (added, routed) else {
        bail!(
            "{daemon:?} {fault:?}: no VIP add on h2 or no route change seen:\n{}\n{}",
            lab.log("addr2"),
            lab.log("routes")
        );
    };
    Ok(Failover {
        outage,
        bgp: (routed - added) * 1000.0,
    })
}

/// Scenario 11.
pub fn routed(o: &Options) -> Result<Section> {
    let down = master_down_ms();
    let mut rows = Vec::new();
    let cases = [
        (Fault::Crash, Example::Bird),
        (Fault::Stop, Example::Bird),
        (Fault::Stop, Example::Frr),
    ];
    for (fault, second) in cases {
        let mut outage = [Samples::default(), Samples::default()];
        let mut share = [Samples::default(), Samples::default()];
        for rep in 0..o.reps {
            for (i, daemon) in [Daemon::CarpdVrrp3, Daemon::Keepalived]
                .into_iter()
                .enumerate()
            {
                let f = failover(o, daemon, fault, second, rep)?;
                println!(
                    "routed {fault:?} {second:?} {} rep {rep}: outage {:.0} ms, BGP {:.1} ms",
                    daemon.name(),
                    f.outage,
                    f.bgp
                );
                outage[i].push(f.outage);
                share[i].push(f.bgp);
            }
        }
        let [carpd, keepalived] = outage;
        let [carpd_bgp, keepalived_bgp] = share;
        let (what, goal) = match fault {
            Fault::Crash => (
                "crash (link cut at the router, SIGKILL)",
                Goal::AtMost(((down + 300.0) / 10.0).round() * 10.0),
            ),
            Fault::Stop => ("planned (SIGTERM, priority 0)", Goal::AtMost(200.0)),
        };
        let what = match second {
            Example::Bird => what.to_string(),
            Example::Frr => format!("{what}, new master announcing with FRR"),
        };
        rows.push(row(
            &format!("{what}: client's longest gap across the router"),
            "ms",
            carpd,
            "keepalived",
            keepalived,
            goal,
            0,
        ));
        rows.push(row(
            &format!("{what}: of it, BGP (VIP on the new master's lo → route on the router)"),
            "ms",
            carpd_bgp,
            "keepalived",
            keepalived_bgp,
            Goal::None,
            1,
        ));
    }
    Ok(Section {
        title: "11. Across a router (VIP on lo, announced by BGP)".into(),
        method: format!(
            "Three subnets joined by one router running BIRD 2 (AS 65000); the two nodes in two of them, \
             each running BIRD 2 with the package's example `bird.conf` (eBGP, only the VIP /32 exported \
             from `lo`), a client in the third pinging the VIP every 2 ms. A carpd pair (VRRPv3, \
             `vip_interface = \"lo\"`, unicast `peers`, `unicast_ttl_check = false`) and a keepalived pair \
             (`vrrp_version 3`, `unicast_peer` with `min_ttl 1`, `dev lo`), each on a fresh network with \
             advert_interval {INTERVAL} s and priorities 200 and 100. The master's link is cut at the router and \
             it is killed (SIGKILL) (the backup waits Master_Down_Interval, {down:.0} ms), or stopped \
             (SIGTERM: priority 0, Skew_Time {:.0} ms). The BGP share is the time from the VIP appearing \
             on the new master's `lo` (`ip -ts monitor address` there) to the router's route to it \
             moving (`ip -ts monitor route` on the router). In the FRR rows the node that takes over \
             runs FRR 8.4 (zebra and bgpd with the package's example `frr.conf`) instead of BIRD.",
            f64::from(256 - u16::from(PRIORITIES[1])) * INTERVAL / 256.0 * 1000.0
        ),
        rows,
        notes: vec![
            "The goals are the issue's: a crash costs the dead time plus at most 0.3 s, a planned handover at most 0.2 s. A crash gap is shorter than Master_Down_Interval by the time since the master's last advert (up to one interval), longer by the BGP share and the probe's 2 ms.".into(),
        ],
    })
}
