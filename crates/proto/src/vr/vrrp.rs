//! What a router does with a well-formed VRRP advert before the election hears it: VRRPv3
//! (RFC 9568) and VRRPv2 (RFC 3768; also a VRRPv3 group's with `vrrp2_compat`, RFC 5798
//! §8.4): the destination or peer, VRRPv2's authentication, a VRRPv3 sender's VRRPv2 copy
//! set aside, and a differing address list or interval reported.

use super::{Phase, VirtualRouter};
use crate::action::{Action, DropReason};
use crate::election::Heard;
use crate::time::Instant;
use crate::wire::vrrp2::Vrrp2Repr;
use crate::wire::vrrp3::{Checksum, Vrrp3Repr};
use std::net::{IpAddr, Ipv4Addr};

impl VirtualRouter {
    /// A well-formed VRRPv3 advertisement for this VRID arrived from `source` to
    /// `destination`, carrying the IPv4 checksum variant `checksum` (hop limit and source
    /// already checked by the caller, see [`crate::Node::handle_packet`]).
    pub fn handle_vrrp3(
        &mut self,
        now: Instant,
        source: IpAddr,
        destination: IpAddr,
        repr: &Vrrp3Repr,
        checksum: Checksum,
    ) {
        if self.phase == Phase::Init || !self.link_up || self.config.protocol.vrrp3().is_none() {
            return;
        }
        if !self.accepts(source, destination) {
            return;
        }
        if source.is_ipv4() {
            self.peer_checksum = Some(checksum);
        }
        if self.config.protocol.speaks_vrrp2() {
            self.last_v3 = Some((source, now));
        }
        self.compare(source, repr.addresses.iter().copied(), repr.interval_cs);
        self.heard(now, Heard::vrrp3(repr, source));
    }

    /// A well-formed VRRPv2 advertisement for this VRID arrived from `source` to
    /// `destination` (TTL already checked by the caller), for a VRRPv2 group or a VRRPv3
    /// group with `vrrp2_compat`. An advert with another auth type or password is dropped
    /// (`bad-auth`). With `vrrp2_compat`, the VRRPv2 copy sent by a router that was heard
    /// speaking VRRPv3 within the master-down interval is set aside silently: its VRRPv3
    /// advert was heard already.
    pub fn handle_vrrp2(
        &mut self,
        now: Instant,
        source: Ipv4Addr,
        destination: Ipv4Addr,
        repr: &Vrrp2Repr,
    ) {
        if self.phase == Phase::Init || !self.link_up {
            return;
        }
        let Some(auth) = self.config.vrrp2_auth() else {
            // A group that does not speak VRRPv2 is never handed it (the node routes so).
            return;
        };
        let from = IpAddr::V4(source);
        if !self.accepts(from, IpAddr::V4(destination)) {
            return;
        }
        if !auth.accepts(repr) {
            return self.drop(
                DropReason::BadAuth {
                    auth_type: repr.auth_type,
                },
                from,
            );
        }
        let copy_of_v3 = self
            .last_v3
            .is_some_and(|(v3, at)| v3 == from && now < at + self.master_down_interval());
        if copy_of_v3 {
            return;
        }
        let addresses = repr.addresses.iter().map(|&a| IpAddr::V4(a));
        self.compare(from, addresses, u16::from(repr.interval_s) * 100);
        self.heard(now, Heard::vrrp2(repr, source));
    }

    /// RFC 9568 §7.1: an advert whose addresses (or, §6.4.2 aside, interval, in
    /// centiseconds) differ from this group's is counted and reported, then used as any other
    /// (keepalived drops it, and RFC 3768 §7.1 says a VRRPv2 router drops another interval;
    /// a backup that drops its master's adverts would become a second master).
    fn compare(
        &mut self,
        source: IpAddr,
        theirs: impl Iterator<Item = IpAddr> + Clone,
        interval_cs: u16,
    ) {
        let ours = &self.config.vips;
        // Compared as sets, without allocating on the per-packet path when they agree.
        let same = theirs.clone().all(|a| ours.contains(&a))
            && ours.iter().all(|a| theirs.clone().any(|t| t == *a));
        let addresses = (!same).then(|| {
            let mut theirs: Vec<IpAddr> = theirs.collect();
            theirs.sort_unstable();
            theirs.dedup();
            theirs
        });
        let own_cs = (self.config.advert_interval().as_millis() / 10) as u16;
        let interval_cs = (interval_cs != own_cs).then_some(interval_cs);
        if addresses.is_some() || interval_cs.is_some() {
            self.stats.advert_mismatches += 1;
            self.actions.push(Action::Mismatch {
                source,
                addresses,
                interval_cs,
            });
        }
    }
}
