//! What carpd guarantees whatever a file, a peer or a client does (README "What carpd
//! guarantees"): no read of a configured file blocks the loop, nothing carpd did not create is
//! replaced or deleted, what a killed carpd left is cleaned at the next start.

use crate::common::{carpd, expect_holders, lab, start, start_config, stop, write_config};
use crate::common::{Group, Impl, Member};
use crate::control::{adverts, longest_gap, status};
use crate::trackers::{socket_of, tracked, tracker_status};
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::process::Command;
use std::time::{Duration, Instant};

/// `carpd --check-config path`: (exit status, stderr, how long it took).
fn check_config(path: &std::path::Path) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = Command::new(carpd())
        .arg("--check-config")
        .arg(path)
        .output()
        .expect("carpd --check-config");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn check_config_refuses_a_fifo_dev_zero_and_a_control_socket_that_is_a_file_at_once() {
    let dir = std::env::temp_dir().join(format!("carpd-e2e-checkcfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("carpd.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    for (path, kind) in [
        (fifo.as_path(), "a FIFO (named pipe)"),
        (std::path::Path::new("/dev/zero"), "a character device"),
    ] {
        let (code, stderr, took) = check_config(path);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("is {kind}, not a regular file")),
            "{stderr}"
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
    // A typo that names the config file itself as the control socket: refused, left alone.
    let config = dir.join("real.toml");
    let text = format!(
        "[daemon]\ncontrol_socket = \"{}\"\n[[group]]\ninterface = \"lo\"\nvhid = 1\nvips = [\"10.77.140.1\"]\npassword = \"x\"\n",
        config.display()
    );
    std::fs::write(&config, &text).expect("config");
    let (code, stderr, _) = check_config(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is a regular file, not a socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&config).expect("still there"), text);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_tracker_file_turned_fifo_or_huge_is_a_failed_check_and_adverts_stay_on_time() {
    let Some(lab) = lab("gfile", 140, 2, &["tcpdump"]) else {
        return;
    };
    let vip = lab.address(110);
    let file = lab.dir().join("maintenance");
    // weight 10: a failed check lowers the group's standing, it keeps advertising as master.
    let h1 = write_config(
        &lab,
        "h1.toml",
        &(format!(
            "[[tracker]]\nname = \"maint\"\nfile = \"{}\"\ninterval = 0.2\nweight = 10\n\n",
            file.display()
        ) + &tracked("web", 5, vip, 0, "track = [\"maint\"]")),
    );
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let detail = || tracker_status(&socket, "maint")["detail"].clone();
    for (what, make) in [
        (
            "a FIFO",
            Box::new(|p: &std::path::Path| {
                nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .expect("mkfifo")
            }) as Box<dyn Fn(&std::path::Path)>,
        ),
        (
            "a 1 GB file",
            Box::new(|p: &std::path::Path| {
                std::fs::File::create(p)
                    .and_then(|f| f.set_len(1 << 30))
                    .expect("sparse file")
            }),
        ),
    ] {
        let _ = std::fs::remove_file(&file);
        let cap = lab
            .capture(
                lab.host(2),
                "ip proto 112",
                &format!("gfile-{}", what.len()),
            )
            .expect("capture");
        std::thread::sleep(Duration::from_millis(500));
        make(&file);
        std::thread::sleep(Duration::from_secs(4));
        cap.stop(&lab);
        let seen = adverts(&cap.text(&["-tt"]).expect("tcpdump -r"));
        let gap = longest_gap(&seen, 5);
        eprintln!(
            "tracker file is {what}: {} adverts, longest gap {gap:.3} s",
            seen.len()
        );
        assert!(seen.len() >= 3, "{what}: {seen:?}\n{}", lab.log("h1"));
        assert!(gap < 1.5, "{what}: longest advert gap {gap} s");
        let d = detail();
        assert!(
            d.as_str().is_some_and(|d| d.contains("maintenance")
                && (d.contains("is a FIFO (named pipe), not a regular file")
                    || d.contains("not a number"))),
            "{what}: {d}"
        );
        assert_eq!(status(&socket)["web"]["state"], "MASTER");
    }
    // carpctl answers at once meanwhile.
    let started = Instant::now();
    assert_eq!(status(&socket)["web"]["demote"], 10);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_vip_left_by_a_killed_carpd_whose_group_was_removed_is_cleaned_at_start_and_a_live_ones_kept() {
    let Some(lab) = lab("gorph", 141, 1, &[]) else {
        return;
    };
    let removed = lab.address(111);
    let kept = lab.address(112);
    let staying = lab.address(113);
    // A second carpd (command-line mode, vhid 2) holds `kept` on the same interface.
    let other = Group {
        vip: kept,
        native: true,
        ..Group::new(&lab, 2)
    };
    let _cli = start(&lab, Impl::Carpd, 1, &other, 0, false, "cli");
    let h1 = write_config(&lab, "h1.toml", &tracked("gone", 1, removed, 0, ""));
    let first = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, removed, &[1], Duration::from_secs(15), &["h1"]);
    expect_holders(&lab, kept, &[1], Duration::from_secs(15), &["cli"]);
    stop(&lab, &first, Signal::SIGKILL);
    assert_eq!(lab.holders(removed), [1], "SIGKILL leaves the VIP behind");
    // The group is removed from the file; another one on the same interface stays.
    let h1 = write_config(&lab, "h1.toml", &tracked("stays", 3, staying, 0, ""));
    let _second = start_config(&lab, 1, &h1, "h1b");
    expect_holders(&lab, staying, &[1], Duration::from_secs(15), &["h1b"]);
    assert_eq!(
        lab.holders(removed),
        Vec::<usize>::new(),
        "{}",
        lab.log("h1b")
    );
    assert!(
        lab.log("h1b").contains(&format!(
            "Removed stale virtual IP {removed}/32 from eth0: it carries carpd's mark"
        )),
        "{}",
        lab.log("h1b")
    );
    // The live carpd's VIP is its own: left alone.
    assert_eq!(lab.holders(kept), [1], "{}", lab.log("h1b"));
    assert!(
        !lab.log("h1b").contains(&kept.to_string()),
        "{}",
        lab.log("h1b")
    );
}

/// Opens `count` idle TCP connections to 127.0.0.1:9643 from inside host 1 and holds them
/// `hold` seconds, then opens one that sends a header byte a second; prints how many
/// connected, how many were answered 503 at once, and after how many seconds the slow one
/// was closed (or "open").
const FLOOD: &str = r#"
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
count, hold = int(sys.argv[1]), float(sys.argv[2])
held, refused = [], 0
for _ in range(count):
    try:
        s = socket.socket()
        s.settimeout(0.2)
        s.connect(("127.0.0.1", 9643))
        held.append(s)
    except OSError:
        s.close()
time.sleep(0.5)
for s in held:
    s.setblocking(False)
    try:
        if s.recv(64).startswith(b"HTTP/1.1 503"):
            refused += 1
    except OSError:
        pass
time.sleep(hold)
for s in held:
    s.close()
time.sleep(0.2)
slow = socket.create_connection(("127.0.0.1", 9643), timeout=1)
start, closed = time.time(), "open"
for ch in b"GET /metrics HTTP/1.1\r\nHost: x\r\n" * 4:
    if time.time() - start > 20:
        break
    try:
        slow.send(bytes([ch]))
        slow.settimeout(1.0)
        if slow.recv(64) == b"":
            closed = "%.1f" % (time.time() - start)
            break
    except socket.timeout:
        pass
    except OSError:
        closed = "%.1f" % (time.time() - start)
        break
print(len(held), refused, closed, flush=True)
"#;

fn rss_kib(pid: carpd_lab::Pid) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", pid.0))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_flood_of_metrics_connections_is_bounded_and_never_delays_control_or_adverts() {
    let _heavy = crate::common::heavy();
    let Some(lab) = lab("gmet", 142, 2, &["python3", "tcpdump"]) else {
        return;
    };
    let vip = lab.address(115);
    let h1 = write_config(&lab, "h1.toml", &tracked("web", 6, vip, 0, ""));
    let text = std::fs::read_to_string(&h1).expect("config").replacen(
        "[daemon]\n",
        "[daemon]\nmetrics_listen = \"127.0.0.1:9643\"\n",
        1,
    );
    std::fs::write(&h1, text).expect("config");
    let m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let before = rss_kib(m1.pid);
    let cap = lab
        .capture(lab.host(2), "ip proto 112", "gmet")
        .expect("capture");
    let script = lab.dir().join("flood.py");
    std::fs::write(&script, FLOOD).expect("script");
    let flood = std::thread::spawn({
        let ns = lab.host(1).ns.clone();
        let script = script.clone();
        move || {
            Command::new("ip")
                .args(["netns", "exec", &ns, "python3"])
                .arg(&script)
                .args(["2000", "4"])
                .output()
                .expect("python3")
        }
    });
    // While the connections are held, carpctl answers at once.
    std::thread::sleep(Duration::from_secs(3));
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(status(&socket)["web"]["state"], "MASTER");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "carpctl status took {took:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = flood.join().expect("flood");
    cap.stop(&lab);
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!(
        "metrics flood (connected, answered 503, slow client closed after s): {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&str> = report.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{report}");
    let connected: usize = fields[0].parse().expect("count");
    let refused: usize = fields[1].parse().expect("count");
    assert!(connected >= 1000, "{report}");
    assert!(
        refused >= connected - 64 - 128,
        "beyond the 64 served, connections are answered 503 at once: {report}"
    );
    let closed: f64 = fields[2].parse().unwrap_or(f64::MAX);
    assert!(
        (4.0..9.0).contains(&closed),
        "a client sending a header byte a second is closed after the 5 s header timeout: {report}"
    );
    let gap = longest_gap(&adverts(&cap.text(&["-tt"]).expect("tcpdump -r")), 6);
    assert!(gap < 1.5, "longest advert gap {gap} s during the flood");
    // Memory comes back: the connections are gone once the flood ends.
    let after = rss_kib(m1.pid);
    eprintln!("RSS {before} KiB before, {after} KiB after the flood");
    assert!(after < before + 8 * 1024, "RSS {before} -> {after} KiB");
    // And scrapes work again.
    let body = crate::metrics::fetch(&lab, 1, "http://127.0.0.1:9643/metrics");
    assert!(body.contains("carpd_group_state"), "{body}");
}

/// A native carpd pair on vhid 8 at advbase 1: host 1 master (advskew 0), host 2 backup
/// (advskew 100, dead time 3.39 s) that has not taken over 2 s after its start.
fn settled_pair(lab: &Lab) -> (Group, Member, Member) {
    let group = Group {
        native: true,
        ..Group::new(lab, 8)
    };
    let m1 = start(lab, Impl::Carpd, 1, &group, 0, true, "h1");
    expect_holders(lab, group.vip, &[1], Duration::from_secs(15), &["h1"]);
    let m2 = start(lab, Impl::Carpd, 2, &group, 100, true, "h2");
    std::thread::sleep(Duration::from_secs(2));
    let h2 = lab.log("h2");
    assert!(!h2.contains("Switching to state: MASTER"), "{h2}");
    (group, m1, m2)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_backup_stopped_for_5_s_reads_the_queued_adverts_before_its_deadline() {
    let Some(lab) = lab("gstall", 143, 2, &[]) else {
        return;
    };
    let (group, _m1, m2) = settled_pair(&lab);
    let masters = |log: &str| lab.log(log).matches("Switching to state: MASTER").count();
    // A VM pause: the master-down deadline (3 s) falls due while adverts queue up.
    lab.signal(m2.pid, Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(5));
    lab.signal(m2.pid, Signal::SIGCONT);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        masters("h2"),
        0,
        "the backup took over after its pause:\n{}",
        lab.log("h2")
    );
    assert_eq!(lab.holders(group.vip), [1]);
}

/// How a pair is paused: `times` pauses of `pause` of both hosts (a VM whose CPUs the
/// hypervisor held), the backup resumed first and the master `gap` later, `settle` between.
struct Pauses {
    times: usize,
    pause: Duration,
    gap: Duration,
    settle: Duration,
}

/// Pauses the pair as `p` says; the backup (log `h2`) never takes over, and says once per
/// pause why it waits.
fn pause_pair(lab: &Lab, master: &Member, backup: &Member, p: Pauses) {
    for _ in 0..p.times {
        lab.signal(master.pid, Signal::SIGSTOP);
        lab.signal(backup.pid, Signal::SIGSTOP);
        std::thread::sleep(p.pause);
        lab.signal(backup.pid, Signal::SIGCONT);
        std::thread::sleep(p.gap);
        lab.signal(master.pid, Signal::SIGCONT);
        std::thread::sleep(p.settle);
    }
    let log = lab.log("h2");
    assert_eq!(
        log.matches("Switching to state: MASTER").count(),
        0,
        "the backup took over after a pause:\n{log}"
    );
    assert_eq!(
        log.matches("(the machine was paused): the master may have been paused too")
            .count(),
        p.times,
        "the backup says why it waits, once per pause:\n{log}"
    );
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_pause_of_both_hosts_past_the_dead_time_moves_nothing() {
    let Some(lab) = lab("gpause", 148, 2, &[]) else {
        return;
    };
    let (group, m1, m2) = settled_pair(&lab);
    let masters = |log: &str| lab.log(log).matches("Switching to state: MASTER").count();
    // Neither runs for longer than the dead time (3 s), so nothing was sent and nothing is
    // queued. The master's overdue advert follows 0.2 s after the backup resumed (resumed
    // together, the master may be first, and its advert read before the deadline is looked
    // at; the backup then has nothing to wait for). The master advertises as it resumes and
    // every second after, so a settle of 2.5 s stops both half-way between two adverts: a
    // stop on the advert's heels could leave it queued at the backup, which reads it at
    // resume and has nothing to wait for (right, but it says nothing then).
    let pauses = Pauses {
        times: 2,
        pause: Duration::from_secs(4),
        gap: Duration::from_millis(200),
        settle: Duration::from_millis(2500),
    };
    // settled_pair returns about 2 s after the master's first advert: the first pause too
    // begins half-way between two.
    std::thread::sleep(Duration::from_millis(500));
    pause_pair(&lab, &m1, &m2, pauses);
    assert_eq!(lab.holders(group.vip), [1]);
    // A master that died in a pause is still replaced: the deadline is put off only once.
    // (SIGKILL leaves the dead master's VIP on its interface: the backup's log tells.)
    lab.signal(m1.pid, Signal::SIGKILL);
    assert!(
        wait_until(Duration::from_secs(6), || masters("h2") == 1),
        "{}",
        lab.log("h2")
    );
    assert!(lab.holders(group.vip).contains(&2));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn ten_pauses_of_a_fast_pair_past_its_dead_time_move_nothing() {
    let Some(lab) = lab("gfast", 149, 2, &[]) else {
        return;
    };
    let group = Group {
        native: true,
        ..Group::new(&lab, 9)
    };
    // advbase 0: adverts every 50.8 ms (advskew 13) and 58.6 ms (15); h2's dead time 175.8 ms.
    let fast = |host: usize, advskew: u8, log: &str| {
        let mut member = group.member(&lab, advskew, true, log);
        member.advbase = 0;
        let pid = lab
            .start_carp(Impl::Carpd.program(), lab.host(host), &member, log)
            .expect("spawn");
        Member { pid }
    };
    let m1 = fast(1, 13, "h1");
    expect_holders(&lab, group.vip, &[1], Duration::from_secs(5), &["h1"]);
    let m2 = fast(2, 15, "h2");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !lab.log("h2").contains("state: MASTER"),
        "{}",
        lab.log("h2")
    );
    // Past the dead time: the backup (on SCHED_FIFO at these intervals) resumes first, the
    // master 10 ms later, within the 58.6 ms the backup waits.
    let pauses = Pauses {
        times: 10,
        pause: Duration::from_millis(250),
        gap: Duration::from_millis(10),
        settle: Duration::from_millis(500),
    };
    pause_pair(&lab, &m1, &m2, pauses);
    let h1 = lab.log("h1");
    assert_eq!(h1.matches("Switching to state: MASTER").count(), 1, "{h1}");
    assert_eq!(lab.holders(group.vip), [1]);
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_master_that_cannot_add_its_vip_faults_bows_out_and_retries() {
    let Some(lab) = lab("gperm", 144, 2, &["setpriv"]) else {
        return;
    };
    let vip = lab.address(116);
    // h1 is preferred and preempts, but runs without CAP_NET_ADMIN (a unit whose bounding
    // set lacks it): every add of its VIP fails with EPERM.
    let h1 = write_config(&lab, "h1.toml", &tracked("web", 9, vip, 0, ""));
    let h2 = write_config(&lab, "h2.toml", &tracked("web", 9, vip, 100, ""));
    let config = h1.display().to_string();
    let _m1 = lab
        .spawn(
            lab.host(1),
            "setpriv",
            &[
                "--bounding-set=-net_admin",
                "--inh-caps=-net_admin",
                carpd(),
                "--config",
                &config,
                "-f",
                "none",
            ],
            "h1",
        )
        .expect("spawn");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    // The peer serves the VIP; h1 is in FAULT with the cause, and says so.
    expect_holders(&lab, vip, &[2], Duration::from_secs(20), &["h1", "h2"]);
    let socket = socket_of(&lab, "h1.toml");
    assert!(
        wait_until(Duration::from_secs(10), || {
            status(&socket)["web"]["fault_causes"]
                .as_array()
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.as_str()
                            .is_some_and(|c| c.starts_with("vip add failed: "))
                    })
                })
        }),
        "{}",
        lab.log("h1")
    );
    let log = lab.log("h1");
    assert!(
        log.contains("Cannot add the virtual IPs (Operation not permitted"),
        "{log}"
    );
    // It keeps trying (the back-off doubles from 1 s) and the peer keeps the VIP throughout.
    std::thread::sleep(Duration::from_secs(4));
    let log = lab.log("h1");
    assert!(
        log.matches("Trying again to add the virtual IPs").count() >= 1,
        "{log}"
    );
    assert_eq!(lab.holders(vip), [2], "{log}");
    assert!(!lab.has_address(lab.host(1), vip));
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn under_the_journal_a_line_is_logged_once_through_syslog_not_twice() {
    use std::os::unix::fs::MetadataExt as _;
    let Some(lab) = lab("gjrnl", 146, 1, &[]) else {
        return;
    };
    let group = Group {
        native: true,
        ..Group::new(&lab, 11)
    };
    let run = |log: &str, facility: &str| {
        // systemd names the stream it gives a service in JOURNAL_STREAM (device:inode).
        let path = lab.log_path(log);
        std::fs::File::create(&path).expect("log file");
        let meta = std::fs::metadata(&path).expect("stat");
        let mut args: Vec<String> = vec![
            format!("JOURNAL_STREAM={}:{}", meta.dev(), meta.ino()),
            carpd().to_string(),
        ];
        let mut member = group.member(&lab, 0, false, log).args(lab.host(1).ip);
        let f = member.iter().position(|a| a == "-f").expect("-f");
        member[f + 1] = facility.to_string();
        args.extend(member);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = lab.spawn(lab.host(1), "env", &args, log).expect("spawn");
        std::thread::sleep(Duration::from_secs(2));
        lab.signal(pid, Signal::SIGTERM);
        lab.wait_exit(pid, Duration::from_secs(10));
        lab.log(log)
    };
    // With syslog on, the journal gets each line from syslog: nothing on stderr.
    let with_syslog = run("syslog", "daemon");
    assert!(!with_syslog.contains("[WARNING]"), "{with_syslog}");
    // With syslog off (-f none), stderr is the only way: the lines are there.
    let without = run("stderr", "none");
    assert!(
        without.contains("[WARNING] Switching to state: BACKUP"),
        "{without}"
    );
}

