//! What carpd guarantees whatever a file, a peer or a client does (README "What carpd
//! guarantees"): no read of a configured file blocks the loop, nothing carpd did not create is
//! replaced or deleted, what a killed carpd left is cleaned at the next start.

use crate::common::{carpd, expect_holders, lab, start, start_config, stop, write_config};
use crate::common::{Group, Impl};
use crate::control::{adverts, longest_gap, status};
use crate::trackers::{socket_of, tracked, tracker_status};
use nix::sys::signal::Signal;
use std::process::Command;
use std::time::{Duration, Instant};

/// `carpd --check-config path`: (exit status, stderr, how long it took).
fn check_config(path: &std::path::Path) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = Command::new(carpd())
        .arg("--check-config")
        .arg(path)
        .output()
        .expect("carpd --check-config");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn check_config_refuses_a_fifo_dev_zero_and_a_control_socket_that_is_a_file_at_once() {
    let dir = std::env::temp_dir().join(format!("carpd-e2e-checkcfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("carpd.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    for (path, kind) in [
        (fifo.as_path(), "a FIFO (named pipe)"),
        (std::path::Path::new("/dev/zero"), "a character device"),
    ] {
        let (code, stderr, took) = check_config(path);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("is {kind}, not a regular file")),
            "{stderr}"
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
    // A typo that names the config file itself as the control socket: refused, left alone.
    let config = dir.join("real.toml");
    let text = format!(
        "[daemon]\ncontrol_socket = \"{}\"\n[[group]]\ninterface = \"lo\"\nvhid = 1\nvips = [\"10.77.140.1\"]\npassword = \"x\"\n",
        config.display()
    );
    std::fs::write(&config, &text).expect("config");
    let (code, stderr, _) = check_config(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is a regular file, not a socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&config).expect("still there"), text);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_tracker_file_turned_fifo_or_huge_is_a_failed_check_and_adverts_stay_on_time() {
    let Some(lab) = lab("gfile", 140, 2, &["tcpdump"]) else {
        return;
    };
    let vip = lab.address(110);
    let file = lab.dir().join("maintenance");
    // weight 10: a failed check lowers the group's standing, it keeps advertising as master.
    let h1 = write_config(
        &lab,
        "h1.toml",
        &(format!(
            "[[tracker]]\nname = \"maint\"\nfile = \"{}\"\ninterval = 0.2\nweight = 10\n\n",
            file.display()
        ) + &tracked("web", 5, vip, 0, "track = [\"maint\"]")),
    );
    let _m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let detail = || tracker_status(&socket, "maint")["detail"].clone();
    for (what, make) in [
        (
            "a FIFO",
            Box::new(|p: &std::path::Path| {
                nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .expect("mkfifo")
            }) as Box<dyn Fn(&std::path::Path)>,
        ),
        (
            "a 1 GB file",
            Box::new(|p: &std::path::Path| {
                std::fs::File::create(p)
                    .and_then(|f| f.set_len(1 << 30))
                    .expect("sparse file")
            }),
        ),
    ] {
        let _ = std::fs::remove_file(&file);
        let cap = lab
            .capture(
                lab.host(2),
                "ip proto 112",
                &format!("gfile-{}", what.len()),
            )
            .expect("capture");
        std::thread::sleep(Duration::from_millis(500));
        make(&file);
        std::thread::sleep(Duration::from_secs(4));
        cap.stop(&lab);
        let seen = adverts(&cap.text(&["-tt"]).expect("tcpdump -r"));
        let gap = longest_gap(&seen, 5);
        eprintln!(
            "tracker file is {what}: {} adverts, longest gap {gap:.3} s",
            seen.len()
        );
        assert!(seen.len() >= 3, "{what}: {seen:?}\n{}", lab.log("h1"));
        assert!(gap < 1.5, "{what}: longest advert gap {gap} s");
        let d = detail();
        assert!(
            d.as_str().is_some_and(|d| d.contains("maintenance")
                && (d.contains("is a FIFO (named pipe), not a regular file")
                    || d.contains("not a number"))),
            "{what}: {d}"
        );
        assert_eq!(status(&socket)["web"]["state"], "MASTER");
    }
    // carpctl answers at once meanwhile.
    let started = Instant::now();
    assert_eq!(status(&socket)["web"]["demote"], 10);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_vip_left_by_a_killed_carpd_whose_group_was_removed_is_cleaned_at_start_and_a_live_ones_kept() {
    let Some(lab) = lab("gorph", 141, 1, &[]) else {
        return;
    };
    let removed = lab.address(111);
    let kept = lab.address(112);
    let staying = lab.address(113);
    // A second carpd (command-line mode, vhid 2) holds `kept` on the same interface.
    let other = Group {
        vip: kept,
        native: true,
        ..Group::new(&lab, 2)
    };
    let _cli = start(&lab, Impl::Carpd, 1, &other, 0, false, "cli");
    let h1 = write_config(&lab, "h1.toml", &tracked("gone", 1, removed, 0, ""));
    let first = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, removed, &[1], Duration::from_secs(15), &["h1"]);
    expect_holders(&lab, kept, &[1], Duration::from_secs(15), &["cli"]);
    stop(&lab, &first, Signal::SIGKILL);
    assert_eq!(lab.holders(removed), [1], "SIGKILL leaves the VIP behind");
    // The group is removed from the file; another one on the same interface stays.
    let h1 = write_config(&lab, "h1.toml", &tracked("stays", 3, staying, 0, ""));
    let _second = start_config(&lab, 1, &h1, "h1b");
    expect_holders(&lab, staying, &[1], Duration::from_secs(15), &["h1b"]);
    assert_eq!(
        lab.holders(removed),
        Vec::<usize>::new(),
        "{}",
        lab.log("h1b")
    );
    assert!(
        lab.log("h1b").contains(&format!(
            "Removed stale virtual IP {removed}/32 from eth0: it carries carpd's mark"
        )),
        "{}",
        lab.log("h1b")
    );
    // The live carpd's VIP is its own: left alone.
    assert_eq!(lab.holders(kept), [1], "{}", lab.log("h1b"));
    assert!(
        !lab.log("h1b").contains(&kept.to_string()),
        "{}",
        lab.log("h1b")
    );
}
