//! `[conntrack]`: the conntrackd that groups with `conntrack = true` drive, so that a
//! firewall pair keeps its connections across a failover. carpd runs conntrackd's own client
//! (`conntrackd -C FILE -c`, ...), which finds the daemon's UNIX socket through that file:
//! the file must name one.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one conntrackd command may take unless `timeout` says otherwise. A commit of
/// 20,000 flows takes about 0.35 s here; the VIPs wait for the commit at most this long.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The accepted range of `timeout`.
pub const TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(60));

/// Where carpd looks for conntrackd when `binary` is not given, after `PATH` (a daemon
/// started by hand may have a `PATH` without the sbin folders).
const SBIN: [&str; 2] = ["/usr/sbin", "/sbin"];

/// The conntrackd carpd drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackSettings {
    /// its config file, passed as `-C` to every command
    pub config: PathBuf,
    /// the UNIX socket that file names (for the log and `carpctl status`)
    pub socket: PathBuf,
    /// the conntrackd program
    pub binary: PathBuf,
    /// one command still running after this is killed, and the failover goes on
    pub timeout: Duration,
}

/// The path of `UNIX { Path ... }` in conntrackd.conf's text (`General { UNIX { Path
/// /var/run/conntrackd.ctl } }`); `None` when it names none. Keywords are matched without
/// regard to case, `#` starts a comment.
pub fn unix_socket(text: &str) -> Option<PathBuf> {
    let tokens = tokens(text);
    let mut depth_in_unix: Option<usize> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        match token {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if depth_in_unix.is_some_and(|d| depth < d) {
                    depth_in_unix = None;
                }
            }
            _ if token.eq_ignore_ascii_case("unix") && tokens.get(i + 1) == Some(&"{") => {
                depth_in_unix = Some(depth + 1);
            }
            _ if token.eq_ignore_ascii_case("path") && depth_in_unix == Some(depth) => {
                return tokens
                    .get(i + 1)
                    .filter(|p| !matches!(**p, "{" | "}"))
                    .map(PathBuf::from);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The words and braces of conntrackd.conf, comments left out.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find(['{', '}']) {
            out.extend(rest[..at].split_whitespace());
            out.push(&rest[at..at + 1]);
            rest = &rest[at + 1..];
        }
        out.extend(rest.split_whitespace());
    }
    out
}

/// conntrackd on `path_var` (a `PATH` value), else in /usr/sbin or /sbin.
pub fn find_binary(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let mut folders: Vec<PathBuf> = path_var
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    folders.extend(SBIN.iter().map(PathBuf::from));
    folders
        .into_iter()
        .filter(|f| f.is_absolute())
        .map(|f| f.join("conntrackd"))
        .find(|p| is_executable(p))
}

/// Whether `path` is a file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_found_inside_general_unix_whatever_the_layout() {
        let debian = "General {\n\tHashSize 32768\n\tLockFile /var/lock/conntrack.lock\n\tUNIX {\n\t\tPath /var/run/conntrackd.ctl\n\t}\n}\n";
        assert_eq!(
            unix_socket(debian),
            Some(PathBuf::from("/var/run/conntrackd.ctl"))
        );
        let one_line = "Sync { Mode FTFW { } }\ngeneral{unix{path /run/ct.ctl}}";
        assert_eq!(unix_socket(one_line), Some(PathBuf::from("/run/ct.ctl")));
        let commented = "General {\n # UNIX { Path /old.ctl }\n UNIX { # the socket\n  Path /run/new.ctl # here\n }\n}";
        assert_eq!(unix_socket(commented), Some(PathBuf::from("/run/new.ctl")));
    }

    #[test]
    fn a_file_without_a_unix_path_names_no_socket() {
        assert_eq!(unix_socket(""), None);
        assert_eq!(unix_socket("General { LockFile /x }"), None);
        assert_eq!(unix_socket("General { UNIX { } }"), None);
        assert_eq!(unix_socket("General { UNIX { Path } }"), None);
        // A Path outside UNIX is another setting's.
        assert_eq!(
            unix_socket("General { UNIX { Backlog 20 } Path /not/this }"),
            None
        );
        assert_eq!(unix_socket("# UNIX { Path /commented.ctl }"), None);
    }

    #[test]
    fn conntrackd_is_looked_for_on_path_then_in_sbin() {
        let dir = std::env::temp_dir().join(format!("carpd-conntrackd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("conntrackd");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("relative"), &dir]).unwrap();
        assert_eq!(find_binary(Some(&path)), Some(fake.clone()));
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = find_binary(Some(&path));
        assert!(found.as_deref() != Some(fake.as_path()), "{found:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
