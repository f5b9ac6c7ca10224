//! The VRRPv2 advertisement (RFC 3768 §5), IPv4 only: keepalived's default version.
//!
//! ```text
//!  0        4        8               16              24              32
//! +--------+--------+---------------+---------------+---------------+
//! |version | type   |     VRID      |   priority    | count addrs   |
//! |   auth type     | advert int (s)|           checksum             |
//! |                  IPv4 addresses (4 bytes each)                   |
//! |                  authentication data (8 bytes)                   |
//! +-----------------------------------------------------------------+
//! ```
//!
//! The checksum covers the VRRP packet alone (no pseudo-header). The authentication data is
//! always there: zeros with auth type 0, the password zero-padded with type 1 (simple text).
//! Type 2 (IP Authentication Header) is not spoken here.

use super::{checksum, DecodeError};
use crate::error::ConfigError;
use std::fmt;
use std::net::Ipv4Addr;

/// Length of the fixed header (before the addresses).
pub const HEADER_LEN: usize = 8;
/// Length of the authentication data (after the addresses).
pub const AUTH_LEN: usize = 8;
/// The first byte of a VRRPv2 advertisement: version 2, type 1 (CARP's too).
pub const FIRST_BYTE: u8 = 0x21;
/// Auth type 0: no authentication.
pub const AUTH_NONE: u8 = 0;
/// Auth type 1: a simple text password (keepalived's `auth_type PASS`).
pub const AUTH_SIMPLE: u8 = 1;
/// Auth type 2: IP Authentication Header (keepalived's `auth_type AH`), refused by carpd.
pub const AUTH_AH: u8 = 2;
/// The longest simple text password: the 8 bytes of the authentication data.
pub const MAX_PASSWORD_LEN: usize = AUTH_LEN;

/// A VRRPv2 group's authentication (RFC 3768 §5.3.6 as keepalived does it): none, or a
/// simple text password of 1 to 8 bytes sent in the clear.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Vrrp2Auth {
    /// auth type 0
    #[default]
    None,
    /// auth type 1: the password, zero-padded to 8 bytes
    Simple([u8; AUTH_LEN]),
}

impl fmt::Debug for Vrrp2Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password must never reach a log.
        f.write_str(self.name())
    }
}

impl Vrrp2Auth {
    /// The authentication for `password`: none when empty, simple text for 1 to 8 bytes.
    pub fn from_password(password: &[u8]) -> Result<Self, ConfigError> {
        match password.len() {
            0 => Ok(Vrrp2Auth::None),
            1..=MAX_PASSWORD_LEN => {
                let mut data = [0u8; AUTH_LEN];
                data[..password.len()].copy_from_slice(password);
                Ok(Vrrp2Auth::Simple(data))
            }
            len => Err(ConfigError::Vrrp2PasswordLength { len }),
        }
    }

    /// The auth type on the wire.
    pub fn type_code(&self) -> u8 {
        match self {
            Vrrp2Auth::None => AUTH_NONE,
            Vrrp2Auth::Simple(_) => AUTH_SIMPLE,
        }
    }

    /// The authentication data on the wire.
    pub fn data(&self) -> [u8; AUTH_LEN] {
        match self {
            Vrrp2Auth::None => [0; AUTH_LEN],
            Vrrp2Auth::Simple(data) => *data,
        }
    }

    /// `none` or `simple`, as tcpdump and `carpctl status` name them.
    pub fn name(&self) -> &'static str {
        match self {
            Vrrp2Auth::None => "none",
            Vrrp2Auth::Simple(_) => "simple",
        }
    }

    /// Whether an advert's authentication is ours: the same type and, for simple text, the
    /// same 8 bytes (with type 0 the data is ignored, RFC 3768 §5.3.6.1).
    pub fn accepts(&self, repr: &Vrrp2Repr) -> bool {
        repr.auth_type == self.type_code()
            && (*self == Vrrp2Auth::None || repr.auth_data == self.data())
    }
}

