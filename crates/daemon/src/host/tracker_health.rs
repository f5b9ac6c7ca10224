//! Tracker health as the engine sees it, with no I/O: the trackers' runtime
//! (`crate::io::trackers`) reports each observation, this counts them against `rise` and `fall`,
//! and says what a group's trackers add up to.
//!
//! The rules, in the words of the docs: a tracker is failed until its first observation,
//! which then decides at once; after that a healthy tracker fails after `fall` failures in a
//! row and a failed one recovers after `rise` successes in a row (interface and file trackers
//! have rise = fall = 1). A group is in FAULT while any tracker it tracks with weight 0 is
//! failed; its demotion is the sum of the weights of its failed trackers (at most 255).

use crate::settings::tracking::{Check, TrackerSettings};
use carpd_proto::Instant;
use std::collections::BTreeMap;

/// One tracker's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerHealth {
    /// `script`, `interface` or `file`
    pub kind: &'static str,
    /// its weight
    pub weight: u8,
    /// healthy now
    pub healthy: bool,
    /// what the last observation said ("exit status 1", "no carrier", ...)
    pub detail: String,
    /// when its health last changed (or it was defined)
    pub since: Instant,
    /// observations in a row that disagree with `healthy`
    streak: u32,
    /// an observation has been made
    observed: bool,
    rise: u32,
    fall: u32,
}

/// What a group's trackers add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// why the group is in FAULT ("tracker nginx failed", ...); empty when it is not
    pub faulted_by: Vec<String>,
    /// the sum of the weights of its failed trackers, at most 255
    pub demotion: u8,
}

/// A change of one tracker's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// the tracker
    pub tracker: String,
    /// healthy now
    pub healthy: bool,
    /// the observation that decided it
    pub detail: String,
}

/// Every tracker, by name.
#[derive(Debug, Default)]
pub struct Health {
    trackers: BTreeMap<String, TrackerHealth>,
}

impl Health {
    /// Takes the trackers of new settings. A tracker kept under its name keeps its health
    /// (a reload that changes its interval does not fail it); a new one is failed until its
    /// first observation; a tracker no longer defined is forgotten. Returns the new ones.
    pub fn define(&mut self, now: Instant, trackers: &[TrackerSettings]) -> Vec<Change> {
        let mut old = std::mem::take(&mut self.trackers);
        let mut added = Vec::new();
        for t in trackers {
            let (rise, fall) = match t.check {
                Check::Script { rise, fall, .. } => (rise, fall),
                Check::Interface { .. } | Check::File { .. } | Check::Process { .. } => (1, 1),
            };
            let health = match old.remove(&t.name) {
                Some(kept) => TrackerHealth {
                    kind: t.check.kind(),
                    weight: t.weight,
                    streak: 0,
                    rise,
                    fall,
                    ..kept
                },
                None => {
                    let detail = "not checked yet".to_string();
                    added.push(Change {
                        tracker: t.name.clone(),
                        healthy: false,
                        detail: detail.clone(),
                    });
                    TrackerHealth {
                        kind: t.check.kind(),
                        weight: t.weight,
                        healthy: false,
                        detail,
                        since: now,
                        streak: 0,
                        observed: false,
                        rise,
                        fall,
                    }
                }
            };
            self.trackers.insert(t.name.clone(), health);
        }
        added
    }

    /// One observation of `tracker`; the change when its health changed.
    pub fn observe(
        &mut self,
        now: Instant,
        tracker: &str,
        ok: bool,
        detail: String,
    ) -> Option<Change> {
        let t = self.trackers.get_mut(tracker)?;
        t.detail = detail;
        let flip = if !t.observed {
            t.observed = true;
            ok != t.healthy
        } else if ok == t.healthy {
            t.streak = 0;
            false
        } else {
            t.streak += 1;
            t.streak >= if ok { t.rise } else { t.fall }
        };
        if !flip {
            return None;
        }
        t.healthy = ok;
        t.streak = 0;
        t.since = now;
        Some(Change {
            tracker: tracker.to_string(),
            healthy: ok,
            detail: t.detail.clone(),
        })
    }

