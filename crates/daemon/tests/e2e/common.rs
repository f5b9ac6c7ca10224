//! Shared helpers: starting carpd or ucarp in a host, waiting for the VIP to move.

use carpd_lab::{wait_until, CarpMember, Host, Lab, Pid};
use std::net::Ipv4Addr;
use std::time::Duration;

/// carpd built by cargo for this test run.
pub fn carpd() -> &'static str {
    env!("CARGO_BIN_EXE_carpd")
}

/// A LAN for one test. A missing prerequisite fails the test: a test that cannot run here is
/// ignored at build time instead (build.rs, `carpd_netns`), so none passes without running.
pub fn lab(prefix: &str, subnet: u8, hosts: usize, tools: &[&str]) -> Option<Lab> {
    let mut all = vec!["ip"];
    all.extend_from_slice(tools);
    prerequisites(prefix, carpd_lab::require(&all))?;
    Some(Lab::new(prefix, subnet, hosts).expect("building the lab"))
}

/// `Some` when `check` passed; a failed check fails the test `prefix`, loudly: the tests
/// that cannot run here were ignored when they were built (build.rs).
pub fn prerequisites(prefix: &str, check: anyhow::Result<()>) -> Option<()> {
    if let Err(e) = check {
        panic!("{prefix}: network-namespace test cannot run: {e:#}");
    }
    Some(())
}

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// ours
    Carpd,
    /// Debian's ucarp 1.5.2
    Ucarp,
}

impl Impl {
    pub fn program(self) -> &'static str {
        match self {
            Impl::Carpd => carpd(),
            Impl::Ucarp => "ucarp",
        }
    }
}

/// One group's settings, shared by every member.
#[derive(Debug, Clone)]
pub struct Group {
    pub vhid: u8,
    pub vip: Ipv4Addr,
    /// password arguments (`-p x` or `-o file`)
    pub pass: Vec<String>,
    /// options every member gets (`-M`, `--mcast=...`, `-x ...`)
    pub extra: Vec<String>,
    /// no scripts: carpd manages the VIP itself
    pub native: bool,
}

impl Group {
    pub fn new(lab: &Lab, vhid: u8) -> Group {
        Group {
            vhid,
            vip: lab.address(100),
            pass: vec!["-p".into(), "secret".into()],
            extra: vec![],
            native: false,
        }
    }
}

/// A running daemon.
#[derive(Debug, Clone)]
pub struct Member {
    pub pid: Pid,
}

impl Group {
    /// This group's member with `advskew`, preempting as asked, with the lab's ip-addr
    /// scripts named after `log` unless the group is native.
    pub fn member(&self, lab: &Lab, advskew: u8, preempt: bool, log: &str) -> CarpMember {
        let mut member = CarpMember::new(self.vhid, self.vip, "");
        member.password = self.pass.clone();
        member.advskew = advskew;
        member.preempt = preempt;
        member.extra = self.extra.clone();
        if !self.native {
            member.scripts = Some(lab.vip_scripts(log).expect("scripts"));
        }
        member
    }
}

/// Starts `which` on host `host` in `group` with `advskew`, preempt as asked, `-z`, and the
/// lab's ip-addr scripts.
pub fn start(
    lab: &Lab,
    which: Impl,
    host: usize,
    group: &Group,
    advskew: u8,
    preempt: bool,
    log: &str,
) -> Member {
    let member = group.member(lab, advskew, preempt, log);
    let pid = lab
        .start_carp(which.program(), lab.host(host), &member, log)
        .expect("spawn");
    Member { pid }
}

/// Waits until exactly `expected` hosts hold `vip`; panics with every log otherwise.
pub fn expect_holders(
    lab: &Lab,
    vip: Ipv4Addr,
    expected: &[usize],
    within: Duration,
    logs: &[&str],
) {
    if !wait_until(within, || lab.holders(vip) == expected) {
        let mut text = String::new();
        for log in logs {
            text.push_str(&format!("--- {log}\n{}\n", lab.log(log)));
        }
        panic!(
            "holders of {vip}: {:?}, expected {expected:?} within {within:?}\n{text}",
            lab.holders(vip)
        );
    }
}

