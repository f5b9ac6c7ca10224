//! Decides whether the end-to-end tests (tests/e2e, network namespaces against the real
//! ucarp, keepalived, BIRD, FRR...) can run where carpd is built, so that a test that cannot
//! run shows as ignored instead of passing without having run:
//! - with `CARPD_REQUIRE_NETNS` set (the test command and CI), they always run, and a
//!   missing prerequisite fails them;
//! - else they run as root with every program they use installed, and are ignored otherwise
//!   (installed later: `touch crates/daemon/build.rs` to look again).
//!
//! It also hands the linker `symbol-order.txt` for a release carpd, so that the code a running
//! daemon uses is laid out together (see "Code layout" in docs/architecture.md).

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
    symbol_order();
}

/// Asks the linker to lay the release carpd's functions out in the order of `symbol-order.txt`
/// (written by scripts/symbol-order), when the linker is the one Rust uses by default on
/// x86-64 Linux since 1.90: its own LLD, which reads such a file. A name the build does not
/// have is skipped without a warning. Set `CARPD_SYMBOL_ORDER=0` to link without it.
fn symbol_order() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    println!("cargo::rerun-if-env-changed=CARPD_SYMBOL_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    let path = file.display().to_string();
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let default_linker = var("TARGET") == "x86_64-unknown-linux-gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f))
        && rustc_minor().is_some_and(|minor| minor >= 90);
    if var("PROFILE") == "release"
        && var("CARPD_SYMBOL_ORDER") != "0"
        && default_linker
        && file.is_file()
        && !path.contains(',')
    {
        println!("cargo::rustc-link-arg-bin=carpd=-Wl,--symbol-ordering-file={path}");
        println!("cargo::rustc-link-arg-bin=carpd=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the rustc building carpd (`rustc 1.95.0 ...` gives 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
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
