//! Ethernet II framing: the 14-byte header in front of adverts and ARP.

use super::DecodeError;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The broadcast address, used by `--nomcast` adverts and by gratuitous ARP.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// How many bytes of a frame live inline in [`FrameBytes`]: a CARP advert's frame (70 bytes)
/// and a gratuitous ARP (42), rounded up to the 8 bytes the heap form takes anyway.
pub const FRAME_INLINE: usize = 72;

/// A whole frame: inline up to [`FRAME_INLINE`] bytes, on the heap beyond. A master's regular
/// CARP advert and a gratuitous ARP allocate nothing.
pub type FrameBytes = smallvec::SmallVec<[u8; FRAME_INLINE]>;

/// The Ethernet address an IPv4 multicast group maps to (RFC 1112 §6.4: `01:00:5e` and the low
/// 23 bits of the group).
pub fn multicast_mac(group: Ipv4Addr) -> [u8; 6] {
    let o = group.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

/// The Ethernet address an IPv6 multicast group maps to (RFC 2464 §7: `33:33` and the low
/// 32 bits of the group).
pub fn multicast_mac6(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The virtual router MAC of RFC 5798 §7.3 (RFC 9568 §7.3): `00:00:5e:00:01:<vrid>` for an
/// IPv4 virtual router, `00:00:5e:00:02:<vrid>` for an IPv6 one. CARP groups use the IPv4
/// form with their vhid, as OpenBSD's carp does.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// A parsed Ethernet II header and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// destination address
    pub destination: [u8; 6],
    /// source address
    pub source: [u8; 6],
    /// ethertype
    pub ethertype: u16,
    /// everything after the header
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Splits `bytes` into header fields and payload.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len: bytes.len(),
                need: HEADER_LEN,
            });
        }
        let mut destination = [0; 6];
        let mut source = [0; 6];
        destination.copy_from_slice(&bytes[0..6]);
        source.copy_from_slice(&bytes[6..12]);
        Ok(Frame {
            destination,
            source,
            ethertype: u16::from_be_bytes([bytes[12], bytes[13]]),
            payload: &bytes[HEADER_LEN..],
        })
    }

    /// Writes header and payload into a new buffer (inline if it fits, see [`FrameBytes`]).
    pub fn emit(&self) -> FrameBytes {
        let mut out = FrameBytes::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.destination);
        out.extend_from_slice(&self.source);
        out.extend_from_slice(&self.ethertype.to_be_bytes());
        out.extend_from_slice(self.payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multicast_mapping() {
        assert_eq!(
            multicast_mac(Ipv4Addr::new(224, 0, 0, 18)),
            [1, 0, 0x5e, 0, 0, 0x12]
        );
        assert_eq!(
            multicast_mac(Ipv4Addr::new(239, 192, 1, 2)),
            [1, 0, 0x5e, 0x40, 1, 2]
        );
    }

    #[test]
    fn an_advert_s_frame_and_a_gratuitous_arp_are_inline() {
        let advert = [0u8; crate::wire::carp::IPV4_PACKET_LEN];
        let frame = Frame {
            destination: multicast_mac(Ipv4Addr::new(224, 0, 0, 18)),
            source: [2, 0, 0, 0, 0, 1],
            ethertype: ETHERTYPE_IPV4,
            payload: &advert,
        };
        let bytes = frame.emit();
        assert_eq!(bytes.len(), 70);
        assert!(!bytes.spilled());
        let arp =
            crate::wire::arp::gratuitous_frame([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 1));
        assert!(!arp.spilled());
        // Beyond the inline room, the frame is whole on the heap.
        let big = Frame {
            payload: &[7; 100],
            ..frame
        }
        .emit();
        assert_eq!((big.len(), big.spilled(), big[14]), (114, true, 7));
    }

    #[test]
    fn virtual_and_ipv6_multicast_macs() {
        // RFC 5798 §7.3: VRID 52 is 00:00:5e:00:01:34 (IPv4), 00:00:5e:00:02:34 (IPv6).
        assert_eq!(virtual_mac(52, false), [0, 0, 0x5e, 0, 1, 0x34]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 0xff]);
        assert_eq!(
            multicast_mac6("ff02::12".parse().unwrap()),
            [0x33, 0x33, 0, 0, 0, 0x12]
        );
    }

    #[test]
    fn short_frame_is_an_error() {
        assert_eq!(
            Frame::parse(&[0; 13]),
            Err(DecodeError::Truncated { len: 13, need: 14 })
        );
    }
}
