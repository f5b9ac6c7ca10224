//! The loop's one deadline, on a timerfd armed at an absolute time of the monotonic clock.
//!
//! tokio's timer wheel keeps a far deadline in a coarse slot and wakes the thread at that
//! slot's start to move it to a finer one (a deadline 1 s away costs two or three wake-ups),
//! and an earlier deadline registered from the loop wakes it once more through its eventfd.
//! An idle master at advbase 1 woke about 3.2 times a second for its one advert. The kernel
//! wakes a timerfd once, when the deadline is due, to the microsecond rather than tokio's
//! millisecond.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::{clock_gettime, ClockId as Clock};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// A timerfd that owns its descriptor from creation to drop.
struct Source(TimerFd);

impl AsRawFd for Source {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl super::OwnedSocket for Source {}

/// The monotonic clock now, as a duration since its (boot-time) zero.
pub fn monotonic_now() -> Duration {
    clock_gettime(Clock::CLOCK_MONOTONIC).map_or(Duration::ZERO, Duration::from)
}

/// How far before a new deadline an armed timer is left as it is (see [`DeadlineTimer::arm`]).
const KEEP_EARLIER: Duration = Duration::from_millis(10);

/// One deadline the loop waits for; re-armed when it has fired, comes earlier, or moves
/// back by more than [`KEEP_EARLIER`].
pub struct DeadlineTimer {
    fd: AsyncFd<Source>,
    armed: Option<Duration>,
}

impl DeadlineTimer {
    /// A disarmed timer registered with the reactor.
    pub fn new() -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(DeadlineTimer {
            fd: super::register(Source(fd))?,
            armed: None,
        })
    }

    /// Arms the timer to fire by `at` (monotonic time; in the past fires at once), or
    /// disarms it. A timer already armed up to [`KEEP_EARLIER`] before `at` stays so: should
    /// it fire, the loop finds nothing due and arms it again. With thousands of groups the
    /// earliest deadline moves back by a little at each advert a backup hears, and then
    /// costs no system call; one group's moves by a whole interval and re-arms, so that it
    /// never wakes early.
    pub fn arm(&mut self, at: Option<Duration>) -> io::Result<()> {
        match (at, self.armed) {
            (None, None) => return Ok(()),
            (Some(at), Some(armed)) if armed <= at && at - armed <= KEEP_EARLIER => return Ok(()),
            _ => {}
        }
        let timer = &self.fd.get_ref().0;
        match at {
            // A zero expiry would disarm: the earliest real time is one nanosecond.
            Some(at) => timer.set(
                Expiration::OneShot(TimeSpec::from_duration(at.max(Duration::from_nanos(1)))),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )?,
            None => timer.unset()?,
        }
        self.armed = at;
        Ok(())
    }

    /// The instant (monotonic time) it is armed for, if armed.
    pub fn armed(&self) -> Option<Duration> {
        self.armed
    }

    /// Waits until the armed deadline is due (forever while disarmed); the timer is then
    /// disarmed. Cancel-safe: dropped before it is due, the timer stays armed.
    #[cfg(test)]
    pub async fn expired(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_expired(cx)).await
    }

    /// Whether the armed deadline is due (the timer is then disarmed); `cx` is woken when it
    /// becomes due otherwise.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let mut count = [0u8; 8];
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut count).map_err(io::Error::from)
            }) {
                Ok(Ok(_)) => {
                    // Nothing more to read until it is armed again and expires, which the
                    // reactor reports afresh: no second read to find that out.
                    guard.clear_ready();
                    self.armed = None;
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Readiness was stale (re-armed since): wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn fires_at_the_deadline_once_and_not_when_disarmed() {
        let mut timer = DeadlineTimer::new().expect("timerfd");
        let start = monotonic_now();
        timer
            .arm(Some(start + Duration::from_millis(30)))
            .expect("arm");
        timer.expired().await.expect("expired");
        let waited = monotonic_now() - start;
        assert!(
            waited >= Duration::from_millis(30),
            "fired early: {waited:?}"
        );

        // Disarmed after firing: nothing more arrives.
        let quiet = tokio::time::timeout(Duration::from_millis(50), timer.expired()).await;
        assert!(quiet.is_err(), "a disarmed timer fired");

        // Re-armed later, then moved earlier: the earlier deadline wins.
        let now = monotonic_now();
        timer.arm(Some(now + Duration::from_secs(10))).expect("arm");
        timer
            .arm(Some(now + Duration::from_millis(5)))
            .expect("re-arm");
        tokio::time::timeout(Duration::from_secs(2), timer.expired())
            .await
            .expect("the earlier deadline fired")
            .expect("expired");

        // Armed, then pushed back by less than KEEP_EARLIER: it fires at the first deadline,
        // and only once.
        let now = monotonic_now();
        timer
            .arm(Some(now + Duration::from_millis(20)))
            .expect("arm");
        timer
            .arm(Some(now + Duration::from_millis(25)))
            .expect("a little later");
        assert_eq!(
            timer.armed,
            Some(now + Duration::from_millis(20)),
            "left as armed"
        );
        let fired = tokio::time::timeout(Duration::from_secs(2), timer.expired())
            .await
            .expect("the first deadline fired");
        fired.expect("expired");
        let quiet = tokio::time::timeout(Duration::from_millis(50), timer.expired()).await;
        assert!(quiet.is_err(), "fired twice");

        // Pushed back by more: re-armed, it does not fire at the first deadline.
        let now = monotonic_now();
        timer
            .arm(Some(now + Duration::from_millis(20)))
            .expect("arm");
        timer
            .arm(Some(now + Duration::from_secs(10)))
            .expect("later");
        assert_eq!(timer.armed, Some(now + Duration::from_secs(10)), "re-armed");
        let quiet = tokio::time::timeout(Duration::from_millis(80), timer.expired()).await;
        assert!(quiet.is_err(), "woke at the deadline it was moved from");

        // A deadline in the past fires at once; disarming before it is read stops it.
        timer
            .arm(Some(Duration::from_nanos(1)))
            .expect("arm in the past");
        tokio::time::timeout(Duration::from_secs(2), timer.expired())
            .await
            .expect("a past deadline fired")
            .expect("expired");
        timer
            .arm(Some(monotonic_now() + Duration::from_millis(20)))
            .expect("arm");
        timer.arm(None).expect("disarm");
        let quiet = tokio::time::timeout(Duration::from_millis(60), timer.expired()).await;
        assert!(quiet.is_err(), "a disarmed timer fired");
    }
}
