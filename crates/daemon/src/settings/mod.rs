//! What carpd serves, whatever it was told with: one [`Settings`], built from the ucarp
//! command line (one group, exactly ucarp's behaviour) or from the config file (any number
//! of groups). The value rules are in [`rules`], the rules between groups in
//! [`conflicts`]; the engine only ever sees checked settings.

pub mod conflicts;
pub mod conntrack;
pub mod file;
pub mod routes;
pub mod rules;
pub mod scheduling;
pub mod tracking;

use carpd_proto::{ConfigError, Protocol, VrConfig, VrConfigBuilder};
use rules::Vip;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use tracking::{DemoteBy, TrackerSettings};

/// The config file read by `--config` and `--check-config` when no file is named.
pub const DEFAULT_CONFIG: &str = "/etc/carpd/carpd.toml";

/// The control socket of config mode unless `[daemon] control_socket` says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/carpd/control.sock";

/// Where the settings came from, which decides what SIGHUP does and how logs name groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The ucarp command line: one group; SIGHUP stops, as in ucarp.
    CommandLine,
    /// A config file.
    File(PathBuf),
}

/// Settings of the daemon as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    /// where `carpctl` connects
    pub control_socket: PathBuf,
    /// members of this Unix group may use `carpctl` too (socket mode 0660); else root only
    pub control_group: Option<String>,
    /// called for every transition of every group that has none of its own
    pub notify_script: Option<Vec<String>>,
    /// where `/metrics` is served (off when `None`)
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// whether the event loop runs under SCHED_FIFO, with its memory locked: at a set
    /// priority, never, or (no setting) when a group's adverts are under 100 ms apart
    pub realtime_priority: scheduling::Realtime,
}

/// Everything about one group.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// unique name, `<interface>-<vhid>` unless given
    pub name: String,
    /// the interface adverts go out on
    pub interface: String,
    /// virtual host id
    pub vhid: u8,
    /// the virtual addresses, in the order given
    pub vips: Vec<Vip>,
    /// the shared password: CARP's key; VRRPv2's simple text password (empty: none), also of
    /// a VRRPv3 group's VRRPv2 adverts with `vrrp2_compat`
    pub password: Vec<u8>,
    /// CARP with its advbase (seconds), advskew (1/256 s), deadratio and broadcast; or
    /// VRRPv3 with its priority, interval, checksum and accept mode
    pub protocol: Protocol,
    /// take over from a less preferred master
    pub preempt: bool,
    /// no down hook at start-up
    pub neutral: bool,
    /// down hook when stopping (or removed) as master
    pub down_on_stop: bool,
    /// this host's address; `None`: the interface's first IPv4 address that is no VIP (an
    /// IPv6 group: its link-local address)
    pub srcip: Option<IpAddr>,
    /// the multicast group
    pub multicast_group: Ipv4Addr,
    /// run to become master
    pub up_script: Option<PathBuf>,
    /// run to become backup
    pub down_script: Option<PathBuf>,
    /// the scripts' third argument
    pub xparam: Option<String>,
    /// a script still running after this is killed
    pub hook_timeout: Duration,
    /// take part even when the interface is down or has no carrier
    pub ignore_ifstate: bool,
    /// the trackers it depends on, by name
    pub track: Vec<String>,
    /// where the weights of its failed trackers go
    pub demote_by: DemoteBy,
    /// the sync group it belongs to: its members share fault and demotion
    pub sync: Option<String>,
    /// after start-up and after FAULT, preempt no live master for this long
    pub preempt_delay: Duration,
    /// called for every transition (the group's own, else `[daemon]`'s): argv, no shell
    pub notify_script: Option<Vec<String>>,
    /// while master, announce the VIPs again this often
    pub garp_refresh: Option<Duration>,
    /// unicast peers (empty: multicast)
    pub peers: Vec<IpAddr>,
    /// whether listed peers' adverts must carry TTL 255
    pub unicast_ttl_check: bool,
    /// where the VIPs go when not on `interface` (`lo`, a dummy: the host's routing daemon
    /// announces them); `None`: on `interface`
    pub vip_interface: Option<String>,
    /// routes added while master, after the VIPs (keepalived's `virtual_routes`; native
    /// mode only)
    pub routes: Vec<routes::RouteSpec>,
    /// `vmac = true`: the name of the macvlan carpd makes on `interface` with the group's
    /// virtual MAC; the VIPs go there and adverts leave from that MAC. `None`: the
    /// interface's own MAC, as ucarp.
    pub vmac: Option<String>,
    /// `conntrack = true`: its transitions drive conntrackd (`[conntrack]`): the external
    /// cache is committed before its VIPs go up
    pub conntrack: bool,
}

