//! CARP authentication as ucarp computes it (docs/protocol.md §2).
//!
//! Key: the password bytes zero-padded to 20 bytes (ucarp copies the NUL-terminated password
//! into a 20-byte key, so at most 19 bytes fit). Message: `02 01 vhid`, the VIPs (ascending,
//! the BSD rule; one VIP is what ucarp hashes), then the 8 counter bytes as on the wire.
//! The result is plain HMAC-SHA1.

use crate::error::ConfigError;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;
use std::net::Ipv4Addr;

type HmacSha1 = Hmac<Sha1>;

/// The longest password ucarp accepts (its key is 20 bytes including the terminating NUL).
pub const MAX_PASSWORD_LEN: usize = 19;

/// A group's authentication state: the key with the message prefix already hashed, so each
/// packet costs one clone and eight bytes.
#[derive(Clone)]
pub struct Authenticator {
    prefix: HmacSha1,
    /// the zero-padded password, to tell whether two authenticators share it
    key: [u8; 20],
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key must never reach a log.
        f.write_str("Authenticator(..)")
    }
}

impl Authenticator {
    /// Prepares the HMAC for `password`, `vhid` and `vips` (sorted here, ascending).
    pub fn new(password: &[u8], vhid: u8, vips: &[Ipv4Addr]) -> Result<Self, ConfigError> {
        if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
            return Err(ConfigError::PasswordLength {
                len: password.len(),
            });
        }
        let mut key = [0u8; 20];
        key[..password.len()].copy_from_slice(password);
        // Invariant: HMAC accepts keys of any length.
        let mut prefix = HmacSha1::new_from_slice(&key).expect("HMAC takes any key length");
        prefix.update(&[super::carp::VERSION, super::carp::TYPE_ADVERTISEMENT, vhid]);
        let mut sorted = vips.to_vec();
        sorted.sort();
        for vip in sorted {
            prefix.update(&vip.octets());
        }
        Ok(Authenticator { prefix, key })
    }

    /// Whether `other` was made from the same password (the vhid and VIPs may differ).
    pub fn same_key(&self, other: &Authenticator) -> bool {
        self.key == other.key
    }

    /// The digest for one counter value.
    pub fn digest(&self, counter: u64) -> [u8; 20] {
        let mut mac = self.prefix.clone();
        mac.update(&counter.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `digest` is right for `counter`, compared in constant time.
    pub fn verify(&self, counter: u64, digest: &[u8; 20]) -> bool {
        let mut mac = self.prefix.clone();
        mac.update(&counter.to_be_bytes());
        mac.verify_slice(digest).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_limits() {
        let vip = [Ipv4Addr::new(10, 0, 0, 1)];
        assert!(Authenticator::new(&[b'x'; 19], 1, &vip).is_ok());
        assert_eq!(
            Authenticator::new(&[b'x'; 20], 1, &vip).unwrap_err(),
            ConfigError::PasswordLength { len: 20 }
        );
        assert!(Authenticator::new(b"", 1, &vip).is_err());
    }

    #[test]
    fn vip_order_does_not_matter() {
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(10, 0, 0, 1);
        let x = Authenticator::new(b"pw", 3, &[a, b]).unwrap();
        let y = Authenticator::new(b"pw", 3, &[b, a]).unwrap();
        assert_eq!(x.digest(5), y.digest(5));
        assert!(x.verify(5, &y.digest(5)));
        assert!(!x.verify(6, &y.digest(5)));
    }

    #[test]
    fn debug_hides_the_key() {
        let a = Authenticator::new(b"secret", 1, &[Ipv4Addr::new(10, 0, 0, 1)]).unwrap();
        assert!(!format!("{a:?}").contains("secret"));
    }
}
