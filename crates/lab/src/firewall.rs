//! A NAT firewall pair, for stateful failover: client — LAN bridge — fw1/fw2 — WAN bridge —
//! server, and a third link between the firewalls for conntrackd (FTFW over UDP). Each
//! firewall forwards with a stateful filter that admits only SYN as a new flow and masquerades
//! the LAN to the WAN VIP (forwarded traffic only: the daemons' own adverts keep their
//! addresses). The client's default route is the LAN VIP; the server knows only the WAN.

use crate::{Lab, Pid};
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Hosts (1-based, as [`Lab::host`]): the two firewalls, the client (LAN) and the server
/// (WAN).
pub const FW1: usize = 1;
/// the second firewall
pub const FW2: usize = 2;
/// the client, on the LAN only
pub const CLIENT: usize = 3;
/// the server, on the WAN only
pub const SERVER: usize = 4;
/// the server's echo port
pub const ECHO_PORT: u16 = 7777;

/// The pair's lab.
#[derive(Debug)]
pub struct FirewallPair {
    /// the hosts and bridges
    pub lab: Lab,
    lan: u8,
    wan: u8,
    sync: u8,
}

impl FirewallPair {
    /// Builds it: LAN 10.77.`lan`.0/24 (eth0), WAN 10.77.`wan`.0/24 (eth1), sync link
    /// 10.77.`sync`.0/24 (eth2); host `i` has `.10 + i` on each of its links.
    pub fn build(prefix: &str, lan: u8, wan: u8, sync: u8) -> Result<FirewallPair> {
        let lab = Lab::new(prefix, lan, 4)?;
        lab.unplug(lab.host(SERVER))?;
        lab.add_lan("br1", "eth1", wan, "w", &[FW1, FW2, SERVER])?;
        lab.add_lan("br2", "eth2", sync, "s", &[FW1, FW2])?;
        let pair = FirewallPair {
            lab,
            lan,
            wan,
            sync,
        };
        let client = pair.lab.host(CLIENT);
        let via = pair.lan_vip().to_string();
        run(
            &pair.lab,
            client,
            "ip",
            &["route", "add", "default", "via", &via],
        )?;
        for fw in [FW1, FW2] {
            pair.firewall(fw)?;
        }
        Ok(pair)
    }