impl std::fmt::Debug for GroupSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSettings")
            .field("name", &self.name)
            .field("interface", &self.interface)
            .field("vhid", &self.vhid)
            .field("vips", &self.vips)
            .field("password", &"<hidden>")
            .finish_non_exhaustive()
    }
}

impl GroupSettings {
    /// Whether carpd adds and removes the VIPs itself (no script given).
    pub fn native(&self) -> bool {
        self.up_script.is_none() && self.down_script.is_none()
    }

    /// The interface the VIPs are added to: the virtual MAC's macvlan, else `vip_interface`,
    /// else `interface`.
    pub fn vip_interface(&self) -> &str {
        self.vmac
            .as_deref()
            .or(self.vip_interface.as_deref())
            .unwrap_or(&self.interface)
    }

    /// The group's virtual MAC (RFC 5798 §7.3) when it uses one (`vmac = true`).
    pub fn virtual_mac(&self) -> Option<[u8; 6]> {
        self.vmac
            .as_ref()
            .map(|_| carpd_proto::wire::ethernet::virtual_mac(self.vhid, self.is_ipv6()))
    }

    /// Whether adverts go to the Ethernet broadcast address (CARP's `broadcast`, `-M`).
    pub fn is_broadcast(&self) -> bool {
        self.protocol.carp().is_some_and(|c| c.broadcast)
    }

    /// Whether the group's addresses are IPv6 (one family per group, checked).
    pub fn is_ipv6(&self) -> bool {
        self.vips.first().is_some_and(|v| v.address.is_ipv6())
    }

    /// The core's configuration, with the source address resolved.
    pub fn router_config(&self, srcip: IpAddr) -> Result<VrConfig, ConfigError> {
        let vips: Vec<IpAddr> = self.vips.iter().map(|v| v.address).collect();
        let mut builder = match self.protocol {
            Protocol::Carp(params) => {
                let v4 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
                };
                let mut carp = VrConfigBuilder::new(self.vhid, v4(srcip), vec![], &self.password);
                // The core refuses an IPv6 VIP or source in a CARP group.
                carp.vips = vips;
                carp.source = srcip;
                carp.protocol = Protocol::Carp(params);
                carp.group = IpAddr::V4(self.multicast_group);
                carp
            }
            Protocol::Vrrp3(params) => {
                let mut vrrp3 = VrConfigBuilder::vrrp3(self.vhid, srcip, vips, params);
                // Only with vrrp2_compat: the password of its VRRPv2 adverts.
                vrrp3.password = self.password.clone();
                vrrp3
            }
            Protocol::Vrrp2(params) => {
                // The core refuses an IPv6 source in a VRRPv2 group.
                let mut vrrp2 = VrConfigBuilder::vrrp3(self.vhid, srcip, vips, Default::default());
                vrrp2.protocol = Protocol::Vrrp2(params);
                vrrp2.password = self.password.clone();
                vrrp2
            }
        };
        builder.peers = self.peers.clone();
        builder.unicast_ttl_check = self.unicast_ttl_check;
        builder.preempt = self.preempt;
        builder.neutral = self.neutral;
        builder.down_hook_on_stop = self.down_on_stop;
        builder.preempt_delay = self.preempt_delay;
        builder.garp_refresh = self.garp_refresh;
        builder.build()
    }
}

/// Everything carpd serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// command line or file
    pub origin: Origin,
    /// daemon-wide settings
    pub daemon: DaemonSettings,
    /// the trackers, in the order given
    pub trackers: Vec<TrackerSettings>,
    /// `[conntrack]`: the conntrackd the groups with `conntrack = true` drive
    pub conntrack: Option<conntrack::ConntrackSettings>,
    /// the groups, in the order given
    pub groups: Vec<GroupSettings>,
}
