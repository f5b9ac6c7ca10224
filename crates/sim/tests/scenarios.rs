//! Simulator scenarios, each over 1000 seeds. Invariants (checked at every step by the
//! simulator): two connected nodes are never both MASTER, nor both holding the VIP, for longer
//! than one master-down interval plus delivery and hook time.

use carpd_proto::{Instant, State, StateChangeReason};
use carpd_sim::{Hooks, SegmentConfig, Sim};
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

/// Slow scripts (issue 14): whatever the scripts take, one holder. Bounds: no holder for at
/// most `GAP`, two holders for at most the old holder's down hook plus `SLACK`.
const GAP: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(20);
const FAST: Duration = Duration::from_millis(10);

fn slow(up: u64, down: u64, up_adds_first: bool) -> Hooks {
    Hooks {
        up: Duration::from_millis(up),
        down: Duration::from_millis(down),
        up_adds_first,
    }
}

fn within(sim: &Sim, down_hook: Duration) -> Result<(), String> {
    let m = sim.measures();
    expect(m.longest_without_holder <= GAP, || {
        format!("no holder for {:?}", m.longest_without_holder)
    })?;
    expect(m.longest_with_two_holders <= down_hook + SLACK, || {
        format!(
            "two holders for {:?} (old holder's down hook {down_hook:?})",
            m.longest_with_two_holders
        )
    })?;
    invariants(sim)
}

#[test]
fn stopped_while_a_slow_up_script_runs_hands_over_without_split_brain() {
    // A's up script adds the VIP, then works for 12 s; A is stopped (with -z) at a random
    // moment during it. The up script is killed and the down script runs at once.
    for_seeds("stop during slow up", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node_with_hooks(Sim::config(11, 0, false), slow(12_000, 10, true));
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(Duration::from_millis(3_200 + seed % 11_000));
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        sim.reset_measures();
        sim.stop(a);
        sim.run_for(secs(5));
        expect(sim.holders() == [b], || {
            format!("holders {:?}", sim.holders())
        })?;
        within(&sim, FAST)
    });
}

#[test]
fn preempted_while_a_slow_up_script_runs_steps_down_without_split_brain() {
    // B is master alone, its up script (adds first, 12 s) still running, when the preferred A
    // (fast scripts) starts and preempts: B's up script is killed and its down script runs.
    for_seeds("preempted during slow up", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let b = sim.add_node_with_hooks(Sim::config(12, 50, false), slow(12_000, 10, true));
        sim.run_for(Duration::from_millis(3_300 + seed % 8_000));
        expect(sim.holders() == [b], || {
            format!("holders {:?}", sim.holders())
        })?;
        sim.reset_measures();
        let a = sim.add_node(Sim::config(11, 0, true));
        sim.run_for(secs(5));
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        within(&sim, FAST)
    });
}

#[test]
fn preempting_with_a_slow_startup_down_script_leaves_no_gap() {
    // A (preferred, -P) starts while B serves; A's start-up down script takes 8 s. B keeps
    // serving until A's down and up scripts are done.
    for_seeds("preempt after slow down", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(Duration::from_millis(4_000 + seed % 1_000));
        sim.reset_measures();
        let a = sim.add_node_with_hooks(Sim::config(11, 0, true), slow(10, 8_000, false));
        sim.run_for(secs(5));
        expect(sim.holders() == [b], || {
            format!(
                "A took over before its down script ended: {:?}",
                sim.holders()
            )
        })?;
        sim.run_for(secs(6));
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        within(&sim, FAST)
    });
}

#[test]
fn preempting_with_a_slow_up_script_leaves_no_gap() {
    // A's up script works for 5 s before it adds the VIP.
    for_seeds("preempt with slow up", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(Duration::from_millis(4_000 + seed % 1_000));
        sim.reset_measures();
        let a = sim.add_node_with_hooks(Sim::config(11, 0, true), slow(5_000, 10, false));
        sim.run_for(secs(3));
        expect(sim.holders() == [b], || {
            format!("holders {:?}", sim.holders())
        })?;
        sim.run_for(secs(5));
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        // And the old master's own slow down script (3 s) is the only overlap.
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let b = sim.add_node_with_hooks(Sim::config(12, 50, false), slow(10, 3_000, false));
        sim.run_for(Duration::from_millis(4_000 + seed % 1_000));
        sim.reset_measures();
        let a = sim.add_node_with_hooks(Sim::config(11, 0, true), slow(5_000, 10, false));
        sim.run_for(secs(10));
        expect(sim.holders() == [a], || {
            format!("holders {:?}", sim.holders())
        })?;
        let _ = b;
        within(&sim, Duration::from_millis(3_000))
    });
}

#[test]
fn the_measures_can_fail() {
    // Two nodes that never hear each other both hold the VIP: the two-holder measure must
    // show it, so the bounds above are not vacuous.
    let mut sim = Sim::new(
        1,
        SegmentConfig {
            loss: 1.0,
            ..SegmentConfig::default()
        },
    );
    sim.add_node(Sim::config(11, 0, false));
    sim.add_node(Sim::config(12, 50, false));
    sim.run_for(secs(10));
    assert!(sim.measures().longest_with_two_holders > secs(5));
    let mut sim = Sim::new(1, SegmentConfig::default());
    sim.add_node(Sim::config(11, 0, false));
    sim.run_for(secs(2));
    assert!(sim.measures().longest_without_holder >= secs(2));
}

