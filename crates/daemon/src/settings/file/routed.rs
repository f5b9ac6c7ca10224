//! A group's `vip_interface` (the VIPs on `lo` or a dummy, for the host's routing daemon to
//! announce) and `vip_interface_must_exist`; its `routes`.

use super::{Checker, RawGroup};
use crate::settings::routes::RouteSpec;
use crate::settings::rules::{self, Vip};

/// The loopback interface: only host routes (/32, /128) belong there.
pub(crate) const LOOPBACK: &str = "lo";

/// Whether an interface named `name` exists now.
fn exists(name: &str) -> bool {
    nix::net::if_::if_nametoindex(name).is_ok()
}

impl Checker<'_> {
    /// `routes`: each in `ip route`'s words, listed once, and only where carpd manages the
    /// VIPs (no up_script or down_script: the routes go up after them).
    pub(super) fn routes(&mut self, label: &str, raw: &RawGroup) -> Option<Vec<RouteSpec>> {
        let Some(list) = &raw.routes else {
            return Some(Vec::new());
        };
        let errors_before = self.errors.len();
        if raw.up_script.is_some() || raw.down_script.is_some() {
            self.error(list.span(), format!("{label}: routes with up_script or down_script: carpd adds the routes after the VIPs it adds itself; accepted routes without scripts (or add the routes in the scripts)"));
        }
        let mut routes: Vec<RouteSpec> = Vec::new();
        for r in list.get_ref() {
            if let Some(route) = self.check(label, "routes", r, RouteSpec::parse(r.get_ref())) {
                if routes.contains(&route) {
                    self.error(
                        r.span(),
                        format!(
                            "{label}: routes: {route} is listed twice: accepted each route once"
                        ),
                    );
                }
                routes.push(route);
            }
        }
        (self.errors.len() == errors_before).then_some(routes)
    }

    /// `vip_interface`: a valid name, existing now when `vip_interface_must_exist` says so;
    /// on `lo` only /32 and /128 VIPs. The same name as `interface` is the default spelled
    /// out (`None`).
    pub(super) fn vip_interface(
        &mut self,
        label: &str,
        raw: &RawGroup,
        interface: Option<&str>,
        vips: Option<&[Vip]>,
    ) -> Option<Option<String>> {
        let must_exist = raw.vip_interface_must_exist.as_ref();
        let Some(value) = &raw.vip_interface else {
            if let Some(m) = must_exist {
                self.error(
                    m.span(),
                    format!("{label}: vip_interface_must_exist without vip_interface: accepted it beside vip_interface = \"lo\" (or another interface)"),
                );
                return None;
            }
            return Some(None);
        };
        let name = self.check(
            label,
            "vip_interface",
            value,
            rules::interface(value.get_ref()),
        )?;
        if must_exist.is_some_and(|m| *m.get_ref()) && !exists(&name) {
            self.error(
                value.span(),
                format!("{label}: vip_interface = \"{name}\" does not exist and vip_interface_must_exist = true: accepted an interface that exists now (ip link show), or vip_interface_must_exist = false to wait until it appears"),
            );
            return None;
        }
        if name == LOOPBACK {
            let list = raw.vips.as_ref().map(|l| l.get_ref().as_slice());
            for (vip, typed) in vips
                .unwrap_or_default()
                .iter()
                .zip(list.unwrap_or_default())
            {
                let host = if vip.address.is_ipv6() { 128 } else { 32 };
                if vip.prefix_or_default() != host {
                    self.error(
                        typed.span(),
                        format!(
                            "{label}: vips = {}/{} with vip_interface = \"lo\": accepted /{host} on lo (a host route for the routing daemon to announce), e.g. \"{}/{host}\" or \"{}\"",
                            vip.address,
                            vip.prefix_or_default(),
                            vip.address,
                            vip.address
                        ),
                    );
                }
            }
        }
        Some((Some(name.as_str()) != interface).then_some(name))
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

    #[test]
    fn vip_interface_is_kept_and_the_groups_own_interface_is_the_default() {
        let load = |text: &str| parse(Path::new("/etc/carpd/carpd.toml"), text).unwrap();
        let s = load(&group(
            "[\"10.0.9.1\", \"10.0.9.2/32\"]",
            "vip_interface = \"lo\"",
        ));
        assert_eq!(s.groups[0].vip_interface.as_deref(), Some("lo"));
        assert_eq!(s.groups[0].vip_interface(), "lo");
        let s = load(&group("[\"10.0.9.1/24\"]", ""));
        assert_eq!(
            (
                s.groups[0].vip_interface.as_deref(),
                s.groups[0].vip_interface()
            ),
            (None, "eth0")
        );
        // Spelled out, the group's own interface is the default.
        let s = load(&group("[\"10.0.9.1/24\"]", "vip_interface = \"eth0\""));
        assert_eq!(s.groups[0].vip_interface, None);
        // A dummy that is not there yet is waited for unless it must exist.
        let s = load(&group(
            "[\"10.0.9.1/24\"]",
            "vip_interface = \"vipdummy77\"",
        ));
        assert_eq!(s.groups[0].vip_interface.as_deref(), Some("vipdummy77"));
        // lo exists everywhere.
        load(&group(
            "[\"10.0.9.1\"]",
            "vip_interface = \"lo\"\nvip_interface_must_exist = true",
        ));
    }

    #[test]
    fn bad_vip_interfaces_name_the_value_and_what_is_accepted() {
        refused(
            &group("[\"10.0.9.1/24\"]", "vip_interface = \"lo\""),
            &[
                "carpd.toml:5:9:",
                "vips = 10.0.9.1/24 with vip_interface = \"lo\"",
                "accepted /32 on lo",
                "\"10.0.9.1/32\"",
            ],
        );
        refused(
            &group(
                "[\"fd77::1/64\"]",
                "protocol = \"vrrp3\"\nvip_interface = \"lo\"",
            )
            .replace("password = \"pw\"\n", ""),
            &["fd77::1/64", "accepted /128 on lo"],
        );
        refused(
            &group(
                "[\"10.0.9.1/24\"]",
                "vip_interface = \"vipdummy77\"\nvip_interface_must_exist = true",
            ),
            &[
                "vip_interface = \"vipdummy77\" does not exist",
                "vip_interface_must_exist = false to wait",
            ],
        );
        refused(
            &group("[\"10.0.9.1/24\"]", "vip_interface_must_exist = true"),
            &["vip_interface_must_exist without vip_interface"],
        );
        refused(
            &group("[\"10.0.9.1/24\"]", "vip_interface = \"no/slash\""),
            &["vip_interface = no/slash", "1 to 15 bytes"],
        );
    }
}
