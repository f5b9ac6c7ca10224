//! Interface lookup: index, MAC and state, by name.

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use std::io;

/// What carpd needs to know of its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// name, e.g. `eth0`
    pub name: String,
    /// kernel index
    pub index: u32,
    /// Ethernet address
    pub mac: [u8; 6],
    /// administratively up and with carrier
    pub running: bool,
}

/// Looks `name` up.
pub fn lookup(name: &str) -> io::Result<Interface> {
    let index = if_nametoindex(name).map_err(|e| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("interface {name} not found: {e}"),
        )
    })?;
    let mut mac = None;
    let mut running = false;
    for addr in getifaddrs().map_err(io::Error::from)? {
        if addr.interface_name != name {
            continue;
        }
        running = addr
            .flags
            .contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
        if let Some(link) = addr.address.as_ref().and_then(|a| a.as_link_addr()) {
            if let Some(m) = link.addr() {
                mac = Some(m);
            }
        }
    }
    let mac = mac.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface {name} has no Ethernet address"),
        )
    })?;
    Ok(Interface {
        name: name.to_string(),
        index,
        mac,
        running,
    })
}

/// The first interface that is up and not loopback (ucarp's `pcap_lookupdev` default).
pub fn default_interface() -> io::Result<String> {
    let mut names: Vec<String> = getifaddrs()
        .map_err(io::Error::from)?
        .filter(|a| {
            a.flags.contains(InterfaceFlags::IFF_UP)
                && !a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        })
        .map(|a| a.interface_name)
        .collect();
    names.dedup();
    names.into_iter().next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no interface is up: give one with --interface",
        )
    })
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An interface that holds VIPs without carrying adverts (`vip_interface`), as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VipLink {
    /// kernel index (0 while it does not exist)
    pub index: u32,
    /// it exists
    pub present: bool,
    /// administratively up and running: addresses on it are reachable
    pub running: bool,
    /// administratively up (with or without carrier)
    pub up: bool,
    /// the Ethernet address gratuitous ARP and unsolicited NA go out from; `None` where the
    /// interface does no ARP (loopback, a NOARP dummy): nothing is announced there
    pub announce_from: Option<[u8; 6]>,
}

/// Looks a VIP interface up; a missing one is not an error.
pub fn vip_link(name: &str) -> io::Result<VipLink> {
    let Ok(index) = if_nametoindex(name) else {
        return Ok(VipLink::default());
    };
    let mut link = VipLink {
        index,
        present: true,
        ..VipLink::default()
    };
    let mut arp = true;
    for addr in getifaddrs().map_err(io::Error::from)? {
        if addr.interface_name != name {
            continue;
        }
        link.running = addr
            .flags
            .contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
        link.up = addr.flags.contains(InterfaceFlags::IFF_UP);
        arp &= !addr
            .flags
            .intersects(InterfaceFlags::IFF_LOOPBACK | InterfaceFlags::IFF_NOARP);
        if let Some(mac) = addr.address.as_ref().and_then(|a| a.as_link_addr()?.addr()) {
            link.announce_from = Some(mac);
        }
    }
    if !arp || link.announce_from == Some([0; 6]) {
        link.announce_from = None;
    }
    Ok(link)
}
