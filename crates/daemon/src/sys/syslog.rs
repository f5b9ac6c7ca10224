//! syslog(3) through libc: the same channel and format ucarp uses.

use std::ffi::CString;

static IDENT: &std::ffi::CStr = c"carpd";

/// Opens the log with ident `carpd`, the pid, and `facility`.
pub fn open(facility: libc::c_int) {
    // SAFETY: IDENT is a 'static NUL-terminated string, as openlog requires (it keeps the
    // pointer); the flags and facility are plain integers.
    unsafe { libc::openlog(IDENT.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, facility) };
}

/// Sends one message at `priority`.
pub fn send(priority: libc::c_int, message: &str) {
    let Ok(text) = CString::new(message.replace('\0', " ")) else {
        return;
    };
    // SAFETY: the format is a literal "%s" with exactly one argument, a valid C string that
    // lives across the call.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
}
