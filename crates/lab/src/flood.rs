//! A hostile host: sends given IPv4 packets round-robin out of its eth0 at a fixed rate, from
//! a thread that enters the host's namespace. Bounded in count and time.
//!
//! The packets go through a raw IP socket that takes them header and all (`IPPROTO_RAW`, see
//! raw(7)): the kernel keeps every field the packet brings (TTL, fragment flags, source) but
//! the total length and the header checksum, which it fills in, and it sends a multicast
//! destination to its Ethernet group address on the bound interface.

use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// What the flood sent.
#[derive(Debug, Clone, Copy)]
pub struct FloodReport {
    /// packets sent
    pub sent: u64,
    /// how long it took
    pub elapsed: Duration,
}

/// Where an IPv4 packet is going: its destination address field.
fn destination(packet: &[u8]) -> Result<SockAddr> {
    let Some(&[a, b, c, d]) = packet.get(16..20) else {
        bail!("a packet of {} bytes has no IPv4 header", packet.len());
    };
    if packet[0] >> 4 != 4 {
        bail!("a packet is not IPv4 (version {})", packet[0] >> 4);
    }
    Ok(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), 0).into())
}

/// Sends `packets` (IPv4, header included) round-robin from `ns`'s eth0 at `rate` packets/s
/// for `duration`.
pub fn flood(
    ns: &str,
    packets: Vec<Vec<u8>>,
    rate: u64,
    duration: Duration,
) -> Result<FloodReport> {
    let addressed = packets
        .into_iter()
        .map(|p| Ok((destination(&p)?, p)))
        .collect::<Result<Vec<_>>>()?;
    if addressed.is_empty() {
        bail!("nothing to flood with");
    }
    let netns = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("namespace {ns}"))?;
    let thread = std::thread::spawn(move || -> Result<FloodReport> {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )?;
        socket
            .bind_device(Some(b"eth0"))
            .context("binding to eth0")?;
        // The flooding host itself need not hear its own multicast.
        socket.set_multicast_loop_v4(false)?;
        let start = Instant::now();
        let total = rate * duration.as_secs().max(1);
        let mut sent = 0u64;
        // Bursts of one millisecond's worth.
        let burst = (rate / 1000).max(1);
        while sent < total && start.elapsed() < duration + Duration::from_secs(5) {
            let due = Duration::from_micros(sent * 1_000_000 / rate);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            for _ in 0..burst {
                let (to, packet) = &addressed[(sent as usize) % addressed.len()];
                let _ = socket.send_to(packet, to);
                sent += 1;
            }
        }
        Ok(FloodReport {
            sent,
            elapsed: start.elapsed(),
        })
    });
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("flood thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn the_destination_is_read_from_the_header() {
        let mut packet = vec![0u8; 20];
        packet[0] = 0x45;
        packet[16..20].copy_from_slice(&[224, 0, 0, 18]);
        let to = destination(&packet).unwrap();
        assert_eq!(
            to.as_socket_ipv4().unwrap().ip(),
            &std::net::Ipv4Addr::new(224, 0, 0, 18)
        );
        assert!(destination(&packet[..19]).is_err());
        packet[0] = 0x60;
        assert!(destination(&packet).is_err());
    }
}
