//! A backup whose master-down deadline fell due while the whole machine was paused (a
//! virtual machine's CPUs descheduled by the hypervisor, a kernel stall): the master was
//! paused by the same pause, so its silence says nothing about it yet.
//!
//! When the loop wakes later than its deadline by a share of the advert interval it could not
//! have taken in normal scheduling, a backup whose master-down deadline is due waits one more
//! of the master's advert intervals, once, before taking over: a live master sends its overdue
//! advert as soon as it runs again. A master that really died in the pause is replaced one
//! interval later than otherwise.

use super::{Phase, VirtualRouter};
use crate::action::StateChangeReason;
use crate::time::Instant;
use core::time::Duration;

/// The share of one advert interval that the loop's lateness must reach to count as a pause:
/// 1/16 (244 µs at CARP's fastest 3.9 ms, 62 ms at advbase 1), well above the wake-up latency
/// of a loop on its own CPU and far below any interval.
const PAUSE_SHARE: u32 = 16;

impl VirtualRouter {
    /// The loop woke `late` after the deadline it slept towards: when this backup's
    /// master-down deadline fell due by `now` and `late` is long enough to be a pause
    /// ([`PAUSE_SHARE`]), the deadline moves to one advert interval of the master from now
    /// (the master-down interval's third), once per deadline; not after a VRRPv3 master's
    /// priority 0 (it left). Returns the wait granted.
    pub fn defer_master_down(&mut self, now: Instant, late: Duration) -> Option<Duration> {
        let Phase::Backup {
            master_down_at: Some(down),
            hold_until,
        } = self.phase
        else {
            return None;
        };
        let wait = self.master_down_interval() / 3;
        // A master that said it leaves (VRRPv3 priority 0) is not waited for: it is gone.
        if down > now
            || late < wait / PAUSE_SHARE
            || self.stall_deferred == Some(down)
            || self.down_reason != StateChangeReason::MasterDown
        {
            return None;
        }
        let until = now + wait;
        self.phase = Phase::Backup {
            master_down_at: Some(until),
            hold_until,
        };
        self.stall_deferred = Some(until);
        Some(wait)
    }
}
