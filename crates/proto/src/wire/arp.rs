//! Gratuitous ARP in ucarp's format.
//!
//! ucarp garp.c: an ARP *request* broadcast from the interface's MAC, with sender IP = target
//! IP = VIP and target MAC = the sender's own MAC (docs/protocol.md §5).

use super::ethernet::{self, Frame};
use super::DecodeError;
use std::net::Ipv4Addr;

/// Length of the ARP payload for Ethernet/IPv4.
pub const PAYLOAD_LEN: usize = 28;
/// Length of a whole gratuitous ARP frame (no padding, as ucarp sends it).
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PAYLOAD_LEN;

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// 1 = request, 2 = reply
    pub operation: u16,
    /// sender hardware address
    pub sender_mac: [u8; 6],
    /// sender protocol address
    pub sender_ip: Ipv4Addr,
    /// target hardware address
    pub target_mac: [u8; 6],
    /// target protocol address
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// The gratuitous request ucarp sends for `vip` from `mac`.
    pub fn gratuitous(mac: [u8; 6], vip: Ipv4Addr) -> Self {
        ArpRepr {
            operation: 1,
            sender_mac: mac,
            sender_ip: vip,
            target_mac: mac,
            target_ip: vip,
        }
    }

    /// Parses an ARP payload (after the Ethernet header). Only Ethernet/IPv4 ARP is accepted.
    pub fn parse(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() < PAYLOAD_LEN {
            return Err(DecodeError::Truncated {
                len: payload.len(),
                need: PAYLOAD_LEN,
            });
        }
        let field6 = |at: usize| {
            let mut mac = [0; 6];
            mac.copy_from_slice(&payload[at..at + 6]);
            mac
        };
        let ip4 = |at: usize| {
            Ipv4Addr::new(
                payload[at],
                payload[at + 1],
                payload[at + 2],
                payload[at + 3],
            )
        };
        Ok(ArpRepr {
            operation: u16::from_be_bytes([payload[6], payload[7]]),
            sender_mac: field6(8),
            sender_ip: ip4(14),
            target_mac: field6(18),
            target_ip: ip4(24),
        })
    }

    /// Writes the 28-byte ARP payload.
    pub fn emit_payload(&self) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        p[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
        p[2..4].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
        p[4] = 6;
        p[5] = 4;
        p[6..8].copy_from_slice(&self.operation.to_be_bytes());
        p[8..14].copy_from_slice(&self.sender_mac);
        p[14..18].copy_from_slice(&self.sender_ip.octets());
        p[18..24].copy_from_slice(&self.target_mac);
        p[24..28].copy_from_slice(&self.target_ip.octets());
        p
    }

    /// Writes the whole broadcast frame, source = `sender_mac`.
    pub fn emit_frame(&self) -> ethernet::FrameBytes {
        let payload = self.emit_payload();
        Frame {
            destination: ethernet::BROADCAST,
            source: self.sender_mac,
            ethertype: ethernet::ETHERTYPE_ARP,
            payload: &payload,
        }
        .emit()
    }
}

/// The complete gratuitous ARP frame for `vip` sent from `mac`.
pub fn gratuitous_frame(mac: [u8; 6], vip: Ipv4Addr) -> ethernet::FrameBytes {
    ArpRepr::gratuitous(mac, vip).emit_frame()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout() {
        let mac = [0x5a, 0xa7, 0xe4, 0xc8, 0x12, 0x51];
        let f = gratuitous_frame(mac, Ipv4Addr::new(10, 99, 0, 100));
        assert_eq!(f.len(), FRAME_LEN);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..22], &[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        let back = ArpRepr::parse(&f[14..]).unwrap();
        assert_eq!(
            back,
            ArpRepr::gratuitous(mac, Ipv4Addr::new(10, 99, 0, 100))
        );
    }
}
