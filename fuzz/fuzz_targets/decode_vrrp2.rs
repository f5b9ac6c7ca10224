//! The VRRPv2 decoder on arbitrary bytes (taken as an IPv4 packet when it parses as one, else
//! as the VRRP part): never panics; what parses re-emits to the same bytes, save the checksum
//! field: one's-complement zero has two forms (0x0000 and 0xffff), both verify, and the
//! emitter writes one of them.
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
        let again = repr.emit();
        assert_eq!(again.len(), vrrp.len());
        assert_eq!(&again[..6], &vrrp[..6], "the header re-emits byte for byte");
        assert_eq!(&again[8..], &vrrp[8..], "addresses and auth data re-emit");
        let sent = u16::from_be_bytes([vrrp[6], vrrp[7]]);
        let written = u16::from_be_bytes([again[6], again[7]]);
        assert!(
            sent == written || (sent == 0xffff && written == 0),
            "checksum {sent:#06x} re-emitted as {written:#06x}"
        );
        assert_eq!(Vrrp2Repr::parse(&again).expect("emitted advert parses"), repr);
    }
});
