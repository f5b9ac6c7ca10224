//! The protocol a group speaks, with the values only that protocol has. A group is CARP (as
//! ucarp speaks it, docs/protocol.md §2–§6), VRRPv3 (RFC 9568, docs/protocol.md §9) or VRRPv2
//! (RFC 3768, keepalived's default version, docs/protocol.md §10); what they disagree on when
//! they elect a master is in [`crate::election`].

use crate::wire::vrrp3::Checksum;

/// A group's protocol and its own values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// CARP, wire-compatible with ucarp 1.5.2
    Carp(CarpParams),
    /// VRRPv3 (RFC 9568), as keepalived speaks it
    Vrrp3(Vrrp3Params),
    /// VRRPv2 (RFC 3768), IPv4 only, as keepalived speaks it at its defaults
    Vrrp2(Vrrp2Params),
}

impl Default for Protocol {
    /// CARP with ucarp's defaults.
    fn default() -> Self {
        Protocol::Carp(CarpParams::default())
    }
}

impl Protocol {
    /// `carp`, `vrrp3` or `vrrp2`, as `carpctl status` and the metrics show it.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Carp(_) => "carp",
            Protocol::Vrrp3(_) => "vrrp3",
            Protocol::Vrrp2(_) => "vrrp2",
        }
    }

    /// A CARP group's values.
    pub fn carp(&self) -> Option<&CarpParams> {
        match self {
            Protocol::Carp(p) => Some(p),
            _ => None,
        }
    }

    /// A VRRPv3 group's values.
    pub fn vrrp3(&self) -> Option<&Vrrp3Params> {
        match self {
            Protocol::Vrrp3(p) => Some(p),
            _ => None,
        }
    }

    /// A VRRPv2 group's values.
    pub fn vrrp2(&self) -> Option<&Vrrp2Params> {
        match self {
            Protocol::Vrrp2(p) => Some(p),
            _ => None,
        }
    }

    /// A CARP group's values, to change them (a builder's).
    pub fn carp_mut(&mut self) -> Option<&mut CarpParams> {
        match self {
            Protocol::Carp(p) => Some(p),
            _ => None,
        }
    }

    /// A VRRPv3 group's values, to change them (a builder's).
    pub fn vrrp3_mut(&mut self) -> Option<&mut Vrrp3Params> {
        match self {
            Protocol::Vrrp3(p) => Some(p),
            _ => None,
        }
    }

    /// A VRRPv2 group's values, to change them (a builder's).
    pub fn vrrp2_mut(&mut self) -> Option<&mut Vrrp2Params> {
        match self {
            Protocol::Vrrp2(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the group speaks VRRP (version 2 or 3): priorities, not CARP's timing.
    pub fn is_vrrp(&self) -> bool {
        !matches!(self, Protocol::Carp(_))
    }

    /// Whether the group sends and hears VRRPv2 adverts: a VRRPv2 group, or a VRRPv3 group
    /// with `vrrp2_compat` (RFC 5798 §8.4).
    pub fn speaks_vrrp2(&self) -> bool {
        match self {
            Protocol::Vrrp2(_) => true,
            Protocol::Vrrp3(p) => p.vrrp2_compat,
            Protocol::Carp(_) => false,
        }
    }

    /// Whether `other` is the same protocol (values aside).
    pub fn same_kind(&self, other: &Protocol) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// What a CARP group sets beside what every group has (the password is the builder's, and
/// becomes the config's HMAC key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarpParams {
    /// base interval in seconds (`-b`, default 1)
    pub advbase: u8,
    /// skew in 1/256 s (`-k`, default 0)
    pub advskew: u8,
    /// dead ratio (`-r`, default 3)
    pub deadratio: u32,
    /// send adverts to the Ethernet broadcast address (`-M`)
    pub broadcast: bool,
}

impl Default for CarpParams {
    /// ucarp's defaults: advbase 1, advskew 0, deadratio 3, multicast.
    fn default() -> Self {
        CarpParams {
            advbase: 1,
            advskew: 0,
            deadratio: 3,
            broadcast: false,
        }
    }
}

/// What a VRRPv3 group sets instead of CARP's advbase, advskew, deadratio and password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vrrp3Params {
    /// 1..=255, higher is preferred; 255 = the address owner
    pub priority: u8,
    /// Max Advertise Interval in centiseconds, 1..=4095
    pub interval_cs: u16,
    /// the IPv4 checksum sent (both are accepted)
    pub checksum: Checksum,
    /// a master answers for its VIPs as their owner would (RFC 9568 Accept_Mode)
    pub accept_mode: bool,
    /// RFC 5798 §8.4: a master also sends a VRRPv2 advert beside each VRRPv3 one, and a
    /// backup takes the VRRPv2 adverts of a router that sends no VRRPv3 (IPv4, whole seconds)
    pub vrrp2_compat: bool,
}

impl Default for Vrrp3Params {
    /// keepalived's defaults: priority 100, 1 s, the pseudo-header checksum.
    fn default() -> Self {
        Vrrp3Params {
            priority: 100,
            interval_cs: 100,
            checksum: Checksum::PseudoHeader,
            accept_mode: false,
            vrrp2_compat: false,
        }
    }
}

/// What a VRRPv2 group sets (the password is the builder's, and becomes the config's
/// [`crate::wire::vrrp2::Vrrp2Auth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vrrp2Params {
    /// 1..=255, higher is preferred; 255 = the address owner
    pub priority: u8,
    /// Advertisement_Interval in whole seconds, 1..=255
    pub interval_s: u8,
}

impl Default for Vrrp2Params {
    /// keepalived's defaults: priority 100, 1 s.
    fn default() -> Self {
        Vrrp2Params {
            priority: 100,
            interval_s: 1,
        }
    }
}
