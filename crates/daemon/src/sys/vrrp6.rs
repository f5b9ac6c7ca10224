//! A raw IPv6 socket of next header 112 on one interface: VRRPv3 over IPv6.
//!
//! The kernel writes the IPv6 header (hop limit 255 for multicast and unicast) and the VRRP
//! checksum over the pseudo-header (`IPV6_CHECKSUM` at offset 6, which also makes it drop
//! received packets whose checksum is wrong). The source is the group's link-local address,
//! given with each packet (`IPV6_PKTINFO`); received packets come with their hop limit and
//! destination, which the core checks.

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

const NEXT_HEADER_VRRP: i32 = 112;
/// Where the VRRP checksum sits in the packet.
const CHECKSUM_OFFSET: libc::c_int = 6;

/// One received VRRP packet's addresses and hop limit (its bytes are in the caller's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// bytes read
    pub len: usize,
    /// the sender
    pub source: Ipv6Addr,
    /// where it was sent (ff02::12, or our address for unicast)
    pub destination: Ipv6Addr,
    /// its hop limit on arrival
    pub hop_limit: u8,
}

/// The socket of one interface.
#[derive(Debug)]
pub struct Vrrp6Socket {
    socket: Socket,
    ifindex: u32,
}

impl Vrrp6Socket {
    /// Opens the socket on interface `name` (index `ifindex`) and joins `group` there (needs
    /// CAP_NET_RAW). Non-blocking, close-on-exec.
    pub fn open(name: &str, ifindex: u32, group: Ipv6Addr) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(NEXT_HEADER_VRRP)),
        )?;
        super::set_int_option(
            &socket,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            CHECKSUM_OFFSET,
        )?;
        socket.bind_device(Some(name.as_bytes()))?;
        socket.set_multicast_hops_v6(255)?;
        socket.set_unicast_hops_v6(255)?;
        socket.set_multicast_loop_v6(false)?;
        socket.set_multicast_if_v6(ifindex)?;
        socket.join_multicast_v6(&group, ifindex)?;
        setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        socket.set_nonblocking(true)?;
        Ok(Vrrp6Socket { socket, ifindex })
    }

    /// Reads one packet into `buf`; `WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let mut control = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        let mut iov = [IoSliceMut::new(buf)];
        let message = recvmsg::<SockaddrIn6>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let source = message
            .address
            .map(|a| a.ip())
            .ok_or_else(|| io::Error::other("a packet without a source address"))?;
        let (mut destination, mut hop_limit) = (None, None);
        for cmsg in message.cmsgs().map_err(io::Error::from)? {
            match cmsg {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    destination = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr))
                }
                ControlMessageOwned::Ipv6HopLimit(limit) => hop_limit = u8::try_from(limit).ok(),
                _ => {}
            }
        }
        Ok(Received {
            len: message.bytes,
            source,
            destination: destination
                .ok_or_else(|| io::Error::other("a packet without its destination"))?,
            hop_limit: hop_limit
                .ok_or_else(|| io::Error::other("a packet without its hop limit"))?,
        })
    }

    /// Sends one VRRP packet (no IPv6 header) from `source` to `to` on this interface.
    pub fn send(&self, vrrp: &[u8], source: Ipv6Addr, to: Ipv6Addr) -> io::Result<()> {
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: source.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let destination = SockaddrIn6::from(SocketAddrV6::new(to, 0, 0, self.ifindex));
        let sent = sendmsg(
            self.socket.as_raw_fd(),
            &[IoSlice::new(vrrp)],
            &[ControlMessage::Ipv6PacketInfo(&info)],
            MsgFlags::empty(),
            Some(&destination),
        )
        .map_err(io::Error::from)?;
        if sent != vrrp.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short packet write",
            ));
        }
        Ok(())
    }
}

impl AsFd for Vrrp6Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Vrrp6Socket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}
