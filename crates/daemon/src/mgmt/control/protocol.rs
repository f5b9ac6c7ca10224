//! What goes over the control socket. A request is one JSON object on one line:
//! `{"command": "status"}`, `{"command": "status", "group": "web"}`,
//! `{"command": "demote", "group": "web"}`, `{"command": "demote", "all": true}`, the same for
//! `promote`, `{"command": "reload"}` and `{"command": "watch"}`. A reply is one JSON object on
//! one line; a failure is `{"error": "..."}` naming the value and what is accepted.
//!
//! The types here are the protocol, written once: carpd serializes them and carpctl reads
//! them back. Their JSON is a contract with users' scripts (`carpctl --json`) and is pinned
//! byte for byte by the tests below; objects of replies go out with their keys in
//! alphabetical order ([`reply_line`]).

pub use crate::host::report::{Event, GroupRef, ReloadChanges};
use crate::host::report::{GroupStatus, ProtocolStatus};
use carpd_proto::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// A request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// every group, or one
    Status {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// drain a group (or every group): a master bows out, BACKUP until promoted
    Demote {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// end a drain
    Promote {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// re-read the config file and apply the difference
    Reload,
    /// the event stream
    Watch,
}

/// A request as it goes over the wire.
#[derive(Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase", deny_unknown_fields)]
enum Wire {
    Status {
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    Demote {
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    Promote {
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    Reload {},
    Watch {},
}

/// The one group named, or every group with `all`: exactly one of them.
fn target(command: &str, group: Option<String>, all: bool) -> Result<Option<String>, String> {
    match (group, all) {
        (Some(group), false) => Ok(Some(group)),
        (None, true) => Ok(None),
        (Some(group), true) => Err(format!(
            "{command}: group \"{group}\" and all: accepted a group or all, not both"
        )),
        (None, false) => Err(format!(
            "{command}: no group: accepted a group's name or all"
        )),
    }
}

impl Request {
    /// Parses one request line.
    pub fn parse(line: &str) -> Result<Request, String> {
        let wire: Wire = serde_json::from_str(line.trim_end()).map_err(|e| {
            format!(
                "bad request ({e}): accepted one JSON object with \"command\" one of status, demote, promote, reload, watch"
            )
        })?;
        Ok(match wire {
            Wire::Status { group } => Request::Status { group },
            Wire::Demote { group, all } => Request::Demote {
                group: target("demote", group, all)?,
            },
            Wire::Promote { group, all } => Request::Promote {
                group: target("promote", group, all)?,
            },
            Wire::Reload {} => Request::Reload,
            Wire::Watch {} => Request::Watch,
        })
    }

    /// The request as one JSON line (no newline), as carpctl sends it.
    pub fn to_line(&self) -> String {
        let wire = match self.clone() {
            Request::Status { group } => Wire::Status { group },
            Request::Demote { group } => Wire::Demote {
                all: group.is_none(),
                group,
            },
            Request::Promote { group } => Wire::Promote {
                all: group.is_none(),
                group,
            },
            Request::Reload => Wire::Reload {},
            Request::Watch => Wire::Watch {},
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// A reply as one JSON line (no newline), its objects' keys in alphabetical order.
pub fn reply_line<T: Serialize>(reply: &T) -> String {
    match serde_json::to_value(reply) {
        Ok(value) => value.to_string(),
        Err(e) => error_line(&format!("reply not written: {e}")),
    }
}

/// `{"error": message}`.
pub fn error_line(message: &str) -> String {
    reply_line(&ErrorReply {
        error: message.to_string(),
    })
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorReply {
    /// what is wrong and what is accepted
    pub error: String,
}

/// A reply as carpctl reads it: the error, or what was asked for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Answer<T> {
    /// refused
    Error(ErrorReply),
    /// done
    Ok(T),
}

/// The reply to `status`. Keys a reader does not find (an older carpd) take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusReply {
    /// the groups asked for
    pub groups: Vec<GroupView>,
    /// every tracker
    pub trackers: Vec<TrackerView>,
    /// the conntrackd carpd drives (`[conntrack]`); left out without one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<ConntrackView>,
}

/// The conntrackd carpd drives, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConntrackView {
    /// its config file
    pub config: String,
    /// the UNIX socket that file names
    pub socket: String,
    /// `primary` (a group with `conntrack = true` is master), `backup`, or `unknown`
    /// (nothing asked yet)
    pub role: String,
    /// the groups with `conntrack = true` that are master
    pub masters: Vec<String>,
    /// the last commit of the external cache, `null` before the first
    pub last_commit: Option<CommitView>,
    /// each command (`commit`, `flush`, `resync`, `bulk_send`, `reset_timers`,
    /// `request_resync`) and how its runs ended
    pub commands: Vec<CommandView>,
}

#[cfg(test)]
impl ConntrackView {
    /// A primary conntrackd with two masters, two commits and one timeout: the fixture of
    /// the JSON and metrics tests.
    pub fn sample() -> ConntrackView {
        ConntrackView {
            config: "/etc/conntrackd/conntrackd.conf".into(),
            socket: "/var/run/conntrackd.ctl".into(),
            role: "primary".into(),
            masters: vec!["lan".into(), "wan".into()],
            last_commit: Some(CommitView {
                at: "2026-12-05T08:00:00.000Z".into(),
                timestamp: 1_796_457_600.5,
                duration_seconds: 0.004,
                result: "ok".into(),
                detail: String::new(),
            }),
            commands: vec![CommandView {
                command: "commit".into(),
                flag: "-c".into(),
                ok: 2,
                failed: 0,
                timeout: 1,
            }],
        }
    }
}

/// One commit of conntrackd's external cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitView {
    /// when it ended (RFC 3339)
    pub at: String,
    /// the same, in seconds since the Unix epoch
    pub timestamp: f64,
    /// how long it took
    pub duration_seconds: f64,
    /// `ok`, `failed` or `timeout`
    pub result: String,
    /// what conntrackd's client said, if anything
    pub detail: String,
}

/// How often one conntrackd command ended each way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandView {
    /// its name
    pub command: String,
    /// conntrackd's option for it (`-c`)
    pub flag: String,
    /// exit status 0
    pub ok: u64,
    /// another exit status, or it could not run
    pub failed: u64,
    /// killed at the bound
    pub timeout: u64,
}

/// The reply to `demote` and `promote`: the groups it was applied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainReply {
    /// their names
    pub groups: Vec<String>,
}

/// The reply to `reload`: what changed, and how many groups did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadReport {
    /// groups new in the file
    pub added: Vec<String>,
    /// groups gone from the file
    pub removed: Vec<String>,
    /// groups whose settings changed in place
    pub changed: Vec<String>,
    /// groups that had to restart (bow-out, INIT to BACKUP)
    pub restarted: Vec<String>,
    /// groups whose settings are the same
    pub unchanged: usize,
    /// trackers new in the file (failed until first observed)
    pub trackers_added: Vec<String>,
    /// trackers gone from the file
    pub trackers_removed: Vec<String>,
    /// trackers whose settings changed (their health is kept)
    pub trackers_changed: Vec<String>,
}

impl ReloadReport {
    /// The changes alone, as the `reload` event carries them.
    pub fn changes(&self) -> ReloadChanges {
        ReloadChanges {
            added: self.added.clone(),
            removed: self.removed.clone(),
            changed: self.changed.clone(),
            restarted: self.restarted.clone(),
            trackers_added: self.trackers_added.clone(),
            trackers_removed: self.trackers_removed.clone(),
            trackers_changed: self.trackers_changed.clone(),
        }
    }
}

/// One tracker, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerView {
    /// its name
    pub name: String,
    /// `script`, `interface` or `file`
    pub kind: String,
    /// healthy now
    pub healthy: bool,
    /// its weight
    pub weight: u8,
    /// what the last observation said
    pub detail: String,
    /// whole seconds since its health last changed
    pub seconds_in_state: u64,
}

/// A tracker a group tracks, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackView {
    /// the tracker's name
    pub tracker: String,
    /// healthy now
    pub healthy: bool,
    /// its weight
    pub weight: u8,
}

