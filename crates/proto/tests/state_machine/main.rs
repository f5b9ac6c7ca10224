//! The CARP state machine driven through its inputs, by topic (the VRRPv3 one is
//! `vrrp3_machine.rs`).

mod common;
mod election;
mod hooks;
mod node;
mod operator;
mod pause;
