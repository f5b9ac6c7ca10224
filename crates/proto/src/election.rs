//! What CARP and VRRP (versions 2 and 3) disagree on when they elect a master: how an advert ranks its sender,
//! who wins a tie, the timers, and what a master or backup does when it hears a departure or
//! a better master. The state machine in [`crate::vr`] compares [`Preference`]s and asks the
//! group's [`Protocol`] these questions; it has no branch of its own on the protocol. A new
//! protocol is a variant of [`Protocol`] and an answer to each question here.

use crate::protocol::Protocol;
use crate::time::{advert_interval, centiseconds};
use crate::wire::carp::CarpRepr;
use crate::wire::vrrp2::Vrrp2Repr;
use crate::wire::vrrp3::Vrrp3Repr;
use core::time::Duration;
use std::net::{IpAddr, Ipv4Addr};

/// How strongly a router claims the group; the smaller one is preferred, in both protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Preference {
    /// OpenBSD's demote counter (CARP; always 0 for VRRP), compared first
    pub demote: u8,
    /// CARP: `advbase·256 + advskew`; VRRP: `255 − priority`
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

    /// A VRRP router's claim, version 2 or 3 (higher priority is preferred).
    pub fn vrrp(priority: u8) -> Self {
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
    /// the sender leaves (CARP's bow-out advert, VRRP priority 0)
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
            preference: Preference::vrrp(repr.priority),
            interval: centiseconds(repr.interval_cs),
        }
    }

    /// A VRRPv2 advert from `source`.
    pub fn vrrp2(repr: &Vrrp2Repr, source: Ipv4Addr) -> Self {
        Heard {
            source: IpAddr::V4(source),
            leaving: repr.is_leaving(),
            preference: Preference::vrrp(repr.priority),
            interval: Duration::from_secs(u64::from(repr.interval_s)),
        }
    }
}

/// What a backup does when the master says it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// CARP: take over at once (the bow-out advert, docs/protocol.md §6)
    TakeOverNow,
    /// VRRP (RFC 9568 §6.4.2, RFC 3768 §6.4.2): wait the Skew_Time, so that the most preferred backup
    /// takes over first and the others hear it
    AfterSkewTime,
}

impl Protocol {
    /// The advskew advertised and compared: the configured one plus `skew_demotion`, never
    /// 255 with advbase 255 (that is the bow-out). 0 for protocols without advskew.
    pub fn advskew(&self, skew_demotion: u8) -> u8 {
        let Protocol::Carp(carp) = self else {
            return 0;
        };
        let advskew = carp.advskew.saturating_add(skew_demotion);
        if skew_demotion > 0 && carp.advbase == 255 && advskew == 255 {
            254
        } else {
            advskew
        }
    }

    /// The priority advertised and compared: the configured one lowered by `demotion`
    /// (never below 1). 0 for protocols without priority (CARP).
    pub fn priority(&self, demotion: u8) -> u8 {
        let configured = match self {
            Protocol::Vrrp3(p) => p.priority,
            Protocol::Vrrp2(p) => p.priority,
            Protocol::Carp(_) => return 0,
        };
        configured.saturating_sub(demotion).max(1)
    }

    /// Our claim, with OpenBSD's demote counter and the demotion that goes to advskew (CARP)
    /// or lowers the priority (VRRP: both lower it).
    pub fn preference(&self, demote: u8, skew_demotion: u8) -> Preference {
        match self {
            Protocol::Carp(carp) => {
                Preference::carp(demote, carp.advbase, self.advskew(skew_demotion))
            }
            Protocol::Vrrp3(_) | Protocol::Vrrp2(_) => {
                Preference::vrrp(self.priority(demote.saturating_add(skew_demotion)))
            }
        }
    }

    /// Our advertisement interval: CARP `advbase + advskew/256` (the skew demotion included,
    /// docs/protocol.md §6); VRRPv3 the configured Max Advertise Interval; VRRPv2 its whole
    /// seconds.
    pub fn advert_interval(&self, skew_demotion: u8) -> Duration {
        match self {
            Protocol::Carp(carp) => advert_interval(carp.advbase, self.advskew(skew_demotion)),
            Protocol::Vrrp3(p) => centiseconds(p.interval_cs),
            Protocol::Vrrp2(p) => Duration::from_secs(u64::from(p.interval_s)),
        }
    }

