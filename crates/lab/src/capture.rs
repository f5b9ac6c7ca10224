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
        let mut args = vec!["-i", dev, "-U", "-n"];
        args.extend_from_slice(options);
        args.extend(["-w", file.to_str().unwrap_or_default(), filter]);
        let pid = lab.spawn(host, "tcpdump", &args, &log)?;
        if !crate::wait_until(Duration::from_secs(10), || {
            lab.log(&log).contains("listening on")
        }) {
            bail!("tcpdump did not start: {}", lab.log(&log));
        }
        Ok(Capture { pid, file })
    }

    /// Stops the capture (SIGINT, as a user would).
    pub fn stop(&self, lab: &Lab) {
        lab.signal(self.pid, nix::sys::signal::Signal::SIGINT);
        lab.wait_exit(self.pid, Duration::from_secs(5));
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
