//! Start-up checks against the host as it is: they run before carpd changes anything (no
//! script, no address removed), and a failed one ends carpd with exit status 1 and a message
//! naming the value and what is accepted.

use crate::settings::{GroupSettings, Settings};
use crate::sys::lock::{self, LiveNote, LockError, PidLock, Pidfile};
use crate::sys::netlink::LinkAddress;
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

/// carpd refuses to start: nothing on the host was changed. Exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What the checks look at.
#[derive(Debug)]
pub struct HostView<'a> {
    /// the interface's name
    pub interface: &'a str,
    /// the interface's addresses now
    pub addresses: &'a [LinkAddress],
    /// `-s`
    pub srcip: IpAddr,
    /// `-a`: address and prefix
    pub vips: &'a [(IpAddr, u8)],
    /// the interface the VIPs go to (`vip_interface`, else `interface`)
    pub vip_interface: &'a str,
    /// its addresses now (none while it does not exist)
    pub vip_addresses: &'a [LinkAddress],
    /// carpd adds and removes the VIPs itself (no scripts)
    pub native: bool,
    /// `-S`: the interface may not be ready yet
    pub ignore_ifstate: bool,
    /// unicast peers (config mode)
    pub peers: &'a [IpAddr],
}

/// What the checks found that start-up must act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// VIPs left on the interface by an earlier carpd (they carry its mark): remove them
    /// before the election.
    pub stale_vips: Vec<(IpAddr, u8)>,
    /// warnings to log
    pub warnings: Vec<String>,
}

fn list(addresses: &[LinkAddress]) -> String {
    if addresses.is_empty() {
        return "none".into();
    }
    let mut text = String::new();
    for (i, a) in addresses.iter().enumerate() {
        let _ = write!(
            text,
            "{}{}/{}",
            if i > 0 { ", " } else { "" },
            a.address,
            a.prefix
        );
    }
    text
}

/// Checks `-s` and `-a` against the interface's addresses.
///
/// - `-s` must be an address of the interface; with `-S` (the interface may be configured
///   later) a missing one is only a warning.
/// - In native mode, a VIP already on the interface is removed at start-up only when carpd
///   added it (a killed instance left it); any other address is refused, since taking it away
///   could cut the host off (a VIP equal to the host's own address, an administrator's).
pub fn check(view: &HostView<'_>) -> Result<Findings, Refusal> {
    let mut findings = Findings::default();
    if !view.addresses.iter().any(|a| a.address == view.srcip) {
        let message = format!(
            "--srcip {} is not an address of {} (its IPv4 addresses: {}): accepted this host's own address on the interface",
            view.srcip,
            view.interface,
            list(view.addresses)
        );
        if view.ignore_ifstate {
            findings.warnings.push(format!(
                "{message}; going on because of --ignoreifstate (the interface may be configured later)"
            ));
        } else {
            return Err(Refusal(format!(
                "carpd: {message} (or --ignoreifstate when it is configured later)"
            )));
        }
    }
    // A peer that is this host would be sent our own adverts, and heard as a master.
    if let Some(own) = view
        .peers
        .iter()
        .find(|p| view.addresses.iter().any(|a| a.address == **p))
    {
        return Err(Refusal(format!(
            "carpd: peers: {own} is an address of {} (this host): accepted the addresses of the other nodes",
            view.interface
        )));
    }
    if !view.native {
        return Ok(findings);
    }
    for &(vip, _) in view.vips {
        let Some(present) = view.vip_addresses.iter().find(|a| a.address == vip) else {
            continue;
        };
        if present.added_by_carpd {
            findings.stale_vips.push((vip, present.prefix));
        } else {
            return Err(Refusal(format!(
                "carpd: --addr {vip} is already on {} and carpd did not add it (the host's own or an administrator's address): accepted an address carpd may add and remove; remove it first (ip address del {vip}/{} dev {}) or choose another virtual address",
                view.vip_interface, present.prefix, view.vip_interface
            )));
        }
    }
    Ok(findings)
}

/// A marked address on an interface carpd serves: (interface, address, prefix).
pub type MarkedAddress = (String, IpAddr, u8);

/// The addresses carrying carpd's mark that no configured group (`ours`: VIP interface and
/// address) and no live carpd (`live`, this one's locks included) owns: a dead carpd left
/// them, say one whose group was then removed from the file. `Err` with a warning when a live
/// carpd does not list its VIPs (one from before the list): nothing is removed then, since any
/// marked address could be its.
pub fn orphan_vips(
    marked: &[MarkedAddress],
    ours: &[(String, IpAddr)],
    live: &[LiveNote],
) -> Result<Vec<MarkedAddress>, String> {
    let mut owned: Vec<(String, IpAddr)> = ours.to_vec();
    for note in live {
        match note {
            LiveNote::Vips(vips) => owned.extend(vips.iter().cloned()),
            LiveNote::Unlisted => {
                return Err("another running carpd does not list its virtual IPs (an older version): addresses with carpd's mark that no group here owns are left alone".into())
            }
        }
    }
    Ok(marked
        .iter()
        .filter(|(interface, address, _)| {
            !owned.iter().any(|(i, a)| i == interface && a == address)
        })
        .cloned()
        .collect())
}

