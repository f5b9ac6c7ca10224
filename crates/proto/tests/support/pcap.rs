//! A minimal reader for classic pcap files (test support only).

/// The frames of a microsecond-resolution, little- or big-endian classic pcap file.
pub fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert!(bytes.len() >= 24, "pcap too short");
    let little = match &bytes[0..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] => false,
        other => panic!("not a microsecond pcap: magic {other:02x?}"),
    };
    let word = |at: usize| {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(word(20), 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = word(at + 8) as usize;
        at += 16;
        out.push(bytes[at..at + caplen].to_vec());
        at += caplen;
    }
    out
}
