//! The counters of the last CARP adverts a router accepted, to drop exact replays (ucarp
//! accepts any counter; carpd accepts any but one it has just seen, docs/protocol.md §3).
//!
//! The window is allocated at the first advert heard: a master that hears no one, and every
//! VRRP router, carries one pointer instead of the window's 256 bytes.

/// How many recent counters a router remembers to drop exact replays.
pub(super) const REPLAY_WINDOW: usize = 32;

/// The last [`REPLAY_WINDOW`] counters accepted (none until the first).
#[derive(Debug, Default)]
pub(super) struct Replays(Option<Box<Window>>);

#[derive(Debug)]
struct Window {
    counters: [u64; REPLAY_WINDOW],
    /// how many of `counters` hold a counter (the window fills up once)
    len: u8,
    /// where the next counter goes
    next: u8,
}

impl Replays {
    /// Whether `counter` is none of the last ones accepted; it is then remembered as the
    /// latest (the oldest forgotten once the window is full).
    pub(super) fn fresh(&mut self, counter: u64) -> bool {
        let w = self.0.get_or_insert_with(|| {
            Box::new(Window {
                counters: [0; REPLAY_WINDOW],
                len: 0,
                next: 0,
            })
        });
        if w.counters[..usize::from(w.len)].contains(&counter) {
            return false;
        }
        w.counters[usize::from(w.next)] = counter;
        w.len = w.len.max(w.next + 1);
        w.next = ((usize::from(w.next) + 1) % REPLAY_WINDOW) as u8;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_refused_while_it_is_among_the_last_ones() {
        let mut replays = Replays::default();
        assert!(
            replays.0.is_none(),
            "nothing allocated before the first advert"
        );
        assert!(replays.fresh(0), "0 is a counter like any other");
        assert!(!replays.fresh(0));
        for c in 1..REPLAY_WINDOW as u64 {
            assert!(replays.fresh(c));
        }
        // The window is full: 0 is still in it, until one more counter pushes it out.
        assert!(!replays.fresh(0));
        assert!(!replays.fresh(REPLAY_WINDOW as u64 - 1));
        assert!(replays.fresh(1_000));
        assert!(
            replays.fresh(0),
            "forgotten after {REPLAY_WINDOW} newer ones"
        );
        assert!(!replays.fresh(1_000));
        assert!(replays.fresh(1), "1 was pushed out by 0");
    }
}
