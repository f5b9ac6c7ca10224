//! What CARP and VRRPv3 disagree on when they elect a master: how an advert ranks its sender
//! and who wins a tie. The state machine in [`crate::vr`] only compares [`Preference`]s.

use crate::time::{advert_interval, centiseconds};
use crate::wire::carp::CarpRepr;
use crate::wire::vrrp3::Vrrp3Repr;
use core::time::Duration;
use std::net::{IpAddr, Ipv4Addr};

/// How strongly a router claims the group; the smaller one is preferred, in both protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Preference {
    /// OpenBSD's demote counter (CARP; always 0 for VRRPv3), compared first
    pub demote: u8,
    /// CARP: `advbase·256 + advskew`; VRRPv3: `255 − priority`
    pub rank: u32,
}

impl Preference {
    /// A CARP router's claim.
    pub fn carp(demote: u8, advbase: u8, advskew: u8) -> Self {
        Preference {
            demote,
            rank: u32::from(advbase) * 256 + u32::from(advskew),
        }
    }

    /// A VRRPv3 router's claim (higher priority is preferred).
    pub fn vrrp3(priority: u8) -> Self {
        Preference {
            demote: 0,
            rank: 255 - u32::from(priority),
        }
    }
}

/// An advert that passed its protocol's checks, as the election sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// who sent it
    pub source: IpAddr,
    /// the sender leaves (CARP's bow-out advert, VRRPv3 priority 0)
    pub leaving: bool,
    /// the sender's claim
    pub preference: Preference,
    /// the sender's advertisement interval
    pub interval: Duration,
}

impl Heard {
    /// A CARP advert from `source`.
    pub fn carp(carp: &CarpRepr, source: Ipv4Addr) -> Self {
        Heard {
            source: IpAddr::V4(source),
            leaving: carp.is_bow_out(),
            preference: Preference::carp(carp.demote, carp.advbase, carp.advskew),
            interval: advert_interval(carp.advbase, carp.advskew),
        }
    }

    /// A VRRPv3 advert from `source`.
    pub fn vrrp3(repr: &Vrrp3Repr, source: IpAddr) -> Self {
        Heard {
            source,
            leaving: repr.is_leaving(),
            preference: Preference::vrrp3(repr.priority),
            interval: centiseconds(repr.interval_cs),
        }
    }
}

/// With equal claims, whether the peer at `peer` beats the router at `local`.
///
/// CARP follows ucarp: the peer wins when its address, read as the raw network-order word on
/// a little-endian host, is smaller (docs/protocol.md §6, "Tie-break"; carpd does the same on
/// every host so that mixed pairs agree). VRRPv3 follows RFC 9568 §6.4.3: the higher primary
/// address wins.
pub fn peer_wins_tie(vrrp3: bool, peer: IpAddr, local: IpAddr) -> bool {
    if vrrp3 {
        return peer > local;
    }
    match (peer, local) {
        (IpAddr::V4(peer), IpAddr::V4(local)) => {
            ucarp_address_order(peer) < ucarp_address_order(local)
        }
        _ => peer > local,
    }
}

/// ucarp's tie-break key: the address's network-order bytes read as a little-endian word,
/// which is what `ip_src.s_addr < srcip.s_addr` compares on x86.
pub fn ucarp_address_order(address: Ipv4Addr) -> u32 {
    u32::from_le_bytes(address.octets())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demote_counts_before_timing_and_priority_is_inverted() {
        assert!(Preference::carp(0, 1, 200) < Preference::carp(1, 1, 0));
        assert!(Preference::carp(0, 1, 0) < Preference::carp(0, 1, 1));
        assert!(Preference::vrrp3(200) < Preference::vrrp3(100));
        assert!(Preference::vrrp3(255) < Preference::vrrp3(254));
    }

    #[test]
    fn ties_go_by_protocol() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap());
        assert!(peer_wins_tie(true, a, b), "VRRPv3: higher address wins");
        assert!(!peer_wins_tie(true, b, a));
        // ucarp compares the last octet first: 10.0.1.1 beats 10.0.0.2
        let (c, d): (IpAddr, IpAddr) = ("10.0.1.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(peer_wins_tie(false, c, d));
        assert!(!peer_wins_tie(false, d, c));
    }
}
