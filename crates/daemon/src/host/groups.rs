//! One group as the host keeps it beside the core's router: its name, link, VIPs and how they
//! are managed, its trackers and sync group, and what the core was last told of its health.

use super::input::LinkId;
use crate::settings::tracking::DemoteBy;
use crate::settings::GroupSettings;
use carpd_proto::Instant;
use std::net::IpAddr;

/// What the core was last told of a group's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Applied {
    /// in FAULT
    pub fault: bool,
    /// the demote byte
    pub demote: u8,
    /// the demotion added to advskew
    pub skew: u8,
}

/// A group's virtual MAC (`vmac = true`) and the macvlan that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Vmac {
    /// the macvlan's name
    pub(super) name: String,
    /// the virtual MAC: adverts, gratuitous ARP and NA leave from it
    pub(super) mac: [u8; 6],
}

/// A group's runtime beside its router in the core.
#[derive(Debug)]
pub(super) struct Group {
    pub(super) name: String,
    pub(super) link: LinkId,
    pub(super) vhid: u8,
    pub(super) vips: Vec<IpAddr>,
    /// the VIPs as `carpctl status` shows them (address/prefix)
    pub(super) vips_shown: Vec<String>,
    /// its routes' (destination, prefix, table): one removed behind carpd's back while
    /// master is put back
    pub(super) routes: Vec<(IpAddr, u8, u32)>,
    pub(super) native: bool,
    pub(super) ignore_ifstate: bool,
    /// What the core was last told about the link, for this group.
    pub(super) link_up: bool,
    /// when the group entered its state
    pub(super) since: Instant,
    /// the trackers it depends on
    pub(super) track: Vec<String>,
    /// where their weights go
    pub(super) demote_by: DemoteBy,
    /// its sync group
    pub(super) sync: Option<String>,
    /// its notify script and the hook timeout that bounds it
    pub(super) notify: Option<(Vec<String>, std::time::Duration)>,
    /// `CARPD_VIPS` for the notify script
    pub(super) vips_typed: String,
    /// What the core was last told of the group's health.
    pub(super) applied: Applied,
    /// where its VIPs go when not on its link
    pub(super) vip_interface: Option<String>,
    /// its virtual MAC, when it has one: the VIPs go on its macvlan
    pub(super) vmac: Option<Vmac>,
    /// native mode: VIP changes the kernel refused, and when to try again
    pub(super) vip_retry: super::vip_retry::VipRetry,
    /// when a disagreeing advert was last logged
    pub(super) mismatch_logged_at: Option<Instant>,
    /// disagreeing adverts since then
    pub(super) mismatches_unlogged: u64,
}

impl Group {
    pub(super) fn new(settings: &GroupSettings, link: LinkId, now: Instant) -> Group {
        Group {
            name: settings.name.clone(),
            link,
            vhid: settings.vhid,
            vips: settings.vips.iter().map(|v| v.address).collect(),
            vips_shown: settings
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix_or_default()))
                .collect(),
            routes: settings
                .routes
                .iter()
                .map(|r| (r.destination, r.prefix, r.table()))
                .collect(),
            native: settings.native(),
            ignore_ifstate: settings.ignore_ifstate,
            link_up: true,
            since: now,
            track: settings.track.clone(),
            demote_by: settings.demote_by,
            sync: settings.sync.clone(),
            notify: settings
                .notify_script
                .clone()
                .map(|argv| (argv, settings.hook_timeout)),
            vips_typed: settings
                .vips
                .iter()
                .map(|v| v.typed.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            applied: Applied::default(),
            vip_interface: settings.vip_interface.clone(),
            vmac: settings
                .vmac
                .clone()
                .zip(settings.virtual_mac())
                .map(|(name, mac)| Vmac { name, mac }),
            vip_retry: Default::default(),
            mismatch_logged_at: None,
            mismatches_unlogged: 0,
        }
    }
}

impl Group {
    /// The interface its VIPs are on when that is not its link: the virtual MAC's macvlan
    /// or its `vip_interface`.
    pub(super) fn vips_elsewhere(&self) -> Option<&str> {
        self.vmac
            .as_ref()
            .map(|v| v.name.as_str())
            .or(self.vip_interface.as_deref())
    }
}
