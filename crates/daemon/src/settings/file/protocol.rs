//! A group's protocol keys: `protocol`, the VRRP values (`priority`, `advert_interval`;
//! VRRPv3's `accept_mode`, `v3_checksum` and `vrrp2_compat`), the keys that belong to other
//! protocols, and unicast `peers` with `unicast_ttl_check`.

use super::{Checker, RawGroup};
use carpd_proto::wire::vrrp3::{Checksum, MAX_INTERVAL_CS};
use carpd_proto::{Protocol, Vrrp2Params, Vrrp3Params};
use std::net::IpAddr;
use std::ops::Range;
use toml::Spanned;

/// What `protocol` and its own keys gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chosen {
    /// CARP, timed by `advbase`, `advskew` and `deadratio` (read on their own)
    Carp,
    /// VRRPv3 or VRRPv2 with its values
    Vrrp(Protocol),
}

impl Chosen {
    /// Whether the group sends VRRPv2 (VRRPv2, or VRRPv3 with `vrrp2_compat`): its password
    /// is optional and simple text.
    pub(super) fn speaks_vrrp2(self) -> bool {
        matches!(self, Chosen::Vrrp(p) if p.speaks_vrrp2())
    }
}

/// The keys that only CARP has (`password` and `passfile` are VRRPv2's too).
const CARP_ONLY: [&str; 5] = [
    "advbase",
    "advskew",
    "deadratio",
    "broadcast",
    "multicast_group",
];

/// The keys that only VRRP (versions 2 and 3) has.
const VRRP_ONLY: [&str; 2] = ["priority", "advert_interval"];

/// The keys that only VRRPv3 has.
const VRRP3_ONLY: [&str; 3] = ["accept_mode", "v3_checksum", "vrrp2_compat"];

/// The keys of a password.
const PASSWORD: [&str; 2] = ["password", "passfile"];

/// What `protocol` accepts.
const PROTOCOLS: &str = "accepted \"carp\" (ucarp's protocol, the default), \"vrrp3\" (VRRPv3, RFC 9568) or \"vrrp2\" (VRRPv2, RFC 3768, keepalived's default version)";

/// A VRRP priority: 1 to 255.
pub(crate) fn priority(value: u64) -> Result<u8, String> {
    match value {
        1..=255 => Ok(value as u8),
        _ => Err("accepted 1 to 255 (higher is preferred; 255 = the owner of the addresses; 0 is what a leaving master sends)".into()),
    }
}

/// A VRRPv3 advert interval in seconds: 0.01 to 40.95, a whole number of centiseconds.
pub(crate) fn advert_interval(seconds: f64) -> Result<u16, String> {
    const ACCEPTED: &str =
        "accepted 0.01 to 40.95 seconds in whole centiseconds, such as 1 or 0.05";
    let cs = seconds * 100.0;
    if !cs.is_finite() || (cs - cs.round()).abs() > 1e-6 {
        return Err(format!("not a whole number of centiseconds: {ACCEPTED}"));
    }
    let cs = cs.round();
    if !(1.0..=f64::from(MAX_INTERVAL_CS)).contains(&cs) {
        return Err(ACCEPTED.into());
    }
    Ok(cs as u16)
}

/// A VRRPv2 advert interval: 1 to 255 whole seconds (VRRPv2 carries whole seconds).
pub(crate) fn v2_advert_interval(seconds: f64) -> Result<u8, String> {
    const ACCEPTED: &str = "accepted 1 to 255 whole seconds (VRRPv2 carries whole seconds; use protocol = \"vrrp3\" for shorter intervals)";
    if !seconds.is_finite() || seconds.fract() != 0.0 {
        return Err(format!("not a whole number of seconds: {ACCEPTED}"));
    }
    if !(1.0..=255.0).contains(&seconds) {
        return Err(ACCEPTED.into());
    }
    Ok(seconds as u8)
}

/// A VRRPv2 simple text password: 1 to 8 bytes without NUL.
pub(crate) fn v2_password(bytes: &[u8]) -> Result<(), String> {
    const ACCEPTED: &str = "accepted 1 to 8 bytes without NUL (VRRPv2 simple text authentication, keepalived's auth_pass), or no password for none";
    if bytes.is_empty() || bytes.len() > carpd_proto::wire::vrrp2::MAX_PASSWORD_LEN {
        return Err(format!("password of {} bytes: {ACCEPTED}", bytes.len()));
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(format!(
            "password with a NUL byte at byte {}: {ACCEPTED}",
            at + 1
        ));
    }
    Ok(())
}

