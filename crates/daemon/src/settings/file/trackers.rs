//! `[[tracker]]` tables and the groups' `track` and `demote_by` keys.

use super::{executable, Checker};
use crate::settings::rules;
use crate::settings::tracking::{Check, DemoteBy, TrackerSettings};
use serde::Deserialize;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTracker {
    name: Option<Spanned<String>>,
    script: Option<Spanned<Vec<Spanned<String>>>>,
    interface: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
    process: Option<Spanned<String>>,
    interval: Option<Spanned<f64>>,
    timeout: Option<Spanned<f64>>,
    rise: Option<Spanned<i64>>,
    fall: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

impl RawTracker {
    /// The name given, if any.
    pub(super) fn name(&self) -> Option<String> {
        self.name.as_ref().map(|n| n.get_ref().clone())
    }
}

/// The longest interval or timeout accepted (an hour).
const LONGEST: Duration = Duration::from_secs(3600);

/// The shortest tracker interval or timeout: a check every 0.1 s is ten forks a second at
/// most, where 1e-9 s would be a fork storm.
const SHORTEST_CHECK: Duration = Duration::from_millis(100);
/// The shortest `garp_refresh`: re-announcing more than once a second only loads the LAN.
const SHORTEST_REFRESH: Duration = Duration::from_secs(1);

/// Seconds from `shortest` to an hour.
fn seconds(value: f64, shortest: Duration) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(value) {
        Ok(d) if d >= shortest && d <= LONGEST => Ok(d),
        _ => Err(format!(
            "accepted a number of seconds from {} to 3600, such as 1 or 2.5",
            shortest.as_secs_f64()
        )),
    }
}

/// A process tracker's name: a program's name as `ps -C` takes it, not a path.
fn process_name(name: &str) -> Result<String, String> {
    const ACCEPTED: &str = "accepted a process name such as \"nginx\" (its kernel name or the file name of its argv[0]; 1 to 255 bytes, no '/')";
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\0', '\n']) {
        return Err(ACCEPTED.into());
    }
    Ok(name.to_string())
}

/// A count of checks in a row: 1 to 1000.
fn count(value: u64) -> Result<u32, String> {
    match value {
        1..=1000 => Ok(value as u32),
        _ => Err("accepted 1 to 1000 checks in a row".into()),
    }
}

