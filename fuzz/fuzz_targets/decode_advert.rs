//! The IPv4 + CARP decoder on arbitrary bytes: never panics; what parses re-emits to the
//! same CARP header bytes.
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
            assert_eq!(&repr.to_bytes()[..], &data[..36]);
        }
    }
});
