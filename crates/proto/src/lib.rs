//! carpd's protocol core: CARP as ucarp 1.5.2 speaks it, VRRPv3 (RFC 9568) for IPv4 and
//! IPv6 and VRRPv2 (RFC 3768) for IPv4, with no I/O.
//!
//! Nothing in this crate opens a socket, reads a clock, spawns a thread or logs above `debug`.
//! Time comes in as an argument ([`Instant`]), randomness from a seed. The contract follows
//! quinn-proto: feed an input with one of the `handle_*` methods of [`Node`] (or
//! [`VirtualRouter`]), then drain [`Node::poll_action`] until it returns `None`, then read
//! [`Node::poll_timeout`] and call [`Node::handle_timeout`] when that instant has come.
//!
//! The codecs in [`wire`] never panic on any input: every malformed packet gives a specific
//! [`wire::DecodeError`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod action;
pub mod advert;
pub mod config;
pub mod election;
pub mod error;
pub mod node;
pub mod protocol;
pub mod rng;
pub mod time;
pub mod vr;
pub mod wire;

pub use action::{
    Action, Destination, DropReason, HookId, HookKind, PacketBytes, ProtocolKind, State,
    StateChangeReason,
};
pub use config::{VrConfig, VrConfigBuilder};
pub use error::ConfigError;
pub use node::{Node, RouterId};
pub use protocol::{CarpParams, Protocol, Vrrp2Params, Vrrp3Params};
pub use time::Instant;
pub use vr::{Command, Reconfigured, RouterStats, VirtualRouter};
