//! The VRRPv2 decoder on arbitrary bytes (taken as an IPv4 packet when it parses as one, else
//! as the VRRP part): never panics; what parses re-emits to the same bytes.
#![no_main]

use carpd_proto::wire::ipv4::Ipv4Repr;
use carpd_proto::wire::vrrp2::Vrrp2Repr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let vrrp = match Ipv4Repr::parse(data) {
        Ok((_, payload)) => payload,
        Err(_) => data,
    };
    if let Ok(repr) = Vrrp2Repr::parse(vrrp) {
        assert_eq!(repr.emit(), vrrp, "a VRRPv2 advert re-emits byte for byte");
    }
});
