//! The `[conntrack]` table (the conntrackd carpd drives) and the groups' `conntrack` key.
//! Checked at `--check-config` as far as can be without conntrackd running: the config file
//! is read and must name a UNIX socket, and the program must exist.

use super::{Checker, RawGroup};
use crate::settings::conntrack::{self, ConntrackSettings, DEFAULT_TIMEOUT, TIMEOUT_RANGE};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The largest conntrackd.conf read: the Debian example is 13 KiB.
const CONFIG_MAX: u64 = 1 << 20;

/// `[conntrack]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConntrack {
    config: Option<Spanned<String>>,
    binary: Option<Spanned<String>>,
    timeout: Option<Spanned<f64>>,
}

impl Checker<'_> {
    /// `[conntrack]`: `config` required (read now: it must name conntrackd's UNIX socket),
    /// `binary` found on `PATH` unless given, `timeout` in seconds.
    pub(super) fn conntrack(
        &mut self,
        raw: Option<Spanned<RawConntrack>>,
    ) -> Option<ConntrackSettings> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.into_inner();
        let table = "[conntrack]";
        let config = match &raw.config {
            Some(c) => {
                let path = self.relative(c.get_ref());
                let verdict = config_socket(&path).map(|socket| (path, socket));
                self.check(table, "config", c, verdict)
            }
            None => {
                self.error(span.clone(), super::missing(table, "config", "the conntrackd.conf of the conntrackd to drive, such as \"/etc/conntrackd/conntrackd.conf\""));
                None
            }
        };
        let binary = match &raw.binary {
            Some(b) => {
                let path = PathBuf::from(b.get_ref());
                let verdict = super::executable(&path).map(|()| path);
                self.check(table, "binary", b, verdict)
            }
            None => match conntrack::find_binary(std::env::var_os("PATH").as_deref()) {
                Some(path) => Some(path),
                None => {
                    self.error(span, format!("{table}: no conntrackd found on PATH or in /usr/sbin and /sbin: accepted conntrackd installed (apt-get install conntrackd) or binary = \"/path/to/conntrackd\""));
                    None
                }
            },
        };
        let timeout = match &raw.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(t) => {
                let (low, high) = TIMEOUT_RANGE;
                let verdict = Duration::try_from_secs_f64(*t.get_ref())
                    .ok()
                    .filter(|d| (low..=high).contains(d))
                    .ok_or_else(|| {
                        format!(
                            "accepted a number of seconds from {} to {} (how long one conntrackd command may take; the VIPs wait for the commit at most this long)",
                            low.as_secs_f64(),
                            high.as_secs_f64()
                        )
                    });
                self.check(table, "timeout", t, verdict)
            }
        };
        let (config, socket) = config?;
        Some(ConntrackSettings {
            config,
            socket,
            binary: binary?,
            timeout: timeout?,
        })
    }

    /// A group's `conntrack`: true only beside a `[conntrack]` table (`defined`).
    pub(super) fn group_conntrack(
        &mut self,
        label: &str,
        raw: &RawGroup,
        defined: bool,
    ) -> Option<bool> {
        match &raw.conntrack {
            Some(on) if *on.get_ref() && !defined => {
                self.error(on.span(), format!("{label}: conntrack = true without a [conntrack] table: accepted [conntrack] with config = \"/etc/conntrackd/conntrackd.conf\" (the conntrackd this group drives), or conntrack = false"));
                None
            }
            Some(on) => Some(*on.get_ref()),
            None => Some(false),
        }
    }
}

