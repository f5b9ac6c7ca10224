//! One `vrrp_instance` as a carpd `[[group]]`: read item by item, then written with
//! keepalived's semantics kept and a comment wherever keepalived's words would mislead.

use super::conf::{ReadError, Statement};
use super::keepalived::{bad, sanitize, seconds, value, weight, Importer};
use super::render::Table;
use crate::settings::routes::RouteSpec;
use std::net::IpAddr;

/// A track_* item of the instance or its sync group, as read.
#[derive(Debug, Clone)]
struct Track {
    kind: &'static str,
    name: String,
    weight: Option<i32>,
    reverse: bool,
    item: Statement,
}

/// What a `vrrp_instance` says, before it is written.
#[derive(Debug, Default)]
pub(super) struct Instance {
    name: String,
    statement: Option<Statement>,
    state: Option<String>,
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    advert_int: Option<f64>,
    version: Option<u8>,
    password: Option<String>,
    vips: Vec<(String, Option<String>, Statement)>,
    routes: Vec<String>,
    nopreempt: bool,
    preempt_delay: Option<f64>,
    garp_refresh: Option<f64>,
    srcip: Option<String>,
    peers: Vec<String>,
    tracks: Vec<Track>,
    notify: Vec<Statement>,
    ignore_ifstate: bool,
    accept: Option<bool>,
    /// `use_vmac [NAME]`: the statement, and the macvlan's name when given
    vmac: Option<(Statement, Option<String>)>,
    notes: Vec<String>,
}

impl Instance {
    /// Reads `s` (a `vrrp_instance`), noting what is left out.
    pub(super) fn read(importer: &mut Importer, s: &Statement) -> Result<Instance, ReadError> {
        let name = s
            .arg()
            .ok_or_else(|| bad(s, "accepted vrrp_instance NAME { ... }"))?;
        let mut i = Instance {
            name: name.to_string(),
            statement: Some(s.clone()),
            ..Instance::default()
        };
        for item in s.items() {
            i.item(importer, item)?;
        }
        Ok(i)
    }

