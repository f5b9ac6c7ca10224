//! The event loop's scheduling at start, as the settings decide it
//! ([`crate::settings::scheduling`]): SCHED_FIFO with memory locked when set, or by default
//! when a group advertises more often than every 100 ms; and what the log says about it.

use crate::settings::scheduling::{millis, Realtime, Reason, SHORT_INTERVAL};
use crate::settings::{GroupSettings, Origin, Settings};

/// What start-up decided, kept until the loop is moved (after the groups have started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    priority: u8,
    /// the log's reason: the setting, or the group advertising too often
    why: String,
    /// taken by default (a refusal is then a warning, not an error)
    automatic: bool,
    /// how the user says otherwise, in the words of the settings' origin
    setting: Setting,
}

/// The option or key that sets the priority, as the user writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setting {
    /// `--realtime-priority N`
    Option,
    /// `[daemon] realtime_priority = N`
    Key,
}

impl Setting {
    fn of(origin: &Origin) -> Setting {
        match origin {
            Origin::CommandLine => Setting::Option,
            Origin::File(_) => Setting::Key,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setting::Option => "--realtime-priority",
            Setting::Key => "[daemon] realtime_priority",
        }
    }

    /// The setting with a value, as written on the command line or in the file.
    fn with(self, value: u8) -> String {
        match self {
            Setting::Option => format!("--realtime-priority {value}"),
            Setting::Key => format!("[daemon] realtime_priority = {value}"),
        }
    }
}

/// Whether the loop goes realtime with these settings, and why.
pub fn plan(settings: &Settings) -> Option<Plan> {
    let setting = Setting::of(&settings.origin);
    let reason = settings.daemon.realtime_priority.choose(&settings.groups)?;
    let priority = reason.priority();
    Some(match reason {
        Reason::Configured(_) => Plan {
            priority,
            why: format!("({})", setting.name()),
            automatic: false,
            setting,
        },
        Reason::ShortInterval { group, interval } => Plan {
            priority,
            why: short_interval(group, interval, setting),
            automatic: true,
            setting,
        },
    })
}

fn short_interval(
    group: &GroupSettings,
    interval: std::time::Duration,
    setting: Setting,
) -> String {
    format!(
        "group {} advertises every {}, under {} ms ({}: the normal scheduler)",
        group.name,
        millis(interval),
        SHORT_INTERVAL.as_millis(),
        setting.with(0)
    )
}

/// Moves the loop to SCHED_FIFO as planned; whether it did. Either way the log says so: a
/// refusal names what is missing, and carpd goes on under the normal scheduler (failing over
/// late under load beats not failing over at all).
pub fn enter(plan: &Plan) -> bool {
    let Plan {
        priority,
        why,
        automatic,
        setting,
    } = plan;
    match crate::sys::realtime::enter(*priority) {
        Ok(()) => {
            let joint = if *automatic { ": " } else { " " };
            tracing::info!(
                "Event loop on SCHED_FIFO priority {priority}, memory locked{joint}{why}"
            );
            true
        }
        Err(e) if *automatic => {
            tracing::warn!(
                "Event loop left on the normal scheduler, where busy CPUs can delay adverts: {why}, and SCHED_FIFO priority {priority} was refused: {e}"
            );
            false
        }
        Err(e) => {
            tracing::error!(
                "{} not applied, running on the normal scheduler: {e}",
                setting.with(*priority)
            );
            false
        }
    }
}

