//! The benchmark's implementations (carpd in its modes, ucarp, keepalived) and their equivalent
//! settings, started through the lab's one starter (`carpd_lab::daemons`).

use anyhow::Result;
use carpd_lab::{CarpMember, Lab, Pid};
use std::path::{Path, PathBuf};

/// Which implementation, and how it brings the VIP up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// carpd with ucarp-style up/down scripts (`ip addr add|del`)
    Carpd,
    /// carpd managing the VIP itself
    CarpdNative,
    /// Debian's ucarp 1.5.2 with the same scripts
    Ucarp,
    /// keepalived, VRRPv3
    Keepalived,
    /// carpd speaking VRRPv3 (config mode, VIP managed natively), as keepalived does
    CarpdVrrp3,
    /// carpd with CARP in config mode, VIP managed natively, `realtime_priority = 0`: the
    /// normal scheduler even where carpd would take SCHED_FIFO by default
    CarpdNormalScheduler,
    /// keepalived at its default version (VRRPv2) with `auth_type PASS`
    KeepalivedV2,
    /// carpd speaking VRRPv2 with a password, as keepalived at its defaults
    CarpdVrrp2,
}

impl Daemon {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Carpd => "carpd",
            Daemon::CarpdNative => "carpd (native VIP)",
            Daemon::Ucarp => "ucarp",
            Daemon::Keepalived => "keepalived",
            Daemon::CarpdVrrp3 => "carpd (VRRPv3)",
            Daemon::CarpdNormalScheduler => "carpd (realtime_priority 0)",
            Daemon::KeepalivedV2 => "keepalived (VRRPv2)",
            Daemon::CarpdVrrp2 => "carpd (VRRPv2)",
        }
    }

    /// The process name, to find it in a namespace.
    pub fn comm(self) -> &'static str {
        match self {
            Daemon::Carpd
            | Daemon::CarpdNative
            | Daemon::CarpdVrrp3
            | Daemon::CarpdNormalScheduler
            | Daemon::CarpdVrrp2 => "carpd",
            Daemon::Ucarp => "ucarp",
            Daemon::Keepalived | Daemon::KeepalivedV2 => "keepalived",
        }
    }
}

/// One member's settings.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// CARP advbase (keepalived: advert_int is advbase + advskew/256 s)
    pub advbase: u8,
    /// CARP advskew (lower is preferred)
    pub advskew: u8,
    /// take over from a less preferred master
    pub preempt: bool,
    /// keepalived only: VRRP priority (higher wins); its advert_int is advbase + advskew/256,
    /// which must be the same on every member
    pub priority: u8,
    /// VRRPv3 only: an IPv6 VIP ([`Lab::address6`]) instead of the IPv4 one
    pub ipv6: bool,
}

/// The VIP of a bench LAN: `.100` of the lab's IPv4 or IPv6 prefix.
pub fn vip(lab: &Lab, ipv6: bool) -> std::net::IpAddr {
    if ipv6 {
        lab.address6(100).into()
    } else {
        lab.address(100).into()
    }
}

/// The VIP with its prefix length, as both daemons' configs write it.
fn vip_with_prefix(lab: &Lab, ipv6: bool) -> String {
    match vip(lab, ipv6) {
        std::net::IpAddr::V4(a) => format!("{a}/24"),
        std::net::IpAddr::V6(a) => format!("{a}/64"),
    }
}

/// Starts `daemon` on host `host` (1-based) for VIP `.100` with `member`'s settings; the
/// log goes to `<log>.log`.
pub fn start(
    lab: &Lab,
    carpd: &Path,
    daemon: Daemon,
    host: usize,
    member: Member,
    log: &str,
) -> Result<Pid> {
    let scripts = match daemon {
        Daemon::Carpd | Daemon::Ucarp => Some(lab.vip_scripts(log)?),
        Daemon::CarpdNative
        | Daemon::Keepalived
        | Daemon::CarpdVrrp3
        | Daemon::CarpdNormalScheduler
        | Daemon::KeepalivedV2
        | Daemon::CarpdVrrp2 => None,
    };
    start_with(lab, carpd, daemon, host, member, log, scripts)
}

/// Writes `{log}.toml` in the lab's directory (a `[daemon]` table with a control socket of its
/// own and `daemon_keys`, then one `[[group]]` of `group_keys`) and starts carpd on it in `host`.
fn spawn_config(
    lab: &Lab,
    carpd: &Path,
    host: &carpd_lab::Host,
    log: &str,
    daemon_keys: &str,
    group_keys: &str,
) -> Result<Pid> {
    let conf = lab.carpd_config(
        &format!("{log}.toml"),
        &format!("{daemon_keys}\n[[group]]\n{group_keys}"),
    )?;
    lab.start_carpd_config(carpd, host, &conf, log)
}