/// Takes the lock of every group: one carpd per interface and vhid, whatever its mode (two
/// would both stay MASTER, silently).
pub fn lock_groups<'a>(
    groups: impl IntoIterator<Item = &'a GroupSettings>,
) -> Result<BTreeMap<(String, u8), PidLock>> {
    let mut locks = BTreeMap::new();
    for g in groups {
        let note = lock::vip_note(g.vips.iter().map(|v| (g.vip_interface(), v.address)));
        match lock::lock_instance(&g.interface, g.vhid, &note) {
            Ok(lock) => {
                locks.insert((g.interface.clone(), g.vhid), lock);
            }
            Err((path, held @ LockError::Held { .. })) => {
                return Err(Refusal(format!(
                    "carpd: another carpd already serves {} vhid {} on this host (lock {}, {held}): accepted one carpd per interface and vhid; stop that one first",
                    g.interface,
                    g.vhid,
                    path.display()
                ))
                .into())
            }
            Err((path, LockError::Io(e))) => tracing::warn!(
                "cannot take the instance lock {}: {e}: a second carpd for {} vhid {} would not be noticed",
                path.display(),
                g.interface,
                g.vhid
            ),
        }
    }
    Ok(locks)
}

/// Creates the pidfile `--pidfile` names (none without it): refused while a live process
/// holds it.
pub fn create_pidfile(path: Option<&Path>) -> Result<Option<Pidfile>> {
    let Some(path) = path else {
        return Ok(None);
    };
    match Pidfile::create(path) {
        Ok(p) => Ok(Some(p)),
        Err(held @ LockError::Held { .. }) => Err(Refusal(format!(
            "carpd: --pidfile {} is {held}: accepted a pidfile that no live process holds",
            path.display()
        ))
        .into()),
        Err(LockError::Io(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot write pidfile {}", path.display())))
        }
    }
}

/// The source address of a group: `srcip`, or the interface's first address of the group's
/// family that is no VIP of any group, was not added by carpd and did not fail duplicate
/// address detection (for IPv6, a link-local one: VRRPv3 over IPv6 sends from it).
pub fn source_address(
    group: &GroupSettings,
    addresses: &[LinkAddress],
    settings: &Settings,
) -> Result<IpAddr, Refusal> {
    if let Some(ip) = group.srcip {
        return Ok(ip);
    }
    let ipv6 = group.is_ipv6();
    let family = |a: IpAddr| match a {
        IpAddr::V4(_) => !ipv6,
        IpAddr::V6(v6) => ipv6 && v6.is_unicast_link_local(),
    };
    let vip = |a: IpAddr| {
        settings
            .groups
            .iter()
            .any(|g| g.vips.iter().any(|v| v.address == a))
    };
    addresses
        .iter()
        .find(|a| {
            !a.added_by_carpd
                && a.dad != crate::sys::netlink::Dad::Failed
                && family(a.address)
                && !vip(a.address)
        })
        .map(|a| a.address)
        .ok_or_else(|| {
            let what = if ipv6 { "IPv6 link-local" } else { "IPv4" };
            Refusal(format!(
                "carpd: group \"{}\": {} has no {what} address of its own to send adverts from: accepted an interface with an address, or srcip in the group",
                group.name, group.interface
            ))
        })
}

/// A seed for a group's CARP counter and timers, from the kernel's random source. Should it
/// fail (no getrandom(2) and no /dev/urandom), the clock and pid still make restarts differ.
pub fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|e| {
        tracing::warn!("no random seed from the kernel ({e}): the clock and pid are used instead");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ u64::from(std::process::id()).rotate_left(32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11));
    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));

    fn at(address: impl Into<IpAddr>, added_by_carpd: bool) -> LinkAddress {
        LinkAddress {
            address: address.into(),
            prefix: 24,
            added_by_carpd,
            dad: crate::sys::netlink::Dad::Done,
        }
    }

    fn view<'a>(addresses: &'a [LinkAddress], native: bool, ignore: bool) -> HostView<'a> {
        HostView {
            interface: "eth0",
            addresses,
            srcip: SRC,
            vips: &[(VIP, 32)],
            vip_interface: "eth0",
            vip_addresses: addresses,
            native,
            ignore_ifstate: ignore,
            peers: &[],
        }
    }

    #[test]
    fn vips_on_a_vip_interface_are_looked_for_there() {
        let eth0 = [at(SRC, false), at(VIP, false)];
        let lo = [at(VIP, true)];
        let on_lo = |lo: &'static [LinkAddress]| HostView {
            vip_interface: "lo",
            vip_addresses: lo,
            ..view(&eth0, true, false)
        };
        // The same address on eth0 is not the VIP's (it goes to lo); the marked one on lo
        // is stale.
        let lo: &'static [LinkAddress] = Box::leak(Box::new(lo));
        assert_eq!(check(&on_lo(lo)).unwrap().stale_vips, [(VIP, 24)]);
        let foreign: &'static [LinkAddress] = Box::leak(Box::new([at(VIP, false)]));
        let e = check(&on_lo(foreign)).unwrap_err().0;
        assert!(e.contains("is already on lo"), "{e}");
        assert!(e.contains("dev lo"), "{e}");
        // A VIP interface that does not exist yet has no address to clean.
        assert_eq!(check(&on_lo(&[])).unwrap(), Findings::default());
    }

    #[test]
    fn srcip_must_be_on_the_interface_unless_ignoreifstate() {
        let other = [at(Ipv4Addr::new(10, 0, 0, 12), false)];
        let e = check(&view(&other, true, false)).unwrap_err().0;
        assert!(e.contains("--srcip 10.0.0.11"), "{e}");
        assert!(
            e.contains("10.0.0.12/24"),
            "names what the interface has: {e}"
        );
        assert!(e.contains("accepted"), "{e}");
        let f = check(&view(&other, true, true)).unwrap();
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].contains("--ignoreifstate"));
        assert!(check(&view(&[], false, false))
            .unwrap_err()
            .0
            .contains("addresses: none"));
    }

    #[test]
    fn marked_addresses_no_group_and_no_live_carpd_owns_are_orphans() {
        let other: IpAddr = "10.0.0.200".parse().unwrap();
        let theirs: IpAddr = "10.0.0.201".parse().unwrap();
        let marked: Vec<MarkedAddress> = vec![
            ("eth0".into(), VIP, 24),
            ("eth0".into(), other, 32),
            ("eth0".into(), theirs, 32),
            ("lo".into(), VIP, 32),
        ];
        let ours = [("eth0".to_string(), VIP)];
        let live = [LiveNote::Vips(vec![("eth0".into(), theirs)])];
        assert_eq!(
            orphan_vips(&marked, &ours, &live).unwrap(),
            [("eth0".to_string(), other, 32), ("lo".to_string(), VIP, 32)]
        );
        let e = orphan_vips(&marked, &ours, &[LiveNote::Unlisted]).unwrap_err();
        assert!(e.contains("left alone"), "{e}");
        assert_eq!(orphan_vips(&[], &ours, &live).unwrap(), []);
    }

    #[test]
    fn a_peer_that_is_an_address_of_this_host_is_refused() {
        let here = [at(SRC, false), at(Ipv4Addr::new(10, 0, 0, 13), false)];
        let peers = [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 13)),
        ];
        let e = check(&HostView {
            peers: &peers,
            ..view(&here, true, false)
        })
        .unwrap_err()
        .0;
        assert!(
            e.contains("peers: 10.0.0.13 is an address of eth0 (this host)"),
            "{e}"
        );
        assert!(check(&HostView {
            peers: &peers[..1],
            ..view(&here, true, false)
        })
        .is_ok());
    }

    #[test]
    fn only_vips_carpd_added_are_stale() {
        let mine = [at(SRC, false), at(VIP, true)];
        assert_eq!(
            check(&view(&mine, true, false)).unwrap().stale_vips,
            [(VIP, 24)]
        );
        let foreign = [at(SRC, false), at(VIP, false)];
        let e = check(&view(&foreign, true, false)).unwrap_err().0;
        assert!(e.contains("--addr 10.0.0.100"), "{e}");
        assert!(e.contains("did not add it"), "{e}");
        // Scripts mode never removes anything at start-up, so a present VIP is fine there.
        assert_eq!(
            check(&view(&foreign, false, false)).unwrap(),
            Findings::default()
        );
        assert_eq!(
            check(&view(&[at(SRC, false)], true, false)).unwrap(),
            Findings::default()
        );
    }

    #[test]
    fn a_vip_equal_to_the_source_address_is_refused_in_native_mode() {
        let addresses = [at(SRC, false)];
        let v = HostView {
            vips: &[(SRC, 32)],
            ..view(&addresses, true, false)
        };
        assert!(check(&v).unwrap_err().0.contains("--addr 10.0.0.11"));
    }
}
