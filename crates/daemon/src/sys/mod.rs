//! Linux system interfaces. The only place with `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

pub mod child;
pub mod descriptors;
pub mod iface;
pub mod lock;
pub mod multicast;
pub mod netlink;
pub mod packet;
pub mod privileges;
pub mod syslog;
