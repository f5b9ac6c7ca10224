//! The config file: TOML with a `[daemon]` table and one `[[group]]` table per group. Unknown
//! keys are errors; every error names the file, line and column, the key, the value and what
//! is accepted. A relative `passfile` is read from the config file's folder. `[[tracker]]`
//! tables are checked in [`trackers`].

mod conntrack;
mod protocol;
mod routed;
mod trackers;
mod vmac;

use super::conflicts::conflicts;
use super::rules::{self, Vip};
use super::tracking::DemoteBy;
use super::{DaemonSettings, GroupSettings, Origin, Settings, DEFAULT_CONTROL_SOCKET};
use carpd_proto::{CarpParams, Protocol};
use protocol::Chosen;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// the file
    pub path: PathBuf,
    /// 1-based line, 0 when the problem is the file as a whole
    pub line: usize,
    /// 1-based column
    pub column: usize,
    /// what is wrong, the value and what is accepted
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Every problem found in a file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors(pub Vec<FileError>);

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    daemon: Option<RawDaemon>,
    #[serde(default)]
    tracker: Vec<Spanned<trackers::RawTracker>>,
    conntrack: Option<Spanned<conntrack::RawConntrack>>,
    #[serde(default)]
    group: Vec<Spanned<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    control_socket: Option<Spanned<String>>,
    control_group: Option<Spanned<String>>,
    notify_script: Option<Spanned<Vec<Spanned<String>>>>,
    metrics_listen: Option<Spanned<String>>,
    realtime_priority: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
    vhid: Option<Spanned<i64>>,
    vips: Option<Spanned<Vec<Spanned<String>>>>,
    password: Option<Spanned<String>>,
    passfile: Option<Spanned<String>>,
    advbase: Option<Spanned<i64>>,
    advskew: Option<Spanned<i64>>,
    deadratio: Option<Spanned<i64>>,
    preempt: Option<Spanned<bool>>,
    srcip: Option<Spanned<String>>,
    neutral: Option<Spanned<bool>>,
    broadcast: Option<Spanned<bool>>,
    multicast_group: Option<Spanned<String>>,
    up_script: Option<Spanned<String>>,
    down_script: Option<Spanned<String>>,
    xparam: Option<Spanned<String>>,
    hook_timeout: Option<Spanned<f64>>,
    ignore_ifstate: Option<Spanned<bool>>,
    track: Option<Spanned<Vec<Spanned<String>>>>,
    demote_by: Option<Spanned<String>>,
    sync: Option<Spanned<String>>,
    preempt_delay: Option<Spanned<f64>>,
    notify_script: Option<Spanned<Vec<Spanned<String>>>>,
    garp_refresh: Option<Spanned<f64>>,
    protocol: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    advert_interval: Option<Spanned<f64>>,
    accept_mode: Option<Spanned<bool>>,
    v3_checksum: Option<Spanned<String>>,
    vrrp2_compat: Option<Spanned<bool>>,
    peers: Option<Spanned<Vec<Spanned<String>>>>,
    unicast_ttl_check: Option<Spanned<bool>>,
    vip_interface: Option<Spanned<String>>,
    vip_interface_must_exist: Option<Spanned<bool>>,
    routes: Option<Spanned<Vec<Spanned<String>>>>,
    vmac: Option<Spanned<bool>>,
    vmac_interface: Option<Spanned<String>>,
    conntrack: Option<Spanned<bool>>,
}

/// The largest config file read, in bytes: thousands of groups fit in a fraction of it, and
/// `/dev/zero` or a runaway file is refused instead of read until memory runs out.
pub const CONFIG_MAX: u64 = 16 << 20;

/// How many clashes of one kind between groups are listed; the rest are counted.
pub const CLASHES_LISTED: usize = 10;

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Settings, FileErrors> {
    let whole = |message: String| {
        FileErrors(vec![FileError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
        }])
    };
    let bytes = crate::sys::file::read_whole(path, CONFIG_MAX)
        .map_err(|e| whole(format!("the config file {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
        whole(format!(
            "not UTF-8 (byte {at}, line {line}): accepted a TOML file in UTF-8"
        ))
    })?;
    parse(path, &text)
}