/// A unicast peer: a unicast address.
pub(crate) fn peer(text: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| "accepted an IPv4 or IPv6 address such as 10.0.0.12".to_string())?;
    let bad = ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if bad {
        return Err("accepted the unicast address of another node of the group".into());
    }
    Ok(ip)
}

impl Checker<'_> {
    /// `protocol` and its keys (`None` when refused); a key of another protocol is an
    /// error.
    pub(super) fn protocol(&mut self, label: &str, raw: &RawGroup) -> Option<Chosen> {
        let name = raw
            .protocol
            .as_ref()
            .map_or("carp", |p| p.get_ref().as_str());
        if !matches!(name, "carp" | "vrrp3" | "vrrp2") {
            let p = raw.protocol.as_ref().expect("given");
            self.check::<(), _>(label, "protocol", p, Err(PROTOCOLS.into()));
            return None;
        }
        let errors_before = self.errors.len();
        let compat = raw.vrrp2_compat.as_ref().is_some_and(|c| *c.get_ref());
        let (foreign, instead): (Vec<&str>, &str) = match name {
            "carp" => (
                [&VRRP_ONLY[..], &VRRP3_ONLY[..]].concat(),
                "set protocol = \"vrrp3\" or \"vrrp2\" for it, or use advskew (lower is preferred) and advbase with CARP",
            ),
            "vrrp3" if compat => (
                CARP_ONLY.to_vec(),
                "VRRPv3 is timed by priority and advert_interval",
            ),
            "vrrp3" => (
                [&CARP_ONLY[..], &PASSWORD[..]].concat(),
                "VRRPv3 has no password (but its VRRPv2 adverts have one with vrrp2_compat = true) and is timed by priority and advert_interval",
            ),
            _ => (
                [&CARP_ONLY[..], &VRRP3_ONLY[..]].concat(),
                "VRRPv2 is timed by priority and advert_interval in whole seconds; its password is simple text (1 to 8 bytes)",
            ),
        };
        for key in foreign {
            if let Some(span) = raw.span_of(key) {
                self.error(
                    span,
                    format!("{label}: {key} is not a key of protocol = \"{name}\": {instead}"),
                );
            }
        }
        if name == "carp" {
            return (self.errors.len() == errors_before).then_some(Chosen::Carp);
        }
        let defaults = Vrrp3Params::default();
        let priority = self.number(
            label,
            "priority",
            &raw.priority,
            defaults.priority,
            priority,
        );
        let protocol = if name == "vrrp2" {
            let interval_s = match &raw.advert_interval {
                None => Some(Vrrp2Params::default().interval_s),
                Some(v) => self.check(
                    label,
                    "advert_interval",
                    v,
                    v2_advert_interval(*v.get_ref()),
                ),
            };
            priority.zip(interval_s).map(|(priority, interval_s)| {
                Protocol::Vrrp2(Vrrp2Params {
                    priority,
                    interval_s,
                })
            })
        } else {
            self.vrrp3(label, raw, priority, compat)
        };
        if self.errors.len() > errors_before {
            return None;
        }
        protocol.map(Chosen::Vrrp)
    }

    /// VRRPv3's own values: interval (whole seconds with `vrrp2_compat`), checksum, accept
    /// mode.
    fn vrrp3(
        &mut self,
        label: &str,
        raw: &RawGroup,
        priority: Option<u8>,
        compat: bool,
    ) -> Option<Protocol> {
        let defaults = Vrrp3Params::default();
        let interval_cs = match &raw.advert_interval {
            None => Some(defaults.interval_cs),
            Some(v) => self.check(label, "advert_interval", v, advert_interval(*v.get_ref())),
        };
        if let (true, Some(cs), Some(v)) = (compat, interval_cs, &raw.advert_interval) {
            if cs % 100 != 0 {
                self.error(v.span(), format!("{label}: advert_interval = {} with vrrp2_compat = true: VRRPv2 carries whole seconds, accepted 1 to 40 whole seconds while vrrp2_compat is set", v.get_ref()));
            }
        }
        let checksum = match &raw.v3_checksum {
            None => Some(defaults.checksum),
            Some(v) => {
                let verdict = Checksum::from_name(v.get_ref()).ok_or_else(|| {
                    "accepted \"pseudo-header\" (keepalived's and FRR's default) or \"rfc9568\" (no IPv4 pseudo-header, as Cisco, Juniper and holo send)".to_string()
                });
                self.check(label, "v3_checksum", v, verdict)
            }
        };
        Some(Protocol::Vrrp3(Vrrp3Params {
            priority: priority?,
            interval_cs: interval_cs?,
            checksum: checksum?,
            accept_mode: raw.accept_mode.as_ref().is_some_and(|a| *a.get_ref()),
            vrrp2_compat: compat,
        }))
    }

    /// `peers` (each unicast, listed once) and `unicast_ttl_check` (only with peers).
    pub(super) fn peers(&mut self, label: &str, raw: &RawGroup) -> Option<(Vec<IpAddr>, bool)> {
        let errors_before = self.errors.len();
        let mut peers: Vec<IpAddr> = Vec::new();
        if let Some(list) = &raw.peers {
            if list.get_ref().is_empty() {
                self.error(list.span(), format!("{label}: peers = []: accepted one or more addresses such as [\"10.0.0.12\"], or no peers key for multicast"));
            }
            for p in list.get_ref() {
                if let Some(ip) = self.check(label, "peers", p, peer(p.get_ref())) {
                    if peers.contains(&ip) {
                        self.error(
                            p.span(),
                            format!(
                                "{label}: peers: {ip} is listed twice: accepted each peer once"
                            ),
                        );
                    }
                    peers.push(ip);
                }
            }
        }
        let ttl_check = match &raw.unicast_ttl_check {
            None => true,
            Some(v) if raw.peers.is_none() => {
                self.error(
                    v.span(),
                    format!("{label}: unicast_ttl_check without peers: it applies to unicast peers only; add peers = [...] or remove it"),
                );
                true
            }
            Some(v) => *v.get_ref(),
        };
        (self.errors.len() == errors_before).then_some((peers, ttl_check))
    }

    /// Each peer of the family of the group's VIPs (`vips_v4`).
    pub(super) fn peer_families(
        &mut self,
        label: &str,
        vips_v4: bool,
        peers: &[IpAddr],
        listed: &Option<Spanned<Vec<Spanned<String>>>>,
    ) {
        let Some(list) = listed else {
            return;
        };
        for (ip, p) in peers.iter().zip(list.get_ref()) {
            if ip.is_ipv4() != vips_v4 {
                let family = if vips_v4 { "IPv4" } else { "IPv6" };
                self.error(
                    p.span(),
                    format!("{label}: peers: {ip} is not of the family of the group's VIPs: accepted {family} peers"),
                );
            }
        }
    }
}

