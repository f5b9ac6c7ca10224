//! The value rules, one function each, shared by the command line and the config file so that
//! a value means the same and is refused with the same words wherever it is given. Each
//! returns what is accepted when the value is not.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

/// A virtual address as typed (scripts get it verbatim) and as parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vip {
    /// the text given
    pub typed: String,
    /// the address
    pub address: IpAddr,
    /// the prefix length, when given as `IP/PREFIX`
    pub prefix: Option<u8>,
}

/// The prefix length a VIP gets in native mode when none is given.
pub const DEFAULT_VIP_PREFIX: u8 = 32;

impl Vip {
    /// The prefix carpd adds the address with in native mode (a host route's: 32 or 128).
    pub fn prefix_or_default(&self) -> u8 {
        self.prefix.unwrap_or(if self.address.is_ipv6() {
            128
        } else {
            DEFAULT_VIP_PREFIX
        })
    }
}

/// The most ucarp reads of a passfile's first line (its `fgets` buffer less the NUL).
pub const PASSFILE_LINE_MAX: u64 = 511;

/// A vhid: 1 to 255.
pub fn vhid(value: u64) -> Result<u8, String> {
    match value {
        1..=255 => Ok(value as u8),
        _ => Err("accepted 1 to 255".into()),
    }
}

/// advbase or advskew: 0 to 255.
pub fn byte(value: u64) -> Result<u8, String> {
    u8::try_from(value).map_err(|_| "accepted a whole number from 0 to 255".into())
}

/// The dead ratio: 1 to 1000.
pub fn deadratio(value: u64) -> Result<u32, String> {
    match value {
        1..=1000 => Ok(value as u32),
        _ => Err("accepted 1 to 1000".into()),
    }
}

/// An advert interval: advbase 0 needs a skew (the interval is advbase + advskew/256 s).
pub fn interval(advbase: u8, advskew: u8) -> Result<(), String> {
    if advbase == 0 && advskew == 0 {
        return Err(
            "advbase 0 needs advskew above 0 (the interval is advbase + advskew/256 s)".into(),
        );
    }
    Ok(())
}

fn ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.trim()
        .parse::<Ipv4Addr>()
        .map_err(|_| "accepted a dotted IPv4 address such as 10.0.0.1".to_string())
}

/// This host's own address.
pub fn srcip(text: &str) -> Result<Ipv4Addr, String> {
    let ip = ipv4(text)?;
    if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
        return Err("accepted this host's own unicast IPv4 address".into());
    }
    Ok(ip)
}

/// An IPv6 group's own address: the interface's link-local address (VRRPv3 over IPv6 sends
/// from it, RFC 9568 §5.1.2.1).
pub fn srcip_v6(text: &str) -> Result<IpAddr, String> {
    match text.trim().parse::<std::net::Ipv6Addr>() {
        Ok(ip) if ip.is_unicast_link_local() => Ok(IpAddr::V6(ip)),
        _ => Err("accepted the interface's IPv6 link-local address, such as fe80::1 (an IPv6 group sends from it)".into()),
    }
}

/// The multicast group adverts go to.
pub fn multicast_group(text: &str) -> Result<Ipv4Addr, String> {
    let ip = ipv4(text)?;
    if !ip.is_multicast() {
        return Err("accepted a multicast address, 224.0.0.0 to 239.255.255.255".into());
    }
    Ok(ip)
}

/// A virtual address of a config file's group, IPv4 or IPv6: `IP` or `IP/PREFIX`.
pub fn vip_any(text: &str) -> Result<Vip, String> {
    if !text.contains(':') {
        return vip(text);
    }
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => {
            let prefix = p
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=128).contains(p))
                .ok_or_else(|| {
                    "accepted IP or IP/PREFIX with a prefix of 1 to 128 for IPv6".to_string()
                })?;
            (a, Some(prefix))
        }
        None => (text, None),
    };
    let address: std::net::Ipv6Addr = addr.trim().parse().map_err(|_| {
        "accepted an IPv4 address such as 10.0.0.1 or an IPv6 address such as 2001:db8::1"
            .to_string()
    })?;
    if address.is_unspecified() || address.is_multicast() || address.is_loopback() {
        return Err("accepted a unicast IPv6 address".into());
    }
    Ok(Vip {
        typed: text.to_string(),
        address: IpAddr::V6(address),
        prefix,
    })
}

