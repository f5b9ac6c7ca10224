//! `carpctl import keepalived FILE`: a keepalived.conf read ([`conf`]) and its VRRP side
//! written as a carpd config ([`keepalived`], [`instance`], [`render`]), with what carpd
//! does not carry listed as `FILE:LINE: directive: not carried over (why)`.

pub mod conf;
mod instance;
pub mod keepalived;
mod render;

pub use keepalived::LeftOut;

use conf::{Place, ReadError};
use instance::Instance;
use keepalived::Importer;

/// What an import gives: the carpd config and what it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// the carpd config (TOML)
    pub config: String,
    /// what it does not carry, by file and line
    pub left_out: Vec<LeftOut>,
}

/// Imports `path`.
pub fn keepalived(path: &std::path::Path) -> Result<Import, ReadError> {
    let statements = conf::read(path)?;
    let mut importer = Importer {
        version: 2,
        ..Importer::default()
    };
    for s in &statements {
        importer.definition(s)?;
    }
    let mut groups = Vec::new();
    for s in statements.iter().filter(|s| s.keyword == "vrrp_instance") {
        groups.push(Instance::read(&mut importer, s)?.table(&mut importer)?);
    }
    for sync in &importer.sync {
        for member in &sync.members {
            if !statements
                .iter()
                .any(|s| s.keyword == "vrrp_instance" && s.arg() == Some(member.as_str()))
            {
                return Err(bad_at(
                    path,
                    statements
                        .iter()
                        .find(|s| s.keyword == "vrrp_sync_group" && s.arg() == Some(&sync.name))
                        .map(|s| s.place.clone()),
                    format!(
                        "vrrp_sync_group {}: member {member} is no vrrp_instance of the file",
                        sync.name
                    ),
                ));
            }
        }
    }
    let header = vec![
        format!(
            "carpd config imported from {} by carpctl import keepalived.",
            path.display()
        ),
        "Check it with carpd --check-config FILE; the comments say where keepalived's words differ."
            .to_string(),
    ];
    // Definitions are read before instances: the list goes by file and line.
    importer
        .left_out
        .sort_by(|a, b| (&a.place.file, a.place.line).cmp(&(&b.place.file, b.place.line)));
    Ok(Import {
        config: render::file(&header, &importer.trackers, &groups),
        left_out: importer.left_out,
    })
}

/// An error at `place` (the file `path` as a whole when unknown).
fn bad_at(path: &std::path::Path, place: Option<Place>, message: String) -> ReadError {
    ReadError {
        place: place.unwrap_or(Place {
            file: std::rc::Rc::new(path.to_path_buf()),
            line: 0,
        }),
        message,
    }
}

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
            ("vmac", LEFT_OUT),
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