    /// One item of the instance.
    fn item(&mut self, importer: &mut Importer, item: &Statement) -> Result<(), ReadError> {
        match item.keyword.as_str() {
            "state" => match item.arg() {
                Some(s @ ("MASTER" | "BACKUP")) => self.state = Some(s.to_string()),
                _ => return Err(bad(item, "accepted MASTER or BACKUP")),
            },
            "interface" => {
                let name = item.arg().unwrap_or_default();
                crate::settings::rules::interface(name).map_err(|e| bad(item, &e))?;
                self.interface = Some(name.to_string());
            }
            "virtual_router_id" => {
                let v: u8 = value(item, "accepted 1 to 255")?;
                if v == 0 {
                    return Err(bad(item, "accepted 1 to 255"));
                }
                self.vrid = Some(v);
            }
            "priority" => {
                let v: u8 = value(item, "accepted 1 to 255")?;
                if v == 0 {
                    return Err(bad(item, "accepted 1 to 255"));
                }
                self.priority = Some(v);
            }
            "advert_int" => self.advert_int = Some(seconds(item)?),
            "version" => {
                self.version = Some(match item.arg() {
                    Some("2") => 2,
                    Some("3") => 3,
                    _ => return Err(bad(item, "accepted 2 or 3")),
                })
            }
            "authentication" => self.authentication(importer, item)?,
            "virtual_ipaddress" => self.vips(importer, item)?,
            "virtual_routes" => {
                for r in item.items() {
                    let text = std::iter::once(r.keyword.as_str())
                        .chain(r.args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let kind = matches!(
                        r.keyword.as_str(),
                        "blackhole" | "unreachable" | "prohibit" | "throw"
                    );
                    match RouteSpec::parse(&text) {
                        _ if kind => importer.leave_as(
                            r,
                            "virtual_routes",
                            format!("{text}: carpd adds unicast routes only"),
                        ),
                        Ok(route) => self.routes.push(route.to_string()),
                        Err(e) => importer.leave_as(r, "virtual_routes", e),
                    }
                }
            }
            "nopreempt" => self.nopreempt = true,
            "preempt" => {}
            "preempt_delay" => self.preempt_delay = Some(seconds(item)?),
            "garp_master_refresh" => {
                let v = seconds(item)?;
                self.garp_refresh = Some(v.max(1.0));
                if v < 1.0 {
                    self.notes.push(format!(
                        "garp_master_refresh {v}: carpd re-announces at most once a second"
                    ));
                }
            }
            "garp_master_delay" | "garp_master_repeat" | "garp_master_refresh_repeat"
            | "garp_lower_prio_delay" | "garp_lower_prio_repeat" => self.notes.push(format!(
                "{}: carpd announces the VIPs when it takes over and again two adverts later",
                item.keyword
            )),
            "unicast_src_ip" | "mcast_src_ip" => {
                let a = item.arg().unwrap_or_default();
                a.parse::<IpAddr>()
                    .map_err(|_| bad(item, "accepted an IPv4 or IPv6 address"))?;
                self.srcip = Some(a.to_string());
            }
            "unicast_peer" => {
                for p in item.items() {
                    p.keyword
                        .parse::<IpAddr>()
                        .map_err(|_| bad(p, "accepted a peer's address"))?;
                    self.peers.push(p.keyword.clone());
                    if !p.args.is_empty() {
                        importer.leave(p, "a peer's TTL range: carpd checks TTL 255 (unicast_ttl_check = false relaxes it)");
                    }
                }
            }
            "track_script" | "track_interface" | "track_file" | "track_process" => {
                self.tracks.extend(tracks(item)?)
            }
            "notify" | "notify_master" | "notify_backup" | "notify_fault" => {
                self.notify.push(item.clone())
            }
            "notify_stop" | "notify_deleted" | "notify_master_rx_lower_pri" => {
                importer.leave(item, "carpd calls its notify_script on state changes only")
            }
            "smtp_alert" => importer.leave(item, "carpd sends no mail: a notify_script can"),
            "use_vmac" => self.vmac = Some((item.clone(), item.args.first().cloned())),
            "vmac_xmit_base" => importer.leave(
                item,
                "carpd sends every advert from the virtual MAC (vmac = true), as RFC 5798 says",
            ),
            "dont_track_primary" => self.ignore_ifstate = true,
            "accept" => self.accept = Some(true),
            "no_accept" => self.accept = Some(false),
            "debug" | "native_ipv6" | "skip_check_adv_addr" | "kernel_rx_buf_size" => {}
            "strict_mode" => importer.leave(item, "carpd has no strict mode"),
            "virtual_ipaddress_excluded" => importer.leave(
                item,
                "addresses held but not advertised: put them in vips (advertised) or in another group",
            ),
            "virtual_rules" => importer.leave(item, "carpd adds no policy routing rules"),
            _ => importer.leave(item, "unknown to carpctl import"),
        }
        Ok(())
    }

    /// `authentication { auth_type PASS|AH auth_pass X }`.
    fn authentication(
        &mut self,
        importer: &mut Importer,
        item: &Statement,
    ) -> Result<(), ReadError> {
        let mut kind = None;
        for a in item.items() {
            match a.keyword.as_str() {
                "auth_type" => kind = a.arg().map(str::to_string),
                "auth_pass" => self.password = a.arg().map(str::to_string),
                _ => importer.leave(a, "unknown to carpctl import"),
            }
        }
        match kind.as_deref() {
            Some("PASS") | None => Ok(()),
            Some("AH") => {
                importer.leave(item, "auth_type AH (IPsec Authentication Header): carpd speaks none or simple text; give both sides auth_type PASS or no authentication");
                self.password = None;
                Ok(())
            }
            Some(_) => Err(bad(item, "accepted auth_type PASS or AH")),
        }
    }

    /// `virtual_ipaddress { ADDR[/PREFIX] [dev IF] [label L] ... }`.
    fn vips(&mut self, importer: &mut Importer, item: &Statement) -> Result<(), ReadError> {
        for v in item.items() {
            crate::settings::rules::vip_any(&v.keyword)
                .map_err(|e| bad(v, &format!("a virtual address: {e}")))?;
            let mut dev = None;
            let mut words = v.args.iter();
            while let Some(w) = words.next() {
                match w.as_str() {
                    "dev" => dev = words.next().cloned(),
                    "label" => {
                        let label = words.next().cloned().unwrap_or_default();
                        importer.leave_as(
                            v,
                            "virtual_ipaddress",
                            format!(
                                "{} label {label}: carpd adds the address without a label",
                                v.keyword
                            ),
                        );
                    }
                    "brd" | "broadcast" | "scope" => {
                        words.next();
                    }
                    "no_track" => {}
                    other => importer.leave_as(
                        v,
                        "virtual_ipaddress",
                        format!("{} {other}: unknown to carpctl import", v.keyword),
                    ),
                }
            }
            self.vips.push((v.keyword.clone(), dev, v.clone()));
        }
        Ok(())
    }

    /// The `[[group]]` table (trackers made on the way).
    pub(super) fn table(mut self, importer: &mut Importer) -> Result<Table, ReadError> {
        let s = self.statement.take().expect("read from a statement");
        let interface = self
            .interface
            .clone()
            .ok_or_else(|| bad(&s, "a vrrp_instance needs interface"))?;
        let vrid = self
            .vrid
            .ok_or_else(|| bad(&s, "a vrrp_instance needs virtual_router_id"))?;
        if self.vips.is_empty() {
            return Err(bad(&s, "a vrrp_instance needs virtual_ipaddress"));
        }
        let ipv6 = self.vips[0].0.contains(':');
        let version = match (ipv6, self.version) {
            (true, _) => 3,
            (false, Some(v)) => v,
            (false, None) => importer.version,
        };
        let sync = importer
            .sync
            .iter()
            .find(|g| g.members.contains(&self.name))
            .cloned();
        let mut t = Table::default();
        t.notes.push(format!("vrrp_instance {}", self.name));
        t.notes.extend(self.notes.iter().cloned());
        t.string("name", &sanitize(&self.name));
        let protocol = if version == 2 { "vrrp2" } else { "vrrp3" };
        t.string("protocol", protocol);
        t.string("interface", &interface);
        t.raw("vhid", vrid.to_string());
        self.write_vips(importer, &mut t, &interface);
        // Tracking: the instance's and its sync group's; weights become priorities.
        let mut raise = 0i32;
        let mut track = Vec::new();
        let mut all = self.tracks.clone();
        if let Some(g) = &sync {
            for item in &g.tracks {
                all.extend(tracks(item)?);
            }
        }
        for tr in all {
            if let Some((name, up)) = self.track(importer, &tr, sync.as_ref(), &mut t)? {
                raise += up;
                if !track.contains(&name) {
                    track.push(name);
                }
            }
        }
        let base = self.priority.unwrap_or(100);
        let priority = if base == 255 {
            255
        } else {
            (i32::from(base) + raise).clamp(1, 254) as u8
        };
        let k = t.raw("priority", priority.to_string());
        if raise > 0 {
            k.note(format!(
                "keepalived priority {base} plus {raise} from positive weights while healthy"
            ));
        }
        self.write_interval(&mut t, version);
        match (&self.password, version) {
            (Some(p), 2) => {
                let kept: String = p.chars().take(8).collect();
                let k = t.string("password", &kept);
                if kept.len() < p.len() {
                    k.note("keepalived uses the first 8 characters of auth_pass");
                }
            }
            (Some(_), _) => t
                .notes
                .push("authentication: VRRPv3 has none; keepalived ignores it too".to_string()),
            (None, _) => {}
        }
        self.write_preemption(&mut t);
        if let Some(r) = self.garp_refresh {
            t.seconds("garp_refresh", r);
        }
        if let Some(src) = &self.srcip {
            t.string("srcip", src);
        }
        if !self.peers.is_empty() {
            t.strings("peers", &self.peers);
        }
        if !self.routes.is_empty() {
            t.strings("routes", &self.routes);
        }
        if !track.is_empty() {
            t.strings("track", &track);
        }
        if let Some(g) = &sync {
            t.string("sync", &sanitize(&g.name));
        }
        self.write_notify(&mut t, sync.as_ref(), priority);
        if self.ignore_ifstate {
            t.raw("ignore_ifstate", "true".into())
                .note("keepalived dont_track_primary");
        }
        self.write_vmac(importer, &mut t);
        match (self.accept, version) {
            (Some(a), 3) => {
                t.raw("accept_mode", a.to_string());
            }
            (Some(_), _) => importer.leave(
                &s,
                "accept/no_accept on a VRRPv2 instance: carpd's accept_mode is VRRPv3's",
            ),
            (None, _) => {}
        }
        Ok(t)
    }

    /// `vmac` (and `vmac_interface` when `use_vmac` names the macvlan); left out where carpd
    /// refuses it: beside unicast peers or VIPs on another interface.
    fn write_vmac(&self, importer: &mut Importer, t: &mut Table) {
        let Some((at, name)) = &self.vmac else {
            return;
        };
        if !self.peers.is_empty() {
            return importer.leave(at, "carpd sends unicast adverts from the interface's own MAC: vmac needs multicast adverts");
        }
        if self.vips.iter().any(|(_, dev, _)| dev.is_some()) {
            return importer.leave(
                at,
                "the VIPs name a dev: with vmac carpd puts them on the virtual MAC's macvlan",
            );
        }
        t.raw("vmac", "true".into()).note("keepalived use_vmac");
        if let Some(name) = name {
            t.string("vmac_interface", name);
        }
    }

    /// `vips` (keepalived's default prefix is /32, /128 for IPv6) and `vip_interface` when
    /// every VIP names another `dev` than the instance's interface.
    fn write_vips(&self, importer: &mut Importer, t: &mut Table, interface: &str) {
        let first_dev = self.vips[0].1.clone().unwrap_or(interface.to_string());
        let mut vips = Vec::new();
        for (vip, dev, at) in &self.vips {
            let dev = dev.clone().unwrap_or(interface.to_string());
            if dev != first_dev {
                importer.leave_as(at, "virtual_ipaddress", format!("{vip} dev {dev}: carpd puts a group's VIPs on one interface ({first_dev}); make another group for it"));
                continue;
            }
            let full = match (vip.contains('/'), vip.contains(':')) {
                (true, _) => vip.clone(),
                (false, false) => format!("{vip}/32"),
                (false, true) => format!("{vip}/128"),
            };
            vips.push(full);
        }
        t.strings("vips", &vips);
        if first_dev != interface {
            t.string("vip_interface", &first_dev);
        }
    }

    /// `advert_interval`: whole seconds for VRRPv2 (keepalived sends a fraction rounded up).
    fn write_interval(&self, t: &mut Table, version: u8) {
        let given = self.advert_int.unwrap_or(1.0);
        if version == 2 {
            let whole = given.ceil().clamp(1.0, 255.0);
            let k = t.seconds("advert_interval", whole);
            if whole != given {
                k.note(format!(
                    "keepalived advert_int {given}: VRRPv2 carries whole seconds"
                ));
            }
        } else {
            let cs = (given * 100.0).round().clamp(1.0, 4095.0) / 100.0;
            t.seconds("advert_interval", cs);
        }
    }

    /// `preempt` and `preempt_delay`: keepalived preempts unless `nopreempt`, which (like
    /// `preempt_delay`) only holds with `state BACKUP`; `state MASTER` is noted.
    fn write_preemption(&self, t: &mut Table) {
        let master = self.state.as_deref() == Some("MASTER");
        if master {
            t.notes.push("state MASTER: keepalived 2.2.7 starts in BACKUP and waits like the others (unless priority 255); carpd does the same".into());
        }
        let preempt = !self.nopreempt || master;
        let k = t.raw("preempt", preempt.to_string());
        if self.nopreempt && master {
            k.note("nopreempt needs state BACKUP: keepalived preempts with state MASTER");
        } else if !self.nopreempt {
            k.note("keepalived preempts unless nopreempt");
        }
        match (self.preempt_delay, master) {
            (Some(d), false) => {
                t.seconds("preempt_delay", d);
            }
            (Some(d), true) => t.notes.push(format!(
                "preempt_delay {d} needs state BACKUP: keepalived ignores it with state MASTER"
            )),
            (None, _) => {}
        }
    }

    /// `notify_script`: keepalived's notify_master/backup/fault and notify (called with
    /// INSTANCE|GROUP, the name, the state and the priority) run by a shell on each state
    /// change; a sync group's own scripts go to its first member.
    fn write_notify(
        &self,
        t: &mut Table,
        sync: Option<&super::keepalived::SyncGroup>,
        priority: u8,
    ) {
        let mut parts = Vec::new();
        let mut add = |items: &[Statement], kind: &str, name: &str| {
            for n in items {
                let cmd = n.args.join(" ");
                match n.keyword.as_str() {
                    "notify" => parts.push(format!(
                        "{cmd} {kind} {} \"$CARPD_STATE\" {priority}",
                        quote_sh(name)
                    )),
                    state => {
                        let state = state.trim_start_matches("notify_").to_uppercase();
                        parts.push(format!("if [ \"$CARPD_STATE\" = {state} ]; then {cmd}; fi"))
                    }
                }
            }
        };
        add(&self.notify, "INSTANCE", &self.name);
        let first = sync.filter(|g| g.members.first() == Some(&self.name) && !g.notify.is_empty());
        if let Some(g) = first {
            add(&g.notify, "GROUP", &g.name);
        }
        if parts.is_empty() {
            return;
        }
        if let Some(g) = first {
            t.notes.push(format!(
                "vrrp_sync_group {}'s notify scripts: keepalived calls them once for the sync group; here {}'s changes call them (the members change together)",
                g.name, self.name
            ));
        }
        let script = parts.join("; ");
        t.strings("notify_script", &["/bin/sh".into(), "-c".into(), script])
            .note("keepalived's notify scripts, by state (CARPD_STATE: MASTER, BACKUP or FAULT)");
    }

    /// One tracked item: its carpd tracker name and how much it raises the priority, or
    /// `None` when keepalived would ignore it (a comment says so) or carpd cannot carry it.
    fn track(
        &self,
        importer: &mut Importer,
        tr: &Track,
        sync: Option<&super::keepalived::SyncGroup>,
        t: &mut Table,
    ) -> Result<Option<(String, i32)>, ReadError> {
        let defined = match tr.kind {
            "script" => importer.scripts.get(&tr.name).map(|s| s.weight),
            "file" => importer.files.get(&tr.name).map(|f| f.weight),
            "process" => importer.processes.get(&tr.name).map(|p| p.weight),
            _ => Some(0),
        };
        let Some(default_weight) = defined else {
            importer.leave(
                &tr.item,
                format!(
                    "track_{} {}: no vrrp_{} of that name",
                    tr.kind,
                    tr.name,
                    if tr.kind == "script" {
                        "script".to_string()
                    } else {
                        format!("track_{}", tr.kind)
                    }
                ),
            );
            return Ok(None);
        };
        if tr.reverse {
            importer.leave(
                &tr.item,
                "a reversed weight: carpd's trackers count a failure only",
            );
            return Ok(None);
        }
        let w = tr.weight.unwrap_or(default_weight);
        if let Some(g) = sync {
            if w != 0 && !g.tracking_weight {
                t.notes.push(format!(
                    "track_{} {} (weight {w}) left out as keepalived does: weighted trackers of a sync group member are ignored without sync_group_tracking_weight",
                    tr.kind, tr.name
                ));
                return Ok(None);
            }
        }
        let carpd_weight = w.unsigned_abs().min(255) as u8;
        let name = importer.tracker(tr.kind, &tr.name, carpd_weight);
        Ok(Some((name, w.max(0))))
    }
}

/// The items of a `track_*` block (or its one-line form), with their weights.
fn tracks(item: &Statement) -> Result<Vec<Track>, ReadError> {
    let kind = match item.keyword.as_str() {
        "track_script" => "script",
        "track_interface" => "interface",
        "track_file" => "file",
        _ => "process",
    };
    let mut entries: Vec<(String, Vec<String>, &Statement)> = item
        .items()
        .iter()
        .map(|e| (e.keyword.clone(), e.args.clone(), e))
        .collect();
    if item.block.is_none() {
        if let Some(first) = item.args.first() {
            entries.push((first.clone(), item.args[1..].to_vec(), item));
        }
    }
    entries
        .into_iter()
        .map(|(name, args, at)| {
            let weight = match args.first().map(String::as_str) {
                Some("weight") => Some(weight(at, args.get(1).map(String::as_str))?),
                Some(_) => return Err(bad(at, "accepted NAME [weight W [reverse]]")),
                None => None,
            };
            Ok(Track {
                kind,
                name,
                weight,
                reverse: args.get(2).map(String::as_str) == Some("reverse"),
                item: at.clone(),
            })
        })
        .collect()
}

/// A word for the shell, single-quoted.
fn quote_sh(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}