/// A config for an extra group `vhid` with its own VIP.
fn extra_group(host: u8, vhid: u8, advskew: u8) -> carpd_proto::VrConfigBuilder {
    let mut b = Sim::config(host, advskew, false);
    b.vhid = vhid;
    b.vips = vec![std::net::Ipv4Addr::new(10, 77, 0, 100 + vhid).into()];
    b
}

#[test]
fn groups_added_and_removed_mid_run_disturb_no_other_group() {
    for_seeds("groups added and removed", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, false));
        let b = sim.add_node(Sim::config(12, 50, false));
        sim.run_for(secs(10));
        expect(sim.masters() == [a], || {
            format!("masters {:?}", sim.masters())
        })?;
        let settled = sim.transitions().len();

        // A reload adds vhid 8 on both nodes (b preferred) and vhid 9 on a alone.
        let a8 = sim.add_group(a, extra_group(11, 8, 100));
        let b8 = sim.add_group(b, extra_group(12, 8, 0));
        let a9 = sim.add_group(a, extra_group(11, 9, 0));
        sim.run_for(secs(10));
        expect(sim.transitions().len() == settled, || {
            format!(
                "vhid 7 changed when groups were added: {:?}",
                &sim.transitions()[settled..]
            )
        })?;
        expect(
            sim.group_state(b, b8) == State::Master && sim.group_state(a, a8) == State::Backup,
            || {
                format!(
                    "vhid 8: a {:?}, b {:?}",
                    sim.group_state(a, a8),
                    sim.group_state(b, b8)
                )
            },
        )?;
        expect(sim.group_state(a, a9) == State::Master, || {
            "vhid 9 alone on a".into()
        })?;

        // A reload on b removes vhid 8: it bows out and a takes vhid 8 at once.
        let removed_at = sim.now();
        sim.remove_group(b, b8);
        sim.run_for(secs(1));
        let took = sim
            .group_transitions()
            .iter()
            .find(|t| t.node == a && t.vhid == 8 && t.to == State::Master && t.at >= removed_at)
            .map(|t| t.at - removed_at);
        expect(took.is_some_and(|d| d <= Duration::from_millis(10)), || {
            format!("a took vhid 8 after {took:?}, expected within the delivery delay")
        })?;
        expect(sim.transitions().len() == settled, || {
            "vhid 7 changed on a removal".into()
        })?;

        // A reload on a removes vhid 7 (a is its master): b takes over at once; a keeps
        // serving vhid 8 and 9.
        sim.reset_measures();
        let before = sim.group_transitions().len();
        sim.remove_main_group(a);
        sim.run_for(secs(5));
        expect(sim.masters() == [b] && sim.holders() == [b], || {
            format!("masters {:?}, holders {:?}", sim.masters(), sim.holders())
        })?;
        let gap = sim.measures().longest_without_holder;
        expect(gap <= Duration::from_millis(100), || {
            format!("vhid 7 had no holder for {gap:?} after its master's group was removed")
        })?;
        expect(sim.group_transitions().len() == before, || {
            format!(
                "other groups moved: {:?}",
                &sim.group_transitions()[before..]
            )
        })?;
        expect(
            sim.group_state(a, a8) == State::Master && sim.group_state(a, a9) == State::Master,
            || "a stopped serving vhid 8 or 9".into(),
        )?;
        invariants(&sim)
    });
}

#[test]
fn a_faulted_master_hands_over_at_once_and_a_three_node_group_never_elects_a_faulted_node() {
    use carpd_proto::Command;
    for_seeds("fault", |seed| {
        let mut sim = Sim::new(seed, SegmentConfig::default());
        let a = sim.add_node(Sim::config(11, 0, true));
        let b = sim.add_node(Sim::config(12, 50, true));
        let c = sim.add_node(Sim::config(13, 100, true));
        sim.run_for(secs(10));
        expect(sim.masters() == [a], || {
            format!("start: {:?}", sim.masters())
        })?;
        // A faults: B (next best) takes over on A's bow-out, within milliseconds.
        let fault = sim.now();
        sim.command(a, Command::SetFault(true));
        sim.run_for(secs(2));
        let taken = took_over_at(&sim, b, fault).ok_or("b never took over")?;
        expect(taken - fault <= Duration::from_millis(3), || {
            format!("handover took {:?}", taken - fault)
        })?;
        expect(sim.state(a) == State::Fault, || {
            format!("a is {:?}", sim.state(a))
        })?;
        // B faults too: C takes over; A, faulted, never competes however long it waits.
        sim.command(b, Command::SetFault(true));
        sim.run_for(secs(20));
        expect(sim.masters() == [c] && sim.holders() == [c], || {
            format!(
                "b faulted too: masters {:?} holders {:?}",
                sim.masters(),
                sim.holders()
            )
        })?;
        // A demoted by its demote byte is not preferred even when healthy again.
        sim.command(a, Command::SetDemote(5));
        sim.command(a, Command::SetFault(false));
        sim.run_for(secs(10));
        expect(sim.masters() == [c], || {
            format!("a demoted: {:?}", sim.masters())
        })?;
        // Demotion gone: A preempts back.
        sim.command(a, Command::SetDemote(0));
        sim.run_for(secs(10));
        expect(sim.masters() == [a] && sim.holders() == [a], || {
            format!(
                "a healthy: masters {:?} holders {:?}",
                sim.masters(),
                sim.holders()
            )
        })?;
        invariants(&sim)
    });
}
