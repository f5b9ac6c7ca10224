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
/// (written by scripts/symbol-order). LLD, Rust's default linker on x86-64 Linux since 1.90,
/// reads such a file; whether this build's linker does is tried on an empty program first,
/// and without it carpd is linked as before (with a warning). A listed name the build does not
/// have is skipped in silence. `CARPD_SYMBOL_ORDER=0` links without the file.
fn symbol_order() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    println!("cargo::rerun-if-env-changed=CARPD_SYMBOL_ORDER");
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    let path = file.display().to_string();
    if var("PROFILE") != "release"
        || var("CARPD_SYMBOL_ORDER") == "0"
        || !file.is_file()
        || path.contains(',')
    {
        return;
    }
    let args = [
        format!("-Wl,--symbol-ordering-file={path}"),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if !links_with(&args) {
        println!(
            "cargo::warning=the linker does not take --symbol-ordering-file (it is not LLD): \
             carpd's code is laid out as the compiler emits it (docs/architecture.md, Code layout)"
        );
        return;
    }
    for arg in args {
        println!("cargo::rustc-link-arg-bin=carpd={arg}");
    }
}

/// Whether rustc links an empty program for this build's target, with its flags and linker,
/// when the linker is also given `args`.
fn links_with(args: &[String]) -> bool {
    let out = std::path::PathBuf::from(var("OUT_DIR"));
    let source = out.join("layout-probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut probe = std::process::Command::new(rustc);
    probe
        .arg("--target")
        .arg(var("TARGET"))
        .arg("-o")
        .arg(out.join("layout-probe"))
        .arg(&source);
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    probe.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        let mut arg = std::ffi::OsString::from("-Clinker=");
        arg.push(linker);
        probe.arg(arg);
    }
    for arg in args {
        probe.arg(format!("-Clink-arg={arg}"));
    }
    probe
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// An environment variable of the build, empty when unset.
fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
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
