//! carpd as a library: the daemon's modules, used by its two programs, `carpd` (the daemon,
//! [`run`]) and `carpctl` (the control client, which shares [`control::protocol`] and the
//! status types of [`host::report`] with the daemon instead of spelling the protocol again).
#![deny(unsafe_code)]

mod cli;
mod docs;
mod host;
pub mod import;
mod io;
mod logging;
mod loop_priority;
pub mod mgmt;
mod settings;
mod startup;
mod supervisor;
mod sys;

use cli::{Cli, Invocation};
use settings::Settings;
use std::process::ExitCode;

/// What to run: the ucarp command line's one group, or a config file's groups.
enum Source {
    CommandLine(Box<Cli>, cli::Password),
    File(Box<Cli>, Box<Settings>),
}

/// The `carpd` program: parses the command line, runs the daemon, and returns its exit status.
pub fn run() -> ExitCode {
    sys::descriptors::close_inherited_on_exec();
    match source(Cli::parse_from_args(std::env::args_os())) {
        Ok(source) => serve(source),
        Err(status) => status,
    }
}

/// What the command line asks to run; the commands that only print (`--check-config`,
/// `--help`, `--generate-docs`, a bad command line) are done here, with their exit status.
fn source(invocation: Result<Invocation, cli::UsageError>) -> Result<Source, ExitCode> {
    match invocation {
        Ok(Invocation::Run(cli, password)) => Ok(Source::CommandLine(cli, password)),
        Ok(Invocation::RunConfig(cli)) => {
            let path = cli.config.clone().expect("config mode");
            match settings::file::load(&path) {
                Ok(settings) => Ok(Source::File(cli, Box::new(settings))),
                Err(errors) => {
                    eprintln!("{errors}");
                    eprintln!("carpd: {} is not valid: nothing started", path.display());
                    Err(ExitCode::from(1))
                }
            }
        }
        Ok(Invocation::CheckConfig(path)) => Err(match settings::file::load(&path) {
            Ok(settings) => {
                println!(
                    "{}: valid, {} group{}",
                    path.display(),
                    settings.groups.len(),
                    if settings.groups.len() == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(1)
            }
        }),
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            Err(ExitCode::SUCCESS)
        }
        Ok(Invocation::GenerateDocs(dir)) => Err(match docs::generate(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("carpd: writing docs to {}: {e}", dir.display());
                ExitCode::from(2)
            }
        }),
        Err(e) => {
            eprintln!("{}", e.message);
            Err(ExitCode::from(e.status))
        }
    }
}

/// Runs the daemon for `source` until it stops: daemonized and logging as asked.
fn serve(source: Source) -> ExitCode {
    let cli = match &source {
        Source::CommandLine(cli, _) | Source::File(cli, _) => cli.clone(),
    };
    if cli.daemonize {
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("carpd: cannot daemonize: {e}");
            return ExitCode::from(2);
        }
    }
    // Under systemd, syslog lines reach the journal already: stderr would log them twice.
    let journal_has_syslog =
        logging::stderr_is_journal() && cli.facility != logging::Facility::None;
    logging::init(logging::LogSettings {
        stderr: !cli.daemonize && !journal_has_syslog,
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
    let settings = match source {
        Source::File(_, settings) => *settings,
        Source::CommandLine(cli, password) => {
            let interface = match &cli.interface {
                Some(name) => name.clone(),
                None => match sys::iface::default_interface() {
                    Ok(name) => {
                        tracing::info!("Using [{name}] as a network interface");
                        name
                    }
                    Err(e) => {
                        tracing::error!("{e}");
                        return ExitCode::from(2);
                    }
                },
            };
            Settings::from_cli(&cli, &password, interface)
        }
    };
    match runtime.block_on(supervisor::run(settings, cli.pidfile.as_deref())) {
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
