//! `carpd-lab bench`: every scenario of docs/benchmarks.md, carpd and its peer alternating in
//! the same run on the same kind of virtual LAN, several repetitions each.

mod observe;
mod peers;
mod routed;
mod scale;
mod scenarios;
mod stats;
mod stress;
mod svg;
mod vrrp3;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

pub use observe::parse_stamp;
pub use peers::{Daemon, Member};
pub use stats::{Goal, Samples};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// the carpd binary
    pub carpd: PathBuf,
    /// repetitions of each timed scenario
    pub reps: usize,
    /// length of the sub-second soak
    pub soak: Duration,
    /// how long footprint is measured per repetition
    pub footprint: Duration,
    /// where the report goes
    pub out: PathBuf,
    /// only scenarios whose name contains this
    pub only: Option<String>,
}

/// One line of a result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// what is measured
    pub metric: String,
    /// its unit
    pub unit: &'static str,
    /// carpd's samples
    pub carpd: Samples,
    /// the peer's name
    pub peer_name: String,
    /// the peer's samples
    pub peer: Samples,
    /// the goal
    pub goal: Goal,
    /// decimals to print
    pub digits: usize,
}

/// One scenario's results.
#[derive(Debug, Clone)]
pub struct Section {
    /// heading
    pub title: String,
    /// how it is run
    pub method: String,
    /// the table
    pub rows: Vec<Row>,
    /// what the numbers mean, where a goal is missed why
    pub notes: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        carpd: std::env::current_exe()?.with_file_name("carpd"),
        reps: 5,
        soak: Duration::from_secs(600),
        footprint: Duration::from_secs(60),
        out: PathBuf::from("docs/benchmarks.md"),
        only: None,
    };
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .with_context(|| format!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--carpd" => options.carpd = PathBuf::from(value?),
            "--reps" => options.reps = value?.parse().context("--reps takes a number")?,
            "--soak" => options.soak = Duration::from_secs(value?.parse().context("--soak takes seconds")?),
            "--footprint" => {
                options.footprint = Duration::from_secs(value?.parse().context("--footprint takes seconds")?)
            }
            "--out" => options.out = PathBuf::from(value?),
            "--only" => options.only = Some(value?.clone()),
            other => bail!("unknown option {other}: accepted --carpd PATH --reps N --soak SECONDS --footprint SECONDS --out FILE --only NAME"),
        }
        i += 2;
    }
    if !options.carpd.is_file() {
        bail!(
            "carpd not found at {}: build it (cargo build --release) or pass --carpd",
            options.carpd.display()
        );
    }
    Ok(options)
}

/// Runs the benchmark and writes the report.
pub fn run(args: &[String]) -> Result<()> {
    crate::require(&["ip", "tcpdump", "ucarp", "keepalived"])?;
    let options = parse(args)?;
    ctrlc::set_handler(|| {
        crate::cleanup_prefix("bn");
        std::process::exit(130);
    })?;
    let wanted = |name: &str| options.only.as_deref().is_none_or(|o| name.contains(o));
    let mut sections = Vec::new();
    let mut panels = Vec::new();
    let started = std::time::Instant::now();
    if wanted("crash") || wanted("takeover") {
        let (crash, takeover, plots) = scenarios::crash_failover(&options)?;
        sections.push(crash);
        sections.push(takeover);
        panels = plots;
    }
    if wanted("handover") {
        sections.push(scenarios::planned_handover(&options)?);
    }
    if wanted("subsecond") {
        sections.push(scenarios::subsecond(&options)?);
    }
    if wanted("preempt") {
        sections.push(scenarios::preemption(&options)?);
    }
    if wanted("preempt") || wanted("slow") {
        sections.push(scenarios::slow_scripts(&options)?);
    }
    if wanted("footprint") {
        sections.push(scenarios::footprint(&options)?);
    }
    if wanted("flood") {
        sections.push(scenarios::flood(&options)?);
    }
    if wanted("many") {
        sections.push(scale::many_groups(&options)?);
    }
    if wanted("reload") {
        sections.push(scale::reload(&options)?);
    }
    if wanted("vrrp3") {
        sections.push(vrrp3::vrrp3(&options)?);
    }
    if wanted("routed") {
        crate::bgp::available()?;
        sections.push(routed::routed(&options)?);
    }
    if wanted("stress") {
        crate::require(&["stress-ng"])?;
        sections.push(stress::under_load(&options)?);
    }
    if wanted("soak") {
        sections.push(scenarios::soak(&options)?);
    }
    if let Some(parent) = options.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let svg_path = options.out.with_file_name("failover.svg");
    if !panels.is_empty() {
        std::fs::write(&svg_path, svg::render(&panels))?;
    }
    let report = scenarios::report(&options, &sections, started.elapsed(), !panels.is_empty());
    std::fs::write(&options.out, report)?;
    println!("wrote {}", options.out.display());
    Ok(())
}
