//! What the core asks the driver to do, and why packets were dropped.

use crate::wire::DecodeError;
use std::net::IpAddr;

/// A virtual router's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not taking part (before start, after stop).
    Init,
    /// Listening for the master.
    Backup,
    /// Holding the VIP and advertising.
    Master,
    /// A tracker it depends on failed: not advertising, not competing, not holding the VIP.
    Fault,
}

impl State {
    /// The name ucarp logs ("Switching to state: MASTER").
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// Which hook to run. The driver runs a script or manages the VIP itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// Becoming master: bring the VIP up.
    Up,
    /// Leaving master (or starting as backup): take the VIP down.
    Down,
}

/// A hook request's id, unique within its router. Completions and cancellations name it, so
/// a late completion of a cancelled hook is never taken for the completion of a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookId(pub u64);

/// Why the state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateChangeReason {
    /// INIT to BACKUP at start.
    Startup,
    /// Nothing heard from a master for the master-down interval.
    MasterDown,
    /// `--preempt` and the master is less preferred.
    Preemption,
    /// The master's interval is longer than our master-down interval.
    MasterWillTimeOut,
    /// The master sent the bow-out advert (advbase 255, advskew 255).
    MasterBowedOut,
    /// The master advertises a higher demote counter.
    MasterDemoted,
    /// A more preferred master advertised.
    PreferredMaster,
    /// The interface lost its carrier or went down.
    LinkDown,
    /// The demote command (SIGUSR2).
    Demoted,
    /// The stop command.
    Stopped,
    /// The operator's drain (`carpctl demote`).
    Drained,
    /// Something the group depends on failed (a tracker with weight 0).
    Fault,
    /// Every fault is over: BACKUP, taking part in the election again.
    FaultCleared,
    /// VRRPv3 priority 255: the owner of the addresses is master from the start.
    AddressOwner,
    /// The VRRPv3 master sent priority 0 and this backup's Skew_Time passed.
    MasterLeft,
}

impl StateChangeReason {
    /// A short stable name for events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            StateChangeReason::Startup => "startup",
            StateChangeReason::MasterDown => "master-down",
            StateChangeReason::Preemption => "preemption",
            StateChangeReason::MasterWillTimeOut => "master-will-time-out",
            StateChangeReason::MasterBowedOut => "master-bowed-out",
            StateChangeReason::MasterDemoted => "master-demoted",
            StateChangeReason::PreferredMaster => "preferred-master",
            StateChangeReason::LinkDown => "link-down",
            StateChangeReason::Demoted => "demoted",
            StateChangeReason::Stopped => "stopped",
            StateChangeReason::Drained => "drained",
            StateChangeReason::Fault => "fault",
            StateChangeReason::FaultCleared => "fault-cleared",
            StateChangeReason::AddressOwner => "address-owner",
            StateChangeReason::MasterLeft => "master-left",
        }
    }
}

/// Why an incoming packet was not used. The driver counts these per kind and logs them
/// rate-limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a well-formed IPv4/CARP advertisement.
    Malformed(DecodeError),
    /// TTL other than 255 (the packet crossed a router).
    BadTtl(u8),
    /// No group with this vhid on this interface.
    UnknownVhid(u8),
    /// Sent to another multicast group than ours.
    WrongGroup(IpAddr),
    /// The HMAC does not verify: wrong password, VIP or vhid at the sender.
    BadDigest,
    /// A VRRPv2 advert whose auth type or password is not the group's (keepalived's
    /// `auth_type PASS`): never an election input.
    BadAuth {
        /// the auth type the advert carries (0 none, 1 simple text, 2 AH)
        auth_type: u8,
    },
    /// The exact counter was already received recently.
    Replay,
    /// An IP fragment (more-fragments flag or a fragment offset): adverts are never
    /// fragmented, so a fragment is not taken as a whole advert.
    Fragment,
    /// An advert of another protocol on protocol 112 for a vhid that this host serves with
    /// its own (for example a keepalived VRRPv2 instance on the vhid of a CARP group):
    /// never an election input.
    OtherProtocol {
        /// what was heard
        heard: ProtocolKind,
        /// what the group on this vhid speaks
        ours: ProtocolKind,
        /// the vhid (VRID)
        vhid: u8,
    },
    /// A group with unicast peers heard an advert from an address that is not one of them.
    NotAPeer,
    /// A backup following a live master heard another router that does not beat that master
    /// (nor this backup): a stranger may not move it, nor a departure it announces.
    NotTheMaster {
        /// the master the group follows
        master: IpAddr,
    },
}

/// The protocols that share IP protocol 112.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    /// CARP (version 2 in the first nibble, 36 bytes)
    Carp,
    /// VRRPv2 (RFC 3768; keepalived's default version)
    Vrrp2,
    /// VRRPv3 (RFC 9568)
    Vrrp3,
}

impl ProtocolKind {
    /// The name used in logs and status: `CARP`, `VRRPv2`, `VRRPv3`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::Carp => "CARP",
            ProtocolKind::Vrrp2 => "VRRPv2",
            ProtocolKind::Vrrp3 => "VRRPv3",
        }
    }
}

