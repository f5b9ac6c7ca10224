//! Scenario 13: what a file or a client can do to a master's adverts. A VRRPv3 master at
//! advert_interval 0.1 s tracks a file; the file is replaced by a FIFO, then by a 1 GB file,
//! and (carpd) 20,000 connections are held open to its metrics endpoint. The longest gap
//! between its adverts, seen from the other host, is the figure: a loop that blocks on a read
//! or runs out of descriptors shows it at once. keepalived does the same with `track_file`.

use crate::observe::{adverts_from, longest_gap, now};
use crate::report::{row, Section};
use crate::stats::{Goal, Samples};
use crate::Options;
use anyhow::{bail, Context as _, Result};
use carpd_lab::{wait_until, Lab};
use std::path::Path;
use std::time::Duration;

/// Its own LAN, 10.77.98.0/24.
const PREFIX: &str = "bnt";
const SUBNET: u8 = 98;
/// How long each phase is watched.
const PHASE: Duration = Duration::from_secs(4);
/// The metrics port carpd serves in this scenario.
const METRICS_PORT: u16 = 9645;

/// Holds `argv[1]` TCP connections to 127.0.0.1:`argv[2]` for `argv[3]` seconds (three run
/// side by side, 7,000 each, under a descriptor limit of 20,000 per process).
const HOLD: &str = r#"
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
count, port, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(count):
    try:
        s = socket.socket()
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        held.append(s)
    except OSError:
        s.close()
print(len(held), flush=True)
time.sleep(hold)
"#;

/// Which master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Master {
    Carpd,
    Keepalived,
}

/// What is done to the master during one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    Fifo,
    HugeFile,
    MetricsConnections,
}

impl Trouble {
    fn label(self) -> &'static str {
        match self {
            Trouble::Fifo => "tracker file replaced by a FIFO",
            Trouble::HugeFile => "tracker file replaced by a 1 GB file",
            Trouble::MetricsConnections => "20,000 connections held to the metrics endpoint",
        }
    }
}

/// Starts the master on host 1: VRRPv3 priority 200, 0.1 s, tracking `file` with weight 10
/// (a failed check lowers its priority; alone on the LAN it stays master).
fn start(o: &Options, lab: &Lab, master: Master, file: &Path) -> Result<()> {
    let vip = lab.address(100);
    match master {
        Master::Carpd => {
            let conf = lab.carpd_config(
                "m.toml",
                &format!(
                    "metrics_listen = \"127.0.0.1:{METRICS_PORT}\"\n\n\
                     [[tracker]]\nname = \"maint\"\nfile = \"{}\"\ninterval = 0.1\nweight = 10\n\n\
                     [[group]]\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 7\nvips = [\"{vip}/24\"]\n\
                     priority = 200\nadvert_interval = 0.1\ntrack = [\"maint\"]\n",
                    file.display()
                ),
            )?;
            lab.start_carpd_config(&o.carpd, lab.host(1), &conf, "m")?;
        }
        Master::Keepalived => {
            let conf = lab.dir().join("m.conf");
            std::fs::write(
                &conf,
                format!(
                    "global_defs {{\n  router_id m\n  vrrp_version 3\n}}\n\
                     track_file maint {{\n  file {}\n  weight 10\n}}\n\
                     vrrp_instance bench {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 7\n  \
                     priority 200\n  advert_int 0.1\n  track_file {{\n    maint\n  }}\n  \
                     virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
                    file.display()
                ),
            )?;
            lab.start_keepalived(lab.host(1), &conf, "m")?;
        }
    }
    if !wait_until(Duration::from_secs(15), || {
        lab.has_address(lab.host(1), vip)
    }) {
        bail!("{master:?} did not become master:\n{}", lab.log("m"));
    }
    Ok(())
}

/// Replaces `file` by `trouble` (a FIFO or a sparse 1 GB file), atomically by rename.
fn replace(file: &Path, trouble: Trouble) -> Result<()> {
    let fresh = file.with_extension("new");
    let _ = std::fs::remove_file(&fresh);
    match trouble {
        Trouble::Fifo => {
            nix::unistd::mkfifo(&fresh, nix::sys::stat::Mode::from_bits_truncate(0o600))?
        }
        Trouble::HugeFile => std::fs::File::create(&fresh)?.set_len(1 << 30)?,
        Trouble::MetricsConnections => return Ok(()),
    }
    std::fs::rename(&fresh, file)?;
    Ok(())
}

