//! Realtime scheduling for the event loop (`[daemon] realtime_priority`): SCHED_FIFO at the
//! configured priority and every page locked in memory, so that neither a busy CPU nor a page
//! fault stands between an advert and its timer. Scripts and any thread started later revert
//! to the normal scheduler (SCHED_RESET_ON_FORK): a slow script never runs at realtime.
//! The kernel's realtime throttling (`kernel.sched_rt_runtime_us`, 95 % of each CPU by
//! default) keeps a runaway loop from starving the host.

use std::io;

/// Locks the process's memory (now and from now on) and moves it to SCHED_FIFO at `priority`
/// (1–99). Needs CAP_IPC_LOCK and CAP_SYS_NICE (or matching RLIMIT_MEMLOCK and RLIMIT_RTPRIO);
/// the error says which step failed.
pub fn enter(priority: u8) -> Result<(), String> {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(|e| {
        format!("mlockall: {e} (needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK)")
    })?;
    let param = libc::sched_param {
        sched_priority: libc::c_int::from(priority),
    };
    // SAFETY: pid 0 is this thread; the pointer is to a live sched_param the kernel only reads.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // Not locked either, then: the setting is all or nothing.
        let _ = nix::sys::mman::munlockall();
        return Err(format!(
            "sched_setscheduler(SCHED_FIFO, {priority}): {e} (needs CAP_SYS_NICE or RLIMIT_RTPRIO ≥ {priority}; systemd's RestrictRealtime=yes forbids it)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (policy, realtime priority) from a /proc/<pid>/stat line: fields 41 and 40.
    fn scheduling(stat: &str) -> (String, String) {
        let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..]
            .split(' ')
            .collect();
        (fields[38].to_string(), fields[37].to_string())
    }

    #[test]
    fn refused_without_privilege_says_what_is_needed_or_runs_fifo() {
        // Run in a child so that the test process keeps its scheduler and its memory unlocked.
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "sys::realtime::tests::child_enters_realtime",
                "--ignored",
                "--nocapture",
            ])
            .output()
            .expect("child test");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {text}");
        if nix::unistd::geteuid().is_root() {
            assert!(
                text.contains("policy 1 priority 7"),
                "root gets SCHED_FIFO 7: {text}"
            );
        } else {
            assert!(
                text.contains("needs CAP_") || text.contains("policy 1 priority 7"),
                "{text}"
            );
        }
    }

    #[test]
    #[ignore = "run by refused_without_privilege_says_what_is_needed_or_runs_fifo in a child"]
    fn child_enters_realtime() {
        match enter(7) {
            Ok(()) => {
                let own = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
                let (policy, priority) = scheduling(&own);
                println!("policy {policy} priority {priority}");
                let status = std::fs::read_to_string("/proc/self/status").expect("status");
                let locked = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmLck:"))
                    .expect("VmLck");
                println!("locked {}", locked.trim());
                assert_ne!(locked.trim(), "0 kB", "memory locked");
                // A child of this process starts on the normal scheduler.
                let child = std::process::Command::new("cat")
                    .arg("/proc/self/stat")
                    .output()
                    .expect("cat");
                let (policy, _) = scheduling(&String::from_utf8_lossy(&child.stdout));
                assert_eq!(policy, "0", "a child must not inherit SCHED_FIFO");
            }
            Err(e) => println!("{e}"),
        }
    }
}