/// One group, as `status` shows it. CARP groups have `advbase` and `advskew`; VRRPv3 groups
/// `priority`, `advert_interval` and the checksum values; what a group lacks is `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupView {
    /// its name
    pub name: String,
    /// its interface
    pub interface: String,
    /// its vhid
    pub vhid: u8,
    /// INIT, BACKUP, MASTER or FAULT
    pub state: String,
    /// when it entered that state (RFC 3339, seconds)
    pub since: String,
    /// whole seconds in that state
    pub seconds_in_state: u64,
    /// its VIPs with their prefixes
    pub vips: Vec<String>,
    /// where its VIPs are added
    pub vip_interface: String,
    /// `carp`, `vrrp3` or `vrrp2`
    pub protocol: String,
    /// CARP: advbase
    pub advbase: Option<u8>,
    /// CARP: advskew in effect
    pub advskew: Option<u8>,
    /// CARP: advskew as configured
    pub configured_advskew: Option<u8>,
    /// VRRPv3: priority in effect
    pub priority: Option<u8>,
    /// VRRPv3: priority as configured
    pub configured_priority: Option<u8>,
    /// VRRPv3: our advert interval, seconds
    pub advert_interval: Option<f64>,
    /// VRRPv3: the master's advert interval, seconds, once heard
    pub master_advert_interval: Option<f64>,
    /// VRRPv3: the IPv4 checksum variant sent
    pub v3_checksum: Option<String>,
    /// VRRPv3: the IPv4 checksum variant last heard
    pub peer_v3_checksum: Option<String>,
    /// VRRPv3: Accept_Mode
    pub accept_mode: Option<bool>,
    /// VRRPv2, and VRRPv3 with `vrrp2_compat`: the VRRPv2 auth type, `none` or `simple`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// VRRPv3: `vrrp2_compat` (shown only when set)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp2_compat: Option<bool>,
    /// unicast peers
    pub peers: Vec<String>,
    /// whether peers' adverts must carry TTL 255
    pub unicast_ttl_check: bool,
    /// demote counter in effect
    pub demote: u8,
    /// where tracker weights go: `demote` or `advskew`
    pub demote_by: String,
    /// the sum of the weights of its failed trackers
    pub demotion: u8,
    /// in FAULT
    pub fault: bool,
    /// its trackers
    pub track: Vec<TrackView>,
    /// its sync group
    pub sync: Option<String>,
    /// why it is in FAULT
    pub fault_causes: Vec<String>,
    /// drained by `carpctl demote`
    pub demoted_by_operator: bool,
    /// the current master, when known
    pub master: Option<String>,
    /// adverts sent
    pub adverts_sent: u64,
    /// adverts received and used
    pub adverts_received: u64,
    /// VRRPv3 adverts used though they disagree with the group
    pub advert_mismatches: u64,
    /// state changes
    pub transitions: u64,
    /// packets dropped for this group, by kind
    pub drops: BTreeMap<String, u64>,
}

