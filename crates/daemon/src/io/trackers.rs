//! The trackers' runtime: each script and file tracker is a task of its own beside the loop,
//! and interface trackers follow the rtnetlink events the loop already reads. They report
//! observations on a channel; counting them against rise and fall is the engine's
//! (`crate::host::tracker_health`). Nothing here runs on the packet or timer path: a check that hangs only
//! holds its own task until its timeout kills it.

use crate::settings::tracking::{Check, TrackerSettings};
use crate::sys::child::{self, Ended};
use crate::sys::iface;
use crate::sys::netlink::NetEvent;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One observation of one tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// the tracker's name
    pub tracker: String,
    /// healthy
    pub ok: bool,
    /// what was seen
    pub detail: String,
}

/// What an interface tracker knows of its interface.
#[derive(Debug)]
struct Watched {
    /// trackers watching it (several may)
    trackers: Vec<String>,
    /// its index while it exists
    index: Option<u32>,
}

/// The running trackers.
#[derive(Debug)]
pub struct Trackers {
    tasks: BTreeMap<String, (TrackerSettings, JoinHandle<()>)>,
    interfaces: BTreeMap<String, Watched>,
    tx: mpsc::UnboundedSender<Observation>,
}

impl Drop for Trackers {
    fn drop(&mut self) {
        for (_, task) in self.tasks.values() {
            task.abort();
        }
    }
}

impl Trackers {
    /// No tracker yet; observations will go to `tx`.
    pub fn new(tx: mpsc::UnboundedSender<Observation>) -> Self {
        Trackers {
            tasks: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            tx,
        }
    }

    /// Runs exactly `trackers`: a task whose settings are unchanged keeps running (and its
    /// rise/fall count in the engine); changed ones restart, removed ones stop. Interface
    /// trackers report their interface's state at once.
    pub fn sync(&mut self, trackers: &[TrackerSettings]) {
        self.tasks.retain(|name, (settings, task)| {
            let keep = trackers.iter().any(|t| t == settings && t.name == *name);
            if !keep {
                task.abort();
            }
            keep
        });
        self.interfaces.clear();
        for t in trackers {
            match &t.check {
                Check::Interface { interface } => {
                    let watched =
                        self.interfaces
                            .entry(interface.clone())
                            .or_insert_with(|| Watched {
                                trackers: Vec::new(),
                                index: None,
                            });
                    watched.trackers.push(t.name.clone());
                    let (ok, detail) = match iface::lookup(interface) {
                        Ok(i) => {
                            watched.index = Some(i.index);
                            link_verdict(i.running)
                        }
                        Err(_) => (false, "does not exist".to_string()),
                    };
                    self.send(&t.name, ok, format!("{interface} {detail}"));
                }
                _ if self.tasks.contains_key(&t.name) => {}
                Check::Script { .. } | Check::File { .. } | Check::Process { .. } => {
                    let task = tokio::spawn(run(t.clone(), self.tx.clone()));
                    self.tasks.insert(t.name.clone(), (t.clone(), task));
                }
            }
        }
    }

    fn send(&self, tracker: &str, ok: bool, detail: String) {
        let _ = self.tx.send(Observation {
            tracker: tracker.to_string(),
            ok,
            detail,
        });
    }

    /// An rtnetlink event: interface trackers of that interface observe it.
    pub fn link_event(&mut self, event: &NetEvent) {
        let mut seen: Vec<(String, bool, String)> = Vec::new();
        match event {
            NetEvent::Link {
                index,
                name,
                running,
                ..
            } => {
                for (interface, w) in self.interfaces.iter_mut() {
                    if interface == name {
                        w.index = Some(*index);
                        let (ok, detail) = link_verdict(*running);
                        seen.extend(
                            w.trackers
                                .iter()
                                .map(|t| (t.clone(), ok, format!("{interface} {detail}"))),
                        );
                    } else if w.index == Some(*index) {
                        w.index = None;
                        let detail = format!("{interface} was renamed to {name}");
                        seen.extend(
                            w.trackers
                                .iter()
                                .map(|t| (t.clone(), false, detail.clone())),
                        );
                    }
                }
            }
            NetEvent::LinkRemoved { index } => {
                for (interface, w) in self.interfaces.iter_mut() {
                    if w.index == Some(*index) {
                        w.index = None;
                        let detail = format!("{interface} was removed");
                        seen.extend(
                            w.trackers
                                .iter()
                                .map(|t| (t.clone(), false, detail.clone())),
                        );
                    }
                }
            }
            NetEvent::AddressRemoved { .. } | NetEvent::RouteRemoved { .. } => {}
        }
        for (tracker, ok, detail) in seen {
            self.send(&tracker, ok, detail);
        }
    }
}

