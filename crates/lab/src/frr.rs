//! FRR's daemons in lab hosts: zebra with one protocol daemon (bgpd for routed VIPs, vrrpd
//! for VRRP peers), in the foreground as FRR's own user, their sockets, pid files and logs in
//! `<lab>/<name>/`.

use crate::{wait_until, Host, Lab};
use anyhow::{bail, Result};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Where FRR's daemons are (Debian installs them outside PATH).
pub const FRR_DIR: &str = "/usr/lib/frr";

/// Whether FRR's zebra and `daemon` are installed.
pub fn available(daemon: &str) -> Result<()> {
    for daemon in ["zebra", daemon] {
        if !std::path::Path::new(FRR_DIR).join(daemon).is_file() {
            bail!("missing {FRR_DIR}/{daemon} (install it: apt-get install frr)");
        }
    }
    Ok(())
}

/// Starts zebra and `daemon` in `host` with `config` as the daemon's file.
pub fn start(lab: &Lab, host: &Host, name: &str, daemon: &str, config: &str) -> Result<()> {
    let dir = lab.dir().join(name);
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join(format!("{daemon}.conf"));
    std::fs::write(&conf, config)?;
    let chown = std::process::Command::new("chown")
        .args(["-R", "frr:frr"])
        .arg(&dir)
        .output()?;
    if !chown.status.success() {
        bail!(
            "chown frr {}: {}",
            dir.display(),
            String::from_utf8_lossy(&chown.stderr)
        );
    }
    let d = dir.display().to_string();
    let zserv = format!("{d}/zserv.api");
    let common = |pid: &str| {
        vec![
            "-i".to_string(),
            format!("{d}/{pid}.pid"),
            "-z".into(),
            zserv.clone(),
            "--vty_socket".into(),
            d.clone(),
            "-P".into(),
            "0".into(),
            "--log".into(),
            "stdout".into(),
        ]
    };
    let mut zebra = vec!["-f".to_string(), "/dev/null".into()];
    zebra.extend(common("zebra"));
    let zebra: Vec<&str> = zebra.iter().map(String::as_str).collect();
    lab.spawn(
        host,
        &format!("{FRR_DIR}/zebra"),
        &zebra,
        &format!("{name}-zebra"),
    )?;
    if !wait_until(Duration::from_secs(5), || {
        std::path::Path::new(&zserv).exists()
    }) {
        bail!(
            "zebra did not start:\n{}",
            lab.log(&format!("{name}-zebra"))
        );
    }
    let mut args = vec!["-f".to_string(), conf.display().to_string()];
    args.extend(common(daemon));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.spawn(
        host,
        &format!("{FRR_DIR}/{daemon}"),
        &args,
        &format!("{name}-{daemon}"),
    )?;
    Ok(())
}

/// A VRRP router of FRR's vrrpd on `host`'s eth0: VRID `vrid`, `version` 2 or 3, `priority`,
/// `interval_ms` (a multiple of 10; of 1000 for version 2), `vip`. FRR needs a macvlan with
/// the virtual MAC on the parent, the VIP on it (it keeps it in protodown while backup); it
/// is made here as FRR's documentation says.
pub fn start_vrrpd(
    lab: &Lab,
    host: &Host,
    name: &str,
    (vrid, version, priority, interval_ms): (u8, u8, u8, u32),
    vip: Ipv4Addr,
) -> Result<()> {
    let macvlan = format!("vrrp4-{vrid}");
    let mac = format!("00:00:5e:00:01:{vrid:02x}");
    let ip = |args: &[&str]| -> Result<()> {
        let out = lab.run(host, "ip", args)?;
        if !out.status.success() {
            bail!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    ip(&[
        "link", "add", &macvlan, "link", "eth0", "type", "macvlan", "mode", "bridge",
    ])?;
    ip(&["link", "set", &macvlan, "address", &mac])?;
    ip(&["addr", "add", &format!("{vip}/24"), "dev", &macvlan])?;
    ip(&["link", "set", &macvlan, "up"])?;
    let config = format!(
        "interface eth0\n vrrp {vrid} version {version}\n vrrp {vrid} priority {priority}\n \
         vrrp {vrid} advertisement-interval {interval_ms}\n vrrp {vrid} ip {vip}\n"
    );
    start(lab, host, name, "vrrpd", &config)
}

/// FRR's state of its IPv4 VRRP router (`Master`, `Backup`, `Initialize`), from `show vrrp`.
pub fn vrrp_state(lab: &Lab, host: &Host, name: &str) -> Option<String> {
    let dir = lab.dir().join(name).display().to_string();
    let out = lab
        .run(host, "vtysh", &["--vty_socket", &dir, "-c", "show vrrp"])
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("Status (v4)"))
        .and_then(|l| l.split_whitespace().last().map(str::to_string))
}
