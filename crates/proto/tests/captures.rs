//! Golden vectors: every packet in the real ucarp 1.5.2 captures (testdata/captures) parses,
//! its HMAC verifies with the password and VIP from the file name, and emitting the parsed
//! fields gives the same bytes. Every gratuitous ARP is byte-identical to ours.

#[path = "support/pcap.rs"]
mod pcap;

use carpd_proto::wire::arp::{gratuitous_frame, ArpRepr};
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, DEFAULT_GROUP};
use carpd_proto::wire::ethernet::{multicast_mac, Frame, BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use std::net::Ipv4Addr;
use std::path::PathBuf;

struct Params {
    vhid: u8,
    password: String,
    vip: Ipv4Addr,
    broadcast: bool,
    group: Ipv4Addr,
}

/// `vhid<N>-pass_<PASSWORD>-vip<VIP>-...[-broadcast|-mcast<GROUP>].pcap`, plus the two-node
/// file whose name puts the same facts after `two-nodes-`.
fn params(name: &str) -> Params {
    let stem = name
        .trim_end_matches(".pcap")
        .trim_start_matches("two-nodes-");
    let mut vhid = None;
    let mut password = None;
    let mut vip = None;
    let mut broadcast = false;
    let mut group = DEFAULT_GROUP;
    // The password may hold '-': it runs from "pass_" to "-vip".
    if let (Some(a), Some(b)) = (stem.find("pass_"), stem.find("-vip")) {
        password = Some(stem[a + 5..b].to_string());
    }
    for part in stem.split('-') {
        if let Some(v) = part.strip_prefix("vhid") {
            vhid = Some(v.parse().unwrap());
        } else if let Some(v) = part.strip_prefix("vip") {
            vip = Some(v.parse().unwrap());
        } else if part == "broadcast" {
            broadcast = true;
        } else if let Some(v) = part.strip_prefix("mcast") {
            group = v.parse().unwrap();
        }
    }
    Params {
        vhid: vhid.expect("vhid in name"),
        password: password.expect("password in name"),
        vip: vip.expect("vip in name"),
        broadcast,
        group,
    }
}

fn capture_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/captures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_captured_advert_parses_verifies_and_reemits() {
    let files = capture_files();
    assert_eq!(files.len(), 6, "expected the six shared captures");
    let mut adverts = 0;
    let mut garps = 0;
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let p = params(&name);
        let auth = Authenticator::new(p.password.as_bytes(), p.vhid, &[p.vip]).unwrap();
        let wrong = Authenticator::new(b"wrong", p.vhid, &[p.vip]).unwrap();
        let mut seen_here = 0;
        for frame_bytes in pcap::frames(&std::fs::read(&path).unwrap()) {
            let frame = Frame::parse(&frame_bytes).unwrap();
            match frame.ethertype {
                ETHERTYPE_IPV4 if frame.payload.get(9) == Some(&112) => {
                    let adv = Advertisement::parse(frame.payload)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(adv.carp.vhid, p.vhid, "{name}");
                    assert_eq!(adv.ip.ttl, 255);
                    assert_eq!(adv.ip.tos, 0x10);
                    assert!(adv.ip.dont_fragment);
                    assert_eq!(adv.ip.destination, p.group, "{name}");
                    assert!(
                        auth.verify(adv.carp.counter, &adv.carp.digest),
                        "{name}: HMAC"
                    );
                    assert!(!wrong.verify(adv.carp.counter, &adv.carp.digest));
                    assert_eq!(auth.digest(adv.carp.counter), adv.carp.digest);
                    assert_eq!(&adv.emit()[..], frame.payload, "{name}: re-emit differs");
                    let expected_dst = if p.broadcast {
                        BROADCAST
                    } else {
                        multicast_mac(p.group)
                    };
                    assert_eq!(frame.destination, expected_dst, "{name}");
                    assert_eq!(frame.source, [0, 0, 0x5e, 0, 0, p.vhid], "{name}");
                    adverts += 1;
                    seen_here += 1;
                }
                ETHERTYPE_ARP => {
                    let arp = ArpRepr::parse(frame.payload).unwrap();
                    if arp.sender_ip == p.vip && arp.target_ip == p.vip {
                        assert_eq!(
                            &gratuitous_frame(frame.source, p.vip)[..],
                            &frame_bytes[..],
                            "{name}"
                        );
                        garps += 1;
                    }
                }
                _ => {}
            }
        }
        assert!(seen_here > 0, "{name}: no advert found");
    }
    assert!(adverts >= 20, "only {adverts} adverts");
    assert!(garps >= 1, "no gratuitous ARP in the captures");
}

#[test]
fn advbase0_capture_shows_subsecond_interval_fields() {
    let path = capture_files()
        .into_iter()
        .find(|p| p.to_str().unwrap().contains("base0-skew30"))
        .unwrap();
    for frame_bytes in pcap::frames(&std::fs::read(path).unwrap()) {
        let frame = Frame::parse(&frame_bytes).unwrap();
        if let Ok(adv) = Advertisement::parse(frame.payload) {
            assert_eq!(
                (adv.carp.advbase, adv.carp.advskew, adv.carp.demote),
                (0, 30, 0)
            );
        }
    }
}
