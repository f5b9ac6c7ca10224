//! The import's promise: one keepalived.conf run by keepalived, and imported by `carpctl
//! import keepalived` and run by carpd, sends the same adverts (version, vrid, priority,
//! authentication, interval, addresses), healthy and after its check starts failing, as a
//! third host captures them.

use crate::common::*;
use crate::control::carpctl;
use carpd_lab::{wait_until, Lab};
use nix::sys::signal::Signal;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// A keepalived.conf at keepalived's defaults (VRRPv2) with a password, two VIPs and a check
/// (failing while `flag` exists) whose weight lowers the priority by 20.
fn keepalived_conf(lab: &Lab, flag: &Path) -> std::path::PathBuf {
    let (a, b) = (lab.address(61), lab.address(62));
    let text = format!(
        "global_defs {{\n   script_user root\n   vrrp_garp_master_delay 0\n}}\n\n\
         vrrp_script chk_app {{\n   script \"test ! -e {flag}\"\n   interval 1\n   weight -20\n}}\n\n\
         vrrp_instance VI_APP {{\n   state MASTER\n   interface eth0\n   virtual_router_id 61\n   priority 150\n   advert_int 1\n\
         \x20  authentication {{\n      auth_type PASS\n      auth_pass s3cret\n   }}\n\
         \x20  virtual_ipaddress {{\n      {a}/24\n      {b}/24\n   }}\n   track_script {{\n      chk_app\n   }}\n}}\n",
        flag = flag.display()
    );
    let path = lab.dir().join("keepalived.conf");
    std::fs::write(&path, text).expect("keepalived.conf");
    path
}

/// The adverts a capture on `host` saw during `seconds`, as tcpdump -v prints them with the
/// sender left out: one shape per distinct advert.
fn adverts_seen(lab: &Lab, name: &str, seconds: u64) -> BTreeSet<String> {
    let capture = lab
        .capture(lab.host(3), "ip proto 112", name)
        .expect("tcpdump");
    std::thread::sleep(Duration::from_secs(seconds));
    capture.stop(lab);
    let text = capture.text(&["-v", "-t"]).expect("tcpdump -r");
    text.lines()
        .filter_map(|l| {
            l.split_once("VRRPv")
                .map(|(_, rest)| format!("VRRPv{rest}"))
        })
        .collect()
}

/// Healthy, then failing: what each phase's capture saw.
fn run_phases(
    lab: &Lab,
    flag: &Path,
    vip: std::net::Ipv4Addr,
    host: usize,
    logs: &[&str],
) -> (BTreeSet<String>, BTreeSet<String>) {
    expect_holders(lab, vip, &[host], SETTLE, logs);
    let healthy = adverts_seen(lab, &format!("healthy-{host}"), 3);
    std::fs::write(flag, "").expect("flag");
    // The check runs every second: two seconds for it to fail and the priority to drop.
    std::thread::sleep(Duration::from_secs(2));
    let failing = adverts_seen(lab, &format!("failing-{host}"), 3);
    std::fs::remove_file(flag).expect("flag");
    (healthy, failing)
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn keepalived_and_carpd_from_the_imported_file_send_the_same_adverts() {
    let Some(lab) = lab("keqv", 156, 3, &["keepalived", "tcpdump"]) else {
        return;
    };
    let vip = lab.address(61);
    let flag = lab.dir().join("app-down");
    let conf = keepalived_conf(&lab, &flag);

    // keepalived alone on host 1.
    let keepalived = start_keepalived(&lab, 1, &conf, "k1");
    let (k_healthy, k_failing) = run_phases(&lab, &flag, vip, 1, &["k1"]);
    stop(&lab, &keepalived, Signal::SIGTERM);
    assert!(wait_until(SETTLE, || lab.holders(vip).is_empty()));

    // The same file imported, carpd alone on host 2.
    let out = std::process::Command::new(carpctl())
        .args(["import", "keepalived"])
        .arg(&conf)
        .output()
        .expect("carpctl import");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported = String::from_utf8(out.stdout).expect("UTF-8");
    let c = write_config(&lab, "c2.toml", &imported);
    let carpd = start_config(&lab, 2, &c, "c2");
    let (c_healthy, c_failing) = run_phases(&lab, &flag, vip, 2, &["c2"]);
    stop(&lab, &carpd, Signal::SIGTERM);

    eprintln!(
        "keepalived: {k_healthy:?} then {k_failing:?}\ncarpd: {c_healthy:?} then {c_failing:?}"
    );
    let (a, b) = (lab.address(61), lab.address(62));
    let want = |prio: u8| {
        format!(
            "VRRPv2, Advertisement, vrid 61, prio {prio}, authtype simple, intvl 1s, length 24, addrs(2): {a},{b} auth \"s3cret\""
        )
    };
    assert_eq!(
        k_healthy,
        BTreeSet::from([want(150)]),
        "keepalived, healthy"
    );
    assert_eq!(
        k_failing,
        BTreeSet::from([want(130)]),
        "keepalived, failing"
    );
    assert_eq!(c_healthy, k_healthy, "carpd, healthy\n{}", lab.log("c2"));
    assert_eq!(c_failing, k_failing, "carpd, failing\n{}", lab.log("c2"));
}
