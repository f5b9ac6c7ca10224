//! A native group whose VIPs the kernel refuses: a master that cannot add its addresses must
//! not go on advertising (no host would serve the VIP and the peer would never know), and a
//! group that could not take them away must try again. No I/O here: the engine feeds in how
//! each native change went and asks when to try again.
//!
//! - An add that failed (the up hook, or putting back a removed VIP) is a fault with the
//!   cause `vip add failed: <error>`: the group goes to FAULT and bows out, so the peer takes
//!   over. After a back-off (1 s, doubling up to 60 s) the fault is lifted and the group
//!   competes again; an add that then succeeds resets the back-off.
//! - A removal that failed while leaving MASTER is tried again after the same back-off,
//!   as long as the group is not MASTER again, until it succeeds.

use carpd_proto::Instant;
use std::time::Duration;

/// The first wait before trying again.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait before trying again.
pub const LAST_RETRY: Duration = Duration::from_secs(60);

/// What a group knows of its failed VIP changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipRetry {
    /// the fault an add failure caused, while it lasts
    fault: Option<String>,
    /// when the fault is lifted for another try
    fault_until: Option<Instant>,
    /// the next wait after an add failure
    add_backoff: Duration,
    /// when the removal is tried again
    release_at: Option<Instant>,
    /// the next wait after a removal failure
    release_backoff: Duration,
}

impl Default for VipRetry {
    fn default() -> Self {
        VipRetry {
            fault: None,
            fault_until: None,
            add_backoff: FIRST_RETRY,
            release_at: None,
            release_backoff: FIRST_RETRY,
        }
    }
}

/// What is due at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    /// the add fault was lifted: the group competes again
    pub fault_lifted: bool,
    /// the removal is to be tried again
    pub release: bool,
}

impl VipRetry {
    /// An add failed with `error`: the fault's cause and how long until the next try.
    pub fn add_failed(&mut self, now: Instant, error: &str) -> Duration {
        let wait = self.add_backoff;
        self.fault = Some(format!("vip add failed: {error}"));
        self.fault_until = Some(now + wait);
        self.add_backoff = (wait * 2).min(LAST_RETRY);
        wait
    }

    /// An add went through: the back-off starts again from the first wait.
    pub fn add_succeeded(&mut self) {
        self.fault = None;
        self.fault_until = None;
        self.add_backoff = FIRST_RETRY;
    }

    /// A removal failed: how long until it is tried again.
    pub fn release_failed(&mut self, now: Instant) -> Duration {
        let wait = self.release_backoff;
        self.release_at = Some(now + wait);
        self.release_backoff = (wait * 2).min(LAST_RETRY);
        wait
    }

    /// A removal went through.
    pub fn release_succeeded(&mut self) {
        self.release_at = None;
        self.release_backoff = FIRST_RETRY;
    }

    /// The fault an add failure causes now, if any.
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    /// The next time something is due.
    pub fn next(&self) -> Option<Instant> {
        match (self.fault_until, self.release_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes what is due at `now`: a lifted fault keeps its back-off (the next failure waits
    /// longer); a due removal is forgotten until it fails again.
    pub fn take_due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        if self.fault_until.is_some_and(|t| t <= now) {
            self.fault = None;
            self.fault_until = None;
            due.fault_lifted = true;
        }
        if self.release_at.is_some_and(|t| t <= now) {
            self.release_at = None;
            due.release = true;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_add_failure_faults_with_its_cause_and_backs_off_up_to_a_minute() {
        let mut r = VipRetry::default();
        let t0 = Instant::from_secs(10);
        assert_eq!(
            r.add_failed(t0, "Operation not permitted (os error 1)"),
            FIRST_RETRY
        );
        assert_eq!(
            r.fault(),
            Some("vip add failed: Operation not permitted (os error 1)")
        );
        assert_eq!(r.next(), Some(t0 + FIRST_RETRY));
        assert_eq!(r.take_due(t0), Due::default(), "not yet");
        let lifted = r.take_due(t0 + FIRST_RETRY);
        assert!(lifted.fault_lifted && !lifted.release);
        assert_eq!((r.fault(), r.next()), (None, None));
        let waits: Vec<u64> = (0..8).map(|_| r.add_failed(t0, "x").as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        r.add_succeeded();
        assert_eq!(
            r.add_failed(t0, "x"),
            FIRST_RETRY,
            "a success resets the back-off"
        );
    }

    #[test]
    fn a_removal_failure_is_tried_again_until_it_succeeds() {
        let mut r = VipRetry::default();
        let t0 = Instant::from_secs(10);
        assert_eq!(r.release_failed(t0), FIRST_RETRY);
        assert_eq!(r.fault(), None, "a failed removal is no fault");
        assert_eq!(r.next(), Some(t0 + FIRST_RETRY));
        assert!(r.take_due(t0 + FIRST_RETRY).release);
        assert_eq!(r.next(), None);
        assert_eq!(r.release_failed(t0), Duration::from_secs(2));
        r.release_succeeded();
        assert_eq!((r.next(), r.release_failed(t0)), (None, FIRST_RETRY));
    }
}
