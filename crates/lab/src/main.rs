//! `carpd-lab`: the demo, and clean-up after an interrupted run.
//!
//! - `carpd-lab demo [--carpd PATH]`: a live failover on a three-host LAN.
//! - `carpd-lab cleanup PREFIX`: removes namespaces left by an interrupted run.
//!
//! The benchmarks are a program of their own, `carpd-bench` (crates/bench).

mod demo;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "carpd-lab",
    about = "Throw-away LANs of network namespaces for carpd: the demo, and clean-up"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A live failover on a throw-away LAN of three namespaces (needs root and iproute2)
    Demo {
        /// The carpd binary (default: `carpd` beside this program)
        #[arg(long, value_name = "PATH")]
        carpd: Option<PathBuf>,
    },
    /// Kills the processes in, and deletes, every namespace whose name starts with PREFIX
    /// (what an interrupted run left behind)
    Cleanup {
        /// e.g. cdemo for the demo's namespaces
        prefix: String,
    },
}

fn main() -> ExitCode {
    let result = match Args::parse().command {
        Command::Demo { carpd } => carpd_lab::carpd_binary(carpd).and_then(|c| demo::run(&c)),
        Command::Cleanup { prefix } => {
            carpd_lab::cleanup_prefix(&prefix);
            Ok(())
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