// Long on purpose: the file's sections in order, then the rules between groups, so that one
// pass reports every error of the file.
/// Checks `text`, the contents of `path`.
pub fn parse(path: &Path, text: &str) -> Result<Settings, FileErrors> {
    let mut checker = Checker {
        path,
        text,
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        errors: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    // Where it is, as the other errors say it: the table and the key.
                    let message = match place_of(text, span.start) {
                        Some(place) => format!("{place}: {message}"),
                        None => message,
                    };
                    checker.error(span, message)
                }
                None => checker.file_error(message),
            }
            return Err(FileErrors(checker.errors));
        }
    };
    let daemon = checker.daemon(raw.daemon);
    // Every name given, valid tracker or not: a group naming a broken tracker gets the
    // tracker's error, not a second one saying it is undefined.
    let tracker_names: Vec<String> = raw
        .tracker
        .iter()
        .filter_map(|t| t.get_ref().name())
        .collect();
    let mut trackers = Vec::new();
    for (i, tracker) in raw.tracker.into_iter().enumerate() {
        let span = tracker.span();
        if let Some(t) = checker.tracker(i + 1, span.clone(), tracker.into_inner()) {
            trackers.push((t, span));
        }
    }
    checker.unique_trackers(&trackers);
    let conntrack_defined = raw.conntrack.is_some();
    let conntrack = checker.conntrack(raw.conntrack);
    let mut groups = Vec::new();
    let mut spans = Vec::new();
    for (i, group) in raw.group.into_iter().enumerate() {
        let span = group.span();
        if let Some(g) = checker.group(
            i + 1,
            span.clone(),
            group.into_inner(),
            &tracker_names,
            &daemon.notify_script,
            conntrack_defined,
        ) {
            groups.push(g);
            spans.push(span);
        }
    }
    if checker.errors.is_empty() {
        if groups.is_empty() {
            checker.file_error("no [[group]] table: accepted one or more groups".to_string());
        }
        checker.lonely_sync(&groups, &spans);
        checker.conflicts(&groups, &spans);
    }
    if !checker.errors.is_empty() {
        return Err(FileErrors(checker.errors));
    }
    Ok(Settings {
        origin: Origin::File(path.to_path_buf()),
        daemon,
        trackers: trackers.into_iter().map(|(t, _)| t).collect(),
        conntrack,
        groups,
    })
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    /// the byte offset where each line starts, the first at 0
    line_starts: Vec<usize>,
    errors: Vec<FileError>,
}