/// As [`start`], with these up and down scripts for carpd or ucarp.
pub fn start_with(
    lab: &Lab,
    carpd: &Path,
    daemon: Daemon,
    host: usize,
    member: Member,
    log: &str,
    scripts: Option<(PathBuf, PathBuf)>,
) -> Result<Pid> {
    let h = lab.host(host).clone();
    let vip = lab.address(100);
    match daemon {
        Daemon::Carpd
        | Daemon::CarpdNative
        | Daemon::Ucarp
        | Daemon::CarpdNormalScheduler
        | Daemon::KeepalivedV2
        | Daemon::CarpdVrrp2
            if member.ipv6 =>
        {
            anyhow::bail!("{daemon:?} speaks CARP or VRRPv2, over IPv4 only")
        }
        Daemon::Carpd | Daemon::CarpdNative | Daemon::Ucarp => {
            let program = if daemon == Daemon::Ucarp {
                "ucarp".to_string()
            } else {
                carpd.display().to_string()
            };
            // ucarp takes the VIP without a prefix; carpd managing it itself, with one.
            let address = if scripts.is_some() {
                vip.to_string()
            } else {
                format!("{vip}/24")
            };
            let mut carp = CarpMember::new(7, address, "bench");
            carp.advbase = member.advbase;
            carp.advskew = member.advskew;
            carp.preempt = member.preempt;
            carp.scripts = scripts;
            lab.start_carp(&program, &h, &carp, log)
        }
        Daemon::CarpdNormalScheduler => spawn_config(
            lab,
            carpd,
            &h,
            log,
            "realtime_priority = 0\n",
            &format!(
                "interface = \"eth0\"\nvhid = 7\nvips = [\"{}\"]\npassword = \"bench\"\n\
                 advbase = {}\nadvskew = {}\npreempt = {}\n",
                vip_with_prefix(lab, false),
                member.advbase,
                member.advskew,
                member.preempt
            ),
        ),
        Daemon::CarpdVrrp3 | Daemon::CarpdVrrp2 => {
            // keepalived's settings: VRRPv3 at any interval, or VRRPv2 in whole seconds with
            // its password.
            let interval = f64::from(member.advbase) + f64::from(member.advskew) / 256.0;
            let protocol = if daemon == Daemon::CarpdVrrp2 {
                format!(
                    "protocol = \"vrrp2\"\nadvert_interval = {}\npassword = \"bench\"",
                    member.advbase.max(1)
                )
            } else {
                format!("protocol = \"vrrp3\"\nadvert_interval = {interval:.2}")
            };
            spawn_config(
                lab,
                carpd,
                &h,
                log,
                "",
                &format!(
                    "{protocol}\ninterface = \"eth0\"\nvhid = 7\nvips = [\"{}\"]\n\
                     priority = {}\npreempt = {}\n",
                    vip_with_prefix(lab, member.ipv6),
                    member.priority,
                    member.preempt
                ),
            )
        }
        Daemon::Keepalived | Daemon::KeepalivedV2 => {
            let conf = keepalived_conf(lab, log, member, daemon == Daemon::KeepalivedV2)?;
            lab.start_keepalived(&h, &conf, log)
        }
    }
}

/// keepalived's config `<log>.conf` for `member`: VRRPv3, or with `v2` its default version
/// with `auth_type PASS`.
pub fn keepalived_conf(lab: &Lab, log: &str, member: Member, v2: bool) -> Result<PathBuf> {
    let interval = f64::from(member.advbase) + f64::from(member.advskew) / 256.0;
    let priority = member.priority;
    let conf = lab.dir().join(format!("{log}.conf"));
    let (version, auth) = if v2 {
        (
            "",
            "authentication {\n    auth_type PASS\n    auth_pass bench\n  }",
        )
    } else {
        ("vrrp_version 3\n  ", "")
    };
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id {log}\n  {version}script_user root\n  enable_script_security\n  \
             vrrp_garp_master_repeat 1\n  vrrp_garp_master_delay 0\n}}\n\
             vrrp_instance bench {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 7\n  \
             priority {priority}\n  advert_int {interval:.2}\n  {}\n  {auth}\n  virtual_ipaddress {{\n    {} dev eth0\n  }}\n}}\n",
            if member.preempt { "" } else { "nopreempt" },
            vip_with_prefix(lab, member.ipv6)
        ),
    )?;
    Ok(conf)
}
