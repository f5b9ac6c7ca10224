//! `carpd-bench`: every scenario of docs/benchmarks.md, carpd and its peer (ucarp,
//! keepalived) alternating in the same run on the same kind of virtual LAN, several
//! repetitions each. `scripts/bench` builds and runs it.
//!
//! The scenarios (one module per family) return [`report::Section`]s; [`report`] renders them.

mod migration;
mod observe;
mod pauses;
mod peers;
mod report;
mod routed;
mod scale;
mod scenarios;
mod stalls;
mod stateful;
mod stats;
mod stress;
mod thousands;
mod vmac;
mod vrrp3;

use anyhow::Result;
use clap::Parser;
use report::svg;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "carpd-bench",
    about = "Runs carpd's benchmarks against ucarp and keepalived on LANs of network namespaces and writes docs/benchmarks.md"
)]
struct Args {
    /// The carpd binary to measure (default: `carpd` beside this program)
    #[arg(long, value_name = "PATH")]
    carpd: Option<PathBuf>,
    /// Repetitions of each timed scenario
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    reps: u16,
    /// Length of the long soaks, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    soak: u64,
    /// Length of the soak under load (scenario 12), in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    load_soak: u64,
    /// How long the footprint is measured per repetition, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    footprint: u64,
    /// Where the report goes (failover.svg is written beside it)
    #[arg(long, value_name = "FILE", default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Only the scenarios whose name contains NAME (crash, takeover, handover, subsecond,
    /// preempt, slow, footprint, flood, many, reload, vrrp3, vrrp2, migration, routed, stress,
    /// stalls, pauses, stateful, vmac, soak)
    #[arg(long, value_name = "NAME", value_parser = scenario_name)]
    only: Option<String>,
}

/// The scenarios' names, as `--only` matches them.
const SCENARIOS: [&str; 21] = [
    "crash",
    "takeover",
    "handover",
    "subsecond",
    "preempt",
    "slow",
    "footprint",
    "flood",
    "many",
    "reload",
    "thousands",
    "vrrp3",
    "vrrp2",
    "migration",
    "routed",
    "stress",
    "stalls",
    "pauses",
    "stateful",
    "vmac",
    "soak",
];

/// `--only`'s value: part of at least one scenario's name.
fn scenario_name(text: &str) -> Result<String, String> {
    if SCENARIOS.iter().any(|name| name.contains(text)) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "no scenario's name contains it: accepted part of {}",
            SCENARIOS.join(", ")
        ))
    }
}

/// What to run, as the scenarios read it.
#[derive(Debug, Clone)]
pub struct Options {
    /// the carpd binary
    pub carpd: PathBuf,
    /// repetitions of each timed scenario
    pub reps: usize,
    /// length of the long soaks
    pub soak: Duration,
    /// length of the soak under load
    pub load_soak: Duration,
    /// how long footprint is measured per repetition
    pub footprint: Duration,
    /// where the report goes
    pub out: PathBuf,
    /// only scenarios whose name contains this
    pub only: Option<String>,
}

impl Args {
    /// The options, with carpd's path resolved and checked.
    fn options(self) -> Result<Options> {
        Ok(Options {
            carpd: carpd_lab::carpd_binary(self.carpd)?,
            reps: usize::from(self.reps),
            soak: Duration::from_secs(self.soak),
            load_soak: Duration::from_secs(self.load_soak),
            footprint: Duration::from_secs(self.footprint),
            out: self.out,
            only: self.only,
        })
    }
}

fn main() -> ExitCode {
    match Args::parse().options().and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carpd-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenarios `options` selects and writes the report.
fn run(options: &Options) -> Result<()> {
    carpd_lab::require(&["ip", "tcpdump", "ucarp", "keepalived"])?;
    ctrlc::set_handler(|| {
        carpd_lab::cleanup_prefix("bn");
        std::process::exit(130);
    })?;
    let wanted = |name: &str| options.only.as_deref().is_none_or(|o| name.contains(o));
    let mut sections = Vec::new();
    let mut panels = Vec::new();
    let started = std::time::Instant::now();
    if wanted("crash") || wanted("takeover") {
        let (crash, takeover, plots) = scenarios::crash_failover(options)?;
        sections.push(crash);
        sections.push(takeover);
        panels = plots;
    }
    if wanted("handover") {
        sections.push(scenarios::planned_handover(options)?);
    }
    if wanted("subsecond") {
        sections.push(scenarios::subsecond(options)?);
    }
    if wanted("preempt") {
        sections.push(scenarios::preemption(options)?);
    }
    if wanted("preempt") || wanted("slow") {
        sections.push(scenarios::slow_scripts(options)?);
    }
    if wanted("footprint") {
        sections.push(scenarios::footprint(options)?);
    }
    if wanted("flood") {
        sections.push(scenarios::flood(options)?);
    }
    if wanted("many") {
        sections.push(scale::many_groups(options)?);
    }
    if wanted("reload") {
        sections.push(scale::reload(options)?);
    }
    if wanted("thousands") {
        sections.push(thousands::thousands(options)?);
    }
    if wanted("vrrp3") {
        sections.push(vrrp3::vrrp3(options)?);
    }
    if wanted("vrrp2") {
        sections.push(migration::vrrp2(options)?);
    }
    if wanted("migration") {
        sections.push(migration::migration(options)?);
    }
    if wanted("routed") {
        carpd_lab::bgp::available()?;
        sections.push(routed::routed(options)?);
    }
    if wanted("stress") {
        carpd_lab::require(&["stress-ng"])?;
        sections.push(stress::under_load(options)?);
    }
    if wanted("stalls") {
        carpd_lab::require(&["python3"])?;
        sections.push(stalls::stalls(options)?);
    }
    if wanted("pauses") {
        sections.push(pauses::pauses(options)?);
    }
    if wanted("stateful") {
        carpd_lab::require(&["nft", "conntrackd", "conntrack"])?;
        sections.push(stateful::stateful(options)?);
    }
    if wanted("vmac") {
        sections.push(vmac::vmac(options)?);
    }
    if wanted("soak") {
        sections.push(scenarios::soak(options)?);
    }
    if let Some(parent) = options.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let svg_path = options.out.with_file_name("failover.svg");
    if !panels.is_empty() {
        std::fs::write(&svg_path, svg::render(&panels))?;
    }
    let report = report::markdown(options, &sections, started.elapsed(), !panels.is_empty());
    std::fs::write(&options.out, report)?;
    println!("wrote {}", options.out.display());
    Ok(())
}
