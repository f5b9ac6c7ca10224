//! Scenarios 14 and 15: VRRPv2 against keepalived at its defaults (crash and planned
//! handover at 1 s), and the migration of a running keepalived VRRPv2 pair to carpd and then
//! to VRRPv3, node by node, as the README's runbook does it: what a client sees at each step.

use crate::observe::now;
use crate::peers::{self, Daemon};
use crate::report::{row, Section};
use crate::scenarios::member;
use crate::stats::{Goal, Samples};
use crate::vrrp3::{alternate, Fault};
use crate::Options;
use anyhow::{bail, Context, Result};
use carpd_lab::{wait_until, Lab, Pid, ProbeReport};
use std::path::PathBuf;
use std::time::Duration;

/// Scenario 14.
pub fn vrrp2(o: &Options) -> Result<Section> {
    let mut rows = Vec::new();
    for fault in [Fault::Crash, Fault::Stop] {
        let (carpd, keepalived) = alternate(
            o,
            [Daemon::CarpdVrrp2, Daemon::KeepalivedV2],
            ((1, 0), false, fault),
            "vrrp2",
        )?;
        let what = match fault {
            Fault::Crash => "crash (port cut)",
            Fault::Stop => "planned (SIGTERM, priority 0)",
        };
        rows.push(row(
            &format!("advert_interval 1 s, {what}: client's longest gap"),
            "ms",
            carpd,
            "keepalived (VRRPv2)",
            keepalived,
            Goal::None,
            0,
        ));
    }
    Ok(Section {
        title: "14. VRRPv2 against keepalived at its defaults".into(),
        method: "A pair of carpd (`protocol = \"vrrp2\"`, `password`, VIP managed natively) and a pair of \
                 keepalived 2.2.7 at its default version (VRRPv2, `auth_type PASS`), each alone on a fresh LAN \
                 with the same settings: priorities 200 and 100, preempt, advert_int 1. The master's switch port \
                 is cut (the backup waits Master_Down_Interval = 3 × 1 s + 156/256 s = 3.61 s) or it gets \
                 SIGTERM (priority 0: the backup waits its Skew_Time, 609 ms). The client pings every 2 ms."
            .into(),
        rows,
        notes: vec![
            "RFC 3768 fixes both waits from the priority (its Skew_Time does not scale with the interval), so the ratio is the check, as for VRRPv3.".into(),
        ],
    })
}

/// A TCP stream from host 3 to the VIP: a server on hosts 1 and 2 writes a line every 10 ms
/// to each client; the client reconnects at once when its stream ends and logs `down EPOCH`
/// each time one ends.
const SERVER: &str = r#"
import socket, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7070))
s.listen(8)
def feed(c):
    try:
        while True:
            c.sendall(b"x" * 64 + b"\n")
            time.sleep(0.01)
    except OSError:
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=feed, args=(c,), daemon=True).start()
"#;
const CLIENT: &str = r#"
import socket, sys, time
vip = sys.argv[1]
while True:
    try:
        c = socket.create_connection((vip, 7070), timeout=1)
        print("up", time.time(), flush=True)
        c.settimeout(2)
        while c.recv(4096):
            pass
    except OSError:
        pass
    print("down", time.time(), flush=True)
    time.sleep(0.05)
"#;

/// One step of the migration: what is done, and when it started and ended (epoch seconds).
struct Step {
    what: &'static str,
    from: f64,
    to: f64,
}

/// The migration's hosts: keepalived or carpd on hosts 1 and 2, the client on 3.
struct Migration<'a> {
    o: &'a Options,
    lab: Lab,
    steps: Vec<Step>,
    keepalived: [Option<Pid>; 2],
    carpd: [Option<PathBuf>; 2],
}

