//! The VRRPv3 router with a fake clock: RFC 9568 timers, election and priority 0, exact to
//! the microsecond, through the same [`Node`] that routes CARP.

use carpd_proto::advert::ipv4_packet;
use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr, GROUP_V4, GROUP_V6};
use carpd_proto::{
    Action, Command, Destination, DropReason, HookId, Instant, Node, ProtocolKind, RouterId, State,
    StateChangeReason, VrConfigBuilder, Vrrp3Params,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 150);
const ME: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 12);
const LINK: u32 = 1;

fn at(micros: u64) -> Instant {
    Instant::from_micros(micros)
}

fn config(priority: u8, interval_cs: u16) -> VrConfigBuilder {
    VrConfigBuilder::vrrp3(
        50,
        IpAddr::V4(ME),
        vec![IpAddr::V4(VIP)],
        Vrrp3Params {
            priority,
            interval_cs,
            ..Vrrp3Params::default()
        },
    )
}

/// An advert from `source` at `priority`, 1 s, with the IPv4 checksum `variant`.
fn advert(source: Ipv4Addr, priority: u8, interval_cs: u16, variant: Checksum) -> Vec<u8> {
    let repr = Vrrp3Repr {
        vrid: 50,
        priority,
        interval_cs,
        addresses: vec![IpAddr::V4(VIP)],
    };
    let vrrp = repr.emit(IpAddr::V4(source), IpAddr::V4(GROUP_V4), variant);
    ipv4_packet(source, GROUP_V4, 255, 1, &vrrp).into_vec()
}

/// What came out, adverts decoded to their priority.
#[derive(Debug, PartialEq, Eq)]
enum A {
    Changed(State, State, StateChangeReason),
    Hook,
    Cancel,
    Sent(u8),
    Announce,
    Dropped(DropReason),
    /// a disagreeing advert: its sorted addresses when they differ, its interval when it does
    Mismatch(Option<Vec<IpAddr>>, Option<u16>),
}

fn summarise(node: &mut Node) -> Vec<A> {
    std::iter::from_fn(|| node.poll_action())
        .map(|out| match out.action {
            Action::StateChanged { from, to, reason } => A::Changed(from, to, reason),
            Action::RunHook { .. } => A::Hook,
            Action::CancelHook { .. } => A::Cancel,
            Action::Send {
                destination,
                packet,
            } => {
                assert_eq!(destination, Destination::Multicast(IpAddr::V4(GROUP_V4)));
                let (ip, vrrp) = Ipv4Repr::parse(&packet).expect("own packet parses");
                assert_eq!((ip.ttl, ip.protocol, ip.source), (255, 112, ME));
                let (repr, variant) = Vrrp3Repr::parse(vrrp, IpAddr::V4(ME), IpAddr::V4(GROUP_V4))
                    .expect("own advert");
                assert_eq!(variant, Checksum::PseudoHeader);
                assert_eq!(repr.addresses, vec![IpAddr::V4(VIP)]);
                A::Sent(repr.priority)
            }
            Action::Announce { vip } => {
                assert_eq!(vip, IpAddr::V4(VIP));
                A::Announce
            }
            Action::Dropped { reason, .. } => A::Dropped(reason),
            Action::Mismatch {
                addresses,
                interval_cs,
                ..
            } => A::Mismatch(addresses, interval_cs),
        })
        .collect()
}

/// A node with one VRRPv3 router started at 0, its start-up actions drained.
fn node(b: VrConfigBuilder) -> (Node, RouterId) {
    let mut node = Node::new();
    let id = node.add_router(LINK, b.build().unwrap(), Instant::ZERO, 1);
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Init, State::Backup, StateChangeReason::Startup),
            A::Hook
        ]
    );
    (node, id)
}

#[test]
fn a_lone_backup_becomes_master_after_three_intervals_and_its_skew() {
    // priority 200 at 0.05 s: Skew_Time = 56 × 50 ms / 256 = 10 937 µs.
    let (mut node, _) = node(config(200, 5));
    assert_eq!(node.poll_timeout(), Some(at(150_000 + 10_937)));
    node.handle_timeout(at(160_937));
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterDown),
            A::Hook,
            A::Sent(200)
        ]
    );
    // Adverts every 50 ms from then on.
    assert_eq!(node.poll_timeout(), Some(at(210_937)));
    node.handle_timeout(at(210_937));
    assert_eq!(summarise(&mut node), [A::Sent(200)]);
}

