//! Golden vectors from real keepalived 2.2.7 (testdata/keepalived): every VRRPv3 advert parses
//! with the checksum variant keepalived uses, carpd's encoder writes the same VRRP bytes from
//! the same fields, carpd's whole IPv4 packet matches keepalived's but for the IP id, and a
//! node hears keepalived as master (VRRPv3) or drops it as another protocol (VRRPv2).

#[path = "support/pcap.rs"]
mod pcap;

use carpd_proto::wire::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr};
use carpd_proto::{Action, DropReason, Instant, Node, ProtocolKind, VrConfigBuilder, Vrrp3Params};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

fn capture(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived")
        .join(name);
    pcap::frames(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}

/// The IPv4 packets of protocol 112 in a capture.
fn ipv4_vrrp(name: &str) -> Vec<Vec<u8>> {
    capture(name)
        .into_iter()
        .filter(|f| ethertype(f) == ETHERTYPE_IPV4 && f[14 + 9] == 112)
        .map(|f| f[14..].to_vec())
        .collect()
}

/// (source, destination, hop limit, VRRP bytes) of the IPv6 packets of next header 112.
fn ipv6_vrrp(name: &str) -> Vec<(Ipv6Addr, Ipv6Addr, u8, Vec<u8>)> {
    capture(name)
        .into_iter()
        .filter(|f| ethertype(f) == ETHERTYPE_IPV6 && f[14 + 6] == 112)
        .map(|f| {
            let ip = &f[14..];
            let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).unwrap());
            (addr(8), addr(24), ip[7], ip[40..40 + len].to_vec())
        })
        .collect()
}

/// Parses every IPv4 VRRPv3 advert of `name`, checks the encoder against it and returns the
/// fields of each.
fn check_ipv4(name: &str) -> Vec<Vrrp3Repr> {
    let packets = ipv4_vrrp(name);
    assert!(packets.len() >= 3, "{name}: {} adverts", packets.len());
    packets
        .iter()
        .map(|packet| {
            let (ip, vrrp) = Ipv4Repr::parse(packet).unwrap();
            assert_eq!(
                (ip.ttl, ip.tos, ip.dont_fragment),
                (255, 0xc0, false),
                "{name}"
            );
            let (from, to) = (IpAddr::V4(ip.source), IpAddr::V4(ip.destination));
            let (repr, variant) = Vrrp3Repr::parse(vrrp, from, to).unwrap();
            assert_eq!(
                variant,
                Checksum::PseudoHeader,
                "{name}: keepalived's default"
            );
            assert_eq!(repr.emit(from, to, Checksum::PseudoHeader), vrrp, "{name}");
            // The RFC 9568 variant of the same advert differs only in its checksum.
            let other = repr.emit(from, to, Checksum::Rfc9568);
            assert_eq!((&other[..6], &other[8..]), (&vrrp[..6], &vrrp[8..]));
            assert_ne!(other[6..8], vrrp[6..8]);
            repr
        })
        .collect()
}

#[test]
fn keepalived_ipv4_multicast_adverts_parse_and_reencode_byte_for_byte() {
    let reprs =
        check_ipv4("vrrp3-vrid50-prio200-intvl5cs-vip10.77.0.150-src10.77.0.11-then-stop.pcap");
    let vip = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 150));
    assert!(reprs[..reprs.len() - 1].iter().all(|r| (
        r.vrid,
        r.priority,
        r.interval_cs,
        &r.addresses[..]
    ) == (50, 200, 5, &[vip][..])));
    assert_eq!(reprs.last().unwrap().priority, 0, "the stop's advert");
}

#[test]
fn carpds_ipv4_packet_is_keepalived_s_but_for_the_ip_id() {
    // A carpd master with keepalived's settings: its first advert, IP id aside, is the
    // captured one.
    let theirs =
        &ipv4_vrrp("vrrp3-vrid50-prio200-intvl5cs-vip10.77.0.150-src10.77.0.11-then-stop.pcap")[0];
    let mut node = Node::new();
    let config = VrConfigBuilder::vrrp3(
        50,
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 11)),
        vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 150))],
        Vrrp3Params {
            priority: 200,
            interval_cs: 5,
            ..Vrrp3Params::default()
        },
    );
    node.add_router(1, config.build().unwrap(), Instant::ZERO, 1);
    let deadline = node.poll_timeout().unwrap();
    node.handle_timeout(deadline);
    let ours = std::iter::from_fn(|| node.poll_action())
        .find_map(|o| match o.action {
            Action::Send { packet, .. } => Some(packet),
            _ => None,
        })
        .expect("an advert");
    let mask = |p: &[u8]| {
        let mut p = p.to_vec();
        p[4..6].fill(0); // IP id
        p[10..12].fill(0); // IP header checksum (covers the id)
        p
    };
    assert_eq!(mask(&ours), mask(theirs));
}

