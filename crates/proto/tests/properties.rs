//! Property tests: emit then parse is the identity; no decoder panics on any bytes.

use carpd_proto::wire::arp::ArpRepr;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, Packet};
use carpd_proto::wire::ethernet::Frame;
use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::{Instant, Node, VrConfigBuilder};
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn carp_repr() -> impl Strategy<Value = CarpRepr> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
        any::<[u8; 20]>(),
    )
        .prop_map(
            |(vhid, advskew, demote, advbase, counter, digest)| CarpRepr {
                vhid,
                advskew,
                demote,
                advbase,
                counter,
                digest,
            },
        )
}

proptest! {
    #[test]
    fn carp_emit_parse_identity(repr in carp_repr()) {
        let bytes = repr.to_bytes();
        prop_assert_eq!(CarpRepr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Ok(repr));
    }

    #[test]
    fn advert_emit_parse_identity(repr in carp_repr(), src in any::<u32>(), id in any::<u16>()) {
        let adv = Advertisement::outgoing(Ipv4Addr::from(src), Ipv4Addr::new(224, 0, 0, 18), id, repr);
        prop_assert_eq!(Advertisement::parse(&adv.emit()), Ok(adv));
    }

    #[test]
    fn arp_emit_parse_identity(mac in any::<[u8; 6]>(), ip in any::<u32>()) {
        let arp = ArpRepr::gratuitous(mac, Ipv4Addr::from(ip));
        prop_assert_eq!(ArpRepr::parse(&arp.emit_payload()), Ok(arp));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Frame::parse(&bytes);
        let _ = Ipv4Repr::parse(&bytes);
        let _ = Advertisement::parse(&bytes);
        let _ = ArpRepr::parse(&bytes);
        if let Ok(p) = Packet::new_checked(&bytes[..]) {
            let _ = CarpRepr::parse(&p);
        }
    }

    #[test]
    fn node_never_panics_on_mutated_adverts(
        flips in proptest::collection::vec((0usize..56, any::<u8>()), 0..6),
        cut in 0usize..=56,
    ) {
        let mut node = Node::new();
        let cfg = VrConfigBuilder::new(7, Ipv4Addr::new(10, 0, 0, 1), vec![Ipv4Addr::new(10, 0, 0, 9)], b"pw");
        node.add_router(1, cfg.build().unwrap(), Instant::ZERO, 1);
        let repr = CarpRepr { vhid: 7, advskew: 0, demote: 0, advbase: 1, counter: 1, digest: [0; 20] };
        let mut bytes = Advertisement::outgoing(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(224, 0, 0, 18), 1, repr).emit().to_vec();
        for (at, value) in flips { bytes[at] = value; }
        bytes.truncate(cut);
        // Naming the routers ahead of a packet reads the same bytes: it never panics either.
        let _named = node.packet_routers(1, &bytes).count();
        node.handle_packet(Instant::from_secs(1), 1, &bytes);
        while node.poll_action().is_some() {}
        node.handle_timeout(Instant::from_secs(10));
        while node.poll_action().is_some() {}
    }
}
