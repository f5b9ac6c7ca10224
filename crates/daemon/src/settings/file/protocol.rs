//! A group's protocol keys: `protocol` and the VRRPv3 values (`priority`, `advert_interval`,
//! `accept_mode`, `v3_checksum`), the keys that belong to one protocol only, and unicast
//! `peers` with `unicast_ttl_check`.

use super::{Checker, RawGroup};
use carpd_proto::wire::vrrp3::{Checksum, MAX_INTERVAL_CS};
use carpd_proto::Vrrp3Params;
use std::net::IpAddr;
use std::ops::Range;
use toml::Spanned;

/// The keys that only CARP has.
const CARP_ONLY: [&str; 7] = [
    "password",
    "passfile",
    "advbase",
    "advskew",
    "deadratio",
    "broadcast",
    "multicast_group",
];

/// The keys that only VRRPv3 has.
const VRRP3_ONLY: [&str; 4] = ["priority", "advert_interval", "accept_mode", "v3_checksum"];

/// A VRRPv3 priority: 1 to 255.
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
    /// `protocol` and its keys: `None` for CARP, the VRRPv3 values otherwise; a key of the
    /// other protocol is an error.
    pub(super) fn protocol(&mut self, label: &str, raw: &RawGroup) -> Option<Option<Vrrp3Params>> {
        let vrrp3 = match &raw.protocol {
            None => false,
            Some(p) => match p.get_ref().as_str() {
                "carp" => false,
                "vrrp3" => true,
                _ => {
                    self.check::<(), _>(
                        label,
                        "protocol",
                        p,
                        Err("accepted \"carp\" (ucarp's protocol, the default) or \"vrrp3\" (VRRPv3, RFC 9568)".into()),
                    );
                    return None;
                }
            },
        };
        let errors_before = self.errors.len();
        let (foreign, protocol, instead): (&[&str], &str, &str) = if vrrp3 {
            (
                &CARP_ONLY,
                "vrrp3",
                "VRRPv3 has no password and is timed by priority and advert_interval",
            )
        } else {
            (
                &VRRP3_ONLY,
                "carp",
                "set protocol = \"vrrp3\" for it, or use advskew (lower is preferred) and advbase with CARP",
            )
        };
        for key in foreign {
            if let Some(span) = raw.span_of(key) {
                self.error(
                    span,
                    format!("{label}: {key} is not a key of protocol = \"{protocol}\": {instead}"),
                );
            }
        }
        if !vrrp3 {
            return (self.errors.len() == errors_before).then_some(None);
        }
        let defaults = Vrrp3Params::default();
        let priority = self.number(
            label,
            "priority",
            &raw.priority,
            defaults.priority,
            priority,
        );
        let interval_cs = match &raw.advert_interval {
            None => Some(defaults.interval_cs),
            Some(v) => self.check(label, "advert_interval", v, advert_interval(*v.get_ref())),
        };
        let checksum = match &raw.v3_checksum {
            None => Some(defaults.checksum),
            Some(v) => {
                let verdict = Checksum::from_name(v.get_ref()).ok_or_else(|| {
                    "accepted \"pseudo-header\" (keepalived's and FRR's default) or \"rfc9568\" (no IPv4 pseudo-header, as Cisco, Juniper and holo send)".to_string()
                });
                self.check(label, "v3_checksum", v, verdict)
            }
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Some(Vrrp3Params {
            priority: priority?,
            interval_cs: interval_cs?,
            checksum: checksum?,
            accept_mode: raw.accept_mode.as_ref().is_some_and(|a| *a.get_ref()),
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
    /// One family per group (the first VIP's); IPv6 only with VRRPv3 (`vrrp3`: the
    /// group's protocol values, `None` for CARP, unknown when `protocol` was refused).
    pub(super) fn families(
        &mut self,
        label: &str,
        vips: &[crate::settings::rules::Vip],
        listed: &Spanned<Vec<Spanned<String>>>,
        vrrp3: Option<Option<Vrrp3Params>>,
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
            } else if vip.address.is_ipv6() && vrrp3 == Some(None) {
                self.error(
                    typed.span(),
                    format!(
                        "{label}: vips: {}: CARP groups are IPv4 only (ucarp's protocol): accepted IPv4 addresses, or protocol = \"vrrp3\" for IPv6",
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
                accept_mode: true
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
            &V3.replace("\"vrrp3\"", "\"vrrp2\""),
            &[
                "carpd.toml:3:12:",
                "protocol = vrrp2",
                "\"carp\"",
                "\"vrrp3\"",
            ],
        );
        refused(
            "[[group]]\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\npriority = 200\n",
            &["carpd.toml:6:12:", "priority is not a key of protocol = \"carp\"", "protocol = \"vrrp3\""],
        );
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