#[test]
fn keepalived_unicast_adverts_checksum_over_the_peer_address() {
    let reprs = check_ipv4(
        "vrrp3-unicast-vrid51-prio150-intvl100cs-vip10.77.0.151-src10.77.0.11-peer10.77.0.12.pcap",
    );
    let (last, regular) = reprs.split_last().unwrap();
    assert!(regular
        .iter()
        .all(|r| (r.vrid, r.priority, r.interval_cs) == (51, 150, 100)));
    assert_eq!(last.priority, 0, "the stop's advert");
    let (ip, _) = Ipv4Repr::parse(&ipv4_vrrp(
        "vrrp3-unicast-vrid51-prio150-intvl100cs-vip10.77.0.151-src10.77.0.11-peer10.77.0.12.pcap",
    )[0])
    .unwrap();
    assert_eq!(ip.destination, Ipv4Addr::new(10, 77, 0, 12));
}

#[test]
fn keepalived_ipv6_adverts_parse_and_reencode_byte_for_byte() {
    let packets = ipv6_vrrp(
        "vrrp3-ipv6-vrid50-prio100-intvl100cs-vips_fe80..50_2001.db8..150-then-stop.pcap",
    );
    assert!(packets.len() >= 3, "{} adverts", packets.len());
    let vips: Vec<IpAddr> = vec![
        "fe80::50".parse().unwrap(),
        "2001:db8::150".parse().unwrap(),
    ];
    for (i, (source, destination, hop_limit, vrrp)) in packets.iter().enumerate() {
        assert!(source.is_unicast_link_local(), "{source}");
        assert_eq!(
            (destination.to_string().as_str(), *hop_limit),
            ("ff02::12", 255)
        );
        let (from, to) = (IpAddr::V6(*source), IpAddr::V6(*destination));
        let (repr, variant) = Vrrp3Repr::parse(vrrp, from, to).unwrap();
        assert_eq!(variant, Checksum::PseudoHeader);
        assert_eq!(repr.addresses, vips);
        let last = i == packets.len() - 1;
        assert_eq!(repr.priority, if last { 0 } else { 100 });
        // The IPv4 variant setting means nothing for IPv6: always the pseudo-header.
        assert_eq!(&repr.emit(from, to, Checksum::Rfc9568), vrrp);
    }
}

#[test]
fn a_node_hears_keepalived_vrrp3_and_drops_its_vrrp2_as_another_protocol() {
    let source = Ipv4Addr::new(10, 77, 0, 11);
    let vip = Ipv4Addr::new(10, 77, 0, 150);
    let me = Ipv4Addr::new(10, 77, 0, 12);
    // VRRPv3: heard as the master.
    let mut node = Node::new();
    let v3 = VrConfigBuilder::vrrp3(
        50,
        IpAddr::V4(me),
        vec![IpAddr::V4(vip)],
        Vrrp3Params::default(),
    );
    let id = node.add_router(1, v3.build().unwrap(), Instant::ZERO, 1);
    let packet =
        &ipv4_vrrp("vrrp3-vrid50-prio200-intvl5cs-vip10.77.0.150-src10.77.0.11-then-stop.pcap")[0];
    node.handle_packet(Instant::from_millis(10), 1, packet);
    assert_eq!(node.router(id).unwrap().master(), Some(IpAddr::V4(source)));
    // keepalived's default VRRPv2 on the same VRID: dropped, named.
    let v2 = &ipv4_vrrp("vrrp2-vrid50-prio200-intvl1s-vip10.77.0.150-src10.77.0.11.pcap")[0];
    std::iter::from_fn(|| node.poll_action()).count();
    node.handle_packet(Instant::from_millis(20), 1, v2);
    let drops: Vec<DropReason> = std::iter::from_fn(|| node.poll_action())
        .filter_map(|o| match o.action {
            Action::Dropped { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        drops,
        [DropReason::OtherProtocol {
            heard: ProtocolKind::Vrrp2,
            ours: ProtocolKind::Vrrp3,
            vhid: 50
        }]
    );
}

#[test]
fn carpds_neighbor_advertisements_are_keepalived_s_byte_for_byte() {
    let frames: Vec<Vec<u8>> =
        capture("vrrp3-ipv6-vrid50-prio100-intvl100cs-vips_fe80..50_2001.db8..150-then-stop.pcap")
            .into_iter()
            .filter(|f| ethertype(f) == ETHERTYPE_IPV6 && f[14 + 6] == 58 && f[14 + 40] == 136)
            .collect();
    assert_eq!(frames.len(), 2, "one per VIP");
    for frame in frames {
        let mac: [u8; 6] = frame[6..12].try_into().unwrap();
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[14 + 48..14 + 64]).unwrap());
        assert_eq!(
            carpd_proto::wire::ndp::unsolicited_na_frame(mac, target).into_vec(),
            frame,
            "NA for {target}"
        );
    }
}