/// VRRPv3 adverts for VRID 12 from host 3 (no member), priority 50, the longest interval.
fn stranger_adverts(lab: &Lab) -> Vec<Vec<u8>> {
    use carpd_proto::advert::ipv4_packet;
    use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr, GROUP_V4};
    let source = lab.host(3).ip;
    let repr = Vrrp3Repr {
        vrid: 12,
        priority: 50,
        interval_cs: 4095,
        addresses: vec![lab.address(117).into()],
    };
    let vrrp = repr.emit(source.into(), GROUP_V4.into(), Checksum::PseudoHeader);
    vec![ipv4_packet(source, GROUP_V4, 255, 1, &vrrp).into_vec()]
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_stranger_moves_no_backup_and_the_readme_nft_rule_keeps_it_out() {
    let Some(lab) = lab("gstrg", 147, 3, &["nft"]) else {
        return;
    };
    let vip = lab.address(117);
    let v3 = |priority: u8| {
        format!(
            "[[group]]\nname = \"v3\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 12\n\
             vips = [\"{vip}/24\"]\npriority = {priority}\nadvert_interval = 0.1\npreempt = true\n"
        )
    };
    let h1 = write_config(&lab, "h1.toml", &v3(200));
    let h2 = write_config(&lab, "h2.toml", &v3(100));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let socket = socket_of(&lab, "h2.toml");
    // The backup follows the master (a backup that knows none takes a worse advert's sender
    // as the master to preempt, as RFC 9568 and keepalived do).
    assert!(wait_until(Duration::from_secs(10), || socket.exists()
        && status(&socket)["v3"]["master"]
            == lab.host(1).ip.to_string()));
    let dropped = || {
        status(&socket)["v3"]["drops"]["not-the-master"]
            .as_u64()
            .unwrap_or(0)
    };
    // 10 adverts a second for 2 s from host 3: set aside, counted, no state change.
    carpd_lab::flood(
        &lab.host(3).ns,
        stranger_adverts(&lab),
        10,
        Duration::from_secs(2),
    )
    .expect("flood");
    assert!(
        wait_until(Duration::from_secs(2), || dropped() >= 15),
        "{}",
        lab.log("h2")
    );
    let log = lab.log("h2");
    assert_eq!(
        log.matches("Switching to state: MASTER").count(),
        0,
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "Advert from {} ignored: the group follows the live master {}",
            lab.host(3).ip,
            lab.host(1).ip
        )),
        "{log}"
    );
    assert_eq!(lab.holders(vip), [1]);
    // The README's rule on host 2: the stranger's packets never reach carpd.
    let rule = format!(
        "table netdev vrrp_guard {{\n chain eth0 {{\n  type filter hook ingress device \"eth0\" priority -500; policy accept;\n  ip protocol 112 ip saddr != {{ {}, {} }} drop\n }}\n}}\n",
        lab.host(1).ip,
        lab.host(2).ip
    );
    let path = lab.dir().join("guard.nft");
    std::fs::write(&path, rule).expect("rule");
    let out = lab
        .run(lab.host(2), "nft", &["-f", &path.display().to_string()])
        .expect("nft");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = dropped();
    carpd_lab::flood(
        &lab.host(3).ns,
        stranger_adverts(&lab),
        10,
        Duration::from_secs(2),
    )
    .expect("flood");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(dropped(), before, "the rule keeps them out");
    // The master's adverts still pass: host 2 follows it.
    assert_eq!(status(&socket)["v3"]["master"], lab.host(1).ip.to_string());
    assert_eq!(status(&socket)["v3"]["state"], "BACKUP");
}
