//! The adverts a router sends, as whole packets with their link destination: CARP as ucarp
//! sends it, VRRPv3 over IPv4 (IP header included) and over IPv6 (the VRRP part only: the
//! kernel writes the IPv6 header).

use crate::action::Destination;
use crate::config::VrConfig;
use crate::protocol::Protocol;
use crate::rng::SplitMix64;
use crate::wire::carp::{Advertisement, CarpRepr};
use crate::wire::ipv4::{Ipv4Repr, CARP_TTL, PROTOCOL_CARP};
use crate::wire::vrrp3::Vrrp3Repr;
use std::net::IpAddr;

/// `IPTOS_PREC_INTERNETCONTROL`, the TOS of VRRPv3 adverts over IPv4 (as keepalived sends).
pub const TOS_INTERNETCONTROL: u8 = 0xc0;

/// Where adverts go: each unicast peer, or the group (the link's broadcast with `--nomcast`).
fn destinations(config: &VrConfig) -> Vec<(Destination, IpAddr)> {
    if config.is_unicast() {
        config
            .peers
            .iter()
            .map(|&peer| (Destination::Unicast(peer), peer))
            .collect()
    } else if config.is_broadcast() {
        vec![(Destination::Broadcast, config.group)]
    } else {
        vec![(Destination::Multicast(config.group), config.group)]
    }
}

/// The advert a router sends now, one packet per destination: the regular one with the
/// demotions in effect, or the one that says it leaves (`leaving`: CARP's bow-out with advbase
/// and advskew 255, docs/protocol.md §6; VRRPv3's priority 0). A CARP advert takes the next
/// `counter`.
pub fn adverts(
    config: &VrConfig,
    demote: u8,
    skew_demotion: u8,
    leaving: bool,
    counter: &mut u64,
    rng: &mut SplitMix64,
) -> Vec<(Destination, Vec<u8>)> {
    match &config.protocol {
        Protocol::Carp(carp) => {
            let (advbase, advskew) = if leaving {
                (255, 255)
            } else {
                (carp.advbase, config.protocol.advskew(skew_demotion))
            };
            *counter = counter.wrapping_add(1);
            self::carp(config, demote, advbase, advskew, *counter, rng)
        }
        Protocol::Vrrp3(_) => {
            let priority = if leaving {
                0
            } else {
                config
                    .protocol
                    .priority(demote.saturating_add(skew_demotion))
            };
            vrrp3(config, priority, rng)
        }
    }
}

/// CARP adverts with these fields (the digest computed here), one per destination.
pub fn carp(
    config: &VrConfig,
    demote: u8,
    advbase: u8,
    advskew: u8,
    counter: u64,
    rng: &mut SplitMix64,
) -> Vec<(Destination, Vec<u8>)> {
    let (IpAddr::V4(source), Some(auth)) = (config.source, config.authenticator()) else {
        // Invariant of VrConfigBuilder::build: a CARP group has an IPv4 source and a key.
        return Vec::new();
    };
    let carp = CarpRepr {
        vhid: config.vhid,
        advskew,
        demote,
        advbase,
        counter,
        digest: auth.digest(counter),
    };
    destinations(config)
        .into_iter()
        .filter_map(|(destination, address)| {
            let IpAddr::V4(address) = address else {
                return None;
            };
            let ident = rng.next_u64() as u16;
            let advert = Advertisement::outgoing(source, address, ident, carp);
            Some((destination, advert.emit().to_vec()))
        })
        .collect()
}

/// VRRPv3 adverts at `priority` (0 when leaving), one per destination.
pub fn vrrp3(config: &VrConfig, priority: u8, rng: &mut SplitMix64) -> Vec<(Destination, Vec<u8>)> {
    let Some(&params) = config.protocol.vrrp3() else {
        return Vec::new();
    };
    let repr = Vrrp3Repr {
        vrid: config.vhid,
        priority,
        interval_cs: params.interval_cs,
        addresses: config.vips.clone(),
    };
    destinations(config)
        .into_iter()
        .map(|(destination, address)| {
            let vrrp = repr.emit(config.source, address, params.checksum);
            let packet = match (config.source, address) {
                (IpAddr::V4(source), IpAddr::V4(address)) => {
                    let header = Ipv4Repr {
                        source,
                        destination: address,
                        ttl: CARP_TTL,
                        tos: TOS_INTERNETCONTROL,
                        ident: rng.next_u64() as u16,
                        dont_fragment: false,
                        protocol: PROTOCOL_CARP,
                        payload_len: vrrp.len(),
                    };
                    let mut packet = header.emit().to_vec();
                    packet.extend_from_slice(&vrrp);
                    packet
                }
                _ => vrrp,
            };
            (destination, packet)
        })
        .collect()
}
