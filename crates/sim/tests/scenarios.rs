//! Simulator scenarios, each over 1000 seeds. Invariants (checked at every step by the
//! simulator): two connected nodes are never both MASTER, nor both holding the VIP, for longer
//! than one master-down interval plus delivery and hook time.

use carpd_proto::{Instant, State, StateChangeReason};
use carpd_sim::{SegmentConfig, Sim};
use std::time::Duration;

const SEEDS: u64 = 1000;

/// Runs `scenario` for every seed and reports every failing seed.
fn for_seeds(name: &str, scenario: impl Fn(u64) -> Result<(), String>) {
    let failures: Vec<String> = (0..SEEDS)
        .filter_map(|seed| scenario(seed).err().map(|e| format!("seed {seed}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{name}: {} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn invariants(sim: &Sim) -> Result<(), String> {
    sim.violation().map_or(Ok(()), |v| Err(v.to_string()))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// When node `node` last became master, at or after `since`.
fn took_over_at(sim: &Sim, node: usize, since: Instant) -> Option<Instant> {
    sim.transitions()
        .iter()
        .find(|t| t.node == node && t.to == State::Master && t.at >= since)
        .map(|t| t.at)
}

#[test]
fn two_nodes_elect_fail_over_and_keep_the_new_master() {
    for_seeds("two nodes", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, false));
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(secs(10));
        expect(sim.masters() == [a], || {
            format!("after election masters {:?}", sim.masters())
        })?;
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        let crash = sim.now();
        sim.crash(a);
        sim.run_for(secs(6));
        expect(sim.masters() == [b], || {
            format!("after crash masters {:?}", sim.masters())
        })?;
        // B's dead time is 3 s + 50/256 s after A's last advert, which is at most 1 s old.
        let taken = took_over_at(&sim, b, crash).ok_or("b never took over")?;
        expect(
            taken - crash <= Duration::from_micros(3_195_312 + 2_000),
            || format!("takeover {:?} after the crash", taken - crash),
        )?;
        // Without --preempt the returning node stays backup.
        sim.restart(a);
        sim.run_for(secs(10));
        expect(sim.masters() == [b], || {
            format!("after restart masters {:?}", sim.masters())
        })?;
        invariants(&sim)
    });
}

#[test]
fn graceful_stop_hands_over_within_milliseconds() {
    for_seeds("graceful stop", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, false));
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(secs(10));
        let stop = sim.now();
        sim.stop(a);
        sim.run_for(secs(1));
        let taken = took_over_at(&sim, b, stop).ok_or("b never took over")?;
        expect(taken - stop <= Duration::from_millis(3), || {
            format!("handover took {:?}", taken - stop)
        })?;
        let reason = sim
            .transitions()
            .iter()
            .rev()
            .find(|t| t.node == b)
            .map(|t| t.reason);
        expect(reason == Some(StateChangeReason::MasterBowedOut), || {
            format!("reason {reason:?}")
        })?;
        invariants(&sim)
    });
}

#[test]
fn three_node_cascade_with_preemption_back() {
    for_seeds("cascade", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, true));
        let b = sim.add_node(Sim::config(12, 50, false));
        let c = sim.add_node(Sim::config(13, 100, false));
        sim.run_for(secs(10));
        expect(sim.masters() == [a], || {
            format!("start: {:?}", sim.masters())
        })?;
        sim.crash(a);
        sim.run_for(secs(8));
        expect(sim.masters() == [b], || {
            format!("a failed: {:?}", sim.masters())
        })?;
        sim.crash(b);
        sim.run_for(secs(8));
        expect(sim.masters() == [c], || {
            format!("b failed: {:?}", sim.masters())
        })?;
        let back = sim.now();
        sim.restart(a);
        sim.run_for(secs(8));
        expect(sim.masters() == [a], || {
            format!("a back: {:?}", sim.masters())
        })?;
        expect(sim.holders() == [a], || {
            format!("holders: {:?}", sim.holders())
        })?;
        let reason = sim
            .transitions()
            .iter()
            .find(|t| t.node == a && t.at >= back && t.to == State::Master)
            .map(|t| t.reason);
        expect(reason == Some(StateChangeReason::Preemption), || {
            format!("a came back by {reason:?}")
        })?;
        sim.restart(b);
        sim.run_for(secs(8));
        expect(sim.masters() == [a], || {
            format!("b back: {:?}", sim.masters())
        })?;
        invariants(&sim)
    });
}

#[test]
fn partitions_heal_to_one_master() {
    for_seeds("partition", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, false));
        let b = sim.add_node(Sim::config(12, 50, false));
        let c = sim.add_node(Sim::config(13, 100, false));
        sim.run_for(secs(10));
        sim.set_partition(b, 1);
        sim.set_partition(c, 1);
        sim.run_for(secs(10));
        expect(sim.masters() == [a, b], || {
            format!("split: {:?}", sim.masters())
        })?;
        sim.heal();
        sim.run_for(secs(5));
        expect(sim.masters() == [a], || {
            format!("healed: {:?}", sim.masters())
        })?;
        expect(sim.holders() == [a], || {
            format!("holders: {:?}", sim.holders())
        })?;
        invariants(&sim)
    });
}

#[test]
fn five_percent_loss_keeps_one_master() {
    for_seeds("loss", |seed| {
        let segment = SegmentConfig {
            loss: 0.05,
            ..SegmentConfig::default()
        };
        let mut sim = Sim::new(seed, segment);
        for (host, skew) in [(11, 0), (12, 50), (13, 100)] {
            sim.add_node(Sim::config(host, skew, false));
        }
        sim.run_for(secs(120));
        sim.set_loss(0.0);
        sim.run_for(secs(5));
        expect(sim.masters().len() == 1, || {
            format!("masters {:?}", sim.masters())
        })?;
        expect(sim.holders() == sim.masters(), || {
            format!("holders {:?}", sim.holders())
        })?;
        invariants(&sim)
    });
}

#[test]
fn random_crashes_and_restarts() {
    for_seeds("crash/restart", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let n = 3;
        for (host, skew) in [(11, 0), (12, 50), (13, 100)] {
            sim.add_node(Sim::config(host, skew, host == 11));
        }
        let mut rng = carpd_proto::rng::SplitMix64::new(seed ^ 0x5eed);
        let mut alive = vec![true; n];
        for _ in 0..15 {
            sim.run_for(Duration::from_millis(500 + rng.below(9_500)));
            let i = rng.below(n as u64) as usize;
            if alive[i] {
                sim.crash(i);
            } else {
                sim.restart(i);
            }
            alive[i] = !alive[i];
        }
        for (i, up) in alive.iter().enumerate() {
            if !up {
                sim.restart(i);
            }
        }
        sim.run_for(secs(10));
        // Node 0 has --preempt and the best timing, so it ends as the one master.
        expect(sim.masters() == [0], || {
            format!("masters {:?}", sim.masters())
        })?;
        invariants(&sim)
    });
}

#[test]
fn simulator_catches_a_dual_master() {
    // The invariant checker must be able to fail: two nodes that cannot hear each other in
    // the same partition are impossible, so fake it with one-way loss of everything.
    let mut sim = Sim::new(
        1,
        SegmentConfig {
            loss: 1.0,
            ..SegmentConfig::default()
        },
    );
    sim.add_node(Sim::config(11, 0, false));
    sim.add_node(Sim::config(12, 50, false));
    sim.run_for(secs(20));
    assert!(
        sim.violation().is_some(),
        "total loss must show up as a violation"
    );
}
