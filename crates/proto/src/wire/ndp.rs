//! The unsolicited Neighbor Advertisement a new IPv6 master sends for each VIP, as the
//! gratuitous ARP is for IPv4 (RFC 4861 §7.2.6; RFC 9568 §6.4.2), in keepalived's format: from
//! the VIP itself to all nodes (ff02::1), hop limit 255, the Override flag, and the
//! interface's MAC as the target link-layer address option.
//!
//! ```text
//!  IPv6 header (40) | type 136 | code 0 | checksum | R S O reserved | target (16) | 2 | 1 | MAC
//! ```

use super::ethernet::{multicast_mac6, Frame, FrameBytes, ETHERTYPE_IPV6};
use super::{checksum_words, fold};
use std::net::Ipv6Addr;

/// ICMPv6's next-header number.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// ICMPv6 type of a Neighbor Advertisement.
pub const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// The Override flag (the advertised MAC replaces a cached one).
pub const FLAG_OVERRIDE: u8 = 0x20;
/// Length of the ICMPv6 part: header, flags, target, one 8-byte option.
pub const ICMP_LEN: usize = 32;
/// All nodes on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The whole Ethernet frame of an unsolicited Neighbor Advertisement for `target` from the
/// interface whose MAC is `mac`.
pub fn unsolicited_na_frame(mac: [u8; 6], target: Ipv6Addr) -> FrameBytes {
    let mut icmp = [0u8; ICMP_LEN];
    icmp[0] = TYPE_NEIGHBOR_ADVERTISEMENT;
    icmp[4] = FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&target.octets());
    icmp[24] = 2; // target link-layer address
    icmp[25] = 1; // in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let mut sum = checksum_words(&target.octets());
    sum += checksum_words(&ALL_NODES.octets());
    sum += ICMP_LEN as u32 + u32::from(NEXT_HEADER_ICMPV6);
    sum += checksum_words(&icmp);
    icmp[2..4].copy_from_slice(&(!fold(sum)).to_be_bytes());

    let packet = super::ipv6::packet(target, ALL_NODES, NEXT_HEADER_ICMPV6, 255, &icmp);
    Frame {
        destination: multicast_mac6(ALL_NODES),
        source: mac,
        ethertype: ETHERTYPE_IPV6,
        payload: &packet,
    }
    .emit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum;

    #[test]
    fn the_icmp_checksum_verifies_over_the_pseudo_header() {
        let mac = [2, 0, 0, 0, 0, 1];
        let target: Ipv6Addr = "2001:db8::150".parse().unwrap();
        let frame = unsolicited_na_frame(mac, target);
        assert_eq!(frame.len(), 14 + 40 + 32);
        assert_eq!(&frame[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        let ip = &frame[14..];
        assert_eq!((ip[6], ip[7]), (58, 255));
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip[8..40]);
        pseudo.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        pseudo.extend_from_slice(&ip[40..]);
        assert_eq!(checksum(&pseudo), 0);
        assert_eq!(ip[44], FLAG_OVERRIDE);
        assert_eq!(&ip[66..72], &mac);
    }
}
