//! The macvlans of groups with a virtual MAC (`vmac = true`) and the ARP settings of their
//! parents. A group's macvlan is made fresh when the group starts (a leftover of carpd's is
//! replaced, an interface of that name that is not carpd's refuses the start), made again when
//! it is found missing (its parent was re-created, someone deleted it), and deleted when the
//! group stops. Its parent is told to answer ARP only for its own addresses, so that only the
//! virtual MAC answers for the VIPs; what carpd changed there is put back when no group needs
//! it any more.

use crate::settings::GroupSettings;
use crate::sys::iface::format_mac;
use crate::sys::macvlan::{self, LinkFacts};
use crate::sys::netlink::Netlink;
use crate::sys::sysctl;
use std::collections::BTreeMap;

/// What a group's macvlan is: name, parent, vhid and virtual MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacSpec {
    /// the macvlan's name
    pub name: String,
    /// the interface it is made on (the group's)
    pub parent: String,
    /// the group's vhid, for carpd's mark
    pub vhid: u8,
    /// the virtual MAC
    pub mac: [u8; 6],
    /// an IPv6 group (the macvlan keeps IPv6, without a link-local address)
    pub ipv6: bool,
}

impl VmacSpec {
    /// The spec of `g`'s macvlan, when it has a virtual MAC.
    pub fn of(g: &GroupSettings) -> Option<VmacSpec> {
        Some(VmacSpec {
            name: g.vmac.clone()?,
            parent: g.interface.clone(),
            vhid: g.vhid,
            mac: g.virtual_mac()?,
            ipv6: g.is_ipv6(),
        })
    }
}

/// Why a parent cannot carry the macvlan, or the name is taken, if so: checked before
/// anything is made (`parent` and `existing` as the kernel has them now).
pub fn refusal(
    spec: &VmacSpec,
    group: &str,
    parent: Option<&LinkFacts>,
    existing: Option<&LinkFacts>,
) -> Option<String> {
    let (name, on) = (&spec.name, &spec.parent);
    match parent {
        None => {
            return Some(format!(
                "carpd: group \"{group}\": vmac = true on {on}, which does not exist: accepted an Ethernet interface that exists now"
            ))
        }
        Some(p) if p.loopback || !p.ethernet => {
            return Some(format!(
                "carpd: group \"{group}\": vmac = true on {on}, which is not an Ethernet interface (loopback, tunnel or another link type): a macvlan needs an Ethernet parent; accepted vmac on an Ethernet interface, or remove vmac"
            ))
        }
        Some(_) => {}
    }
    match existing {
        Some(e) if !e.is_carpds() => Some(format!(
            "carpd: group \"{group}\": vmac_interface \"{name}\" already exists and is not carpd's (no carpd mark in its alias): carpd makes and deletes that interface itself; accepted a name no interface has (vmac_interface = \"...\"), or delete {name} first"
        )),
        _ => None,
    }
}

/// Makes `spec`'s macvlan, down, with its sysctls; a leftover of carpd's with that name is
/// deleted first. Its index.
pub async fn make(netlink: &Netlink, spec: &VmacSpec, tag: &str) -> Result<u32, String> {
    let name = &spec.name;
    let fail = |what: &str, e: std::io::Error| format!("{what} {name} on {}: {e}", spec.parent);
    let parent = netlink
        .link_named(&spec.parent)
        .await
        .map_err(|e| fail("looking up the parent of", e))?
        .ok_or_else(|| format!("{} does not exist: {name} cannot be made", spec.parent))?;
    if let Some(old) = netlink
        .link_named(name)
        .await
        .map_err(|e| fail("looking up", e))?
    {
        if !old.is_carpds() {
            return Err(format!(
                "{name} exists and is not carpd's: it is left alone"
            ));
        }
        netlink
            .delete_link(old.index)
            .await
            .map_err(|e| fail("deleting the leftover", e))?;
        tracing::warn!("{tag}Deleted {name}, left by an earlier carpd, to make it anew");
    }
    let index = netlink
        .add_macvlan(
            name,
            parent.index,
            spec.mac,
            &macvlan::mark(spec.vhid, &spec.parent),
        )
        .await
        .map_err(|e| fail("making", e))?;
    settle(spec, tag);
    tracing::info!(
        "{tag}Made {name} on {} with the virtual MAC [{}] (macvlan, bridge mode): down until MASTER",
        spec.parent,
        format_mac(&spec.mac)
    );
    Ok(index)
}

