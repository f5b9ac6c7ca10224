//! The one `unsafe` of the lab: a `sockaddr_ll` for sending frames out of an interface.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;

/// The link-layer address of interface `ifindex` for frames of `ethertype`.
pub(crate) fn link(ifindex: u32, ethertype: u16) -> io::Result<socket2::SockAddr> {
    // SAFETY: the storage is zeroed and larger than sockaddr_ll, which has no stricter
    // alignment; we write one whole sockaddr_ll and report its size.
    let ((), address) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let ll = storage.cast::<libc::sockaddr_ll>();
            (*ll).sll_family = libc::AF_PACKET as u16;
            (*ll).sll_protocol = ethertype.to_be();
            (*ll).sll_ifindex = ifindex as i32;
            (*ll).sll_halen = 6;
            *len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(address)
}
