//! VRRPv2 (RFC 3768) against real keepalived 2.2.7 adverts (testdata/keepalived), and the
//! VRRPv2 router with a fake clock: keepalived's bytes, simple text authentication, RFC 3768
//! timers, priority 0, and a VRRPv3 group with `vrrp2_compat` (RFC 5798 §8.4).

#[path = "support/pcap.rs"]
mod pcap;

use carpd_proto::advert::ipv4_packet;
use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::wire::vrrp2::{Vrrp2Auth, Vrrp2Repr};
use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr, GROUP_V4};
use carpd_proto::{
    Action, ConfigError, DropReason, Instant, Node, ProtocolKind, RouterId, State, VrConfigBuilder,
    Vrrp2Params, Vrrp3Params,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

const PASS: &str =
    "vrrp2-pass_s3cret-vrid51-prio200-intvl1s-vip10.77.0.151-src10.77.0.11-then-stop.pcap";
const TWO_VIPS: &str =
    "vrrp2-vrid52-prio100-intvl2s-vips10.77.0.152_153-src10.77.0.11-then-stop.pcap";
const KEEPALIVED: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
const ME: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 151);

/// The IPv4 packets of protocol 112 in a capture of testdata/keepalived.
fn packets(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pcap::frames(&bytes)
        .into_iter()
        .filter(|f| f.len() > 14 + 20 && f[12..14] == [0x08, 0x00] && f[14 + 9] == 112)
        .map(|f| f[14..].to_vec())
        .collect()
}

fn vrrp2(name: &str) -> Vec<Vrrp2Repr> {
    packets(name)
        .iter()
        .map(|p| {
            let (ip, vrrp) = Ipv4Repr::parse(p).unwrap();
            assert_eq!((ip.ttl, ip.tos, ip.dont_fragment), (255, 0xc0, false));
            let repr = Vrrp2Repr::parse(vrrp).unwrap();
            assert_eq!(repr.emit(), vrrp, "{name}: re-encoded byte for byte");
            repr
        })
        .collect()
}

fn params(priority: u8, interval_s: u8) -> Vrrp2Params {
    Vrrp2Params {
        priority,
        interval_s,
    }
}

fn config(source: Ipv4Addr, priority: u8, password: &[u8]) -> VrConfigBuilder {
    let mut b = VrConfigBuilder::vrrp2(51, source, vec![VIP], params(priority, 1));
    b.password = password.to_vec();
    b
}

fn drain(node: &mut Node) -> Vec<Action> {
    std::iter::from_fn(|| node.poll_action())
        .map(|o| o.action)
        .collect()
}

