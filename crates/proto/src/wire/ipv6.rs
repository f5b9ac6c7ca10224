//! The fixed IPv6 header (RFC 8200 §3) in front of the packets carpd writes whole: the
//! unsolicited Neighbor Advertisement, and VRRPv3 adverts sent from a virtual MAC (which leave
//! by the packet socket, not by the kernel's IPv6 stack).

use std::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// `payload` behind an IPv6 header from `source` to `destination`: traffic class and flow
/// label 0, `next_header` (112 for VRRP, 58 for ICMPv6) and `hop_limit`.
pub fn packet(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    next_header: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let length = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut packet = Vec::with_capacity(HEADER_LEN + payload.len());
    packet.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, class 0, flow 0
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&[next_header, hop_limit]);
    packet.extend_from_slice(&source.octets());
    packet.extend_from_slice(&destination.octets());
    packet.extend_from_slice(payload);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_carries_length_next_header_hop_limit_and_addresses() {
        let source: Ipv6Addr = "fe80::1".parse().unwrap();
        let destination: Ipv6Addr = "ff02::12".parse().unwrap();
        let p = packet(source, destination, 112, 255, &[1, 2, 3]);
        assert_eq!(p.len(), 43);
        assert_eq!(&p[..4], &[0x60, 0, 0, 0]);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 3);
        assert_eq!((p[6], p[7]), (112, 255));
        assert_eq!(&p[8..24], &source.octets());
        assert_eq!(&p[24..40], &destination.octets());
        assert_eq!(&p[40..], &[1, 2, 3]);
    }
}
