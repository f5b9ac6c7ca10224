//! A virtual router's validated configuration.

use crate::error::ConfigError;
use crate::protocol::{Protocol, Vrrp2Params, Vrrp3Params};
use crate::wire::auth::Authenticator;
use crate::wire::carp::DEFAULT_GROUP;
use crate::wire::vrrp2::Vrrp2Auth;
use crate::wire::vrrp3;
use core::time::Duration;
use std::net::{IpAddr, Ipv4Addr};

/// How long a demoted master stays backup before it takes part in the election again
/// (ucarp's SIGUSR2 handler sleeps 3 s).
pub const DEMOTE_HOLD: Duration = Duration::from_secs(3);

/// Everything a user can set for one group, before validation. Start from
/// [`VrConfigBuilder::new`] (ucarp's defaults) or [`VrConfigBuilder::vrrp3`], change fields,
/// then [`VrConfigBuilder::build`].
#[derive(Clone, PartialEq, Eq)]
pub struct VrConfigBuilder {
    /// virtual host id (`-v`), the VRID for VRRPv3
    pub vhid: u8,
    /// the protocol and its own values (CARP's advbase, advskew, deadratio, broadcast;
    /// VRRPv3's priority, interval, checksum, accept mode)
    pub protocol: Protocol,
    /// take over from a less preferred master (`-P`)
    pub preempt: bool,
    /// skip the down hook at startup (`-n`)
    pub neutral: bool,
    /// run the down hook when stopping as master (`-z`)
    pub down_hook_on_stop: bool,
    /// this host's address on the interface (`-s`; IPv6: its link-local address)
    pub source: IpAddr,
    /// the virtual addresses (`-a`), all of the source's family
    pub vips: Vec<IpAddr>,
    /// the shared password (`-p`/`-o`): CARP's HMAC key; VRRPv2's simple text password (none
    /// when empty), also of a VRRPv3 group's VRRPv2 adverts with `vrrp2_compat`
    pub password: Vec<u8>,
    /// the multicast group (`--mcast`, default 224.0.0.18; ff02::12 for IPv6)
    pub group: IpAddr,
    /// after start-up and after FAULT, take over from no live master for this long
    /// (preemption and the demote rule wait; a dead or departed master is still replaced)
    pub preempt_delay: Duration,
    /// while master, announce the VIPs again this often (`None`: only on the usual occasions)
    pub garp_refresh: Option<Duration>,
    /// unicast peers: adverts go to each of them instead of the group, and only theirs count
    pub peers: Vec<IpAddr>,
    /// whether adverts from listed peers must carry TTL (hop limit) 255
    pub unicast_ttl_check: bool,
}

impl std::fmt::Debug for VrConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VrConfigBuilder")
            .field("vhid", &self.vhid)
            .field("protocol", &self.protocol)
            .field("source", &self.source)
            .field("vips", &self.vips)
            .field("peers", &self.peers)
            .field("password", &"<hidden>")
            .finish_non_exhaustive()
    }
}

impl VrConfigBuilder {
    /// A CARP group with ucarp's defaults for the required values given.
    pub fn new(vhid: u8, source: Ipv4Addr, vips: Vec<Ipv4Addr>, password: &[u8]) -> Self {
        VrConfigBuilder {
            vhid,
            protocol: Protocol::default(),
            preempt: false,
            neutral: false,
            down_hook_on_stop: false,
            source: IpAddr::V4(source),
            vips: vips.into_iter().map(IpAddr::V4).collect(),
            password: password.to_vec(),
            group: IpAddr::V4(DEFAULT_GROUP),
            preempt_delay: Duration::ZERO,
            garp_refresh: None,
            peers: Vec::new(),
            unicast_ttl_check: true,
        }
    }

    /// A VRRPv3 group (IPv4 or IPv6, after `source`) sending to 224.0.0.18 or ff02::12.
    pub fn vrrp3(vrid: u8, source: IpAddr, vips: Vec<IpAddr>, params: Vrrp3Params) -> Self {
        let group = match source {
            IpAddr::V4(_) => IpAddr::V4(vrrp3::GROUP_V4),
            IpAddr::V6(_) => IpAddr::V6(vrrp3::GROUP_V6),
        };
        VrConfigBuilder {
            source,
            vips,
            password: Vec::new(),
            group,
            protocol: Protocol::Vrrp3(params),
            ..VrConfigBuilder::new(vrid, Ipv4Addr::UNSPECIFIED, Vec::new(), b"")
        }
    }