    /// The master-down interval: CARP from our own timing, the skew demotion included
    /// (docs/protocol.md §6, "Master-down interval"); VRRPv3 from the master's advertised
    /// interval (ours until one was heard) and our priority after both demotions
    /// (RFC 9568 §6.1); VRRPv2 likewise, with its Skew_Time of whole seconds (RFC 3768 §6.1).
    pub fn master_down_interval(
        &self,
        demote: u8,
        skew_demotion: u8,
        master_interval: Option<Duration>,
    ) -> Duration {
        match self {
            Protocol::Carp(carp) => crate::time::master_down_interval(
                carp.advbase,
                self.advskew(skew_demotion),
                carp.deadratio,
            ),
            Protocol::Vrrp3(_) | Protocol::Vrrp2(_) => {
                3 * master_interval.unwrap_or(self.advert_interval(0))
                    + self.skew_time(demote, skew_demotion, master_interval)
            }
        }
    }

    /// How long a backup waits after the master left, when [`Departure::AfterSkewTime`]
    /// (RFC 9568 §6.1 and RFC 3768 §6.1, Skew_Time).
    pub fn skew_time(
        &self,
        demote: u8,
        skew_demotion: u8,
        master_interval: Option<Duration>,
    ) -> Duration {
        let priority = self.priority(demote.saturating_add(skew_demotion));
        match self {
            Protocol::Vrrp2(_) => crate::time::vrrp2_skew_time(priority),
            _ => crate::time::vrrp3_skew_time(
                priority,
                master_interval.unwrap_or(self.advert_interval(0)),
            ),
        }
    }

    /// With equal claims, whether the peer at `peer` beats the router at `local`
    /// ([`peer_wins_tie`]).
    pub fn peer_wins_tie(&self, peer: IpAddr, local: IpAddr) -> bool {
        peer_wins_tie(self.is_vrrp(), peer, local)
    }

    /// What a backup does when its master leaves.
    pub fn departure(&self) -> Departure {
        match self {
            Protocol::Carp(_) => Departure::TakeOverNow,
            Protocol::Vrrp3(_) | Protocol::Vrrp2(_) => Departure::AfterSkewTime,
        }
    }

    /// Whether a master that hears a better one sends one more advert before it steps down
    /// (ucarp's packethandler, "to be really sure the new master knows"); VRRP (RFC 9568
    /// §6.4.3, RFC 3768 §6.4.3) steps down without one.
    pub fn last_advert_on_step_down(&self) -> bool {
        matches!(self, Protocol::Carp(_))
    }

    /// Whether a backup takes over at once from a master whose interval exceeds its own
    /// dead time (ucarp's "going to time out"); a VRRP backup times the master by the
    /// master's own interval instead.
    pub fn replaces_masters_too_slow_for_it(&self) -> bool {
        matches!(self, Protocol::Carp(_))
    }

    /// Whether a backup times its master by the interval the master advertises (VRRPv3;
    /// VRRPv2 too: RFC 3768 §7.1 drops an advert with another interval, and keepalived
    /// does, but a backup that drops its master's adverts becomes a second master, so carpd
    /// reports the difference and follows the master, as with VRRPv3).
    pub fn follows_master_interval(&self) -> bool {
        self.is_vrrp()
    }

    /// Whether priority 255 makes a router the address owner, master from the start
    /// (RFC 9568 §6.4.1, RFC 3768 §6.4.1).
    pub fn has_address_owner(&self) -> bool {
        self.is_vrrp()
    }
}

/// With equal claims, whether the peer at `peer` beats the router at `local`.
///
/// CARP follows ucarp: the peer wins when its address, read as the raw network-order word on
/// a little-endian host, is smaller (docs/protocol.md §6, "Tie-break"; carpd does the same on
/// every host so that mixed pairs agree). VRRP (`vrrp`) follows RFC 9568 §6.4.3 and RFC 3768
/// §6.4.3: the higher primary address wins.
pub fn peer_wins_tie(vrrp: bool, peer: IpAddr, local: IpAddr) -> bool {
    if vrrp {
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
        assert!(Preference::vrrp(200) < Preference::vrrp(100));
        assert!(Preference::vrrp(255) < Preference::vrrp(254));
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
