//! The Ethernet, IPv4 and ARP decoders on arbitrary bytes: never panic.
#![no_main]

use carpd_proto::wire::arp::ArpRepr;
use carpd_proto::wire::ethernet::Frame;
use carpd_proto::wire::ipv4::Ipv4Repr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::parse(data) {
        let _ = Ipv4Repr::parse(frame.payload);
        if let Ok(arp) = ArpRepr::parse(frame.payload) {
            assert_eq!(ArpRepr::parse(&arp.emit_payload()), Ok(arp));
        }
    }
});