/// A virtual address, `IP` or `IP/PREFIX`, IPv4 only (ucarp's `-a`).
pub fn vip(text: &str) -> Result<Vip, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => {
            // /0 would make the VIP a default route's worth of on-link addresses.
            let prefix = p
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=32).contains(p))
                .ok_or_else(|| "accepted IP or IP/PREFIX with a prefix of 1 to 32".to_string())?;
            (a, Some(prefix))
        }
        None => (text, None),
    };
    let address = ipv4(addr)?;
    if address.is_unspecified() || address.is_multicast() || address.is_broadcast() {
        return Err("accepted a unicast IPv4 address".into());
    }
    Ok(Vip {
        typed: text.to_string(),
        address: IpAddr::V4(address),
        prefix,
    })
}

/// An interface name (the kernel's limit is 15 bytes).
pub fn interface(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 15 || text.contains(['/', ' ']) {
        return Err("accepted an interface name of 1 to 15 bytes".into());
    }
    Ok(text.to_string())
}

/// A password: 1 to 19 bytes (ucarp's limit: the HMAC key is 20 bytes, NUL-padded).
pub fn password(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() || bytes.len() > carpd_proto::wire::auth::MAX_PASSWORD_LEN {
        return Err(format!(
            "password of {} bytes: accepted 1 to 19 bytes (ucarp's limit)",
            bytes.len()
        ));
    }
    // ucarp reads the key as a C string: a NUL would end it there, and its peers would
    // compute another HMAC than carpd's.
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(format!(
            "password with a NUL byte at byte {}: accepted 1 to 19 bytes without NUL",
            at + 1
        ));
    }
    Ok(())
}

/// The longest name of a group, tracker or sync group, in characters.
pub const NAME_MAX: usize = 64;

/// A name of a group, tracker or sync group: it reaches log lines, the status table, metric
/// labels and carpctl's command line, so 1 to 64 ASCII letters, digits and `-_.:@` only.
pub fn name(text: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:@".contains(c);
    let count = text.chars().count();
    if (1..=NAME_MAX).contains(&count) && text.chars().all(allowed) {
        return Ok(());
    }
    let shown: String = text
        .chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string();
    let more = if count > 40 { "..." } else { "" };
    Err(format!(
        "\"{shown}{more}\" ({count} characters): accepted 1 to {NAME_MAX} ASCII letters, digits and - _ . : @, such as \"web-1\""
    ))
}

/// A hook timeout: above zero.
pub fn hook_timeout(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() {
        return Err("accepted a duration above zero".into());
    }
    Ok(duration)
}

/// The first line of a password file, as ucarp reads it: at most 511 bytes, only the first
/// newline removed (a carriage return stays in the key, as in ucarp). Only those bytes are
/// read, so a huge file costs nothing. A regular file only, unless `pipe_wait` lets a pipe
/// (`-o <(...)` on a command line) deliver its line within that time; a FIFO named in the
/// config file could hold a reload forever, a device never ends.
pub fn read_passfile(
    path: &Path,
    pipe_wait: Option<std::time::Duration>,
) -> Result<Vec<u8>, crate::sys::file::FileError> {
    let mut line = match pipe_wait {
        Some(wait) => crate::sys::file::read_first_line(path, PASSFILE_LINE_MAX, wait)?,
        None => crate::sys::file::read_head(path, PASSFILE_LINE_MAX)?,
    };
    if let Some(end) = line.iter().position(|b| *b == b'\n') {
        line.truncate(end);
    }
    Ok(line)
}
