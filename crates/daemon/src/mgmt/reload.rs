//! A reload as a plan: what the running settings and the new ones differ in, decided without
//! touching anything (the supervisor then carries it out). A group is added, removed,
//! unchanged, changed in place (it keeps its state and advert schedule) or restarted (it
//! bows out when master and starts again as BACKUP): a new interface or VIP interface
//! restarts it here, and the core's own rule ([`VrConfig::needs_restart`]: vhid, password,
//! protocol, address family) decides the rest, so the report says what really happens.

use super::control::protocol::ReloadReport;
use crate::settings::{DaemonSettings, GroupSettings, Settings};
use carpd_proto::VrConfig;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What a reload does, in the order it is done: stop, change in place, start.
#[derive(Debug)]
pub struct ReloadPlan {
    /// what is reported (the `reload` reply and event)
    pub report: ReloadReport,
    /// groups to stop, by name: the removed ones and the old selves of the restarted ones
    pub stop: Vec<String>,
    /// groups to change in place: new settings and the core's new configuration
    pub in_place: Vec<(GroupSettings, VrConfig)>,
    /// groups to start: the added ones and the new selves of the restarted ones
    pub start: Vec<GroupSettings>,
    /// `[daemon]` keys that apply only at the next start changed
    pub daemon_changed: bool,
}

/// Why a group cannot change as the file says: its new settings make no valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration of group \"{group}\": {reason}")]
pub struct PlanError {
    /// the group
    pub group: String,
    /// what the core refused
    pub reason: String,
}

/// The plan from the running settings `old` to `new`. `sources` holds the source address each
/// running group advertises from (a group without `srcip` keeps the one it found at start).
pub fn plan(
    old: &Settings,
    new: &Settings,
    sources: &BTreeMap<String, IpAddr>,
) -> Result<ReloadPlan, PlanError> {
    let mut plan = ReloadPlan {
        report: ReloadReport::default(),
        stop: Vec::new(),
        in_place: Vec::new(),
        start: Vec::new(),
        daemon_changed: start_only(&old.daemon) != start_only(&new.daemon),
    };
    let running: BTreeMap<&str, &GroupSettings> =
        old.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    for g in &new.groups {
        let Some(&before) = running.get(g.name.as_str()) else {
            plan.report.added.push(g.name.clone());
            plan.start.push(g.clone());
            continue;
        };
        if before == g {
            plan.report.unchanged += 1;
            continue;
        }
        match in_place_config(before, g, sources.get(&g.name).copied())? {
            Some(config) => {
                plan.report.changed.push(g.name.clone());
                plan.in_place.push((g.clone(), config));
            }
            None => {
                plan.report.restarted.push(g.name.clone());
                plan.start.push(g.clone());
            }
        }
    }
    for g in &old.groups {
        if !new.groups.iter().any(|n| n.name == g.name) {
            plan.report.removed.push(g.name.clone());
        }
    }
    plan.stop = plan
        .report
        .removed
        .iter()
        .chain(&plan.report.restarted)
        .cloned()
        .collect();
    trackers(old, new, &mut plan.report);
    Ok(plan)
}

/// The `[daemon]` keys read only at start.
fn start_only(d: &DaemonSettings) -> impl PartialEq + '_ {
    (
        &d.control_socket,
        &d.control_group,
        d.metrics_listen,
        d.realtime_priority,
    )
}

/// The core's new configuration when `new` can be applied to the running `old` in place;
/// `None` when the group must restart.
fn in_place_config(
    old: &GroupSettings,
    new: &GroupSettings,
    source: Option<IpAddr>,
) -> Result<Option<VrConfig>, PlanError> {
    // Another interface (or VIP interface, or virtual MAC): the old runner takes the VIPs
    // down where they were and a new one puts them up where they go.
    if old.interface != new.interface
        || old.vip_interface != new.vip_interface
        || old.vmac != new.vmac
        || old.virtual_mac() != new.virtual_mac()
    {
        return Ok(None);
    }
    let Some(running_source) = source else {
        return Ok(None);
    };
    let Ok(running) = old.router_config(old.srcip.unwrap_or(running_source)) else {
        return Ok(None);
    };
    let config = new
        .router_config(new.srcip.unwrap_or(running_source))
        .map_err(|e| PlanError {
            group: new.name.clone(),
            reason: e.to_string(),
        })?;
    Ok((!config.needs_restart(&running)).then_some(config))
}

