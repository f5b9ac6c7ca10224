//! Notify scripts: every transition, in the order it happened, with a slow script.

use crate::common::{expect_holders, lab};
use crate::common::{start_config, write_config};
use crate::trackers::{socket_of, tracked, Watch};
use std::time::Duration;

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_slow_notify_script_gets_every_transition_in_the_order_it_happened() {
    let Some(lab) = lab("tnf", 51, 1, &[]) else {
        return;
    };
    let vip = lab.address(112);
    let maintenance = lab.dir().join("maintenance");
    let calls = lab.dir().join("notify.log");
    // Each call takes 0.5 s: faster changes queue up behind it.
    let notify = format!(
        "notify_script = [\"/bin/sh\", \"-c\", \"sleep 0.5; echo \\\"$CARPD_GROUP $CARPD_INTERFACE $CARPD_VHID $CARPD_FROM $CARPD_STATE $CARPD_REASON\\\" >> {}\"]",
        calls.display()
    );
    let h1 = write_config(
        &lab,
        "h1.toml",
        &(format!(
            "[[tracker]]\nname = \"m\"\nfile = \"{}\"\ninterval = 0.1\n\n",
            maintenance.display()
        ) + &tracked("web", 12, vip, 0, &format!("track = [\"m\"]\n{notify}"))),
    );
    let m1 = start_config(&lab, 1, &h1, "h1");
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &["h1"]);
    let socket = socket_of(&lab, "h1.toml");
    let watch = Watch::start(&socket);
    for value in ["1", "0", "1", "0"] {
        std::fs::write(&maintenance, value).expect("maintenance");
        std::thread::sleep(Duration::from_millis(400));
    }
    expect_holders(&lab, vip, &[1], Duration::from_secs(6), &["h1"]);
    crate::common::stop(&lab, &m1, nix::sys::signal::Signal::SIGTERM);
    let watched: Vec<String> = watch
        .events()
        .into_iter()
        .filter(|e| e["event"] == "state")
        .map(|e| {
            format!(
                "web eth0 12 {} {} {}",
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    let read = || std::fs::read_to_string(&calls).unwrap_or_default();
    // The stop waits for the queued calls (within the hook timeout).
    let called: Vec<String> = read().lines().map(String::from).collect();
    let startup = [
        "web eth0 12 INIT BACKUP startup",
        "web eth0 12 BACKUP FAULT fault",
        "web eth0 12 FAULT BACKUP fault-cleared",
        "web eth0 12 BACKUP MASTER master-down",
    ];
    assert!(called.len() > startup.len(), "{called:?}");
    assert_eq!(called[..startup.len()], startup, "{called:?}");
    // After that, exactly what carpctl watch saw, in the same order, and the stop last.
    let rest = &called[startup.len()..];
    assert_eq!(
        rest[..watched.len()],
        watched[..],
        "notify {called:?}\nwatch {watched:?}"
    );
    assert!(
        watched
            .iter()
            .filter(|w| w.contains(" FAULT fault"))
            .count()
            >= 2,
        "{watched:?}"
    );
    assert_eq!(
        called.last().map(String::as_str),
        Some("web eth0 12 MASTER INIT stopped")
    );
}
