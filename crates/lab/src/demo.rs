//! The demo: a three-host LAN, carpd on two hosts, a client pinging the VIP. The master's
//! host crashes (process killed and switch port cut), the backup takes over, the client's
//! outage is measured; then the first host returns and preempts. Everything is torn down.

use anyhow::{bail, Context, Result};
use carpd_lab::{wait_until, CarpMember, Lab};
use std::path::Path;
use std::time::{Duration, Instant};

const PREFIX: &str = "cdemo";

struct Clock(Instant);

impl Clock {
    fn say(&self, text: &str) {
        println!("[{:>6.2}s] {text}", self.0.elapsed().as_secs_f64());
    }
}

/// Runs the demo with the carpd binary at `carpd`.
pub fn run(carpd: &Path) -> Result<()> {
    carpd_lab::require(&["ip"])?;
    let carpd = carpd.to_str().context("path")?.to_string();
    ctrlc::set_handler(|| {
        carpd_lab::cleanup_prefix(PREFIX);
        std::process::exit(130);
    })?;
    let clock = Clock(Instant::now());
    println!(
        "carpd demo: two carpd nodes share 10.77.0.100 on a throw-away LAN of network namespaces\n"
    );
    let lab = Lab::new(PREFIX, 0, 3)?;
    let (h1, h2, client) = (
        lab.host(1).clone(),
        lab.host(2).clone(),
        lab.host(3).clone(),
    );
    let vip = lab.address(100);
    clock.say(&format!(
        "LAN up: host1 {}, host2 {}, client {} on one bridge",
        h1.ip, h2.ip, client.ip
    ));
    let (up, down) = lab.vip_scripts("demo")?;
    let start = |host: &carpd_lab::Host, skew: u8, log: &str| {
        let mut member = CarpMember::new(10, vip, "demo-secret");
        member.advskew = skew;
        member.preempt = true;
        member.scripts = Some((up.clone(), down.clone()));
        lab.start_carp(&carpd, host, &member, log)
    };
    let p1 = start(&h1, 0, "host1")?;
    let _p2 = start(&h2, 50, "host2")?;
    clock.say("carpd started on host1 (advskew 0, --preempt) and host2 (advskew 50); advbase 1 s");
    if !wait_until(Duration::from_secs(10), || lab.holders(vip) == [1]) {
        bail!("no master after 10 s: host1 log:\n{}", lab.log("host1"));
    }
    clock.say(&format!("host1 is MASTER and holds {vip}; host2 is BACKUP"));
    let probe = lab.probe(&client, vip, Duration::from_millis(10))?;
    std::thread::sleep(Duration::from_secs(2));
    clock.say("client pings the VIP every 10 ms");

    let crash_at = probe.elapsed();
    lab.signal(p1, nix::sys::signal::Signal::SIGKILL);
    lab.set_port(&h1, false)?;
    clock.say("host1 crashes: carpd killed with SIGKILL and its switch port cut");
    if !wait_until(Duration::from_secs(10), || lab.holders(vip).contains(&2)) {
        bail!("host2 never took over: log:\n{}", lab.log("host2"));
    }
    clock.say(&format!("host2 is MASTER and holds {vip}"));
    std::thread::sleep(Duration::from_secs(2));
    let back_at = probe.elapsed();
    lab.set_port(&h1, true)?;
    start(&h1, 0, "host1")?;
    clock.say("host1 comes back: port up, carpd restarted (its startup down-script removes the stale VIP)");
    if !wait_until(Duration::from_secs(10), || lab.holders(vip) == [1]) {
        bail!("host1 did not preempt: log:\n{}", lab.log("host1"));
    }
    clock.say("host1 preempted host2: MASTER again, host2 back to BACKUP");
    std::thread::sleep(Duration::from_secs(2));
    let report = probe.finish()?;

    let gap = |at: Duration| {
        report
            .outage_after(at)
            .map_or(Duration::ZERO, |(a, b)| b - a)
    };
    println!();
    println!(
        "client's view: {} pings, {} replies",
        report.sent, report.received
    );
    println!(
        "  outage at the crash:      {:>7.0} ms  (dead time 3 s + 50/256 s, then takeover and GARP)",
        gap(crash_at).as_secs_f64() * 1000.0
    );
    println!(
        "  outage at the preemption: {:>7.0} ms",
        gap(back_at).as_secs_f64() * 1000.0
    );
    println!("\nhost2's log:");
    for line in lab
        .log("host2")
        .lines()
        .filter(|l| l.contains("Switching") || l.contains("Putting") || l.contains("Preferred"))
    {
        println!("  {line}");
    }
    drop(lab);
    clock.say("LAN torn down");
    Ok(())
}