/// Pings `vip` once from `host` so that it has an ARP entry for it.
pub fn ping_once(lab: &Lab, host: &Host, vip: Ipv4Addr) -> bool {
    lab.run(host, "ping", &["-c", "1", "-W", "1", &vip.to_string()])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Waits until `client`'s ARP entry for `vip` is `host`'s MAC (after pinging it).
pub fn expect_client_sees(lab: &Lab, client: usize, vip: Ipv4Addr, host: usize, within: Duration) {
    let mac = lab.mac(lab.host(host));
    let c = lab.host(client).clone();
    let ok = wait_until(within, || {
        ping_once(lab, &c, vip);
        lab.neighbour(&c, vip).as_deref() == Some(mac.as_str())
    });
    assert!(
        ok,
        "client's ARP entry for {vip} is {:?}, expected host {host}'s {mac}",
        lab.neighbour(&c, vip)
    );
}

/// Stops a member with `signal` and waits for it to exit.
pub fn stop(lab: &Lab, member: &Member, signal: nix::sys::signal::Signal) -> Option<i32> {
    lab.signal(member.pid, signal);
    lab.wait_exit(member.pid, Duration::from_secs(10))
}

pub const SETTLE: Duration = Duration::from_secs(15);

/// Tests that need most of this machine's two cores (a 50k pps flood, a Prometheus server)
/// take this, so that they never run at the same time as each other.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The longest stretches seen while watching `vip` for `duration`: with two or more holders,
/// and with none. Polls every host's addresses as fast as `ip` answers (about every 10 ms).
pub fn watch_holders(lab: &Lab, vip: Ipv4Addr, duration: Duration) -> (Duration, Duration) {
    let start = std::time::Instant::now();
    let (mut two_since, mut none_since) = (None, None);
    let (mut longest_two, mut longest_none) = (Duration::ZERO, Duration::ZERO);
    while start.elapsed() < duration {
        let now = std::time::Instant::now();
        let holders = lab.holders(vip).len();
        for (since, active, longest) in [
            (&mut two_since, holders >= 2, &mut longest_two),
            (&mut none_since, holders == 0, &mut longest_none),
        ] {
            if active {
                let s: &mut std::time::Instant = since.get_or_insert(now);
                *longest = (*longest).max(now - *s);
            } else {
                *since = None;
            }
        }
    }
    (longest_two, longest_none)
}

/// Watches `vip` for `duration` and panics with `logs` if it ever had two holders or none.
pub fn expect_settled(lab: &Lab, vip: Ipv4Addr, duration: Duration, logs: &[&str]) {
    let (two, none) = watch_holders(lab, vip, duration);
    let text: Vec<String> = logs.iter().map(|l| lab.log(l)).collect();
    assert_eq!(
        (two, none),
        (Duration::ZERO, Duration::ZERO),
        "two holders, no holder over {duration:?}\n{}",
        text.join("\n")
    );
}

/// Waits until exactly the hosts `want` hold the IPv6 `vip`, then checks that they still do
/// 2 s later (settled, no split brain); panics with `logs` otherwise.
pub fn expect_settled6(lab: &Lab, vip: std::net::Ipv6Addr, want: &[usize], logs: &[&str]) {
    let text = || -> String {
        logs.iter()
            .map(|l| lab.log(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        wait_until(SETTLE, || lab.holders6(vip) == want),
        "holders of {vip}: {:?}, expected {want:?}\n{}",
        lab.holders6(vip),
        text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lab.holders6(vip), want, "not settled\n{}", text());
}

/// Starts carpd on `host` for `vhid` with these (up, down) scripts and extra options (`-z`,
/// no syslog).
pub fn start_with_scripts(
    lab: &Lab,
    host: usize,
    vhid: u8,
    vip: Ipv4Addr,
    (up, down): (&std::path::Path, &std::path::Path),
    extra: &[&str],
    log: &str,
) -> Member {
    let mut member = CarpMember::new(vhid, vip, "secret");
    member.scripts = Some((up.to_path_buf(), down.to_path_buf()));
    member.extra = extra.iter().map(|s| s.to_string()).collect();
    let pid = lab
        .start_carp(carpd(), lab.host(host), &member, log)
        .expect("spawn");
    Member { pid }
}

/// Writes the carpd config `name` in the lab's folder (a control socket of its own, then
/// `text`).
pub fn write_config(lab: &Lab, name: &str, text: &str) -> std::path::PathBuf {
    lab.carpd_config(name, &format!("\n{text}"))
        .expect("writing the config")
}

/// Starts carpd on `host` with the config file `path`.
pub fn start_config(lab: &Lab, host: usize, path: &std::path::Path, log: &str) -> Member {
    let pid = lab
        .start_carpd_config(std::path::Path::new(carpd()), lab.host(host), path, log)
        .expect("spawn");
    Member { pid }
}

/// Starts keepalived in `host` with `conf`, its log under `log` (pid files beside it).
pub fn start_keepalived(lab: &Lab, host: usize, conf: &std::path::Path, log: &str) -> Member {
    let pid = lab
        .start_keepalived(lab.host(host), conf, log)
        .expect("spawn keepalived");
    Member { pid }
}

/// Asserts that `host` took `vip` over within `bounds` of `since` (`what` happened then):
/// prints and returns how long it took; panics with `log` otherwise.
pub fn expect_takeover(
    lab: &Lab,
    vip: Ipv4Addr,
    host: usize,
    since: std::time::Instant,
    bounds: std::ops::Range<Duration>,
    (what, log): (&str, &str),
) -> Duration {
    let held = carpd_lab::wait_until(SETTLE, || lab.has_address(lab.host(host), vip));
    let took = since.elapsed();
    eprintln!("host {host} took {vip} over {took:?} after {what}");
    assert!(
        held && bounds.contains(&took),
        "host {host} took {vip} over {took:?} after {what}: expected {bounds:?}\n{}",
        lab.log(log)
    );
    took
}