/// A VRRPv2 advertisement's fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vrrp2Repr {
    /// virtual router id, 1..=255
    pub vrid: u8,
    /// 0 = leaving, 1..=254 = backup-capable, 255 = address owner (higher is preferred)
    pub priority: u8,
    /// the auth type (0 none, 1 simple text, 2 AH)
    pub auth_type: u8,
    /// the advertisement interval in whole seconds, 1..=255
    pub interval_s: u8,
    /// the virtual addresses
    pub addresses: Vec<Ipv4Addr>,
    /// the authentication data as sent
    pub auth_data: [u8; AUTH_LEN],
}

impl Vrrp2Repr {
    /// Parses and checks the VRRP part of an IPv4 packet: first byte 0x21, length for the
    /// count of addresses, checksum, an interval above 0.
    pub fn parse(vrrp: &[u8]) -> Result<Self, DecodeError> {
        let need = HEADER_LEN + AUTH_LEN;
        if vrrp.len() < need {
            return Err(DecodeError::Truncated {
                len: vrrp.len(),
                need,
            });
        }
        if vrrp[0] != FIRST_BYTE {
            return Err(DecodeError::BadVrrp2Header(vrrp[0]));
        }
        let count = vrrp[3];
        if vrrp.len() != need + 4 * usize::from(count) {
            return Err(DecodeError::BadVrrp2Length {
                count,
                len: vrrp.len(),
            });
        }
        if checksum(vrrp) != 0 {
            return Err(DecodeError::BadVrrp2Checksum);
        }
        if vrrp[5] == 0 {
            return Err(DecodeError::BadVrrp2Interval);
        }
        let end = HEADER_LEN + 4 * usize::from(count);
        let addresses = vrrp[HEADER_LEN..end]
            .chunks_exact(4)
            .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
            .collect();
        let mut auth_data = [0u8; AUTH_LEN];
        auth_data.copy_from_slice(&vrrp[end..]);
        Ok(Vrrp2Repr {
            vrid: vrrp[1],
            priority: vrrp[2],
            auth_type: vrrp[4],
            interval_s: vrrp[5],
            addresses,
            auth_data,
        })
    }

    /// The advert with these fields and `auth`'s type and data.
    pub fn new(
        vrid: u8,
        priority: u8,
        interval_s: u8,
        addresses: Vec<Ipv4Addr>,
        auth: Vrrp2Auth,
    ) -> Self {
        Vrrp2Repr {
            vrid,
            priority,
            auth_type: auth.type_code(),
            interval_s,
            addresses,
            auth_data: auth.data(),
        }
    }

