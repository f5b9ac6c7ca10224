//! A process tracker's scan of /proc: whether a process of a name runs. Bounded in what it
//! reads (at most [`MAX_PROCESSES`] entries, [`CMDLINE_MAX`] bytes of a command line), run
//! off the loop's thread by the tracker's task.

use std::path::Path;

/// The most /proc entries a scan looks at (Linux's default `pid_max` is 4,194,304 on 64-bit;
/// hosts running more processes than this are not the ones carpd runs on).
pub const MAX_PROCESSES: usize = 1 << 20;
/// The most of a command line read: `argv[0]` is at its start.
pub const CMDLINE_MAX: u64 = 4096;

/// Whether the process whose kernel name is `comm` and whose `argv[0]` is `argv0` is named
/// `name`: its kernel name (the first 15 bytes of the program's file name), or the file name
/// of its `argv[0]`.
pub fn matches(name: &str, comm: &str, argv0: &str) -> bool {
    let truncated = &name.as_bytes()[..name.len().min(15)];
    comm.as_bytes() == truncated
        || Path::new(argv0)
            .file_name()
            .is_some_and(|f| f.as_encoded_bytes() == name.as_bytes())
}

/// How many processes named `name` run, from a bounded scan of `proc` (a /proc directory).
pub fn count(proc: &Path, name: &str) -> std::io::Result<usize> {
    let mut found = 0;
    for entry in std::fs::read_dir(proc)?.take(MAX_PROCESSES) {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        if !file_name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let dir = entry.path();
        // A process that exits during the scan is simply not counted.
        let comm = crate::sys::file::read_head(&dir.join("comm"), 64).unwrap_or_default();
        let comm = String::from_utf8_lossy(&comm);
        let cmdline =
            crate::sys::file::read_head(&dir.join("cmdline"), CMDLINE_MAX).unwrap_or_default();
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if matches(
            name,
            comm.trim_end_matches('\n'),
            &String::from_utf8_lossy(argv0),
        ) {
            found += 1;
        }
    }
    Ok(found)
}

/// A process tracker's verdict: healthy while at least one process named `name` runs.
pub fn verdict(name: &str) -> (bool, String) {
    match count(Path::new("/proc"), name) {
        Ok(0) => (false, format!("no process named {name} runs")),
        Ok(1) => (true, format!("1 process named {name} runs")),
        Ok(n) => (true, format!("{n} processes named {name} run")),
        Err(e) => (false, format!("reading /proc: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_matches_the_kernel_name_or_argv0s_file_name() {
        assert!(matches("nginx", "nginx", "nginx: master process"));
        assert!(matches("nginx", "whatever", "/usr/sbin/nginx"));
        // The kernel keeps 15 bytes of the name.
        assert!(matches(
            "a-very-long-daemon-name",
            "a-very-long-dae",
            "/opt/x"
        ));
        assert!(!matches("nginx", "nginx-helper", "/usr/bin/nginx-helper"));
        assert!(!matches("ngin", "nginx", "/usr/sbin/nginx"));
    }

    #[test]
    fn this_test_process_is_found_and_a_made_up_name_is_not() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let (ok, detail) = verdict(me.trim());
        assert!(ok, "{detail}");
        let (ok, detail) = verdict("no-such-process-carpd-test");
        assert!(!ok);
        assert_eq!(detail, "no process named no-such-process-carpd-test runs");
    }

    #[test]
    fn a_fake_proc_is_counted() {
        let dir = std::env::temp_dir().join(format!("carpd-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (pid, comm, cmdline) in [
            ("10", "nginx\n", &b"nginx: worker\0"[..]),
            ("11", "nginx\n", b"/usr/sbin/nginx\0-g\0"),
            ("12", "sshd\n", b"/usr/sbin/sshd\0"),
        ] {
            std::fs::create_dir_all(dir.join(pid)).unwrap();
            std::fs::write(dir.join(pid).join("comm"), comm).unwrap();
            std::fs::write(dir.join(pid).join("cmdline"), cmdline).unwrap();
        }
        std::fs::create_dir_all(dir.join("self")).unwrap();
        assert_eq!(count(&dir, "nginx").unwrap(), 2);
        assert_eq!(count(&dir, "sshd").unwrap(), 1);
        assert_eq!(count(&dir, "bird").unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