#[test]
fn a_backup_times_the_master_by_the_masters_interval_and_accepts_both_checksums() {
    let (mut node, id) = node(config(100, 100));
    // keepalived's variant, at 0.5 s: the master-down interval follows it
    // (3 × 0.5 s + 156/256 × 0.5 s = 1 804 687 µs).
    node.handle_packet(
        at(1_000),
        LINK,
        &advert(PEER, 200, 50, Checksum::PseudoHeader),
    );
    // Used, and reported: its interval is not this group's.
    assert_eq!(summarise(&mut node), [A::Mismatch(None, Some(50))]);
    assert_eq!(node.router(id).unwrap().stats().advert_mismatches, 1);
    assert_eq!(node.poll_timeout(), Some(at(1_000 + 1_804_687)));
    let vr = node.router(id).unwrap();
    assert_eq!(vr.master(), Some(IpAddr::V4(PEER)));
    assert_eq!(vr.peer_checksum(), Some(Checksum::PseudoHeader));
    // An RFC 9568 peer is heard the same; status shows which variant it uses.
    node.handle_packet(at(2_000), LINK, &advert(PEER, 200, 50, Checksum::Rfc9568));
    assert_eq!(summarise(&mut node), [A::Mismatch(None, Some(50))]);
    assert_eq!(
        node.router(id).unwrap().peer_checksum(),
        Some(Checksum::Rfc9568)
    );
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_its_skew_time() {
    let (mut node, _) = node(config(100, 100));
    node.handle_packet(at(0), LINK, &advert(PEER, 200, 100, Checksum::PseudoHeader));
    node.handle_packet(
        at(500_000),
        LINK,
        &advert(PEER, 0, 100, Checksum::PseudoHeader),
    );
    assert_eq!(summarise(&mut node), []);
    // Skew_Time at priority 100 and 1 s: 156/256 s = 609 375 µs.
    assert_eq!(node.poll_timeout(), Some(at(500_000 + 609_375)));
    node.handle_timeout(at(1_109_375));
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterLeft),
            A::Hook,
            A::Sent(100)
        ]
    );
}

#[test]
fn a_pause_puts_off_a_silent_masters_deadline_but_not_a_departed_ones() {
    let (mut node, _) = node(config(100, 100));
    node.handle_packet(at(0), LINK, &advert(PEER, 200, 100, Checksum::PseudoHeader));
    // Silent master: Master_Down_Interval 3 × 1 s + 609 375 µs; woken 0.2 s after it, one
    // third of it more (1 203 125 µs).
    let down = node.poll_timeout().unwrap();
    assert_eq!(down, at(3_609_375));
    let late = at(3_809_375);
    assert_eq!(
        node.stalled(late, std::time::Duration::from_millis(200))
            .len(),
        1
    );
    assert_eq!(node.poll_timeout(), Some(at(3_809_375 + 1_203_125)));
    node.handle_timeout(late);
    assert_eq!(summarise(&mut node), []);
    // The master comes back, then leaves (priority 0): its Skew_Time is not put off.
    node.handle_packet(
        at(3_900_000),
        LINK,
        &advert(PEER, 200, 100, Checksum::PseudoHeader),
    );
    node.handle_packet(
        at(4_000_000),
        LINK,
        &advert(PEER, 0, 100, Checksum::PseudoHeader),
    );
    assert_eq!(node.poll_timeout(), Some(at(4_609_375)));
    let late = at(4_809_375);
    assert!(node
        .stalled(late, std::time::Duration::from_millis(200))
        .is_empty());
    node.handle_timeout(late);
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::MasterLeft),
            A::Hook,
            A::Sent(100)
        ]
    );
}

