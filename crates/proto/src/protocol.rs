//! The protocol a group speaks, with the values only that protocol has. A group is CARP (as
//! ucarp speaks it, docs/protocol.md §2–§6) or VRRPv3 (RFC 9568, docs/protocol.md §9); what
//! the two disagree on when they elect a master is in [`crate::election`].

use crate::wire::vrrp3::Checksum;

/// A group's protocol and its own values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// CARP, wire-compatible with ucarp 1.5.2
    Carp(CarpParams),
    /// VRRPv3 (RFC 9568), as keepalived speaks it
    Vrrp3(Vrrp3Params),
}

impl Default for Protocol {
    /// CARP with ucarp's defaults.
    fn default() -> Self {
        Protocol::Carp(CarpParams::default())
    }
}

impl Protocol {
    /// `carp` or `vrrp3`, as `carpctl status` and the metrics show it.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Carp(_) => "carp",
            Protocol::Vrrp3(_) => "vrrp3",
        }
    }

    /// A CARP group's values.
    pub fn carp(&self) -> Option<&CarpParams> {
        match self {
            Protocol::Carp(p) => Some(p),
            Protocol::Vrrp3(_) => None,
        }
    }

    /// A VRRPv3 group's values.
    pub fn vrrp3(&self) -> Option<&Vrrp3Params> {
        match self {
            Protocol::Vrrp3(p) => Some(p),
            Protocol::Carp(_) => None,
        }
    }

    /// A CARP group's values, to change them (a builder's).
    pub fn carp_mut(&mut self) -> Option<&mut CarpParams> {
        match self {
            Protocol::Carp(p) => Some(p),
            Protocol::Vrrp3(_) => None,
        }
    }

    /// A VRRPv3 group's values, to change them (a builder's).
    pub fn vrrp3_mut(&mut self) -> Option<&mut Vrrp3Params> {
        match self {
            Protocol::Vrrp3(p) => Some(p),
            Protocol::Carp(_) => None,
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
}

impl Default for Vrrp3Params {
    /// keepalived's defaults: priority 100, 1 s, the pseudo-header checksum.
    fn default() -> Self {
        Vrrp3Params {
            priority: 100,
            interval_cs: 100,
            checksum: Checksum::PseudoHeader,
            accept_mode: false,
        }
    }
}
