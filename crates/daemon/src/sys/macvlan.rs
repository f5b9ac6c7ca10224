//! The macvlan that carries a group's virtual MAC (`vmac = true`), through rtnetlink: made
//! down on the group's interface in bridge mode with the virtual MAC and carpd's mark (its
//! alias), set up and down, looked up, deleted. `ip -d link` shows the mark as `alias carpd
//! virtual MAC: vhid N on PARENT`.

use super::netlink::{to_io, Netlink};
use futures::stream::TryStreamExt;
use netlink_packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, MacVlanMode,
};
use rtnetlink::{LinkMacVlan, LinkUnspec};
use std::io;

/// What carpd's mark (the link's alias) starts with.
const MARK: &str = "carpd virtual MAC: vhid ";

/// The alias carpd gives the macvlan of vhid `vhid` on `parent`.
pub fn mark(vhid: u8, parent: &str) -> String {
    format!("{MARK}{vhid} on {parent}")
}

/// The vhid and parent a mark names; `None` for an alias that is not carpd's.
pub fn parse_mark(alias: &str) -> Option<(u8, String)> {
    let (vhid, parent) = alias.strip_prefix(MARK)?.split_once(" on ")?;
    Some((vhid.parse().ok()?, parent.to_string()))
}

/// What carpd needs to know of a link to make, adopt or refuse a macvlan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// its name
    pub name: String,
    /// kernel index
    pub index: u32,
    /// Ethernet (ARPHRD_ETHER): it can carry a macvlan
    pub ethernet: bool,
    /// loopback
    pub loopback: bool,
    /// a macvlan
    pub macvlan: bool,
    /// its alias (carpd's mark on a macvlan carpd made)
    pub alias: Option<String>,
    /// administratively up
    pub up: bool,
}

impl LinkFacts {
    /// Whether carpd made it (a macvlan with carpd's mark).
    pub fn is_carpds(&self) -> bool {
        self.macvlan && self.alias.as_deref().and_then(parse_mark).is_some()
    }

    fn of(message: &LinkMessage) -> Option<LinkFacts> {
        let mut name = None;
        let mut alias = None;
        let mut macvlan = false;
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::IfAlias(a) => alias = Some(a.clone()),
                LinkAttribute::LinkInfo(infos) => {
                    macvlan = infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::MacVlan)));
                }
                _ => {}
            }
        }
        let kind = message.header.link_layer_type;
        Some(LinkFacts {
            name: name?,
            index: message.header.index,
            ethernet: kind == LinkLayerType::Ether,
            loopback: kind == LinkLayerType::Loopback
                || message.header.flags.contains(LinkFlags::Loopback),
            macvlan,
            alias,
            up: message.header.flags.contains(LinkFlags::Up),
        })
    }
}

impl Netlink {
    /// The link named `name`, or `None` when there is none.
    pub async fn link_named(&self, name: &str) -> io::Result<Option<LinkFacts>> {
        let mut stream = self.handle().link().get().match_name(name).execute();
        match stream.try_next().await {
            Ok(message) => Ok(message.as_ref().and_then(LinkFacts::of)),
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(to_io(e)),
        }
    }

    /// Every link of the namespace.
    pub async fn links(&self) -> io::Result<Vec<LinkFacts>> {
        let mut stream = self.handle().link().get().execute();
        let mut found = Vec::new();
        while let Some(message) = stream.try_next().await.map_err(to_io)? {
            found.extend(LinkFacts::of(&message));
        }
        Ok(found)
    }

    /// Makes macvlan `name` on link `parent` (bridge mode, MAC `mac`), down, then gives it
    /// alias `alias` (the kernel takes no alias in the request that makes a link); its index.
    pub async fn add_macvlan(
        &self,
        name: &str,
        parent: u32,
        mac: [u8; 6],
        alias: &str,
    ) -> io::Result<u32> {
        let message = LinkMacVlan::new(name, parent, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .down()
            .build();
        self.handle()
            .link()
            .add(message)
            .execute()
            .await
            .map_err(to_io)?;
        let Some(link) = self.link_named(name).await? else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name} vanished right after it was made"),
            ));
        };
        let marked = LinkUnspec::new_with_index(link.index).alias(alias).build();
        if let Err(e) = self.handle().link().set(marked).execute().await {
            // Unmarked, it would look like someone else's at the next start: not kept.
            let _ = self.delete_link(link.index).await;
            return Err(to_io(e));
        }
        Ok(link.index)
    }

    /// Sets link `index` administratively up or down.
    pub async fn set_link_up(&self, index: u32, up: bool) -> io::Result<()> {
        let builder = LinkUnspec::new_with_index(index);
        let message = if up { builder.up() } else { builder.down() }.build();
        self.handle()
            .link()
            .set(message)
            .execute()
            .await
            .map_err(to_io)
    }

    /// Deletes link `index`; already gone is fine.
    pub async fn delete_link(&self, index: u32) -> io::Result<()> {
        match self.handle().link().del(index).execute().await {
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::ENODEV => Ok(()),
            other => other.map_err(to_io),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_names_vhid_and_parent_and_nothing_else_is_carpds() {
        let alias = mark(52, "eth0");
        assert_eq!(alias, "carpd virtual MAC: vhid 52 on eth0");
        assert_eq!(parse_mark(&alias), Some((52, "eth0".to_string())));
        assert_eq!(parse_mark("uplink to the core"), None);
        assert_eq!(parse_mark("carpd virtual MAC: vhid 300 on eth0"), None);
        let facts = |macvlan, alias: Option<&str>| LinkFacts {
            name: "vrrp.52".into(),
            index: 9,
            ethernet: true,
            loopback: false,
            macvlan,
            alias: alias.map(str::to_string),
            up: false,
        };
        assert!(facts(true, Some(&alias)).is_carpds());
        assert!(!facts(false, Some(&alias)).is_carpds());
        assert!(!facts(true, None).is_carpds());
        assert!(!facts(true, Some("FRR's")).is_carpds());
    }
}