/// The UNIX socket `path` (a conntrackd.conf) names, or what is wrong with it.
fn config_socket(path: &Path) -> Result<PathBuf, String> {
    let bytes = crate::sys::file::read_whole(path, CONFIG_MAX).map_err(|e| {
        format!(
            "{} {e}: accepted the conntrackd.conf of the conntrackd to drive",
            path.display()
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    conntrack::unix_socket(&text).ok_or_else(|| {
        format!("{} names no UNIX socket: accepted a conntrackd.conf whose General section has UNIX {{ Path /var/run/conntrackd.ctl }} (carpd drives conntrackd through it)", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::refused;
    use std::path::{Path, PathBuf};

    const GROUP: &str = "[[group]]\nname = \"lan\"\ninterface = \"eth0\"\nvhid = 9\nvips = [\"10.0.0.1/24\"]\npassword = \"pw\"\n";

    /// A folder with a conntrackd.conf holding `conf` and an executable `conntrackd`.
    fn folder(name: &str, conf: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("carpd-ct-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("conntrackd.conf"), conf).unwrap();
        let binary = dir.join("conntrackd");
        std::fs::write(&binary, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn a_group_drives_the_conntrackd_whose_socket_its_file_names() {
        let dir = folder("good", "General {\n UNIX {\n  Path /run/ct.ctl\n }\n}\n");
        let text = format!(
            "[conntrack]\nconfig = \"conntrackd.conf\"\nbinary = \"{}/conntrackd\"\ntimeout = 1.5\n\n{GROUP}conntrack = true\n",
            dir.display()
        );
        let s = parse(&dir.join("carpd.toml"), &text).expect("valid");
        let ct = s.conntrack.expect("[conntrack]");
        assert_eq!(ct.config, dir.join("conntrackd.conf"));
        assert_eq!(ct.socket, Path::new("/run/ct.ctl"));
        assert_eq!(ct.binary, dir.join("conntrackd"));
        assert_eq!(ct.timeout, std::time::Duration::from_millis(1500));
        assert!(s.groups[0].conntrack);
        let without = parse(&dir.join("carpd.toml"), GROUP).expect("valid");
        assert!(!without.groups[0].conntrack && without.conntrack.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_conntrack_settings_are_named_with_what_is_accepted() {
        refused(
            &format!("{GROUP}conntrack = true\n"),
            &[
                "group \"lan\": conntrack = true without a [conntrack] table",
                "accepted [conntrack] with config =",
            ],
        );
        refused(
            &format!("[conntrack]\ntimeout = 1\n{GROUP}"),
            &["[conntrack]: missing key config: accepted the conntrackd.conf"],
        );
        refused(
            &format!("[conntrack]\nconfig = \"/nonexistent/conntrackd.conf\"\n{GROUP}"),
            &[
                "[conntrack]: config = /nonexistent/conntrackd.conf: /nonexistent/conntrackd.conf does not exist",
            ],
        );
        let dir = folder("nosocket", "General {\n LockFile /var/lock/ct.lock\n}\n");
        let conf = dir.join("conntrackd.conf");
        refused(
            &format!("[conntrack]\nconfig = \"{}\"\n{GROUP}", conf.display()),
            &["names no UNIX socket", "UNIX { Path"],
        );
        std::fs::write(&conf, "General { UNIX { Path /run/ct.ctl } }").unwrap();
        refused(
            &format!(
                "[conntrack]\nconfig = \"{}\"\nbinary = \"/nonexistent/conntrackd\"\n{GROUP}",
                conf.display()
            ),
            &[
                "[conntrack]: binary = /nonexistent/conntrackd:",
                "executable",
            ],
        );
        refused(
            &format!(
                "[conntrack]\nconfig = \"{}\"\nbinary = \"{}/conntrackd\"\ntimeout = 0\n{GROUP}",
                conf.display(),
                dir.display()
            ),
            &["[conntrack]: timeout = 0: accepted a number of seconds from 0.1 to 60"],
        );
        refused(
            &format!(
                "[conntrack]\nconfig = \"{}\"\ntimout = 1\n{GROUP}",
                conf.display()
            ),
            &["unknown field `timout`"],
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_firewall_pair_example_is_valid() {
        let folder =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/examples/conntrackd");
        let text = std::fs::read_to_string(folder.join("carpd.toml")).unwrap();
        // The example's conntrackd.conf in place of /etc's; a binary that exists anywhere.
        let text = text.replace(
            "\"/etc/conntrackd/conntrackd.conf\"",
            &format!(
                "\"{}\"\nbinary = \"/bin/sh\"",
                folder.join("conntrackd.conf").display()
            ),
        );
        let s = parse(&folder.join("carpd.toml"), &text).expect("valid");
        assert_eq!(
            s.conntrack.expect("[conntrack]").socket,
            Path::new("/var/run/conntrackd.ctl")
        );
        assert_eq!(s.groups.len(), 2);
        assert!(s
            .groups
            .iter()
            .all(|g| g.conntrack && g.sync.as_deref() == Some("fw")));
    }
}