/// Whole seconds from `since` to `now`.
fn seconds_between(since: Instant, now: Instant) -> u64 {
    now.as_micros().saturating_sub(since.as_micros()) / 1_000_000
}

impl GroupView {
    /// The view of `g` at `now`; `wall_epoch` is the wall-clock time of the loop's instant 0.
    pub fn new(g: &GroupStatus, wall_epoch: SystemTime, now: Instant) -> GroupView {
        let since = wall_epoch + std::time::Duration::from_micros(g.since.as_micros());
        let (carp, v3, v2) = match &g.protocol {
            ProtocolStatus::Carp {
                advbase,
                advskew,
                configured_advskew,
            } => (Some((*advbase, *advskew, *configured_advskew)), None, None),
            ProtocolStatus::Vrrp3(v3) => (None, Some(v3), None),
            ProtocolStatus::Vrrp2(v2) => (None, None, Some(v2)),
        };
        let priorities = g.protocol.priorities();
        let advert_interval = v3
            .map(|v| f64::from(v.advert_interval_cs) / 100.0)
            .or(v2.map(|v| f64::from(v.advert_interval_s)));
        let master_advert_interval = v3
            .and_then(|v| v.master_advert_interval)
            .or(v2.and_then(|v| v.master_advert_interval));
        GroupView {
            name: g.group.group.clone(),
            interface: g.group.interface.clone(),
            vhid: g.group.vhid,
            state: g.state.as_str().to_string(),
            since: humantime::format_rfc3339_seconds(since).to_string(),
            seconds_in_state: seconds_between(g.since, now),
            vips: g.vips.clone(),
            vip_interface: g.vip_interface.clone(),
            protocol: g.protocol.name().to_string(),
            advbase: carp.map(|c| c.0),
            advskew: carp.map(|c| c.1),
            configured_advskew: carp.map(|c| c.2),
            priority: priorities.map(|p| p.0),
            configured_priority: priorities.map(|p| p.1),
            advert_interval,
            master_advert_interval: master_advert_interval.map(|d| d.as_secs_f64()),
            v3_checksum: v3.map(|v| v.v3_checksum.to_string()),
            peer_v3_checksum: v3.and_then(|v| v.peer_v3_checksum).map(str::to_string),
            accept_mode: v3.map(|v| v.accept_mode),
            auth_type: v2
                .map(|v| v.auth_type)
                .or(v3.and_then(|v| v.vrrp2_compat))
                .map(str::to_string),
            vrrp2_compat: v3.and_then(|v| v.vrrp2_compat).map(|_| true),
            peers: g.peers.iter().map(ToString::to_string).collect(),
            unicast_ttl_check: g.unicast_ttl_check,
            demote: g.demote,
            demote_by: g.demote_by.as_str().to_string(),
            demotion: g.demotion,
            fault: g.fault,
            track: g
                .track
                .iter()
                .map(|(tracker, healthy, weight)| TrackView {
                    tracker: tracker.clone(),
                    healthy: *healthy,
                    weight: *weight,
                })
                .collect(),
            sync: g.sync.clone(),
            fault_causes: g.fault_causes.clone(),
            demoted_by_operator: g.drained,
            master: g.master.map(|a| a.to_string()),
            adverts_sent: g.stats.adverts_sent,
            adverts_received: g.stats.adverts_received,
            advert_mismatches: g.stats.advert_mismatches,
            transitions: g.stats.transitions,
            drops: g.drops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }
}

impl TrackerView {
    /// The view of one tracker at `now`.
    pub fn new(
        name: &str,
        health: &crate::host::tracker_health::TrackerHealth,
        now: Instant,
    ) -> TrackerView {
        TrackerView {
            name: name.to_string(),
            kind: health.kind.to_string(),
            healthy: health.healthy,
            weight: health.weight,
            detail: health.detail.clone(),
            seconds_in_state: seconds_between(health.since, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_name_what_is_accepted() {
        assert_eq!(
            Request::parse(r#"{"command":"status"}"#),
            Ok(Request::Status { group: None })
        );
        assert_eq!(
            Request::parse("{\"command\":\"demote\",\"group\":\"web\"}\n"),
            Ok(Request::Demote {
                group: Some("web".into())
            })
        );
        assert_eq!(
            Request::parse(r#"{"command":"promote","all":true}"#),
            Ok(Request::Promote { group: None })
        );
        assert_eq!(
            Request::parse(r#"{"command":"reload"}"#),
            Ok(Request::Reload)
        );
        assert_eq!(Request::parse(r#"{"command":"watch"}"#), Ok(Request::Watch));
        for (bad, says) in [
            ("garbage", "accepted one JSON object"),
            (r#"{"command":"explode"}"#, "explode"),
            (r#"{"command":"status","colour":1}"#, "colour"),
            (r#"{"command":"demote"}"#, "accepted a group's name or all"),
            (r#"{"command":"demote","group":"a","all":true}"#, "not both"),
            ("[1,2]", "accepted one JSON object"),
        ] {
            let error = Request::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        let line = error_line("x \"y\"");
        assert_eq!(line, r#"{"error":"x \"y\""}"#);
    }

    /// The JSON of every reply and event, byte for byte as carpd wrote it before the types
    /// existed (captured from that code with the same values): a change here breaks users'
    /// scripts that read `carpctl --json` and `carpctl watch`.
    mod pinned {
        use super::super::*;
        use crate::host::report::{GroupStatus, ProtocolStatus, Vrrp3Status};
        use crate::settings::tracking::DemoteBy;
        use carpd_proto::{RouterStats, State};
        use std::borrow::Cow;

        fn carp() -> GroupStatus {
            GroupStatus {
                group: web(),
                state: State::Master,
                since: Instant::from_micros(5_000_000),
                vips: vec!["10.77.0.100/24".into()],
                protocol: ProtocolStatus::Carp {
                    advbase: 1,
                    advskew: 30,
                    configured_advskew: 10,
                },
                demote: 0,
                drained: false,
                fault: false,
                demotion: 20,
                demote_by: DemoteBy::Advskew,
                track: vec![("nginx".into(), false, 20)],
                sync: Some("edge".into()),
                fault_causes: vec![],
                master: Some("10.77.0.11".parse().unwrap()),
                peers: vec![],
                unicast_ttl_check: true,
                stats: RouterStats {
                    adverts_sent: 12,
                    adverts_received: 3,
                    transitions: 2,
                    advert_mismatches: 0,
                },
                drops: [("bad-digest", 4u64)].into_iter().collect(),
                vip_interface: "eth0".into(),
            }
        }

        fn vrrp3() -> GroupStatus {
            GroupStatus {
                group: GroupRef {
                    group: "db".into(),
                    interface: "eth1".into(),
                    vhid: 50,
                },
                state: State::Backup,
                since: Instant::from_micros(1_000_000),
                vips: vec!["fe80::50/64".into(), "2001:db8::50/64".into()],
                protocol: ProtocolStatus::Vrrp3(Vrrp3Status {
                    priority: 90,
                    configured_priority: 100,
                    advert_interval_cs: 5,
                    master_advert_interval: Some(std::time::Duration::from_millis(50)),
                    v3_checksum: "rfc9568",
                    peer_v3_checksum: Some("pseudo-header"),
                    accept_mode: true,
                    vrrp2_compat: None,
                }),
                demote: 0,
                drained: true,
                fault: true,
                demotion: 0,
                demote_by: DemoteBy::Demote,
                track: vec![],
                sync: None,
                fault_causes: vec!["tracker x failed".into()],
                master: None,
                peers: vec!["fe80::12".parse().unwrap()],
                unicast_ttl_check: false,
                stats: RouterStats {
                    adverts_sent: 0,
                    adverts_received: 7,
                    transitions: 1,
                    advert_mismatches: 2,
                },
                drops: Default::default(),
                vip_interface: "lo".into(),
            }
        }

        fn web() -> GroupRef {
            GroupRef {
                group: "web".into(),
                interface: "eth0".into(),
                vhid: 47,
            }
        }

        fn epoch() -> SystemTime {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
        }

        const NOW: Instant = Instant::from_micros(65_500_000);

        #[test]
        fn status_replies() {
            let view = |g: &GroupStatus| GroupView::new(g, epoch(), NOW);
            assert_eq!(reply_line(&view(&carp())), CARP);
            assert_eq!(reply_line(&view(&vrrp3())), VRRP3);
            let tracker = TrackerView {
                name: "nginx".into(),
                kind: "script".into(),
                healthy: false,
                weight: 20,
                detail: "exit status 1".into(),
                seconds_in_state: 42,
            };
            let reply = StatusReply {
                groups: vec![view(&carp())],
                trackers: vec![tracker],
                conntrack: None,
            };
            let line = reply_line(&reply);
            assert_eq!(line, STATUS);
            // carpctl reads it back as it was.
            let read: Answer<StatusReply> = serde_json::from_str(&line).unwrap();
            assert_eq!(read, Answer::Ok(reply));
            let list = format!(r#"{{"groups":[{VRRP3}],"trackers":[]}}"#);
            let read: StatusReply = serde_json::from_str(&list).unwrap();
            assert_eq!(read.groups[0], view(&vrrp3()));
        }

        #[test]
        fn status_with_conntrack() {
            let reply = StatusReply {
                groups: vec![],
                trackers: vec![],
                conntrack: Some(ConntrackView::sample()),
            };
            let line = reply_line(&reply);
            assert_eq!(
                line,
                r#"{"conntrack":{"commands":[{"command":"commit","failed":0,"flag":"-c","ok":2,"timeout":1}],"config":"/etc/conntrackd/conntrackd.conf","last_commit":{"at":"2026-12-05T08:00:00.000Z","detail":"","duration_seconds":0.004,"result":"ok","timestamp":1796457600.5},"masters":["lan","wan"],"role":"primary","socket":"/var/run/conntrackd.ctl"},"groups":[],"trackers":[]}"#
            );
            let read: Answer<StatusReply> = serde_json::from_str(&line).unwrap();
            assert_eq!(read, Answer::Ok(reply));
        }

        #[test]
        fn watch_events() {
            let state = Event::State {
                group: web(),
                from: Cow::Borrowed("BACKUP"),
                to: Cow::Borrowed("MASTER"),
                reason: Cow::Borrowed("master-down"),
            };
            let events = [
                state,
                Event::Demote { group: web() },
                Event::Promote { group: web() },
                Event::Changed {
                    group: web(),
                    restarted: true,
                },
                Event::Tracker {
                    tracker: "nginx".into(),
                    healthy: false,
                    detail: "exit status 1".into(),
                },
                Event::Demotion {
                    group: web(),
                    demotion: 20,
                    demote_by: "advskew".into(),
                    demote: 0,
                    advskew: 30,
                    priority: None,
                },
                Event::Demotion {
                    group: web(),
                    demotion: 10,
                    demote_by: "demote".into(),
                    demote: 10,
                    advskew: 0,
                    priority: Some(90),
                },
                Event::Reload(report().changes()),
                Event::Watching {},
                Event::Lagged { missed: 3 },
            ];
            for (event, pinned) in events.iter().zip(EVENTS) {
                assert_eq!(event.to_line(), pinned);
                let read: Event = serde_json::from_str(pinned).unwrap();
                assert_eq!(&read, event, "{pinned}");
            }
            assert_eq!(events.len(), EVENTS.len());
        }

        fn report() -> ReloadReport {
            ReloadReport {
                added: vec!["a".into()],
                changed: vec!["b".into()],
                restarted: vec!["c".into()],
                unchanged: 3,
                trackers_added: vec!["t".into()],
                ..ReloadReport::default()
            }
        }

        #[test]
        fn reload_demote_and_error_replies() {
            assert_eq!(serde_json::to_string(&report()).unwrap(), RELOAD);
            assert_eq!(
                reply_line(&DrainReply {
                    groups: vec!["web".into()]
                }),
                DRAIN
            );
            let error = error_line("no group named \"x\": accepted one of \"web\"");
            assert_eq!(error, ERROR);
            let read: Answer<DrainReply> = serde_json::from_str(&error).unwrap();
            assert!(matches!(read, Answer::Error(e) if e.error.starts_with("no group")));
        }

        #[test]
        fn requests_as_carpctl_sends_them_parse_back() {
            for request in [
                Request::Status { group: None },
                Request::Status {
                    group: Some("web".into()),
                },
                Request::Demote { group: None },
                Request::Promote {
                    group: Some("web".into()),
                },
                Request::Reload,
                Request::Watch,
            ] {
                assert_eq!(Request::parse(&request.to_line()), Ok(request));
            }
            assert_eq!(
                Request::Demote { group: None }.to_line(),
                r#"{"command":"demote","all":true}"#
            );
        }

        const CARP: &str = r#"{"accept_mode":null,"advbase":1,"advert_interval":null,"advert_mismatches":0,"adverts_received":3,"adverts_sent":12,"advskew":30,"configured_advskew":10,"configured_priority":null,"demote":0,"demote_by":"advskew","demoted_by_operator":false,"demotion":20,"drops":{"bad-digest":4},"fault":false,"fault_causes":[],"interface":"eth0","master":"10.77.0.11","master_advert_interval":null,"name":"web","peer_v3_checksum":null,"peers":[],"priority":null,"protocol":"carp","seconds_in_state":60,"since":"2023-11-14T22:13:25Z","state":"MASTER","sync":"edge","track":[{"healthy":false,"tracker":"nginx","weight":20}],"transitions":2,"unicast_ttl_check":true,"v3_checksum":null,"vhid":47,"vip_interface":"eth0","vips":["10.77.0.100/24"]}"#;
        const VRRP3: &str = r#"{"accept_mode":true,"advbase":null,"advert_interval":0.05,"advert_mismatches":2,"adverts_received":7,"adverts_sent":0,"advskew":null,"configured_advskew":null,"configured_priority":100,"demote":0,"demote_by":"demote","demoted_by_operator":true,"demotion":0,"drops":{},"fault":true,"fault_causes":["tracker x failed"],"interface":"eth1","master":null,"master_advert_interval":0.05,"name":"db","peer_v3_checksum":"pseudo-header","peers":["fe80::12"],"priority":90,"protocol":"vrrp3","seconds_in_state":64,"since":"2023-11-14T22:13:21Z","state":"BACKUP","sync":null,"track":[],"transitions":1,"unicast_ttl_check":false,"v3_checksum":"rfc9568","vhid":50,"vip_interface":"lo","vips":["fe80::50/64","2001:db8::50/64"]}"#;
        const STATUS: &str = r#"{"groups":[{"accept_mode":null,"advbase":1,"advert_interval":null,"advert_mismatches":0,"adverts_received":3,"adverts_sent":12,"advskew":30,"configured_advskew":10,"configured_priority":null,"demote":0,"demote_by":"advskew","demoted_by_operator":false,"demotion":20,"drops":{"bad-digest":4},"fault":false,"fault_causes":[],"interface":"eth0","master":"10.77.0.11","master_advert_interval":null,"name":"web","peer_v3_checksum":null,"peers":[],"priority":null,"protocol":"carp","seconds_in_state":60,"since":"2023-11-14T22:13:25Z","state":"MASTER","sync":"edge","track":[{"healthy":false,"tracker":"nginx","weight":20}],"transitions":2,"unicast_ttl_check":true,"v3_checksum":null,"vhid":47,"vip_interface":"eth0","vips":["10.77.0.100/24"]}],"trackers":[{"detail":"exit status 1","healthy":false,"kind":"script","name":"nginx","seconds_in_state":42,"weight":20}]}"#;
        const EVENTS: [&str; 10] = [
            r#"{"event":"state","group":"web","interface":"eth0","vhid":47,"from":"BACKUP","to":"MASTER","reason":"master-down"}"#,
            r#"{"event":"demote","group":"web","interface":"eth0","vhid":47}"#,
            r#"{"event":"promote","group":"web","interface":"eth0","vhid":47}"#,
            r#"{"event":"changed","group":"web","interface":"eth0","vhid":47,"restarted":true}"#,
            r#"{"event":"tracker","tracker":"nginx","healthy":false,"detail":"exit status 1"}"#,
            r#"{"event":"demotion","group":"web","interface":"eth0","vhid":47,"demotion":20,"demote_by":"advskew","demote":0,"advskew":30}"#,
            r#"{"event":"demotion","group":"web","interface":"eth0","vhid":47,"demotion":10,"demote_by":"demote","demote":10,"advskew":0,"priority":90}"#,
            r#"{"added":["a"],"changed":["b"],"event":"reload","removed":[],"restarted":["c"],"trackers_added":["t"],"trackers_changed":[],"trackers_removed":[]}"#,
            r#"{"event":"watching"}"#,
            r#"{"event":"lagged","missed":3}"#,
        ];
        const RELOAD: &str = r#"{"added":["a"],"removed":[],"changed":["b"],"restarted":["c"],"unchanged":3,"trackers_added":["t"],"trackers_removed":[],"trackers_changed":[]}"#;
        const DRAIN: &str = r#"{"groups":["web"]}"#;
        const ERROR: &str = r#"{"error":"no group named \"x\": accepted one of \"web\""}"#;
    }
}
