//! Group membership: an IGMP join on the `-i` interface (by index, not by source address as
//! ucarp does), so that switches with IGMP snooping forward the adverts and the NIC accepts
//! the group's MAC.

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io;
use std::net::Ipv4Addr;

/// Holds the membership for as long as it lives.
#[derive(Debug)]
pub struct Membership {
    _socket: Socket,
}

/// Joins `group` on interface `ifindex`.
pub fn join(group: Ipv4Addr, ifindex: u32) -> io::Result<Membership> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))?;
    Ok(Membership { _socket: socket })
}
