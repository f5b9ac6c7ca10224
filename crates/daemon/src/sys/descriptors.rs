//! Descriptors carpd inherited from whoever started it (a shell's redirections, a supervisor's
//! pipes) must not reach the scripts: carpd marks them close-on-exec before it opens anything.
//! Its own descriptors are close-on-exec from the start.

/// Marks every descriptor above 2 close-on-exec (they stay open in carpd itself).
pub fn close_inherited_on_exec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on open descriptors in
    // the range; it touches no memory of ours.
    let rc = unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: one descriptor at a time.
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD on a descriptor number only read and set its flags; a
        // number that is no longer open fails with EBADF and is skipped.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}
