//! The seeds' /etc/network/interfaces, run by Debian's real ifup and ifdown with carpd's
//! hooks: one `ucarp-master yes` host, one `ucarp-master no` host.
//!
//! Each host gets a private mount namespace in which /etc/network (the interfaces file and
//! only carpd's hooks), /run/network (ifupdown's state) and /etc/default (pointing the hooks
//! at this build) are the test's own folders, so that Debian's ucarp hook, if installed,
//! never runs, and the machine's real ifupdown state is never touched.

use crate::common::*;
use carpd_lab::{wait_until, Lab};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const PASSWORD: &str = "s3cr3t with space";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Lays out host `i`'s private /etc/network, /run/network and /etc/default.
fn prepare(lab: &Lab, i: usize, master: bool, advskew: u8) -> PathBuf {
    let root = lab.dir().join(format!("ifupdown-h{i}"));
    for d in [
        "etc/network/if-up.d",
        "etc/network/if-down.d",
        "etc/network/if-pre-up.d",
        "etc/network/if-post-down.d",
        "run/network",
        "run/carpd",
        "default",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for hook in ["if-up.d/carpd", "if-down.d/carpd"] {
        std::fs::copy(
            repo().join("packaging/ifupdown").join(hook),
            root.join("etc/network").join(hook),
        )
        .unwrap();
    }
    let host = lab.host(i);
    let vip = lab.address(100);
    std::fs::write(
        root.join("etc/network/interfaces"),
        format!(
            "# The seeds' two-server example\n\
             iface eth0 inet static\n    address {}/24\n    ucarp-vid 3\n    ucarp-vip {vip}\n    \
             ucarp-password {PASSWORD}\n    ucarp-advskew {advskew}\n    ucarp-advbase 1\n    \
             ucarp-master {}\n\n\
             iface eth0:ucarp inet static\n    address {vip}\n    netmask 255.255.255.255\n",
            host.ip,
            if master { "yes" } else { "no" }
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("default/carpd"),
        format!(
            "CARPD={}\nCARPD_SHARE={}\nCARPD_RUNDIR={}\n",
            carpd(),
            repo().join("packaging/share").display(),
            root.join("run/carpd").display()
        ),
    )
    .unwrap();
    root
}

/// Runs `command` in host `i` with its private /etc/network, /run/network and /etc/default.
fn private(lab: &Lab, i: usize, root: &Path, command: &str) -> Output {
    let script = format!(
        "mount --bind {r}/etc/network /etc/network && mount --bind {r}/run/network /run/network && \
         mount --bind {r}/default /etc/default && {command}",
        r = root.display()
    );
    std::fs::create_dir_all("/run/network").unwrap();
    lab.run(lab.host(i), "unshare", &["-m", "sh", "-c", &script])
        .unwrap()
}

/// The command lines of the carpd processes in host `i`.
fn carpd_command_lines(lab: &Lab, i: usize) -> Vec<String> {
    let pids = std::process::Command::new("ip")
        .args(["netns", "pids", &lab.host(i).ns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&pids.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .filter(|c| c.contains("carpd") && !c.contains("unshare"))
        .collect()
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn ifup_and_ifdown_with_the_seeds_interfaces_file() {
    let Some(lab) = lab("tif", 70, 3, &["ifup", "ifdown", "unshare"]) else {
        return;
    };
    let roots = [prepare(&lab, 1, true, 0), prepare(&lab, 2, false, 50)];
    for (i, root) in [(1, &roots[0]), (2, &roots[1])] {
        // ifup configures eth0 itself.
        let flush = lab
            .run(lab.host(i), "ip", &["addr", "flush", "dev", "eth0"])
            .unwrap();
        assert!(flush.status.success());
        let out = private(&lab, i, root, "ifup -v eth0");
        assert!(
            out.status.success(),
            "ifup on host {i}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One carpd per host, with ucarp's arguments, the password not on the command line.
    for (i, master) in [(1, true), (2, false)] {
        assert!(
            wait_until(Duration::from_secs(5), || carpd_command_lines(&lab, i)
                .len()
                == 1),
            "host {i}: {:?}",
            carpd_command_lines(&lab, i)
        );
        let line = &carpd_command_lines(&lab, i)[0];
        let ip = lab.host(i).ip;
        assert!(line.contains(&format!("-i eth0 -s {ip} -B -z")), "{line}");
        assert!(
            line.contains(&format!("-v 3 -a {}", lab.address(100))),
            "{line}"
        );
        assert!(line.contains(" -o "), "{line}");
        assert_eq!(line.contains(" -P"), master, "{line}");
        assert!(!line.contains("s3cr3t"), "password visible in ps: {line}");
    }
    let vip = lab.address(100);
    expect_holders(&lab, vip, &[1], SETTLE, &[]);
    expect_client_sees(&lab, 3, vip, 1, SETTLE);
    // The default vip-up ran `ifup eth0:ucarp`, which labels the address.
    let addrs = lab
        .run(lab.host(1), "ip", &["-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&addrs.stdout).contains("eth0:ucarp"),
        "{addrs:?}"
    );
    // Running the up hook again for the same stanza does not start a second carpd.
    let again = private(&lab, 2, &roots[1], &format!(
        "IFACE=eth0 MODE=start IF_ADDRESS={} IF_UCARP_VID=3 IF_UCARP_VIP={vip} IF_UCARP_PASSWORD=x /etc/network/if-up.d/carpd",
        lab.host(2).ip
    ));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already running"),
        "{again:?}"
    );
    assert_eq!(carpd_command_lines(&lab, 2).len(), 1);
    // ifdown on the master: its carpd stops (bow-out, down script), the backup takes over.
    let out = private(&lab, 1, &roots[0], "ifdown -v eth0");
    assert!(
        out.status.success(),
        "ifdown: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_until(Duration::from_secs(5), || carpd_command_lines(&lab, 1)
            .is_empty()),
        "carpd still running on host 1"
    );
    expect_holders(&lab, vip, &[2], Duration::from_secs(5), &[]);
    expect_client_sees(&lab, 3, vip, 2, SETTLE);
}
