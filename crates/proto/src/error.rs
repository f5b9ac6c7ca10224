//! Errors for bad configuration. Packet errors live in [`crate::wire::DecodeError`] and
//! [`crate::action::DropReason`].

use std::net::IpAddr;
use thiserror::Error;

/// A configuration the core refuses, with the value given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// vhid 0.
    #[error("vhid 0 is invalid: accepted 1 to 255")]
    VhidZero,
    /// advbase and advskew both zero would mean adverts without pause.
    #[error(
        "advbase 0 with advskew 0 gives no advertisement interval: set advbase or advskew above 0"
    )]
    ZeroInterval,
    /// A dead ratio of zero.
    #[error("deadratio 0 is invalid: accepted 1 or more")]
    DeadratioZero,
    /// No virtual address.
    #[error("no virtual IP address given: at least one is needed")]
    NoVip,
    /// The same virtual address twice.
    #[error("virtual IP address {0} given twice")]
    DuplicateVip(IpAddr),
    /// Password of the wrong length.
    #[error("password of {len} bytes: accepted 1 to 19 bytes (ucarp's limit: a 20-byte key with its terminating NUL)")]
    PasswordLength {
        /// length given
        len: usize,
    },
    /// Unspecified source address.
    #[error(
        "the unspecified source address is invalid: give the host's own address on the interface"
    )]
    SourceUnspecified,
    /// A group address that is not multicast.
    #[error("group {0} is not a multicast address of the source's family: accepted 224.0.0.0 to 239.255.255.255 (IPv4) or ff00::/8 (IPv6)")]
    GroupNotMulticast(IpAddr),
    /// A VIP of the other family than the source (one family per group).
    #[error("virtual IP address {vip} is not of the family of the source address {srcip}: one address family per group")]
    MixedFamilies {
        /// the VIP
        vip: IpAddr,
        /// the source
        srcip: IpAddr,
    },
    /// A unicast peer of the other family than the source.
    #[error("peer {peer} is not of the family of the source address {srcip}")]
    PeerFamily {
        /// the peer
        peer: IpAddr,
        /// the source
        srcip: IpAddr,
    },
    /// The group's own address among its peers.
    #[error("peer {0} is this host's own source address")]
    PeerIsSelf(IpAddr),
    /// CARP over IPv6 (ucarp's CARP is IPv4 only).
    #[error("CARP groups are IPv4 only, got {0}: use protocol = \"vrrp3\" for IPv6")]
    CarpIpv6(IpAddr),
    /// VRRPv3 priority 0 (reserved for a master that leaves).
    #[error("priority 0 is invalid: accepted 1 to 255 (0 is what a leaving master sends)")]
    PriorityZero,
    /// A VRRPv3 interval outside 1..=4095 centiseconds.
    #[error("advert interval of {0} centiseconds is invalid: accepted 0.01 to 40.95 s")]
    IntervalOutOfRange(u16),
    /// A password on a VRRPv3 group (VRRPv3 has no authentication).
    #[error("VRRPv3 has no authentication: remove the password (or set vrrp2_compat, whose VRRPv2 adverts carry it)")]
    PasswordInVrrp3,
    /// A VRRPv2 simple text password of the wrong length.
    #[error("VRRPv2 password of {len} bytes: accepted 1 to 8 bytes (simple text authentication, keepalived's auth_pass), or none")]
    Vrrp2PasswordLength {
        /// length given
        len: usize,
    },
    /// A VRRPv2 interval of 0 seconds.
    #[error("VRRPv2 advert interval of 0 s is invalid: accepted 1 to 255 whole seconds")]
    Vrrp2IntervalZero,
    /// VRRPv2 (or VRRPv2 compatibility) over IPv6: VRRPv2 is IPv4 only.
    #[error(
        "VRRPv2 is IPv4 only, got {0}: use protocol = \"vrrp3\" without vrrp2_compat for IPv6"
    )]
    Vrrp2Ipv6(IpAddr),
    /// vrrp2_compat with a VRRPv3 interval that VRRPv2 cannot carry.
    #[error("vrrp2_compat with an advert interval of {0} centiseconds: VRRPv2 carries whole seconds, accepted 1 to 40 s in whole seconds while vrrp2_compat is set")]
    CompatInterval(u16),
}
