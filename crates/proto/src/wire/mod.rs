//! Wire formats: Ethernet, IPv4 (the fields a CARP receiver checks), CARP, VRRPv2, VRRPv3, gratuitous
//! ARP and its IPv6 counterpart, the unsolicited Neighbor Advertisement.
//!
//! Codecs follow smoltcp: a `Packet<T: AsRef<[u8]>>` view with checked accessors and a `Repr`
//! with `parse`/`emit`. No function here panics on any input; a malformed packet gives a
//! specific [`DecodeError`].

pub mod arp;
pub mod auth;
pub mod carp;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndp;
pub mod vrrp2;
pub mod vrrp3;

use thiserror::Error;

/// Why a packet could not be decoded. One variant per malformation, so that the driver can
/// count them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than the header needs.
    #[error("truncated: {len} bytes, at least {need} needed")]
    Truncated {
        /// bytes present
        len: usize,
        /// bytes needed
        need: usize,
    },
    /// The Ethernet type is not IPv4.
    #[error("not IPv4: ethertype {0:#06x}")]
    NotIpv4Frame(u16),
    /// The IP version nibble is not 4.
    #[error("IP version {0}, 4 expected")]
    BadIpVersion(u8),
    /// The IP header length is below 20 bytes or beyond the packet.
    #[error("IP header length {0} bytes is invalid")]
    BadIpHeaderLength(usize),
    /// The IP total length disagrees with the bytes received.
    #[error("IP total length {declared} but {actual} bytes received")]
    BadIpTotalLength {
        /// total length field
        declared: usize,
        /// bytes present
        actual: usize,
    },
    /// The IP header checksum does not verify.
    #[error("bad IP header checksum")]
    BadIpChecksum,
    /// The IP protocol is not 112 (CARP/VRRP).
    #[error("IP protocol {0}, 112 expected")]
    NotCarp(u8),
    /// The CARP checksum does not verify.
    #[error("bad CARP checksum")]
    BadCarpChecksum,
    /// The CARP version is not 2.
    #[error("CARP version {0}, 2 expected")]
    BadCarpVersion(u8),
    /// The CARP type is not 1 (advertisement).
    #[error("CARP type {0}, 1 (advertisement) expected")]
    BadCarpType(u8),
    /// The CARP authentication length is not 7 words.
    #[error("CARP authlen {0}, 7 expected")]
    BadAuthLen(u8),
    /// The VRRP version is not 3.
    #[error("VRRP version {0}, 3 expected")]
    BadVrrpVersion(u8),
    /// The VRRP type is not 1 (advertisement).
    #[error("VRRP type {0}, 1 (advertisement) expected")]
    BadVrrpType(u8),
    /// The VRRPv3 packet's length does not match its count of addresses.
    #[error("VRRPv3 packet of {len} bytes for {count} addresses")]
    BadVrrpLength {
        /// the count of addresses field
        count: u8,
        /// bytes present
        len: usize,
    },
    /// The VRRPv3 checksum verifies in neither variant.
    #[error("bad VRRPv3 checksum")]
    BadVrrpChecksum,
    /// A Max Advertise Interval of 0.
    #[error("VRRPv3 advertisement interval 0")]
    BadVrrpInterval,
    /// A VRRPv2 packet whose first byte is not 0x21 (version 2, type 1).
    #[error("VRRPv2 first byte {0:#04x}, 0x21 (version 2, advertisement) expected")]
    BadVrrp2Header(u8),
    /// The VRRPv2 packet's length does not match its count of addresses.
    #[error("VRRPv2 packet of {len} bytes for {count} addresses")]
    BadVrrp2Length {
        /// the count of addresses field
        count: u8,
        /// bytes present
        len: usize,
    },
    /// The VRRPv2 checksum does not verify.
    #[error("bad VRRPv2 checksum")]
    BadVrrp2Checksum,
    /// An advertisement interval of 0 seconds.
    #[error("VRRPv2 advertisement interval 0")]
    BadVrrp2Interval,
}

/// RFC 1071 Internet checksum of `data` (the complement of the one's-complement sum of its
/// big-endian 16-bit words; an odd last byte is padded with zero).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(checksum_words(data))
}

/// The sum of `data`'s big-endian 16-bit words (an odd last byte padded with zero), not yet
/// folded: partial sums of several pieces (a pseudo-header and a packet) add up.
pub(crate) fn checksum_words(data: &[u8]) -> u32 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for word in &mut chunks {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a 32-bit sum of words into 16 bits with end-around carry.
pub(crate) fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to ddf2 before complement.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        assert_eq!(checksum(&[0xff]), !0xff00);
        assert_eq!(checksum(&[]), 0xffff);
    }
}
