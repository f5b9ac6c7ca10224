//! A raw IPv4 socket of protocol 112 on one interface, for adverts to unicast peers.
//!
//! The packet socket sends whole Ethernet frames and cannot route or resolve a peer's MAC; this
//! one hands the core's IPv4 packet (header included, `IP_HDRINCL`) to the kernel, which
//! resolves the next hop (ARP, or a gateway for a peer across a router). Receiving stays with
//! the packet socket: this socket takes nothing (a filter drops every packet), but its
//! existence stops the kernel from answering each unicast advert with an ICMP "protocol
//! unreachable".

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

const PROTOCOL_VRRP: i32 = 112;

/// The raw socket of one interface.
#[derive(Debug)]
pub struct RawIpSocket {
    socket: Socket,
}

impl RawIpSocket {
    /// Opens the socket on the interface named `interface` (needs CAP_NET_RAW).
    /// Non-blocking, close-on-exec.
    pub fn open(interface: &str) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(PROTOCOL_VRRP)))?;
        // Classic BPF "return 0": nothing is ever queued for reading.
        socket.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])?;
        socket.set_header_included_v4(true)?;
        socket.bind_device(Some(interface.as_bytes()))?;
        socket.set_nonblocking(true)?;
        Ok(RawIpSocket { socket })
    }

    /// Sends one IPv4 packet (header included) to `peer`.
    pub fn send(&self, packet: &[u8], peer: Ipv4Addr) -> io::Result<()> {
        let sent = self
            .socket
            .send_to(packet, &SockAddr::from(SocketAddrV4::new(peer, 0)))?;
        if sent != packet.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short packet write",
            ));
        }
        Ok(())
    }
}