impl Checker<'_> {
    /// One family per group (the first VIP's); IPv6 only with VRRPv3 (`chosen`: the
    /// group's protocol, unknown when `protocol` was refused), and not with `vrrp2_compat`.
    pub(super) fn families(
        &mut self,
        label: &str,
        vips: &[crate::settings::rules::Vip],
        listed: &Spanned<Vec<Spanned<String>>>,
        chosen: Option<Chosen>,
    ) {
        let Some(first) = vips.first() else {
            return;
        };
        for (vip, typed) in vips.iter().zip(listed.get_ref()) {
            if vip.address.is_ipv4() != first.address.is_ipv4() {
                self.error(
                    typed.span(),
                    format!(
                        "{label}: vips: {} is not of the family of {}: one address family per group (make another group for the other family)",
                        vip.address, first.address
                    ),
                );
            } else if vip.address.is_ipv6() {
                let why = match chosen {
                    Some(Chosen::Carp) => "CARP groups are IPv4 only (ucarp's protocol)",
                    Some(Chosen::Vrrp(Protocol::Vrrp2(_))) => {
                        "VRRPv2 groups are IPv4 only (RFC 3768)"
                    }
                    _ => continue,
                };
                self.error(
                    typed.span(),
                    format!(
                        "{label}: vips: {}: {why}: accepted IPv4 addresses, or protocol = \"vrrp3\" for IPv6",
                        vip.address
                    ),
                );
            }
        }
    }
}

