//! Reading what happened, as seconds since the Unix epoch: `ip -ts monitor address` lines,
//! `tcpdump -tt` lines, and the daemons' own log lines.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::UNIX_EPOCH;

/// Now, in seconds since the epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub use carpd_lab::parse_stamp;

/// When `vip` was added (`true`) or removed (`false`), from `ip -ts monitor address` output.
pub fn address_events(monitor: &str, vip: Ipv4Addr) -> Vec<(f64, bool)> {
    let needle = format!("inet {vip}/");
    monitor
        .lines()
        .filter(|l| l.starts_with('[') && l.contains(&needle))
        .filter_map(|l| {
            let end = l.find(']')?;
            let at = parse_stamp(&l[1..end])?;
            Some((at, !l[end..].contains("Deleted")))
        })
        .collect()
}

/// The times of the adverts sent by `source`, from `tcpdump -tt -n` output.
pub fn adverts_from(tcpdump: &str, source: Ipv4Addr) -> Vec<f64> {
    let needle = format!(" IP {source} > ");
    tcpdump
        .lines()
        .filter(|l| l.contains(&needle) && l.contains("VRRP"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The times of the adverts of each vrid (vhid), from `tcpdump -tt -n` output (tcpdump shows
/// CARP as VRRPv2).
pub fn adverts_by_vrid(tcpdump: &str) -> BTreeMap<u8, Vec<f64>> {
    let mut out: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
    for line in tcpdump.lines().filter(|l| l.contains("VRRP")) {
        let at = line.split_whitespace().next().and_then(|t| t.parse().ok());
        let vrid = line
            .split(", ")
            .find_map(|field| field.strip_prefix("vrid ")?.parse().ok());
        if let (Some(at), Some(vrid)) = (at, vrid) {
            out.entry(vrid).or_default().push(at);
        }
    }
    out
}

/// The longest stretch within `from..to` without a time of `times` (sorted): the whole span
/// when there is none.
pub fn longest_gap(times: &[f64], from: f64, to: f64) -> f64 {
    let inside = times.iter().copied().filter(|&t| t > from && t < to);
    let mut last = from;
    let mut longest: f64 = 0.0;
    for t in inside.chain(std::iter::once(to)) {
        longest = longest.max(t - last);
        last = t;
    }
    longest
}

/// The times of log lines containing `needle` (carpd's `...Z: [LEVEL] text` and ucarp's
/// `...: [LEVEL] text` both start with the time stamp).
pub fn log_times(log: &str, needle: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| parse_stamp(l.split(": [").next()?))
        .collect()
}

/// CPU seconds used so far by process `pid`, all threads: the scheduler's
/// `se.sum_exec_runtime` (microsecond precision), or user + system clock ticks (10 ms) where
/// the kernel does not show it.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let precise: Option<f64> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|task| {
            let sched = std::fs::read_to_string(task.ok()?.path().join("sched")).ok()?;
            let line = sched
                .lines()
                .find(|l| l.starts_with("se.sum_exec_runtime"))?;
            line.split(':').nth(1)?.trim().parse::<f64>().ok()
        })
        .map(|ms| ms / 1000.0)
        .reduce(|a, b| a + b);
    precise.or_else(|| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        Some(ticks / hz as f64)
    })
}

/// Context switches of every thread of process `pid` so far (voluntary and not): each wake-up
/// of an idle daemon is one.
pub fn switches(pid: i32) -> Option<f64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.ok()?.path().join("status")).ok()?;
            let count = |key: &str| -> Option<f64> {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))?
                    .trim()
                    .parse()
                    .ok()
            };
            Some(count("voluntary_ctxt_switches:")? + count("nonvoluntary_ctxt_switches:")?)
        })
        .reduce(|a, b| a + b)
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: i32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Proportional set size of process `pid` in KiB: its private pages plus its share of pages
/// mapped by other processes too.
pub fn pss_kib(pid: i32) -> Option<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The processes of namespace `ns` whose command name is `comm`.
pub fn pids_named(ns: &str, comm: &str) -> Vec<i32> {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", ns])
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        let base = parse_stamp("2026-11-23T15:30:53.350743").unwrap();
        assert!((parse_stamp("2026-11-23T15:30:53.350743Z").unwrap() - base).abs() < 1e-9);
        let mon = "[2026-11-23T15:30:53.355313] 1: lo    inet 10.99.99.1/32 scope global lo\n       valid_lft forever\n[2026-11-23T15:30:53.358057] Deleted 1: lo    inet 10.99.99.1/32 scope global lo\n";
        let ev = address_events(mon, Ipv4Addr::new(10, 99, 99, 1));
        assert_eq!(ev.len(), 2);
        assert!(ev[0].1 && !ev[1].1);
        assert!((ev[1].0 - ev[0].0 - 0.002744).abs() < 1e-6);
        let dump = "1700000000.250000 IP 10.77.0.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 7, prio 0, authtype none, intvl 1s, length 36\n";
        assert_eq!(
            adverts_from(dump, Ipv4Addr::new(10, 77, 0, 11)),
            [1_700_000_000.25]
        );
        let log = "2026-11-23T15:30:53.350743Z: [WARNING] Switching to state: MASTER\n2026-11-23T15:30:54.000000: [WARNING] Switching to state: MASTER\n";
        assert_eq!(log_times(log, "Switching to state: MASTER").len(), 2);
        assert!(cpu_seconds(std::process::id() as i32).is_some());
        assert!(rss_kib(std::process::id() as i32).unwrap() > 0.0);
        assert!(pss_kib(std::process::id() as i32).unwrap() > 0.0);
        let two = "1.0 IP 10.77.0.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 7, prio 0, authtype none, intvl 1s, length 36\n\
                   1.5 IP 10.77.0.12 > 224.0.0.18: VRRPv2, Advertisement, vrid 255, prio 50, authtype none, intvl 1s, length 36\n\
                   2.0 IP 10.77.0.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 7, prio 200, intvl 100cs, length 12\n";
        let by = adverts_by_vrid(two);
        assert_eq!(by[&7], [1.0, 2.0]);
        assert_eq!(by[&255], [1.5]);
        assert_eq!(longest_gap(&by[&7], 0.5, 2.25), 1.0);
        assert_eq!(longest_gap(&by[&7], 0.0, 5.0), 3.0);
        assert_eq!(longest_gap(&[], 1.0, 4.0), 3.0);
    }
}