#[test]
fn the_higher_priority_wins_then_the_higher_address_and_stop_sends_priority_zero() {
    let (mut node, id) = node(config(100, 100));
    node.handle_timeout(at(3_609_375));
    node.handle_hook_done(at(3_609_375), id, HookId(2));
    summarise(&mut node);
    assert_eq!(node.router(id).unwrap().state(), State::Master);
    // Same priority, higher address (10.77.0.12 > .11): we step down without a last advert.
    node.handle_packet(
        at(4_000_000),
        LINK,
        &advert(PEER, 100, 100, Checksum::Rfc9568),
    );
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(
                State::Master,
                State::Backup,
                StateChangeReason::PreferredMaster
            ),
            A::Hook
        ]
    );
    // A lower priority master is preempted (preempt is on by default in keepalived; here
    // the builder's default is off, so it is only timed).
    node.handle_packet(
        at(4_100_000),
        LINK,
        &advert(PEER, 50, 100, Checksum::Rfc9568),
    );
    assert_eq!(summarise(&mut node), []);
    let mut preempting = config(100, 100);
    preempting.preempt = true;
    let (mut node, id) = self::node(preempting);
    node.handle_packet(at(100_000), LINK, &advert(PEER, 50, 100, Checksum::Rfc9568));
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::Preemption),
            A::Hook
        ]
    );
    node.handle_hook_done(at(150_000), id, HookId(2));
    assert_eq!(summarise(&mut node), [A::Announce, A::Sent(100)]);
    // Stop: the leaving advert has priority 0.
    node.handle_router_command(at(200_000), id, Command::Stop);
    let out = summarise(&mut node);
    assert_eq!(out[0], A::Sent(0), "{out:?}");
}

#[test]
fn priority_255_is_master_from_the_start_and_demotion_lowers_the_priority() {
    let mut node = Node::new();
    let id = node.add_router(LINK, config(255, 100).build().unwrap(), Instant::ZERO, 1);
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Init, State::Backup, StateChangeReason::Startup),
            A::Hook,
            A::Changed(
                State::Backup,
                State::Master,
                StateChangeReason::AddressOwner
            ),
            A::Hook,
            A::Sent(255)
        ]
    );
    node.handle_router_command(at(10_000), id, Command::SetDemote(60));
    assert_eq!(summarise(&mut node), [A::Sent(195)]);
    assert_eq!(node.router(id).unwrap().priority(), 195);
}

/// A VRRPv3 advert for vhid 50 reaching `node`, whose router on 50 speaks CARP, is a named
/// drop and nothing else.
fn assert_vrrp3_is_another_protocol(node: &mut Node, now: Instant) {
    node.handle_packet(now, LINK, &advert(PEER, 200, 100, Checksum::PseudoHeader));
    assert_eq!(
        summarise(node),
        [A::Dropped(DropReason::OtherProtocol {
            heard: ProtocolKind::Vrrp3,
            ours: ProtocolKind::Carp,
            vhid: 50
        })]
    );
}

