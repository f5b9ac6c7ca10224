//! The IPv4 header of an advertisement: what carpd sends and what a receiver checks.
//!
//! ```text
//!  0      4      8             16     19             31
//! +------+------+-------------+------+---------------+
//! | ver  | ihl  |    TOS      |      total length    |
//! |      identification       |flags | frag offset   |
//! |    TTL      |  protocol   |    header checksum   |
//! |                  source address                  |
//! |               destination address                |
//! +--------------------------------------------------+
//! ```

use super::{checksum, DecodeError};
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// IP protocol number of CARP (IANA's VRRP number, which CARP reuses).
pub const PROTOCOL_CARP: u8 = 112;
/// The TTL every advertisement must carry (ucarp `CARP_DFLTTL`).
pub const CARP_TTL: u8 = 255;
/// `IPTOS_LOWDELAY`, the TOS ucarp sets.
pub const TOS_LOWDELAY: u8 = 0x10;
const FLAG_DONT_FRAGMENT: u16 = 0x4000;
const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// Whether `bytes` (an IPv4 packet from its header on) is a fragment: the more-fragments
/// flag set or a non-zero fragment offset. Too short to tell: not a fragment (the parser
/// then names what is wrong).
pub fn is_fragment(bytes: &[u8]) -> bool {
    match bytes.get(6..8) {
        Some(&[high, low]) => {
            let flags = u16::from_be_bytes([high, low]);
            flags & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) != 0
        }
        _ => false,
    }
}

/// The fields of an IPv4 header that matter to CARP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// source address
    pub source: Ipv4Addr,
    /// destination address (the group, even in broadcast mode)
    pub destination: Ipv4Addr,
    /// time to live
    pub ttl: u8,
    /// type of service byte
    pub tos: u8,
    /// identification
    pub ident: u16,
    /// don't-fragment flag
    pub dont_fragment: bool,
    /// protocol number
    pub protocol: u8,
    /// length of the payload after the header
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// Parses and checks an IPv4 header (version, header length, total length, header
    /// checksum) and returns it with its payload. Bytes beyond the total length (Ethernet
    /// padding) are cut off. Options are skipped.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len: bytes.len(),
                need: HEADER_LEN,
            });
        }
        let version = bytes[0] >> 4;
        if version != 4 {
            return Err(DecodeError::BadIpVersion(version));
        }
        let header_len = usize::from(bytes[0] & 0x0f) * 4;
        if header_len < HEADER_LEN || header_len > bytes.len() {
            return Err(DecodeError::BadIpHeaderLength(header_len));
        }
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if total < header_len || total > bytes.len() {
            return Err(DecodeError::BadIpTotalLength {
                declared: total,
                actual: bytes.len(),
            });
        }
        if checksum(&bytes[..header_len]) != 0 {
            return Err(DecodeError::BadIpChecksum);
        }
        let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
        let repr = Ipv4Repr {
            tos: bytes[1],
            ident: u16::from_be_bytes([bytes[4], bytes[5]]),
            dont_fragment: flags & FLAG_DONT_FRAGMENT != 0,
            ttl: bytes[8],
            protocol: bytes[9],
            source: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            destination: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            payload_len: total - header_len,
        };
        Ok((repr, &bytes[header_len..total]))
    }

    /// Writes the 20-byte header (no options) with its checksum.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = 0x45;
        h[1] = self.tos;
        let total = (HEADER_LEN + self.payload_len) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let flags = if self.dont_fragment {
            FLAG_DONT_FRAGMENT
        } else {
            0
        };
        h[6..8].copy_from_slice(&flags.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[12..16].copy_from_slice(&self.source.octets());
        h[16..20].copy_from_slice(&self.destination.octets());
        let sum = checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ipv4Repr {
        Ipv4Repr {
            source: Ipv4Addr::new(10, 77, 0, 11),
            destination: Ipv4Addr::new(224, 0, 0, 18),
            ttl: 255,
            tos: 0x10,
            ident: 0x1234,
            dont_fragment: true,
            protocol: 112,
            payload_len: 4,
        }
    }

    #[test]
    fn fragments_are_recognised() {
        let whole = sample().emit();
        assert!(!is_fragment(&whole), "DF alone is no fragment");
        for (high, low) in [
            (0x20, 0x00),
            (0x00, 0x01),
            (0x40 | 0x1f, 0xff),
            (0x20, 0x10),
        ] {
            let mut h = whole;
            h[6] = high;
            h[7] = low;
            assert!(is_fragment(&h), "{high:02x}{low:02x}");
        }
        assert!(!is_fragment(&whole[..7]));
    }

    #[test]
    fn emit_then_parse() {
        let mut bytes = sample().emit().to_vec();
        bytes.extend_from_slice(&[1, 2, 3, 4, 0, 0]); // payload plus Ethernet-style padding
        let (repr, payload) = Ipv4Repr::parse(&bytes).unwrap();
        assert_eq!(repr, sample());
        assert_eq!(payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn every_malformation_is_named() {
        let good = {
            let mut b = sample().emit().to_vec();
            b.extend_from_slice(&[0; 4]);
            b
        };
        assert!(matches!(
            Ipv4Repr::parse(&good[..19]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(Ipv4Repr::parse(&v6), Err(DecodeError::BadIpVersion(6)));
        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(
            Ipv4Repr::parse(&ihl),
            Err(DecodeError::BadIpHeaderLength(16))
        );
        let mut total = good.clone();
        total[3] = 200;
        assert!(matches!(
            Ipv4Repr::parse(&total),
            Err(DecodeError::BadIpTotalLength { .. })
        ));
        let mut sum = good.clone();
        sum[8] = 254;
        assert_eq!(Ipv4Repr::parse(&sum), Err(DecodeError::BadIpChecksum));
    }
}