/// The label of a group in messages: its name when given, else its place in the file.
/// The table and key at byte `offset` of `text`, as error messages name them
/// (`group 2: advskew`, `[daemon]: metrics_listen`, `tracker 1: interval`), for errors that
/// the TOML reader reports with a place but without them (a value of the wrong type).
fn place_of(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = line.split('\n').next().unwrap_or_default();
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let (mut table, mut groups, mut trackers) = (None, 0, 0);
    for l in before[..line_start].lines().map(str::trim) {
        match l {
            "[[group]]" => {
                groups += 1;
                table = Some(format!("group {groups}"));
            }
            "[[tracker]]" => {
                trackers += 1;
                table = Some(format!("tracker {trackers}"));
            }
            "[daemon]" | "[conntrack]" => table = Some(l.to_string()),
            _ => {}
        }
    }
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}: {k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

fn label(name: &Option<Spanned<String>>, index: usize) -> String {
    match name {
        Some(n) if rules::name(n.get_ref()).is_ok() => format!("group \"{}\"", n.get_ref()),
        _ => format!("group {index}"),
    }
}

impl Checker<'_> {
    /// A problem of the file as a whole (no line).
    fn file_error(&mut self, message: String) {
        self.errors.push(FileError {
            path: self.path.to_path_buf(),
            line: 0,
            column: 0,
            message,
        });
    }

    /// The line and column (in characters) of byte `offset`: a binary search in the lines'
    /// starts, so that thousands of errors in a large file cost no more than one pass.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |l| l.chars().count() + 1);
        (line, column)
    }

    /// The rules between groups ([`conflicts`]), each clash reported at the later group
    /// with the line of the earlier one. Past [`CLASHES_LISTED`] of one key, one line says
    /// how many more there are: a generated file with thousands of clashes names its first
    /// offenders instead of burying them.
    fn conflicts(&mut self, groups: &[GroupSettings], spans: &[Range<usize>]) {
        let mut listed: BTreeMap<&'static str, usize> = BTreeMap::new();
        for conflict in conflicts(groups) {
            let count = listed.entry(conflict.key).or_default();
            *count += 1;
            if *count > CLASHES_LISTED {
                continue;
            }
            let (line, _) = self.position(spans[conflict.with].start);
            self.error(
                spans[conflict.group].clone(),
                format!(
                    "group \"{}\": {} (see the group at line {line})",
                    groups[conflict.group].name, conflict.message
                ),
            );
        }
        for (key, count) in listed {
            if count > CLASHES_LISTED {
                self.file_error(format!(
                    "{} more groups clash on {key} like those above (the first {CLASHES_LISTED} of each kind are listed)",
                    count - CLASHES_LISTED
                ));
            }
        }
    }

    fn error(&mut self, span: Range<usize>, message: String) {
        let (line, column) = self.position(span.start);
        self.errors.push(FileError {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        });
    }

    /// A rule's verdict on a key's value; the error names the group, key and value.
    fn check<T, V: fmt::Display>(
        &mut self,
        group: &str,
        key: &str,
        value: &Spanned<V>,
        verdict: Result<T, String>,
    ) -> Option<T> {
        match verdict {
            Ok(v) => Some(v),
            Err(accepted) => {
                self.error(
                    value.span(),
                    format!("{group}: {key} = {}: {accepted}", value.get_ref()),
                );
                None
            }
        }
    }

    fn daemon(&mut self, raw: Option<RawDaemon>) -> DaemonSettings {
        let mut daemon = DaemonSettings {
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            control_group: None,
            notify_script: None,
            metrics_listen: None,
            realtime_priority: Default::default(),
        };
        let Some(raw) = raw else {
            return daemon;
        };
        if let Some(priority) = &raw.realtime_priority {
            let verdict = super::scheduling::Realtime::from_number(*priority.get_ref());
            if let Some(realtime) = self.check("[daemon]", "realtime_priority", priority, verdict) {
                daemon.realtime_priority = realtime;
            }
        }
        daemon.notify_script = self
            .argv("[daemon]", "notify_script", &raw.notify_script)
            .flatten();
        if let Some(listen) = &raw.metrics_listen {
            let verdict = listen
                .get_ref()
                .parse::<std::net::SocketAddr>()
                .ok()
                .filter(|a| a.port() != 0)
                .ok_or_else(|| {
                    "accepted an address and a port from 1 to 65535 such as \"127.0.0.1:9642\" or \"[::1]:9642\" (port 0 would be a port nobody knows)"
                        .to_string()
                });
            daemon.metrics_listen = self.check("[daemon]", "metrics_listen", listen, verdict);
        }
        if let Some(socket) = raw.control_socket {
            let path = Path::new(socket.get_ref());
            let verdict = if path.is_absolute() {
                crate::mgmt::control::socket_or_absent(path)
                    .map(|()| path.to_path_buf())
                    .map_err(|what| format!("{what}: accepted an absolute path that is absent or a socket, such as /run/carpd/control.sock"))
            } else {
                Err("accepted an absolute path such as /run/carpd/control.sock".to_string())
            };
            if let Some(p) = self.check("[daemon]", "control_socket", &socket, verdict) {
                daemon.control_socket = p;
            }
        }
        if let Some(group) = raw.control_group {
            let verdict = match nix::unistd::Group::from_name(group.get_ref()) {
                Ok(Some(_)) => Ok(group.get_ref().clone()),
                _ => Err("no such Unix group on this host: accepted an existing group (getent group NAME)".to_string()),
            };
            daemon.control_group = self.check("[daemon]", "control_group", &group, verdict);
        }
        daemon
    }

    fn number<T>(
        &mut self,
        group: &str,
        key: &str,
        value: &Option<Spanned<i64>>,
        default: T,
        rule: impl Fn(u64) -> Result<T, String>,
    ) -> Option<T> {
        match value {
            None => Some(default),
            Some(v) => {
                // A negative number is out of every range, as u64::MAX is.
                let verdict = rule(u64::try_from(*v.get_ref()).unwrap_or(u64::MAX));
                self.check(group, key, v, verdict)
            }
        }
    }

    fn script(
        &mut self,
        group: &str,
        key: &str,
        value: Option<Spanned<String>>,
    ) -> Option<Option<PathBuf>> {
        let Some(value) = value else {
            return Some(None);
        };
        let path = PathBuf::from(value.get_ref());
        let verdict = executable(&path).map(|()| Some(path));
        self.check(group, key, &value, verdict)
    }

    /// One `[[group]]`, checked key by key: every error is recorded (a file gets all its
    /// errors at once), and the group is made only when there was none. Long on purpose: the
    /// keys are read in one place, in the order the docs list them, each in a line or through
    /// a helper of its own below.
    fn group(
        &mut self,
        index: usize,
        span: Range<usize>,
        raw: RawGroup,
        trackers: &[String],
        daemon_notify: &Option<Vec<String>>,
        conntrack_defined: bool,
    ) -> Option<GroupSettings> {
        let errors_before = self.errors.len();
        let label = label(&raw.name, index);
        if let Some(n) = &raw.name {
            if let Err(accepted) = rules::name(n.get_ref()) {
                self.error(n.span(), format!("{label}: name = {accepted}"));
            }
        }
        let interface = self.interface(&label, &span, &raw.interface);
        let vhid = match &raw.vhid {
            Some(_) => self.number(&label, "vhid", &raw.vhid, 0, rules::vhid),
            None => {
                self.error(span.clone(), missing(&label, "vhid", "1 to 255"));
                None
            }
        };
        let vips = self.vips(&label, &span, &raw);
        let chosen = self.protocol(&label, &raw);
        let peers = self.peers(&label, &raw);
        let password = self.password(&label, &span, &raw, chosen);
        let (advbase, advskew, deadratio) = self.carp_timing(&label, &span, &raw);
        // One family per group, the first VIP's; CARP is IPv4 only.
        let ipv6 = vips
            .as_ref()
            .and_then(|v| v.first())
            .is_some_and(|v| v.address.is_ipv6());
        if let (Some(list), Some(vips)) = (&raw.vips, &vips) {
            self.families(&label, vips, list, chosen);
        }
        if let (true, Some(v)) = (ipv6, &raw.v3_checksum) {
            self.error(v.span(), format!("{label}: v3_checksum is for IPv4 groups: IPv6 adverts always carry the pseudo-header checksum"));
        }
        if let (true, Some(v)) = (ipv6, &raw.vrrp2_compat) {
            if *v.get_ref() {
                self.error(v.span(), format!("{label}: vrrp2_compat with IPv6 VIPs: VRRPv2 is IPv4 only, accepted on IPv4 groups (an IPv6 group has no VRRPv2 peer to stay compatible with)"));
            }
        }
        let srcip = self.srcip(&label, &raw, ipv6, vips.as_deref());
        let multicast_group = match &raw.multicast_group {
            None => Some(carpd_proto::wire::carp::DEFAULT_GROUP),
            Some(g) => self.check(
                &label,
                "multicast_group",
                g,
                rules::multicast_group(g.get_ref()),
            ),
        };
        let vip_interface = self.vip_interface(&label, &raw, interface.as_deref(), vips.as_deref());
        let routes = self.routes(&label, &raw);
        let vmac = self.vmac(&label, &raw, interface.as_deref(), vhid, ipv6);
        let conntrack = self.group_conntrack(&label, &raw, conntrack_defined);
        let up_script = self.script(&label, "up_script", raw.up_script.clone());
        let down_script = self.script(&label, "down_script", raw.down_script.clone());
        let hook_timeout = self.hook_timeout(&label, &raw);
        let track = self.track(&label, &raw.track, trackers);
        let demote_by = self.demote_by(&label, &raw.demote_by);
        let sync = self.sync(&label, &raw.sync);
        let preempt_delay = self.preempt_delay(&label, &raw.preempt_delay);
        let notify_script = self
            .argv(&label, "notify_script", &raw.notify_script)
            .map(|own| own.or_else(|| daemon_notify.clone()));
        let garp_refresh = match &raw.garp_refresh {
            None => Some(None),
            Some(_) => self.refresh(&label, &raw.garp_refresh).map(Some),
        };
        self.cross_checks(&label, &span, &raw, &peers, srcip, chosen, demote_by, ipv6);
        if self.errors.len() > errors_before {
            return None;
        }
        let interface = interface?;
        let vhid = vhid?;
        Some(GroupSettings {
            name: raw
                .name
                .map(Spanned::into_inner)
                .unwrap_or_else(|| format!("{interface}-{vhid}")),
            interface,
            vhid,
            vips: vips?,
            password: password?,
            protocol: match chosen? {
                Chosen::Vrrp(protocol) => protocol,
                Chosen::Carp => Protocol::Carp(CarpParams {
                    advbase: advbase?,
                    advskew: advskew?,
                    deadratio: deadratio?,
                    broadcast: raw.broadcast.is_some_and(|p| *p.get_ref()),
                }),
            },
            preempt: raw.preempt.is_some_and(|p| *p.get_ref()),
            neutral: raw.neutral.is_some_and(|p| *p.get_ref()),
            // Config mode: a group that stops or is removed as master always gives its VIPs up.
            down_on_stop: true,
            srcip: srcip?,
            multicast_group: multicast_group?,
            up_script: up_script?,
            down_script: down_script?,
            xparam: raw.xparam.map(Spanned::into_inner),
            hook_timeout: hook_timeout?,
            ignore_ifstate: raw.ignore_ifstate.is_some_and(|p| *p.get_ref()),
            track: track?,
            demote_by: demote_by?,
            sync: sync?,
            preempt_delay: preempt_delay?,
            notify_script: notify_script?,
            garp_refresh: garp_refresh?,
            peers: peers.as_ref()?.0.clone(),
            unicast_ttl_check: peers?.1,
            vip_interface: vip_interface?,
            routes: routes?,
            vmac: vmac?,
            conntrack: conntrack?,
        })
    }

    /// `interface`: required, a valid interface name.
    fn interface(
        &mut self,
        label: &str,
        span: &Range<usize>,
        value: &Option<Spanned<String>>,
    ) -> Option<String> {
        match value {
            Some(v) => self.check(label, "interface", v, rules::interface(v.get_ref())),
            None => {
                self.error(
                    span.clone(),
                    missing(label, "interface", "an interface name such as \"eth0\""),
                );
                None
            }
        }
    }

    /// `vips`: required, one or more, each once, none a loopback address.
    fn vips(&mut self, label: &str, span: &Range<usize>, raw: &RawGroup) -> Option<Vec<Vip>> {
        let label = label.to_string();
        match &raw.vips {
            Some(list) if list.get_ref().is_empty() => {
                self.error(list.span(), format!("{label}: vips = []: accepted one or more addresses such as [\"10.0.0.250/24\"]"));
                None
            }
            Some(list) => {
                let mut vips: Vec<Vip> = Vec::new();
                for v in list.get_ref() {
                    let verdict = rules::vip_any(v.get_ref()).and_then(|vip| {
                        if vip.address.is_loopback() {
                            Err("a loopback address never leaves the host: accepted an address outside 127.0.0.0/8 and ::1".to_string())
                        } else {
                            Ok(vip)
                        }
                    });
                    if let Some(vip) = self.check(&label, "vips", v, verdict) {
                        if vips.iter().any(|e| e.address == vip.address) {
                            self.error(
                                v.span(),
                                format!(
                                    "{label}: vips: {} is listed twice: accepted each address once",
                                    vip.address
                                ),
                            );
                        }
                        vips.push(vip);
                    }
                }
                // Kept for the group's life: no spare capacity per group.
                vips.shrink_to_fit();
                Some(vips)
            }
            None => {
                self.error(
                    span.clone(),
                    missing(
                        &label,
                        "vips",
                        "one or more addresses such as [\"10.0.0.250/24\"]",
                    ),
                );
                None
            }
        }
    }

    /// `password` or `passfile` (one of them): required for CARP, optional simple text for
    /// a group that speaks VRRPv2 (`chosen` is the protocol check's verdict).
    fn password(
        &mut self,
        label: &str,
        span: &Range<usize>,
        raw: &RawGroup,
        chosen: Option<Chosen>,
    ) -> Option<Vec<u8>> {
        let label = label.to_string();
        let rule: fn(&[u8]) -> Result<(), String> = match chosen {
            Some(Chosen::Carp) => rules::password,
            Some(c) if c.speaks_vrrp2() => protocol::v2_password,
            // VRRPv3 has none (a password given is refused by `protocol`), nor a refused
            // protocol.
            _ => return Some(Vec::new()),
        };
        match (&raw.password, &raw.passfile) {
            (Some(_), Some(f)) => {
                self.error(
                    f.span(),
                    format!("{label}: both password and passfile given: accepted one of them"),
                );
                None
            }
            (Some(p), None) => self.check(
                &label,
                "password",
                p,
                rule(p.get_ref().as_bytes()).map(|()| p.get_ref().as_bytes().to_vec()),
            ),
            (None, Some(f)) => {
                let path = self.relative(f.get_ref());
                let verdict = rules::read_passfile(&path, None)
                    .map_err(|e| format!("{} {e}", path.display()))
                    .and_then(|pw| rule(&pw).map(|()| pw));
                self.check(&label, "passfile", f, verdict)
            }
            // VRRPv2 without a password: auth type 0, as keepalived without authentication.
            (None, None) if chosen != Some(Chosen::Carp) => Some(Vec::new()),
            (None, None) => {
                self.error(
                    span.clone(),
                    missing(
                        &label,
                        "password",
                        "password = \"...\" (1 to 19 bytes) or passfile = \"/etc/carpd/NAME.pass\"",
                    ),
                );
                None
            }
        }
    }

    /// CARP's `advbase`, `advskew` (together a valid interval) and `deadratio`.
    fn carp_timing(
        &mut self,
        label: &str,
        span: &Range<usize>,
        raw: &RawGroup,
    ) -> (Option<u8>, Option<u8>, Option<u32>) {
        let label = label.to_string();
        let advbase = self.number(&label, "advbase", &raw.advbase, 1, rules::byte);
        let advskew = self.number(&label, "advskew", &raw.advskew, 0, rules::byte);
        if let (Some(b), Some(s)) = (advbase, advskew) {
            if let Err(accepted) = rules::interval(b, s) {
                let at = raw.advbase.as_ref().map_or(span.clone(), |v| v.span());
                self.error(at, format!("{label}: {accepted}"));
            }
        }
        let deadratio = self.number(&label, "deadratio", &raw.deadratio, 3, rules::deadratio);
        (advbase, advskew, deadratio)
    }

    /// `srcip`, of the group's family and none of its VIPs.
    fn srcip(
        &mut self,
        label: &str,
        raw: &RawGroup,
        ipv6: bool,
        vips: Option<&[Vip]>,
    ) -> Option<Option<std::net::IpAddr>> {
        let label = label.to_string();
        let srcip = match &raw.srcip {
            None => Some(None),
            Some(s) => {
                let verdict = if ipv6 {
                    rules::srcip_v6(s.get_ref())
                } else {
                    rules::srcip(s.get_ref()).map(std::net::IpAddr::V4)
                };
                self.check(&label, "srcip", s, verdict).map(Some)
            }
        };
        if let (Some(Some(src)), Some(vips)) = (srcip, vips) {
            if vips.iter().any(|v| v.address == src) {
                let s = raw.srcip.as_ref().expect("given");
                self.error(s.span(), format!("{label}: srcip = {src} is also in vips: accepted a virtual address other than the host's own (carpd would take it away when it leaves MASTER)"));
            }
        }
        srcip
    }

    /// `hook_timeout`, 30 s unless given.
    fn hook_timeout(&mut self, label: &str, raw: &RawGroup) -> Option<Duration> {
        let label = label.to_string();
        match &raw.hook_timeout {
            None => Some(Duration::from_secs(30)),
            Some(t) => {
                let verdict = Duration::try_from_secs_f64(*t.get_ref())
                    .map_err(|_| String::new())
                    .and_then(rules::hook_timeout)
                    .map_err(|_| {
                        "accepted a number of seconds above 0, such as 30 or 2.5".to_string()
                    });
                self.check(&label, "hook_timeout", t, verdict)
            }
        }
    }

    /// The rules between a group's keys: peers of its family and not itself, `demote_by =
    /// "advskew"` only for CARP.
    #[allow(clippy::too_many_arguments)]
    fn cross_checks(
        &mut self,
        label: &str,
        span: &Range<usize>,
        raw: &RawGroup,
        peers: &Option<(Vec<std::net::IpAddr>, bool)>,
        srcip: Option<Option<std::net::IpAddr>>,
        chosen: Option<Chosen>,
        demote_by: Option<DemoteBy>,
        ipv6: bool,
    ) {
        let label = label.to_string();
        if let Some((peers, _)) = peers {
            self.peer_families(&label, !ipv6, peers, &raw.peers);
            if let (Some(Some(src)), Some(list)) = (srcip, &raw.peers) {
                if let Some(p) = peers.iter().zip(list.get_ref()).find(|(ip, _)| **ip == src) {
                    self.error(p.1.span(), format!("{label}: peers: {src} is this host's srcip: accepted the addresses of the other nodes"));
                }
            }
        }
        if let (Some(Chosen::Vrrp(_)), Some(DemoteBy::Advskew)) = (chosen, demote_by) {
            let at = raw.demote_by.as_ref().map_or(span.clone(), |v| v.span());
            self.error(at, format!("{label}: demote_by = \"advskew\" is for CARP groups with ucarp peers: a VRRP group's weights lower its priority (demote_by = \"demote\", the default)"));
        }
    }

    /// A path as written, relative to the config file's folder when not absolute.
    fn relative(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }
}

/// A script must exist and be executable now: a typo is found by `--check-config`, not at the
/// first failover.
fn executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if !path.is_absolute() {
        return Err("accepted an absolute path to an executable file".into());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => {
            Err("not an executable file: accepted an absolute path to an executable file".into())
        }
        Err(e) => Err(format!(
            "{e}: accepted an absolute path to an executable file"
        )),
    }
}

/// "missing key": the key and what is accepted.
fn missing(label: &str, key: &str, accepted: &str) -> String {
    format!("{label}: missing key {key}: accepted {accepted}")
}

#[cfg(test)]
mod tests;
