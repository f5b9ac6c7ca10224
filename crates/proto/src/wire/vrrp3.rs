//! The VRRPv3 advertisement (RFC 9568 §5), over IPv4 and IPv6.
//!
//! ```text
//!  0        4        8               16              24              32
//! +--------+--------+---------------+---------------+---------------+
//! |version | type   |     VRID      |   priority    | count addrs   |
//! | rsvd   |  max advert interval (cs) |            checksum          |
//! |                  IPvX addresses (4 or 16 bytes each)             |
//! +-----------------------------------------------------------------+
//! ```
//!
//! The checksum covers the VRRP packet and, for IPv6 always and for IPv4 in the variant that
//! keepalived 2.2.7 and FRR send by default, a pseudo-header (source, destination, protocol 112,
//! length). RFC 9568 says IPv4 has no pseudo-header. A receiver accepts both and reports which
//! one verified ([`Checksum`]).

use super::{checksum_words, fold, DecodeError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Length of the fixed header (before the addresses).
pub const HEADER_LEN: usize = 8;
/// The version nibble of VRRPv3.
pub const VERSION: u8 = 3;
/// The type nibble of an advertisement.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// The largest Max Advertise Interval, in centiseconds (12 bits).
pub const MAX_INTERVAL_CS: u16 = 4095;
/// The IPv4 multicast group, 224.0.0.18.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group, ff02::12.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Priority of the router that owns the addresses.
pub const PRIORITY_OWNER: u8 = 255;
/// Priority of a master that leaves: backups take over after Skew_Time.
pub const PRIORITY_LEAVING: u8 = 0;
/// The IP protocol (and IPv6 next header) of VRRP.
pub const PROTOCOL_VRRP: u8 = 112;

/// Which IPv4 checksum an advertisement carries (IPv6 always has the pseudo-header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Checksum {
    /// Over an IPv4 pseudo-header and the VRRP packet: keepalived 2.2.7's and FRR's default.
    #[default]
    PseudoHeader,
    /// Over the VRRP packet alone, as RFC 9568 §5.2.8 says for IPv4.
    Rfc9568,
}

impl Checksum {
    /// The spelling of the config key `v3_checksum` and of `carpctl status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::PseudoHeader => "pseudo-header",
            Checksum::Rfc9568 => "rfc9568",
        }
    }

    /// The variant named by `name` (see [`Checksum::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pseudo-header" => Some(Checksum::PseudoHeader),
            "rfc9568" => Some(Checksum::Rfc9568),
            _ => None,
        }
    }
}

/// A VRRPv3 advertisement's fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vrrp3Repr {
    /// virtual router id, 1..=255
    pub vrid: u8,
    /// 0 = leaving, 1..=254 = backup-capable, 255 = address owner (higher is preferred)
    pub priority: u8,
    /// Max Advertise Interval in centiseconds, 1..=4095
    pub interval_cs: u16,
    /// the virtual addresses, all of the packet's family
    pub addresses: Vec<IpAddr>,
}

/// The 16-bit one's-complement sum of an IPv4 or IPv6 pseudo-header for `len` bytes of
/// protocol 112 (not complemented).
fn pseudo_header_sum(source: IpAddr, destination: IpAddr, len: usize) -> u32 {
    let mut sum = 0u32;
    match (source, destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum += checksum_words(&s.octets());
            sum += checksum_words(&d.octets());
            sum += u32::from(PROTOCOL_VRRP);
            sum += len as u32 & 0xffff;
        }
        (s, d) => {
            sum += checksum_words(&v6_octets(s));
            sum += checksum_words(&v6_octets(d));
            // upper-layer length (32 bits) then three zero bytes and the next header
            sum += (len as u32 >> 16) + (len as u32 & 0xffff);
            sum += u32::from(PROTOCOL_VRRP);
        }
    }
    sum
}

/// An address as 16 bytes (IPv4 as an IPv4-mapped address; only used with IPv6 peers).
fn v6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// The checksum of `vrrp` (its checksum field taken as it is) with or without the
/// pseudo-header.
fn sum(vrrp: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut total = checksum_words(vrrp);
    if let Some((source, destination)) = pseudo {
        total += pseudo_header_sum(source, destination, vrrp.len());
    }
    !fold(total)
}