    /// The LAN VIP: the client's gateway.
    pub fn lan_vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.lan, 1)
    }

    /// The WAN VIP: the LAN is masqueraded to it.
    pub fn wan_vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.wan, 1)
    }

    /// The server's echo service.
    pub fn server(&self) -> SocketAddr {
        SocketAddr::from((
            Ipv4Addr::new(10, 77, self.wan, 10 + SERVER as u8),
            ECHO_PORT,
        ))
    }

    /// The nftables rules and sysctls of firewall `fw`.
    fn firewall(&self, fw: usize) -> Result<()> {
        let rules = format!(
            "table inet carpd_fw {{\n  chain forward_filter {{\n    type filter hook forward priority 0; policy drop;\n    ct state established,related accept\n    tcp flags & (syn|ack|fin|rst) == syn ct state new accept\n  }}\n  chain snat_lan {{\n    type nat hook postrouting priority 100;\n    oifname \"eth1\" ip saddr 10.77.{lan}.0/24 snat ip to {vip}\n  }}\n}}\n",
            lan = self.lan,
            vip = self.wan_vip()
        );
        let path = self.lab.dir().join(format!("fw{fw}.nft"));
        std::fs::write(&path, rules)?;
        let host = self.lab.host(fw);
        run(&self.lab, host, "nft", &["-f", &path.display().to_string()])?;
        for setting in [
            "net.ipv4.ip_forward=1",
            // conntrackd does not sync TCP windows.
            "net.netfilter.nf_conntrack_tcp_be_liberal=1",
        ] {
            run(&self.lab, host, "sysctl", &["-qw", setting])?;
        }
        Ok(())
    }

    /// Firewall `fw`'s conntrackd.conf (FTFW over UDP on eth2; its lock, socket and log in
    /// the lab's folder), written if it is not there yet.
    pub fn conntrackd_config(&self, fw: usize) -> Result<PathBuf> {
        let path = self.lab.dir().join(format!("conntrackd-fw{fw}.conf"));
        if path.exists() {
            return Ok(path);
        }
        let (me, peer) = (10 + fw, 10 + (FW1 + FW2 - fw));
        let dir = self.lab.dir().display().to_string();
        let mut ignore = String::from("      IPv4_address 127.0.0.1\n");
        for subnet in [self.lan, self.wan, self.sync] {
            ignore.push_str(&format!("      IPv4_address 10.77.{subnet}.{me}\n"));
        }
        let text = format!(
            "Sync {{\n  Mode FTFW {{\n  }}\n  UDP {{\n    IPv4_address 10.77.{sync}.{me}\n    IPv4_Destination_Address 10.77.{sync}.{peer}\n    Port 3780\n    Interface eth2\n    Checksum on\n  }}\n}}\nGeneral {{\n  HashSize 8192\n  HashLimit 65535\n  LogFile {dir}/conntrackd-fw{fw}.log\n  Syslog off\n  LockFile {dir}/conntrackd-fw{fw}.lock\n  UNIX {{\n    Path {dir}/conntrackd-fw{fw}.ctl\n  }}\n  Systemd off\n  Filter From Userspace {{\n    Protocol Accept {{\n      TCP\n    }}\n    Address Ignore {{\n{ignore}    }}\n  }}\n}}\n",
            sync = self.sync
        );
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Starts conntrackd on firewall `fw` (in the foreground; a lock left by a killed one is
    /// removed first) and waits until it answers.
    pub fn start_conntrackd(&self, fw: usize) -> Result<Pid> {
        let conf = self.conntrackd_config(fw)?;
        let dir = self.lab.dir();
        let _ = std::fs::remove_file(dir.join(format!("conntrackd-fw{fw}.lock")));
        let _ = std::fs::remove_file(dir.join(format!("conntrackd-fw{fw}.ctl")));
        let conf = conf.display().to_string();
        let host = self.lab.host(fw);
        let pid = self.lab.spawn(
            host,
            "conntrackd",
            &["-C", &conf],
            &format!("conntrackd-out-fw{fw}"),
        )?;
        let answers = crate::wait_until(std::time::Duration::from_secs(5), || {
            self.lab
                .run(host, "conntrackd", &["-C", &conf, "-s", "runtime"])
                .is_ok_and(|o| o.status.success())
        });
        if !answers {
            bail!(
                "conntrackd on fw{fw} does not answer: {}",
                self.lab.log(&format!("conntrackd-out-fw{fw}"))
            );
        }
        Ok(pid)
    }

    /// The switch ports of firewall `fw`: LAN, WAN, sync link.
    pub fn ports(&self, fw: usize) -> [String; 3] {
        let port = &self.lab.host(fw).port;
        [port.clone(), format!("{port}w"), format!("{port}s")]
    }

    /// Firewall `fw` crashes: every process in it killed at once (none can say goodbye),
    /// then its three links cut at the switch.
    pub fn crash(&self, fw: usize) -> Result<()> {
        self.lab.kill_all(self.lab.host(fw));
        for port in self.ports(fw) {
            self.lab.set_switch_port(&port, false)?;
        }
        Ok(())
    }

    /// Firewall `fw` comes back from a crash as from a reboot: without the VIPs its carpd
    /// held, its links up again.
    pub fn reboot(&self, fw: usize) -> Result<()> {
        let host = self.lab.host(fw);
        for (vip, dev) in [(self.lan_vip(), "eth0"), (self.wan_vip(), "eth1")] {
            if self.lab.has_address_on(host, dev, vip) {
                run(
                    &self.lab,
                    host,
                    "ip",
                    &["addr", "del", &format!("{vip}/24"), "dev", dev],
                )?;
            }
        }
        for port in self.ports(fw) {
            self.lab.set_switch_port(&port, true)?;
        }
        Ok(())
    }
}

/// Runs `program` in `host`, failing with its stderr.
fn run(lab: &Lab, host: &crate::Host, program: &str, args: &[&str]) -> Result<()> {
    let out = lab
        .run(host, program, args)
        .with_context(|| format!("{program} in {}", host.ns))?;
    if !out.status.success() {
        bail!(
            "{program} {} in {}: {}",
            args.join(" "),
            host.ns,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