impl DropReason {
    /// A short stable name for counters and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DropReason::Malformed(e) => match e {
                DecodeError::Truncated { .. } => "truncated",
                DecodeError::NotIpv4Frame(_)
                | DecodeError::BadIpVersion(_)
                | DecodeError::BadIpHeaderLength(_)
                | DecodeError::BadIpTotalLength { .. } => "bad-ip-header",
                DecodeError::BadIpChecksum => "bad-ip-checksum",
                DecodeError::NotCarp(_) => "not-carp",
                DecodeError::BadCarpChecksum => "bad-checksum",
                DecodeError::BadCarpVersion(_) => "bad-version",
                DecodeError::BadCarpType(_) => "bad-type",
                DecodeError::BadAuthLen(_) => "bad-authlen",
                DecodeError::BadVrrpVersion(_) => "vrrp3-bad-version",
                DecodeError::BadVrrpType(_) => "vrrp3-bad-type",
                DecodeError::BadVrrpLength { .. } => "vrrp3-bad-length",
                DecodeError::BadVrrpChecksum => "vrrp3-bad-checksum",
                DecodeError::BadVrrpInterval => "vrrp3-bad-interval",
                DecodeError::BadVrrp2Header(_) => "vrrp2-bad-type",
                DecodeError::BadVrrp2Length { .. } => "vrrp2-bad-length",
                DecodeError::BadVrrp2Checksum => "vrrp2-bad-checksum",
                DecodeError::BadVrrp2Interval => "vrrp2-bad-interval",
            },
            DropReason::BadTtl(_) => "bad-ttl",
            DropReason::UnknownVhid(_) => "other-vhid",
            DropReason::WrongGroup(_) => "other-group",
            DropReason::BadDigest => "bad-digest",
            DropReason::BadAuth { .. } => "bad-auth",
            DropReason::Replay => "replay",
            DropReason::Fragment => "fragment",
            DropReason::OtherProtocol { .. } => "other-protocol",
            DropReason::NotAPeer => "not-a-peer",
            DropReason::NotTheMaster { .. } => "not-the-master",
        }
    }
}

/// Where a packet goes on the link. The IP destination inside the packet is the core's; this
/// tells the driver which link-layer destination to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The group's multicast address (link destination derived from it, 01:00:5e:.. for IPv4).
    Multicast(IpAddr),
    /// The link's broadcast address, with the group address inside (ucarp `--nomcast`).
    Broadcast,
    /// One peer's unicast address (the driver resolves its link-layer address).
    Unicast(IpAddr),
}

/// How many bytes of a packet live inline in [`PacketBytes`]: a CARP advert, IPv4 header
/// included.
pub const PACKET_INLINE: usize = 56;

/// A packet to send: inline up to [`PACKET_INLINE`] bytes (a CARP advert, a VRRP advert with
/// a few VIPs), on the heap beyond. A master's regular advert allocates nothing.
pub type PacketBytes = smallvec::SmallVec<[u8; PACKET_INLINE]>;

/// One thing for the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this packet on the router's link, from the interface's own link-layer address.
    /// For an IPv4 destination it is the whole IP packet, header included (56 bytes for a
    /// CARP advert); for an IPv6 destination it is the VRRP packet alone, and the driver's
    /// socket writes the IPv6 header (hop limit 255, the link-local source).
    Send {
        /// where the packet goes on the link
        destination: Destination,
        /// the packet (see above)
        packet: PacketBytes,
    },
    /// Tell the link that this VIP is here (a gratuitous ARP for IPv4, an unsolicited
    /// Neighbor Advertisement with the override flag for IPv6).
    Announce {
        /// the virtual address
        vip: IpAddr,
    },
    /// Run the up or down hook after the hooks queued before it; report its completion
    /// (also when it was cancelled or killed) with `handle_hook_done`.
    RunHook {
        /// names this request in completions and cancellations
        id: HookId,
        /// up or down
        kind: HookKind,
    },
    /// The hook is no longer wanted (the router left MASTER while its up hook was queued or
    /// running): kill it with its process group at once if it runs, skip it if it is queued.
    CancelHook {
        /// the request to cancel
        id: HookId,
    },
    /// The state changed.
    StateChanged {
        /// old state
        from: State,
        /// new state
        to: State,
        /// why
        reason: StateChangeReason,
    },
    /// A packet was dropped.
    Dropped {
        /// why
        reason: DropReason,
        /// its source, when the header was readable
        source: Option<IpAddr>,
    },
    /// A VRRPv3 advert that was used although it disagrees with this group: another address
    /// list or another interval (RFC 9568 §7.1: log it, rate-limited, and let management see
    /// it; the election still uses it).
    Mismatch {
        /// the sender
        source: IpAddr,
        /// the addresses it advertises, sorted, when they differ from ours
        addresses: Option<Vec<IpAddr>>,
        /// its interval in centiseconds, when it differs from ours
        interval_cs: Option<u16>,
    },
}
