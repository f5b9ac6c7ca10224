//! The node: routing by link and vhid, deadlines, indexes, fragments.

use crate::common::*;
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::Advertisement;
use carpd_proto::{
    Action, DropReason, HookId, HookKind, Instant, Node, RouterId, State, VirtualRouter,
    VrConfigBuilder,
};
use std::net::Ipv4Addr;

#[test]
fn node_routes_by_vhid_and_drops_the_rest() {
    let mut node = Node::new();
    let id = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 1);
    while node.poll_action().is_some() {}
    // Own looped-back packet: silently ignored.
    node.handle_packet(at(1), 2, &advert(ME, 1, 0, 0, 1).emit());
    assert!(node.poll_action().is_none());
    // Another vhid: counted.
    let mut other = advert(PEER, 1, 0, 0, 1);
    other.carp.vhid = 8;
    node.handle_packet(at(2), 2, &other.emit());
    let out = node.poll_action().unwrap();
    assert_eq!(out.router, None);
    assert!(matches!(
        out.action,
        Action::Dropped {
            reason: DropReason::UnknownVhid(8),
            ..
        }
    ));
    // TTL 64: counted.
    let mut hop = advert(PEER, 1, 0, 0, 2);
    hop.ip.ttl = 64;
    node.handle_packet(at(3), 2, &hop.emit());
    assert_eq!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::BadTtl(64),
            source: Some(PEER.into())
        }
    );
    // Wrong interface: not ours.
    node.handle_packet(at(4), 3, &advert(PEER, 1, 0, 0, 3).emit());
    assert!(matches!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::UnknownVhid(7),
            ..
        }
    ));
    // A good one re-arms the right router.
    node.handle_packet(at(1_000_000), 2, &advert(PEER, 1, 0, 0, 4).emit());
    assert!(node.poll_action().is_none());
    assert_eq!(node.poll_timeout(), Some(at(4_000_000)));
    assert_eq!(node.router(id).unwrap().state(), State::Backup);
    // Garbage: counted as malformed with the source when readable.
    node.handle_packet(at(5), 2, &[0x45, 0, 0, 20]);
    assert!(matches!(
        node.poll_action().unwrap().action,
        Action::Dropped {
            reason: DropReason::Malformed(_),
            source: None
        }
    ));
}
#[test]
fn fragments_are_dropped_with_their_own_reason() {
    let mut node = Node::new();
    let id = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    while node.poll_action().is_some() {}
    // A whole advert from a better master, but marked as a fragment (offset 0, MF set): it
    // must not make anything happen.
    let bow_out = advert(PEER, 255, 255, 0, 1).emit();
    for (high, low) in [(0x20u8, 0u8), (0x00, 0x08)] {
        let mut bytes = bow_out;
        bytes[6] = high;
        bytes[7] = low;
        // Recompute the header checksum so that only the fragment bits are wrong.
        bytes[10] = 0;
        bytes[11] = 0;
        let sum = carpd_proto::wire::checksum(&bytes[..20]);
        bytes[10..12].copy_from_slice(&sum.to_be_bytes());
        node.handle_packet(at(500_000), 1, &bytes);
        let out: Vec<Action> = std::iter::from_fn(|| node.poll_action())
            .map(|o| o.action)
            .collect();
        assert_eq!(
            out,
            [Action::Dropped {
                reason: DropReason::Fragment,
                source: Some(PEER.into())
            }]
        );
    }
    assert_eq!(node.router(id).unwrap().state(), State::Backup);
    // The same advert whole is taken (the bow-out makes us master).
    node.handle_packet(at(600_000), 1, &bow_out);
    assert_eq!(node.router(id).unwrap().state(), State::Master);
}
#[test]
fn node_routes_by_link_and_vhid_and_keeps_ids_across_removal() {
    let mut node = Node::new();
    // The same vhid on two links, and a second vhid on the first link.
    let a = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    let b = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 2);
    let mut other = config(ME);
    other.vhid = 8;
    let c = node.add_router(1, other.build().unwrap(), Instant::ZERO, 3);
    let startup = drain_node(&mut node);
    for id in [a, b, c] {
        assert!(
            startup.iter().any(|(r, action)| *r == Some(id)
                && matches!(
                    action,
                    Action::RunHook {
                        kind: HookKind::Down,
                        ..
                    }
                )),
            "{id:?} starts with its down hook: {startup:?}"
        );
    }
    // A better master on link 2 for vhid 7 moves only router b.
    node.handle_packet(at(100_000), 2, &advert(PEER, 255, 255, 0, 1).emit());
    let out = drain_node(&mut node);
    assert!(out.iter().all(|(r, _)| *r == Some(b)), "{out:?}");
    assert_eq!(node.router(b).unwrap().state(), State::Master);
    assert_eq!(node.router(a).unwrap().state(), State::Backup);
    assert_eq!(node.router(c).unwrap().state(), State::Backup);

    // Removing b (a master) bows out on its behalf; a and c keep their ids and their state.
    assert!(node.remove_router(at(200_000), b));
    let out = drain_node(&mut node);
    assert!(out.iter().all(|(r, _)| *r == Some(b)), "{out:?}");
    assert!(out.iter().any(|(_, action)| matches!(action,
        Action::Send { packet, .. } if Advertisement::parse(packet).unwrap().carp.advbase == 255)));
    assert!(out.iter().any(|(_, action)| matches!(
        action,
        Action::StateChanged {
            to: State::Init,
            ..
        }
    )));
    assert!(node.router(b).is_none() && node.link_of(b).is_none());
    assert!(!node.remove_router(at(200_000), b), "gone already");
    // A late hook completion for the removed router is ignored.
    node.handle_hook_done(at(210_000), b, HookId(1));
    assert!(node.poll_action().is_none());
    assert_eq!(node.link_of(c), Some(1));
    let d = node.add_router(2, config(ME).build().unwrap(), at(300_000), 4);
    assert!(d != a && d != b && d != c, "ids are never reused");
    assert_eq!(
        node.routers().map(|(id, _)| id).collect::<Vec<_>>(),
        [a, c, d]
    );
    // Packets for vhid 7 on link 2 now reach d.
    drain_node(&mut node);
    node.handle_packet(at(400_000), 2, &advert(PEER, 1, 0, 0, 2).emit());
    assert!(drain_node(&mut node).iter().all(|(r, _)| *r == Some(d)));
}
#[test]
fn node_deadline_is_the_earliest_router_deadline() {
    let mut node = Node::new();
    let mut slow = config(ME);
    slow.protocol.carp_mut().unwrap().advbase = 3;
    slow.vhid = 9;
    node.add_router(1, slow.build().unwrap(), Instant::ZERO, 1);
    let fast = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 2);
    drain_node(&mut node);
    assert_eq!(node.poll_timeout(), Some(at(3_000_000)));
    node.remove_router(at(1), fast);
    drain_node(&mut node);
    assert_eq!(node.poll_timeout(), Some(at(9_000_000)));
}
#[test]
fn node_indexes_follow_adds_removals_and_reconfiguration() {
    const OTHER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 13);
    let mut node = Node::new();
    let with = |vhid: u8, source: Ipv4Addr| {
        let mut b = config(source);
        b.vhid = vhid;
        b.protocol.carp_mut().unwrap().advskew = vhid;
        b.build().unwrap()
    };
    let ids: Vec<carpd_proto::RouterId> = (1..=255u8)
        .map(|v| node.add_router(1, with(v, ME), Instant::ZERO, u64::from(v)))
        .collect();
    drain_node(&mut node);
    // The smallest skew times out first.
    assert_eq!(
        node.poll_timeout(),
        node.router(ids[0]).unwrap().poll_timeout()
    );
    let for_vhid = |vhid: u8, source: Ipv4Addr, counter: u64| {
        let auth = Authenticator::new(b"secret", vhid, &[VIP]).unwrap();
        let mut a = advert(source, 1, 0, 0, counter);
        a.carp.vhid = vhid;
        a.carp.digest = auth.digest(counter);
        a.emit()
    };
    // An advert for vhid 1 re-arms that router alone: vhid 2 is now first.
    node.handle_packet(at(1_000_000), 1, &for_vhid(1, PEER, 1));
    assert!(drain_node(&mut node).is_empty());
    assert_deadline_consistent(&node);
    let second = node.router(ids[1]).unwrap().poll_timeout();
    assert_eq!(node.poll_timeout(), second);
    // Its timer fires: it alone becomes master, with its own actions.
    node.handle_timeout(second.unwrap());
    let out = drain_node(&mut node);
    assert!(
        !out.is_empty() && out.iter().all(|(r, _)| *r == Some(ids[1])),
        "{out:?}"
    );
    let masters: Vec<_> = node
        .routers()
        .filter(|(_, r)| r.state() == State::Master)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(masters, [ids[1]]);
    assert_deadline_consistent(&node);
    // vhid 3 moves to vhid 255 (freed by removing its router) with another source.
    assert!(node.remove_router(at(1_100_000), ids[254]));
    assert_eq!(
        node.reconfigure(at(1_100_000), ids[2], 1, with(255, OTHER)),
        Some(carpd_proto::Reconfigured::Restarted)
    );
    drain_node(&mut node);
    assert_deadline_consistent(&node);
    node.handle_packet(at(1_200_000), 1, &for_vhid(3, PEER, 2));
    assert!(matches!(
        drain_node(&mut node).as_slice(),
        [(
            None,
            Action::Dropped {
                reason: DropReason::UnknownVhid(3),
                ..
            }
        )]
    ));
    node.handle_packet(at(1_300_000), 1, &for_vhid(255, PEER, 3));
    assert!(drain_node(&mut node).is_empty());
    assert_eq!(
        node.router(ids[2]).unwrap().poll_timeout(),
        Some(at(1_300_000 + 3_000_000 + 255 * 1_000_000 / 256)),
        "vhid 255 reaches the reconfigured router"
    );
    // Its new source is ours, its old one still is (the others use it); once it is gone,
    // adverts from its source are a peer's.
    let before = node.router(ids[4]).unwrap().poll_timeout();
    node.handle_packet(at(1_400_000), 1, &for_vhid(5, OTHER, 4));
    assert!(drain_node(&mut node).is_empty());
    assert_eq!(
        node.router(ids[4]).unwrap().poll_timeout(),
        before,
        "own advert"
    );
    node.handle_packet(at(1_500_000), 1, &for_vhid(6, ME, 5));
    assert!(drain_node(&mut node).is_empty());
    assert!(node.remove_router(at(1_600_000), ids[2]));
    drain_node(&mut node);
    node.handle_packet(at(1_700_000), 1, &for_vhid(5, OTHER, 6));
    assert!(drain_node(&mut node).is_empty());
    assert_ne!(
        node.router(ids[4]).unwrap().poll_timeout(),
        before,
        "a peer's advert"
    );
    assert_deadline_consistent(&node);
    // A removed router's timer never fires.
    assert!(node.remove_router(at(1_800_000), ids[0]));
    drain_node(&mut node);
    node.handle_timeout(at(60_000_000));
    assert!(drain_node(&mut node)
        .iter()
        .all(|(r, _)| r.is_some_and(|r| r != ids[0])));
    assert_deadline_consistent(&node);
}
/// The routers that sent an advert among the node's actions, in id order.
fn senders(node: &mut Node) -> Vec<carpd_proto::RouterId> {
    drain_node(node)
        .into_iter()
        .filter(|(_, action)| matches!(action, Action::Send { .. }))
        .map(|(router, _)| router.unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Masters of 1 s adverts whose next advert is due at 4.000, 4.005 and 4.020 s (slack:
/// 1 s / 64 = 15.6 ms), and a backup whose master-down time is 4.005 s.
fn masters_due_around_4_s(node: &mut Node) -> [RouterId; 4] {
    let a = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    let b = node.add_router(2, config(ME).build().unwrap(), at(5_000), 2);
    let c = node.add_router(3, config(ME).build().unwrap(), at(20_000), 3);
    drain_node(node);
    while let Some(due) = node.poll_timeout().filter(|t| *t < at(3_500_000)) {
        node.handle_timeout(due);
        drain_node(node);
    }
    let d = node.add_router(4, config(ME).build().unwrap(), at(1_005_000), 4);
    drain_node(node);
    [a, b, c, d]
}

#[test]
fn masters_due_within_a_64th_of_their_interval_share_a_wake_up_and_backups_never_fire_early() {
    let mut node = Node::new();
    let [a, b, c, d] = masters_due_around_4_s(&mut node);
    for id in [a, b, c] {
        assert_eq!(node.router(id).unwrap().state(), State::Master);
    }
    assert_eq!(node.poll_timeout(), Some(at(4_000_000)));

    node.handle_timeout(at(4_000_000));
    let sent = senders(&mut node);
    assert_eq!(sent, [a, b], "b's advert 5 ms early, c's 20 ms away waits");
    assert_eq!(node.router(d).unwrap().state(), State::Backup);
    // d's master-down time is its own; the wake-up for it takes c's advert 15 ms early.
    assert_eq!(node.poll_timeout(), Some(at(4_005_000)));
    node.handle_timeout(at(4_005_000));
    assert_eq!(node.router(d).unwrap().state(), State::Master, "on time");
    let sent = senders(&mut node);
    assert_eq!(sent, [c, d]);
    // From then on the four share one wake-up a second.
    assert_eq!(node.poll_timeout(), Some(at(5_000_000)));
    node.handle_timeout(at(5_000_000));
    let sent = senders(&mut node);
    assert_eq!(sent, [a, b, c, d]);
    assert_eq!(node.poll_timeout(), Some(at(6_000_000)));
}

#[test]
fn due_soon_names_the_routers_the_next_wake_up_looks_at() {
    let mut node = Node::new();
    // The longest slack is 16 ms, so a wake-up at 4.000 s looks at those due until 4.016 s,
    // in deadline order.
    let [a, b, c, d] = masters_due_around_4_s(&mut node);
    let named = |node: &Node, now| -> Vec<*const VirtualRouter> {
        node.due_soon(now).map(std::ptr::from_ref).collect()
    };
    let of = |node: &Node, ids: &[RouterId]| -> Vec<*const VirtualRouter> {
        ids.iter()
            .map(|id| std::ptr::from_ref(node.router(*id).unwrap()))
            .collect()
    };
    assert_eq!(named(&node, at(4_000_000)), of(&node, &[a, b, d]));
    assert_eq!(named(&node, at(4_005_000)), of(&node, &[a, b, d, c]));
    assert!(named(&node, at(3_000_000)).is_empty());
    // It changes nothing: the wake-up then sends what it would have.
    node.handle_timeout(at(4_000_000));
    assert_eq!(senders(&mut node), [a, b]);
}

#[test]
fn packet_routers_are_the_routers_a_packet_is_handed_to() {
    let mut node = Node::new();
    let seven = node.add_router(2, config(ME).build().unwrap(), Instant::ZERO, 1);
    let other = VrConfigBuilder::new(8, ME, vec![VIP], b"secret");
    let eight = node.add_router(2, other.build().unwrap(), Instant::ZERO, 2);
    drain_node(&mut node);
    let named = |node: &Node, link, bytes: &[u8]| -> Vec<*const VirtualRouter> {
        node.packet_routers(link, bytes)
            .map(std::ptr::from_ref)
            .collect()
    };
    let router = |id| vec![std::ptr::from_ref(node.router(id).unwrap())];
    let mut packet = advert(PEER, 1, 0, 0, 1);
    assert_eq!(named(&node, 2, &packet.emit()), router(seven));
    packet.carp.vhid = 8;
    assert_eq!(named(&node, 2, &packet.emit()), router(eight));
    packet.carp.vhid = 9;
    assert!(named(&node, 2, &packet.emit()).is_empty());
    // Another link, and bytes too short for a header or a vhid: no router.
    packet.carp.vhid = 7;
    assert!(named(&node, 3, &packet.emit()).is_empty());
    for short in [&[][..], &[0x45, 0, 0, 20], &[0x41; 24], &[0x45; 21]] {
        assert!(named(&node, 2, short).is_empty(), "{short:?}");
    }
}

#[test]
fn a_lone_master_advertises_exactly_every_interval() {
    let mut node = Node::new();
    let a = node.add_router(1, config(ME).build().unwrap(), Instant::ZERO, 1);
    drain_node(&mut node);
    let mut sends = Vec::new();
    while let Some(due) = node.poll_timeout().filter(|t| *t <= at(8_000_000)) {
        node.handle_timeout(due);
        if drain_node(&mut node)
            .iter()
            .any(|(_, action)| matches!(action, Action::Send { .. }))
        {
            sends.push(due.as_micros());
        }
    }
    assert_eq!(node.router(a).unwrap().state(), State::Master);
    assert_eq!(
        sends,
        [3_000_000, 4_000_000, 5_000_000, 6_000_000, 7_000_000, 8_000_000]
    );
}
