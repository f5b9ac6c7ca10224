//! Wire formats: Ethernet, IPv4 (the fields a CARP receiver checks), CARP, gratuitous ARP.
//!
//! Codecs follow smoltcp: a `Packet<T: AsRef<[u8]>>` view with checked accessors and a `Repr`
//! with `parse`/`emit`. No function here panics on any input; a malformed packet gives a
//! specific [`DecodeError`].

pub mod arp;
pub mod auth;
pub mod carp;
pub mod ethernet;
pub mod ipv4;

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
}

/// RFC 1071 Internet checksum of `data` (the complement of the one's-complement sum of its
/// big-endian 16-bit words; an odd last byte is padded with zero).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for word in &mut chunks {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
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
