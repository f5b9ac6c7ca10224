//! `carpd-lab`: the demo, and clean-up after an interrupted run.
//!
//! - `carpd-lab demo [--carpd PATH]`: a live failover on a three-host LAN.
//! - `carpd-lab bench [...]`: the benchmarks, written to docs/benchmarks.md.
//! - `carpd-lab cleanup PREFIX`: removes namespaces left by an interrupted run.

mod demo;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => carpd_lab::bench::run(&args[1..]),
        Some("cleanup") if args.len() == 2 => {
            carpd_lab::cleanup_prefix(&args[1]);
            Ok(())
        }
        _ => {
            eprintln!("usage: carpd-lab demo [--carpd PATH] | carpd-lab bench [--carpd PATH] [--reps N] [--soak SECONDS] [--footprint SECONDS] [--out FILE] [--only NAME] | carpd-lab cleanup PREFIX");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carpd-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}
