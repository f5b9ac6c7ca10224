//! Routing daemons in lab hosts, for VIPs announced by BGP across a router: BIRD 2 (the router
//! and carpd nodes) and FRR (a carpd node), each in its host's namespace with its control
//! socket, pid file and log in the lab's folder. The nodes run the package's example files
//! (`packaging/examples/bird.conf`, `frr.conf`) with the lab's addresses put in, so the tests
//! check the files users copy.

use crate::{wait_until, Host, Lab, Pid};
use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::frr::FRR_DIR;

/// The AS of the lab's router.
pub const ROUTER_AS: u32 = 65000;

/// The placeholders of the example files and what they stand for.
const THIS_NODE: &str = "192.0.2.11";
const THE_ROUTER: &str = "192.0.2.1";
const NODE_AS: &str = "65011";
const THE_VIP: &str = "198.51.100.10";

/// A package example for a carpd node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// `packaging/examples/bird.conf`
    Bird,
    /// `packaging/examples/frr.conf`
    Frr,
}

impl Example {
    /// The file's path in the source tree.
    pub fn path(self) -> PathBuf {
        let name = match self {
            Example::Bird => "bird.conf",
            Example::Frr => "frr.conf",
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../packaging/examples/{name}"))
    }
}

/// Whether BIRD 2 and FRR are installed.
pub fn available() -> Result<()> {
    crate::require(&["bird", "birdc"])?;
    for daemon in ["zebra", "bgpd"] {
        if !std::path::Path::new(FRR_DIR).join(daemon).is_file() {
            bail!("missing {FRR_DIR}/{daemon} (install it: apt-get install frr)");
        }
    }
    Ok(())
}

/// The example for `host` (AS `asn`, announcing `vip`), with the lab's addresses in place of
/// the placeholders; each placeholder must be there, so an edited example fails loudly.
pub fn node_config(
    lab: &Lab,
    host: &Host,
    example: Example,
    asn: u32,
    vip: Ipv4Addr,
) -> Result<String> {
    let path = example.path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for placeholder in [
        THIS_NODE,
        THE_ROUTER,
        NODE_AS,
        THE_VIP,
        &ROUTER_AS.to_string(),
    ] {
        if !text.contains(placeholder) {
            bail!("{} no longer contains {placeholder}", path.display());
        }
    }
    // The router's address first: it is a prefix of the node's.
    Ok(text
        .replace(
            &format!("{THE_ROUTER};"),
            &format!("{};", lab.gateway(host)),
        )
        .replace(
            &format!("{THE_ROUTER} "),
            &format!("{} ", lab.gateway(host)),
        )
        .replace(THIS_NODE, &host.ip.to_string())
        .replace(NODE_AS, &asn.to_string())
        .replace(THE_VIP, &vip.to_string()))
}

/// The router's BIRD: an eBGP session with each of `nodes` (host, its AS), importing what they
/// announce into the kernel's table, exporting nothing to them.
pub fn router_config(lab: &Lab, nodes: &[(&Host, u32)]) -> String {
    let mut text = format!(
        "router id {};\nprotocol device {{ }}\nprotocol kernel {{ ipv4 {{ import none; export all; }}; }}\n",
        lab.router().ip
    );
    for (i, (host, asn)) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "protocol bgp node{} {{\n  local {} as {ROUTER_AS};\n  neighbor {} as {asn};\n  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 10;\n  ipv4 {{ import all; export none; }};\n}}\n",
            i + 1,
            lab.gateway(host),
            host.ip
        ));
    }
    text
}

/// A BIRD started in a host.
#[derive(Debug, Clone)]
pub struct Bird {
    /// its process
    pub pid: Pid,
    /// its control socket
    pub ctl: PathBuf,
    /// the host it runs in
    pub host: Host,
}

impl Bird {
    /// Starts BIRD in `host` with `config` (logging to `<name>.log`), in the foreground.
    pub fn start(lab: &Lab, host: &Host, name: &str, config: &str) -> Result<Bird> {
        let path = lab.dir().join(format!("{name}.conf"));
        std::fs::write(&path, format!("log stderr all;\n{config}"))?;
        let ctl = lab.dir().join(format!("{name}.ctl"));
        let path_text = path.display().to_string();
        let ctl_text = ctl.display().to_string();
        let pid = lab.spawn(
            host,
            "bird",
            &["-f", "-c", &path_text, "-s", &ctl_text],
            name,
        )?;
        if !wait_until(Duration::from_secs(5), || ctl.exists()) {
            bail!("BIRD {name} did not start:\n{}", lab.log(name));
        }
        Ok(Bird {
            pid,
            ctl,
            host: host.clone(),
        })
    }

    /// `birdc` output for `command` (e.g. `show protocols`).
    pub fn show(&self, lab: &Lab, command: &str) -> String {
        let ctl = self.ctl.display().to_string();
        let mut args = vec!["-s", ctl.as_str()];
        args.extend(command.split_whitespace());
        lab.run(&self.host, "birdc", &args)
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    }

