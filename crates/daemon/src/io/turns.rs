//! Turns for the hook jobs carpd carries out itself (address changes over netlink): at most
//! a fixed number in flight across all groups, the others in line, first come first served.
//!
//! A takeover of thousands of groups asks for thousands of address changes at once. Each
//! one in flight is a task holding its netlink request (about 0.7 KiB); thousands of them
//! together grow the heap, and once freed they leave holes between the blocks the groups
//! keep, which the allocator cannot hand back. Such a job takes well under a millisecond,
//! and the kernel applies the changes one after the other anyway, so a job that waits for
//! a turn ends about when it would have. Scripts take no turn: one may run for seconds, and
//! no group waits for another's script.

use carpd_proto::RouterId;
use std::collections::VecDeque;

/// How many native jobs may be in flight at once, by default.
pub const TURNS: usize = 128;

/// The turns in use and the groups in line for one.
#[derive(Debug)]
pub struct Turns {
    limit: usize,
    in_flight: usize,
    /// groups whose runner asked for a turn and got none, in order
    line: VecDeque<RouterId>,
}

impl Default for Turns {
    fn default() -> Self {
        Turns::new(TURNS)
    }
}

impl Turns {
    /// At most `limit` turns at once (at least one).
    pub fn new(limit: usize) -> Self {
        Turns {
            limit: limit.max(1),
            in_flight: 0,
            line: VecDeque::new(),
        }
    }

    /// A turn for `router` when one is free and nobody is in line before it; otherwise
    /// `router` joins the line (its runner asks again only once [`Turns::next_in_line`]
    /// named it).
    pub fn take(&mut self, router: RouterId) -> bool {
        if self.in_flight < self.limit && self.line.is_empty() {
            self.in_flight += 1;
            true
        } else {
            self.line.push_back(router);
            false
        }
    }

    /// A job that held a turn ended (or a turn handed out was not needed).
    pub fn give_back(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 && self.line.is_empty() {
            // A burst is over: thousands of waiting groups keep no buffer.
            self.line = VecDeque::new();
        }
    }

    /// The first group in line, when a turn is free: the turn is its from now on (its runner
    /// starts with it, or gives it back when it has nothing left to run).
    pub fn next_in_line(&mut self) -> Option<RouterId> {
        if self.in_flight >= self.limit {
            return None;
        }
        let router = self.line.pop_front()?;
        self.in_flight += 1;
        Some(router)
    }

    /// Hands the free turns to the groups in line, in order: `resume` is called with each
    /// one named and the turns (its runner goes on, [`super::hooks::HookRunner::resume`]), and
    /// answers false for a group that is gone, whose turn is then given back.
    pub fn pass(&mut self, mut resume: impl FnMut(RouterId, &mut Turns) -> bool) {
        while let Some(router) = self.next_in_line() {
            if !resume(router, self) {
                self.give_back();
            }
        }
    }

    /// Turns in use.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Groups in line.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.line.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_go_first_come_first_served_and_nobody_jumps_the_line() {
        let mut turns = Turns::new(2);
        assert!(turns.take(RouterId(1)));
        assert!(turns.take(RouterId(2)));
        assert!(!turns.take(RouterId(3)));
        assert!(!turns.take(RouterId(4)));
        assert_eq!((turns.in_flight(), turns.waiting()), (2, 2));
        // No turn free: nobody is named.
        assert_eq!(turns.next_in_line(), None);
        turns.give_back();
        // A newcomer does not take the free turn ahead of those in line...
        assert!(!turns.take(RouterId(5)));
        // ...the first in line gets it.
        assert_eq!(turns.next_in_line(), Some(RouterId(3)));
        assert_eq!(turns.next_in_line(), None);
        turns.give_back();
        turns.give_back();
        assert_eq!(turns.next_in_line(), Some(RouterId(4)));
        assert_eq!(turns.next_in_line(), Some(RouterId(5)));
        assert_eq!((turns.in_flight(), turns.waiting()), (2, 0));
        turns.give_back();
        turns.give_back();
        assert_eq!((turns.in_flight(), turns.waiting()), (0, 0));
        // Free again: taken at once.
        assert!(turns.take(RouterId(6)));
    }

    #[test]
    fn a_limit_of_zero_still_gives_one_turn() {
        let mut turns = Turns::new(0);
        assert!(turns.take(RouterId(1)));
        assert!(!turns.take(RouterId(2)));
    }
}