    /// A VRRPv2 group (IPv4 only) sending to 224.0.0.18; its password, if any, is set in
    /// [`VrConfigBuilder::password`].
    pub fn vrrp2(vrid: u8, source: Ipv4Addr, vips: Vec<Ipv4Addr>, params: Vrrp2Params) -> Self {
        VrConfigBuilder {
            password: Vec::new(),
            group: IpAddr::V4(vrrp3::GROUP_V4),
            protocol: Protocol::Vrrp2(params),
            ..VrConfigBuilder::new(vrid, source, vips, b"")
        }
    }

    /// The VRRPv2 authentication of a group that sends VRRPv2 (a VRRPv2 group, or a VRRPv3
    /// group with `vrrp2_compat`: IPv4 only).
    fn vrrp2_auth(&self) -> Result<Option<Vrrp2Auth>, ConfigError> {
        if !self.protocol.speaks_vrrp2() {
            return Ok(None);
        }
        if !self.source.is_ipv4() {
            return Err(ConfigError::Vrrp2Ipv6(self.source));
        }
        Vrrp2Auth::from_password(&self.password).map(Some)
    }

    /// The checks of the protocol's own values; CARP's authenticator.
    fn protocol_checks(&self) -> Result<Option<Authenticator>, ConfigError> {
        Ok(match self.protocol {
            Protocol::Carp(carp) => {
                let IpAddr::V4(_) = self.source else {
                    return Err(ConfigError::CarpIpv6(self.source));
                };
                if carp.advbase == 0 && carp.advskew == 0 {
                    return Err(ConfigError::ZeroInterval);
                }
                if carp.deadratio == 0 {
                    return Err(ConfigError::DeadratioZero);
                }
                let vips = ipv4_only(&self.vips);
                Some(Authenticator::new(&self.password, self.vhid, &vips)?)
            }
            Protocol::Vrrp3(params) => {
                if params.priority == 0 {
                    return Err(ConfigError::PriorityZero);
                }
                if params.interval_cs == 0 || params.interval_cs > vrrp3::MAX_INTERVAL_CS {
                    return Err(ConfigError::IntervalOutOfRange(params.interval_cs));
                }
                if !self.password.is_empty() && !params.vrrp2_compat {
                    return Err(ConfigError::PasswordInVrrp3);
                }
                if params.vrrp2_compat && params.interval_cs % 100 != 0 {
                    return Err(ConfigError::CompatInterval(params.interval_cs));
                }
                None
            }
            Protocol::Vrrp2(params) => {
                if params.priority == 0 {
                    return Err(ConfigError::PriorityZero);
                }
                if params.interval_s == 0 {
                    return Err(ConfigError::Vrrp2IntervalZero);
                }
                None
            }
        })
    }

    /// Checks every value and prepares the authenticator.
    pub fn build(self) -> Result<VrConfig, ConfigError> {
        if self.vhid == 0 {
            return Err(ConfigError::VhidZero);
        }
        if self.vips.is_empty() {
            return Err(ConfigError::NoVip);
        }
        let mut sorted = self.vips.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateVip(w[0]));
        }
        if self.source.is_unspecified() {
            return Err(ConfigError::SourceUnspecified);
        }
        if let Some(&vip) = self
            .vips
            .iter()
            .find(|v| v.is_ipv4() != self.source.is_ipv4())
        {
            return Err(ConfigError::MixedFamilies {
                vip,
                srcip: self.source,
            });
        }
        if let Some(&peer) = self
            .peers
            .iter()
            .find(|p| p.is_ipv4() != self.source.is_ipv4())
        {
            return Err(ConfigError::PeerFamily {
                peer,
                srcip: self.source,
            });
        }
        if self.peers.contains(&self.source) {
            return Err(ConfigError::PeerIsSelf(self.source));
        }
        if !self.group.is_multicast() || self.group.is_ipv4() != self.source.is_ipv4() {
            return Err(ConfigError::GroupNotMulticast(self.group));
        }
        let auth = self.protocol_checks()?;
        let v2_auth = self.vrrp2_auth()?;
        Ok(VrConfig {
            vhid: self.vhid,
            protocol: self.protocol,
            preempt: self.preempt,
            neutral: self.neutral,
            down_hook_on_stop: self.down_hook_on_stop,
            source: self.source,
            vips: self.vips,
            group: self.group,
            preempt_delay: self.preempt_delay,
            garp_refresh: self.garp_refresh,
            peers: self.peers,
            unicast_ttl_check: self.unicast_ttl_check,
            auth,
            v2_auth,
        })
    }
}