impl RawGroup {
    /// Where `key` was given, when it was.
    fn span_of(&self, key: &str) -> Option<Range<usize>> {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        match key {
            "password" => at(&self.password),
            "passfile" => at(&self.passfile),
            "advbase" => at(&self.advbase),
            "advskew" => at(&self.advskew),
            "deadratio" => at(&self.deadratio),
            "broadcast" => at(&self.broadcast),
            "multicast_group" => at(&self.multicast_group),
            "priority" => at(&self.priority),
            "advert_interval" => at(&self.advert_interval),
            "accept_mode" => at(&self.accept_mode),
            "v3_checksum" => at(&self.v3_checksum),
            "vrrp2_compat" => at(&self.vrrp2_compat),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::refused;
    use super::*;
    use carpd_proto::Protocol;
    use std::path::Path;

    const V3: &str = "[[group]]\nname = \"db\"\nprotocol = \"vrrp3\"\ninterface = \"eth0\"\nvhid = 50\nvips = [\"10.0.0.150/24\"]\n";

    fn parse(text: &str) -> Result<crate::settings::Settings, Vec<String>> {
        super::super::parse(Path::new("/etc/carpd/carpd.toml"), text)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_vrrp3_group_with_every_key() {
        let text = format!(
            "{V3}priority = 200\nadvert_interval = 0.05\naccept_mode = true\nv3_checksum = \"rfc9568\"\npreempt = true\npeers = [\"10.0.0.12\", \"10.0.0.13\"]\nunicast_ttl_check = false\n"
        );
        let s = parse(&text).unwrap();
        let g = &s.groups[0];
        assert_eq!(
            g.protocol,
            Protocol::Vrrp3(Vrrp3Params {
                priority: 200,
                interval_cs: 5,
                checksum: Checksum::Rfc9568,
                accept_mode: true,
                vrrp2_compat: false,
            })
        );
        assert!(g.password.is_empty());
        assert_eq!(g.peers.len(), 2);
        assert!(!g.unicast_ttl_check);
        // keepalived's defaults otherwise; CARP stays the default protocol.
        let s = parse(V3).unwrap();
        assert_eq!(
            s.groups[0].protocol,
            Protocol::Vrrp3(Vrrp3Params::default())
        );
        assert!(s.groups[0].unicast_ttl_check);
        let carp =
            "[[group]]\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\n";
        assert_eq!(parse(carp).unwrap().groups[0].protocol, Protocol::default());
    }

    #[test]
    fn every_bad_protocol_value_names_line_key_value_and_what_is_accepted() {
        let cases: &[(&str, &[&str])] = &[
            (
                "priority = 0",
                &["carpd.toml:7:12:", "group \"db\": priority = 0", "1 to 255"],
            ),
            ("priority = 256", &["priority = 256", "1 to 255"]),
            (
                "advert_interval = 0.015",
                &["advert_interval = 0.015", "whole number of centiseconds"],
            ),
            (
                "advert_interval = 41",
                &["advert_interval = 41", "0.01 to 40.95"],
            ),
            (
                "advert_interval = 0",
                &["advert_interval = 0", "0.01 to 40.95"],
            ),
            (
                "v3_checksum = \"none\"",
                &["v3_checksum = none", "pseudo-header", "rfc9568"],
            ),
            (
                "password = \"secret\"",
                &[
                    "carpd.toml:7:12:",
                    "password is not a key of protocol = \"vrrp3\"",
                    "no password",
                ],
            ),
            (
                "advskew = 10",
                &["advskew is not a key of protocol = \"vrrp3\""],
            ),
            (
                "multicast_group = \"239.1.1.1\"",
                &["multicast_group is not a key"],
            ),
            (
                "peers = [\"fe80::2\"]",
                &["peers: fe80::2 is not of the family", "IPv4 peers"],
            ),
            (
                "peers = [\"224.0.0.18\"]",
                &["peers = 224.0.0.18", "unicast address"],
            ),
            (
                "peers = [\"10.0.0.12\", \"10.0.0.12\"]",
                &["10.0.0.12 is listed twice"],
            ),
            ("peers = []", &["peers = []", "one or more"]),
            (
                "unicast_ttl_check = false",
                &["unicast_ttl_check without peers"],
            ),
            (
                "demote_by = \"advskew\"",
                &[
                    "demote_by = \"advskew\" is for CARP groups",
                    "lower its priority",
                ],
            ),
            (
                "srcip = \"10.0.0.11\"\npeers = [\"10.0.0.11\"]",
                &["peers: 10.0.0.11 is this host's srcip"],
            ),
        ];
        for (extra, needles) in cases {
            refused(&format!("{V3}{extra}\n"), needles);
        }
        // IPv6: one family per group, CARP IPv4 only, a link-local srcip, no v3_checksum.
        let v6 = V3.replace("10.0.0.150/24", "2001:db8::150/64");
        assert!(parse(&v6).unwrap().groups[0].is_ipv6());
        refused(
            &V3.replace("\"10.0.0.150/24\"", "\"10.0.0.150/24\", \"2001:db8::151\""),
            &[
                "vips: 2001:db8::151 is not of the family of 10.0.0.150",
                "one address family per group",
            ],
        );
        refused(
            &v6.replace("protocol = \"vrrp3\"\n", "password = \"pw\"\n"),
            &[
                "vips: 2001:db8::150: CARP groups are IPv4 only",
                "protocol = \"vrrp3\" for IPv6",
            ],
        );
        refused(
            &format!("{v6}srcip = \"2001:db8::11\"\n"),
            &["srcip = 2001:db8::11", "link-local"],
        );
        assert!(parse(&format!("{v6}srcip = \"fe80::11\"\n")).is_ok());
        refused(
            &format!("{v6}v3_checksum = \"rfc9568\"\n"),
            &["v3_checksum is for IPv4 groups"],
        );
        refused(
            &format!("{v6}peers = [\"10.0.0.12\"]\n"),
            &["peers: 10.0.0.12 is not of the family", "IPv6 peers"],
        );
        refused(
            &V3.replace("10.0.0.150/24", "2001:db8::150/129"),
            &["prefix of 1 to 128"],
        );
        refused(
            &V3.replace("\"vrrp3\"", "\"vrrp4\""),
            &[
                "carpd.toml:3:12:",
                "protocol = vrrp4",
                "\"carp\"",
                "\"vrrp3\"",
                "\"vrrp2\"",
            ],
        );
        refused(
            "[[group]]\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\npriority = 200\n",
            &["carpd.toml:6:12:", "priority is not a key of protocol = \"carp\"", "protocol = \"vrrp3\""],
        );
    }

    const V2: &str = "[[group]]\nname = \"db\"\nprotocol = \"vrrp2\"\ninterface = \"eth0\"\nvhid = 51\nvips = [\"10.0.0.151/24\"]\n";

    #[test]
    fn a_vrrp2_group_with_every_key() {
        let text = format!(
            "{V2}priority = 200\nadvert_interval = 2\npassword = \"s3cret\"\npreempt = true\npreempt_delay = 5\npeers = [\"10.0.0.12\"]\n"
        );
        let s = parse(&text).unwrap();
        let g = &s.groups[0];
        assert_eq!(
            g.protocol,
            Protocol::Vrrp2(Vrrp2Params {
                priority: 200,
                interval_s: 2
            })
        );
        assert_eq!(g.password, b"s3cret");
        let config = g.router_config("10.0.0.11".parse().unwrap()).unwrap();
        assert_eq!(config.vrrp2_auth().unwrap().name(), "simple");
        // keepalived's defaults: priority 100, 1 s, no authentication.
        let s = parse(V2).unwrap();
        assert_eq!(
            s.groups[0].protocol,
            Protocol::Vrrp2(Vrrp2Params::default())
        );
        assert!(s.groups[0].password.is_empty());
        let config = s.groups[0]
            .router_config("10.0.0.11".parse().unwrap())
            .unwrap();
        assert_eq!(config.vrrp2_auth().unwrap().name(), "none");
        // vrrp2_compat on a VRRPv3 group, with the password of its VRRPv2 adverts.
        let compat = format!("{V3}vrrp2_compat = true\npassword = \"s3cret\"\n");
        let s = parse(&compat).unwrap();
        assert!(s.groups[0].protocol.vrrp3().unwrap().vrrp2_compat);
        assert_eq!(s.groups[0].password, b"s3cret");
    }

    #[test]
    fn every_bad_vrrp2_value_names_line_key_value_and_what_is_accepted() {
        let cases: &[(&str, &[&str])] = &[
            (
                "advert_interval = 0.5",
                &[
                    "carpd.toml:7:19:",
                    "advert_interval = 0.5",
                    "not a whole number of seconds",
                    "1 to 255 whole seconds",
                ],
            ),
            ("advert_interval = 256", &["1 to 255 whole seconds"]),
            ("advert_interval = 0", &["1 to 255 whole seconds"]),
            (
                "password = \"123456789\"",
                &[
                    "password = 123456789",
                    "password of 9 bytes",
                    "1 to 8 bytes",
                    "auth_pass",
                ],
            ),
            ("priority = 0", &["priority = 0", "1 to 255"]),
            (
                "advskew = 10",
                &["advskew is not a key of protocol = \"vrrp2\"", "priority"],
            ),
            (
                "v3_checksum = \"rfc9568\"",
                &["v3_checksum is not a key of protocol = \"vrrp2\""],
            ),
            (
                "vrrp2_compat = true",
                &["vrrp2_compat is not a key of protocol = \"vrrp2\""],
            ),
            (
                "demote_by = \"advskew\"",
                &["demote_by = \"advskew\" is for CARP groups"],
            ),
        ];
        for (extra, needles) in cases {
            refused(&format!("{V2}{extra}\n"), needles);
        }
        refused(
            &V2.replace("10.0.0.151/24", "2001:db8::151/64"),
            &[
                "vips: 2001:db8::151: VRRPv2 groups are IPv4 only",
                "protocol = \"vrrp3\" for IPv6",
            ],
        );
        // vrrp2_compat: whole seconds, IPv4, VRRPv3 only; a password only with it.
        refused(
            &format!("{V3}vrrp2_compat = true\nadvert_interval = 0.5\n"),
            &[
                "advert_interval = 0.5 with vrrp2_compat = true",
                "whole seconds",
            ],
        );
        refused(
            &format!(
                "{}vrrp2_compat = true\n",
                V3.replace("10.0.0.150/24", "2001:db8::150/64")
            ),
            &["vrrp2_compat with IPv6 VIPs", "IPv4 only"],
        );
        refused(
            "[[group]]\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\nvrrp2_compat = true\n",
            &["vrrp2_compat is not a key of protocol = \"carp\""],
        );
        refused(
            &format!("{V3}vrrp2_compat = true\npassword = \"123456789\"\n"),
            &["password of 9 bytes", "1 to 8 bytes"],
        );
    }

    #[test]
    fn v2_intervals_are_whole_seconds() {
        assert_eq!(v2_advert_interval(1.0), Ok(1));
        assert_eq!(v2_advert_interval(255.0), Ok(255));
        assert!(v2_advert_interval(1.5)
            .unwrap_err()
            .contains("whole number"));
        assert!(v2_advert_interval(0.0).is_err());
        assert!(v2_advert_interval(f64::INFINITY).is_err());
        assert!(v2_password(b"12345678").is_ok());
        assert!(v2_password(b"a\0b")
            .unwrap_err()
            .contains("NUL byte at byte 2"));
    }

    #[test]
    fn intervals_are_whole_centiseconds_in_range() {
        assert_eq!(advert_interval(1.0), Ok(100));
        assert_eq!(advert_interval(0.05), Ok(5));
        assert_eq!(advert_interval(0.01), Ok(1));
        assert_eq!(advert_interval(40.95), Ok(4095));
        assert!(advert_interval(0.0).is_err());
        assert!(advert_interval(41.0).is_err());
        assert!(advert_interval(0.015)
            .unwrap_err()
            .contains("whole number of centiseconds"));
        assert!(advert_interval(f64::NAN).is_err());
    }

    #[test]
    fn priorities_and_peers() {
        assert_eq!(priority(255), Ok(255));
        assert!(priority(0).is_err());
        assert!(priority(256).is_err());
        assert_eq!(peer("10.0.0.12"), Ok("10.0.0.12".parse().unwrap()));
        assert_eq!(peer("fe80::2"), Ok("fe80::2".parse().unwrap()));
        assert!(peer("224.0.0.18").is_err());
        assert!(peer("0.0.0.0").is_err());
        assert!(peer("host").is_err());
    }
}
