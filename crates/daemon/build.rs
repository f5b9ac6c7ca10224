//! Decides whether the end-to-end tests (tests/e2e, network namespaces against the real
//! ucarp, keepalived, BIRD, FRR...) can run where carpd is built, so that a test that cannot
//! run shows as ignored instead of passing without having run:
//! - with `CARPD_REQUIRE_NETNS` set (the test command and CI), they always run, and a
//!   missing prerequisite fails them;
//! - else they run as root with every program they use installed, and are ignored otherwise
//!   (installed later: `touch crates/daemon/build.rs` to look again).

use std::path::Path;

/// The programs the end-to-end tests run (their Debian packages: scripts/test).
const TOOLS: &[&str] = &[
    "ip",
    "tcpdump",
    "ucarp",
    "keepalived",
    "nft",
    "curl",
    "ping",
    "prlimit",
    "setpriv",
    "unshare",
    "ifup",
    "ifdown",
    "python3",
    "bird",
    "birdc",
    "promtool",
    "conntrackd",
    "conntrack",
    "systemd-nspawn",
    "mmdebstrap",
    "nsenter",
];

/// FRR's daemons, which are not on the PATH.
const FRR: &[&str] = &["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(carpd_netns)");
    println!("cargo::rerun-if-env-changed=CARPD_REQUIRE_NETNS");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-changed=build.rs");
    let required = std::env::var_os("CARPD_REQUIRE_NETNS").is_some();
    if required
        || (is_root()
            && TOOLS.iter().all(|t| found(t))
            && FRR.iter().all(|p| Path::new(p).is_file()))
    {
        println!("cargo::rustc-cfg=carpd_netns");
    }
}

/// Whether the build runs as root (network namespaces need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Whether `program` is on the PATH or in the sbin folders.
fn found(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|dir| dir.join(program).is_file())
}