#[test]
fn carp_and_vrrp_on_one_vhid_never_mix() {
    // A CARP group on vhid 50: a VRRPv3 advert for 50 is a named drop, not an input.
    let mut node = Node::new();
    let carp = VrConfigBuilder::new(50, ME, vec![VIP], b"secret");
    node.add_router(LINK, carp.build().unwrap(), Instant::ZERO, 1);
    summarise(&mut node);
    assert_vrrp3_is_another_protocol(&mut node, at(1_000));
    // A keepalived VRRPv2 advert (16 bytes + 4 per address, auth type 0) for vhid 50.
    let mut v2 = vec![
        0x21, 50, 100, 1, 0, 1, 0, 0, 10, 77, 0, 150, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let sum = carpd_proto::wire::checksum(&v2);
    v2[6..8].copy_from_slice(&sum.to_be_bytes());
    node.handle_packet(at(2_000), LINK, &ipv4_packet(PEER, GROUP_V4, 255, 1, &v2));
    assert_eq!(
        summarise(&mut node),
        [A::Dropped(DropReason::OtherProtocol {
            heard: ProtocolKind::Vrrp2,
            ours: ProtocolKind::Carp,
            vhid: 50
        })]
    );
}

#[test]
fn ipv6_adverts_are_the_vrrp_part_sent_to_ff02_12() {
    let mut node = Node::new();
    let me: IpAddr = "fe80::11".parse().unwrap();
    let vip: IpAddr = "2001:db8::150".parse().unwrap();
    let b = VrConfigBuilder::vrrp3(50, me, vec![vip], Vrrp3Params::default());
    let id = node.add_router(LINK, b.build().unwrap(), Instant::ZERO, 1);
    std::iter::from_fn(|| node.poll_action()).count();
    // A peer's advert over IPv6 (header taken off by the socket) is heard.
    let peer: Ipv6Addr = "fe80::12".parse().unwrap();
    let repr = Vrrp3Repr {
        vrid: 50,
        priority: 200,
        interval_cs: 100,
        addresses: vec![vip],
    };
    let bytes = repr.emit(IpAddr::V6(peer), IpAddr::V6(GROUP_V6), Checksum::Rfc9568);
    node.handle_packet_v6(at(1_000), LINK, peer, GROUP_V6, 255, &bytes);
    assert_eq!(node.router(id).unwrap().master(), Some(IpAddr::V6(peer)));
    // Hop limit 254: dropped.
    node.handle_packet_v6(at(2_000), LINK, peer, GROUP_V6, 254, &bytes);
    let out: Vec<Action> = std::iter::from_fn(|| node.poll_action())
        .map(|o| o.action)
        .collect();
    assert!(
        matches!(
            out[..],
            [Action::Dropped {
                reason: DropReason::BadTtl(254),
                ..
            }]
        ),
        "{out:?}"
    );
    // Our own advert, once master, is the VRRP part alone, to ff02::12.
    node.handle_packet_v6(
        at(3_000),
        LINK,
        peer,
        GROUP_V6,
        255,
        &repr.emit(
            IpAddr::V6(peer),
            IpAddr::V6(GROUP_V6),
            Checksum::PseudoHeader,
        )[..],
    );
    let deadline = node.poll_timeout().unwrap();
    node.handle_timeout(deadline);
    let sent: Vec<(Destination, Vec<u8>)> = std::iter::from_fn(|| node.poll_action())
        .filter_map(|o| match o.action {
            Action::Send {
                destination,
                packet,
            } => Some((destination, packet.into_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, Destination::Multicast(IpAddr::V6(GROUP_V6)));
    let (mine, _) = Vrrp3Repr::parse(&sent[0].1, me, IpAddr::V6(GROUP_V6)).unwrap();
    assert_eq!((mine.priority, mine.addresses), (100, vec![vip]));
}

#[test]
fn a_reload_keeps_a_vrrp3_router_in_place_unless_its_protocol_or_vrid_changes() {
    let (mut node, id) = node(config(100, 100));
    // A new priority and interval: in place.
    let outcome = node.reconfigure(at(1_000), id, LINK, config(150, 50).build().unwrap());
    assert_eq!(outcome, Some(carpd_proto::Reconfigured::InPlace));
    assert_eq!(node.router(id).unwrap().priority(), 150);
    summarise(&mut node);
    // CARP on the same vhid: another protocol, so a restart.
    let carp = VrConfigBuilder::new(50, ME, vec![VIP], b"secret");
    let outcome = node.reconfigure(at(2_000), id, LINK, carp.build().unwrap());
    assert_eq!(outcome, Some(carpd_proto::Reconfigured::Restarted));
    assert_eq!(node.router(id).unwrap().config().protocol_name(), "carp");
    // The node now routes CARP for vhid 50 to it, and VRRPv3 for 50 is another protocol.
    summarise(&mut node);
    assert_vrrp3_is_another_protocol(&mut node, at(3_000));
}

/// A unicast VRRPv3 advert from `source` to us at `ttl` (priority 200, 1 s).
fn unicast_advert(source: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let repr = Vrrp3Repr {
        vrid: 50,
        priority: 200,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(VIP)],
    };
    let vrrp = repr.emit(IpAddr::V4(source), IpAddr::V4(ME), Checksum::PseudoHeader);
    ipv4_packet(source, ME, ttl, 1, &vrrp).into_vec()
}

/// The drop reasons and the master heard after `packets` reach a fresh unicast router.
fn unicast_outcome(
    b: VrConfigBuilder,
    packets: &[(Ipv4Addr, u8)],
) -> (Vec<DropReason>, Option<IpAddr>) {
    let mut node = Node::new();
    let id = node.add_router(LINK, b.build().unwrap(), Instant::ZERO, 1);
    std::iter::from_fn(|| node.poll_action()).count();
    let mut drops = Vec::new();
    for (i, &(source, ttl)) in packets.iter().enumerate() {
        node.handle_packet(
            at(1_000 * (i as u64 + 1)),
            LINK,
            &unicast_advert(source, ttl),
        );
        drops.extend(
            std::iter::from_fn(|| node.poll_action()).filter_map(|o| match o.action {
                Action::Dropped { reason, .. } => Some(reason),
                _ => None,
            }),
        );
    }
    (drops, node.router(id).unwrap().master())
}

#[test]
fn unicast_peers_alone_count_and_ttl_is_relaxed_only_for_them_when_asked() {
    const STRANGER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 13);
    let with_peer = |ttl_check: bool| {
        let mut b = config(100, 100);
        b.peers = vec![IpAddr::V4(PEER)];
        b.unicast_ttl_check = ttl_check;
        b
    };
    // Checked (the default): a listed peer at TTL 64 is dropped, a stranger at 255 is not a
    // peer; the peer at 255 is heard.
    assert_eq!(
        unicast_outcome(with_peer(true), &[(PEER, 64), (STRANGER, 255)]),
        (vec![DropReason::BadTtl(64), DropReason::NotAPeer], None)
    );
    assert_eq!(
        unicast_outcome(with_peer(true), &[(PEER, 255)]),
        (vec![], Some(IpAddr::V4(PEER)))
    );
    // Relaxed: the listed peer is heard at TTL 60 (across routers), a stranger still is not.
    assert_eq!(
        unicast_outcome(with_peer(false), &[(STRANGER, 60)]),
        (vec![DropReason::BadTtl(60)], None)
    );
    assert_eq!(
        unicast_outcome(with_peer(false), &[(PEER, 60)]),
        (vec![], Some(IpAddr::V4(PEER)))
    );
    // Without peers the option does not exist and multicast wants 255 from anyone.
    assert_eq!(
        unicast_outcome(config(100, 100), &[(PEER, 64)]),
        (vec![DropReason::BadTtl(64)], None)
    );
}

#[test]
fn a_listed_link_local_ipv6_peer_is_heard_at_any_hop_limit_a_global_one_is_not() {
    let me: Ipv6Addr = "fe80::11".parse().unwrap();
    let vip: IpAddr = "2001:db8::150".parse().unwrap();
    let link_local: Ipv6Addr = "fe80::12".parse().unwrap();
    let global: Ipv6Addr = "2001:db8::12".parse().unwrap();
    for (peer, heard) in [(link_local, true), (global, false)] {
        let mut b = VrConfigBuilder::vrrp3(50, IpAddr::V6(me), vec![vip], Vrrp3Params::default());
        b.peers = vec![IpAddr::V6(peer)];
        let mut node = Node::new();
        let id = node.add_router(LINK, b.build().unwrap(), Instant::ZERO, 1);
        std::iter::from_fn(|| node.poll_action()).count();
        let repr = Vrrp3Repr {
            vrid: 50,
            priority: 200,
            interval_cs: 100,
            addresses: vec![vip],
        };
        let bytes = repr.emit(IpAddr::V6(peer), IpAddr::V6(me), Checksum::Rfc9568);
        // keepalived's IPv6 unicast adverts leave at the kernel's default hop limit.
        node.handle_packet_v6(at(1_000), LINK, peer, me, 64, &bytes);
        let master = node.router(id).unwrap().master();
        assert_eq!(
            master == Some(IpAddr::V6(peer)),
            heard,
            "{peer}: {master:?}"
        );
    }
}

#[test]
fn a_stranger_does_not_move_a_preempting_backup_that_follows_a_better_live_master() {
    const STRANGER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 99);
    let mut preempting = config(100, 100);
    preempting.preempt = true;
    let (mut node, _) = self::node(preempting);
    node.handle_packet(
        at(100_000),
        LINK,
        &advert(PEER, 200, 100, Checksum::Rfc9568),
    );
    assert_eq!(summarise(&mut node), []);
    let master_down = node.poll_timeout();
    // Ten adverts at priority 50 (and a forged long interval) from an address that is no
    // member: dropped and counted, no state change, the master's timer untouched.
    for i in 0..10u64 {
        node.handle_packet(
            at(200_000 + i * 10_000),
            LINK,
            &advert(STRANGER, 50, 4095, Checksum::Rfc9568),
        );
        assert_eq!(
            summarise(&mut node),
            [
                A::Mismatch(None, Some(4095)),
                A::Dropped(DropReason::NotTheMaster {
                    master: IpAddr::V4(PEER)
                })
            ]
        );
    }
    // Its departure (priority 0) is no reason to take over either.
    node.handle_packet(
        at(400_000),
        LINK,
        &advert(STRANGER, 0, 100, Checksum::Rfc9568),
    );
    assert_eq!(
        summarise(&mut node),
        [A::Dropped(DropReason::NotTheMaster {
            master: IpAddr::V4(PEER)
        })]
    );
    assert_eq!(node.poll_timeout(), master_down);
    // The master's next advert re-arms from its own interval (1 s, not 40.95 s).
    node.handle_packet(
        at(1_100_000),
        LINK,
        &advert(PEER, 200, 100, Checksum::Rfc9568),
    );
    assert_eq!(summarise(&mut node), []);
    // Master_Down_Interval = 3 × 1 s + Skew_Time (156 × 1 s / 256 = 609 375 µs).
    assert_eq!(node.poll_timeout(), Some(at(1_100_000 + 3_609_375)));
    // Once the master has been silent for the master-down interval, the worse router is
    // the master heard, and the preempting backup takes over from it at once.
    node.handle_packet(
        at(4_800_000),
        LINK,
        &advert(STRANGER, 50, 100, Checksum::Rfc9568),
    );
    assert_eq!(
        summarise(&mut node),
        [
            A::Changed(State::Backup, State::Master, StateChangeReason::Preemption),
            A::Hook
        ]
    );
}

#[test]
fn a_router_between_the_dead_master_and_this_backup_keeps_it_waiting() {
    // Three routers: PEER (200) was master; SECOND (150) took over when it died, before
    // this backup's (100) longer dead time ran out. SECOND does not beat PEER, but beats us:
    // its adverts keep the master-down timer armed, and nothing changes state.
    const SECOND: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 13);
    let mut preempting = config(100, 100);
    preempting.preempt = true;
    let (mut node, _) = self::node(preempting);
    node.handle_packet(at(0), LINK, &advert(PEER, 200, 100, Checksum::Rfc9568));
    for i in 1..=8u64 {
        let now = at(3_000_000 + i * 1_000_000);
        node.handle_packet(now, LINK, &advert(SECOND, 150, 100, Checksum::Rfc9568));
        assert_eq!(summarise(&mut node), [], "advert {i}");
        assert!(node.poll_timeout().is_some_and(|t| t > now));
    }
}

