//! rtnetlink: VIP and route add/remove, and link, address and route events as they happen
//! (no polling).

use crate::settings::routes::RouteSpec;
use futures::stream::{StreamExt, TryStreamExt};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{AsyncSocket, SocketAddr};
use rtnetlink::constants::{
    RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE, RTMGRP_LINK,
};
use rtnetlink::{AddressMessageBuilder, Handle, RouteMessageBuilder};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tokio::sync::mpsc;

/// Something that changed on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A link exists with this state (sent on every change).
    Link {
        /// kernel index
        index: u32,
        /// name
        name: String,
        /// administratively up and with carrier
        running: bool,
        /// Ethernet address
        mac: Option<[u8; 6]>,
    },
    /// A link was deleted.
    LinkRemoved {
        /// kernel index
        index: u32,
    },
    /// An address was removed from a link.
    AddressRemoved {
        /// kernel index of the link
        index: u32,
        /// the address
        address: IpAddr,
    },
    /// A route was removed.
    RouteRemoved {
        /// its destination network
        destination: IpAddr,
        /// its prefix length
        prefix: u8,
        /// its table
        table: u32,
    },
}

/// The address protocol (`IFA_PROTO`, Linux 6.1 and later) carpd puts on every address it
/// adds: 112, CARP's IP protocol number. `ip -d address` shows it as `proto 0x70`. Start-up
/// removes a VIP left on the interface only when it carries this mark, so an address carpd
/// did not add (the host's own, an administrator's) is never taken away.
pub const CARPD_ADDRESS_PROTOCOL: u8 = 112;

/// An address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddress {
    /// the address
    pub address: IpAddr,
    /// its prefix length
    pub prefix: u8,
    /// whether carpd added it (it carries [`CARPD_ADDRESS_PROTOCOL`])
    pub added_by_carpd: bool,
    /// where it is in IPv6 duplicate address detection
    pub dad: Dad,
}

/// Where an address is in IPv6 duplicate address detection (RFC 4862 section 5.4). A
/// tentative address cannot be a source yet; one that failed never can. IPv4 addresses and
/// carpd's own `nodad` VIPs are always [`Dad::Done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dad {
    /// usable
    Done,
    /// still being checked (about a second after the address appears)
    Tentative,
    /// another host on the link has it
    Failed,
}

impl Dad {
    /// From an address message's flags (the `IFA_FLAGS` attribute when present, else the
    /// header's 8 bits).
    fn of(message: &AddressMessage) -> Dad {
        let wide = message.attributes.iter().find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        });
        let (failed, tentative) = match wide {
            Some(f) => (
                f.contains(AddressFlags::Dadfailed),
                f.contains(AddressFlags::Tentative),
            ),
            None => (
                message.header.flags.contains(AddressHeaderFlags::Dadfailed),
                message.header.flags.contains(AddressHeaderFlags::Tentative),
            ),
        };
        if failed {
            Dad::Failed
        } else if tentative {
            Dad::Tentative
        } else {
            Dad::Done
        }
    }
}

/// A netlink connection for requests.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

pub(crate) fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

impl Netlink {
    /// Opens a request connection (its task runs on the current runtime).
    pub fn open() -> io::Result<Netlink> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// The request handle, for the link requests of [`super::macvlan`].
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Subscribes to link and address events, and with `routes` to route events (only when a
    /// group has routes: a host with a routing daemon's full table would otherwise hear every
    /// route change); they arrive on the returned channel.
    pub fn events(routes: bool) -> io::Result<mpsc::UnboundedReceiver<NetEvent>> {
        let (mut connection, _, mut messages) = rtnetlink::new_connection()?;
        let mut groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
        if routes {
            groups |= RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
        }
        connection
            .socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, groups))?;
        tokio::spawn(connection);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((message, _)) = messages.next().await {
                let event = match message.payload {
                    netlink_packet_core::NetlinkPayload::InnerMessage(m) => translate(m),
                    _ => None,
                };
                if let Some(event) = event {
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Adds `address/prefix` to link `index`, marked as carpd's; already present is fine. An
    /// IPv6 address is added without duplicate address detection (`nodad`): DAD would leave
    /// it tentative, unusable, for about a second after a takeover.
    pub async fn add_address(&self, index: u32, address: IpAddr, prefix: u8) -> io::Result<()> {
        let mut request = self.handle.address().add(index, address, prefix);
        let message = request.message_mut();
        message
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::Other(
                CARPD_ADDRESS_PROTOCOL,
            )));
        if address.is_ipv6() {
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EEXIST => Ok(()),
            other => other.map_err(to_io),
        }
    }

    /// Removes `address/prefix` from link `index`; already absent is fine.
    pub async fn remove_address(&self, index: u32, address: IpAddr, prefix: u8) -> io::Result<()> {
        let message = match address {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(a, prefix)
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(index)
                .address(a, prefix)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Err(rtnetlink::Error::NetlinkError(m))
                if m.raw_code() == -libc::EADDRNOTAVAIL || m.raw_code() == -libc::ENODEV =>
            {
                Ok(())
            }
            other => other.map_err(to_io),
        }
    }

