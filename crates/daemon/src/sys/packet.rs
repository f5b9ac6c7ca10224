//! An AF_PACKET socket on one interface: it receives IPv4 frames of protocol 112 (a kernel
//! filter drops everything else) and sends whole Ethernet frames (adverts, gratuitous ARP).
//!
//! Why not a raw IP socket: `--nomcast` adverts carry the multicast IP destination in an
//! Ethernet broadcast frame, which the IP stack does not deliver without a group join, and
//! only a packet socket lets carpd choose every header byte as ucarp does. Frames are read
//! as they arrive (no ring buffer, unlike ucarp's libpcap path with its ~1 s latency).

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use std::io::{self, Read};
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

const ETH_P_IP: u16 = 0x0800;

/// Classic BPF: accept an IPv4 frame whose protocol byte (offset 14 + 9) is 112.
fn carp_filter() -> [SockFilter; 4] {
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    [
        SockFilter::new(LD_B_ABS, 0, 0, 23),
        SockFilter::new(JEQ_K, 0, 1, 112),
        SockFilter::new(RET_K, 0, 0, 0x0004_0000),
        SockFilter::new(RET_K, 0, 0, 0),
    ]
}

/// A packet socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    socket: Socket,
    ifindex: u32,
}

fn link_address(ifindex: u32, protocol: u16) -> io::Result<SockAddr> {
    // SAFETY: the storage handed to the closure is zeroed and large enough for any socket
    // address (sockaddr_storage); sockaddr_ll is smaller and has no alignment above it. We
    // write one whole sockaddr_ll and report its size.
    let ((), address) = unsafe {
        SockAddr::try_init(|storage, len| {
            let ll = storage.cast::<libc::sockaddr_ll>();
            (*ll).sll_family = libc::AF_PACKET as u16;
            (*ll).sll_protocol = protocol.to_be();
            (*ll).sll_ifindex = ifindex as i32;
            (*ll).sll_halen = 6;
            *len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(address)
}

impl PacketSocket {
    /// Opens the socket on `ifindex` (needs CAP_NET_RAW). Non-blocking, close-on-exec.
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ETH_P_IP.to_be()))),
        )?;
        // Filter first, so that nothing unfiltered queues between bind and attach.
        socket.attach_filter(&carp_filter())?;
        socket.bind(&link_address(ifindex, ETH_P_IP)?)?;
        if let Err(e) =
            super::set_int_option(&socket, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)
        {
            // Older kernels: own packets are then dropped by source address in the core.
            tracing::debug!("PACKET_IGNORE_OUTGOING unavailable: {e}");
        }
        // Room for bursts (a flood of bad packets must not crowd out the master's adverts
        // while the loop catches up).
        socket.set_recv_buffer_size(4 << 20)?;
        socket.set_nonblocking(true)?;
        Ok(PacketSocket { socket, ifindex })
    }

    /// A socket on `ifindex` that only sends (protocol 0: the kernel queues nothing to it),
    /// for gratuitous ARP and unsolicited NA on an interface carpd does not listen on.
    pub fn sender(ifindex: u32) -> io::Result<Self> {
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        socket.set_nonblocking(true)?;
        Ok(PacketSocket { socket, ifindex })
    }

    /// Reads one frame into `buf`; `WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.socket).read(buf)
    }

    /// Sends one Ethernet frame whose type is `ethertype`.
    pub fn send(&self, frame: &[u8], ethertype: u16) -> io::Result<()> {
        let address = link_address(self.ifindex, ethertype)?;
        let sent = self.socket.send_to(frame, &address)?;
        if sent != frame.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short frame write",
            ));
        }
        Ok(())
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}