    /// Waits until `sessions` BGP sessions are established.
    pub fn wait_established(&self, lab: &Lab, sessions: usize, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.show(lab, "show protocols")
                .lines()
                .filter(|l| l.contains("Established"))
                .count()
                >= sessions
        })
    }
}

/// The routed lab's BGP: the router's BIRD with a session to h1 (AS 65001) and h2 (AS 65002),
/// h1 running BIRD and h2 `second`, each from the package's example announcing `vip`; returns
/// once both sessions are up.
pub fn start_fabric(lab: &Lab, second: Example, vip: Ipv4Addr) -> Result<Bird> {
    let (h1, h2) = (lab.host(1), lab.host(2));
    let router = Bird::start(
        lab,
        &lab.router(),
        "router",
        &router_config(lab, &[(h1, 65001), (h2, 65002)]),
    )?;
    Bird::start(
        lab,
        h1,
        "bird1",
        &node_config(lab, h1, Example::Bird, 65001, vip)?,
    )?;
    let two = node_config(lab, h2, second, 65002, vip)?;
    match second {
        Example::Bird => {
            Bird::start(lab, h2, "bird2", &two)?;
        }
        Example::Frr => start_frr(lab, h2, "frr2", &two)?,
    }
    if !router.wait_established(lab, 2, Duration::from_secs(30)) {
        bail!(
            "BGP sessions not up:\n{}\n{}",
            router.show(lab, "show protocols all"),
            lab.log("router")
        );
    }
    Ok(router)
}

/// Starts FRR's zebra and bgpd in `host` with `config` as bgpd's file (see
/// [`crate::frr::start`]).
pub fn start_frr(lab: &Lab, host: &Host, name: &str, config: &str) -> Result<()> {
    crate::frr::start(lab, host, name, "bgpd", config)
}

/// Checks an FRR file with bgpd's dry run: the lines it refuses.
pub fn frr_dry_run(path: &std::path::Path) -> Result<Vec<String>> {
    // bgpd reads the file as the frr user: a copy it may read, wherever the checkout is.
    let dir = std::env::temp_dir().join(format!("carpd-frr-check-{}", std::process::id()));
    let readable = crate::readable_copy(path, &dir)?;
    let out = std::process::Command::new(format!("{FRR_DIR}/bgpd"))
        .arg("-C")
        .arg("-f")
        .arg(&readable)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.context("running bgpd -C")?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text
        .lines()
        .filter(|l| l.contains("config line") || l.contains("[EC "))
        .map(str::to_string)
        .collect())
}

/// The next hop of the router's route to `vip`, if it has one.
pub fn route_via(lab: &Lab, vip: Ipv4Addr) -> Option<Ipv4Addr> {
    let out = lab
        .run(
            &lab.router(),
            "ip",
            &["-4", "route", "show", &format!("{vip}/32")],
        )
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "via")?;
    words.next()?.parse().ok()
}

/// The routes BGP put in the router's table (`ip route show proto bird`), one per line.
pub fn learned_routes(lab: &Lab) -> Vec<String> {
    lab.run(
        &lab.router(),
        "ip",
        &["-4", "route", "show", "proto", "bird"],
    )
    .map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Starts `ip -ts monitor route` in the router, to `<name>.log`.
pub fn monitor_routes(lab: &Lab, name: &str) -> Result<Pid> {
    lab.spawn(&lab.router(), "ip", &["-ts", "monitor", "route"], name)
}

/// The router's changes of its route to `vip` from `ip -ts monitor route` output: when (seconds
/// since the epoch) and the next hop it got (`None`: deleted).
pub fn route_events(monitor: &str, vip: Ipv4Addr) -> Vec<(f64, Option<Ipv4Addr>)> {
    let needle = format!(" {vip} ");
    monitor
        .lines()
        .filter(|l| l.starts_with('[') && format!("{l} ").contains(&needle))
        .filter_map(|l| {
            let end = l.find(']')?;
            let at = crate::parse_stamp(&l[1..end])?;
            let rest = &l[end + 1..];
            if rest.trim_start().starts_with("Deleted") {
                return Some((at, None));
            }
            let mut words = rest.split_whitespace();
            words.find(|w| *w == "via")?;
            Some((at, words.next()?.parse().ok()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_events_read_ip_monitor_lines() {
        let text = "[2026-11-25T10:18:50.657067] Deleted 10.77.123.10 via 10.77.121.11 dev xp2 proto bird metric 32 \n\
                    [2026-11-25T10:18:50.966474] 10.77.123.10 via 10.77.120.11 dev xp1 proto bird metric 32 \n\
                    [2026-11-25T10:18:51.000000] 10.77.123.100 via 10.77.120.11 dev xp1 proto bird metric 32 \n";
        let events = route_events(text, Ipv4Addr::new(10, 77, 123, 10));
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].1, None);
        assert_eq!(events[1].1, Some(Ipv4Addr::new(10, 77, 120, 11)));
        assert!((events[1].0 - events[0].0 - 0.309407).abs() < 1e-6);
    }
}
