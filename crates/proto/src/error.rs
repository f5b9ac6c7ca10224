//! Errors for bad configuration. Packet errors live in [`crate::wire::DecodeError`] and
//! [`crate::action::DropReason`].

use std::net::Ipv4Addr;
use thiserror::Error;

/// A configuration the core refuses, with the value given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// vhid 0.
    #[error("vhid 0 is invalid: accepted 1 to 255")]
    VhidZero,
    /// advbase and advskew both zero would mean adverts without pause.
    #[error(
        "advbase 0 with advskew 0 gives no advertisement interval: set advbase or advskew above 0"
    )]
    ZeroInterval,
    /// A dead ratio of zero.
    #[error("deadratio 0 is invalid: accepted 1 or more")]
    DeadratioZero,
    /// No virtual address.
    #[error("no virtual IP address given: at least one is needed")]
    NoVip,
    /// The same virtual address twice.
    #[error("virtual IP address {0} given twice")]
    DuplicateVip(Ipv4Addr),
    /// Password of the wrong length.
    #[error("password of {len} bytes: accepted 1 to 19 bytes (ucarp's limit: a 20-byte key with its terminating NUL)")]
    PasswordLength {
        /// length given
        len: usize,
    },
    /// Unspecified source address.
    #[error("source address 0.0.0.0 is invalid: give the host's own address on the interface")]
    SourceUnspecified,
    /// A group address that is not multicast.
    #[error("group {0} is not an IPv4 multicast address: accepted 224.0.0.0 to 239.255.255.255")]
    GroupNotMulticast(Ipv4Addr),
}