fn link_verdict(running: bool) -> (bool, String) {
    if running {
        (true, "is up with carrier".into())
    } else {
        (false, "is down or has no carrier".into())
    }
}

/// A script, file or process tracker's task: observe, report, wait for the next start.
async fn run(tracker: TrackerSettings, tx: mpsc::UnboundedSender<Observation>) {
    let interval = match &tracker.check {
        Check::Script { interval, .. }
        | Check::File { interval, .. }
        | Check::Process { interval, .. } => *interval,
        Check::Interface { .. } => return,
    };
    let mut ticks = tokio::time::interval(interval);
    // A check that overran its interval is followed by the next one at once, not a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<(bool, String)> = None;
    // A file read or process scan runs off the loop's thread; one that has not returned is
    // waited for again at the next tick instead of being started twice.
    let mut reading: Option<JoinHandle<(bool, String)>> = None;
    loop {
        ticks.tick().await;
        let (ok, detail) = match &tracker.check {
            Check::Script { argv, timeout, .. } => {
                check_script(&tracker.name, argv, *timeout).await
            }
            Check::File { .. } | Check::Process { .. } => {
                // A read that has not come back (a hung mount) is waited for, not started again.
                let pending = reading.get_or_insert_with(|| {
                    let check = tracker.check.clone();
                    tokio::task::spawn_blocking(move || observe_blocking(&check))
                });
                match tokio::time::timeout(interval, pending).await {
                    Ok(result) => {
                        reading = None;
                        result.unwrap_or_else(|e| (false, format!("observing: {e}")))
                    }
                    Err(_) => stuck(&tracker.check, interval),
                }
            }
            Check::Interface { .. } => return,
        };
        // A file or the processes are read every interval but only a change is news; every
        // check result is.
        if matches!(tracker.check, Check::File { .. } | Check::Process { .. })
            && last.as_ref() == Some(&(ok, detail.clone()))
        {
            continue;
        }
        last = Some((ok, detail.clone()));
        let observation = Observation {
            tracker: tracker.name.clone(),
            ok,
            detail,
        };
        if tx.send(observation).is_err() {
            return;
        }
    }
}

