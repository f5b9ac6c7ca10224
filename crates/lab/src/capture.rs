//! tcpdump inside a host, to a pcap file, read back as tcpdump prints it.

use crate::{Host, Lab, Pid};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A running (or stopped) capture.
#[derive(Debug)]
pub struct Capture {
    pid: Pid,
    file: PathBuf,
    /// tcpdump's log, where it says at exit how many frames the kernel dropped
    log: String,
}

impl Capture {
    /// Captures `filter` on `dev` in `host`, with tcpdump's `options` (e.g. `-Q in`).
    pub(crate) fn start(
        lab: &Lab,
        host: &Host,
        (dev, options): (&str, &[&str]),
        filter: &str,
        name: &str,
    ) -> Result<Capture> {
        let file = lab.dir().join(format!("{name}.pcap"));
        let log = format!("tcpdump-{name}");
        // Immediate mode: each frame reaches tcpdump as it arrives. Without it libpcap's ring
        // hands frames over a block at a time, up to a second late, and the frames of a block
        // not yet handed over when tcpdump is stopped are lost without counting as drops (by
        // hand: 40 of 50 frames written, 50 of 50 in immediate mode): the capture ends early,
        // and its last gap was never on the wire.
        let mut args = vec!["-i", dev, "-U", "-n", "--immediate-mode"];
        args.extend_from_slice(options);
        args.extend(["-w", file.to_str().unwrap_or_default(), filter]);
        let pid = lab.spawn(host, "tcpdump", &args, &log)?;
        if !crate::wait_until(Duration::from_secs(10), || {
            lab.log(&log).contains("listening on")
        }) {
            bail!("tcpdump did not start: {}", lab.log(&log));
        }
        Ok(Capture { pid, file, log })
    }

    /// Stops the capture (SIGINT, as a user would) once tcpdump has written what the kernel
    /// already handed it: SIGINT ends libpcap's loop without reading the frames still in its
    /// ring, so a frame captured a moment before the stop (the reply a test has just seen)
    /// could be lost. The file (written per packet, `-U`) must not have grown for 50 ms; a
    /// capture that never goes quiet is stopped after 1 s.
    pub fn stop(&self, lab: &Lab) {
        settle(
            &self.file,
            Duration::from_millis(50),
            Duration::from_secs(1),
        );
        lab.signal(self.pid, nix::sys::signal::Signal::SIGINT);
        lab.wait_exit(self.pid, Duration::from_secs(5));
    }

    /// How many frames the kernel dropped because the capture's ring was full, as tcpdump
    /// said when it was stopped (`None` before, or if it did not say).
    pub fn dropped(&self, lab: &Lab) -> Option<u64> {
        dropped_by_kernel(&lab.log(&self.log))
    }

    /// What `tcpdump -r FILE -n <flags>` prints, one line per packet.
    pub fn text(&self, flags: &[&str]) -> Result<String> {
        let out = Command::new("tcpdump")
            .arg("-r")
            .arg(&self.file)
            .arg("-n")
            .args(flags)
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }
}

/// Waits until `file`'s size has not changed for `quiet`, or `limit` has passed.
fn settle(file: &std::path::Path, quiet: Duration, limit: Duration) {
    let size = || std::fs::metadata(file).map(|m| m.len()).ok();
    let until = std::time::Instant::now() + limit;
    let mut last = size();
    let mut since = std::time::Instant::now();
    while std::time::Instant::now() < until && since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(5));
        let now = size();
        if now != last {
            last = now;
            since = std::time::Instant::now();
        }
    }
}

/// The count of tcpdump's exit line "N packets dropped by kernel".
fn dropped_by_kernel(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.trim().strip_suffix(" packets dropped by kernel"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_kernel_drops_from_tcpdumps_exit_lines() {
        let log = "tcpdump: listening on eth0, link-type EN10MB (Ethernet)\n240 packets captured\n\
                   248 packets received by filter\n8 packets dropped by kernel\n";
        assert_eq!(super::dropped_by_kernel(log), Some(8));
        assert_eq!(super::dropped_by_kernel("tcpdump: listening on eth0"), None);
    }
}
