//! keepalived.conf's VRRP side as a carpd config: `global_defs`, `vrrp_script`,
//! `vrrp_track_file`, `vrrp_track_process`, `vrrp_sync_group` and `vrrp_instance`, with
//! keepalived 2.2.7's semantics kept (keepalived.conf(5)): weights as priorities, weighted
//! trackers ignored inside a sync group, `state MASTER` not master at start, `nopreempt`
//! only with `state BACKUP`. What carpd cannot do is listed, never dropped silently.

use super::conf::{Place, ReadError, Statement};
use super::render::Table;
use std::collections::BTreeMap;

/// Something of the file that the output does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// where it was
    pub place: Place,
    /// the directive
    pub directive: String,
    /// why it is not carried over
    pub why: String,
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: not carried over ({})",
            self.place, self.directive, self.why
        )
    }
}

/// A `vrrp_script`.
#[derive(Debug, Clone)]
pub(super) struct Script {
    pub(super) argv: Vec<String>,
    pub(super) shell: bool,
    pub(super) interval: f64,
    pub(super) timeout: Option<f64>,
    pub(super) rise: u32,
    pub(super) fall: u32,
    pub(super) weight: i32,
}

/// A `vrrp_track_file` or `vrrp_track_process`: what it watches and its default weight.
#[derive(Debug, Clone)]
pub(super) struct Watched {
    pub(super) what: String,
    pub(super) weight: i32,
}

/// A `vrrp_sync_group`.
#[derive(Debug, Clone, Default)]
pub(super) struct SyncGroup {
    pub(super) name: String,
    pub(super) members: Vec<String>,
    pub(super) tracking_weight: bool,
    pub(super) tracks: Vec<Statement>,
    pub(super) notify: Vec<Statement>,
}

/// The whole import's state: definitions first, then the instances.
#[derive(Debug, Default)]
pub(super) struct Importer {
    pub(super) left_out: Vec<LeftOut>,
    pub(super) version: u8,
    pub(super) scripts: BTreeMap<String, Script>,
    pub(super) files: BTreeMap<String, Watched>,
    pub(super) processes: BTreeMap<String, Watched>,
    pub(super) sync: Vec<SyncGroup>,
    /// carpd trackers made, by (kind, keepalived name, carpd weight)
    pub(super) made: BTreeMap<(&'static str, String, u8), String>,
    pub(super) trackers: Vec<Table>,
}

/// An error at statement `s`: its words and what is accepted.
pub(super) fn bad(s: &Statement, accepted: &str) -> ReadError {
    let words = std::iter::once(s.keyword.as_str())
        .chain(s.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    ReadError {
        place: s.place.clone(),
        message: format!("{words}: {accepted}"),
    }
}

/// The statement's one value parsed, or an error naming it and what is accepted.
pub(super) fn value<T: std::str::FromStr>(s: &Statement, accepted: &str) -> Result<T, ReadError> {
    s.arg()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| bad(s, accepted))
}

/// A number of seconds above 0.
pub(super) fn seconds(s: &Statement) -> Result<f64, ReadError> {
    let v: f64 = value(s, "accepted a number of seconds above 0")?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(s, "accepted a number of seconds above 0"))
    }
}

/// A tracker weight: -253 to 253.
pub(super) fn weight(s: &Statement, text: Option<&str>) -> Result<i32, ReadError> {
    const ACCEPTED: &str = "accepted a weight of -253 to 253";
    text.and_then(|w| w.parse::<i32>().ok())
        .filter(|w| (-253..=253).contains(w))
        .ok_or_else(|| bad(s, ACCEPTED))
}

impl Importer {
    /// Notes that `s` is not carried over, and why.
    pub(super) fn leave(&mut self, s: &Statement, why: impl Into<String>) {
        self.leave_as(s, &s.keyword.clone(), why);
    }

    /// Notes that `s`, an item of the block `directive`, is not carried over, and why.
    pub(super) fn leave_as(&mut self, s: &Statement, directive: &str, why: impl Into<String>) {
        self.left_out.push(LeftOut {
            place: s.place.clone(),
            directive: directive.to_string(),
            why: why.into(),
        });
    }

    /// A top-level statement other than `vrrp_instance` (read later, in order).
    pub(super) fn definition(&mut self, s: &Statement) -> Result<(), ReadError> {
        match s.keyword.as_str() {
            "global_defs" => {
                for item in s.items() {
                    self.global(item)?;
                }
            }
            "vrrp_script" => self.script(s)?,
            "vrrp_track_file" => self.watched(s, "file")?,
            "vrrp_track_process" => self.watched(s, "process")?,
            "vrrp_sync_group" => self.sync_group(s)?,
            "vrrp_instance" => {}
            "virtual_server" | "virtual_server_group" => {
                self.leave(s, "an LVS load balancer: carpd does not balance load; keep keepalived's checker (keepalived -C) or use HAProxy")
            }
            "static_ipaddress" | "static_routes" | "static_rules" => {
                self.leave(s, "static addresses and routes belong to the host's network configuration (ifupdown, systemd-networkd)")
            }
            "vrrp_group" => self.leave(s, "an old name of vrrp_sync_group that carpctl import does not read: rename it"),
            _ => self.leave(s, "unknown to carpctl import"),
        }
        Ok(())
    }