#[test]
fn an_advert_with_other_addresses_is_used_and_reported_with_them() {
    let (mut node, id) = node(config(100, 100));
    let other = Ipv4Addr::new(10, 77, 0, 151);
    let repr = Vrrp3Repr {
        vrid: 50,
        priority: 200,
        interval_cs: 100,
        // keepalived with one more VIP, listed first
        addresses: vec![IpAddr::V4(other), IpAddr::V4(VIP)],
    };
    let vrrp = repr.emit(IpAddr::V4(PEER), IpAddr::V4(GROUP_V4), Checksum::Rfc9568);
    node.handle_packet(at(1_000), LINK, &ipv4_packet(PEER, GROUP_V4, 255, 1, &vrrp));
    assert_eq!(
        summarise(&mut node),
        [A::Mismatch(
            Some(vec![IpAddr::V4(VIP), IpAddr::V4(other)]),
            None
        )]
    );
    let vr = node.router(id).unwrap();
    assert_eq!(vr.master(), Some(IpAddr::V4(PEER)), "the election used it");
    assert_eq!(vr.stats().advert_mismatches, 1);
    // The same set in another order is no disagreement.
    node.handle_packet(at(2_000), LINK, &advert(PEER, 200, 100, Checksum::Rfc9568));
    assert_eq!(summarise(&mut node), []);
}
