//! A pause of the whole machine seen by the loop: backups give their master one more advert
//! interval before taking over ([`carpd_proto::Node::stalled`]), and say so.

use super::Engine;
use carpd_proto::Instant;
use std::time::Duration;

impl Engine {
    /// The loop woke `late` after the deadline it slept towards; the timer input follows.
    pub(super) fn stalled(&mut self, now: Instant, late: Duration) {
        for (router, wait) in self.node.stalled(now, late) {
            tracing::warn!(
                "{}Woke {:.1} ms after the deadline (the machine was paused): the master may \
                 have been paused too, waiting {:.1} ms more for its advert before taking over",
                self.tag(router),
                late.as_secs_f64() * 1000.0,
                wait.as_secs_f64() * 1000.0,
            );
        }
    }
}
