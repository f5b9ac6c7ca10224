//! Linux system interfaces. The only place with `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

pub mod child;
pub mod descriptors;
pub mod file;
pub mod iface;
pub mod lock;
pub mod macvlan;
pub mod memory;
pub mod multicast;
pub mod netlink;
pub mod packet;
pub mod prefetch;
pub mod privileges;
pub mod rawip;
pub mod realtime;
pub mod sysctl;
pub mod syslog;
pub mod timer;
pub mod vrrp6;

/// A socket type that owns one descriptor from creation to drop and never swaps it, which
/// is what tokio's reactor needs to be sound ([`register`]).
pub trait OwnedSocket: std::os::fd::AsRawFd {}

impl OwnedSocket for packet::PacketSocket {}
impl OwnedSocket for vrrp6::Vrrp6Socket {}

/// Registers `socket` with the tokio reactor for readability.
pub fn register<S: OwnedSocket>(socket: S) -> std::io::Result<tokio::io::unix::AsyncFd<S>> {
    // SAFETY: every OwnedSocket owns its descriptor for its whole lifetime and never
    // replaces it, so as_raw_fd returns the same open descriptor until the AsyncFd is dropped.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE)
    }
    .map_err(|e| e.into_parts().1)
}

/// Sets the integer socket option `level`/`name` of `socket` to `value` (options that nix
/// and socket2 have no typed setter for).
pub fn set_int_option(
    socket: &impl std::os::fd::AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: a descriptor borrowed for the call, a pointer to a live c_int and its exact
    // size; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
