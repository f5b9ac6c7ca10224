//! The adverts a router sends, as whole packets with their link destination: CARP as ucarp
//! sends it, VRRPv2 and VRRPv3 over IPv4 (IP header included) and VRRPv3 over IPv6 (the VRRP
//! part only: the kernel writes the IPv6 header).

use crate::action::{Destination, PacketBytes};
use crate::config::VrConfig;
use crate::protocol::Protocol;
use crate::rng::SplitMix64;
use crate::wire::carp::{Advertisement, CarpRepr};
use crate::wire::ipv4::{Ipv4Repr, CARP_TTL, PROTOCOL_CARP};
use crate::wire::vrrp2::Vrrp2Repr;
use crate::wire::vrrp3::Vrrp3Repr;
use smallvec::{smallvec, SmallVec};
use std::net::{IpAddr, Ipv4Addr};

/// A router's adverts of one moment, one per destination (one, but for unicast peers and
/// `vrrp2_compat`): inline, so that a regular advert allocates nothing.
pub type Adverts = SmallVec<[(Destination, PacketBytes); 1]>;

/// `IPTOS_PREC_INTERNETCONTROL`, the TOS of VRRP adverts over IPv4 (as keepalived sends).
pub const TOS_INTERNETCONTROL: u8 = 0xc0;

/// Where adverts go: each unicast peer, or the group (the link's broadcast with `--nomcast`).
fn destinations(config: &VrConfig) -> SmallVec<[(Destination, IpAddr); 1]> {
    if config.is_unicast() {
        config
            .peers
            .iter()
            .map(|&peer| (Destination::Unicast(peer), peer))
            .collect()
    } else if config.is_broadcast() {
        smallvec![(Destination::Broadcast, config.group)]
    } else {
        smallvec![(Destination::Multicast(config.group), config.group)]
    }
}

/// The advert a router sends now, one packet per destination: the regular one with the
/// demotions in effect, or the one that says it leaves (`leaving`: CARP's bow-out with advbase
/// and advskew 255, docs/protocol.md §6; VRRP's priority 0). A CARP advert takes the next
/// `counter`; a VRRPv2 packet takes the next one as its IP id (keepalived counts them from 1).
/// A VRRPv3 group with `vrrp2_compat` sends a VRRPv2 packet after each VRRPv3 one.
pub fn adverts(
    config: &VrConfig,
    demote: u8,
    skew_demotion: u8,
    leaving: bool,
    counter: &mut u64,
    rng: &mut SplitMix64,
) -> Adverts {
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
        Protocol::Vrrp3(params) => {
            let priority = vrrp_priority(config, demote, skew_demotion, leaving);
            let mut packets = vrrp3(config, priority, rng);
            if params.vrrp2_compat {
                let seconds = (params.interval_cs / 100).clamp(1, 255) as u8;
                packets.extend(vrrp2(config, priority, seconds, counter));
            }
            packets
        }
        Protocol::Vrrp2(params) => {
            let priority = vrrp_priority(config, demote, skew_demotion, leaving);
            vrrp2(config, priority, params.interval_s, counter)
        }
    }
}

/// The priority a VRRP advert carries: 0 when leaving, else the configured one lowered by
/// the demotions in effect.
fn vrrp_priority(config: &VrConfig, demote: u8, skew_demotion: u8, leaving: bool) -> u8 {
    if leaving {
        0
    } else {
        config
            .protocol
            .priority(demote.saturating_add(skew_demotion))
    }
}

/// An IPv4 packet of protocol 112 carrying `payload` (TOS 0xc0, no DF) with `ttl` and IP id
/// `ident`: what VRRP senders write, keepalived included. carpd's own adverts go with TTL 255.
pub fn ipv4_packet(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    ttl: u8,
    ident: u16,
    payload: &[u8],
) -> PacketBytes {
    let header = Ipv4Repr {
        source,
        destination,
        ttl,
        tos: TOS_INTERNETCONTROL,
        ident,
        dont_fragment: false,
        protocol: PROTOCOL_CARP,
        payload_len: payload.len(),
    };
    let mut packet = PacketBytes::from_slice(&header.emit());
    packet.extend_from_slice(payload);
    packet
}

/// VRRPv2 adverts at `priority` (0 when leaving) and `interval_s`, one per destination, each
/// with the next `counter` as its IP id.
pub fn vrrp2(config: &VrConfig, priority: u8, interval_s: u8, counter: &mut u64) -> Adverts {
    let (IpAddr::V4(source), Some(auth)) = (config.source, config.vrrp2_auth()) else {
        // Invariant of VrConfigBuilder::build: a group that speaks VRRPv2 is IPv4 and has
        // its VRRPv2 authentication.
        return Adverts::new();
    };
    let addresses = crate::config::ipv4_only(&config.vips);
    let vrrp = Vrrp2Repr::new(config.vhid, priority, interval_s, addresses, auth).emit();
    destinations(config)
        .into_iter()
        .filter_map(|(destination, address)| {
            let IpAddr::V4(address) = address else {
                return None;
            };
            *counter = counter.wrapping_add(1);
            let packet = ipv4_packet(source, address, CARP_TTL, *counter as u16, &vrrp);
            Some((destination, packet))
        })
        .collect()
}

/// CARP adverts with these fields (the digest computed here), one per destination.
pub fn carp(
    config: &VrConfig,
    demote: u8,
    advbase: u8,
    advskew: u8,
    counter: u64,
    rng: &mut SplitMix64,
) -> Adverts {
    let (IpAddr::V4(source), Some(auth)) = (config.source, config.authenticator()) else {
        // Invariant of VrConfigBuilder::build: a CARP group has an IPv4 source and a key.
        return Adverts::new();
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
            Some((destination, PacketBytes::from_slice(&advert.emit())))
        })
        .collect()
}

/// VRRPv3 adverts at `priority` (0 when leaving), one per destination.
pub fn vrrp3(config: &VrConfig, priority: u8, rng: &mut SplitMix64) -> Adverts {
    let Some(&params) = config.protocol.vrrp3() else {
        return Adverts::new();
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
                    ipv4_packet(source, address, CARP_TTL, rng.next_u64() as u16, &vrrp)
                }
                _ => PacketBytes::from_vec(vrrp),
            };
            (destination, packet)
        })
        .collect()
}