impl Vrrp3Repr {
    /// Parses the VRRP part of a packet that came from `source` to `destination` (whose family
    /// decides the address size) and checks its checksum: for IPv4 either variant is
    /// accepted and the one that verified is returned; IPv6 always has the pseudo-header.
    pub fn parse(
        vrrp: &[u8],
        source: IpAddr,
        destination: IpAddr,
    ) -> Result<(Self, Checksum), DecodeError> {
        if vrrp.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len: vrrp.len(),
                need: HEADER_LEN,
            });
        }
        let version = vrrp[0] >> 4;
        if version != VERSION {
            return Err(DecodeError::BadVrrpVersion(version));
        }
        let kind = vrrp[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadVrrpType(kind));
        }
        let count = vrrp[3];
        let size = if source.is_ipv4() { 4 } else { 16 };
        let need = HEADER_LEN + usize::from(count) * size;
        if vrrp.len() != need {
            return Err(DecodeError::BadVrrpLength {
                count,
                len: vrrp.len(),
            });
        }
        let variant = if source.is_ipv6() {
            if sum(vrrp, Some((source, destination))) != 0 {
                return Err(DecodeError::BadVrrpChecksum);
            }
            Checksum::PseudoHeader
        } else if sum(vrrp, Some((source, destination))) == 0 {
            Checksum::PseudoHeader
        } else if sum(vrrp, None) == 0 {
            Checksum::Rfc9568
        } else {
            return Err(DecodeError::BadVrrpChecksum);
        };
        let interval_cs = u16::from_be_bytes([vrrp[4] & 0x0f, vrrp[5]]);
        if interval_cs == 0 {
            return Err(DecodeError::BadVrrpInterval);
        }
        let addresses = vrrp[HEADER_LEN..]
            .chunks_exact(size)
            .map(|a| match <[u8; 16]>::try_from(a) {
                Ok(octets) => IpAddr::V6(Ipv6Addr::from(octets)),
                Err(_) => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            })
            .collect();
        Ok((
            Vrrp3Repr {
                vrid: vrrp[1],
                priority: vrrp[2],
                interval_cs,
                addresses,
            },
            variant,
        ))
    }

    /// The VRRP packet sent from `source` to `destination`, checksum included (for IPv4 in
    /// the `variant` given; IPv6 always has the pseudo-header). Addresses of the other family
    /// than `source` are left out; the interval is capped at 4095 cs and the count at 255.
    pub fn emit(&self, source: IpAddr, destination: IpAddr, variant: Checksum) -> Vec<u8> {
        let addresses: Vec<&IpAddr> = self
            .addresses
            .iter()
            .filter(|a| a.is_ipv4() == source.is_ipv4())
            .take(255)
            .collect();
        let mut out = Vec::with_capacity(HEADER_LEN + addresses.len() * 16);
        let interval = self.interval_cs.min(MAX_INTERVAL_CS).to_be_bytes();
        out.extend_from_slice(&[
            (VERSION << 4) | TYPE_ADVERTISEMENT,
            self.vrid,
            self.priority,
            addresses.len() as u8,
            interval[0],
            interval[1],
            0,
            0,
        ]);
        for address in addresses {
            match address {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        let pseudo = (source.is_ipv6() || variant == Checksum::PseudoHeader)
            .then_some((source, destination));
        let value = sum(&out, pseudo);
        out[6..8].copy_from_slice(&value.to_be_bytes());
        out
    }

    /// Whether this is the advert of a master that leaves (priority 0).
    pub fn is_leaving(&self) -> bool {
        self.priority == PRIORITY_LEAVING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 11));
    const DST4: IpAddr = IpAddr::V4(GROUP_V4);

    fn repr4() -> Vrrp3Repr {
        Vrrp3Repr {
            vrid: 50,
            priority: 200,
            interval_cs: 5,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 150))],
        }
    }

    #[test]
    fn both_ipv4_variants_round_trip_and_are_told_apart() {
        for variant in [Checksum::PseudoHeader, Checksum::Rfc9568] {
            let bytes = repr4().emit(SRC4, DST4, variant);
            assert_eq!(&bytes[..6], &[0x31, 50, 200, 1, 0, 5]);
            assert_eq!(&bytes[8..], &[10, 77, 0, 150]);
            assert_eq!(Vrrp3Repr::parse(&bytes, SRC4, DST4), Ok((repr4(), variant)));
        }
        let a = repr4().emit(SRC4, DST4, Checksum::PseudoHeader);
        let b = repr4().emit(SRC4, DST4, Checksum::Rfc9568);
        assert_ne!(a[6..8], b[6..8]);
    }

    #[test]
    fn rfc9568_checksum_is_the_plain_internet_checksum() {
        // Words 3132 c801 0005 0000 0a4d 0096, by hand: 0x3132 + 0xc801 = 0xf933; + 0x0005 = 0xf938; + 0x0a4d = 0x10385 -> 0x0386;
        // + 0x0096 = 0x041c; complement 0xfbe3.
        let b = repr4().emit(SRC4, DST4, Checksum::Rfc9568);
        assert_eq!(&b[6..8], &[0xfb, 0xe3]);
        // With the pseudo-header 0a4d 000b e000 0012 0070 000c added to 0x041c:
        // 0x041c + 0x0a4d + 0x000b + 0xe000 + 0x0012 + 0x0070 + 0x000c = 0xef02;
        // complement 0x10fd.
        let p = repr4().emit(SRC4, DST4, Checksum::PseudoHeader);
        assert_eq!(&p[6..8], &[0x10, 0xfd]);
    }

    #[test]
    fn ipv6_round_trip_needs_the_pseudo_header() {
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst = IpAddr::V6(GROUP_V6);
        let repr = Vrrp3Repr {
            vrid: 50,
            priority: 100,
            interval_cs: 100,
            addresses: vec!["fe80::50".parse().unwrap(), "2001:db8::50".parse().unwrap()],
        };
        let bytes = repr.emit(src, dst, Checksum::Rfc9568);
        assert_eq!(bytes.len(), 8 + 32);
        assert_eq!(
            Vrrp3Repr::parse(&bytes, src, dst),
            Ok((repr.clone(), Checksum::PseudoHeader))
        );
        let other: IpAddr = "fe80::2".parse().unwrap();
        assert_eq!(
            Vrrp3Repr::parse(&bytes, other, dst),
            Err(DecodeError::BadVrrpChecksum)
        );
    }

    #[test]
    fn every_malformation_is_named() {
        let good = repr4().emit(SRC4, DST4, Checksum::PseudoHeader);
        let parse = |b: &[u8]| Vrrp3Repr::parse(b, SRC4, DST4).map(|_| ());
        assert_eq!(
            parse(&good[..7]),
            Err(DecodeError::Truncated { len: 7, need: 8 })
        );
        let mut v = good.clone();
        v[0] = 0x21;
        assert_eq!(parse(&v), Err(DecodeError::BadVrrpVersion(2)));
        let mut t = good.clone();
        t[0] = 0x32;
        assert_eq!(parse(&t), Err(DecodeError::BadVrrpType(2)));
        assert_eq!(
            parse(&good[..11]),
            Err(DecodeError::BadVrrpLength { count: 1, len: 11 })
        );
        let mut c = good.clone();
        c[9] ^= 1;
        assert_eq!(parse(&c), Err(DecodeError::BadVrrpChecksum));
        let zero = Vrrp3Repr {
            interval_cs: 0,
            ..repr4()
        }
        .emit(SRC4, DST4, Checksum::Rfc9568);
        assert_eq!(parse(&zero), Err(DecodeError::BadVrrpInterval));
    }

    #[test]
    fn reserved_bits_are_ignored_and_the_interval_is_capped() {
        let long = Vrrp3Repr {
            interval_cs: 9999,
            ..repr4()
        };
        let bytes = long.emit(SRC4, DST4, Checksum::Rfc9568);
        assert_eq!(&bytes[4..6], &[0x0f, 0xff]);
        let mut reserved = bytes.clone();
        reserved[4] |= 0xf0;
        // keep the checksum right: the reserved bits are part of the sum
        reserved[6..8].copy_from_slice(&[0, 0]);
        let fixed = sum(&reserved, None);
        reserved[6..8].copy_from_slice(&fixed.to_be_bytes());
        let (parsed, _) = Vrrp3Repr::parse(&reserved, SRC4, DST4).unwrap();
        assert_eq!(parsed.interval_cs, MAX_INTERVAL_CS);
    }
}
