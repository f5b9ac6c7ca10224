//! The VRRPv3 decoder on arbitrary bytes, over IPv4 (the first byte picks the family; IPv4
//! takes the rest as an IP packet) and IPv6 (the rest as the VRRP part from fe80::1 to
//! ff02::12): never panics; what parses re-emits, in the variant that verified, to bytes that
//! parse to the same fields.
#![no_main]

use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::wire::vrrp3::{Checksum, Vrrp3Repr, GROUP_V6};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv6Addr};

fn round_trip(vrrp: &[u8], from: IpAddr, to: IpAddr) {
    if let Ok((repr, variant)) = Vrrp3Repr::parse(vrrp, from, to) {
        let again = repr.emit(from, to, variant);
        assert_eq!(again.len(), vrrp.len());
        let (parsed, variant_again) =
            Vrrp3Repr::parse(&again, from, to).expect("emitted advert parses");
        assert_eq!(parsed, repr);
        // IPv6 has one variant; an IPv4 advert may verify in both only by coincidence of
        // its checksum, and then the pseudo-header variant is reported first.
        if from.is_ipv6() {
            assert_eq!(variant_again, Checksum::PseudoHeader);
        }
        assert_eq!(&again[..4], &vrrp[..4]);
        assert_eq!(&again[8..], &vrrp[8..]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&family, rest)) = data.split_first() else {
        return;
    };
    if family & 1 == 0 {
        if let Ok((ip, payload)) = Ipv4Repr::parse(rest) {
            round_trip(payload, IpAddr::V4(ip.source), IpAddr::V4(ip.destination));
        }
    } else {
        let from = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        round_trip(rest, from, IpAddr::V6(GROUP_V6));
    }
});
