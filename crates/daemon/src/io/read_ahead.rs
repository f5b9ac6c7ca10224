//! Frames read ahead of their turn: the loop reads a batch's frames a few at a time, hands
//! them out one by one in the order they came, and shows each once beforehand
//! ([`ReadAhead::fresh`]) so that the state of the groups they are for can be loaded from
//! memory together (see [`crate::sys::prefetch`]).

use crate::host::LinkId;
use carpd_proto::wire::ethernet::FrameBytes;
use std::collections::VecDeque;

/// Frames waiting for their turn, oldest first; the last `fresh` have not been shown.
#[derive(Debug, Default)]
pub struct ReadAhead {
    frames: VecDeque<(LinkId, FrameBytes)>,
    fresh: usize,
}

impl ReadAhead {
    /// Queues a frame that came on `link`, after the others.
    pub fn push(&mut self, link: LinkId, bytes: FrameBytes) {
        self.frames.push_back((link, bytes));
        self.fresh += 1;
    }

    /// The oldest frame, taken out (shown or not).
    pub fn pop(&mut self) -> Option<(LinkId, FrameBytes)> {
        let frame = self.frames.pop_front()?;
        self.fresh = self.fresh.min(self.frames.len());
        Some(frame)
    }

    /// The frames queued since the last call, oldest first; each is shown once.
    pub fn fresh(&mut self) -> impl Iterator<Item = (LinkId, &[u8])> {
        let start = self.frames.len() - self.fresh;
        self.fresh = 0;
        self.frames
            .range(start..)
            .map(|(link, bytes)| (*link, &bytes[..]))
    }

    /// Drops the frames of `link` (closed: no group is there to hear them).
    pub fn forget(&mut self, link: LinkId) {
        let shown = self.frames.len() - self.fresh;
        let mut at = 0;
        let mut fresh = self.fresh;
        self.frames.retain(|(l, _)| {
            let keep = *l != link;
            if !keep && at >= shown {
                fresh -= 1;
            }
            at += 1;
            keep
        });
        self.fresh = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> FrameBytes {
        FrameBytes::from_slice(&[n; 3])
    }

    fn shown(ahead: &mut ReadAhead) -> Vec<(LinkId, u8)> {
        ahead.fresh().map(|(l, b)| (l, b[0])).collect()
    }

    #[test]
    fn frames_come_out_in_order_and_each_is_shown_once_before() {
        let mut ahead = ReadAhead::default();
        for n in 1..=3 {
            ahead.push(LinkId(1), frame(n));
        }
        assert_eq!(ahead.pop().map(|(_, b)| b[0]), Some(1));
        assert_eq!(shown(&mut ahead), [(LinkId(1), 2), (LinkId(1), 3)]);
        assert!(shown(&mut ahead).is_empty(), "shown once");
        ahead.push(LinkId(2), frame(4));
        assert_eq!(shown(&mut ahead), [(LinkId(2), 4)]);
        // A frame taken before it was shown is not shown later.
        ahead.push(LinkId(2), frame(5));
        let order: Vec<u8> = std::iter::from_fn(|| ahead.pop().map(|(_, b)| b[0])).collect();
        assert_eq!(order, [2, 3, 4, 5]);
        assert!(shown(&mut ahead).is_empty());
    }

    #[test]
    fn a_closed_links_frames_are_dropped_and_the_rest_stay_shown_or_not() {
        let mut ahead = ReadAhead::default();
        ahead.push(LinkId(1), frame(1));
        ahead.push(LinkId(2), frame(2));
        assert_eq!(shown(&mut ahead).len(), 2);
        ahead.push(LinkId(2), frame(3));
        ahead.push(LinkId(1), frame(4));
        ahead.forget(LinkId(2));
        assert_eq!(shown(&mut ahead), [(LinkId(1), 4)], "1 was shown before");
        let order: Vec<(LinkId, u8)> =
            std::iter::from_fn(|| ahead.pop().map(|(l, b)| (l, b[0]))).collect();
        assert_eq!(order, [(LinkId(1), 1), (LinkId(1), 4)]);
    }
}
