//! A throw-away LAN of network namespaces: one bridge namespace and N hosts, each with an
//! `eth0` on the bridge and the address `10.77.<subnet>.<10 + i>/24`. Programs run inside
//! hosts with `ip netns exec`; [`Lab`]'s `Drop` kills every process in every namespace and
//! deletes the namespaces, also when a test panics. [`cleanup_prefix`] removes what an
//! interrupted run left behind.
//!
//! Addresses are only ever used inside these namespaces.

pub mod bgp;
pub mod capture;
pub mod daemons;
pub mod firewall;
pub mod flood;
pub mod flows;
pub mod frr;
pub mod nspawn;
pub mod probe;

use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use capture::Capture;
pub use daemons::CarpMember;
pub use flood::{flood, FloodReport};
pub use probe::{ProbeReport, Prober};

/// One host of the LAN.
#[derive(Debug, Clone)]
pub struct Host {
    /// namespace name
    pub ns: String,
    /// its address on eth0
    pub ip: Ipv4Addr,
    /// the outer (bridge-side) veth name: the host's switch port
    pub port: String,
}

/// A running LAN.
#[derive(Debug)]
pub struct Lab {
    subnet: u8,
    bridge_ns: String,
    hosts: Vec<Host>,
    dir: PathBuf,
    children: Mutex<Vec<Child>>,
}

/// A process started in a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid(pub i32);

/// Checks that we are root and that `tools` are on PATH; the error says what is missing.
pub fn require(tools: &[&str]) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("needs root (network namespaces)");
    }
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing tools: {} (install them: apt-get install iproute2 tcpdump ucarp)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// The carpd binary to run: `given`, or else `carpd` beside the running program (cargo puts
/// both in the same target folder); an error says how to get one.
pub fn carpd_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("carpd"),
    };
    if !path.is_file() {
        bail!(
            "carpd not found at {}: build it (cargo build --release -p carpd) or pass --carpd PATH",
            path.display()
        );
    }
    Ok(path)
}

/// A copy of `path` in `dir` (made mode 0755) that every user can read, and run when it is
/// executable: a daemon or a command that runs as another user (FRR's bgpd as `frr`, carpctl
/// as `nobody`) cannot read files in a checkout that only root may enter (a clone under
/// `/root`, or in a `mktemp -d` folder).
pub fn readable_copy(path: &Path, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let copy = dir.join(name);
    std::fs::copy(path, &copy).with_context(|| format!("copying {}", path.display()))?;
    let executable = std::fs::metadata(path)?.permissions().mode() & 0o111 != 0;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(mode))?;
    Ok(copy)
}

/// The full path of `tool` on PATH (or in /usr/sbin, /sbin).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin";
    path.split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Gives `host`'s eth0 its address (/24) and brings it and lo up.
fn bring_up(host: &Host) -> Result<()> {
    let address = format!("{}/24", host.ip);
    ip(&["-n", &host.ns, "addr", "add", &address, "dev", "eth0"])?;
    ip(&["-n", &host.ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &host.ns, "link", "set", "lo", "up"])
}