    /// The VRRP packet, checksum included (at most 255 addresses).
    pub fn emit(&self) -> Vec<u8> {
        let addresses = &self.addresses[..self.addresses.len().min(255)];
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * addresses.len() + AUTH_LEN);
        out.extend_from_slice(&[
            FIRST_BYTE,
            self.vrid,
            self.priority,
            addresses.len() as u8,
            self.auth_type,
            self.interval_s,
            0,
            0,
        ]);
        for address in addresses {
            out.extend_from_slice(&address.octets());
        }
        out.extend_from_slice(&self.auth_data);
        let value = checksum(&out);
        out[6..8].copy_from_slice(&value.to_be_bytes());
        out
    }

    /// Whether this is the advert of a master that leaves (priority 0).
    pub fn is_leaving(&self) -> bool {
        self.priority == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr() -> Vrrp2Repr {
        Vrrp2Repr::new(
            51,
            200,
            1,
            vec![Ipv4Addr::new(10, 77, 0, 151)],
            Vrrp2Auth::from_password(b"s3cret").unwrap(),
        )
    }

    #[test]
    fn keepalived_s_simple_text_advert_by_hand() {
        // keepalived 2.2.7, vrid 51, priority 200, auth_pass s3cret, advert_int 1, one VIP
        // (testdata/keepalived/vrrp2-pass_s3cret-*.pcap): 2133 c801 0101 cecb 0a4d 0097
        // 7333 6372 6574 0000. The checksum by hand: 0x2133 + 0xc801 + 0x0101 + 0x0a4d +
        // 0x0097 + 0x7333 + 0x6372 + 0x6574 = 0x23132 -> 0x3134; complement 0xcecb.
        let bytes = repr().emit();
        assert_eq!(
            bytes,
            [
                0x21, 0x33, 0xc8, 0x01, 0x01, 0x01, 0xce, 0xcb, 10, 77, 0, 151, b's', b'3', b'c',
                b'r', b'e', b't', 0, 0
            ]
        );
        assert_eq!(Vrrp2Repr::parse(&bytes), Ok(repr()));
    }

    #[test]
    fn auth_types_and_data_are_matched() {
        let pass = Vrrp2Auth::from_password(b"s3cret").unwrap();
        let other = Vrrp2Auth::from_password(b"s3cre").unwrap();
        assert!(pass.accepts(&repr()));
        assert!(!other.accepts(&repr()));
        assert!(!Vrrp2Auth::None.accepts(&repr()));
        // Type 0 ignores whatever data comes with it.
        let none = Vrrp2Repr {
            auth_type: AUTH_NONE,
            ..repr()
        };
        assert!(Vrrp2Auth::None.accepts(&none));
        assert!(!pass.accepts(&none));
        let ah = Vrrp2Repr {
            auth_type: AUTH_AH,
            ..repr()
        };
        assert!(!pass.accepts(&ah) && !Vrrp2Auth::None.accepts(&ah));
        assert_eq!(
            Vrrp2Auth::from_password(b"123456789"),
            Err(ConfigError::Vrrp2PasswordLength { len: 9 })
        );
        assert_eq!(Vrrp2Auth::from_password(b""), Ok(Vrrp2Auth::None));
        assert_eq!(format!("{pass:?}"), "simple");
    }

    #[test]
    fn every_malformation_is_named() {
        let good = repr().emit();
        assert_eq!(
            Vrrp2Repr::parse(&good[..15]),
            Err(DecodeError::Truncated { len: 15, need: 16 })
        );
        let mut v3 = good.clone();
        v3[0] = 0x31;
        assert_eq!(
            Vrrp2Repr::parse(&v3),
            Err(DecodeError::BadVrrp2Header(0x31))
        );
        let mut long = good.clone();
        long.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            Vrrp2Repr::parse(&long),
            Err(DecodeError::BadVrrp2Length { count: 1, len: 24 })
        );
        let mut c = good.clone();
        c[12] ^= 1;
        assert_eq!(Vrrp2Repr::parse(&c), Err(DecodeError::BadVrrp2Checksum));
        let zero = Vrrp2Repr {
            interval_s: 0,
            ..repr()
        }
        .emit();
        assert_eq!(Vrrp2Repr::parse(&zero), Err(DecodeError::BadVrrp2Interval));
    }
    #[test]
    fn a_checksum_written_as_negative_zero_verifies() {
        // Found by the decode_vrrp2 fuzz target: a packet whose other words sum to 0xffff
        // carries either 0x0000 (what carpd writes) or 0xffff in the checksum field; both are
        // one's-complement zero, both verify, and the fields are the same.
        let sent = [
            0x21, 0x21, 0x10, 0x08, 0xc1, 0xc1, 0xff, 0xff, 0x00, 0x00, 0xc1, 0xc1, 0xc1, 0xc1,
            0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0x00, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0x8a, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0xf6, 0xff, 0x00,
            0x00, 0x01, 0x24, 0xff, 0x10, 0x00,
        ];
        let repr = Vrrp2Repr::parse(&sent).expect("0xffff is a valid checksum");
        let again = repr.emit();
        assert_eq!(&again[6..8], &[0, 0]);
        assert_eq!((&again[..6], &again[8..]), (&sent[..6], &sent[8..]));
        assert_eq!(Vrrp2Repr::parse(&again), Ok(repr));
    }
}