    /// One `global_defs` item: the VRRP version; the rest is mail, LVS, SNMP or tuning.
    fn global(&mut self, s: &Statement) -> Result<(), ReadError> {
        match s.keyword.as_str() {
            "vrrp_version" => {
                self.version = match s.arg() {
                    Some("2") => 2,
                    Some("3") => 3,
                    _ => return Err(bad(s, "accepted 2 or 3")),
                }
            }
            // carpd needs none of these: no router id, scripts run as root from an
            // absolute path, its own announcement rule and receive checks.
            "router_id" | "enable_script_security" | "script_user" | "max_auto_priority"
            | "vrrp_garp_master_delay" | "vrrp_garp_master_repeat" | "vrrp_garp_interval"
            | "vrrp_gna_interval" | "vrrp_skip_check_adv_addr" | "vrrp_priority"
            | "checker_priority" | "vrrp_no_swap" | "checker_no_swap" | "vrrp_rt_priority"
            | "dynamic_interfaces" | "vrrp_check_unicast_src" => {}
            "notification_email" | "notification_email_from" | "smtp_server"
            | "smtp_connect_timeout" | "smtp_helo_name" => {
                self.leave(s, "carpd sends no mail: a notify_script can")
            }
            "enable_snmp_vrrp" | "enable_snmp_keepalived" | "enable_snmp_checker"
            | "enable_snmp_rfc" | "enable_snmp_rfcv2" | "enable_snmp_rfcv3" | "snmp_socket" => {
                self.leave(s, "carpd has no SNMP agent: [daemon] metrics_listen serves Prometheus metrics")
            }
            "vrrp_strict" => self.leave(s, "carpd has no strict mode: it speaks the RFCs and uses adverts whose addresses differ (counted and logged)"),
            "vrrp_iptables" | "vrrp_ipsets" | "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                self.leave(s, "carpd sets no firewall rules and uses 224.0.0.18 and ff02::12")
            }
            keyword if keyword.starts_with("lvs_") => {
                self.leave(s, "an LVS setting: carpd does not balance load")
            }
            _ => self.leave(s, "a global_defs setting carpctl import does not carry"),
        }
        Ok(())
    }

    /// A `vrrp_script` block.
    fn script(&mut self, s: &Statement) -> Result<(), ReadError> {
        let name = s
            .arg()
            .ok_or_else(|| bad(s, "accepted vrrp_script NAME { ... }"))?;
        let mut script = Script {
            argv: Vec::new(),
            shell: false,
            interval: 1.0,
            timeout: None,
            rise: 1,
            fall: 1,
            weight: 0,
        };
        for item in s.items() {
            match item.keyword.as_str() {
                "script" => {
                    let line = item.args.join(" ");
                    let words: Vec<String> = line.split_whitespace().map(String::from).collect();
                    let plain = !line.contains(['$', '|', '&', ';', '<', '>', '`', '\'', '"', '*']);
                    match words.first() {
                        None => return Err(bad(item, "accepted script \"/path/to/check args\"")),
                        Some(first) if first.starts_with('/') && plain => script.argv = words,
                        Some(_) => {
                            script.argv = vec!["/bin/sh".into(), "-c".into(), line];
                            script.shell = true;
                        }
                    }
                }
                "interval" => script.interval = seconds(item)?,
                "timeout" => script.timeout = Some(seconds(item)?),
                "weight" => {
                    script.weight = weight(item, item.arg())?;
                    if item.args.get(1).map(String::as_str) == Some("reverse") {
                        self.leave(
                            item,
                            "a reversed weight: carpd's trackers count a failure only",
                        );
                    }
                }
                "rise" => script.rise = value(item, "accepted a count of 1 or more")?,
                "fall" => script.fall = value(item, "accepted a count of 1 or more")?,
                "user" => self.leave(
                    item,
                    "carpd runs checks as root; run it with setpriv or sudo -u inside the script",
                ),
                "init_fail" => self.leave(
                    item,
                    "a carpd tracker counts as failed until its first check anyway",
                ),
                _ => self.leave(item, "unknown to carpctl import"),
            }
        }
        if script.argv.is_empty() {
            return Err(bad(s, "a vrrp_script needs script \"/path/to/check\""));
        }
        self.scripts.insert(name.to_string(), script);
        Ok(())
    }

    /// A `vrrp_track_file` (`file PATH`) or `vrrp_track_process` (`process NAME`) block.
    fn watched(&mut self, s: &Statement, kind: &'static str) -> Result<(), ReadError> {
        let name = s
            .arg()
            .ok_or_else(|| bad(s, "accepted a name before the block"))?;
        let mut watched = Watched {
            what: String::new(),
            weight: if kind == "file" { 1 } else { 0 },
        };
        for item in s.items() {
            match (kind, item.keyword.as_str()) {
                ("file", "file") | ("process", "process") => {
                    watched.what = item.arg().unwrap_or_default().to_string();
                    if item.args.len() > 1 {
                        self.leave(item, "a process with parameters: carpd matches the process name only");
                    }
                }
                (_, "weight") => {
                    watched.weight = weight(item, item.arg())?;
                    if item.args.get(1).map(String::as_str) == Some("reverse") {
                        self.leave(item, "a reversed weight: carpd's trackers count a failure only");
                    }
                }
                ("process", "quorum") if item.arg() == Some("1") => {}
                ("process", "quorum" | "quorum_max" | "delay" | "terminate_delay" | "fork_delay" | "param_match" | "full_command") => {
                    self.leave(item, "carpd's process tracker is healthy while one process of the name runs, at once")
                }
                ("file", "init_file") => self.leave(item, "carpd reads the file as it is"),
                _ => self.leave(item, "unknown to carpctl import"),
            }
        }
        if watched.what.is_empty() {
            return Err(bad(s, &format!("a vrrp_track_{kind} needs {kind} ...")));
        }
        let map = if kind == "file" {
            &mut self.files
        } else {
            &mut self.processes
        };
        map.insert(name.to_string(), watched);
        Ok(())
    }

    /// A `vrrp_sync_group` block: its members, trackers and notify scripts.
    fn sync_group(&mut self, s: &Statement) -> Result<(), ReadError> {
        let name = s
            .arg()
            .ok_or_else(|| bad(s, "accepted vrrp_sync_group NAME { group { ... } }"))?;
        let mut sync = SyncGroup {
            name: name.to_string(),
            ..SyncGroup::default()
        };
        for item in s.items() {
            match item.keyword.as_str() {
                "group" => sync.members = item.items().iter().map(|m| m.keyword.clone()).collect(),
                "sync_group_tracking_weight" => sync.tracking_weight = true,
                "track_script" | "track_interface" | "track_file" | "track_process" => {
                    sync.tracks.push(item.clone())
                }
                "notify" | "notify_master" | "notify_backup" | "notify_fault" => {
                    sync.notify.push(item.clone())
                }
                "notify_stop" => self.leave(item, "carpd calls no script when it stops"),
                "smtp_alert" => self.leave(item, "carpd sends no mail: a notify_script can"),
                "global_tracking" => {}
                _ => self.leave(item, "unknown to carpctl import"),
            }
        }
        self.sync.push(sync);
        Ok(())
    }

    /// The carpd tracker for keepalived's `kind` tracker `name` at `carpd_weight`, made on
    /// first use (a second weight makes a second tracker: carpd's weight is the tracker's).
    pub(super) fn tracker(&mut self, kind: &'static str, name: &str, carpd_weight: u8) -> String {
        let key = (kind, name.to_string(), carpd_weight);
        if let Some(made) = self.made.get(&key) {
            return made.clone();
        }
        let base = sanitize(name);
        let taken = |n: &str| self.made.values().any(|m| m == n);
        let carpd_name = if taken(&base) {
            format!("{base}-{carpd_weight}")
        } else {
            base
        };
        let mut t = Table::default();
        t.string("name", &carpd_name);
        match kind {
            "script" => {
                let script = self
                    .scripts
                    .get(name)
                    .cloned()
                    .expect("checked by the caller");
                t.notes.push(format!("vrrp_script {name}"));
                let k = t.strings("script", &script.argv);
                if script.shell {
                    k.note("run by a shell: keepalived split the words and searched PATH");
                }
                t.seconds("interval", script.interval.max(0.1));
                t.seconds(
                    "timeout",
                    script.timeout.unwrap_or(script.interval).max(0.1),
                );
                t.raw("rise", script.rise.max(1).to_string());
                t.raw("fall", script.fall.max(1).to_string());
            }
            "interface" => {
                t.notes.push(format!("track_interface {name}"));
                t.string("interface", name);
            }
            "file" => {
                let file = self
                    .files
                    .get(name)
                    .cloned()
                    .expect("checked by the caller");
                t.notes.push(format!("vrrp_track_file {name}"));
                t.string("file", &file.what)
                    .note("keepalived multiplies the number in it by the weight; carpd demotes by the weight for any number but 0");
            }
            _ => {
                let process = self
                    .processes
                    .get(name)
                    .cloned()
                    .expect("checked by the caller");
                t.notes.push(format!("vrrp_track_process {name}"));
                t.string("process", &process.what);
            }
        }
        t.raw("weight", carpd_weight.to_string()).note(if carpd_weight == 0 {
            "0: a group tracking it is in FAULT while it fails, as keepalived's weight 0"
        } else {
            "lowers the priority of a group tracking it while it fails (a positive keepalived weight is in the group's priority)"
        });
        self.made.insert(key, carpd_name.clone());
        self.trackers.push(t);
        carpd_name
    }
}

/// A keepalived name as a carpd name: characters carpd does not take become `_`.
pub(super) fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.:@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}
