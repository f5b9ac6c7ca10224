//! The IPv4 + CARP decoder on arbitrary bytes: never panics; what parses re-emits to the
//! same CARP header bytes, save the checksum field: one's-complement zero has two forms
//! (0x0000 and 0xffff), both verify, and the emitter writes one of them.
#![no_main]

use carpd_proto::wire::carp::{Advertisement, CarpRepr, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(adv) = Advertisement::parse(data) {
        let again = Advertisement::parse(&adv.emit()).expect("emitted advert parses");
        assert_eq!(again.carp, adv.carp);
    }
    if let Ok(packet) = Packet::new_checked(data) {
        if let Ok(repr) = CarpRepr::parse(&packet) {
            let bytes = repr.to_bytes();
            assert!(Packet::new_checked(&bytes[..]).unwrap().verify_checksum());
            assert_eq!(&bytes[..6], &data[..6]);
            assert_eq!(&bytes[8..], &data[8..36]);
        }
    }
});
