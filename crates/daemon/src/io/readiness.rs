//! Which of the loop's quiet sources (signals, channels) were woken since they were last
//! polled, so that a pass over the sources polls those and not all of them. An idle master
//! wakes once per advert for its timer; without this, each wake-up also polled six signal
//! streams and five channels, twice, from cold caches.
//!
//! Each source is polled with a waker of its own, which marks the source and then wakes the
//! loop's task. A pass takes the marks; a source it polls that has nothing registers its waker
//! again, one that gives something stays marked (it may hold more), and one the pass did not
//! reach keeps its mark for the next pass.

use futures::task::AtomicWaker;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

/// The sources polled only when woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// the six signal streams, together
    Signals,
    /// hook jobs done
    Done,
    /// tracker observations
    Observations,
    /// interface and address events
    NetEvents,
    /// control socket calls
    Calls,
    /// metrics scrapes
    Scrapes,
}

/// Every source, in declaration order: a source's waker is `wakers[source as usize]`.
const SOURCES: [Source; 6] = [
    Source::Signals,
    Source::Done,
    Source::Observations,
    Source::NetEvents,
    Source::Calls,
    Source::Scrapes,
];

impl Source {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// What the sources' wakers and the loop share.
#[derive(Debug, Default)]
struct Shared {
    /// the sources woken and not yet polled, one bit each
    woken: AtomicU32,
    /// the loop's task, woken after a source is marked
    task: AtomicWaker,
}

/// One source's waker.
struct SourceWaker {
    shared: Arc<Shared>,
    bit: u32,
}

impl Wake for SourceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.woken.fetch_or(self.bit, Ordering::AcqRel);
        self.shared.task.wake();
    }
}

/// The marks and the wakers of the quiet sources.
pub struct Readiness {
    shared: Arc<Shared>,
    wakers: [Waker; SOURCES.len()],
}

impl Readiness {
    /// Every source marked: the first pass polls each one, which registers its waker.
    pub fn new() -> Readiness {
        let shared = Arc::new(Shared::default());
        shared.woken.store(u32::MAX, Ordering::Release);
        let wakers = SOURCES.map(|source| {
            Waker::from(Arc::new(SourceWaker {
                shared: Arc::clone(&shared),
                bit: source.bit(),
            }))
        });
        Readiness { shared, wakers }
    }

    /// Starts a pass of the loop's task `cx`: takes the marks.
    pub fn pass(&self, cx: &Context<'_>) -> Pass<'_> {
        // Registered before the marks are taken: a wake in between marks a source this pass
        // does not see, and wakes the task for the next one.
        self.shared.task.register(cx.waker());
        Pass {
            readiness: self,
            left: self.shared.woken.swap(0, Ordering::AcqRel),
        }
    }
}

/// One pass over the quiet sources; the marks it did not take go back when it ends.
pub struct Pass<'a> {
    readiness: &'a Readiness,
    left: u32,
}

impl<'a> Pass<'a> {
    /// The context to poll `source` with when it was woken since its last poll; `None`: it
    /// has nothing new.
    pub fn take(&mut self, source: Source) -> Option<Context<'a>> {
        let bit = source.bit();
        if self.left & bit == 0 {
            return None;
        }
        self.left &= !bit;
        Some(Context::from_waker(&self.readiness.wakers[source as usize]))
    }

    /// `source` gave something and may hold more: the next pass polls it again.
    pub fn again(&mut self, source: Source) {
        self.left |= source.bit();
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.left != 0 {
            self.readiness
                .shared
                .woken
                .fetch_or(self.left, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;
    use tokio::sync::mpsc;

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_source_is_polled_when_woken_and_until_it_is_empty() {
        let count = Arc::new(Count(Default::default()));
        let task = Waker::from(Arc::clone(&count));
        let cx = Context::from_waker(&task);
        let readiness = Readiness::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();

        // The first pass sees every source; the empty channel registers its waker.
        let mut pass = readiness.pass(&cx);
        let mut source_cx = pass
            .take(Source::Calls)
            .expect("first pass polls every source");
        assert!(rx.poll_recv(&mut source_cx).is_pending());
        drop(pass);
        // Nothing sent: the other sources kept their marks (never taken), Calls did not.
        let mut pass = readiness.pass(&cx);
        assert!(pass.take(Source::Calls).is_none(), "not woken: not polled");
        assert!(pass.take(Source::Done).is_some(), "untaken marks stay");
        drop(pass);
        let mut pass = readiness.pass(&cx);
        assert!(pass.take(Source::Done).is_none());
        drop(pass);

        // Two sends wake the task once the channel's waker runs, and mark Calls.
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert!(
            count.0.load(Ordering::SeqCst) >= 1,
            "the loop's task was woken"
        );
        let mut pass = readiness.pass(&cx);
        let mut source_cx = pass.take(Source::Calls).expect("woken");
        assert_eq!(rx.poll_recv(&mut source_cx), Poll::Ready(Some(1)));
        pass.again(Source::Calls);
        drop(pass);
        let mut pass = readiness.pass(&cx);
        let mut source_cx = pass.take(Source::Calls).expect("gave one: polled again");
        assert_eq!(rx.poll_recv(&mut source_cx), Poll::Ready(Some(2)));
        pass.again(Source::Calls);
        drop(pass);
        let mut pass = readiness.pass(&cx);
        let mut source_cx = pass.take(Source::Calls).expect("polled until empty");
        assert!(rx.poll_recv(&mut source_cx).is_pending());
        drop(pass);
        let mut pass = readiness.pass(&cx);
        assert!(pass.take(Source::Calls).is_none(), "empty and registered");
    }

    #[test]
    fn each_source_sits_at_its_own_index() {
        for (index, source) in SOURCES.iter().enumerate() {
            assert_eq!(*source as usize, index, "{source:?}");
        }
    }

    #[test]
    fn a_pass_that_ends_early_gives_back_the_marks_it_did_not_take() {
        let task = Waker::noop();
        let cx = Context::from_waker(task);
        let readiness = Readiness::new();
        let mut pass = readiness.pass(&cx);
        assert!(pass.take(Source::Signals).is_some());
        drop(pass);
        let mut pass = readiness.pass(&cx);
        assert!(
            pass.take(Source::Signals).is_none(),
            "taken, not woken since"
        );
        for source in &SOURCES[1..] {
            assert!(pass.take(*source).is_some(), "{source:?} kept its mark");
        }
    }
}
