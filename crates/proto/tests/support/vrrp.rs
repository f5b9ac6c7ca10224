//! A VRRP packet in an IPv4 header as VRRP senders write it (TOS 0xc0, protocol 112), for the
//! VRRPv2 and VRRPv3 machine tests.

use carpd_proto::wire::ipv4::Ipv4Repr;
use std::net::Ipv4Addr;

/// `vrrp` from `source` to `destination` with `ttl`.
pub fn in_ipv4(source: Ipv4Addr, destination: Ipv4Addr, ttl: u8, vrrp: &[u8]) -> Vec<u8> {
    let mut packet = Ipv4Repr {
        source,
        destination,
        ttl,
        tos: 0xc0,
        ident: 1,
        dont_fragment: false,
        protocol: 112,
        payload_len: vrrp.len(),
    }
    .emit()
    .to_vec();
    packet.extend_from_slice(vrrp);
    packet
}