/// The IPv4 addresses among `addresses`, in order (what CARP's HMAC and VRRPv2's advert
/// carry).
pub(crate) fn ipv4_only(addresses: &[IpAddr]) -> Vec<Ipv4Addr> {
    addresses
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// A validated configuration (see [`VrConfigBuilder`] for the meaning of each field).
#[derive(Debug, Clone)]
pub struct VrConfig {
    /// virtual host id (VRRPv3: the VRID), 1..=255
    pub vhid: u8,
    /// the protocol and its own values
    pub protocol: Protocol,
    /// preempt a less preferred master
    pub preempt: bool,
    /// no down hook at startup
    pub neutral: bool,
    /// down hook when stopping as master
    pub down_hook_on_stop: bool,
    /// own address
    pub source: IpAddr,
    /// virtual addresses, in the order given, of the source's family
    pub vips: Vec<IpAddr>,
    /// multicast group
    pub group: IpAddr,
    /// how long after start-up or FAULT no live master is taken over
    pub preempt_delay: Duration,
    /// how often a master announces its VIPs again
    pub garp_refresh: Option<Duration>,
    /// unicast peers (empty: multicast)
    pub peers: Vec<IpAddr>,
    /// whether listed peers' adverts must carry TTL 255
    pub unicast_ttl_check: bool,
    /// the HMAC state: exactly for CARP (built so by [`VrConfigBuilder::build`])
    pub(crate) auth: Option<Authenticator>,
    /// the VRRPv2 authentication: exactly for groups that speak VRRPv2
    pub(crate) v2_auth: Option<Vrrp2Auth>,
}

impl VrConfig {
    /// The configured advertisement interval: `advbase + advskew/256` for CARP, the Max
    /// Advertise Interval for VRRPv3.
    pub fn advert_interval(&self) -> Duration {
        self.protocol.advert_interval(0)
    }

    /// The master-down interval from our own values (a VRRPv3 backup uses the master's
    /// interval once it heard one).
    pub fn master_down_interval(&self) -> Duration {
        self.protocol.master_down_interval(0, 0, None)
    }

    /// The HMAC state of a CARP group.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.auth.as_ref()
    }

    /// The VRRPv2 authentication of a group that speaks VRRPv2 (a VRRPv2 group, or a VRRPv3
    /// group with `vrrp2_compat`).
    pub fn vrrp2_auth(&self) -> Option<Vrrp2Auth> {
        self.v2_auth
    }

    /// Whether adverts go to listed peers instead of the group.
    pub fn is_unicast(&self) -> bool {
        !self.peers.is_empty()
    }

    /// Whether adverts go to the Ethernet broadcast address (CARP's `-M`).
    pub fn is_broadcast(&self) -> bool {
        self.protocol.carp().is_some_and(|c| c.broadcast)
    }

    /// The protocol's name: `carp`, `vrrp3` or `vrrp2`.
    pub fn protocol_name(&self) -> &'static str {
        self.protocol.name()
    }

    /// Whether a router running `old` must restart (bow out, INIT to BACKUP) to run this
    /// configuration: peers could not know it as the same router (another vhid, key or
    /// VRRPv2 password, protocol or address family; `vrrp2_compat` turned on or off is not
    /// one). Everything else changes in place. The core applies this
    /// on reconfiguration and the daemon's reload plan reports it.
    pub fn needs_restart(&self, old: &VrConfig) -> bool {
        let same_key = match (&self.auth, &old.auth) {
            (Some(new), Some(old)) => new.same_key(old),
            (None, None) => true,
            _ => false,
        };
        self.vhid != old.vhid
            || !same_key
            || matches!((self.v2_auth, old.v2_auth), (Some(new), Some(old)) if new != old)
            || !self.protocol.same_kind(&old.protocol)
            || self.source.is_ipv4() != old.source.is_ipv4()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> VrConfigBuilder {
        VrConfigBuilder::new(
            1,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![Ipv4Addr::new(10, 0, 0, 9)],
            b"pw",
        )
    }

    #[test]
    fn each_bad_value_is_named() {
        type Change = Box<dyn Fn(&mut VrConfigBuilder)>;
        let cases: Vec<(Change, ConfigError)> = vec![
            (Box::new(|b| b.vhid = 0), ConfigError::VhidZero),
            (
                Box::new(|b| b.protocol.carp_mut().unwrap().advbase = 0),
                ConfigError::ZeroInterval,
            ),
            (
                Box::new(|b| b.protocol.carp_mut().unwrap().deadratio = 0),
                ConfigError::DeadratioZero,
            ),
            (Box::new(|b| b.vips.clear()), ConfigError::NoVip),
            (
                Box::new(|b| b.vips.push(v4(10, 0, 0, 9))),
                ConfigError::DuplicateVip(v4(10, 0, 0, 9)),
            ),
            (
                Box::new(|b| b.source = v4(0, 0, 0, 0)),
                ConfigError::SourceUnspecified,
            ),
            (
                Box::new(|b| b.group = v4(10, 1, 1, 1)),
                ConfigError::GroupNotMulticast(v4(10, 1, 1, 1)),
            ),
            (
                Box::new(|b| b.vips.push("2001:db8::1".parse().unwrap())),
                ConfigError::MixedFamilies {
                    vip: "2001:db8::1".parse().unwrap(),
                    srcip: v4(10, 0, 0, 1),
                },
            ),
            (
                Box::new(|b| b.peers.push("fe80::2".parse().unwrap())),
                ConfigError::PeerFamily {
                    peer: "fe80::2".parse().unwrap(),
                    srcip: v4(10, 0, 0, 1),
                },
            ),
            (
                Box::new(|b| b.peers.push(v4(10, 0, 0, 1))),
                ConfigError::PeerIsSelf(v4(10, 0, 0, 1)),
            ),
            (
                Box::new(|b| b.password = vec![b'a'; 20]),
                ConfigError::PasswordLength { len: 20 },
            ),
        ];
        for (change, expected) in cases {
            let mut b = base();
            change(&mut b);
            assert_eq!(b.build().unwrap_err(), expected);
        }
        assert!(base().build().is_ok());
        assert!(!format!("{:?}", base()).contains("pw\""));
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn vrrp3(source: &str, vip: &str) -> VrConfigBuilder {
        VrConfigBuilder::vrrp3(
            50,
            source.parse().unwrap(),
            vec![vip.parse().unwrap()],
            Vrrp3Params::default(),
        )
    }

    #[test]
    fn each_bad_vrrp3_value_is_named() {
        type Change = Box<dyn Fn(&mut VrConfigBuilder)>;
        let cases: Vec<(Change, ConfigError)> = vec![
            (
                Box::new(|b| b.protocol.vrrp3_mut().unwrap().priority = 0),
                ConfigError::PriorityZero,
            ),
            (
                Box::new(|b| b.protocol.vrrp3_mut().unwrap().interval_cs = 0),
                ConfigError::IntervalOutOfRange(0),
            ),
            (
                Box::new(|b| b.protocol.vrrp3_mut().unwrap().interval_cs = 4096),
                ConfigError::IntervalOutOfRange(4096),
            ),
            (
                Box::new(|b| b.password = b"secret".to_vec()),
                ConfigError::PasswordInVrrp3,
            ),
        ];
        for (change, expected) in cases {
            let mut b = vrrp3("10.0.0.1", "10.0.0.9");
            change(&mut b);
            assert_eq!(b.build().unwrap_err(), expected);
        }
        let v6 = vrrp3("fe80::1", "2001:db8::9").build().unwrap();
        assert_eq!(v6.group, IpAddr::V6(vrrp3::GROUP_V6));
        assert!(v6.authenticator().is_none());
        assert_eq!(v6.protocol_name(), "vrrp3");
        let mut carp6 = base();
        carp6.source = "fe80::1".parse().unwrap();
        carp6.vips = vec!["2001:db8::9".parse().unwrap()];
        carp6.group = IpAddr::V6(vrrp3::GROUP_V6);
        assert_eq!(
            carp6.build().unwrap_err(),
            ConfigError::CarpIpv6("fe80::1".parse().unwrap())
        );
    }
}
