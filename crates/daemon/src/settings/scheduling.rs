//! How the event loop is scheduled: `[daemon] realtime_priority` in a config file,
//! `--realtime-priority` on the command line, and without either the default that puts the
//! loop on SCHED_FIFO when a group advertises too often to wait behind busy CPUs.

use super::GroupSettings;
use std::time::Duration;

/// A group advertising more often than this puts the loop on SCHED_FIFO unless told otherwise:
/// its master's margin is then a few tens of milliseconds, about what a busy CPU's normal
/// scheduler can keep a woken process waiting.
pub const SHORT_INTERVAL: Duration = Duration::from_millis(100);

/// The SCHED_FIFO priority taken for short intervals: ahead of every normal process, below
/// the kernel's threaded interrupts (50) and other realtime services.
pub const DEFAULT_PRIORITY: u8 = 10;

/// What the settings say about the loop's scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Realtime {
    /// Nothing said: SCHED_FIFO at [`DEFAULT_PRIORITY`] when a group advertises more often
    /// than every [`SHORT_INTERVAL`], else the normal scheduler.
    #[default]
    Auto,
    /// 0: the normal scheduler, whatever the intervals.
    Off,
    /// 1 to 99: SCHED_FIFO at this priority, whatever the intervals.
    Priority(u8),
}

/// What is accepted, for the errors of both the key and the option.
pub const ACCEPTED: &str = "accepted 0 (the normal scheduler, even for adverts under 100 ms) or 1 to 99 (SCHED_FIFO priorities; keepalived's vrrp_rt_priority uses the same range); without it carpd takes SCHED_FIFO priority 10 when a group advertises more often than every 100 ms";

impl Realtime {
    /// The setting for a number given by the user: 0 or 1 to 99.
    pub fn from_number(n: i64) -> Result<Realtime, String> {
        match u8::try_from(n) {
            Ok(0) => Ok(Realtime::Off),
            Ok(p @ 1..=99) => Ok(Realtime::Priority(p)),
            _ => Err(ACCEPTED.to_string()),
        }
    }

    /// Whether the loop goes realtime with these groups, and why.
    pub fn choose(self, groups: &[GroupSettings]) -> Option<Reason<'_>> {
        match self {
            Realtime::Off => None,
            Realtime::Priority(priority) => Some(Reason::Configured(priority)),
            Realtime::Auto => fastest(groups)
                .filter(|(_, interval)| *interval < SHORT_INTERVAL)
                .map(|(group, interval)| Reason::ShortInterval { group, interval }),
        }
    }
}

/// The group that advertises most often, with its interval.
fn fastest(groups: &[GroupSettings]) -> Option<(&GroupSettings, Duration)> {
    groups
        .iter()
        .map(|g| (g, g.protocol.advert_interval(0)))
        .min_by_key(|(_, interval)| *interval)
}

/// Why the loop runs under SCHED_FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// The user set this priority.
    Configured(u8),
    /// Nothing was set and this group advertises this often (under [`SHORT_INTERVAL`]):
    /// [`DEFAULT_PRIORITY`].
    ShortInterval {
        /// the group advertising most often
        group: &'a GroupSettings,
        /// its advert interval
        interval: Duration,
    },
}

impl Reason<'_> {
    /// The SCHED_FIFO priority to take.
    pub fn priority(&self) -> u8 {
        match self {
            Reason::Configured(priority) => *priority,
            Reason::ShortInterval { .. } => DEFAULT_PRIORITY,
        }
    }
}

/// An interval for the log: "3.9 ms", "50.8 ms".
pub fn millis(interval: Duration) -> String {
    format!("{:.1} ms", interval.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_zero_to_99_and_nothing_else() {
        assert_eq!(Realtime::from_number(0), Ok(Realtime::Off));
        assert_eq!(Realtime::from_number(1), Ok(Realtime::Priority(1)));
        assert_eq!(Realtime::from_number(99), Ok(Realtime::Priority(99)));
        for bad in [-1, 100, 256, i64::MAX] {
            let e = Realtime::from_number(bad).unwrap_err();
            assert!(e.contains("accepted 0") && e.contains("1 to 99"), "{e}");
        }
    }
}
