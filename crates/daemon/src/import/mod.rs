//! `carpctl import keepalived FILE`: a keepalived.conf read ([`conf`]) and its VRRP side
//! written as a carpd config ([`keepalived`], [`instance`], [`render`]), with what carpd
//! does not carry listed as `FILE:LINE: directive: not carried over (why)`.

pub mod conf;
mod instance;
pub mod keepalived;
mod render;

pub use keepalived::{import as keepalived, Import, LeftOut};

/// Exit status when everything was carried over.
pub const CARRIED: u8 = 0;
/// Exit status when the file cannot be read or parsed.
pub const UNREADABLE: u8 = 1;
/// Exit status when something was left out (listed on stderr).
pub const LEFT_OUT: u8 = 3;

/// Runs an import of `path` for carpctl: the config on `out`, what was left out (or why the
/// file cannot be read) on `err`; the exit status.
pub fn run(
    path: &std::path::Path,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> u8 {
    match keepalived(path) {
        Ok(import) => {
            let _ = out.write_all(import.config.as_bytes());
            for l in &import.left_out {
                let _ = writeln!(err, "{l}");
            }
            if import.left_out.is_empty() {
                CARRIED
            } else {
                LEFT_OUT
            }
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            UNREADABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keepalived-import")
    }

    /// Each fixture (written from keepalived.conf(5)'s keywords) against its golden output,
    /// error list and exit status; every output is a valid carpd config. `CARPD_GOLDEN=write`
    /// writes the golden files anew (then read the diff).
    #[test]
    fn fixtures_import_as_their_golden_files() {
        let dir = fixtures();
        let shown = dir.display().to_string();
        for (name, status) in [
            ("pair-v2", CARRIED),
            ("firewall", LEFT_OUT),
            ("leftovers", LEFT_OUT),
            ("bad-priority", UNREADABLE),
            ("bad-braces", UNREADABLE),
        ] {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let got = run(&dir.join(format!("{name}.conf")), &mut out, &mut err);
            let normal = |b: Vec<u8>| {
                String::from_utf8(b)
                    .unwrap()
                    .replace(&shown, "testdata/keepalived-import")
            };
            let (out, err) = (normal(out), normal(err));
            let golden = |ext: &str| dir.join(format!("{name}.{ext}"));
            if std::env::var("CARPD_GOLDEN").as_deref() == Ok("write") {
                std::fs::write(golden("toml"), &out).unwrap();
                std::fs::write(golden("stderr"), &err).unwrap();
            }
            assert_eq!(got, status, "{name}: exit status\n{err}");
            let read = |ext: &str| std::fs::read_to_string(golden(ext)).unwrap_or_default();
            assert_eq!(out, read("toml"), "{name}.toml");
            assert_eq!(err, read("stderr"), "{name}.stderr");
            if status != UNREADABLE {
                let parsed = crate::settings::file::parse(&golden("toml"), &out);
                assert!(
                    parsed.is_ok(),
                    "{name}.toml is not valid: {}",
                    parsed.unwrap_err()
                );
            }
        }
    }

    #[test]
    fn keepalived_semantics_are_kept() {
        let dir = fixtures();
        let pair = keepalived(&dir.join("pair-v2.conf")).unwrap();
        let s = crate::settings::file::parse(&dir.join("x.toml"), &pair.config).unwrap();
        let g = &s.groups[0];
        // VRRPv2 at keepalived's default version, the password cut to 8 bytes as keepalived
        // does, preemption on (no nopreempt), and the negative weight as a demotion.
        assert_eq!(g.protocol.name(), "vrrp2");
        assert_eq!(g.password, b"longpass");
        assert!(g.preempt);
        assert_eq!(
            g.preempt_delay,
            std::time::Duration::ZERO,
            "state MASTER ignores it"
        );
        assert_eq!(s.trackers[0].weight, 20);
        let fw = keepalived(&dir.join("firewall.conf")).unwrap();
        let s = crate::settings::file::parse(&dir.join("x.toml"), &fw.config).unwrap();
        let (lan, wan) = (&s.groups[0], &s.groups[1]);
        assert_eq!(lan.sync.as_deref(), Some("FW"));
        assert_eq!(wan.sync.as_deref(), Some("FW"));
        assert!(!lan.preempt, "nopreempt with state BACKUP");
        // The weighted script is ignored in the sync group; weight-0 trackers stay.
        assert_eq!(lan.track, ["eth2", "proc_conntrackd"]);
        assert!(!s.trackers.iter().any(|t| t.name == "chk_uplink"));
        assert_eq!(wan.routes.len(), 1);
        let left = keepalived(&dir.join("leftovers.conf")).unwrap();
        let s = crate::settings::file::parse(&dir.join("x.toml"), &left.config).unwrap();
        // A positive weight is in the priority while healthy, and lowers it on failure.
        assert_eq!(s.groups[0].protocol.vrrp2().unwrap().priority, 110);
        assert_eq!(s.trackers[0].weight, 10);
    }
}
