//! A NAT firewall pair, for stateful failover: client — LAN bridge — fw1/fw2 — WAN bridge —
//! server, and a third link between the firewalls for conntrackd (FTFW over UDP). Each
//! firewall forwards with a stateful filter that admits only SYN as a new flow and masquerades
//! the LAN to the WAN VIP (forwarded traffic only: the daemons' own adverts keep their
//! addresses): the shipped examples of packaging/examples/conntrackd, with the lab's addresses.
//! The client's default route is the LAN VIP; the server knows only the WAN.

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

/// The shipped examples the lab's firewalls run.
const NFTABLES: &str = include_str!("../../../packaging/examples/conntrackd/nftables.conf");
const SYSCTLS: &str = include_str!("../../../packaging/examples/conntrackd/99-carpd-firewall.conf");
const CONNTRACKD: &str = include_str!("../../../packaging/examples/conntrackd/conntrackd.conf");
const CARPD: &str = include_str!("../../../packaging/examples/conntrackd/carpd.toml");

/// `text` with each `(from, to)` replaced; an error if `from` is not in it (the example and
/// the lab must stay in step).
fn substitute(text: &str, pairs: &[(&str, &str)]) -> Result<String> {
    let mut out = text.to_string();
    for (from, to) in pairs {
        if !out.contains(from) {
            bail!("the shipped example no longer contains {from:?}");
        }
        out = out.replace(from, to);
    }
    Ok(out)
}

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

    /// The nftables rules and sysctls of firewall `fw`: the shipped examples
    /// (packaging/examples/conntrackd), with the lab's interfaces and addresses.
    fn firewall(&self, fw: usize) -> Result<()> {
        let lan_net = format!("10.77.{}.0/24", self.lan);
        let rules = substitute(
            NFTABLES,
            &[
                ("192.168.1.0/24", lan_net.as_str()),
                ("203.0.113.1", &self.wan_vip().to_string()),
            ],
        )?;
        let path = self.lab.dir().join(format!("fw{fw}.nft"));
        std::fs::write(&path, rules)?;
        let host = self.lab.host(fw);
        run(&self.lab, host, "nft", &["-f", &path.display().to_string()])?;
        for line in SYSCTLS.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let setting: String = line.split_whitespace().collect();
            run(&self.lab, host, "sysctl", &["-qw", &setting])?;
        }
        Ok(())
    }

    /// Firewall `fw`'s conntrackd.conf: the shipped example with the lab's sync link, own
    /// addresses, and its lock, socket and log in the lab's folder; written if it is not there
    /// yet.
    pub fn conntrackd_config(&self, fw: usize) -> Result<PathBuf> {
        let path = self.lab.dir().join(format!("conntrackd-fw{fw}.conf"));
        if path.exists() {
            return Ok(path);
        }
        let (me, peer) = (10 + fw, 10 + (FW1 + FW2 - fw));
        let dir = self.lab.dir().display().to_string();
        let own = |subnet: u8| format!("10.77.{subnet}.{me}");
        let text = substitute(
            CONNTRACKD,
            &[
                (
                    "IPv4_address 10.0.9.1\n",
                    &format!("IPv4_address {}\n", own(self.sync)),
                ),
                (
                    "IPv4_Destination_Address 10.0.9.2",
                    &format!("IPv4_Destination_Address 10.77.{}.{peer}", self.sync),
                ),
                ("192.168.1.2", &own(self.lan)),
                ("203.0.113.2", &own(self.wan)),
                (
                    "LogFile on",
                    &format!("LogFile {dir}/conntrackd-fw{fw}.log"),
                ),
                (
                    "/var/lock/conntrackd.lock",
                    &format!("{dir}/conntrackd-fw{fw}.lock"),
                ),
                (
                    "/var/run/conntrackd.ctl",
                    &format!("{dir}/conntrackd-fw{fw}.ctl"),
                ),
            ],
        )?;
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Firewall `fw`'s carpd config `fw<fw>.toml`: the shipped example with the lab's VIPs and
    /// conntrackd, priority 100 on fw2, `conntrack = false` unless `conntrack`, and
    /// `[conntrack] timeout` when given.
    pub fn carpd_config(
        &self,
        fw: usize,
        conntrack: bool,
        timeout: Option<f64>,
    ) -> Result<PathBuf> {
        let conf = self.conntrackd_config(fw)?.display().to_string();
        let lan = format!("{}/24", self.lan_vip());
        let wan = format!("{}/24", self.wan_vip());
        let mut pairs = vec![
            ("192.168.1.1/24", lan.as_str()),
            ("203.0.113.1/24", wan.as_str()),
            ("/etc/conntrackd/conntrackd.conf", conf.as_str()),
        ];
        if fw == FW2 {
            pairs.push(("priority = 200", "priority = 100"));
        }
        if !conntrack {
            pairs.push(("conntrack = true", "conntrack = false"));
        }
        let timeout = timeout.map(|t| format!("timeout = {t}"));
        if let Some(t) = &timeout {
            pairs.push(("# timeout = 5 ", t.as_str()));
        }
        let text = substitute(CARPD, &pairs)?;
        self.lab
            .carpd_config(&format!("fw{fw}.toml"), &format!("\n{text}"))
    }

    /// Whether firewall `fw` holds both VIPs.
    pub fn holds_vips(&self, fw: usize) -> bool {
        let host = self.lab.host(fw);
        self.lab.has_address_on(host, "eth0", self.lan_vip())
            && self.lab.has_address_on(host, "eth1", self.wan_vip())
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

    /// Adds `count` made-up established TCP flows (from 10.77.`idle`.0/24 to an address
    /// there, never sent to) to firewall `fw`'s kernel table: conntrackd syncs them to the
    /// peer as it does real ones, so that a takeover has a table of that size to commit.
    pub fn add_idle_flows(&self, fw: usize, count: usize, idle: u8) -> Result<()> {
        let mut batch = String::new();
        for i in 0..count {
            let (host, port) = (1 + i % 250, 1024 + i / 250);
            batch.push_str(&format!(
                "-I -p tcp -s 10.77.{idle}.{host} -d 10.77.{idle}.251 --sport {port} --dport 443 --state ESTABLISHED -t 3600 -u ASSURED\n"
            ));
        }
        let path = self.lab.dir().join(format!("idle-flows-fw{fw}"));
        std::fs::write(&path, batch)?;
        run(
            &self.lab,
            self.lab.host(fw),
            "conntrack",
            &["-R", &path.display().to_string()],
        )
    }

    /// How many established TCP flows firewall `fw`'s conntrackd has in its external cache
    /// (the peer's, ready to commit), of those to `port` when given.
    pub fn external_flows(&self, fw: usize, port: Option<u16>) -> usize {
        let Ok(conf) = self.conntrackd_config(fw) else {
            return 0;
        };
        let port = port.map(|p| format!("dport={p} "));
        self.lab
            .run(
                self.lab.host(fw),
                "conntrackd",
                &["-C", &conf.display().to_string(), "-e"],
            )
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| l.contains("ESTABLISHED"))
                    .filter(|l| port.as_ref().is_none_or(|p| l.contains(p.as_str())))
                    .count()
            })
            .unwrap_or(0)
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