impl Checker<'_> {
    /// A seconds key with its default.
    fn seconds(
        &mut self,
        owner: &str,
        key: &str,
        value: &Option<Spanned<f64>>,
        default: Duration,
    ) -> Option<Duration> {
        let shortest = if key == "garp_refresh" {
            SHORTEST_REFRESH
        } else {
            SHORTEST_CHECK
        };
        match value {
            None => Some(default),
            Some(v) => self.check(owner, key, v, seconds(*v.get_ref(), shortest)),
        }
    }

    /// A key that only script trackers take, given to another kind.
    fn script_only<T>(&mut self, owner: &str, key: &str, value: &Option<Spanned<T>>) {
        if let Some(v) = value {
            self.error(
                v.span(),
                format!(
                    "{owner}: {key} is for script trackers only: accepted it with script = [...]"
                ),
            );
        }
    }

    /// One `[[tracker]]`, key by key (long on purpose, as `group`: every key of every kind
    /// in one place, every error recorded).
    pub(super) fn tracker(
        &mut self,
        index: usize,
        span: Range<usize>,
        raw: RawTracker,
    ) -> Option<TrackerSettings> {
        let errors_before = self.errors.len();
        let owner = match &raw.name {
            Some(n) if rules::name(n.get_ref()).is_ok() => format!("tracker \"{}\"", n.get_ref()),
            _ => format!("tracker {index}"),
        };
        let name = match &raw.name {
            Some(n) => match rules::name(n.get_ref()) {
                Ok(()) => Some(n.get_ref().clone()),
                Err(accepted) => {
                    self.error(n.span(), format!("{owner}: name = {accepted}"));
                    None
                }
            },
            None => {
                self.error(span.clone(), format!("{owner}: missing key name: accepted a name such as \"nginx\" (groups list it in track)"));
                None
            }
        };
        let weight = self.number(&owner, "weight", &raw.weight, 0, rules::byte);
        let given: Vec<&str> = [
            raw.script.as_ref().map(|_| "script"),
            raw.interface.as_ref().map(|_| "interface"),
            raw.file.as_ref().map(|_| "file"),
            raw.process.as_ref().map(|_| "process"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let check = match (&raw.script, &raw.interface, &raw.file) {
            _ if given.len() != 1 => {
                let what = if given.is_empty() {
                    "none of them".to_string()
                } else {
                    given.join(" and ")
                };
                self.error(
                    span.clone(),
                    format!("{owner}: {what} given: accepted exactly one of script = [\"/path\", \"arg\"], interface = \"eth1\", file = \"/run/carpd/maintenance\" or process = \"nginx\""),
                );
                None
            }
            (Some(_), _, _) => self.script_check(&owner, &raw),
            (_, Some(interface), _) => {
                for (key, value) in [("interval", &raw.interval), ("timeout", &raw.timeout)] {
                    if let Some(v) = value {
                        self.error(v.span(), format!("{owner}: {key} is not for interface trackers (they follow the link's events): accepted it with script or file"));
                    }
                }
                self.script_only(&owner, "rise", &raw.rise);
                self.script_only(&owner, "fall", &raw.fall);
                self.check(
                    &owner,
                    "interface",
                    interface,
                    rules::interface(interface.get_ref()),
                )
                .map(|interface| Check::Interface { interface })
            }
            (_, _, Some(file)) => {
                self.script_only(&owner, "timeout", &raw.timeout);
                self.script_only(&owner, "rise", &raw.rise);
                self.script_only(&owner, "fall", &raw.fall);
                let verdict = if std::path::Path::new(file.get_ref()).is_absolute() {
                    Ok(PathBuf::from(file.get_ref()))
                } else {
                    Err("accepted an absolute path such as /run/carpd/maintenance".to_string())
                };
                let path = self.check(&owner, "file", file, verdict);
                let interval =
                    self.seconds(&owner, "interval", &raw.interval, Duration::from_secs(1));
                Some(Check::File {
                    path: path?,
                    interval: interval?,
                })
            }
            (None, None, None) => raw.process.as_ref().and_then(|process| {
                self.script_only(&owner, "timeout", &raw.timeout);
                self.script_only(&owner, "rise", &raw.rise);
                self.script_only(&owner, "fall", &raw.fall);
                let name = self.check(&owner, "process", process, process_name(process.get_ref()));
                let interval =
                    self.seconds(&owner, "interval", &raw.interval, Duration::from_secs(1));
                Some(Check::Process {
                    name: name?,
                    interval: interval?,
                })
            }),
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(TrackerSettings {
            name: name?,
            check: check?,
            weight: weight?,
        })
    }

    /// A program and its arguments (no shell): the program an absolute path to an executable
    /// file. `Some(None)` when not given.
    pub(super) fn argv(
        &mut self,
        owner: &str,
        key: &str,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Option<Option<Vec<String>>> {
        let Some(list) = value else {
            return Some(None);
        };
        let argv: Vec<String> = list.get_ref().iter().map(|a| a.get_ref().clone()).collect();
        match list.get_ref().first() {
            None => {
                self.error(list.span(), format!("{owner}: {key} = []: accepted the program and its arguments, such as [\"/usr/local/bin/check\", \"--quick\"] (no shell)"));
                None
            }
            Some(program) => {
                let verdict = executable(std::path::Path::new(program.get_ref()));
                self.check(owner, key, program, verdict)
                    .map(|()| Some(argv))
            }
        }
    }

    fn script_check(&mut self, owner: &str, raw: &RawTracker) -> Option<Check> {
        let argv = self.argv(owner, "script", &raw.script);
        let interval = self.seconds(owner, "interval", &raw.interval, Duration::from_secs(1));
        // A check may take as long as the interval unless told otherwise.
        let timeout = self.seconds(
            owner,
            "timeout",
            &raw.timeout,
            interval.unwrap_or(Duration::from_secs(1)),
        );
        let rise = self.number(owner, "rise", &raw.rise, 1, count);
        let fall = self.number(owner, "fall", &raw.fall, 1, count);
        Some(Check::Script {
            argv: argv??,
            interval: interval?,
            timeout: timeout?,
            rise: rise?,
            fall: fall?,
        })
    }

    /// A group's `track` list: every name defined, each once.
    pub(super) fn track(
        &mut self,
        group: &str,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
        trackers: &[String],
    ) -> Option<Vec<String>> {
        let Some(list) = value else {
            return Some(Vec::new());
        };
        let errors_before = self.errors.len();
        let mut names: Vec<String> = Vec::new();
        for name in list.get_ref() {
            let n = name.get_ref();
            if names.contains(n) {
                self.error(
                    name.span(),
                    format!("{group}: track: \"{n}\" is listed twice: accepted each tracker once"),
                );
            } else if !trackers.contains(n) {
                let accepted = if trackers.is_empty() {
                    "no [[tracker]] is defined in this file: define it with [[tracker]] name = \"...\"".to_string()
                } else {
                    let quoted: Vec<String> = trackers.iter().map(|t| format!("\"{t}\"")).collect();
                    format!(
                        "accepted a tracker defined in this file: {}",
                        quoted.join(", ")
                    )
                };
                self.error(
                    name.span(),
                    format!("{group}: track: tracker \"{n}\" is not defined: {accepted}"),
                );
            }
            names.push(n.clone());
        }
        (self.errors.len() == errors_before).then_some(names)
    }

    /// A group's `demote_by`.
    pub(super) fn demote_by(
        &mut self,
        group: &str,
        value: &Option<Spanned<String>>,
    ) -> Option<DemoteBy> {
        match value {
            None => Some(DemoteBy::default()),
            Some(v) => self.check(group, "demote_by", v, DemoteBy::parse(v.get_ref())),
        }
    }

    /// A group's `sync`: a name of 1 or more characters.
    pub(super) fn sync(
        &mut self,
        group: &str,
        value: &Option<Spanned<String>>,
    ) -> Option<Option<String>> {
        match value {
            None => Some(None),
            Some(v) => {
                match rules::name(v.get_ref()) {
                    Ok(()) => Some(Some(v.get_ref().clone())),
                    Err(accepted) => {
                        self.error(
                            v.span(),
                            format!("{group}: sync = {accepted}, the same in every group of the sync group"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// A group's `garp_refresh`: 1 s to an hour.
    pub(super) fn refresh(
        &mut self,
        group: &str,
        value: &Option<Spanned<f64>>,
    ) -> Option<Duration> {
        self.seconds(group, "garp_refresh", value, Duration::ZERO)
    }

    /// A group's `preempt_delay`: 0 to 3600 seconds.
    pub(super) fn preempt_delay(
        &mut self,
        group: &str,
        value: &Option<Spanned<f64>>,
    ) -> Option<Duration> {
        match value {
            None => Some(Duration::ZERO),
            Some(v) => {
                let verdict = match Duration::try_from_secs_f64(*v.get_ref()) {
                    Ok(d) if d <= LONGEST => Ok(d),
                    _ => Err(
                        "accepted a number of seconds from 0 to 3600, such as 5 or 2.5".to_string(),
                    ),
                };
                self.check(group, "preempt_delay", v, verdict)
            }
        }
    }

    /// A sync group of one is a typo: every `sync` name is shared by two or more groups.
    pub(super) fn lonely_sync(
        &mut self,
        groups: &[crate::settings::GroupSettings],
        spans: &[Range<usize>],
    ) {
        let mut members: std::collections::HashMap<&str, usize> = Default::default();
        for sync in groups.iter().filter_map(|g| g.sync.as_deref()) {
            *members.entry(sync).or_default() += 1;
        }
        for (g, span) in groups.iter().zip(spans) {
            let Some(sync) = &g.sync else { continue };
            if members.get(sync.as_str()).copied().unwrap_or(0) < 2 {
                self.error(
                    span.clone(),
                    format!("group \"{}\": sync = \"{sync}\" names no other group: accepted a name that two or more groups share", g.name),
                );
            }
        }
    }

    /// Tracker names are unique.
    pub(super) fn unique_trackers(&mut self, trackers: &[(TrackerSettings, Range<usize>)]) {
        for (i, (t, span)) in trackers.iter().enumerate() {
            if let Some((_, first)) = trackers[..i].iter().find(|(e, _)| e.name == t.name) {
                let (line, _) = self.position(first.start);
                self.error(
                    span.clone(),
                    format!("tracker \"{}\": name is already the name of the tracker at line {line}: accepted a name no other tracker has", t.name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::settings::tracking::{Check, DemoteBy};
    use std::path::Path;
    use std::time::Duration;

    const GROUP: &str = "[[group]]\nname = \"web\"\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\n";

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("/etc/carpd/carpd.toml"), text) {
            Ok(s) => panic!("accepted: {s:?}"),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_three_kinds_are_read_with_their_defaults() {
        let text = format!(
            r#"
[[tracker]]
name = "nginx"
script = ["/bin/sh", "-c", "exit 0"]
interval = 0.5
timeout = 2.0
rise = 2
fall = 3
weight = 0

[[tracker]]
name = "uplink"
interface = "eth1"
weight = 50

[[tracker]]
name = "maintenance"
file = "/run/carpd/maintenance"

[[tracker]]
name = "quick"
script = ["/bin/true"]

{GROUP}track = ["nginx", "uplink", "maintenance"]
demote_by = "advskew"
"#
        );
        let s = parse(Path::new("/etc/carpd/carpd.toml"), &text).unwrap();
        assert_eq!(s.trackers.len(), 4);
        assert_eq!(
            s.trackers[0].check,
            Check::Script {
                argv: vec!["/bin/sh".into(), "-c".into(), "exit 0".into()],
                interval: Duration::from_millis(500),
                timeout: Duration::from_secs(2),
                rise: 2,
                fall: 3
            }
        );
        assert_eq!(s.trackers[1].weight, 50);
        assert_eq!(
            s.trackers[1].check,
            Check::Interface {
                interface: "eth1".into()
            }
        );
        assert_eq!(
            s.trackers[2].check,
            Check::File {
                path: "/run/carpd/maintenance".into(),
                interval: Duration::from_secs(1)
            }
        );
        // Defaults: interval 1 s, timeout the interval, rise 1, fall 1, weight 0.
        assert_eq!(
            s.trackers[3].check,
            Check::Script {
                argv: vec!["/bin/true".into()],
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                rise: 1,
                fall: 1
            }
        );
        assert_eq!(s.trackers[3].weight, 0);
        assert_eq!(s.groups[0].track, ["nginx", "uplink", "maintenance"]);
        assert_eq!(s.groups[0].demote_by, DemoteBy::Advskew);
        let plain = parse(Path::new("x.toml"), GROUP).unwrap();
        assert!(plain.trackers.is_empty() && plain.groups[0].track.is_empty());
        assert_eq!(plain.groups[0].demote_by, DemoteBy::Demote);
    }

    #[test]
    fn a_process_tracker() {
        let text = format!(
            "[[tracker]]\nname = \"web\"\nprocess = \"nginx\"\ninterval = 2\nweight = 30\n{GROUP}track = [\"web\"]\n"
        );
        let s = parse(Path::new("x.toml"), &text).unwrap();
        assert_eq!(
            s.trackers[0].check,
            Check::Process {
                name: "nginx".into(),
                interval: Duration::from_secs(2)
            }
        );
        assert_eq!(s.trackers[0].check.kind(), "process");
        assert_eq!(s.trackers[0].weight, 30);
    }

    #[test]
    fn every_bad_tracker_value_is_named_with_its_place_and_what_is_accepted() {
        let tracker =
            |body: &str| format!("[[tracker]]\nname = \"t\"\n{body}\n{GROUP}track = [\"t\"]\n");
        let cases: &[(&str, &[&str])] = &[
            (
                "script = [\"/nonexistent/check\"]",
                &[
                    "carpd.toml:3:",
                    "tracker \"t\": script = /nonexistent/check",
                    "executable",
                ],
            ),
            ("script = [\"check-nginx\"]", &["absolute path"]),
            ("script = []", &["script = []", "no shell"]),
            (
                "script = [\"/bin/true\"]\ninterval = 0",
                &["interval = 0", "from 0.1 to 3600"],
            ),
            (
                "script = [\"/bin/true\"]\ninterval = -1.5",
                &["interval = -1.5", "from 0.1 to 3600"],
            ),
            (
                "script = [\"/bin/true\"]\ntimeout = 0",
                &["timeout = 0", "from 0.1 to 3600"],
            ),
            (
                "file = \"/run/x\"\ninterval = 1e-9",
                &["interval = 0.000000001", "from 0.1 to 3600"],
            ),
            (
                "script = [\"/bin/true\"]\nrise = 0",
                &["rise = 0", "1 to 1000"],
            ),
            (
                "script = [\"/bin/true\"]\nfall = 0",
                &["fall = 0", "1 to 1000"],
            ),
            (
                "script = [\"/bin/true\"]\nweight = 256",
                &["weight = 256", "0 to 255"],
            ),
            (
                "script = [\"/bin/true\"]\nweight = -1",
                &["weight = -1", "0 to 255"],
            ),
            (
                "interface = \"eth1\"\nrise = 2",
                &["rise is for script trackers only"],
            ),
            (
                "interface = \"eth1\"\ninterval = 2",
                &["interval is not for interface trackers"],
            ),
            (
                "file = \"/run/x\"\nfall = 2",
                &["fall is for script trackers only"],
            ),
            ("file = \"run/x\"", &["file = run/x", "absolute path"]),
            (
                "interface = \"an-interface-name-too-long\"",
                &["1 to 15 bytes"],
            ),
            (
                "weight = 1",
                &["none of them given", "exactly one of script"],
            ),
            (
                "interface = \"eth1\"\nfile = \"/run/x\"",
                &["interface and file given"],
            ),
            (
                "process = \"/usr/sbin/nginx\"",
                &["process = /usr/sbin/nginx", "no '/'"],
            ),
            ("process = \"\"", &["a process name such as"]),
            (
                "process = \"nginx\"\nrise = 2",
                &["rise is for script trackers only"],
            ),
            (
                "process = \"nginx\"\nfile = \"/run/x\"",
                &["file and process given", "process = \"nginx\""],
            ),
            ("colour = 1", &["unknown field `colour`"]),
        ];
        let plain =
            std::env::temp_dir().join(format!("carpd-not-executable-{}", std::process::id()));
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        let not_executable = format!("script = [\"{}\"]", plain.display());
        let cases: Vec<(&str, &[&str])> = cases
            .iter()
            .copied()
            .chain([(not_executable.as_str(), &["not an executable file"][..])])
            .collect();
        for (body, needles) in &cases {
            let errors = errors(&tracker(body));
            assert_eq!(errors.len(), 1, "{body}: {errors:?}");
            for needle in needles.iter() {
                assert!(
                    errors[0].contains(needle),
                    "{body}: {needle:?} not in {}",
                    errors[0]
                );
            }
        }
        std::fs::remove_file(plain).unwrap();
    }

    #[test]
    fn groups_must_track_defined_trackers_once_with_a_known_demote_by() {
        let one = "[[tracker]]\nname = \"a\"\ninterface = \"eth1\"\n";
        let e = errors(&format!("{one}{GROUP}track = [\"a\", \"nginx\"]\n"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("carpd.toml:10:15:")
                && e[0].contains("tracker \"nginx\" is not defined")
                && e[0].contains("\"a\""),
            "{e:?}"
        );
        let e = errors(&format!("{GROUP}track = [\"nginx\"]\n"));
        assert!(e[0].contains("no [[tracker]] is defined"), "{e:?}");
        let e = errors(&format!("{one}{GROUP}track = [\"a\", \"a\"]\n"));
        assert!(e[0].contains("\"a\" is listed twice"), "{e:?}");
        let e = errors(&format!("{GROUP}demote_by = \"priority\"\n"));
        assert!(
            e[0].contains("demote_by = priority") && e[0].contains("\"advskew\""),
            "{e:?}"
        );
        let e = errors(&format!("{one}{one}{GROUP}"));
        assert!(
            e[0].contains("carpd.toml:4:")
                && e[0].contains("already the name of the tracker at line 1"),
            "{e:?}"
        );
        let e = errors(&format!("[[tracker]]\ninterface = \"eth1\"\n{GROUP}"));
        assert!(e[0].contains("tracker 1: missing key name"), "{e:?}");
        // Sync groups and preempt_delay.
        let two = |a: &str, b: &str| {
            format!("{GROUP}{a}\n[[group]]\nname = \"db\"\ninterface = \"eth1\"\nvhid = 5\nvips = [\"10.0.1.9\"]\npassword = \"pw\"\n{b}\n")
        };
        let s = parse(
            Path::new("x.toml"),
            &two("sync = \"edge\"\npreempt_delay = 2.5", "sync = \"edge\""),
        )
        .unwrap();
        assert_eq!(s.groups[0].sync.as_deref(), Some("edge"));
        assert_eq!(s.groups[0].preempt_delay, Duration::from_millis(2500));
        assert_eq!(s.groups[1].preempt_delay, Duration::ZERO);
        let e = errors(&two("sync = \"edge\"", "sync = \"egde\""));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[1].contains("sync = \"egde\" names no other group") && e[1].contains("two or more"),
            "{e:?}"
        );
        let e = errors(&two("sync = \"\"", ""));
        assert!(
            e[0].contains("sync = \"\" (0 characters): accepted 1 to 64 ASCII letters"),
            "{e:?}"
        );
        for bad in ["-1", "3601", "nan"] {
            let e = errors(&two(&format!("preempt_delay = {bad}"), ""));
            assert!(
                e[0].contains("preempt_delay") && e[0].contains("0 to 3600"),
                "{bad}: {e:?}"
            );
        }
        // notify_script: the group's own, else [daemon]'s; the program must be executable.
        let daemon = "[daemon]\nnotify_script = [\"/bin/echo\", \"all\"]\n";
        let s = parse(
            Path::new("x.toml"),
            &format!("{daemon}{}", two("notify_script = [\"/bin/true\"]", "")),
        )
        .unwrap();
        assert_eq!(
            s.groups[0].notify_script,
            Some(vec!["/bin/true".to_string()])
        );
        assert_eq!(
            s.groups[1].notify_script,
            Some(vec!["/bin/echo".to_string(), "all".to_string()])
        );
        assert_eq!(
            s.daemon.notify_script,
            Some(vec!["/bin/echo".to_string(), "all".to_string()])
        );
        let e = errors(&two("notify_script = [\"/nonexistent/notify\"]", ""));
        assert!(
            e[0].contains("notify_script = /nonexistent/notify") && e[0].contains("executable"),
            "{e:?}"
        );
        let e = errors(&format!("[daemon]\nnotify_script = []\n{GROUP}"));
        assert!(
            e[0].contains("[daemon]: notify_script = []") && e[0].contains("no shell"),
            "{e:?}"
        );
        let s = parse(Path::new("x.toml"), &two("garp_refresh = 60", "")).unwrap();
        assert_eq!(s.groups[0].garp_refresh, Some(Duration::from_secs(60)));
        assert_eq!(s.groups[1].garp_refresh, None);
        // Down to once a second: 1e-9 would be a busy loop of announcements.
        for (tiny, shown) in [("0", "0"), ("1e-9", "0.000000001"), ("0.5", "0.5")] {
            let e = errors(&two(&format!("garp_refresh = {tiny}"), ""));
            assert!(
                e[0].contains(&format!("garp_refresh = {shown}"))
                    && e[0].contains("from 1 to 3600"),
                "{e:?}"
            );
        }
        // A broken tracker that a group tracks is reported once, as itself.
        let e = errors(&format!(
            "[[tracker]]\nname = \"a\"\nfile = \"x\"\n{GROUP}track = [\"a\"]\n"
        ));
        assert_eq!(e.len(), 1, "{e:?}");
    }
}
