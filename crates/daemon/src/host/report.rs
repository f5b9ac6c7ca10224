//! What the host shows of itself, as types: the `carpctl status` view of a group
//! ([`GroupStatus`]) and the events of `carpctl watch` ([`Event`]).

use crate::settings::tracking::DemoteBy;
use carpd_proto::{Instant, State};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    /// its name
    pub group: String,
    /// its interface
    pub interface: String,
    /// its vhid
    pub vhid: u8,
}

/// What happened, beyond the event's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// nothing more
    None {},
    /// a state change
    State {
        /// old state
        from: &'static str,
        /// new state
        to: &'static str,
        /// why (see `StateChangeReason::as_str`)
        reason: &'static str,
    },
    /// a group's settings changed
    Changed {
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
        /// the sum of the weights of its failed trackers
        demotion: u8,
        /// where it goes: `demote` or `advskew`
        demote_by: &'static str,
        /// the demote byte advertised now
        demote: u8,
        /// the advskew advertised now
        advskew: u8,
        /// a VRRPv3 group's priority advertised now (its demotion lowers it)
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
    },
}

/// One event of the ordered stream `carpctl watch` reads, JSON as
/// `{"event": "state", "group": .., "interface": .., "vhid": .., "from": .., "to": .., "reason": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// its kind: `state`, `demote`, `promote`, `changed`, `tracker`, `demotion`
    pub event: &'static str,
    /// the group, for events about one
    #[serde(flatten)]
    pub group: Option<GroupRef>,
    /// the rest
    #[serde(flatten)]
    pub detail: Detail,
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
    /// advbase in effect
    pub advbase: u8,
    /// advskew in effect (the configured one plus the demotion with `demote_by = "advskew"`)
    pub advskew: u8,
    /// advskew as configured
    pub configured_advskew: u8,
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
    /// `carp` or `vrrp3`
    pub protocol: &'static str,
    /// a VRRPv3 group's values
    pub vrrp3: Option<Vrrp3Status>,
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
}