/// The macvlan's own sysctls: ARP only for its own addresses (the VIPs), no reverse-path
/// filter (replies to the VIPs' clients leave by the parent's route), and no IPv6 traffic of
/// its own (none at all for an IPv4 group; no link-local address, router solicitation or
/// accepted router advertisement for an IPv6 one).
fn settle(spec: &VmacSpec, tag: &str) {
    let name = &spec.name;
    let mut settings = vec![
        ("ipv4", "arp_ignore", 1),
        ("ipv4", "arp_announce", 2),
        ("ipv4", "rp_filter", 0),
    ];
    if spec.ipv6 {
        settings.extend([
            ("ipv6", "addr_gen_mode", 1),
            ("ipv6", "accept_ra", 0),
            ("ipv6", "router_solicitations", 0),
        ]);
    } else {
        settings.push(("ipv6", "disable_ipv6", 1));
    }
    for (family, key, value) in settings {
        if let Err(e) = sysctl::write(family, name, key, value) {
            // No IPv6 in this kernel: nothing of IPv6 can leak either.
            if family == "ipv6" && e.kind() == std::io::ErrorKind::NotFound && !spec.ipv6 {
                continue;
            }
            tracing::warn!("{tag}cannot set net.{family}.conf.{name}.{key} = {value}: {e}");
        }
    }
    if sysctl::read("ipv4", "all", "rp_filter").is_ok_and(|v| v == 1) {
        tracing::warn!(
            "{tag}net.ipv4.conf.all.rp_filter = 1 (strict) applies to {name} too: traffic to the VIPs arrives on {name} and is answered by the route through {}, which strict reverse-path filtering drops; set net.ipv4.conf.all.rp_filter to 0 or 2",
            spec.parent
        );
    }
}

