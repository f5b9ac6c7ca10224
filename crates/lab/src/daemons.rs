//! Starting carpd, ucarp and keepalived in a host of a lab: the one way the end-to-end tests,
//! the demo and the benchmarks do it, so that a daemon in a test and the same daemon in a
//! benchmark get the same options, logs and files.
//!
//! Every daemon runs in the foreground with its output in the lab's log `<log>.log`, and keeps
//! its own files (config, control socket, pid files) in the lab's folder, named after the log:
//! two daemons in one lab never share one.

use crate::{Host, Lab, Pid};
use anyhow::{Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// One member of a CARP group on a ucarp command line. carpd without `--config` and ucarp
/// take the same options, so the same member can be either.
#[derive(Debug, Clone)]
pub struct CarpMember {
    /// `-v`
    pub vhid: u8,
    /// `-a`: the VIP, with a prefix length or without (ucarp takes it without)
    pub vip: String,
    /// the password's options: `-p PASS` or `-o FILE`
    pub password: Vec<String>,
    /// `-b`
    pub advbase: u8,
    /// `-k`
    pub advskew: u8,
    /// `-P`
    pub preempt: bool,
    /// `-u` and `-d`; none: carpd manages the VIP itself
    pub scripts: Option<(PathBuf, PathBuf)>,
    /// any further options, given last (a repeated option overrides the earlier one)
    pub extra: Vec<String>,
}

impl CarpMember {
    /// A member of group `vhid` sharing `vip` with password `password` (`-p`), with ucarp's
    /// default timing (advbase 1, advskew 0), no preemption and no scripts.
    pub fn new(vhid: u8, vip: impl ToString, password: &str) -> CarpMember {
        CarpMember {
            vhid,
            vip: vip.to_string(),
            password: vec!["-p".into(), password.into()],
            advbase: 1,
            advskew: 0,
            preempt: false,
            scripts: None,
            extra: Vec::new(),
        }
    }

    /// The command line for a host whose own address is `source`: on `eth0`, the daemon's
    /// messages to standard error only (`-f none`), and the down script when it becomes
    /// backup at start (`-z`).
    pub fn args(&self, source: Ipv4Addr) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-i".into(),
            "eth0".into(),
            "-s".into(),
            source.to_string(),
            "-v".into(),
            self.vhid.to_string(),
            "-a".into(),
            self.vip.clone(),
            "-b".into(),
            self.advbase.to_string(),
            "-k".into(),
            self.advskew.to_string(),
            "-z".into(),
            "-f".into(),
            "none".into(),
        ];
        args.extend(self.password.iter().cloned());
        if self.preempt {
            args.push("-P".into());
        }
        if let Some((up, down)) = &self.scripts {
            args.extend([
                "-u".into(),
                up.display().to_string(),
                "-d".into(),
                down.display().to_string(),
            ]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }
}

impl Lab {
    /// Starts `program` (a carpd binary, or `ucarp`) in `host` as `member`.
    pub fn start_carp(
        &self,
        program: &str,
        host: &Host,
        member: &CarpMember,
        log: &str,
    ) -> Result<Pid> {
        let args = member.args(host.ip);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(host, program, &refs, log)
    }

    /// Writes the carpd config `<name>` in the lab's folder: a `[daemon]` table whose control
    /// socket is `<name>.sock` beside it (every namespace shares `/run`, so carpd's default
    /// socket would be one for all), then `text` (more `[daemon]` keys, then groups).
    pub fn carpd_config(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.dir().join(name);
        let socket = self.dir().join(format!("{name}.sock"));
        std::fs::write(
            &path,
            format!(
                "[daemon]\ncontrol_socket = \"{}\"\n{text}",
                socket.display()
            ),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Starts the carpd binary `carpd` in `host` serving the config file `config`.
    pub fn start_carpd_config(
        &self,
        carpd: &Path,
        host: &Host,
        config: &Path,
        log: &str,
    ) -> Result<Pid> {
        self.spawn(
            host,
            &carpd.display().to_string(),
            &["--config", &config.display().to_string(), "-f", "none"],
            log,
        )
    }

    /// Starts keepalived's VRRP process in `host` with `config`, in the foreground, logging
    /// to the console only; its pid files are `<log>.pid` and `<log>.vrrp.pid` in the lab's
    /// folder.
    pub fn start_keepalived(&self, host: &Host, config: &Path, log: &str) -> Result<Pid> {
        let pid = self.dir().join(format!("{log}.pid"));
        let vrrp_pid = self.dir().join(format!("{log}.vrrp.pid"));
        self.spawn(
            host,
            "keepalived",
            &[
                "-n",
                "-l",
                "-G",
                "-P",
                "-f",
                &config.display().to_string(),
                "-p",
                &pid.display().to_string(),
                "-r",
                &vrrp_pid.display().to_string(),
            ],
            log,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::CarpMember;
    use std::net::Ipv4Addr;

    #[test]
    fn a_member_is_a_ucarp_command_line() {
        let mut m = CarpMember::new(7, "10.77.0.100/24", "pw");
        m.advskew = 50;
        m.preempt = true;
        m.scripts = Some(("/up".into(), "/down".into()));
        m.extra = vec!["-S".into()];
        assert_eq!(
            m.args(Ipv4Addr::new(10, 77, 0, 11)).join(" "),
            "-i eth0 -s 10.77.0.11 -v 7 -a 10.77.0.100/24 -b 1 -k 50 -z -f none -p pw -P \
             -u /up -d /down -S"
        );
    }
}
