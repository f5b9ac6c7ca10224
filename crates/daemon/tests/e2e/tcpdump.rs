//! tcpdump prints carpd's adverts exactly as it prints ucarp's.

use crate::common::*;
use std::time::Duration;

/// The advert lines of a capture with what changes per packet masked: timestamps, IP id,
/// and the counter/HMAC that `-v` prints as `addrs(7)`.
fn shape(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("VRRP"))
        .map(|l| {
            let l = l.split_once(' ').map_or(l, |(_, rest)| rest); // timestamp
            let l = match l.find(", id ").map(|i| i + 2) {
                Some(i) => {
                    let end = l[i..].find(',').map_or(l.len(), |e| i + e);
                    format!("{}id N{}", &l[..i], &l[end..])
                }
                None => l.to_string(),
            };
            match l.find("addrs(7):") {
                Some(i) => format!("{}addrs(7): ...", &l[..i]),
                None => l,
            }
        })
        .collect()
}

fn capture_of(which: Impl, prefix: &str, subnet: u8) -> Option<(Vec<String>, Vec<String>)> {
    let lab = lab(prefix, subnet, 2, &["ucarp", "tcpdump"])?;
    let mut g = Group::new(&lab, 47);
    g.pass = vec!["-p".into(), "unix-experience".into()];
    let cap = lab.capture(lab.host(2), "ip proto 112", "adverts").unwrap();
    let _m = start(&lab, which, 1, &g, 10, false, "m");
    expect_holders(&lab, g.vip, &[1], SETTLE, &["m"]);
    std::thread::sleep(Duration::from_millis(2500));
    cap.stop(&lab);
    let plain = shape(&cap.text(&[]).unwrap());
    let verbose = shape(&cap.text(&["-v"]).unwrap());
    Some((plain, verbose))
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn tcpdump_prints_carpd_adverts_as_it_prints_ucarps() {
    let Some((carpd_plain, carpd_verbose)) = capture_of(Impl::Carpd, "tdc", 50) else {
        return;
    };
    let Some((ucarp_plain, ucarp_verbose)) = capture_of(Impl::Ucarp, "tdu", 50) else {
        return;
    };
    assert!(
        carpd_plain.len() >= 2 && ucarp_plain.len() >= 2,
        "{carpd_plain:?} {ucarp_plain:?}"
    );
    assert_eq!(carpd_plain[0], ucarp_plain[0]);
    assert!(
        carpd_plain[0].contains(
            "VRRPv2, Advertisement, vrid 47, prio 10, authtype none, intvl 1s, length 36"
        ),
        "{}",
        carpd_plain[0]
    );
    assert_eq!(carpd_verbose[0], ucarp_verbose[0]);
    assert!(
        carpd_verbose[0].contains("tos 0x10, ttl 255"),
        "{}",
        carpd_verbose[0]
    );
}

/// A capture keeps every frame up to the moment it is stopped: the timing figures read off
/// captures (gaps, outages) would otherwise end early. Without tcpdump's immediate mode the
/// frames of the last ring block, up to a second of them, were lost at the stop.
#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_capture_keeps_every_frame_until_it_is_stopped() {
    let Some(lab) = lab("tcz", 68, 2, &["tcpdump", "ping"]) else {
        return;
    };
    let cap = lab.capture(lab.host(2), "icmp", "pings").unwrap();
    let to = lab.host(2).ip.to_string();
    let ping = lab
        .run(lab.host(1), "ping", &["-q", "-c", "20", "-i", "0.05", &to])
        .unwrap();
    assert!(ping.status.success(), "{ping:?}");
    // Stopped at once: the last replies left host 2 a few milliseconds ago.
    cap.stop(&lab);
    let lines = cap.text(&[]).unwrap();
    let requests = lines.lines().filter(|l| l.contains("echo request")).count();
    let replies = lines.lines().filter(|l| l.contains("echo reply")).count();
    assert_eq!((requests, replies), (20, 20), "{lines}");
    assert_eq!(cap.dropped(&lab), Some(0), "{}", lab.log("tcpdump-pings"));
}
