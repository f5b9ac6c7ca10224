//! What the metrics count as it happens (transitions, hook runs and their durations); the
//! rest is read from the host at each scrape.

use super::jobs::HookReport;
use carpd_proto::State;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// A group, as every per-group metric labels it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, EncodeLabelSet)]
pub struct GroupLabels {
    /// its name
    pub group: String,
    /// its interface
    pub interface: String,
    /// its vhid
    pub vhid: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TransitionLabels {
    pub(crate) group: String,
    interface: String,
    vhid: u8,
    to: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct HookLabels {
    group: String,
    kind: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct HookKindLabels {
    kind: &'static str,
}

/// Hook durations, in seconds: from a native address change (milliseconds) to the default
/// 30 s timeout.
const HOOK_BUCKETS: [f64; 10] = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0];

fn hook_histogram() -> Histogram {
    Histogram::new(HOOK_BUCKETS)
}

/// What is counted as it happens (the rest is read at each scrape).
///
/// Plain counters in one ordered map, one entry per group: thousands of groups would
/// otherwise each hold several hashed label sets and shared counters between scrapes. The
/// metric families are built from them at each scrape, with the same series as always (a
/// series appears once its count is above zero, and stays, also after its group is gone).
#[derive(Debug, Clone)]
pub struct Tallies {
    /// by group (as labelled), what it counted
    groups: BTreeMap<GroupLabels, Counts>,
    pub(crate) hook_duration: Family<HookKindLabels, Histogram, fn() -> Histogram>,
}

/// One group's counts: kept in its map entry, with no block of their own for the usual
/// few hook outcomes (a group that only ever adds and removes its VIPs has two).
#[derive(Debug, Clone, Default)]
struct Counts {
    /// the transitions into INIT, BACKUP, MASTER and FAULT
    transitions: [u64; 4],
    /// the hook runs by (kind, result)
    hook_runs: SmallVec<[(HookOutcome, u64); 2]>,
}

/// A hook run's kind and result labels.
type HookOutcome = (&'static str, &'static str);

impl Default for Tallies {
    fn default() -> Self {
        Tallies {
            groups: BTreeMap::new(),
            hook_duration: Family::new_with_constructor(hook_histogram),
        }
    }
}

/// The states a transition enters, in the order [`Tallies`] counts them.
const ENTERED: [State; 4] = [State::Init, State::Backup, State::Master, State::Fault];

impl Tallies {
    /// The counts of `group`, made on first use.
    fn counts(&mut self, group: &GroupLabels) -> &mut Counts {
        if !self.groups.contains_key(group) {
            self.groups.insert(group.clone(), Counts::default());
        }
        self.groups.get_mut(group).expect("just made")
    }

    /// A group changed state.
    pub fn transition(&mut self, group: &GroupLabels, to: State) {
        let Some(at) = ENTERED.iter().position(|s| *s == to) else {
            return;
        };
        self.counts(group).transitions[at] += 1;
    }

    /// A group's hook ran (or was skipped).
    pub fn hook(&mut self, group: &GroupLabels, report: &HookReport) {
        let outcome = (report.kind, report.result.as_str());
        let runs = &mut self.counts(group).hook_runs;
        match runs.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, count)) => *count += 1,
            None => runs.push((outcome, 1)),
        }
        if report.result != super::jobs::HookResult::Skipped {
            self.hook_duration
                .get_or_create(&HookKindLabels { kind: report.kind })
                .observe(report.duration.as_secs_f64());
        }
    }

    /// `carpd_group_transitions`, by group and new state.
    pub(crate) fn transitions(&self) -> Family<TransitionLabels, Counter> {
        let family = Family::<TransitionLabels, Counter>::default();
        for (group, counts) in &self.groups {
            let entered = ENTERED.iter().zip(&counts.transitions);
            for (state, &count) in entered.filter(|(_, &n)| n > 0) {
                family
                    .get_or_create(&TransitionLabels {
                        group: group.group.clone(),
                        interface: group.interface.clone(),
                        vhid: group.vhid,
                        to: state.as_str(),
                    })
                    .inc_by(count);
            }
        }
        family
    }

    /// `carpd_hook_runs`, by group, kind and result (a group's runs on every interface and
    /// vhid it had under that name, as one series).
    pub(crate) fn hook_runs(&self) -> Family<HookLabels, Counter> {
        let family = Family::<HookLabels, Counter>::default();
        for (group, counts) in &self.groups {
            for &((kind, result), count) in &counts.hook_runs {
                family
                    .get_or_create(&HookLabels {
                        group: group.group.clone(),
                        kind,
                        result,
                    })
                    .inc_by(count);
            }
        }
        family
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::jobs::HookResult;
    use prometheus_client::registry::Registry;

    fn text(tallies: &Tallies) -> String {
        let mut registry = Registry::with_prefix("carpd");
        registry.register("group_transitions", "t", tallies.transitions());
        registry.register("hook_runs", "h", tallies.hook_runs());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encodes");
        out
    }

    fn run(kind: &'static str, result: HookResult) -> HookReport {
        HookReport {
            kind,
            result,
            duration: std::time::Duration::from_millis(2),
            error: None,
        }
    }

    /// Group "web", vhid 14, on `interface`.
    fn web_on(interface: &str) -> GroupLabels {
        GroupLabels {
            group: "web".into(),
            interface: interface.into(),
            vhid: 14,
        }
    }

    #[test]
    fn counts_render_as_one_series_per_label_set_seen() {
        let mut tallies = Tallies::default();
        let web = web_on("eth0");
        tallies.transition(&web, State::Backup);
        tallies.transition(&web, State::Master);
        tallies.transition(&web, State::Backup);
        tallies.hook(&web, &run("up", HookResult::Ok));
        tallies.hook(&web, &run("up", HookResult::Ok));
        tallies.hook(&web, &run("down", HookResult::Skipped));
        let text = text(&tallies);
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has(
            "carpd_group_transitions_total{group=\"web\",interface=\"eth0\",vhid=\"14\",to=\"BACKUP\"} 2"
        ), "{text}");
        assert!(has(
            "carpd_group_transitions_total{group=\"web\",interface=\"eth0\",vhid=\"14\",to=\"MASTER\"} 1"
        ));
        assert!(has(
            "carpd_hook_runs_total{group=\"web\",kind=\"up\",result=\"ok\"} 2"
        ));
        assert!(has(
            "carpd_hook_runs_total{group=\"web\",kind=\"down\",result=\"skipped\"} 1"
        ));
        // States never entered have no series, as before.
        assert!(!text.contains("to=\"FAULT\"") && !text.contains("to=\"INIT\""));
        assert_eq!(text.lines().filter(|l| l.starts_with("carpd_")).count(), 4);
    }

    #[test]
    fn a_name_that_moved_to_another_interface_keeps_one_hook_series_and_two_transition_ones() {
        let mut tallies = Tallies::default();
        let (before, after) = (web_on("eth0"), web_on("eth1"));
        for labels in [&before, &after] {
            tallies.transition(labels, State::Master);
            tallies.hook(labels, &run("up", HookResult::Ok));
        }
        tallies.hook(&after, &run("up", HookResult::Failed));
        tallies.hook(&after, &run("down", HookResult::Ok));
        let text = text(&tallies);
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(
            has("carpd_hook_runs_total{group=\"web\",kind=\"up\",result=\"ok\"} 2"),
            "{text}"
        );
        assert!(has(
            "carpd_hook_runs_total{group=\"web\",kind=\"up\",result=\"failed\"} 1"
        ));
        assert!(has(
            "carpd_hook_runs_total{group=\"web\",kind=\"down\",result=\"ok\"} 1"
        ));
        for interface in ["eth0", "eth1"] {
            assert!(has(&format!(
                "carpd_group_transitions_total{{group=\"web\",interface=\"{interface}\",vhid=\"14\",to=\"MASTER\"}} 1"
            )));
        }
    }
}