/// Runs one check: exit 0 is a success.
async fn check_script(name: &str, argv: &[String], timeout: Duration) -> (bool, String) {
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env("CARPD_TRACKER", name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match child::run(command, timeout, std::future::pending()).await {
        Ended::Exited(status) if status.success() => (true, "exit status 0".into()),
        Ended::Exited(status) => match status.code() {
            Some(code) => (false, format!("exit status {code}")),
            None => (
                false,
                format!("killed by signal {}", status.signal().unwrap_or(0)),
            ),
        },
        Ended::TimedOut => (
            false,
            format!(
                "still running after {}: killed",
                humantime::format_duration(timeout)
            ),
        ),
        Ended::Cancelled => (false, "cancelled".into()),
        Ended::NotStarted(e) => (false, format!("cannot run {}: {e}", argv[0])),
        Ended::WaitFailed(e) => (false, format!("waiting for {}: {e}", argv[0])),
    }
}

/// The most of a tracker file that is read: its verdict is on its first line.
pub const FILE_READ_MAX: u64 = 4096;

/// A file or process tracker's observation, run off the loop's thread.
fn observe_blocking(check: &Check) -> (bool, String) {
    match check {
        Check::File { path, .. } => read_file(path),
        Check::Process { name, .. } => super::processes::verdict(name),
        Check::Script { .. } | Check::Interface { .. } => (false, "not observed here".into()),
    }
}

/// A file read or process scan that took longer than the tracker's interval: failed,
/// saying so.
fn stuck(check: &Check, interval: Duration) -> (bool, String) {
    let what = match check {
        Check::File { path, .. } => format!("reading {}", path.display()),
        _ => "scanning /proc".to_string(),
    };
    (
        false,
        format!(
            "{what} did not return within {}",
            humantime::format_duration(interval)
        ),
    )
}

/// A file tracker's verdict: absent, empty or 0 is healthy; another number is failed;
/// anything else is failed too, saying what it holds. Only the first line of the first
/// [`FILE_READ_MAX`] bytes counts, and only a regular file is read: a FIFO or a device is
/// failed with what it is, never waited on.
fn read_file(path: &Path) -> (bool, String) {
    use crate::sys::file::{read_head, FileError};
    match read_head(path, FILE_READ_MAX) {
        Err(FileError::NotFound) => (true, format!("{} is absent", path.display())),
        Err(e) => (false, format!("{} {e}", path.display())),
        Ok(bytes) => {
            let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
            let text = String::from_utf8_lossy(first);
            let value = text.trim();
            match value.parse::<i64>() {
                _ if value.is_empty() => (true, format!("{} is empty", path.display())),
                Ok(0) => (true, format!("{} holds 0", path.display())),
                Ok(n) => (false, format!("{} holds {n}", path.display())),
                Err(_) => {
                    let shown: String = value.chars().take(40).collect();
                    (false, format!("{} holds {shown:?}, not a number (accepted: absent, empty or 0 for healthy, another number for failed)", path.display()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_healthy_absent_empty_or_zero_and_failed_otherwise() {
        let dir = std::env::temp_dir().join(format!("carpd-file-tracker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("maintenance");
        assert!(read_file(&path).0);
        for (text, ok) in [
            ("", true),
            ("0\n", true),
            (" 0 ", true),
            ("1\n", false),
            ("-3", false),
            ("yes", false),
            ("0\nignored second line", true),
        ] {
            std::fs::write(&path, text).unwrap();
            let (healthy, detail) = read_file(&path);
            assert_eq!(healthy, ok, "{text:?}: {detail}");
            assert!(detail.contains("maintenance"), "{detail}");
        }
        // Only the head is read: a huge file whose first line is 0 is healthy, at once.
        let mut big = b"0\n".to_vec();
        big.resize(8 << 20, b'x');
        std::fs::write(&path, &big).unwrap();
        assert_eq!(
            read_file(&path),
            (true, format!("{} holds 0", path.display()))
        );
        std::fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (healthy, detail) = read_file(&path);
        assert!(!healthy);
        assert!(
            detail.ends_with(
                "maintenance is a FIFO (named pipe), not a regular file: accepted a regular file"
            ),
            "{detail}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_check_reports_its_exit_status_and_a_hung_one_is_killed_at_its_timeout() {
        let ok = check_script("t", &["/bin/true".into()], Duration::from_secs(5)).await;
        assert_eq!(ok, (true, "exit status 0".into()));
        let failed = check_script(
            "t",
            &["/bin/sh".into(), "-c".into(), "exit 3".into()],
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(failed, (false, "exit status 3".into()));
        let started = std::time::Instant::now();
        let hung = check_script(
            "t",
            &["/bin/sleep".into(), "30".into()],
            Duration::from_millis(200),
        )
        .await;
        assert!(!hung.0);
        assert!(
            hung.1.contains("still running after 200ms: killed"),
            "{}",
            hung.1
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing =
            check_script("t", &["/nonexistent/check".into()], Duration::from_secs(1)).await;
        assert!(
            !missing.0 && missing.1.contains("cannot run /nonexistent/check"),
            "{}",
            missing.1
        );
    }
}
