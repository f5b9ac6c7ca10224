//! `/metrics`: checked by promtool, read before and after a failover, and scraped by a real
//! Prometheus server that answers a query for `carpd_group_state`.

use crate::common::{expect_holders, lab};
use crate::common::{start_config, write_config};
use crate::config_mode::group;
use carpd_lab::{wait_until, Lab};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `curl -s URL` inside host `host`: the body, or "" when it fails.
pub fn fetch(lab: &Lab, host: usize, url: &str) -> String {
    lab.run(lab.host(host), "curl", &["-s", "--max-time", "5", url])
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

/// The value of the sample whose line starts with `series` (name and labels as printed).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l[series.len()..].trim().parse().ok())
}

fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Adds `metrics_listen = "LISTEN"` to the config file at `path` (write_config starts it
/// with a [daemon] table of its own: the key goes there) and returns the path.
fn with_metrics(path: std::path::PathBuf, listen: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replacen(
        "[daemon]\n",
        &format!("[daemon]\nmetrics_listen = \"{listen}\"\n"),
        1,
    );
    std::fs::write(&path, text).expect("config");
    path
}

/// Starts a real Prometheus server in `host` with `config` as its prometheus.yml, its API on
/// 127.0.0.1:9090 there, its data and log in the lab's directory.
fn start_prometheus(lab: &Lab, host: usize, config: &str) {
    let path = lab.dir().join("prometheus.yml");
    std::fs::write(&path, config).expect("prometheus.yml");
    let storage = lab.dir().join("prometheus-data");
    lab.spawn(
        lab.host(host),
        "prometheus",
        &[
            &format!("--config.file={}", path.display()),
            &format!("--storage.tsdb.path={}", storage.display()),
            "--web.listen-address=127.0.0.1:9090",
        ],
        "prometheus",
    )
    .expect("prometheus");
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn metrics_pass_promtool_follow_a_failover_and_a_prometheus_server_scrapes_them() {
    let _heavy = crate::common::heavy();
    let Some(lab) = lab("tmx", 53, 2, &["curl", "promtool", "prometheus"]) else {
        return;
    };
    let vip = lab.address(114);
    let flag = lab.dir().join("broken");
    let local = "127.0.0.1:9642";
    let web = |advskew| {
        group("eth0", 14, vip, advskew).replacen("[[group]]\n", "[[group]]\nname = \"web\"\n", 1)
    };
    let h1 = with_metrics(
        write_config(
        &lab,
        "h1.toml",
        &format!(
            "[[tracker]]\nname = \"service\"\nscript = [\"/bin/sh\", \"-c\", \"test ! -e {}\"]\ninterval = 0.2\n\n{}track = [\"service\"]\n",
            flag.display(),
            web(10)
        ),
    ),
        local,
    );
    let h2 = with_metrics(write_config(&lab, "h2.toml", &web(100)), local);
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &logs);
    let url = "http://127.0.0.1:9642/metrics";
    let series = |state: &str| {
        format!(
            "carpd_group_state{{group=\"web\",interface=\"eth0\",vhid=\"14\",state=\"{state}\"}}"
        )
    };
    // Before: host 1 MASTER, its up hook ran (native), its tracker healthy.
    let before = fetch(&lab, 1, url);
    promtool_accepts(&before);
    assert_eq!(sample(&before, &series("MASTER")), Some(1.0), "{before}");
    assert_eq!(sample(&before, &series("FAULT")), Some(0.0), "{before}");
    assert_eq!(
        sample(&before, "carpd_tracker_healthy{tracker=\"service\"}"),
        Some(1.0),
        "{before}"
    );
    assert_eq!(
        sample(
            &before,
            "carpd_hook_runs_total{group=\"web\",kind=\"up\",result=\"ok\"}"
        ),
        Some(1.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "carpd_adverts_sent_total{group=\"web\",interface=\"eth0\",vhid=\"14\"}"
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        before.contains("carpd_hook_duration_seconds_bucket{le=\"0.005\",kind=\"up\"}")
            || before.contains("carpd_hook_duration_seconds_bucket{kind=\"up\",le=\"0.005\"}"),
        "{before}"
    );
    assert!(
        before.contains(&format!(
            "carpd_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{before}"
    );
    assert!(
        before.contains("carpd_group_last_transition_timestamp_seconds{group=\"web\""),
        "{before}"
    );

    // A real Prometheus server in host 1 scrapes carpd every second.
    start_prometheus(
        &lab,
        1,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: carpd\n    static_configs:\n      - targets: ['127.0.0.1:9642']\n",
    );

    // Failover: host 1's check fails (weight 0): FAULT, host 2 MASTER.
    std::fs::write(&flag, "").expect("flag");
    expect_holders(&lab, vip, &[2], Duration::from_secs(3), &logs);
    let after = fetch(&lab, 1, url);
    promtool_accepts(&after);
    assert_eq!(sample(&after, &series("FAULT")), Some(1.0), "{after}");
    assert_eq!(sample(&after, &series("MASTER")), Some(0.0), "{after}");
    assert_eq!(
        sample(&after, "carpd_tracker_healthy{tracker=\"service\"}"),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "carpd_group_transitions_total{group=\"web\",interface=\"eth0\",vhid=\"14\",to=\"FAULT\"}"),
        Some(2.0),
        "at start-up until the first check passed, and now: {after}"
    );
    assert_eq!(
        sample(
            &after,
            "carpd_hook_runs_total{group=\"web\",kind=\"down\",result=\"ok\"}"
        ),
        Some(2.0),
        "the start-up down hook and the one leaving MASTER: {after}"
    );
    let peer = fetch(&lab, 2, url);
    assert_eq!(sample(&peer, &series("MASTER")), Some(1.0), "{peer}");
    assert_eq!(
        sample(&peer, "carpd_group_transitions_total{group=\"web\",interface=\"eth0\",vhid=\"14\",to=\"MASTER\"}"),
        Some(1.0),
        "{peer}"
    );

    // Prometheus answers a query for carpd_group_state with what carpd says now.
    let query =
        "http://127.0.0.1:9090/api/v1/query?query=carpd_group_state%7Bstate%3D%22FAULT%22%7D";
    let mut answer = String::new();
    let answered = wait_until(Duration::from_secs(40), || {
        answer = fetch(&lab, 1, query);
        answer.contains("\"status\":\"success\"")
            && answer.contains("\"value\":[")
            && answer.contains(",\"1\"]")
    });
    assert!(
        answered,
        "Prometheus answered {answer:?}\n{}",
        lab.log("prometheus")
    );
    assert!(
        answer.contains("\"group\":\"web\"") && answer.contains("\"job\":\"carpd\""),
        "{answer}"
    );
    // Not found and wrong method are answered as such.
    let missing = lab
        .run(
            lab.host(1),
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "http://127.0.0.1:9642/",
            ],
        )
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");
}

/// `packaging/prometheus/`, where the shipped alert rules and their tests are.
fn shipped_rules_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/prometheus")
}

/// `promtool ARGS` in the rules' directory: its stdout, or a panic with what it said.
fn promtool_passes(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(shipped_rules_dir())
        .output()
        .expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}: {said}");
    said
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn the_shipped_alert_rules_pass_promtool_check_and_their_tests() {
    if let Err(e) = carpd_lab::require(&["promtool"]) {
        panic!("promtool cannot run (Debian package prometheus): {e:#}");
    }
    let checked = promtool_passes(&["check", "rules", "carpd-alerts.yml"]);
    assert!(checked.contains("SUCCESS: 5 rules found"), "{checked}");
    let rules =
        std::fs::read_to_string(shipped_rules_dir().join("carpd-alerts.yml")).expect("rules");
    for alert in [
        "CarpSplitBrain",
        "CarpNoMaster",
        "CarpGroupFlapping",
        "CarpTrackerFailed",
        "CarpPacketsDropped",
    ] {
        assert!(rules.contains(&format!("- alert: {alert}\n")), "{alert}");
    }
    assert_eq!(rules.matches("summary: ").count(), 5, "{rules}");
    assert_eq!(rules.matches("runbook: ").count(), 5, "{rules}");
    let tested = promtool_passes(&["test", "rules", "carpd-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// The alerts Prometheus has now, as (name, state) pairs, from its HTTP API in `host`.
fn alerts(lab: &Lab, host: usize) -> Vec<(String, String)> {
    let answer = fetch(lab, host, "http://127.0.0.1:9090/api/v1/alerts");
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&answer) else {
        return Vec::new();
    };
    value["data"]["alerts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    let name = a["labels"]["alertname"].as_str().unwrap_or_default();
                    let state = a["state"].as_str().unwrap_or_default();
                    (name.to_string(), state.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[cfg_attr(
    not(carpd_netns),
    ignore = "needs root, network namespaces and the peers' programs: run scripts/test"
)]
fn a_real_prometheus_with_the_shipped_rules_fires_split_brain_while_adverts_are_dropped() {
    let _heavy = crate::common::heavy();
    let Some(lab) = lab("tsb", 180, 2, &["curl", "prometheus", "nft"]) else {
        return;
    };
    let vip = lab.address(114);
    let config = |name: &str, advskew: u8| {
        let path = write_config(&lab, name, &group("eth0", 18, vip, advskew));
        with_metrics(path, "0.0.0.0:9642")
    };
    let (h1, h2) = (config("h1.toml", 10), config("h2.toml", 100));
    let _m1 = start_config(&lab, 1, &h1, "h1");
    let _m2 = start_config(&lab, 2, &h2, "h2");
    let logs = ["h1", "h2"];
    expect_holders(&lab, vip, &[1], Duration::from_secs(15), &logs);

    // Prometheus in host 1 scrapes both carpd across the LAN every second and evaluates the
    // shipped rules, unchanged, every second.
    start_prometheus(
        &lab,
        1,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: carpd\n    static_configs:\n      - targets: ['{}:9642', '{}:9642']\n",
            shipped_rules_dir().join("carpd-alerts.yml").display(),
            lab.host(1).ip,
            lab.host(2).ip
        ),
    );
    let both_up = "http://127.0.0.1:9090/api/v1/query?query=sum(up%7Bjob%3D%22carpd%22%7D)";
    let mut answer = String::new();
    assert!(
        wait_until(Duration::from_secs(40), || {
            answer = fetch(&lab, 1, both_up);
            answer.contains(",\"2\"]")
        }),
        "Prometheus never scraped both carpd: {answer}\n{}",
        lab.log("prometheus")
    );
    let firing = |name: &str| {
        alerts(&lab, 1)
            .iter()
            .any(|(n, state)| n == name && state == "firing")
    };
    // One master: nothing fires (CarpNoMaster included) for a few evaluations.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(alerts(&lab, 1), Vec::new(), "{}", lab.log("prometheus"));

    // The switch drops the adverts: host 2 stops hearing host 1 and becomes MASTER too.
    lab.drop_multicast().expect("nftables rule");
    expect_holders(&lab, vip, &[1, 2], Duration::from_secs(6), &logs);
    assert!(
        wait_until(Duration::from_secs(30), || firing("CarpSplitBrain")),
        "CarpSplitBrain never fired: {:?}\n{}",
        alerts(&lab, 1),
        lab.log("prometheus")
    );
    let query = fetch(
        &lab,
        1,
        "http://127.0.0.1:9090/api/v1/query?query=ALERTS%7Balertname%3D%22CarpSplitBrain%22%7D",
    );
    assert!(
        query.contains("\"interface\":\"eth0\"")
            && query.contains("\"vhid\":\"18\"")
            && query.contains("\"severity\":\"critical\""),
        "{query}"
    );
    assert!(!firing("CarpNoMaster"), "{:?}", alerts(&lab, 1));

    // Healed: host 2 hears the better master and steps down; the alert resolves.
    lab.pass_multicast().expect("nftables rule removed");
    expect_holders(&lab, vip, &[1], Duration::from_secs(6), &logs);
    assert!(
        wait_until(Duration::from_secs(20), || !alerts(&lab, 1)
            .iter()
            .any(|(n, _)| n == "CarpSplitBrain")),
        "CarpSplitBrain did not resolve: {:?}",
        alerts(&lab, 1)
    );
}