    /// What the trackers named in `track` add up to. An unknown name counts for nothing: the
    /// settings never name an undefined tracker, and during a reload a group may still list
    /// one that the new file removed, until it gets its new list.
    pub fn verdict(&self, track: &[String]) -> Verdict {
        let mut verdict = Verdict::default();
        for name in track {
            match self.trackers.get(name) {
                Some(t) if t.healthy => {}
                Some(t) if t.weight > 0 => {
                    verdict.demotion = verdict.demotion.saturating_add(t.weight)
                }
                Some(_) => verdict.faulted_by.push(format!("tracker {name} failed")),
                None => {}
            }
        }
        verdict
    }

    /// One tracker.
    pub fn get(&self, name: &str) -> Option<&TrackerHealth> {
        self.trackers.get(name)
    }

    /// Every tracker, by name.
    pub fn all(&self) -> impl Iterator<Item = (&String, &TrackerHealth)> {
        self.trackers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn script(name: &str, rise: u32, fall: u32, weight: u8) -> TrackerSettings {
        TrackerSettings {
            name: name.into(),
            check: Check::Script {
                argv: vec!["/bin/true".into()],
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                rise,
                fall,
            },
            weight,
        }
    }

    fn t(micros: u64) -> Instant {
        Instant::from_micros(micros)
    }

    #[test]
    fn failed_until_the_first_observation_which_decides_then_rise_and_fall_count_in_a_row() {
        let mut health = Health::default();
        let added = health.define(t(0), &[script("web", 2, 3, 0)]);
        assert_eq!(added.len(), 1);
        assert!(!added[0].healthy);
        assert_eq!(
            health.verdict(&["web".into()]).faulted_by,
            ["tracker web failed"]
        );
        // The first success decides at once, rise notwithstanding.
        let change = health.observe(t(1), "web", true, "exit status 0".into());
        assert_eq!(change.map(|c| c.healthy), Some(true));
        assert_eq!(health.verdict(&["web".into()]), Verdict::default());
        // fall = 3: two failures and a success reset the count; then three fail it.
        for ok in [false, false, true, false, false] {
            assert_eq!(health.observe(t(2), "web", ok, String::new()), None);
        }
        let change = health
            .observe(t(3), "web", false, "exit status 1".into())
            .unwrap();
        assert!(!change.healthy);
        assert_eq!(change.detail, "exit status 1");
        assert_eq!(health.get("web").unwrap().since, t(3));
        // rise = 2.
        assert_eq!(health.observe(t(4), "web", true, String::new()), None);
        assert!(
            health
                .observe(t(5), "web", true, String::new())
                .unwrap()
                .healthy
        );
    }

    #[test]
    fn weights_add_up_and_weight_zero_faults() {
        let mut health = Health::default();
        health.define(
            t(0),
            &[
                script("a", 1, 1, 0),
                script("b", 1, 1, 200),
                script("c", 1, 1, 100),
            ],
        );
        for name in ["a", "b", "c"] {
            health.observe(t(1), name, true, String::new());
        }
        let all: Vec<String> = ["a", "b", "c"].map(String::from).into();
        health.observe(t(2), "b", false, String::new());
        assert_eq!(health.verdict(&all).demotion, 200);
        health.observe(t(2), "c", false, String::new());
        assert_eq!(health.verdict(&all).demotion, 255, "saturates");
        assert!(health.verdict(&all).faulted_by.is_empty());
        health.observe(t(3), "a", false, String::new());
        assert_eq!(health.verdict(&all).faulted_by, ["tracker a failed"]);
        // A group tracking only c sees only c.
        assert_eq!(
            health.verdict(&["c".into()]),
            Verdict {
                faulted_by: vec![],
                demotion: 100
            }
        );
    }

    #[test]
    fn a_redefined_tracker_keeps_its_health_and_a_removed_one_is_forgotten() {
        let mut health = Health::default();
        health.define(t(0), &[script("a", 1, 1, 0), script("b", 1, 1, 0)]);
        health.observe(t(1), "a", true, "ok".into());
        let added = health.define(t(2), &[script("a", 5, 5, 10), script("c", 1, 1, 0)]);
        assert_eq!(
            added.iter().map(|c| c.tracker.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        let a = health.get("a").unwrap();
        assert!(a.healthy);
        assert_eq!((a.weight, a.since), (10, t(1)));
        assert!(health.get("b").is_none());
    }
}
