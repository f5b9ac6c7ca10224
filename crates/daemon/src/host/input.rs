//! What the host is told ([`Input`]) and what it leaves for the I/O side to do ([`Effect`]).

use super::jobs::Job;
use crate::host::report::Event;
use crate::sys::iface::VipLink;
use carpd_proto::wire::ethernet::FrameBytes;
use carpd_proto::{HookId, PacketBytes, RouterId};
use std::net::{IpAddr, Ipv4Addr};

/// A link's key: stable while carpd runs, across re-creation of the kernel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// SIGTERM, SIGINT or SIGQUIT (the name, without SIG): every group leaves, carpd exits.
    Stop(&'static str),
    /// SIGHUP: stop, as ucarp does (command-line mode).
    Hangup,
    /// SIGUSR1: log each group's state.
    Status,
    /// SIGUSR2: every master bows out and stays backup for 3 s (ucarp's demote).
    Demote,
    /// A deadline of the core has come.
    Timer,
    /// The loop woke this long after the deadline it slept towards (the machine was paused);
    /// comes before the [`Input::Timer`] of that wake-up, after what arrived meanwhile.
    Stalled(std::time::Duration),
    /// A hook job of `router` is over (done, killed, skipped).
    HookDone {
        /// the group
        router: RouterId,
        /// the job
        job: Job,
        /// how it ran, when something ran (for the metrics)
        report: Option<super::jobs::HookReport>,
    },
    /// What is known of a link now: whether the interface exists, whether it is up with
    /// carrier, and its Ethernet address.
    Link {
        /// the link
        link: LinkId,
        /// the interface exists under its name
        present: bool,
        /// administratively up and with carrier
        running: bool,
        /// its Ethernet address
        mac: [u8; 6],
    },
    /// Someone removed this address from the link.
    AddressRemoved {
        /// the link
        link: LinkId,
        /// the address
        address: IpAddr,
    },
    /// Someone removed a route (destination, prefix, table).
    RouteRemoved {
        /// its destination network
        destination: IpAddr,
        /// its prefix length
        prefix: u8,
        /// its table
        table: u32,
    },
    /// What is known of a VIP interface now (`vip_interface`).
    VipLink {
        /// its name
        name: String,
        /// its state
        state: VipLink,
    },
    /// Someone removed this address from a VIP interface.
    VipAddressRemoved {
        /// the interface's name
        name: String,
        /// the address
        address: IpAddr,
    },
    /// An Ethernet frame arrived on the link.
    Frame {
        /// the link
        link: LinkId,
        /// the whole frame (inline for an advert)
        bytes: FrameBytes,
    },
    /// A VRRP packet arrived on the link's IPv6 socket (the IPv6 header taken off).
    Packet6 {
        /// the link
        link: LinkId,
        /// its sender
        source: std::net::Ipv6Addr,
        /// where it was sent
        destination: std::net::Ipv6Addr,
        /// its hop limit on arrival
        hop_limit: u8,
        /// the VRRP packet
        bytes: Vec<u8>,
    },
    /// A tracker's check came back (or its interface or file changed).
    Tracker {
        /// the tracker's name
        tracker: String,
        /// a success (healthy observation)
        ok: bool,
        /// what was seen, for the logs and `carpctl`
        detail: String,
    },
}

/// What a hook runner is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRequest {
    /// queue this job
    Run(Job),
    /// cancel this hook (skip it if queued, kill it if running)
    Cancel(HookId),
}

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this Ethernet frame on the link.
    Transmit {
        /// the link
        link: LinkId,
        /// the whole frame (inline for an advert or a gratuitous ARP)
        frame: FrameBytes,
        /// its ethertype (the packet socket wants it)
        ethertype: u16,
    },
    /// Send this Ethernet frame on an interface that is no link (a VIP interface).
    TransmitOn {
        /// the interface's kernel index
        index: u32,
        /// the whole frame
        frame: FrameBytes,
        /// its ethertype
        ethertype: u16,
    },
    /// Send this IPv4 packet (header included) to a unicast peer; the kernel routes it.
    SendIp {
        /// the link whose interface it leaves by
        link: LinkId,
        /// the peer
        to: Ipv4Addr,
        /// the whole IPv4 packet
        packet: PacketBytes,
    },
    /// Send this VRRP packet over IPv6 from the group's link-local address; the socket
    /// writes the IPv6 header and the checksum.
    SendIp6 {
        /// the link
        link: LinkId,
        /// the group's source address
        from: std::net::Ipv6Addr,
        /// ff02::12 or a unicast peer
        to: std::net::Ipv6Addr,
        /// the VRRP packet (on the heap: inline, it would make every effect larger)
        packet: Vec<u8>,
    },
    /// A request for a group's hook runner.
    Hook {
        /// the group
        router: RouterId,
        /// what to do
        request: HookRequest,
    },
    /// The one-line status for systemd changed.
    Status(String),
    /// Something `carpctl watch` shows (boxed, as the next: the list of effects keeps its
    /// room between wake-ups, and the rare large variants would make every entry large).
    Event(Box<Event>),
    /// Call a notify script (after the calls before it).
    Notify(Box<super::jobs::Notification>),
}

// Every entry of the effect list is this size: keep the common ones (frames, hooks) small.
// A frame is carried inline (an advert's 70 bytes), which a master's adverts, one effect
// each, gain more from than the list's kept room costs.
const _: () = assert!(std::mem::size_of::<Effect>() <= 96);
