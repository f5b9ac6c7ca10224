//! A node driven by arbitrary inputs: packets (mutated valid adverts and raw bytes), timeouts,
//! link events, commands and hook completions in any order. Never panics; time never runs
//! backwards in what it asks for.
#![no_main]

use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use carpd_proto::{Command, HookId, Instant, Node, VrConfigBuilder};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;

fuzz_target!(|data: &[u8]| {
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    let mut node = Node::new();
    let mut cfg = VrConfigBuilder::new(7, Ipv4Addr::new(10, 0, 0, 1), vec![vip], b"pw");
    cfg.preempt = data.first().is_some_and(|b| b & 1 == 1);
    cfg.advbase = data.get(1).map_or(1, |b| b % 3);
    cfg.advskew = data.get(2).copied().unwrap_or(1).max(1);
    let Ok(config) = cfg.build() else { return };
    let router = node.add_router(1, config, Instant::ZERO, 1);
    let auth = Authenticator::new(b"pw", 7, &[vip]).unwrap();
    let mut now = 0u64;
    let mut ops = data.get(3..).unwrap_or(&[]).chunks(4);
    while let Some(op) = ops.next() {
        let [kind, a, b, c] = [op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&0), *op.get(3).unwrap_or(&0)];
        now += u64::from(a) * 10_000;
        let t = Instant::from_micros(now);
        match kind % 8 {
            0 => {
                let carp = CarpRepr { vhid: 7, advskew: b, demote: c % 3, advbase: a % 4, counter: u64::from(b) << 8 | u64::from(c), digest: auth.digest(u64::from(b) << 8 | u64::from(c)) };
                let src = Ipv4Addr::new(10, 0, 0, 2 + (c % 3));
                node.handle_packet(t, 1, &Advertisement::outgoing(src, DEFAULT_GROUP, 1, carp).emit());
            }
            1 => {
                let raw: Vec<u8> = ops.next().map(|x| x.to_vec()).unwrap_or_default();
                node.handle_packet(t, 1, &raw);
            }
            2 => node.handle_timeout(t),
            3 => node.handle_link(t, 1, b & 1 == 1),
            4 => node.handle_command(t, Command::Demote),
            5 => node.handle_command(t, Command::SetDemote(b)),
            6 => node.handle_hook_done(t, router, HookId(u64::from(b % 8))),
            _ => {
                if let Some(deadline) = node.poll_timeout() {
                    now = now.max(deadline.as_micros());
                    node.handle_timeout(Instant::from_micros(now));
                }
            }
        }
        while node.poll_action().is_some() {}
        if let Some(deadline) = node.poll_timeout() {
            // A deadline in the past is fine (due now); one absurdly far ahead is a bug.
            assert!(deadline.as_micros() <= now + 3_000_000_000, "deadline {deadline:?} at {now}");
        }
    }
});
