//! A group's `routes` (keepalived's `virtual_routes`): routes added while the group is
//! master, after its VIPs, and removed before them when it leaves, in the words of
//! `ip route`: `DEST [via GW] [dev IF] [src ADDR] [metric N] [table N] [scope link]`.

use std::fmt;
use std::net::IpAddr;

/// One route of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// the destination network (its address masked to the prefix)
    pub destination: IpAddr,
    /// its prefix length (0 for `default`)
    pub prefix: u8,
    /// the gateway
    pub via: Option<IpAddr>,
    /// the output interface
    pub dev: Option<String>,
    /// the preferred source address
    pub src: Option<IpAddr>,
    /// the metric (`ip route`'s `metric`, the kernel's priority)
    pub metric: Option<u32>,
    /// the routing table (default: main, 254)
    pub table: Option<u32>,
    /// `scope link`: the destination is on the link (no gateway)
    pub scope_link: bool,
}

/// What a route's text accepts, for errors.
pub const ACCEPTED: &str = "accepted \"DEST [via GW] [dev IF] [src ADDR] [metric N] [table N] [scope link]\" such as \"0.0.0.0/0 via 10.0.1.254 dev eth1\" (DEST a prefix, an address or default)";

/// The main routing table.
pub const MAIN_TABLE: u32 = 254;

impl RouteSpec {
    /// Parses `text` (see [`ACCEPTED`]); the error names the word at fault.
    pub fn parse(text: &str) -> Result<RouteSpec, String> {
        let mut words = text.split_whitespace();
        let mut first = words.next().ok_or_else(|| format!("empty: {ACCEPTED}"))?;
        if first == "to" {
            first = words
                .next()
                .ok_or_else(|| format!("to without a destination: {ACCEPTED}"))?;
        }
        let (destination, prefix) = destination(first)?;
        let mut route = RouteSpec {
            destination,
            prefix,
            via: None,
            dev: None,
            src: None,
            metric: None,
            table: None,
            scope_link: false,
        };
        while let Some(word) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("{word} without a value: {ACCEPTED}"))?;
            let address = || -> Result<IpAddr, String> {
                let a: IpAddr = value
                    .parse()
                    .map_err(|_| format!("{word} {value}: not an address: {ACCEPTED}"))?;
                if a.is_ipv4() != destination.is_ipv4() {
                    return Err(format!(
                        "{word} {value} is not of the family of {first}: {ACCEPTED}"
                    ));
                }
                Ok(a)
            };
            let number = || -> Result<u32, String> {
                value
                    .parse()
                    .map_err(|_| format!("{word} {value}: accepted a number 0 to 4294967295"))
            };
            match word {
                "via" | "gw" => route.via = Some(address()?),
                "src" => route.src = Some(address()?),
                "dev" => {
                    crate::settings::rules::interface(value)
                        .map_err(|e| format!("dev {value}: {e}"))?;
                    route.dev = Some(value.to_string());
                }
                "metric" | "priority" | "preference" => route.metric = Some(number()?),
                "table" => {
                    route.table = Some(match value {
                        "main" => MAIN_TABLE,
                        _ => number()?,
                    })
                }
                "scope" if value == "link" => route.scope_link = true,
                "scope" => return Err(format!("scope {value}: accepted scope link")),
                _ => return Err(format!("{word}: not carried by carpd: {ACCEPTED}")),
            }
        }
        if route.scope_link && route.via.is_some() {
            return Err(format!(
                "scope link with via: a gateway is not on-link: {ACCEPTED}"
            ));
        }
        if route.via.is_none() && route.dev.is_none() {
            return Err(format!("{text}: neither via nor dev: {ACCEPTED}"));
        }
        Ok(route)
    }

    /// The table the route is in.
    pub fn table(&self) -> u32 {
        self.table.unwrap_or(MAIN_TABLE)
    }
}

/// `default`, an address (a host route) or a prefix, masked.
fn destination(text: &str) -> Result<(IpAddr, u8), String> {
    if text == "default" {
        return Ok((IpAddr::from([0u8, 0, 0, 0]), 0));
    }
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{text}: not a destination: {ACCEPTED}"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text}: a prefix of 0 to {max}: {ACCEPTED}"))?,
    };
    let masked = match address {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u32::from(a) & mask).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u128::from(a) & mask).to_be_bytes())
        }
    };
    Ok((masked, prefix))
}

impl fmt::Display for RouteSpec {
    /// As `ip route` would take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.destination, self.prefix)?;
        if let Some(via) = self.via {
            write!(f, " via {via}")?;
        }
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if let Some(src) = self.src {
            write!(f, " src {src}")?;
        }
        if let Some(metric) = self.metric {
            write!(f, " metric {metric}")?;
        }
        if let Some(table) = self.table {
            write!(f, " table {table}")?;
        }
        if self.scope_link {
            write!(f, " scope link")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_route_words_parse_and_print_back() {
        let r = RouteSpec::parse("0.0.0.0/0 via 10.0.1.254 dev eth1").unwrap();
        assert_eq!(r.to_string(), "0.0.0.0/0 via 10.0.1.254 dev eth1");
        assert_eq!(r.table(), MAIN_TABLE);
        let r = RouteSpec::parse("default via 10.0.1.254").unwrap();
        assert_eq!((r.destination.to_string(), r.prefix), ("0.0.0.0".into(), 0));
        let r = RouteSpec::parse(
            "to 192.168.109.7/24 via 192.168.200.254 src 192.168.200.1 metric 5 table 6",
        )
        .unwrap();
        assert_eq!(
            r.to_string(),
            "192.168.109.0/24 via 192.168.200.254 src 192.168.200.1 metric 5 table 6"
        );
        let r = RouteSpec::parse("10.9.9.9 dev eth1 scope link table main").unwrap();
        assert_eq!(r.to_string(), "10.9.9.9/32 dev eth1 table 254 scope link");
        let r = RouteSpec::parse("2001:db8::/32 via fe80::1 dev eth0").unwrap();
        assert_eq!(r.prefix, 32);
    }

    #[test]
    fn every_bad_route_names_the_word_and_what_is_accepted() {
        for (text, needle) in [
            ("", "empty"),
            ("blackhole 10.0.0.0/8", "blackhole: not a destination"),
            ("10.0.0.0/33 via 10.0.0.1", "a prefix of 0 to 32"),
            ("10.0.0.0/8 via fe80::1", "not of the family"),
            ("10.0.0.0/8 via", "via without a value"),
            ("10.0.0.0/8 via 10.0.0.1 onlink x", "onlink: not carried"),
            ("10.0.0.0/8 dev eth1 scope host", "accepted scope link"),
            ("10.0.0.0/8 metric -1 dev eth1", "metric -1"),
            ("10.0.0.0/8", "neither via nor dev"),
            (
                "10.0.0.0/8 dev a-name-too-long-for-linux",
                "dev a-name-too-long-for-linux",
            ),
        ] {
            let e = RouteSpec::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