/// Makes `spec`'s macvlan when it is missing (its parent exists again, or someone deleted
/// it); one that exists is left as it is.
pub async fn repair(netlink: &Netlink, spec: &VmacSpec, tag: &str) {
    match netlink.link_named(&spec.name).await {
        Ok(Some(_)) => {}
        Ok(None) => match netlink.link_named(&spec.parent).await {
            Ok(Some(_)) => {
                tracing::warn!("{tag}{} is missing: making it again", spec.name);
                if let Err(e) = make(netlink, spec, tag).await {
                    tracing::error!("{tag}{e}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{tag}looking up {}: {e}", spec.parent),
        },
        Err(e) => tracing::warn!("{tag}looking up {}: {e}", spec.name),
    }
}

/// Deletes the macvlan a stopped group had (by the index it had when it stopped: a group
/// started since under the same name has another one).
pub async fn delete(netlink: &Netlink, name: &str, index: u32, tag: &str) {
    if index == 0 {
        return;
    }
    match netlink.delete_link(index).await {
        Ok(()) => tracing::info!("{tag}Deleted {name}"),
        Err(e) => tracing::error!("{tag}cannot delete {name} (index {index}): {e}"),
    }
}

/// Deletes the macvlans with carpd's mark that neither `configured` (the names these settings
/// use) nor a running carpd of this namespace (`live` names, from the instance locks) owns:
/// what a killed carpd left for a group it no longer has.
pub async fn remove_orphans(netlink: &Netlink, configured: &[&str], live: &[String]) {
    let links = match netlink.links().await {
        Ok(links) => links,
        Err(e) => {
            tracing::warn!("listing the links to find macvlans left by carpd: {e}");
            return;
        }
    };
    for link in links.iter().filter(|l| l.is_carpds()) {
        if configured.contains(&link.name.as_str()) || live.contains(&link.name) {
            continue;
        }
        match netlink.delete_link(link.index).await {
            Ok(()) => tracing::warn!(
                "Deleted {}: a macvlan carpd made ({}) that no configured group or running carpd owns",
                link.name,
                link.alias.as_deref().unwrap_or_default()
            ),
            Err(e) => tracing::warn!("cannot delete the leftover macvlan {}: {e}", link.name),
        }
    }
}

/// The ARP settings a virtual MAC needs on its parent: answer ARP only for the parent's own
/// addresses (`arp_ignore = 1`: the VIPs are the macvlan's, and only it answers for them) and
/// never announce a VIP as the parent's (`arp_announce = 2`). A stricter value is kept.
const PARENT_SETTINGS: [(&str, i64); 2] = [("arp_ignore", 1), ("arp_announce", 2)];

/// What carpd changed on the parents of virtual MACs, to put back.
#[derive(Debug, Default)]
pub struct ParentArp {
    /// parent -> (key, the value it had)
    changed: BTreeMap<String, Vec<(&'static str, i64)>>,
    /// parents looked at (changed or already right)
    claimed: Vec<String>,
}

impl ParentArp {
    /// Sets the parents of `groups`' virtual MACs as they need (each once), and puts back what
    /// carpd changed on parents none of them uses any more.
    pub fn sync(&mut self, groups: &[GroupSettings]) {
        let mut wanted: Vec<&str> = groups
            .iter()
            .filter(|g| g.vmac.is_some())
            .map(|g| g.interface.as_str())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let gone: Vec<String> = self
            .claimed
            .iter()
            .filter(|p| !wanted.contains(&p.as_str()))
            .cloned()
            .collect();
        for parent in gone {
            self.restore(&parent);
        }
        for parent in wanted {
            if !self.claimed.iter().any(|p| p == parent) {
                self.claim(parent);
            }
        }
    }

    /// Puts back everything carpd changed (at exit).
    pub fn restore_all(&mut self) {
        for parent in self.claimed.clone() {
            self.restore(&parent);
        }
    }

    fn claim(&mut self, parent: &str) {
        self.claimed.push(parent.to_string());
        // What a killed carpd changed here and could not put back: the values before it.
        let left = saved::take_left(parent);
        let mut changed: Vec<(&'static str, i64)> = Vec::new();
        for (key, wanted) in PARENT_SETTINGS {
            if let Some(&(_, old)) = left.iter().find(|(k, _)| k == key) {
                if sysctl::read("ipv4", parent, key).is_ok_and(|now| now < wanted) {
                    let _ = sysctl::write("ipv4", parent, key, wanted);
                }
                tracing::warn!(
                    "net.ipv4.conf.{parent}.{key} was set by a carpd that did not stop (it was {old} before): put back when carpd stops"
                );
                changed.push((key, old));
                continue;
            }
            match sysctl::read("ipv4", parent, key) {
                Ok(old) if old >= wanted => {}
                Ok(old) => match sysctl::write("ipv4", parent, key, wanted) {
                    Ok(()) => {
                        tracing::warn!(
                            "Set net.ipv4.conf.{parent}.{key} = {wanted} (was {old}) so that only the virtual MAC answers ARP for the VIPs; put back when carpd stops"
                        );
                        changed.push((key, old));
                    }
                    Err(e) => tracing::error!(
                        "cannot set net.ipv4.conf.{parent}.{key} = {wanted}: {e}: {parent} may answer ARP for the VIPs with its own MAC"
                    ),
                },
                Err(e) => tracing::error!("cannot read net.ipv4.conf.{parent}.{key}: {e}"),
            }
        }
        if !changed.is_empty() {
            saved::write(parent, &changed);
            self.changed.insert(parent.to_string(), changed);
        }
    }

    fn restore(&mut self, parent: &str) {
        self.claimed.retain(|p| p != parent);
        saved::remove(parent);
        for (key, old) in self.changed.remove(parent).unwrap_or_default() {
            match sysctl::write("ipv4", parent, key, old) {
                Ok(()) => tracing::warn!("Put back net.ipv4.conf.{parent}.{key} = {old}"),
                Err(e) => {
                    tracing::warn!("cannot put back net.ipv4.conf.{parent}.{key} = {old}: {e}")
                }
            }
        }
    }
}

/// The values carpd changed on a parent, kept in a file under `/run/carpd` while it runs, so
/// that a carpd started after one was killed still puts back what was there before.
mod saved {
    use std::path::PathBuf;

    fn path(parent: &str) -> PathBuf {
        let namespace = std::fs::metadata("/proc/self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or_default();
        PathBuf::from(crate::sys::lock::RUN_DIR)
            .join(format!("arp-{parent}.netns-{namespace}.saved"))
    }

    /// Writes the file: this process's pid, then `key value` lines.
    pub(super) fn write(parent: &str, changed: &[(&'static str, i64)]) {
        let mut text = format!("{}\n", std::process::id());
        for (key, old) in changed {
            text.push_str(&format!("{key} {old}\n"));
        }
        let _ = std::fs::create_dir_all(crate::sys::lock::RUN_DIR);
        if let Err(e) = std::fs::write(path(parent), text) {
            tracing::warn!("cannot note the ARP settings of {parent} carpd changed: {e}");
        }
    }

    /// Whether process `pid` runs (a zombie, killed and not yet reaped, does not).
    fn running(pid: i32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) S ...": the state follows the last ')'.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        !matches!(state, None | Some('Z') | Some('X'))
    }

    pub(super) fn remove(parent: &str) {
        let _ = std::fs::remove_file(path(parent));
    }

    /// The values a dead carpd noted for `parent` (none while the carpd that wrote them
    /// runs: it puts them back itself).
    pub(super) fn take_left(parent: &str) -> Vec<(String, i64)> {
        let Ok(text) = crate::sys::file::read_whole(&path(parent), 4096) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&text).to_string();
        let mut lines = text.lines();
        let writer: Option<i32> = lines.next().and_then(|l| l.trim().parse().ok());
        let alive = writer.is_some_and(|pid| pid as u32 != std::process::id() && running(pid));
        if alive {
            return Vec::new();
        }
        lines
            .filter_map(|l| {
                let (key, value) = l.split_once(' ')?;
                Some((key.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmacSpec {
        VmacSpec {
            name: "vrrp.9".into(),
            parent: "eth0".into(),
            vhid: 9,
            mac: [0, 0, 0x5e, 0, 1, 9],
            ipv6: false,
        }
    }

    fn link(name: &str, ethernet: bool, alias: Option<&str>) -> LinkFacts {
        LinkFacts {
            name: name.into(),
            index: 4,
            ethernet,
            loopback: name == "lo",
            macvlan: alias.is_some(),
            alias: alias.map(str::to_string),
            up: true,
        }
    }

    #[test]
    fn a_parent_that_is_not_ethernet_or_a_name_that_is_not_carpds_is_refused() {
        let eth0 = link("eth0", true, None);
        assert_eq!(refusal(&spec(), "web", Some(&eth0), None), None);
        let ours = link("vrrp.9", true, Some("carpd virtual MAC: vhid 9 on eth0"));
        assert_eq!(refusal(&spec(), "web", Some(&eth0), Some(&ours)), None);
        let frr = link("vrrp.9", true, Some("FRR's macvlan"));
        let refused = refusal(&spec(), "web", Some(&eth0), Some(&frr)).unwrap();
        assert!(refused.contains("vmac_interface \"vrrp.9\" already exists and is not carpd's"));
        let lo = link("lo", false, None);
        let refused = refusal(&spec(), "web", Some(&lo), None).unwrap();
        assert!(refused.contains("not an Ethernet interface"), "{refused}");
        let tunnel = link("gre1", false, None);
        assert!(refusal(&spec(), "web", Some(&tunnel), None).is_some());
        let refused = refusal(&spec(), "web", None, None).unwrap();
        assert!(refused.contains("eth0, which does not exist"), "{refused}");
    }
}