/// The warning for a reload that brings a group advertising more often than every 100 ms to
/// a loop on the normal scheduler: the scheduling is chosen at start only.
pub fn after_reload(realtime: Realtime, running: bool, new: &Settings) -> Option<String> {
    if running || realtime != Realtime::Auto || new.daemon.realtime_priority != Realtime::Auto {
        return None;
    }
    match realtime.choose(&new.groups)? {
        Reason::ShortInterval { group, interval } => Some(format!(
            "The event loop stays on the normal scheduler until the next start, where busy CPUs can delay adverts: {}; carpd takes SCHED_FIFO for that only at start",
            short_interval(group, interval, Setting::of(&new.origin))
        )),
        Reason::Configured(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::scheduling::{millis, DEFAULT_PRIORITY};
    use carpd_proto::{CarpParams, Protocol, Vrrp3Params};

    fn settings(daemon: &str, advskew: u8) -> Settings {
        let text = format!(
            "[daemon]\n{daemon}\n[[group]]\nname = \"web\"\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.1/24\"]\npassword = \"pw\"\nadvbase = 0\nadvskew = {advskew}\n"
        );
        crate::settings::file::parse(std::path::Path::new("t.toml"), &text).unwrap()
    }

    #[test]
    fn the_log_names_the_group_and_how_to_say_otherwise() {
        let short = plan(&settings("", 1)).expect("3.9 ms: realtime");
        assert_eq!(short.priority, 10);
        assert!(short.automatic);
        assert_eq!(
            short.why,
            "group web advertises every 3.9 ms, under 100 ms ([daemon] realtime_priority = 0: the normal scheduler)"
        );
        assert_eq!(plan_of("realtime_priority = 0", 1), None);
        assert_eq!(plan_of("", 26), None, "101.6 ms: the normal scheduler");
        let set = plan(&settings("realtime_priority = 30", 26)).expect("set");
        assert_eq!((set.priority, set.automatic), (30, false));
        assert_eq!(set.why, "([daemon] realtime_priority)");
    }

    fn plan_of(daemon: &str, advskew: u8) -> Option<Plan> {
        plan(&settings(daemon, advskew))
    }

    #[test]
    fn a_reload_that_brings_a_short_interval_to_a_normal_loop_warns() {
        let fast = settings("", 1);
        let slow = settings("", 100);
        let warning = after_reload(Realtime::Auto, false, &fast).expect("warned");
        assert!(
            warning.contains("until the next start") && warning.contains("group web"),
            "{warning}"
        );
        assert_eq!(
            after_reload(Realtime::Auto, true, &fast),
            None,
            "realtime already"
        );
        assert_eq!(after_reload(Realtime::Auto, false, &slow), None);
        assert_eq!(after_reload(Realtime::Off, false, &fast), None, "0 was set");
        let off = settings("realtime_priority = 0", 1);
        assert_eq!(after_reload(Realtime::Auto, false, &off), None, "0 now set");
    }

    fn group(name: &str, protocol: Protocol) -> GroupSettings {
        let text = "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.1/24\"]\npassword = \"pw\"\n";
        let mut s = crate::settings::file::parse(std::path::Path::new("t.toml"), text).unwrap();
        let mut g = s.groups.remove(0);
        g.name = name.to_string();
        g.protocol = protocol;
        g
    }

    fn carp(advbase: u8, advskew: u8) -> Protocol {
        Protocol::Carp(CarpParams {
            advbase,
            advskew,
            deadratio: 3,
            broadcast: false,
        })
    }

    #[test]
    fn only_adverts_under_100_ms_make_the_loop_realtime_by_default() {
        let slow = group("slow", carp(1, 0));
        // advbase 0 advskew 25: 97.7 ms; advskew 26: 101.6 ms.
        let just_under = group("under", carp(0, 25));
        let just_over = group("over", carp(0, 26));
        let fastest = group("fastest", carp(0, 1));
        assert_eq!(Realtime::Auto.choose(std::slice::from_ref(&slow)), None);
        assert_eq!(
            Realtime::Auto.choose(&[slow.clone(), just_over.clone()]),
            None
        );
        let groups = [slow.clone(), just_under.clone(), fastest.clone()];
        let reason = Realtime::Auto.choose(&groups).expect("realtime");
        assert_eq!(reason.priority(), DEFAULT_PRIORITY);
        match reason {
            Reason::ShortInterval { group, interval } => {
                assert_eq!(group.name, "fastest", "the fastest group is named");
                assert_eq!(millis(interval), "3.9 ms");
            }
            other => panic!("{other:?}"),
        }
        // VRRPv3 at 0.1 s is not under 100 ms; 0.09 s is.
        let tenth = group(
            "v3",
            Protocol::Vrrp3(Vrrp3Params {
                interval_cs: 10,
                ..Default::default()
            }),
        );
        assert_eq!(Realtime::Auto.choose(std::slice::from_ref(&tenth)), None);
        let faster = group(
            "v3",
            Protocol::Vrrp3(Vrrp3Params {
                interval_cs: 9,
                ..Default::default()
            }),
        );
        assert!(Realtime::Auto.choose(&[faster]).is_some());
        // Set either way, the intervals do not matter.
        assert_eq!(Realtime::Off.choose(&groups), None);
        assert_eq!(
            Realtime::Priority(50).choose(std::slice::from_ref(&slow)),
            Some(Reason::Configured(50))
        );
        assert_eq!(
            Realtime::Auto.choose(&[]),
            None,
            "no group: nothing to hurry"
        );
    }
}
