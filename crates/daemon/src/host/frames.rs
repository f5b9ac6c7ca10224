//! Link-layer framing: adverts in Ethernet frames from the link's address, gratuitous ARP and
//! unsolicited NA for a VIP from the interface that holds it (docs/protocol.md, "Gratuitous
//! ARP"). The source address of every frame is chosen here, and nowhere else: a group with a
//! virtual MAC (`vmac = true`) sends all of them from it, on its link's packet socket (IPv6
//! adverts too, written whole here instead of by the kernel, which would use the link's MAC).

use super::input::{Effect, LinkId};
use super::Engine;
use crate::sys::prefetch::prefetch;
use carpd_proto::wire::arp::gratuitous_frame;
use carpd_proto::wire::ethernet::{
    multicast_mac, multicast_mac6, Frame, BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
};
use carpd_proto::wire::ipv6;
use carpd_proto::{Destination, DropReason, Instant, PacketBytes, RouterId};
use std::net::IpAddr;

/// Where an announcement leaves: the group's link, or its VIP interface by kernel index.
pub(super) enum AnnounceOn {
    Link(LinkId),
    Index(u32),
}

impl Engine {
    /// An Ethernet frame came on `link`: IPv4 goes to the core (its drops counted on this
    /// link), other ethertypes are not ours, a frame that does not parse is a drop.
    pub(super) fn frame_received(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        match Frame::parse(bytes) {
            Ok(frame) if frame.ethertype == ETHERTYPE_IPV4 => {
                self.node.handle_packet(now, link.0, frame.payload);
                self.drain_from(now, Some(link));
            }
            Ok(_) => {}
            Err(e) => self
                .ledger
                .record(now, DropReason::Malformed(e), None, Some(link), None),
        }
    }

    /// Starts loading the state of the groups a frame that came on `link` is for, before its
    /// turn (see [`crate::sys::prefetch`]).
    pub fn prefetch_frame(&self, link: LinkId, bytes: &[u8]) {
        if let Ok(frame) = Frame::parse(bytes) {
            if frame.ethertype == ETHERTYPE_IPV4 {
                self.node
                    .packet_routers(link.0, frame.payload)
                    .for_each(prefetch);
            }
        }
    }

    /// The group's link and the MAC its frames leave from: its virtual MAC, else the link's.
    pub(super) fn link_of(&self, router: RouterId) -> Option<(LinkId, [u8; 6])> {
        self.frame_source(router).map(|(link, mac, _)| (link, mac))
    }

    /// [`Engine::link_of`], and whether the MAC is the group's virtual one: one lookup of
    /// the group for an advert.
    fn frame_source(&self, router: RouterId) -> Option<(LinkId, [u8; 6], bool)> {
        let group = self.groups.get(&router)?;
        let link_mac = self.links.get(&group.link)?.mac;
        let mac = group.vmac.as_ref().map_or(link_mac, |v| v.mac);
        Some((group.link, mac, group.vmac.is_some()))
    }

    /// Tells the LAN where `vip` is now: a gratuitous ARP or an unsolicited NA from the
    /// interface that holds it. A VIP interface that does no ARP (`lo`, a dummy) gets none:
    /// there the host's routing daemon announces the address.
    pub(super) fn announce(&mut self, router: RouterId, vip: IpAddr) {
        let Some(group) = self.groups.get(&router) else {
            return;
        };
        let (mac, on) = match &group.vip_interface {
            None => {
                let Some((link, mac)) = self.link_of(router) else {
                    return;
                };
                (mac, AnnounceOn::Link(link))
            }
            Some(name) => {
                let state = self.vip_links.get(name).copied().unwrap_or_default();
                let Some(mac) = state.announce_from.filter(|_| state.present) else {
                    tracing::debug!("{vip} is on {name}, which does no ARP: nothing to announce");
                    return;
                };
                (mac, AnnounceOn::Index(state.index))
            }
        };
        let (frame, ethertype) = match vip {
            IpAddr::V4(vip) => {
                tracing::debug!("Sending gratuitous ARP for {vip}");
                (gratuitous_frame(mac, vip), ETHERTYPE_ARP)
            }
            IpAddr::V6(vip) => {
                tracing::debug!("Sending unsolicited neighbor advertisement for {vip}");
                (
                    carpd_proto::wire::ndp::unsolicited_na_frame(mac, vip),
                    ETHERTYPE_IPV6,
                )
            }
        };
        self.effects.push(match on {
            AnnounceOn::Link(link) => Effect::Transmit {
                link,
                frame,
                ethertype,
            },
            AnnounceOn::Index(index) => Effect::TransmitOn {
                index,
                frame,
                ethertype,
            },
        });
    }

    pub(super) fn transmit(
        &mut self,
        router: RouterId,
        destination: Destination,
        packet: PacketBytes,
    ) {
        let Some((link, mac, virtual_mac)) = self.frame_source(router) else {
            return;
        };
        let (link_destination, ethertype, packet) = match destination {
            Destination::Multicast(IpAddr::V4(group)) => {
                (multicast_mac(group), ETHERTYPE_IPV4, packet)
            }
            Destination::Broadcast => (BROADCAST, ETHERTYPE_IPV4, packet),
            Destination::Multicast(IpAddr::V6(to)) if virtual_mac => {
                // From the virtual MAC: the IPv6 header is written here (hop limit 255, as
                // RFC 9568 §5.1.2.3 wants), the checksum is the core's.
                let Some(IpAddr::V6(from)) = self.node.router(router).map(|r| r.config().source)
                else {
                    return;
                };
                let whole = ipv6::packet(
                    from,
                    to,
                    carpd_proto::wire::vrrp3::PROTOCOL_VRRP,
                    255,
                    &packet,
                );
                (
                    multicast_mac6(to),
                    ETHERTYPE_IPV6,
                    PacketBytes::from_vec(whole),
                )
            }
            Destination::Unicast(IpAddr::V4(to)) => {
                self.effects.push(Effect::SendIp { link, to, packet });
                return;
            }
            Destination::Multicast(IpAddr::V6(to)) | Destination::Unicast(IpAddr::V6(to)) => {
                // VRRPv3 over IPv6: the socket writes the header, from the group's source.
                let from = self.node.router(router).map(|r| r.config().source);
                if let Some(IpAddr::V6(from)) = from {
                    self.effects.push(Effect::SendIp6 {
                        link,
                        from,
                        to,
                        packet: packet.into_vec(),
                    });
                }
                return;
            }
        };
        let frame = Frame {
            destination: link_destination,
            source: mac,
            ethertype,
            payload: &packet,
        }
        .emit();
        self.effects.push(Effect::Transmit {
            link,
            frame,
            ethertype,
        });
    }
}