/// Sets a sysctl (`key=value`) inside namespace `ns`.
fn sysctl(ns: &str, setting: &str) -> Result<()> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw", setting])
        .output()
        .context("running sysctl")?;
    if !out.status.success() {
        bail!(
            "sysctl {setting} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Creates bridge `name` in namespace `ns`, up: no STP delay, no multicast snooping
/// surprises, a plain switch.
fn plain_switch(ns: &str, name: &str) -> Result<()> {
    ip(&["-n", ns, "link", "add", name, "type", "bridge"])?;
    ip(&[
        "-n",
        ns,
        "link",
        "set",
        name,
        "type",
        "bridge",
        "forward_delay",
        "0",
        "mcast_snooping",
        "0",
    ])?;
    ip(&["-n", ns, "link", "set", name, "up"])
}

/// Kills every process in, and deletes, every namespace whose name starts with `prefix`.
pub fn cleanup_prefix(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if !name.is_empty() && name.starts_with(prefix) {
            kill_namespace(name);
        }
    }
}

fn kill_namespace(ns: &str) {
    kill_processes(ns);
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// SIGKILLs every process in namespace `ns` until none is left (up to 20 rounds).
fn kill_processes(ns: &str) {
    for _ in 0..20 {
        let pids = Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let pids: Vec<i32> = pids
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Lab {
    /// Builds a LAN of `hosts` hosts named `<prefix>h1..`, bridge namespace `<prefix>br`,
    /// addresses in 10.77.`subnet`.0/24. Anything left with the same prefix is removed first.
    pub fn new(prefix: &str, subnet: u8, hosts: usize) -> Result<Lab> {
        assert!(prefix.len() <= 6, "prefix too long for interface names");
        cleanup_prefix(prefix);
        let dir = std::env::temp_dir().join(format!("carpd-lab-{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let bridge_ns = format!("{prefix}br");
        let mut lab = Lab {
            subnet,
            bridge_ns: bridge_ns.clone(),
            hosts: Vec::new(),
            dir,
            children: Mutex::new(Vec::new()),
        };
        ip(&["netns", "add", &bridge_ns])?;
        plain_switch(&bridge_ns, "br0")?;
        for i in 1..=hosts {
            let ns = format!("{prefix}h{i}");
            let port = format!("{prefix}p{i}");
            let addr = Ipv4Addr::new(10, 77, subnet, 10 + i as u8);
            ip(&["netns", "add", &ns])?;
            let host = Host { ns, ip: addr, port };
            lab.plug(&host)?;
            lab.hosts.push(host);
        }
        Ok(lab)
    }

    /// Builds a routed network instead of a LAN: one router namespace `<prefix>br` and `hosts`
    /// hosts, host `i` alone on subnet 10.77.`first_subnet + i - 1`.0/24 with the address
    /// `.10 + i` on its eth0 and a default route to the router's `.1` there. A host's `port` is
    /// the router's end of its cable (`set_port` cuts the host off at the router).
    pub fn routed(prefix: &str, first_subnet: u8, hosts: usize) -> Result<Lab> {
        assert!(prefix.len() <= 6, "prefix too long for interface names");
        cleanup_prefix(prefix);
        let dir = std::env::temp_dir().join(format!("carpd-lab-{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let router = format!("{prefix}br");
        let mut lab = Lab {
            subnet: first_subnet,
            bridge_ns: router.clone(),
            hosts: Vec::new(),
            dir,
            children: Mutex::new(Vec::new()),
        };
        ip(&["netns", "add", &router])?;
        ip(&["-n", &router, "link", "set", "lo", "up"])?;
        sysctl(&router, "net.ipv4.ip_forward=1")?;
        for i in 1..=hosts {
            let subnet = first_subnet + i as u8 - 1;
            let ns = format!("{prefix}h{i}");
            let port = format!("{prefix}p{i}");
            let host = Host {
                ns,
                ip: Ipv4Addr::new(10, 77, subnet, 10 + i as u8),
                port,
            };
            ip(&["netns", "add", &host.ns])?;
            ip(&[
                "-n", &router, "link", "add", &host.port, "type", "veth", "peer", "name", "eth0",
                "netns", &host.ns,
            ])?;
            let gateway = Ipv4Addr::new(10, 77, subnet, 1);
            ip(&[
                "-n",
                &router,
                "addr",
                "add",
                &format!("{gateway}/24"),
                "dev",
                &host.port,
            ])?;
            ip(&["-n", &router, "link", "set", &host.port, "up"])?;
            bring_up(&host)?;
            ip(&[
                "-n",
                &host.ns,
                "route",
                "add",
                "default",
                "via",
                &gateway.to_string(),
            ])?;
            lab.hosts.push(host);
        }
        Ok(lab)
    }

    /// The router of a [`Lab::routed`] network (its `ip` is its address on host 1's subnet).
    pub fn router(&self) -> Host {
        Host {
            ns: self.bridge_ns.clone(),
            ip: Ipv4Addr::new(10, 77, self.subnet, 1),
            port: String::new(),
        }
    }

    /// The router's address on `host`'s subnet (a [`Lab::routed`] network).
    pub fn gateway(&self, host: &Host) -> Ipv4Addr {
        let [a, b, c, _] = host.ip.octets();
        Ipv4Addr::new(a, b, c, 1)
    }

    /// Whether `host` has `address` on interface `dev` (e.g. `lo`).
    pub fn has_address_on(&self, host: &Host, dev: &str, address: Ipv4Addr) -> bool {
        self.run(host, "ip", &["-4", "-o", "addr", "show", "dev", dev])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {address}/")))
            .unwrap_or(false)
    }

    /// The hosts (1-based) that have `address` on `dev`.
    pub fn holders_on(&self, dev: &str, address: Ipv4Addr) -> Vec<usize> {
        (1..=self.hosts.len())
            .filter(|&i| self.has_address_on(self.host(i), dev, address))
            .collect()
    }

    /// Host `i` (1-based, as in its name).
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i - 1]
    }

    /// An address `10.77.<subnet>.<last>` on the LAN (for VIPs).
    pub fn address(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, last)
    }

    /// An IPv6 address `fd77:<subnet>::<last>` on the LAN (a ULA prefix that exists only in
    /// the lab's namespaces; both numbers written in decimal digits).
    pub fn address6(&self, last: u16) -> std::net::Ipv6Addr {
        format!("fd77:{}::{last}", self.subnet)
            .parse()
            .expect("a valid IPv6 address")
    }

    /// Adds `address/64` to `host`'s eth0 without duplicate address detection (a client on the
    /// VIP's prefix).
    pub fn add_address6(&self, host: &Host, address: std::net::Ipv6Addr) -> Result<()> {
        ip(&[
            "-n",
            &host.ns,
            "-6",
            "addr",
            "add",
            &format!("{address}/64"),
            "dev",
            "eth0",
            "nodad",
        ])
    }

    /// The folder for this lab's logs, scripts and captures.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `program` in `host`, its stdout and stderr appended to `<dir>/<log>.log`.
    pub fn spawn(&self, host: &Host, program: &str, args: &[&str], log: &str) -> Result<Pid> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(log))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &host.ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {program} in {}", host.ns))?;
        let pid = Pid(child.id() as i32);
        self.children.lock().expect("lock").push(child);
        Ok(pid)
    }

    /// Runs `program` in `host` to completion.
    pub fn run(&self, host: &Host, program: &str, args: &[&str]) -> Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &host.ns, program])
            .args(args)
            .output()
            .with_context(|| format!("running {program} in {}", host.ns))
    }

    /// The path of log `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The text of log `name` so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Sends `signal` to a process started with [`Lab::spawn`].
    pub fn signal(&self, pid: Pid, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.0), signal);
    }

    /// Waits up to `timeout` for a spawned process to exit; its exit code, if it did.
    pub fn wait_exit(&self, pid: Pid, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut children = self.children.lock().expect("lock");
                if let Some(child) = children.iter_mut().find(|c| c.id() as i32 == pid.0) {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Some(status.code().unwrap_or(128));
                    }
                } else {
                    return None;
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether `host` has `address` on eth0.
    pub fn has_address(&self, host: &Host, address: Ipv4Addr) -> bool {
        self.run(host, "ip", &["-4", "-o", "addr", "show", "dev", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {address}/")))
            .unwrap_or(false)
    }

    /// Whether `host` has the IPv6 `address` on eth0 (tentative or not).
    pub fn has_address6(&self, host: &Host, address: std::net::Ipv6Addr) -> bool {
        self.run(host, "ip", &["-6", "-o", "addr", "show", "dev", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {address}/")))
            .unwrap_or(false)
    }

    /// The hosts (1-based) that have the IPv6 `address`.
    pub fn holders6(&self, address: std::net::Ipv6Addr) -> Vec<usize> {
        (1..=self.hosts.len())
            .filter(|&i| self.has_address6(self.host(i), address))
            .collect()
    }

    /// `host`'s link-local address on eth0 once duplicate address detection has passed (a
    /// tentative address cannot send), waiting up to 10 s for it.
    pub fn link_local(&self, host: &Host) -> Option<std::net::Ipv6Addr> {
        let mut found = None;
        wait_until(Duration::from_secs(10), || {
            let out = self
                .run(
                    host,
                    "ip",
                    &["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"],
                )
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            found = out
                .lines()
                .filter(|l| !l.contains("tentative"))
                .find_map(|l| {
                    let mut words = l.split_whitespace();
                    words.find(|w| *w == "inet6")?;
                    words.next()?.split('/').next()?.parse().ok()
                });
            found.is_some()
        });
        found
    }

    /// The hosts (1-based) that have `address`, of either family.
    pub fn holders_of(&self, address: std::net::IpAddr) -> Vec<usize> {
        match address {
            std::net::IpAddr::V4(a) => self.holders(a),
            std::net::IpAddr::V6(a) => self.holders6(a),
        }
    }

    /// The hosts (1-based) that have `address`.
    pub fn holders(&self, address: Ipv4Addr) -> Vec<usize> {
        (1..=self.hosts.len())
            .filter(|&i| self.has_address(self.host(i), address))
            .collect()
    }

    /// The MAC of `host`'s eth0.
    pub fn mac(&self, host: &Host) -> String {
        self.run(host, "cat", &["/sys/class/net/eth0/address"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// The MAC `host` has in its neighbour table (ARP or IPv6 ND) for `address`, if any.
    pub fn neighbour(&self, host: &Host, address: impl Into<std::net::IpAddr>) -> Option<String> {
        let address = address.into();
        let out = self
            .run(
                host,
                "ip",
                &["neigh", "show", &address.to_string(), "dev", "eth0"],
            )
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut words = text.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }

    /// Sets `host`'s eth0 administratively up or down (inside the host).
    pub fn set_link(&self, host: &Host, up: bool) -> Result<()> {
        ip(&[
            "-n",
            &host.ns,
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ])
    }

    /// Sets `host`'s switch port up or down: the host sees its carrier go and come back.
    pub fn set_port(&self, host: &Host, up: bool) -> Result<()> {
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            &host.port,
            if up { "up" } else { "down" },
        ])
    }

    /// Makes the switch drop every IPv4 multicast frame (destination MAC 01:00:5e:00:00:00/25)
    /// and IPv6 frames to VRRP's group ff02::12 (33:33:00:00:00:12; neighbour discovery still
    /// passes), as filtered switches, clouds and some hypervisors do: nftables rules in the
    /// bridge family's forward hook, in the switch's namespace.
    pub fn drop_multicast(&self) -> Result<()> {
        let ruleset = "table bridge carpd_lab {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ether daddr & ff:ff:ff:80:00:00 == 01:00:5e:00:00:00 drop\n    ether daddr 33:33:00:00:00:12 drop\n  }\n}\n";
        let path = self.dir.join("drop-multicast.nft");
        std::fs::write(&path, ruleset)?;
        let out = Command::new("ip")
            .args(["netns", "exec", &self.bridge_ns, "nft", "-f"])
            .arg(&path)
            .output()?;
        if !out.status.success() {
            bail!("nft: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Takes [`drop_multicast`](Self::drop_multicast)'s rules away: the switch forwards
    /// multicast again.
    pub fn pass_multicast(&self) -> Result<()> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.bridge_ns,
                "nft",
                "delete",
                "table",
                "bridge",
                "carpd_lab",
            ])
            .output()?;
        if !out.status.success() {
            bail!("nft: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Deletes `host`'s eth0 (and its switch port) and creates it again with the same name and
    /// address but a new index and MAC, as a driver reload or a VM's NIC hot-plug would.
    pub fn recreate_interface(&self, host: &Host) -> Result<()> {
        ip(&["-n", &host.ns, "link", "del", "eth0"])?;
        std::thread::sleep(Duration::from_millis(300));
        self.plug(host)
    }

    /// Cables `host` to the bridge: a veth pair, eth0 inside with its address, up.
    fn plug(&self, host: &Host) -> Result<()> {
        let bridge = self.bridge_ns.as_str();
        let port = host.port.as_str();
        ip(&[
            "-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
            &host.ns,
        ])?;
        ip(&["-n", bridge, "link", "set", port, "master", "br0", "up"])?;
        bring_up(host)
    }

    /// Adds a second LAN on its own bridge: each host gets `eth1` with `10.77.<subnet>.<10+i>/24`.
    pub fn add_second_lan(&self, subnet: u8) -> Result<()> {
        let all: Vec<usize> = (1..=self.hosts.len()).collect();
        self.add_lan("br1", "eth1", subnet, "q", &all)
    }

    /// Adds a LAN on a bridge `bridge` of its own for the hosts `members` (1-based, as
    /// [`Lab::host`]): host `i` gets `dev` with `10.77.<subnet>.<10+i>/24`, plugged into the
    /// switch port `<port><suffix>`.
    pub fn add_lan(
        &self,
        bridge: &str,
        dev: &str,
        subnet: u8,
        suffix: &str,
        members: &[usize],
    ) -> Result<()> {
        let switch = self.bridge_ns.as_str();
        plain_switch(switch, bridge)?;
        for &i in members {
            let host = self.host(i);
            let port = format!("{}{suffix}", host.port);
            ip(&[
                "-n", switch, "link", "add", &port, "type", "veth", "peer", "name", dev, "netns",
                &host.ns,
            ])?;
            ip(&["-n", switch, "link", "set", &port, "master", bridge, "up"])?;
            let address = format!("10.77.{subnet}.{}/24", 10 + i);
            ip(&["-n", &host.ns, "addr", "add", &address, "dev", dev])?;
            ip(&["-n", &host.ns, "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    /// Takes `host` off the first LAN: its eth0 (and switch port) deleted.
    pub fn unplug(&self, host: &Host) -> Result<()> {
        ip(&["-n", &host.ns, "link", "del", "eth0"])
    }

    /// Sets the switch port `port` (a host's port, or one of [`Lab::add_lan`]'s) up or down.
    pub fn set_switch_port(&self, port: &str, up: bool) -> Result<()> {
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            port,
            if up { "up" } else { "down" },
        ])
    }

    /// Kills every process in `host` at once (SIGKILL), as a power cut would; the namespace
    /// stays.
    pub fn kill_all(&self, host: &Host) {
        kill_processes(&host.ns);
        let mut children = self.children.lock().expect("lock");
        for child in children.iter_mut() {
            let _ = child.try_wait();
        }
    }

    /// Every IPv4 address of `host`, on any interface.
    pub fn all_addresses(&self, host: &Host) -> Vec<Ipv4Addr> {
        self.run(host, "ip", &["-4", "-o", "addr", "show"])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| {
                        let mut words = l.split_whitespace();
                        words.find(|w| *w == "inet")?;
                        words.next()?.split('/').next()?.parse().ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes an executable script `<dir>/<name>` with `body` (a `#!/bin/sh` line is added).
    ///
    /// The script is written under a temporary name and renamed into place: a daemon already
    /// started may be executing the previous version, and rewriting a file that is being
    /// executed fails with ETXTBSY.
    pub fn script(&self, name: &str, body: &str) -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        let fresh = self.dir.join(format!(".{name}.new"));
        std::fs::write(&fresh, format!("#!/bin/sh\n{body}\n"))?;
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&fresh, &path)?;
        Ok(path)
    }

    /// Up/down scripts as ucarp's upstream examples write them (`ip addr add|del $2/24 dev
    /// $1`), also appending their argv, `CARPD_STATE` and what each open descriptor points to, to `<dir>/<tag>-hooks.log`.
    pub fn vip_scripts(&self, tag: &str) -> Result<(PathBuf, PathBuf)> {
        let log = self.dir.join(format!("{tag}-hooks.log"));
        let body = |verb: &str| {
            format!(
                "echo \"{verb} argc=$# args=$* state=$CARPD_STATE fds=$(for f in /proc/$$/fd/*; do printf '%s ' \"$(readlink $f)\"; done)\" >> {}\nip addr {verb} \"$2\"/24 dev \"$1\" 2>/dev/null\nexit 0",
                log.display()
            )
        };
        Ok((
            self.script(&format!("{tag}-up"), &body("add"))?,
            self.script(&format!("{tag}-down"), &body("del"))?,
        ))
    }

    /// Starts capturing `filter` on `host`'s eth0.
    pub fn capture(&self, host: &Host, filter: &str, name: &str) -> Result<Capture> {
        Capture::start(self, host, ("eth0", &[]), filter, name)
    }

    /// Starts capturing `filter` on `host`'s interface `dev`.
    pub fn capture_on(&self, host: &Host, dev: &str, filter: &str, name: &str) -> Result<Capture> {
        Capture::start(self, host, (dev, &[]), filter, name)
    }

    /// Starts capturing `filter` on `host`'s switch port, inbound only: what the host sent
    /// into the switch (the frames the switch learns the host's MACs from).
    pub fn capture_from(&self, host: &Host, filter: &str, name: &str) -> Result<Capture> {
        let switch = Host {
            ns: self.bridge_ns.clone(),
            ip: Ipv4Addr::UNSPECIFIED,
            port: String::new(),
        };
        Capture::start(self, &switch, (&host.port, &["-Q", "in"]), filter, name)
    }

    /// A virtual MAC's macvlan `name` in `host`: `Some(up)` (administratively) when it exists.
    pub fn link_up(&self, host: &Host, name: &str) -> Option<bool> {
        let out = self
            .run(host, "ip", &["-o", "link", "show", "dev", name])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let flags = text.split('<').nth(1)?.split('>').next()?.to_string();
        Some(flags.split(',').any(|f| f == "UP"))
    }

    /// Pins `vip` to `mac` in `host`'s neighbour table (`nud permanent`): a client that never
    /// learns from gratuitous ARP.
    pub fn pin_neighbour(&self, host: &Host, vip: Ipv4Addr, mac: &str) -> Result<()> {
        ip(&[
            "-n",
            &host.ns,
            "neigh",
            "replace",
            &vip.to_string(),
            "lladdr",
            mac,
            "nud",
            "permanent",
            "dev",
            "eth0",
        ])
    }

    /// Starts probing `target` from `host` every `interval`.
    pub fn probe(
        &self,
        host: &Host,
        target: impl Into<std::net::IpAddr>,
        interval: Duration,
    ) -> Result<Prober> {
        Prober::start(&host.ns, target.into(), interval)
    }
}

/// Polls `condition` every 20 ms for up to `timeout`; whether it became true.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parses a timestamp such as `2026-11-23T15:30:53.350743` (optionally ending in `Z`), as
/// UTC, into seconds since the Unix epoch (`ip -ts monitor` and carpd's log lines).
pub fn parse_stamp(text: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(text.trim().trim_end_matches('Z')).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in self
            .children
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        for host in &self.hosts {
            kill_namespace(&host.ns);
        }
        kill_namespace(&self.bridge_ns);
        if std::thread::panicking() || std::env::var_os("CARPD_LAB_KEEP").is_some() {
            eprintln!("lab logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