impl Migration<'_> {
    /// Runs `change` as the step `what`, then waits `settle` for its effect to pass.
    fn step(
        &mut self,
        what: &'static str,
        settle: Duration,
        change: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let from = now();
        change(self).with_context(|| what.to_string())?;
        std::thread::sleep(settle);
        self.steps.push(Step {
            what,
            from,
            to: now(),
        });
        println!("migration: {what}");
        Ok(())
    }

    /// keepalived on `host` stops (SIGTERM) and carpd starts there from `carpctl import
    /// keepalived` of the same file.
    fn swap(&mut self, host: usize) -> Result<()> {
        let pid = self.keepalived[host - 1].take().context("no keepalived")?;
        self.lab.signal(pid, nix::sys::signal::Signal::SIGTERM);
        self.lab.wait_exit(pid, Duration::from_secs(10));
        let conf = self.lab.dir().join(format!("k{host}.conf"));
        let carpctl = self.o.carpd.with_file_name("carpctl");
        let out = std::process::Command::new(&carpctl)
            .args(["import", "keepalived"])
            .arg(&conf)
            .output()
            .with_context(|| format!("running {}", carpctl.display()))?;
        if out.status.code() != Some(0) {
            bail!("import: {}", String::from_utf8_lossy(&out.stderr));
        }
        let toml = self.lab.carpd_config(
            &format!("c{host}.toml"),
            &format!("\n{}", String::from_utf8_lossy(&out.stdout)),
        )?;
        self.lab.start_carpd_config(
            &self.o.carpd,
            self.lab.host(host),
            &toml,
            &format!("c{host}"),
        )?;
        self.carpd[host - 1] = Some(toml);
        Ok(())
    }

    /// Edits carpd's config on `host` (`from` → `to`) and reloads it.
    fn reload(&self, host: usize, edits: &[(&str, &str)]) -> Result<()> {
        let path = self.carpd[host - 1].clone().context("no carpd")?;
        let mut text = std::fs::read_to_string(&path)?;
        for (from, to) in edits {
            if !text.contains(from) {
                bail!("{} has no {from:?}", path.display());
            }
            text = text.replacen(from, to, 1);
        }
        std::fs::write(&path, text)?;
        let socket = self.lab.dir().join(format!("c{host}.toml.sock"));
        let out = std::process::Command::new(self.o.carpd.with_file_name("carpctl"))
            .arg("--socket")
            .arg(&socket)
            .arg("reload")
            .output()?;
        if !out.status.success() {
            bail!("reload: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Waits until only `host` holds the VIP.
    fn held_by(&self, host: usize) -> Result<()> {
        let vip = self.lab.address(100);
        if !wait_until(Duration::from_secs(15), || self.lab.holders(vip) == [host]) {
            bail!(
                "holders {:?}, expected [{host}]\n{}\n{}",
                self.lab.holders(vip),
                self.lab.log("c1"),
                self.lab.log("c2")
            );
        }
        Ok(())
    }
}

/// Pings lost in `[from, to)` (epoch seconds) at one every `every`: each gap between two
/// replies longer than one and a half intervals counts its missing replies.
fn lost(report: &ProbeReport, every: Duration, from: f64, to: f64) -> f64 {
    let epochs = report.reply_epochs();
    let step = every.as_secs_f64();
    // A gap belongs to the step in which its first missing reply was due.
    let missing: f64 = epochs
        .windows(2)
        .filter(|w| (from..to).contains(&(w[0] + 1.5 * step)))
        .map(|w| w[1] - w[0])
        .filter(|gap| *gap > 1.5 * step)
        .map(|gap| (gap / step).round() - 1.0)
        .sum();
    missing + 0.0
}

/// Scenario 15.
pub fn migration(o: &Options) -> Result<Section> {
    const EVERY: Duration = Duration::from_millis(10);
    let lab = Lab::new("bnm", 98, 3)?;
    let vip = lab.address(100);
    let mut m = Migration {
        o,
        lab,
        steps: Vec::new(),
        keepalived: [None, None],
        carpd: [None, None],
    };
    // The running estate: keepalived VRRPv2 with a password, host 1 preferred.
    for (host, priority) in [(1usize, 200u8), (2, 100)] {
        let conf = peers::keepalived_conf(
            &m.lab,
            &format!("k{host}"),
            member(1, 0, true, priority),
            true,
        )?;
        m.keepalived[host - 1] = Some(m.lab.start_keepalived(
            m.lab.host(host),
            &conf,
            &format!("k{host}"),
        )?);
        if host == 1 && !wait_until(Duration::from_secs(20), || m.lab.holders(vip) == [1]) {
            bail!("keepalived: no master\n{}", m.lab.log("k1"));
        }
    }
    for host in [1, 2] {
        m.lab.spawn(
            m.lab.host(host),
            "python3",
            &["-c", SERVER],
            &format!("server{host}"),
        )?;
    }
    std::thread::sleep(Duration::from_secs(2));
    let probe = m.lab.probe(m.lab.host(3), vip, EVERY)?;
    let vip_text = vip.to_string();
    m.lab.spawn(
        m.lab.host(3),
        "python3",
        &["-c", CLIENT, &vip_text],
        "stream",
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let settle = Duration::from_secs(5);
    m.step(
        "1. the backup: keepalived stops, carpd starts from the imported file",
        settle,
        |m| m.swap(2),
    )?;
    m.step(
        "2. demote the keepalived master: carpd's priority raised to 250 (reload)",
        settle,
        |m| {
            m.reload(2, &[("priority = 100", "priority = 250")])?;
            m.held_by(2)
        },
    )?;
    m.step(
        "3. the old master: keepalived stops, carpd starts from the imported file",
        settle,
        |m| m.swap(1),
    )?;
    m.step(
        "4. hand back to host 1: host 2's priority back to 100 (reload)",
        settle,
        |m| {
            m.reload(2, &[("priority = 250", "priority = 100")])?;
            m.held_by(1)
        },
    )?;
    m.step(
        "5. host 2 (backup) to VRRPv3 with vrrp2_compat (reload: the group restarts)",
        settle,
        |m| {
            m.reload(
                2,
                &[(
                    "protocol = \"vrrp2\"",
                    "protocol = \"vrrp3\"\nvrrp2_compat = true",
                )],
            )
        },
    )?;
    m.step("6. host 1 hands over to host 2 (priority 50, reload), then to VRRPv3 with vrrp2_compat, then back (priority 200)", settle, |m| {
        m.reload(1, &[("priority = 200", "priority = 50")])?;
        m.held_by(2)?;
        std::thread::sleep(Duration::from_secs(2));
        m.reload(1, &[("protocol = \"vrrp2\"", "protocol = \"vrrp3\"\nvrrp2_compat = true")])?;
        std::thread::sleep(Duration::from_secs(3));
        m.reload(1, &[("priority = 50", "priority = 200")])?;
        m.held_by(1)
    })?;
    m.step(
        "7. vrrp2_compat and the password off on both (reload, in place)",
        settle,
        |m| {
            let off = [
                ("vrrp2_compat = true\n", ""),
                ("password = \"bench\"\n", ""),
            ];
            m.reload(2, &off)?;
            m.reload(1, &off)
        },
    )?;
    m.step(
        "8. crash of the master (host 1's switch port cut): the election's own wait",
        settle,
        |m| {
            m.lab.set_port(m.lab.host(1), false)?;
            m.held_by(2)
        },
    )?;
    let report = probe.finish()?;
    let stream = m.lab.log("stream");
    let downs: Vec<f64> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("down "))
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let mut rows = Vec::new();
    for s in &m.steps {
        let pings = lost(&report, EVERY, s.from, s.to);
        let resets = downs
            .iter()
            .filter(|d| **d >= s.from && **d <= s.to)
            .count();
        println!("{}: {pings} pings lost, {resets} stream resets", s.what);
        rows.push(row(
            &format!("{}: pings lost (every 10 ms)", s.what),
            "pings",
            Samples(vec![pings]),
            "",
            Samples::default(),
            if s.what.starts_with("8.") {
                Goal::None
            } else {
                Goal::AtMost(0.0)
            },
            0,
        ));
        rows.push(row(
            &format!("{}: TCP stream to the VIP reset", s.what),
            "times",
            Samples(vec![resets as f64]),
            "",
            Samples::default(),
            Goal::None,
            0,
        ));
    }
    Ok(Section {
        title: "15. Moving a keepalived VRRPv2 pair to carpd, then to VRRPv3".into(),
        method: "A running keepalived 2.2.7 pair at its defaults (VRRPv2, `auth_type PASS`, priorities 200 and 100, \
                 1 s adverts) is replaced node by node as the README's runbook says: each node's keepalived.conf goes \
                 through `carpctl import keepalived`, the backup is swapped first, the master is demoted by raising the \
                 carpd node's priority, then swapped; then each node moves to VRRPv3 with `vrrp2_compat` while it is \
                 backup, and compatibility is turned off. A client pings the VIP every 10 ms and holds a TCP stream to it \
                 (a server on both nodes writes a line every 10 ms; the client reconnects at once). One run."
            .into(),
        rows,
        notes: vec![
            "A TCP stream is to the host that holds the VIP: when the VIP moves to the other host (steps 2, 4, 6, 8) that host has no such connection and resets it; the client reconnects at once. No VRRP daemon keeps it without connection-tracking sync (the conntrackd issue).".into(),
            "Step 8 is a crash: the backup waits Master_Down_Interval (3 × 1 s + Skew_Time), so about 360 pings are lost there by design, and the client's reconnections fail until the backup holds the VIP (each failed attempt counts as a reset).".into(),
        ],
    })
}
