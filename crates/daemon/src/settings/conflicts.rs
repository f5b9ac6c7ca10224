//! The rules between groups: names unique, one group per interface and vhid (so at most 255
//! groups per interface), each VIP in one group, each virtual MAC's macvlan a name of its own.
//! Checked with one pass and a few maps, so that a file of thousands of groups (or thousands
//! of clashes) is judged in milliseconds; each group is reported at most once per key,
//! against the first group it clashes with.

use super::GroupSettings;
use std::collections::HashMap;
use std::net::IpAddr;

/// The most groups one interface can serve: one per vhid, 1 to 255.
pub const MAX_GROUPS_PER_INTERFACE: usize = 255;

/// Two groups that cannot both be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// index of the later group
    pub group: usize,
    /// index of the earlier group it clashes with
    pub with: usize,
    /// the key at fault (`name`, `interface`, `vhid`, `vmac_interface`, `vips`)
    pub key: &'static str,
    /// what is wrong and what is accepted
    pub message: String,
}

/// The first group to have claimed each name, interface and vhid, address and MAC so far.
#[derive(Default)]
struct Claims<'a> {
    names: HashMap<&'a str, usize>,
    /// per interface: how many groups, and the first
    interfaces: HashMap<&'a str, (usize, usize)>,
    vhids: HashMap<(&'a str, u8), usize>,
    vips: HashMap<IpAddr, usize>,
    /// an interface name a group uses (its interface, its VIPs' interface, its macvlan)
    used: HashMap<&'a str, usize>,
    /// a macvlan a group makes
    macvlans: HashMap<&'a str, usize>,
    /// a virtual MAC on an interface
    macs: HashMap<(&'a str, [u8; 6]), usize>,
}

/// Every clash between `groups`, in the order of the later group.
pub fn conflicts(groups: &[GroupSettings]) -> Vec<Conflict> {
    let mut claims = Claims::default();
    let mut found = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let mut clash = |with: usize, key: &'static str, message: String| {
            found.push(Conflict {
                group: i,
                with,
                key,
                message,
            });
        };
        if let Some(&j) = claims.names.get(g.name.as_str()) {
            clash(j, "name", format!(
                "name \"{}\" is already the name of another group: accepted a name no other group has",
                g.name
            ));
        }
        let (count, first) = claims
            .interfaces
            .entry(g.interface.as_str())
            .or_insert((0, i));
        *count += 1;
        if *count == MAX_GROUPS_PER_INTERFACE + 1 {
            clash(*first, "interface", format!(
                "interface {} has more than {MAX_GROUPS_PER_INTERFACE} groups (this is group {} there): accepted at most {MAX_GROUPS_PER_INTERFACE} groups per interface, one per vhid 1-255",
                g.interface, *count
            ));
        }
        if let Some(&j) = claims.vhids.get(&(g.interface.as_str(), g.vhid)) {
            clash(j, "vhid", format!(
                "vhid {} on {} is already served by group \"{}\": accepted one group per interface and vhid",
                g.vhid, g.interface, groups[j].name
            ));
        }
        if let Some((j, message)) = vmac_clash(g, groups, &claims) {
            clash(j, "vmac_interface", message);
        }
        if let Some((vip, j)) = g
            .vips
            .iter()
            .find_map(|v| claims.vips.get(&v.address).map(|j| (v.address, *j)))
        {
            clash(
                j,
                "vips",
                format!(
                    "{vip} is already a VIP of group \"{}\": accepted each VIP in one group only",
                    groups[j].name
                ),
            );
        }
        claims.claim(i, g);
    }
    found
}

impl<'a> Claims<'a> {
    /// Records what group `i` uses, where no earlier group did.
    fn claim(&mut self, i: usize, g: &'a GroupSettings) {
        self.names.entry(g.name.as_str()).or_insert(i);
        self.vhids
            .entry((g.interface.as_str(), g.vhid))
            .or_insert(i);
        for v in &g.vips {
            self.vips.entry(v.address).or_insert(i);
        }
        for name in uses(g) {
            self.used.entry(name).or_insert(i);
        }
        if let Some(name) = &g.vmac {
            self.macvlans.entry(name.as_str()).or_insert(i);
        }
        if let Some(mac) = g.virtual_mac() {
            self.macs.entry((g.interface.as_str(), mac)).or_insert(i);
        }
    }
}

/// The interface names `g` uses: its own, its VIPs', its macvlan's.
fn uses(g: &GroupSettings) -> impl Iterator<Item = &str> {
    [
        Some(g.interface.as_str()),
        Some(g.vip_interface()),
        g.vmac.as_deref(),
    ]
    .into_iter()
    .flatten()
}

/// Why `g`'s virtual MAC interface cannot be an earlier group's, or one of its interfaces,
/// if it cannot (with that group): one name is one macvlan, and one virtual MAC per parent
/// can be up.
fn vmac_clash(
    g: &GroupSettings,
    groups: &[GroupSettings],
    claims: &Claims<'_>,
) -> Option<(usize, String)> {
    let accepted = "accepted a name of its own for each group's macvlan (vmac_interface = \"...\"; the default is vrrp.<vhid>, vrrp6.<vhid> for IPv6)";
    if let Some(name) = &g.vmac {
        if let Some(&j) = claims.used.get(name.as_str()) {
            return Some((
                j,
                format!(
                    "vmac_interface \"{name}\" is already used by group \"{}\": {accepted}",
                    groups[j].name
                ),
            ));
        }
    }
    if let Some((name, j)) = uses(g).find_map(|n| claims.macvlans.get(n).map(|j| (n, *j))) {
        return Some((
            j,
            format!(
                "interface \"{name}\" is the vmac_interface of group \"{}\", which carpd makes and deletes: {accepted}",
                groups[j].name
            ),
        ));
    }
    let mac = g.virtual_mac()?;
    let &j = claims.macs.get(&(g.interface.as_str(), mac))?;
    Some((
        j,
        format!(
            "vmac = true with vhid {} on {}: group \"{}\" already has the virtual MAC {} there: accepted one group per virtual MAC and interface",
            g.vhid,
            g.interface,
            groups[j].name,
            crate::sys::iface::format_mac(&mac)
        ),
    ))
}
