//! carpd: a drop-in successor to ucarp 1.5.2.
#![deny(unsafe_code)]

mod cli;
mod docs;
mod driver;
mod drops;
mod hooks;
mod logging;
mod startup;
mod sys;

use cli::{Cli, Invocation};
use std::process::ExitCode;

fn main() -> ExitCode {
    sys::descriptors::close_inherited_on_exec();
    let (cli, password) = match Cli::parse_from_args(std::env::args_os()) {
        Ok(Invocation::Run(cli, password)) => (cli, password),
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::GenerateDocs(dir)) => {
            return match docs::generate(&dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("carpd: writing docs to {}: {e}", dir.display());
                    ExitCode::from(2)
                }
            };
        }
        Err(e) => {
            eprintln!("{}", e.message);
            return ExitCode::from(e.status);
        }
    };
    if cli.daemonize {
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("carpd: cannot daemonize: {e}");
            return ExitCode::from(2);
        }
    }
    logging::init(logging::LogSettings {
        stderr: !cli.daemonize,
        facility: cli.facility,
        debug: cli.debug,
    });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the event loop: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(driver::run(*cli, password)) {
        Ok(()) => ExitCode::SUCCESS,
        // Refused before anything on the host changed: a usage error, as ucarp's exit 1.
        Err(e) if e.downcast_ref::<startup::Refusal>().is_some() => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}
