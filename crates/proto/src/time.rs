//! Time as the core sees it: microseconds since an arbitrary epoch chosen by the driver.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in microseconds since an epoch the driver chooses (the daemon uses its
/// start on the monotonic clock; the simulator uses zero).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis * 1000)
    }

    /// An instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs * 1_000_000)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `duration` before `self`, the epoch at the earliest.
    pub fn saturating_sub(self, duration: Duration) -> Instant {
        Instant(
            self.0
                .saturating_sub(duration.as_micros().min(u64::MAX as u128) as u64),
        )
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(rhs.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// One advertisement interval: `advbase + advskew/256` seconds, truncated to the microsecond
/// as ucarp does (`advskew * 1000000 / 256`).
pub fn advert_interval(advbase: u8, advskew: u8) -> Duration {
    Duration::from_micros(u64::from(advbase) * 1_000_000 + u64::from(advskew) * 1_000_000 / 256)
}

/// How long a backup waits without hearing the master before it takes over.
///
/// ucarp carp.c carp_setrun: `deadratio × advbase + advskew/256` (the skew is not multiplied).
/// For advbase 0 that leaves the ratio without effect and a backup that times out after one
/// skew, so carpd uses `deadratio × advskew/256` there (docs/protocol.md §6, "Master-down interval").
pub fn master_down_interval(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    let skew = u64::from(advskew) * 1_000_000 / 256;
    let micros = if advbase == 0 {
        u64::from(deadratio) * skew
    } else {
        u64::from(deadratio) * u64::from(advbase) * 1_000_000 + skew
    };
    Duration::from_micros(micros)
}

/// A VRRPv3 interval given in centiseconds.
pub fn centiseconds(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// VRRPv3 `Skew_Time = ((256 − priority) × Master_Adver_Interval) / 256` (RFC 9568 §6.1),
/// to the microsecond: the more preferred a backup, the sooner it takes over.
pub fn vrrp3_skew_time(priority: u8, master_interval: Duration) -> Duration {
    let micros = master_interval.as_micros().min(u128::from(u64::MAX)) as u64;
    Duration::from_micros((256 - u64::from(priority)) * micros / 256)
}

/// VRRPv3 `Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time`.
pub fn vrrp3_master_down_interval(priority: u8, master_interval: Duration) -> Duration {
    3 * master_interval + vrrp3_skew_time(priority, master_interval)
}

/// VRRPv2 `Skew_Time = (256 − Priority) / 256` seconds (RFC 3768 §6.1: not scaled by the
/// interval, unlike VRRPv3; keepalived 2.2.7 times a version 2 instance so).
pub fn vrrp2_skew_time(priority: u8) -> Duration {
    vrrp3_skew_time(priority, Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_match_ucarp_arithmetic() {
        assert_eq!(advert_interval(1, 0), Duration::from_secs(1));
        assert_eq!(advert_interval(1, 100), Duration::from_micros(1_390_625));
        assert_eq!(advert_interval(0, 30), Duration::from_micros(117_187));
        assert_eq!(master_down_interval(1, 0, 3), Duration::from_secs(3));
        assert_eq!(
            master_down_interval(1, 50, 3),
            Duration::from_micros(3_195_312)
        );
        assert_eq!(
            master_down_interval(0, 13, 3),
            Duration::from_micros(3 * 50_781)
        );
    }

    #[test]
    fn vrrp3_timers_follow_rfc_9568() {
        assert_eq!(centiseconds(5), Duration::from_millis(50));
        // priority 200 at 1 s: skew 56/256 s = 218 750 µs, down 3.218 750 s
        let second = Duration::from_secs(1);
        assert_eq!(vrrp3_skew_time(200, second), Duration::from_micros(218_750));
        assert_eq!(
            vrrp3_master_down_interval(200, second),
            Duration::from_micros(3_218_750)
        );
        assert_eq!(vrrp3_skew_time(255, second), Duration::from_micros(3_906));
        assert_eq!(vrrp3_skew_time(0, second), second);
        // VRRPv2: the skew does not grow with the interval.
        assert_eq!(vrrp2_skew_time(100), Duration::from_micros(609_375));
        assert_eq!(vrrp2_skew_time(200), vrrp3_skew_time(200, second));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_secs(2);
        assert_eq!(t - Instant::from_secs(3), Duration::ZERO);
        assert_eq!(
            t + Duration::from_millis(5),
            Instant::from_micros(2_005_000)
        );
        assert_eq!(format!("{t:?}"), "2.000000s");
    }
}