fn drops(actions: &[Action]) -> Vec<DropReason> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dropped { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn state(node: &Node, id: RouterId) -> State {
    node.router(id).unwrap().state()
}

#[test]
fn keepalived_s_adverts_parse_and_reencode() {
    let pass = vrrp2(PASS);
    let (last, regular) = pass.split_last().unwrap();
    assert!(regular.len() >= 3);
    let auth = Vrrp2Auth::from_password(b"s3cret").unwrap();
    for r in regular {
        assert_eq!((r.vrid, r.priority, r.interval_s), (51, 200, 1));
        assert_eq!(r.addresses, [VIP]);
        assert!(auth.accepts(r));
    }
    assert_eq!(last.priority, 0, "the stop's advert");
    let two = vrrp2(TWO_VIPS);
    assert_eq!(two[0].auth_type, 0);
    assert_eq!(two[0].interval_s, 2);
    assert_eq!(
        two[0].addresses,
        [Ipv4Addr::new(10, 77, 0, 152), Ipv4Addr::new(10, 77, 0, 153)]
    );
    assert!(Vrrp2Auth::None.accepts(&two[0]));
}

#[test]
fn carpds_first_advert_is_keepalived_s_byte_for_byte() {
    // keepalived's settings (vrid 51, priority 200, auth_pass s3cret, 1 s) on keepalived's
    // address: carpd's first advert is the captured one, IP id (counted from 1) included.
    for (name, vrid, priority, interval_s, vips, password) in [
        (PASS, 51, 200, 1, vec![VIP], &b"s3cret"[..]),
        (
            TWO_VIPS,
            52,
            100,
            2,
            vec![Ipv4Addr::new(10, 77, 0, 152), Ipv4Addr::new(10, 77, 0, 153)],
            &b""[..],
        ),
    ] {
        let theirs = packets(name);
        let mut b = VrConfigBuilder::vrrp2(vrid, KEEPALIVED, vips, params(priority, interval_s));
        b.password = password.to_vec();
        let mut node = Node::new();
        node.add_router(1, b.build().unwrap(), Instant::ZERO, 1);
        let deadline = node.poll_timeout().unwrap();
        node.handle_timeout(deadline);
        let ours: Vec<Vec<u8>> = drain(&mut node)
            .into_iter()
            .filter_map(|a| match a {
                Action::Send { packet, .. } => Some(packet.into_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(ours.first(), theirs.first(), "{name}");
    }
}

#[test]
fn a_backup_follows_keepalived_and_takes_over_a_skew_time_after_its_stop() {
    let mut node = Node::new();
    let id = node.add_router(
        1,
        config(ME, 100, b"s3cret").build().unwrap(),
        Instant::ZERO,
        1,
    );
    drain(&mut node);
    let adverts = packets(PASS);
    let (stop, regular) = adverts.split_last().unwrap();
    let mut now = Instant::from_millis(100);
    let mut last_heard = now;
    for packet in regular {
        node.handle_packet(now, 1, packet);
        assert!(drops(&drain(&mut node)).is_empty());
        assert_eq!(state(&node, id), State::Backup);
        last_heard = now;
        now = now + Duration::from_secs(1);
    }
    assert_eq!(
        node.router(id).unwrap().master(),
        Some(IpAddr::V4(KEEPALIVED))
    );
    // RFC 3768: Master_Down_Interval = 3 × 1 s + (256 − 100)/256 s.
    assert_eq!(
        node.poll_timeout(),
        Some(last_heard + Duration::from_micros(3_609_375))
    );
    // keepalived stops (priority 0): Skew_Time = 156/256 s later carpd is master.
    node.handle_packet(now, 1, stop);
    drain(&mut node);
    assert_eq!(
        node.poll_timeout(),
        Some(now + Duration::from_micros(609_375))
    );
    node.handle_timeout(now + Duration::from_micros(609_375));
    drain(&mut node);
    assert_eq!(state(&node, id), State::Master);
}

#[test]
fn a_wrong_password_or_auth_type_is_dropped_as_bad_auth_and_never_obeyed() {
    for (password, auth_type) in [(&b"s3cre"[..], 1), (&b""[..], 1)] {
        let mut node = Node::new();
        let id = node.add_router(
            1,
            config(ME, 100, password).build().unwrap(),
            Instant::ZERO,
            1,
        );
        drain(&mut node);
        for (i, packet) in packets(PASS).iter().enumerate() {
            node.handle_packet(Instant::from_millis(100 + 500 * i as u64), 1, packet);
            assert_eq!(
                drops(&drain(&mut node)),
                [DropReason::BadAuth { auth_type }],
                "password {password:?}"
            );
        }
        assert_eq!(node.router(id).unwrap().master(), None);
        assert_eq!(DropReason::BadAuth { auth_type }.kind(), "bad-auth");
    }
    // A group with a password hears an advert without one as another auth type.
    let mut node = Node::new();
    let b = VrConfigBuilder::vrrp2(
        52,
        ME,
        vec![Ipv4Addr::new(10, 77, 0, 152), Ipv4Addr::new(10, 77, 0, 153)],
        params(100, 2),
    );
    let mut b = b;
    b.password = b"s3cret".to_vec();
    node.add_router(1, b.build().unwrap(), Instant::ZERO, 1);
    drain(&mut node);
    node.handle_packet(Instant::from_millis(100), 1, &packets(TWO_VIPS)[0]);
    assert_eq!(
        drops(&drain(&mut node)),
        [DropReason::BadAuth { auth_type: 0 }]
    );
}

#[test]
fn v2_and_v3_groups_drop_each_other_as_another_protocol() {
    let v3 = VrConfigBuilder::vrrp3(
        51,
        IpAddr::V4(ME),
        vec![IpAddr::V4(VIP)],
        Vrrp3Params::default(),
    );
    let mut node = Node::new();
    node.add_router(1, v3.build().unwrap(), Instant::ZERO, 1);
    drain(&mut node);
    node.handle_packet(Instant::from_millis(10), 1, &packets(PASS)[0]);
    assert_eq!(
        drops(&drain(&mut node)),
        [DropReason::OtherProtocol {
            heard: ProtocolKind::Vrrp2,
            ours: ProtocolKind::Vrrp3,
            vhid: 51
        }]
    );
    // A VRRPv3 advert on a VRRPv2 group.
    let mut node = Node::new();
    node.add_router(1, config(ME, 100, b"").build().unwrap(), Instant::ZERO, 1);
    drain(&mut node);
    let repr = Vrrp3Repr {
        vrid: 51,
        priority: 200,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(VIP)],
    };
    let vrrp = repr.emit(
        IpAddr::V4(KEEPALIVED),
        IpAddr::V4(GROUP_V4),
        Checksum::PseudoHeader,
    );
    node.handle_packet(
        Instant::from_millis(10),
        1,
        &ipv4_packet(KEEPALIVED, GROUP_V4, 255, 1, &vrrp),
    );
    assert_eq!(
        drops(&drain(&mut node)),
        [DropReason::OtherProtocol {
            heard: ProtocolKind::Vrrp3,
            ours: ProtocolKind::Vrrp2,
            vhid: 51
        }]
    );
    // A malformed VRRPv2 advert on a VRRPv2 group is counted as malformed, and TTL 254 too.
    let mut bad = packets(PASS)[0].clone();
    bad[20 + 9] ^= 1;
    node.handle_packet(Instant::from_millis(20), 1, &bad);
    assert_eq!(drops(&drain(&mut node))[0].kind(), "vrrp2-bad-checksum");
    let good = Vrrp2Repr::parse(&packets(PASS)[0][20..]).unwrap().emit();
    node.handle_packet(
        Instant::from_millis(30),
        1,
        &ipv4_packet(KEEPALIVED, GROUP_V4, 254, 1, &good),
    );
    assert_eq!(drops(&drain(&mut node)), [DropReason::BadTtl(254)]);
}

fn compat(priority: u8, interval_cs: u16, password: &[u8]) -> VrConfigBuilder {
    let mut b = VrConfigBuilder::vrrp3(
        51,
        IpAddr::V4(ME),
        vec![IpAddr::V4(VIP)],
        Vrrp3Params {
            priority,
            interval_cs,
            vrrp2_compat: true,
            ..Vrrp3Params::default()
        },
    );
    b.password = password.to_vec();
    b
}

#[test]
fn vrrp2_compat_sends_both_and_follows_a_v2_master() {
    // A compat master sends a VRRPv3 advert, then a VRRPv2 one with the same priority, whole
    // seconds and the VRRPv2 password.
    let mut node = Node::new();
    node.add_router(
        1,
        compat(150, 100, b"s3cret").build().unwrap(),
        Instant::ZERO,
        1,
    );
    let deadline = node.poll_timeout().unwrap();
    node.handle_timeout(deadline);
    let sent: Vec<Vec<u8>> = drain(&mut node)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => Some(packet.into_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2, "one of each version");
    assert_eq!(sent[0][20] >> 4, 3);
    let v2 = Vrrp2Repr::parse(&sent[1][20..]).unwrap();
    assert_eq!((v2.vrid, v2.priority, v2.interval_s), (51, 150, 1));
    assert!(Vrrp2Auth::from_password(b"s3cret").unwrap().accepts(&v2));

    // A compat backup follows keepalived (VRRPv2 only) as its master, and a priority 0.
    let mut node = Node::new();
    let id = node.add_router(
        1,
        compat(100, 100, b"s3cret").build().unwrap(),
        Instant::ZERO,
        1,
    );
    drain(&mut node);
    let adverts = packets(PASS);
    let mut now = Instant::from_millis(100);
    for packet in &adverts[..adverts.len() - 1] {
        node.handle_packet(now, 1, packet);
        assert!(drops(&drain(&mut node)).is_empty());
        now = now + Duration::from_secs(1);
    }
    assert_eq!(state(&node, id), State::Backup);
    assert_eq!(
        node.router(id).unwrap().master(),
        Some(IpAddr::V4(KEEPALIVED))
    );
    let received = node.router(id).unwrap().stats().adverts_received;

    // The same master sending both versions is heard once per interval, by its VRRPv3.
    let repr = Vrrp3Repr {
        vrid: 51,
        priority: 200,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(VIP)],
    };
    let v3 = repr.emit(
        IpAddr::V4(KEEPALIVED),
        IpAddr::V4(GROUP_V4),
        Checksum::PseudoHeader,
    );
    node.handle_packet(now, 1, &ipv4_packet(KEEPALIVED, GROUP_V4, 255, 1, &v3));
    node.handle_packet(now, 1, &adverts[0]);
    assert!(drops(&drain(&mut node)).is_empty());
    assert_eq!(
        node.router(id).unwrap().stats().adverts_received,
        received + 1
    );
}

#[test]
fn bad_vrrp2_values_are_named() {
    let mut b = config(ME, 100, b"123456789");
    assert_eq!(
        b.clone().build().unwrap_err(),
        ConfigError::Vrrp2PasswordLength { len: 9 }
    );
    b.password.clear();
    b.protocol.vrrp2_mut().unwrap().interval_s = 0;
    assert_eq!(b.build().unwrap_err(), ConfigError::Vrrp2IntervalZero);
    assert_eq!(
        compat(100, 150, b"").build().unwrap_err(),
        ConfigError::CompatInterval(150)
    );
    let mut v6 = VrConfigBuilder::vrrp3(
        51,
        "fe80::1".parse().unwrap(),
        vec!["2001:db8::1".parse().unwrap()],
        Vrrp3Params {
            vrrp2_compat: true,
            ..Vrrp3Params::default()
        },
    );
    assert_eq!(
        v6.clone().build().unwrap_err(),
        ConfigError::Vrrp2Ipv6("fe80::1".parse().unwrap())
    );
    v6.protocol.vrrp3_mut().unwrap().vrrp2_compat = false;
    assert!(v6.build().is_ok());
    // A VRRPv2 password change restarts the group; turning compat on does not.
    let a = config(ME, 100, b"one").build().unwrap();
    let b = config(ME, 100, b"two").build().unwrap();
    assert!(b.needs_restart(&a));
    let off = VrConfigBuilder::vrrp3(
        51,
        IpAddr::V4(ME),
        vec![IpAddr::V4(VIP)],
        Vrrp3Params::default(),
    )
    .build()
    .unwrap();
    let on = compat(100, 100, b"s3cret").build().unwrap();
    assert!(!on.needs_restart(&off));
}
