//! A node driven by arbitrary inputs: packets (mutated valid CARP, VRRPv3 and VRRPv2 adverts
//! and raw bytes, over IPv4 and IPv6), timeouts, link events, commands and hook completions in
//! any order, with a CARP router, a VRRPv3 router (with or without vrrp2_compat) and a VRRPv2
//! router on one link. Never panics; time never runs
//! backwards in what it asks for.
#![no_main]

use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use carpd_proto::advert::ipv4_packet;
use carpd_proto::wire::vrrp2::{Vrrp2Auth, Vrrp2Repr};
use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr, GROUP_V4, GROUP_V6};
use carpd_proto::{CarpParams, Command, HookId, Instant, Node, Protocol, VrConfigBuilder, Vrrp2Params, Vrrp3Params};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    let mut node = Node::new();
    let mut cfg = VrConfigBuilder::new(7, Ipv4Addr::new(10, 0, 0, 1), vec![vip], b"pw");
    cfg.preempt = data.first().is_some_and(|b| b & 1 == 1);
    cfg.protocol = Protocol::Carp(CarpParams {
        advbase: data.get(1).map_or(1, |b| b % 3),
        advskew: data.get(2).copied().unwrap_or(1).max(1),
        ..CarpParams::default()
    });
    let Ok(config) = cfg.build() else { return };
    let router = node.add_router(1, config, Instant::ZERO, 1);
    // With vrrp2_compat the interval is whole seconds (1 to 40 s).
    let compat = data.first().is_some_and(|b| b & 2 == 2);
    let interval = data.get(2).copied().unwrap_or(1);
    let params = Vrrp3Params {
        priority: data.get(1).copied().unwrap_or(100).max(1),
        interval_cs: if compat { u16::from(interval % 40 + 1) * 100 } else { u16::from(interval.max(1)) },
        vrrp2_compat: compat,
        ..Vrrp3Params::default()
    };
    let mut v3 = VrConfigBuilder::vrrp3(8, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), vec![IpAddr::V4(vip)], params);
    v3.password = if params.vrrp2_compat { b"pw".to_vec() } else { Vec::new() };
    node.add_router(1, v3.build().expect("valid VRRPv3 config"), Instant::ZERO, 2);
    let v2_params = Vrrp2Params { priority: data.get(1).copied().unwrap_or(100).max(1), interval_s: 1 };
    let mut v2 = VrConfigBuilder::vrrp2(9, Ipv4Addr::new(10, 0, 0, 1), vec![vip], v2_params);
    v2.password = b"pw".to_vec();
    node.add_router(1, v2.build().expect("valid VRRPv2 config"), Instant::ZERO, 3);
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
                if b & 1 == 0 {
                    node.handle_packet(t, 1, &raw);
                } else {
                    let from = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(c));
                    node.handle_packet_v6(t, 1, from, GROUP_V6, 255 - (b >> 7), &raw);
                }
            }
            2 => node.handle_timeout(t),
            3 if c & 1 == 0 => node.handle_link(t, 1, b & 1 == 1),
            3 => {
                // A VRRPv3 advert for VRID 8 (or a neighbour) with any priority and interval.
                let src = Ipv4Addr::new(10, 0, 0, 2 + (c % 3));
                let repr = Vrrp3Repr { vrid: 7 + (c >> 6), priority: b, interval_cs: u16::from(a) + 1, addresses: vec![IpAddr::V4(vip)] };
                let variant = if c & 2 == 0 { Checksum::PseudoHeader } else { Checksum::Rfc9568 };
                let vrrp = repr.emit(IpAddr::V4(src), IpAddr::V4(GROUP_V4), variant);
                node.handle_packet(t, 1, &ipv4_packet(src, GROUP_V4, 255, 1, &vrrp));
            }
            4 => node.handle_command(t, Command::Demote),
            5 => node.handle_command(t, Command::SetDemote(b)),
            6 => node.handle_hook_done(t, router, HookId(u64::from(b % 8))),
            7 if c & 4 == 0 => {
                // A VRRPv2 advert for VRID 8 or 9, with the password or without one.
                let src = Ipv4Addr::new(10, 0, 0, 2 + (c % 3));
                let auth = if c & 8 == 0 { Vrrp2Auth::from_password(b"pw").unwrap() } else { Vrrp2Auth::None };
                let vrrp = Vrrp2Repr::new(8 + (c >> 7), b, a % 3 + 1, vec![vip], auth).emit();
                node.handle_packet(t, 1, &ipv4_packet(src, GROUP_V4, 255, 1, &vrrp));
            }
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
