//! A group's `vmac` (answer for the VIPs from the RFC 5798 virtual MAC, on a macvlan carpd
//! makes) and `vmac_interface` (that macvlan's name).

use super::{Checker, RawGroup};
use crate::settings::rules;

/// The macvlan's name when `vmac_interface` is not given: `vrrp.<vhid>` (keepalived's
/// default), `vrrp6.<vhid>` for an IPv6 group, so that the two families of one VRID can
/// share an interface.
pub fn default_name(vhid: u8, ipv6: bool) -> String {
    if ipv6 {
        format!("vrrp6.{vhid}")
    } else {
        format!("vrrp.{vhid}")
    }
}

impl Checker<'_> {
    /// `vmac` and `vmac_interface`: the macvlan's name when `vmac = true` (`None` without
    /// it). Refused beside `vip_interface` (the VIPs go on the macvlan), beside unicast
    /// `peers` (the kernel writes those adverts' Ethernet header, from the interface's own
    /// MAC) and on `lo`.
    pub(super) fn vmac(
        &mut self,
        label: &str,
        raw: &RawGroup,
        interface: Option<&str>,
        vhid: Option<u8>,
        ipv6: bool,
    ) -> Option<Option<String>> {
        let on = raw.vmac.as_ref().filter(|v| *v.get_ref());
        let Some(on) = on else {
            if let Some(name) = &raw.vmac_interface {
                self.error(
                    name.span(),
                    format!("{label}: vmac_interface without vmac = true: it names the macvlan carpd makes for the virtual MAC; add vmac = true or remove it"),
                );
                return None;
            }
            return Some(None);
        };
        let errors_before = self.errors.len();
        if let Some(v) = &raw.vip_interface {
            self.error(
                v.span(),
                format!("{label}: vip_interface with vmac = true: the VIPs go on the virtual MAC's macvlan; accepted one of the two"),
            );
        }
        if let Some(p) = &raw.peers {
            self.error(
                p.span(),
                format!("{label}: peers with vmac = true: unicast adverts leave through the kernel from the interface's own MAC, never the virtual one; accepted vmac with multicast adverts (remove peers), or peers without vmac"),
            );
        }
        if interface == Some(super::routed::LOOPBACK) {
            self.error(
                on.span(),
                format!("{label}: vmac = true on interface = \"lo\": loopback cannot carry a macvlan; accepted an Ethernet interface"),
            );
        }
        let name = match &raw.vmac_interface {
            Some(value) => {
                let name = self.check(
                    label,
                    "vmac_interface",
                    value,
                    rules::interface(value.get_ref()),
                )?;
                if Some(name.as_str()) == interface {
                    self.error(
                        value.span(),
                        format!("{label}: vmac_interface = \"{name}\" is the group's interface: accepted a new name for the macvlan carpd makes on it, e.g. \"vrrp.{}\"", vhid.unwrap_or(1)),
                    );
                }
                name
            }
            None => default_name(vhid?, ipv6),
        };
        (self.errors.len() == errors_before).then_some(Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::refused;
    use std::path::Path;

    fn group(vips: &str, extra: &str) -> String {
        format!("[[group]]\nname = \"api\"\ninterface = \"eth0\"\nvhid = 9\nvips = {vips}\npassword = \"pw\"\n{extra}\n")
    }

    fn load(text: &str) -> crate::settings::Settings {
        parse(Path::new("/etc/carpd/carpd.toml"), text).expect("valid")
    }

    #[test]
    fn the_macvlan_is_named_per_family_unless_given_and_holds_the_vips() {
        let s = load(&group("[\"10.0.9.1/24\"]", "vmac = true"));
        let g = &s.groups[0];
        assert_eq!(g.vmac.as_deref(), Some("vrrp.9"));
        assert_eq!(g.vip_interface(), "vrrp.9");
        assert_eq!(g.virtual_mac(), Some([0, 0, 0x5e, 0, 1, 9]));
        let s = load(
            &group(
                "[\"fe80::9\", \"2001:db8::9/64\"]",
                "protocol = \"vrrp3\"\nvmac = true",
            )
            .replace("password = \"pw\"\n", ""),
        );
        assert_eq!(s.groups[0].vmac.as_deref(), Some("vrrp6.9"));
        assert_eq!(s.groups[0].virtual_mac(), Some([0, 0, 0x5e, 0, 2, 9]));
        let s = load(&group(
            "[\"10.0.9.1/24\"]",
            "vmac = true\nvmac_interface = \"api-vmac\"",
        ));
        assert_eq!(s.groups[0].vmac.as_deref(), Some("api-vmac"));
        for off in ["", "vmac = false"] {
            let s = load(&group("[\"10.0.9.1/24\"]", off));
            assert_eq!(s.groups[0].vmac, None);
            assert_eq!(s.groups[0].virtual_mac(), None);
            assert_eq!(s.groups[0].vip_interface(), "eth0");
        }
    }

    #[test]
    fn bad_vmac_settings_name_the_value_and_what_is_accepted() {
        let v4 = "[\"10.0.9.1/24\"]";
        refused(
            &group(v4, "vmac_interface = \"vrrp.9\""),
            &["vmac_interface without vmac = true"],
        );
        refused(
            &group(v4, "vmac = true\nvip_interface = \"dummy9\""),
            &["vip_interface with vmac = true", "accepted one of the two"],
        );
        refused(
            &group(v4, "vmac = true\npeers = [\"10.0.9.12\"]"),
            &["peers with vmac = true", "remove peers"],
        );
        refused(
            &group(v4, "vmac = true\nvmac_interface = \"eth0\""),
            &["vmac_interface = \"eth0\" is the group's interface"],
        );
        refused(
            &group(v4, "vmac = true\nvmac_interface = \"much-too-long-name\""),
            &["vmac_interface", "1 to 15 bytes"],
        );
        refused(
            &group(v4, "vmac = true").replace("\"eth0\"", "\"lo\""),
            &["vmac = true on interface = \"lo\"", "Ethernet interface"],
        );
    }

    #[test]
    fn two_groups_cannot_share_a_macvlan_or_a_virtual_mac() {
        let two = |a: &str, b: &str| {
            format!(
                "[[group]]\nname = \"a\"\ninterface = \"eth0\"\nvhid = 9\nvips = [\"10.0.9.1/24\"]\npassword = \"pw\"\n{a}\n\
                 [[group]]\nname = \"b\"\ninterface = \"eth1\"\nvhid = 9\nvips = [\"10.0.9.2/24\"]\npassword = \"pw\"\n{b}\n"
            )
        };
        refused(
            &two("vmac = true", "vmac = true"),
            &["vmac_interface \"vrrp.9\" is already used by group \"a\""],
        );
        refused(
            &two("vmac = true\nvmac_interface = \"eth1\"", ""),
            &["interface \"eth1\" is the vmac_interface of group \"a\""],
        );
        // Each its own name: fine (different parents).
        load(&two(
            "vmac = true",
            "vmac = true\nvmac_interface = \"vrrp.9b\"",
        ));
        // One vhid on one interface is refused for every group; with vmac the message is
        // the vhid rule's, and nothing is created.
        let same = two("vmac = true", "vmac = true\nvmac_interface = \"x9\"")
            .replace("\"eth1\"", "\"eth0\"");
        let errors = parse(Path::new("/etc/carpd/carpd.toml"), &same)
            .expect_err("refused")
            .to_string();
        assert!(
            errors.contains("vhid 9 on eth0 is already served"),
            "{errors}"
        );
        assert!(
            errors.contains("already has the virtual MAC 00:00:5e:00:01:09"),
            "{errors}"
        );
    }
}