    /// Adds `route`, marked as carpd's (protocol [`CARPD_ADDRESS_PROTOCOL`]); already present
    /// is fine.
    pub async fn add_route(&self, route: &RouteSpec) -> io::Result<()> {
        let message = route_message(route)?;
        match self.handle.route().add(message).execute().await {
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EEXIST => Ok(()),
            other => other.map_err(to_io),
        }
    }

    /// Removes `route`; already absent is fine.
    pub async fn remove_route(&self, route: &RouteSpec) -> io::Result<()> {
        let message = route_message(route)?;
        match self.handle.route().del(message).execute().await {
            Err(rtnetlink::Error::NetlinkError(m))
                if m.raw_code() == -libc::ESRCH || m.raw_code() == -libc::ENODEV =>
            {
                Ok(())
            }
            other => other.map_err(to_io),
        }
    }

    /// The addresses of link `index`, IPv4 and IPv6.
    pub async fn addresses(&self, index: u32) -> io::Result<Vec<LinkAddress>> {
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        let mut found = Vec::new();
        while let Some(message) = stream.try_next().await.map_err(to_io)? {
            if let Some(address) = address_of(&message) {
                let added_by_carpd = message.attributes.iter().any(|a| {
                    matches!(a, AddressAttribute::Protocol(p) if u8::from(*p) == CARPD_ADDRESS_PROTOCOL)
                });
                found.push(LinkAddress {
                    address,
                    prefix: message.header.prefix_len,
                    added_by_carpd,
                    dad: Dad::of(&message),
                });
            }
        }
        Ok(found)
    }
}

/// The route message for `route`: its interface looked up by name now.
fn route_message(route: &RouteSpec) -> io::Result<RouteMessage> {
    fn invalid(e: impl std::fmt::Display) -> io::Error {
        io::Error::other(e.to_string())
    }
    let mut builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(route.destination, route.prefix)
        .map_err(invalid)?
        .table_id(route.table())
        .protocol(RouteProtocol::Other(CARPD_ADDRESS_PROTOCOL));
    if let Some(via) = route.via {
        builder = builder.gateway(via).map_err(invalid)?;
    }
    if let Some(src) = route.src {
        builder = builder.pref_source(src).map_err(invalid)?;
    }
    if let Some(dev) = &route.dev {
        // The index alone: one ioctl, not iface::lookup's dump of every address.
        let index = nix::net::if_::if_nametoindex(dev.as_str())
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("dev {dev}: {e}")))?;
        builder = builder.output_interface(index);
    }
    if let Some(metric) = route.metric {
        builder = builder.priority(metric);
    }
    if route.scope_link {
        builder = builder.scope(RouteScope::Link);
    }
    Ok(builder.build())
}

/// A removed route's destination, prefix and table.
fn removed_route(message: &RouteMessage) -> Option<NetEvent> {
    let mut destination = None;
    let mut table = u32::from(message.header.table);
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(RouteAddress::Inet(a)) => {
                destination = Some(IpAddr::V4(*a))
            }
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => {
                destination = Some(IpAddr::V6(*a))
            }
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    let destination = destination.or(match message.header.address_family {
        netlink_packet_route::AddressFamily::Inet => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        netlink_packet_route::AddressFamily::Inet6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => None,
    })?;
    Some(NetEvent::RouteRemoved {
        destination,
        prefix: message.header.destination_prefix_length,
        table,
    })
}

fn address_of(message: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer on point-to-point links
    // (IPv6 addresses have only IFA_ADDRESS).
    let mut found = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(a) => return Some(*a),
            AddressAttribute::Address(a) => found = Some(*a),
            _ => {}
        }
    }
    found
}

fn link_event(link: &LinkMessage) -> Option<NetEvent> {
    let mut name = None;
    let mut mac = None;
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut m = [0u8; 6];
                m.copy_from_slice(a);
                mac = Some(m);
            }
            _ => {}
        }
    }
    let flags = link.header.flags;
    Some(NetEvent::Link {
        index: link.header.index,
        name: name?,
        running: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp),
        mac,
    })
}

fn translate(message: RouteNetlinkMessage) -> Option<NetEvent> {
    match message {
        RouteNetlinkMessage::NewLink(link) => link_event(&link),
        RouteNetlinkMessage::DelLink(link) => Some(NetEvent::LinkRemoved {
            index: link.header.index,
        }),
        RouteNetlinkMessage::DelAddress(address) => Some(NetEvent::AddressRemoved {
            index: address.header.index,
            address: address_of(&address)?,
        }),
        RouteNetlinkMessage::DelRoute(route) => removed_route(&route),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dad_state_comes_from_ifa_flags_before_the_header() {
        let mut m = AddressMessage::default();
        assert_eq!(Dad::of(&m), Dad::Done);
        m.header.flags = AddressHeaderFlags::Tentative;
        assert_eq!(Dad::of(&m), Dad::Tentative);
        m.header.flags = AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed;
        assert_eq!(Dad::of(&m), Dad::Failed);
        // IFA_FLAGS, when present, is the full set and wins over the header's 8 bits.
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Permanent));
        assert_eq!(Dad::of(&m), Dad::Done);
        m.attributes = vec![AddressAttribute::Flags(AddressFlags::Tentative)];
        assert_eq!(Dad::of(&m), Dad::Tentative);
    }
}
