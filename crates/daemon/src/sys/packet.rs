//! An AF_PACKET socket on one interface: it receives IPv4 frames of protocol 112 (a kernel
//! filter drops everything else) and sends whole Ethernet frames (adverts, gratuitous ARP).
//!
//! Why not a raw IP socket: `--nomcast` adverts carry the multicast IP destination in an
//! Ethernet broadcast frame, which the IP stack does not deliver without a group join, and
//! only a packet socket lets carpd choose every header byte as ucarp does. Frames are read
//! as they arrive (no ring buffer, unlike ucarp's libpcap path with its ~1 s latency).

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use std::io::{self, Read};
use std::mem::{size_of, MaybeUninit};
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
            return Err(short_write());
        }
        Ok(())
    }

    /// Sends `frames` (each with its ethertype) in as few system calls as the kernel allows
    /// (`sendmmsg`), in order; `report` learns each frame's outcome, in order, as
    /// [`PacketSocket::send`] would have returned it.
    pub fn send_all<F: AsRef<[u8]>>(
        &self,
        frames: &[(F, u16)],
        mut report: impl FnMut(io::Result<()>),
    ) {
        let mut rest = frames;
        while !rest.is_empty() {
            let chunk = &rest[..rest.len().min(SEND_CHUNK)];
            match self.send_chunk(chunk) {
                Ok(lengths) => {
                    for (sent, (frame, _)) in lengths.iter().zip(chunk) {
                        report(if *sent as usize == frame.as_ref().len() {
                            Ok(())
                        } else {
                            Err(short_write())
                        });
                    }
                    rest = &rest[lengths.len()..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The first frame of the chunk failed: it is reported, the next ones are
                // tried (as one send per frame would have).
                Err(e) => {
                    report(Err(e));
                    rest = &rest[1..];
                }
            }
        }
    }

    /// One `sendmmsg` of up to [`SEND_CHUNK`] frames: the lengths sent, one per frame that
    /// left (at least one), or the first frame's error. Its headers live on the stack and
    /// only the chunk's own are written (an idle group sends one frame: zeroing all
    /// [`SEND_CHUNK`] headers touched 80 cache lines per advert); a chunk allocates only the
    /// addresses of the ethertypes it holds.
    fn send_chunk<F: AsRef<[u8]>>(&self, chunk: &[(F, u16)]) -> io::Result<Vec<u32>> {
        let chunk = &chunk[..chunk.len().min(SEND_CHUNK)];
        let mut addresses: Vec<(u16, SockAddr)> = Vec::new();
        for (_, ethertype) in chunk {
            if !addresses.iter().any(|(e, _)| e == ethertype) {
                addresses.push((*ethertype, link_address(self.ifindex, *ethertype)?));
            }
        }
        let mut iovecs = [const { MaybeUninit::<libc::iovec>::uninit() }; SEND_CHUNK];
        let mut headers = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; SEND_CHUNK];
        for ((iov, header), (frame, ethertype)) in
            iovecs.iter_mut().zip(headers.iter_mut()).zip(chunk)
        {
            let address = addresses
                .iter()
                .find(|(e, _)| e == ethertype)
                .map(|(_, a)| a)
                .expect("an address for every ethertype of the chunk");
            let frame = frame.as_ref();
            let iov = iov.write(libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            });
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty value (no buffer, no
            // address, no control data, no flags), whose fields are set below.
            let header = header.write(unsafe { std::mem::zeroed() });
            header.msg_hdr.msg_name = address.as_ptr() as *mut libc::c_void;
            header.msg_hdr.msg_namelen = address.len();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        let count = chunk.len();
        // SAFETY: the first `count` headers were written above (`chunk` is at most
        // SEND_CHUNK long, within the kernel's UIO_MAXIOV); each points at one live iovec
        // (`iovecs`), one live address (`addresses`) and one live frame (`chunk`), all of
        // which outlive the call. The kernel reads only those `count` headers and writes
        // each one's `msg_len`.
        let sent = unsafe {
            libc::sendmmsg(
                self.socket.as_raw_fd(),
                headers.as_mut_ptr().cast::<libc::mmsghdr>(),
                count as libc::c_uint,
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        if sent == 0 {
            return Err(short_write());
        }
        Ok(headers[..sent as usize]
            .iter()
            // SAFETY: the kernel sent `sent` ≤ `count` frames, whose headers were written.
            .map(|h| unsafe { h.assume_init_ref() }.msg_len)
            .collect())
    }
}

/// The most frames one `sendmmsg` carries.
const SEND_CHUNK: usize = 64;

fn short_write() -> io::Error {
    io::Error::new(io::ErrorKind::WriteZero, "short frame write")
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// An IPv4 frame of protocol 112 to a MAC nobody has (the IP stack drops it as another
    /// host's), numbered `n`, with `marker` in its payload.
    fn frame(n: u16, marker: &[u8; 8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00];
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[8] = 255;
        ip[9] = 112;
        f.extend_from_slice(&ip);
        f.extend_from_slice(marker);
        f.extend_from_slice(&n.to_be_bytes());
        f
    }

    #[test]
    fn send_all_sends_every_frame_in_order_across_chunks() {
        let lo = nix::net::if_::if_nametoindex("lo").expect("lo");
        let (receiver, sender) = match (PacketSocket::open(lo), PacketSocket::sender(lo)) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("skipped: a packet socket on lo needs CAP_NET_RAW ({e})");
                return;
            }
        };
        let marker: [u8; 8] = (u64::from(std::process::id()) | 0xca4d << 48).to_be_bytes();
        let count = SEND_CHUNK as u16 * 2 + 7;
        let frames: Vec<(Vec<u8>, u16)> =
            (0..count).map(|n| (frame(n, &marker), ETH_P_IP)).collect();
        let mut reports = Vec::new();
        sender.send_all(&frames, |r| reports.push(r));
        assert_eq!(reports.len(), frames.len(), "one report per frame");
        assert!(reports.iter().all(Result::is_ok), "{reports:?}");

        let mut seen = Vec::new();
        let mut buf = [0u8; 2048];
        let until = Instant::now() + Duration::from_secs(5);
        while seen.len() < usize::from(count) && Instant::now() < until {
            match receiver.recv(&mut buf) {
                Ok(len) if buf[..len].get(34..42) == Some(&marker[..]) => {
                    seen.push(u16::from_be_bytes([buf[42], buf[43]]));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("receive: {e}"),
            }
        }
        assert_eq!(
            seen,
            (0..count).collect::<Vec<_>>(),
            "every frame, in order"
        );
    }
}