/// Trackers added, removed and changed.
fn trackers(old: &Settings, new: &Settings, report: &mut ReloadReport) {
    for t in &new.trackers {
        match old.trackers.iter().find(|o| o.name == t.name) {
            None => report.trackers_added.push(t.name.clone()),
            Some(o) if o != t => report.trackers_changed.push(t.name.clone()),
            Some(_) => {}
        }
    }
    for t in &old.trackers {
        if !new.trackers.iter().any(|n| n.name == t.name) {
            report.trackers_removed.push(t.name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const WEB: &str = r#"
[[tracker]]
name = "nginx"
script = ["/bin/true"]

[[tracker]]
name = "uplink"
interface = "eth1"

[[group]]
name = "web"
interface = "eth0"
vhid = 7
vips = ["10.77.0.100/24"]
password = "secret"
advskew = 10
track = ["nginx"]

[[group]]
name = "db"
interface = "eth0"
vhid = 8
vips = ["10.77.0.101/24"]
password = "secret"
"#;

    fn settings(text: &str) -> Settings {
        crate::settings::file::parse(Path::new("/etc/carpd/carpd.toml"), text)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn sources() -> BTreeMap<String, IpAddr> {
        ["web", "db"]
            .into_iter()
            .map(|name| (name.to_string(), "10.77.0.11".parse().unwrap()))
            .collect()
    }

    /// The plan from [`WEB`] to it with `from` replaced by `to` (which must be there).
    fn changed(from: &str, to: &str) -> ReloadPlan {
        assert!(WEB.contains(from), "{from}");
        let new = settings(&WEB.replacen(from, to, 1));
        plan(&settings(WEB), &new, &sources()).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let plan = changed("advskew = 10", "advskew = 10");
        assert_eq!(plan.report.unchanged, 2);
        assert!(plan.stop.is_empty() && plan.start.is_empty() && plan.in_place.is_empty());
        assert!(!plan.daemon_changed);
    }

    #[test]
    fn timing_flags_vips_scripts_and_trackers_of_a_group_change_in_place() {
        for (from, to) in [
            ("advskew = 10", "advskew = 20"),
            ("advskew = 10", "advskew = 10\nadvbase = 2"),
            ("advskew = 10", "advskew = 10\npreempt = true"),
            (
                "vips = [\"10.77.0.100/24\"]",
                "vips = [\"10.77.0.100/24\", \"10.77.0.102/24\"]",
            ),
            ("track = [\"nginx\"]", "track = [\"nginx\", \"uplink\"]"),
            (
                "advskew = 10",
                "advskew = 10\nup_script = \"/bin/true\"\ndown_script = \"/bin/true\"",
            ),
        ] {
            let plan = changed(from, to);
            assert_eq!(plan.report.changed, names(&["web"]), "{to}");
            assert_eq!(plan.in_place.len(), 1, "{to}");
            assert_eq!(plan.in_place[0].0.name, "web");
            assert!(plan.stop.is_empty() && plan.start.is_empty(), "{to}");
            assert_eq!(plan.report.unchanged, 1);
        }
        let plan = changed("advskew = 10", "advskew = 20");
        assert_eq!(plan.in_place[0].1.protocol.carp().unwrap().advskew, 20);
    }

    #[test]
    fn driving_conntrackd_or_not_changes_a_group_in_place() {
        let old = settings(WEB);
        let mut new = old.clone();
        new.groups[0].conntrack = true;
        let plan = plan(&old, &new, &sources()).unwrap();
        assert_eq!(plan.report.changed, names(&["web"]));
        assert_eq!(plan.in_place.len(), 1);
        assert!(plan.stop.is_empty() && plan.start.is_empty());
    }

    #[test]
    fn interface_vip_interface_vmac_vhid_password_and_protocol_restart_a_group() {
        for (from, to) in [
            ("advskew = 10", "advskew = 10\nvmac = true"),
            (
                "advskew = 10",
                "advskew = 10\nvmac = true\nvmac_interface = \"web-vmac\"",
            ),
            (
                "interface = \"eth0\"\nvhid = 7",
                "interface = \"eth1\"\nvhid = 7",
            ),
            ("advskew = 10", "advskew = 10\nvip_interface = \"eth9\""),
            ("vhid = 7", "vhid = 9"),
            (
                "password = \"secret\"\nadvskew = 10",
                "password = \"other\"\nadvskew = 10",
            ),
            (
                "password = \"secret\"\nadvskew = 10",
                "protocol = \"vrrp3\"\npriority = 150",
            ),
        ] {
            let plan = changed(from, to);
            assert_eq!(plan.report.restarted, names(&["web"]), "{to}");
            assert_eq!(plan.stop, names(&["web"]), "{to}");
            assert_eq!(plan.start.len(), 1, "{to}");
            assert!(
                plan.in_place.is_empty() && plan.report.changed.is_empty(),
                "{to}"
            );
        }
    }

    #[test]
    fn groups_are_added_and_removed_by_name() {
        let without_db = WEB.split("[[group]]\nname = \"db\"").next().unwrap();
        let plan = plan(&settings(WEB), &settings(without_db), &sources()).unwrap();
        assert_eq!(plan.report.removed, names(&["db"]));
        assert_eq!(plan.stop, names(&["db"]));
        let plan = super::plan(&settings(without_db), &settings(WEB), &sources()).unwrap();
        assert_eq!(plan.report.added, names(&["db"]));
        assert_eq!(plan.start[0].name, "db");
        assert!(plan.stop.is_empty());
    }

    #[test]
    fn trackers_are_reported_added_removed_and_changed() {
        let plan = changed("script = [\"/bin/true\"]", "script = [\"/bin/false\"]");
        assert_eq!(plan.report.trackers_changed, names(&["nginx"]));
        let plan = changed(
            "[[tracker]]\nname = \"uplink\"\ninterface = \"eth1\"\n",
            "[[tracker]]\nname = \"disk\"\nfile = \"/run/ok\"\n",
        );
        assert_eq!(plan.report.trackers_added, names(&["disk"]));
        assert_eq!(plan.report.trackers_removed, names(&["uplink"]));
    }

    #[test]
    fn start_only_daemon_keys_are_flagged() {
        let plan = changed(
            "[[tracker]]\nname = \"nginx\"",
            "[daemon]\nmetrics_listen = \"127.0.0.1:9100\"\n\n[[tracker]]\nname = \"nginx\"",
        );
        assert!(plan.daemon_changed);
    }

    #[test]
    fn a_change_the_core_refuses_is_an_error_that_names_the_group() {
        // Its only peer is the address it advertises from.
        let new =
            settings(&WEB.replacen("advskew = 10", "advskew = 10\npeers = [\"10.77.0.11\"]", 1));
        let e = plan(&settings(WEB), &new, &sources()).unwrap_err();
        assert_eq!(e.group, "web");
        assert!(
            e.to_string()
                .contains("invalid configuration of group \"web\""),
            "{e}"
        );
    }
}
