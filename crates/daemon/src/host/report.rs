//! What the host shows of itself, as types: the `carpctl status` view of a group
//! ([`GroupStatus`]) and the events of `carpctl watch` ([`Event`]). The events are the wire
//! format too (serde, shared with carpctl through `mgmt::control::protocol`): their JSON is a
//! contract with users' scripts, pinned by a test there.

use crate::settings::tracking::DemoteBy;
use carpd_proto::{Instant, State};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The group an event is about, as `carpctl watch` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    /// its name
    pub group: String,
    /// its interface
    pub interface: String,
    /// its vhid
    pub vhid: u8,
}

/// One event of the ordered stream `carpctl watch` reads, one JSON object a line, e.g.
/// `{"event":"state","group":"web","interface":"eth0","vhid":47,"from":"BACKUP","to":"MASTER","reason":"master-down"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// the first line a `watch` client gets
    Watching {},
    /// a slow client missed this many events
    Lagged {
        /// how many
        missed: u64,
    },
    /// a group changed state
    State {
        /// the group
        #[serde(flatten)]
        group: GroupRef,
        /// old state
        from: Cow<'static, str>,
        /// new state
        to: Cow<'static, str>,
        /// why (see `StateChangeReason::as_str`)
        reason: Cow<'static, str>,
    },
    /// the operator drained a group (`carpctl demote`)
    Demote {
        /// the group
        #[serde(flatten)]
        group: GroupRef,
    },
    /// the operator ended a drain (`carpctl promote`)
    Promote {
        /// the group
        #[serde(flatten)]
        group: GroupRef,
    },
    /// a reload changed a group's settings
    Changed {
        /// the group
        #[serde(flatten)]
        group: GroupRef,
        /// whether it had to restart (bow-out, INIT to BACKUP)
        restarted: bool,
    },
    /// a tracker's health changed
    Tracker {
        /// its name
        tracker: String,
        /// healthy now
        healthy: bool,
        /// the observation that decided it
        detail: String,
    },
    /// a group's demotion changed
    Demotion {
        /// the group
        #[serde(flatten)]
        group: GroupRef,
        /// the sum of the weights of its failed trackers
        demotion: u8,
        /// where it goes: `demote` or `advskew`
        demote_by: Cow<'static, str>,
        /// the demote byte advertised now
        demote: u8,
        /// the advskew advertised now
        advskew: u8,
        /// a VRRPv3 group's priority advertised now (its demotion lowers it)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
    },
    /// a reload was applied
    Reload(ReloadChanges),
}

impl Event {
    /// The group the event is about, for those about one.
    pub fn group(&self) -> Option<&GroupRef> {
        match self {
            Event::State { group, .. }
            | Event::Demote { group }
            | Event::Promote { group }
            | Event::Changed { group, .. }
            | Event::Demotion { group, .. } => Some(group),
            Event::Watching {}
            | Event::Lagged { .. }
            | Event::Tracker { .. }
            | Event::Reload(_) => None,
        }
    }

    /// Its kind, as the `event` key spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Watching {} => "watching",
            Event::Lagged { .. } => "lagged",
            Event::State { .. } => "state",
            Event::Demote { .. } => "demote",
            Event::Promote { .. } => "promote",
            Event::Changed { .. } => "changed",
            Event::Tracker { .. } => "tracker",
            Event::Demotion { .. } => "demotion",
            Event::Reload(_) => "reload",
        }
    }

    /// The event as one JSON line (no newline). A reload event has always been written with
    /// its keys in alphabetical order (the others in the order above): kept, byte for byte.
    pub fn to_line(&self) -> String {
        let line = match self {
            Event::Reload(_) => serde_json::to_value(self).map(|v| v.to_string()),
            _ => serde_json::to_string(self),
        };
        line.unwrap_or_else(|e| format!(r#"{{"event":"error","detail":"{e}"}}"#))
    }
}

/// What a reload changed, by group and tracker name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadChanges {
    /// groups new in the file
    pub added: Vec<String>,
    /// groups gone from the file
    pub removed: Vec<String>,
    /// groups whose settings changed in place
    pub changed: Vec<String>,
    /// groups that had to restart (bow-out, INIT to BACKUP)
    pub restarted: Vec<String>,
    /// trackers new in the file (failed until first observed)
    pub trackers_added: Vec<String>,
    /// trackers gone from the file
    pub trackers_removed: Vec<String>,
    /// trackers whose settings changed (their health is kept)
    pub trackers_changed: Vec<String>,
}