/// Holds 21,000 connections to the master's metrics endpoint for a phase, from three
/// processes in host 1.
fn hold_connections(lab: &Lab) -> Result<()> {
    let script = lab.dir().join("hold.py");
    std::fs::write(&script, HOLD)?;
    let ns = lab.host(1).ns.clone();
    let holders: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new("ip")
                .args(["netns", "exec", &ns, "python3"])
                .arg(&script)
                .args(["7000", &METRICS_PORT.to_string()])
                .arg(PHASE.as_secs_f64().to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()
        .context("python3")?;
    let mut held = 0;
    for h in holders {
        let out = h.wait_with_output()?;
        held += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap_or(0);
    }
    if held < 20_000 {
        bail!("only {held} connections could be opened");
    }
    Ok(())
}

/// One run: the master's longest advert gap (ms) during each phase, as sent and as received.
fn run(o: &Options, master: Master, troubles: &[Trouble]) -> Result<Vec<(Trouble, f64, f64)>> {
    let lab = Lab::new(PREFIX, SUBNET, 2)?;
    let file = lab.dir().join("maintenance");
    std::fs::write(&file, "0\n")?;
    start(o, &lab, master, &file)?;
    // The master's own timing is seen where it sends; the other host sees what the LAN
    // delivered (on this machine a flood on one namespace's loopback can make the kernel drop
    // a frame between two veths, which is not the master's doing).
    let sent = lab.capture(lab.host(1), "ip proto 112", "sent")?;
    let received = lab.capture(lab.host(2), "ip proto 112", "received")?;
    std::thread::sleep(Duration::from_secs(1));
    let mut spans = Vec::new();
    for &trouble in troubles {
        // Removed first: writing into the FIFO of the phase before would wait for a reader.
        std::fs::remove_file(&file)?;
        std::fs::write(&file, "0\n")?;
        std::thread::sleep(Duration::from_millis(500));
        let from = now();
        if trouble == Trouble::MetricsConnections {
            hold_connections(&lab)?;
        } else {
            replace(&file, trouble)?;
            std::thread::sleep(PHASE);
        }
        spans.push((trouble, from, now()));
    }
    std::thread::sleep(Duration::from_millis(300));
    sent.stop(&lab);
    received.stop(&lab);
    // A gap in a capture that lost frames would be the capture's, not the master's.
    for (capture, which) in [(&sent, "sent"), (&received, "received")] {
        match capture.dropped(&lab) {
            Some(0) => {}
            Some(n) => bail!(
                "the capture of adverts as {which} lost {n} frames: its gaps would be its own"
            ),
            None => bail!("the capture of adverts as {which} did not say how many frames it lost"),
        }
    }
    let sent = adverts_from(&sent.text(&["-tt"])?, lab.host(1).ip);
    let received = adverts_from(&received.text(&["-tt"])?, lab.host(1).ip);
    Ok(spans
        .into_iter()
        .map(|(trouble, from, to)| {
            let gap = |times: &[f64]| 1000.0 * longest_gap(times, from, to);
            (trouble, gap(&sent), gap(&received))
        })
        .collect())
}

/// Scenario 13.
pub fn stalls(o: &Options) -> Result<Section> {
    let all = [
        Trouble::Fifo,
        Trouble::HugeFile,
        Trouble::MetricsConnections,
    ];
    let mut carpd: Vec<Samples> = vec![Samples::default(); all.len()];
    let mut keepalived: Vec<Samples> = vec![Samples::default(); all.len()];
    for rep in 0..o.reps {
        for (master, troubles, samples) in [
            (Master::Carpd, &all[..], &mut carpd),
            // keepalived has no metrics endpoint: only its track_file is put to the test.
            (Master::Keepalived, &all[..2], &mut keepalived),
        ] {
            for (trouble, sent, received) in run(o, master, troubles)? {
                println!(
                    "stalls {master:?} {} rep {rep}: {sent:.0} ms as sent, {received:.0} ms as received",
                    trouble.label()
                );
                samples[all.iter().position(|t| *t == trouble).unwrap_or(0)].push(sent);
            }
        }
    }
    let rows = all
        .iter()
        .zip(carpd.into_iter().zip(keepalived))
        .map(|(trouble, (c, k))| {
            row(
                &format!("{}: the master's longest advert gap", trouble.label()),
                "ms",
                c,
                "keepalived",
                k,
                Goal::AtMost(150.0),
                0,
            )
        })
        .collect();
    Ok(Section {
        title: "13. Stalls: a tracker file or a scrape against the loop".into(),
        method: "One VRRPv3 master alone on a LAN (priority 200, advert_interval 0.1 s), tracking a file \
                 with weight 10 (`[[tracker]] file`, interval 0.1 s; keepalived: `track_file` with weight 10). \
                 The file holds 0; it is then replaced (by rename) by a FIFO with no writer, and by a sparse \
                 1 GB file; for carpd, three processes then open and hold 7,000 TCP connections each to its \
                 metrics endpoint (`metrics_listen`). Each phase lasts 4 s; the figure is the longest time \
                 between two adverts of the master during the phase, captured on the master's own interface \
                 (a phase with no advert at all counts its whole length). Goal: at most 1.5 advert intervals."
            .into(),
        rows,
        notes: vec![
            "keepalived has no metrics endpoint: its column is empty in that row. The bench also prints the gaps as the other host received them. carpd reads a tracker file on a thread of its own, opened non-blocking, and refuses what is not a regular file (a FIFO is a failed check saying so); it reads the first 4 KiB at most. It serves metrics on a thread of its own too, at most 64 connections at once, and answers the rest 503 at once.".into(),
            "The captures run tcpdump in immediate mode, and a run whose capture lost frames fails. Before, libpcap handed frames to tcpdump a ring block at a time (up to 1 s late), and the frames of a block not yet handed over when the capture was stopped were lost without counting as drops (by hand: 40 of 50 frames written; 50 of 50 in immediate mode). The connection flood, the last phase, then showed gaps of 233 to 658 ms that the master never made: a second capture beside it, left running, and an strace of the master's sends every 100 ms showed none.".into(),
        ],
    })
}
