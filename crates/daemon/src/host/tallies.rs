//! What the metrics count as it happens (transitions, hook runs and their durations); the
//! rest is read from the host at each scrape.

use super::jobs::HookReport;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// A group, as every per-group metric labels it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
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
#[derive(Debug, Clone)]
pub struct Tallies {
    pub(crate) transitions: Family<TransitionLabels, Counter>,
    pub(crate) hook_runs: Family<HookLabels, Counter>,
    pub(crate) hook_duration: Family<HookKindLabels, Histogram, fn() -> Histogram>,
}

impl Default for Tallies {
    fn default() -> Self {
        Tallies {
            transitions: Family::default(),
            hook_runs: Family::default(),
            hook_duration: Family::new_with_constructor(hook_histogram),
        }
    }
}

impl Tallies {
    /// A group changed state.
    pub fn transition(&self, group: &GroupLabels, to: &'static str) {
        self.transitions
            .get_or_create(&TransitionLabels {
                group: group.group.clone(),
                interface: group.interface.clone(),
                vhid: group.vhid,
                to,
            })
            .inc();
    }

    /// A group's hook ran (or was skipped).
    pub fn hook(&self, group: &str, report: &HookReport) {
        self.hook_runs
            .get_or_create(&HookLabels {
                group: group.to_string(),
                kind: report.kind,
                result: report.result.as_str(),
            })
            .inc();
        if report.result != super::jobs::HookResult::Skipped {
            self.hook_duration
                .get_or_create(&HookKindLabels { kind: report.kind })
                .observe(report.duration.as_secs_f64());
        }
    }
}