/// What `carpctl status` shows of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// name, interface and vhid
    pub group: GroupRef,
    /// INIT, BACKUP or MASTER
    pub state: State,
    /// when it entered that state
    pub since: Instant,
    /// its VIPs with their prefixes, as configured
    pub vips: Vec<String>,
    /// its protocol, with what only that protocol has
    pub protocol: ProtocolStatus,
    /// demote counter in effect
    pub demote: u8,
    /// drained by the operator (`carpctl demote`)
    pub drained: bool,
    /// in FAULT, or held there at start
    pub fault: bool,
    /// the sum of the weights of its failed trackers
    pub demotion: u8,
    /// where the demotion goes
    pub demote_by: DemoteBy,
    /// its trackers: name, healthy, weight
    pub track: Vec<(String, bool, u8)>,
    /// its sync group
    pub sync: Option<String>,
    /// why it is in FAULT (failed trackers, members of its sync group without link)
    pub fault_causes: Vec<String>,
    /// the current master's address, when known
    pub master: Option<IpAddr>,
    /// unicast peers (empty: multicast)
    pub peers: Vec<IpAddr>,
    /// whether listed peers' adverts must carry TTL 255
    pub unicast_ttl_check: bool,
    /// the core's counters
    pub stats: carpd_proto::RouterStats,
    /// packets dropped for this group, by kind
    pub drops: BTreeMap<&'static str, u64>,
    /// the interface its VIPs are added to (`vip_interface`, else its own)
    pub vip_interface: String,
}

/// What `carpctl status` shows of a group's protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolStatus {
    /// CARP's timing
    Carp {
        /// advbase in effect
        advbase: u8,
        /// advskew in effect (the configured one plus the demotion with `demote_by = "advskew"`)
        advskew: u8,
        /// advskew as configured
        configured_advskew: u8,
    },
    /// VRRPv3's values
    Vrrp3(Vrrp3Status),
    /// VRRPv2's values
    Vrrp2(Vrrp2Status),
}

impl ProtocolStatus {
    /// `carp`, `vrrp3` or `vrrp2`.
    pub fn name(&self) -> &'static str {
        match self {
            ProtocolStatus::Carp { .. } => "carp",
            ProtocolStatus::Vrrp3(_) => "vrrp3",
            ProtocolStatus::Vrrp2(_) => "vrrp2",
        }
    }

    /// A VRRP group's priority in effect and as configured.
    pub fn priorities(&self) -> Option<(u8, u8)> {
        match self {
            ProtocolStatus::Carp { .. } => None,
            ProtocolStatus::Vrrp3(v) => Some((v.priority, v.configured_priority)),
            ProtocolStatus::Vrrp2(v) => Some((v.priority, v.configured_priority)),
        }
    }
}

/// What `carpctl status` shows of a VRRPv2 group beside what every group has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrrp2Status {
    /// the priority advertised and compared (the configured one lowered by the demotion)
    pub priority: u8,
    /// the priority as configured
    pub configured_priority: u8,
    /// our advert interval in whole seconds
    pub advert_interval_s: u8,
    /// the interval the master advertises, once one was heard
    pub master_advert_interval: Option<std::time::Duration>,
    /// `none` or `simple`
    pub auth_type: &'static str,
}

/// What `carpctl status` shows of a VRRPv3 group beside what every group has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrrp3Status {
    /// the priority advertised and compared (the configured one lowered by the demotion)
    pub priority: u8,
    /// the priority as configured
    pub configured_priority: u8,
    /// our advert interval in centiseconds
    pub advert_interval_cs: u16,
    /// the interval the master advertises, once one was heard
    pub master_advert_interval: Option<std::time::Duration>,
    /// the IPv4 checksum variant sent
    pub v3_checksum: &'static str,
    /// the IPv4 checksum variant of the last advert heard
    pub peer_v3_checksum: Option<&'static str>,
    /// RFC 9568 Accept_Mode as configured
    pub accept_mode: bool,
    /// with `vrrp2_compat`, the auth type of its VRRPv2 adverts (`none` or `simple`)
    pub vrrp2_compat: Option<&'static str>,
}
