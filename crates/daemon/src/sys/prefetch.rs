//! Asking the processor to start loading memory that is about to be read.
//!
//! With thousands of groups, a group's state is rarely in the cache when its timer fires or
//! its advert arrives: each first touch waits for memory. When the groups of the next few
//! inputs are known (the timers due at a wake-up, the frames read ahead), loading them all
//! first lets those waits overlap instead of coming one after the other. A hint only: it
//! changes no value the program reads.

/// The size of a cache line on the processors carpd runs on.
const LINE: usize = 64;

/// Starts loading every cache line of `value`.
pub fn prefetch<T>(value: &T) {
    let start = std::ptr::from_ref(value).cast::<u8>();
    let address = start as usize;
    let first_line = address - address % LINE;
    for line in (first_line..address + std::mem::size_of::<T>()).step_by(LINE) {
        line_of(start.wrapping_add(line.wrapping_sub(address)));
    }
}

#[cfg(target_arch = "x86_64")]
fn line_of(at: *const u8) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: SSE is part of x86-64, so every processor this build runs on has the
    // instruction; a prefetch loads nothing into the program and never faults, whatever the
    // address.
    unsafe { _mm_prefetch::<{ _MM_HINT_T0 }>(at.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
fn line_of(_at: *const u8) {}
