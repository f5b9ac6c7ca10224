//! The command line: every ucarp 1.5.2 option, short and long, with the same meaning and
//! defaults (docs/protocol.md §8), plus carpd's long-only additions.
//!
//! Where ucarp silently accepts a bad value (advbase 256 taken modulo 256, trailing junk after
//! a number, an unknown facility), carpd refuses it with one line naming the option, the value
//! and what is accepted.

use crate::logging::Facility;
use crate::settings::scheduling::{self, Realtime};
use crate::settings::tracking::DemoteBy;
use crate::settings::{rules, DaemonSettings, GroupSettings, Origin, Settings, DEFAULT_CONFIG};
use carpd_proto::{CarpParams, Protocol};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// carpd's options. Names, short letters and defaults are ucarp's.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "carpd",
    version,
    about = "Share a virtual IPv4 address between hosts with CARP, as ucarp 1.5.2 does (drop-in replacement)",
    infer_long_args = true,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// Bind interface IF (default: the first interface that is up, not loopback)
    #[arg(short = 'i', long = "interface", value_name = "IF", value_parser = parse_interface)]
    pub interface: Option<String>,

    /// Source (real) IPv4 address of this host on that interface [required]
    #[arg(short = 's', long = "srcip", value_name = "IP", value_parser = parse_srcip)]
    pub srcip: Option<Ipv4Addr>,

    /// Multicast group for advertisements
    #[arg(short = 'm', long = "mcast", visible_alias = "mcastip", value_name = "IP", default_value = "224.0.0.18", value_parser = parse_group)]
    pub mcast: Ipv4Addr,

    /// Virtual host id, 1-255 (decimal, 0x hex or 0 octal, as ucarp) [required]
    #[arg(short = 'v', long = "vhid", value_name = "ID", value_parser = parse_vhid)]
    pub vhid: Option<u8>,

    /// Password, 1-19 bytes (visible in ps: prefer --passfile)
    #[arg(
        short = 'p',
        long = "pass",
        value_name = "PASS",
        overrides_with = "passfile"
    )]
    pub pass: Option<String>,

    /// Read the password from the first line of FILE
    #[arg(
        short = 'o',
        long = "passfile",
        value_name = "FILE",
        overrides_with = "pass"
    )]
    pub passfile: Option<PathBuf>,

    /// Become master as soon as possible (take over from a less preferred master)
    #[arg(short = 'P', long = "preempt")]
    pub preempt: bool,

    /// Don't run the down script at start
    #[arg(short = 'n', long = "neutral")]
    pub neutral: bool,

    /// Virtual shared IPv4 address [required]; repeat for several addresses in one group
    #[arg(short = 'a', long = "addr", value_name = "IP", action = ArgAction::Append, value_parser = parse_vip)]
    pub addr: Vec<Vip>,

    /// Advertisement base interval in seconds, 0-255
    #[arg(short = 'b', long = "advbase", value_name = "SECONDS", default_value = "1", value_parser = parse_byte("advbase"))]
    pub advbase: u8,

    /// Advertisement skew in 1/256 s, 0-255 (higher is less preferred)
    #[arg(short = 'k', long = "advskew", value_name = "SKEW", default_value = "0", value_parser = parse_byte("advskew"))]
    pub advskew: u8,

    /// Run FILE to become master (argv: interface, VIP, xparam)
    #[arg(short = 'u', long = "upscript", value_name = "FILE")]
    pub upscript: Option<PathBuf>,

    /// Run FILE to become backup (argv: interface, VIP, xparam)
    #[arg(short = 'd', long = "downscript", value_name = "FILE")]
    pub downscript: Option<PathBuf>,

    /// Ratio to consider a master dead (dead time = ratio × advbase + advskew/256)
    #[arg(short = 'r', long = "deadratio", value_name = "RATIO", default_value = "3", value_parser = parse_deadratio)]
    pub deadratio: u32,

    /// Enable debug output
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,

    /// Run the down script at exit (INT, QUIT, TERM, HUP) when master
    #[arg(short = 'z', long = "shutdown")]
    pub shutdown: bool,

    /// Run in the background
    #[arg(short = 'B', long = "daemonize")]
    pub daemonize: bool,

    /// Syslog facility (daemon, user, local0-local7, ...; none turns syslog off)
    #[arg(short = 'f', long = "facility", value_name = "FACILITY", default_value = "daemon", value_parser = parse_facility)]
    pub facility: Facility,

    /// Extra parameter passed to the scripts as their third argument
    #[arg(short = 'x', long = "xparam", value_name = "VALUE")]
    pub xparam: Option<String>,

    /// Ignore interface state (down, no carrier)
    #[arg(short = 'S', long = "ignoreifstate")]
    pub ignoreifstate: bool,

    /// Send advertisements to the Ethernet broadcast address instead of the multicast one
    #[arg(short = 'M', long = "nomcast")]
    pub nomcast: bool,

    /// Write the process id to FILE (carpd addition)
    #[arg(long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    /// Where carpctl connects (carpd addition; default /run/carpd/<interface>-<vhid>.sock;
    /// with --config the file's [daemon] control_socket)
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,

    /// Kill a hook script still running after this long (carpd addition)
    #[arg(long = "hook-timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub hook_timeout: Duration,

    /// Run the event loop under SCHED_FIFO at this priority (1 to 99), or 0 for the normal
    /// scheduler (carpd addition; default: priority 10 when adverts are under 100 ms apart)
    #[arg(long = "realtime-priority", value_name = "PRIORITY", value_parser = parse_realtime)]
    pub realtime_priority: Option<Realtime>,

    /// Serve every group of a config file (TOML) instead of one group from these options
    /// (carpd addition; FILE defaults to /etc/carpd/carpd.toml)
    #[arg(long = "config", value_name = "FILE", num_args = 0..=1, default_missing_value = DEFAULT_CONFIG)]
    pub config: Option<PathBuf>,

    /// Check a config file and exit: 0 when it is valid, 1 with every error otherwise
    /// (carpd addition; FILE defaults to /etc/carpd/carpd.toml)
    #[arg(long = "check-config", value_name = "FILE", num_args = 0..=1, default_missing_value = DEFAULT_CONFIG)]
    pub check_config: Option<PathBuf>,

    /// Print the version
    #[arg(long = "version", action = ArgAction::Version)]
    version: Option<bool>,

    /// Write the man page and shell completions into DIR, then exit (packaging)
    #[arg(long = "generate-docs", value_name = "DIR", hide = true)]
    pub generate_docs: Option<PathBuf>,
}

pub use crate::settings::rules::Vip;

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run one group with these options (ucarp mode).
    Run(Box<Cli>, Password),
    /// Run every group of the config file `cli.config`.
    RunConfig(Box<Cli>),
    /// Check this config file and exit.
    CheckConfig(PathBuf),
    /// Print this (help or version) and exit 0.
    Print(String),
    /// Write the man page and completions into this folder and exit.
    GenerateDocs(PathBuf),
}

/// The password and where it came from.
#[derive(Clone)]
pub struct Password(pub Vec<u8>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// A command-line error: one line for the user and the exit status (ucarp: 1 for bad values
/// and missing options, 2 for a password it cannot use).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// the line to print
    pub message: String,
    /// the exit status
    pub status: u8,
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError {
        message: message.into(),
        status: 1,
    }
}

impl Cli {
    // Long on purpose: ucarp's command-line rules (docs/protocol.md §8) in the order ucarp
    // applies them, in one place.
    /// Parses `args` (program name first).
    pub fn parse_from_args<I, T>(args: I) -> Result<Invocation, UsageError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut command = Cli::command();
        if args.len() <= 1 {
            // ucarp with no arguments prints its help and exits 0.
            return Ok(Invocation::Print(command.render_help().to_string()));
        }
        let matches = match command.try_get_matches_from_mut(args) {
            Ok(m) => m,
            Err(e) => {
                use clap::error::ErrorKind;
                return match e.kind() {
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                        Ok(Invocation::Print(e.render().to_string()))
                    }
                    _ => Err(usage(format!("carpd: {}", clap_error_line(&e)))),
                };
            }
        };
        let cli = Cli::from_arg_matches(&matches).map_err(|e| usage(format!("carpd: {e}")))?;
        if let Some(dir) = cli.generate_docs {
            return Ok(Invocation::GenerateDocs(dir));
        }
        if let Some(path) = &cli.check_config {
            return Ok(Invocation::CheckConfig(path.clone()));
        }
        if cli.config.is_some() {
            // A group's options belong in the file: given here too, which would win?
            let given: Vec<String> = GROUP_OPTIONS
                .iter()
                .filter(|id| {
                    matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
                })
                .map(|id| format!("--{}", id.replace('_', "-")))
                .collect();
            if !given.is_empty() {
                return Err(usage(format!(
                    "carpd: --config with {}: accepted with --config only --debug, --daemonize, --facility and --pidfile (the groups' settings and realtime_priority belong in the file)",
                    given.join(", ")
                )));
            }
            return Ok(Invocation::RunConfig(Box::new(cli)));
        }
        if cli.srcip.is_none() {
            return Err(usage(
                "carpd: missing --srcip (-s): give this host's own IPv4 address on the interface",
            ));
        }
        if cli.vhid.is_none() {
            return Err(usage(
                "carpd: missing --vhid (-v): give the virtual host id, 1 to 255",
            ));
        }
        if cli.addr.is_empty() {
            return Err(usage(
                "carpd: missing --addr (-a): give the virtual IPv4 address to share",
            ));
        }
        let srcip = cli.srcip.expect("checked above");
        if let Some(vip) = cli.addr.iter().find(|v| v.address == srcip) {
            return Err(usage(format!(
                "carpd: --addr {} is this host's own --srcip: accepted a virtual address other than the host's own (carpd would take it away when it leaves MASTER)",
                vip.typed
            )));
        }
        if rules::interval(cli.advbase, cli.advskew).is_err() {
            return Err(usage("carpd: --advbase 0 needs --advskew above 0 (the interval is advbase + advskew/256 s)"));
        }
        // ucarp: -p and -o may both be given; the later one wins (clap drops the earlier one).
        let password = match (&cli.pass, &cli.passfile) {
            (_, Some(f)) => read_passfile(f)?,
            (Some(p), None) => p.clone().into_bytes(),
            (None, None) => {
                return Err(usage("carpd: missing --pass (-p) or --passfile (-o): the group's shared password is required"))
            }
        };
        if let Err(accepted) = rules::password(&password) {
            return Err(UsageError {
                message: format!("carpd: {accepted}"),
                status: 2,
            });
        }
        Ok(Invocation::Run(Box::new(cli), Password(password)))
    }
}

/// One line for a clap error, built from its kind and context (the option, the value, why it
/// was refused) rather than from clap's rendered text.
fn clap_error_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(list)) => Some(list.join(", ")),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let option = context(ContextKind::InvalidArg).unwrap_or_else(|| "an option".to_string());
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    match e.kind() {
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e).map_or_else(String::new, |s| s.to_string());
            format!("invalid value '{value}' for {option}: {why}")
        }
        ErrorKind::InvalidValue if value.is_empty() => format!("{option} needs a value"),
        ErrorKind::InvalidValue => match context(ContextKind::ValidValue) {
            Some(valid) => format!("invalid value '{value}' for {option}: accepted {valid}"),
            None => format!("invalid value '{value}' for {option}"),
        },
        ErrorKind::UnknownArgument => match context(ContextKind::SuggestedArg) {
            Some(like) => {
                format!("unknown option '{option}' (did you mean {like}?): see carpd --help")
            }
            None => format!("unknown option '{option}': see carpd --help for the accepted ones"),
        },
        ErrorKind::NoEquals => format!("{option} takes its value after '='"),
        ErrorKind::ArgumentConflict => match context(ContextKind::PriorArg) {
            Some(prior) => format!("{option} cannot be used with {prior}"),
            None => format!("{option} cannot be used with an option given before it"),
        },
        ErrorKind::WrongNumberOfValues | ErrorKind::TooManyValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for {option}")
        }
        ErrorKind::InvalidUtf8 => format!("{option}: accepted UTF-8 text only"),
        ErrorKind::MissingRequiredArgument => {
            format!(
                "missing {}",
                context(ContextKind::InvalidArg).unwrap_or_default()
            )
        }
        kind => format!("{option}: {}", kind.as_str().unwrap_or("invalid arguments")),
    }
}

/// The options a config file sets instead (clap ids: the field names): a group's, and
/// `--realtime-priority` (`[daemon] realtime_priority`); refused with `--config`.
const GROUP_OPTIONS: [&str; 21] = [
    "control_socket",
    "interface",
    "srcip",
    "mcast",
    "vhid",
    "pass",
    "passfile",
    "preempt",
    "neutral",
    "addr",
    "advbase",
    "advskew",
    "upscript",
    "downscript",
    "deadratio",
    "shutdown",
    "xparam",
    "ignoreifstate",
    "nomcast",
    "hook_timeout",
    "realtime_priority",
];

/// How long a passfile that is a pipe (`-o <(...)`) has to deliver its line.
const PASSFILE_PIPE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The passfile's first line (see [`rules::read_passfile`]).
fn read_passfile(path: &std::path::Path) -> Result<Vec<u8>, UsageError> {
    rules::read_passfile(path, Some(PASSFILE_PIPE_WAIT))
        .map_err(|e| usage(format!("carpd: --passfile {}: it {e}", path.display())))
}

/// ucarp reads numbers with `strtoul(s, NULL, 0)`: decimal, `0x` hex, or `0` octal.
fn parse_c_number(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

fn parse_vhid(text: &str) -> Result<u8, String> {
    rules::vhid(parse_c_number(text).unwrap_or(u64::MAX))
}

fn parse_byte(_name: &'static str) -> impl Fn(&str) -> Result<u8, String> + Clone {
    move |text: &str| rules::byte(parse_c_number(text).unwrap_or(u64::MAX))
}

fn parse_deadratio(text: &str) -> Result<u32, String> {
    rules::deadratio(parse_c_number(text).unwrap_or(u64::MAX))
}

fn parse_srcip(text: &str) -> Result<Ipv4Addr, String> {
    rules::srcip(text)
}

fn parse_group(text: &str) -> Result<Ipv4Addr, String> {
    rules::multicast_group(text)
}

fn parse_vip(text: &str) -> Result<Vip, String> {
    rules::vip(text)
}

fn parse_interface(text: &str) -> Result<String, String> {
    rules::interface(text)
}

fn parse_facility(text: &str) -> Result<Facility, String> {
    Facility::from_name(text).ok_or_else(|| {
        format!(
            "accepted none, {}",
            Facility::NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn parse_realtime(text: &str) -> Result<Realtime, String> {
    let number = text
        .parse::<i64>()
        .map_err(|_| scheduling::ACCEPTED.to_string())?;
    Realtime::from_number(number)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|_| "accepted a duration such as 500ms, 30s or 2m".to_string())?;
    rules::hook_timeout(d)
}

impl Settings {
    /// One group from the ucarp command line, exactly as ucarp runs it. `interface` is `-i`
    /// or the default interface.
    pub fn from_cli(cli: &Cli, password: &Password, interface: String) -> Settings {
        let native = cli.upscript.is_none() && cli.downscript.is_none();
        let vhid = cli.vhid.expect("checked by the CLI");
        let group = GroupSettings {
            name: format!("{interface}-{vhid}"),
            interface,
            vhid,
            vips: cli.addr.clone(),
            password: password.0.clone(),
            protocol: Protocol::Carp(CarpParams {
                advbase: cli.advbase,
                advskew: cli.advskew,
                deadratio: cli.deadratio,
                broadcast: cli.nomcast,
            }),
            preempt: cli.preempt,
            neutral: cli.neutral,
            // In native mode carpd added the VIPs, so it always takes them away when it stops.
            down_on_stop: cli.shutdown || native,
            srcip: cli.srcip.map(IpAddr::V4),
            multicast_group: cli.mcast,
            up_script: cli.upscript.clone(),
            down_script: cli.downscript.clone(),
            xparam: cli.xparam.clone(),
            hook_timeout: cli.hook_timeout,
            ignore_ifstate: cli.ignoreifstate,
            track: Vec::new(),
            demote_by: DemoteBy::Demote,
            sync: None,
            preempt_delay: Duration::ZERO,
            notify_script: None,
            garp_refresh: None,
            peers: Vec::new(),
            unicast_ttl_check: true,
            vip_interface: None,
            routes: Vec::new(),
            vmac: None,
            conntrack: false,
        };
        // Where carpctl connects to a one-group carpd.
        let control_socket = cli.control_socket.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "/run/carpd/{}-{}.sock",
                group.interface, group.vhid
            ))
        });
        Settings {
            origin: Origin::CommandLine,
            daemon: DaemonSettings {
                control_socket,
                control_group: None,
                notify_script: None,
                metrics_listen: None,
                realtime_priority: cli.realtime_priority.unwrap_or_default(),
            },
            trackers: Vec::new(),
            conntrack: None,
            groups: vec![group],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<(Cli, Vec<u8>), UsageError> {
        let mut all = vec!["carpd"];
        all.extend_from_slice(args);
        match Cli::parse_from_args(all)? {
            Invocation::Run(cli, pw) => Ok((*cli, pw.0)),
            other => panic!("not a run: {other:?}"),
        }
    }

    const BASE: [&str; 8] = [
        "-i",
        "eth0",
        "-s",
        "10.0.0.1",
        "-v",
        "7",
        "-a",
        "10.0.0.100",
    ];

    fn with(extra: &[&str]) -> Result<(Cli, Vec<u8>), UsageError> {
        let mut a = BASE.to_vec();
        a.extend_from_slice(extra);
        run(&a)
    }

    #[test]
    fn ucarp_defaults() {
        let (cli, pw) = with(&["-p", "secret"]).unwrap();
        assert_eq!(pw, b"secret");
        assert_eq!((cli.advbase, cli.advskew, cli.deadratio), (1, 0, 3));
        assert_eq!(cli.mcast, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(cli.facility, Facility::from_name("daemon").unwrap());
        assert!(!cli.preempt && !cli.neutral && !cli.shutdown && !cli.nomcast);
    }

    #[test]
    fn realtime_priority_is_automatic_unless_given() {
        let settings = |extra: &[&str]| {
            let (cli, pw) = with(extra).unwrap();
            Settings::from_cli(&cli, &Password(pw), "eth0".into())
                .daemon
                .realtime_priority
        };
        assert_eq!(settings(&["-p", "x"]), Realtime::Auto);
        assert_eq!(
            settings(&["-p", "x", "--realtime-priority", "0"]),
            Realtime::Off
        );
        assert_eq!(
            settings(&["-p", "x", "--realtime-priority", "20"]),
            Realtime::Priority(20)
        );
    }

    #[test]
    fn every_short_and_long_option() {
        let (cli, _) = run(&[
            "-i",
            "eth1",
            "-s",
            "10.0.0.2",
            "-m",
            "239.1.2.3",
            "-v",
            "0x2a",
            "-p",
            "pw",
            "-P",
            "-n",
            "-a",
            "10.0.0.100",
            "-b",
            "2",
            "-k",
            "100",
            "-u",
            "/up",
            "-d",
            "/down",
            "-r",
            "4",
            "-D",
            "-z",
            "-B",
            "-f",
            "local7",
            "-x",
            "extra",
            "-S",
            "-M",
        ])
        .unwrap();
        assert_eq!(cli.interface.as_deref(), Some("eth1"));
        assert_eq!(cli.vhid, Some(42));
        assert_eq!(cli.mcast, Ipv4Addr::new(239, 1, 2, 3));
        assert!(cli.preempt && cli.neutral && cli.debug && cli.shutdown && cli.daemonize);
        assert!(cli.ignoreifstate && cli.nomcast);
        assert_eq!((cli.advbase, cli.advskew, cli.deadratio), (2, 100, 4));
        assert_eq!(cli.xparam.as_deref(), Some("extra"));
        let (cli, _) = run(&[
            "--interface=eth1",
            "--srcip=10.0.0.2",
            "--mcastip=239.1.2.3",
            "--vhid=052",
            "--pass=pw",
            "--preempt",
            "--addr=10.0.0.100",
            "--advbase=0",
            "--advskew=30",
            "--upscript=/up",
            "--downscript=/down",
            "--deadratio=5",
            "--shutdown",
            "--facility=none",
            "--xparam=x",
            "--ignoreifstate",
            "--nomcast",
            "--neutral",
            "--debug",
        ])
        .unwrap();
        assert_eq!(cli.vhid, Some(42), "octal like strtoul");
        assert_eq!(cli.facility, Facility::None);
        // getopt_long accepts unambiguous prefixes: --mcast is one of --mcastip in ucarp.
        let (cli, _) = with(&["--pass", "pw", "--inter", "eth9", "--mcast", "239.0.0.1"]).unwrap();
        assert_eq!(cli.interface.as_deref(), Some("eth9"));
        assert_eq!(cli.mcast, Ipv4Addr::new(239, 0, 0, 1));
        // As with getopt, a repeated option overrides the earlier one.
        let (cli, _) = with(&["-p", "pw", "-i", "eth7", "-v", "9"]).unwrap();
        assert_eq!(
            (cli.interface.as_deref(), cli.vhid),
            (Some("eth7"), Some(9))
        );
        // An ambiguous prefix (--adv: advbase or advskew) is refused.
        assert!(with(&["--pass", "pw", "--adv", "3"]).is_err());
    }

    #[test]
    fn bad_values_give_one_line_naming_option_value_and_range() {
        let cases: &[(&[&str], &str)] = &[
            (&["-p", "x", "-v", "300"], "'300'"),
            (&["-p", "x", "-v", "0"], "accepted 1 to 255"),
            (&["-p", "x", "-b", "256"], "from 0 to 255"),
            (&["-p", "x", "-k", "12abc"], "'12abc'"),
            (&["-p", "x", "-r", "0"], "accepted 1 to 1000"),
            (&["-p", "x", "-m", "10.0.0.1"], "multicast"),
            (&["-p", "x", "-f", "bogus"], "local7"),
            (&["-p", "x", "-a", "10.0.0.300"], "'10.0.0.300'"),
            (&["-p", "x", "--hook-timeout", "soon"], "duration"),
            (&["-p", "x", "--realtime-priority", "100"], "accepted 0 "),
            (&["-p", "x", "--realtime-priority", "high"], "1 to 99"),
            (&["-p", "x", "-a", "10.0.0.101/0"], "prefix of 1 to 32"),
            (&["-p", "x", "-a", "10.0.0.101/33"], "'10.0.0.101/33'"),
            (
                &["-p", "x", "-a", "10.0.0.1"],
                "--addr 10.0.0.1 is this host's own --srcip",
            ),
            (&["-p", "x", "-a", "10.0.0.1/24"], "--addr 10.0.0.1/24"),
        ];
        for (args, needle) in cases {
            let err = with(args).unwrap_err();
            assert_eq!(err.status, 1, "{args:?}");
            assert!(!err.message.contains('\n'), "one line: {}", err.message);
            assert!(err.message.contains(needle), "{args:?}: {}", err.message);
        }
        let err = with(&["-p", "x", "-b", "0"]).unwrap_err();
        assert!(err.message.contains("--advbase 0"), "{}", err.message);
    }

    #[test]
    fn clap_errors_are_one_line_by_kind() {
        let cases: &[(&[&str], &str)] = &[
            (&["-p", "x", "--bogus"], "unknown option '--bogus'"),
            (&["-p", "x", "-Z"], "unknown option '-Z'"),
            (&["-p", "x", "--vhidd", "3"], "unknown option '--vhidd'"),
            (&["-p", "x", "-v"], "--vhid <ID> needs a value"),
            (&["-p"], "--pass <PASS> needs a value"),
            (
                &["-p", "x", "-v", "300"],
                "invalid value '300' for --vhid <ID>: accepted 1 to 255",
            ),
        ];
        for (args, expected) in cases {
            let err = with(args).unwrap_err();
            assert_eq!(err.status, 1, "{args:?}");
            assert!(err.message.starts_with("carpd: "), "{}", err.message);
            assert!(!err.message.contains("error:"), "{}", err.message);
            assert!(!err.message.contains('\n'), "one line: {}", err.message);
            assert!(err.message.contains(expected), "{args:?}: {}", err.message);
        }
    }

    #[test]
    fn missing_required_options_are_named() {
        assert!(run(&["-s", "10.0.0.1", "-v", "1", "-a", "10.0.0.9"])
            .unwrap_err()
            .message
            .contains("--pass"));
        assert!(run(&["-p", "x", "-v", "1", "-a", "10.0.0.9"])
            .unwrap_err()
            .message
            .contains("--srcip"));
        assert!(run(&["-p", "x", "-s", "10.0.0.1", "-a", "10.0.0.9"])
            .unwrap_err()
            .message
            .contains("--vhid"));
        assert!(run(&["-p", "x", "-s", "10.0.0.1", "-v", "1"])
            .unwrap_err()
            .message
            .contains("--addr"));
    }

    #[test]
    fn password_rules_match_ucarp() {
        assert!(with(&["-p", "0123456789012345678"]).is_ok());
        let e = with(&["-p", "01234567890123456789"]).unwrap_err();
        assert_eq!(e.status, 2);
        assert!(e.message.contains("20 bytes"));
        let dir = std::env::temp_dir().join(format!("carpd-pw-{}", std::process::id()));
        std::fs::write(&dir, "filepass\nsecond line\n").unwrap();
        let f = dir.to_str().unwrap();
        assert_eq!(with(&["-o", f]).unwrap().1, b"filepass");
        // The later of -p and -o wins.
        assert_eq!(with(&["-o", f, "-p", "cli"]).unwrap().1, b"cli");
        assert_eq!(with(&["-p", "cli", "-o", f]).unwrap().1, b"filepass");
        // An overridden passfile is not read at all.
        assert_eq!(
            with(&["-o", "/nonexistent/pw", "-p", "cli"]).unwrap().1,
            b"cli"
        );
        // At most ucarp's one line of 511 bytes is read, whatever the file's size: 511 bytes
        // without a newline are refused as too long (exit 2, as ucarp).
        std::fs::write(&dir, vec![b'x'; 4096]).unwrap();
        let e = with(&["-o", f]).unwrap_err();
        assert_eq!(e.status, 2);
        assert!(e.message.contains("511 bytes"), "{}", e.message);
        // A device is refused at once, never read (a terminal would wait, /dev/zero not end).
        let e = with(&["-o", "/dev/zero"]).unwrap_err();
        assert_eq!(e.status, 1);
        assert_eq!(
            e.message,
            "carpd: --passfile /dev/zero: it is a character device, not a regular file: accepted a regular file"
        );
        std::fs::write(&dir, "abc\r\n").unwrap();
        assert_eq!(
            with(&["-o", f]).unwrap().1,
            b"abc\r",
            "CR stays, as in ucarp"
        );
        std::fs::write(&dir, "nonewline").unwrap();
        assert_eq!(with(&["-o", f]).unwrap().1, b"nonewline");
        std::fs::remove_file(&dir).unwrap();
        assert!(with(&["-o", "/nonexistent/pw"])
            .unwrap_err()
            .message
            .contains("/nonexistent/pw"));
    }

    #[test]
    fn several_vips_and_prefixes() {
        let (cli, _) = with(&["-p", "x", "-a", "10.0.0.101/24"]).unwrap();
        assert_eq!(cli.addr.len(), 2);
        assert_eq!(
            cli.addr[1],
            Vip {
                typed: "10.0.0.101/24".into(),
                address: Ipv4Addr::new(10, 0, 0, 101).into(),
                prefix: Some(24)
            }
        );
    }

    #[test]
    fn config_mode_takes_a_file_and_refuses_group_options() {
        let parse = |args: &[&str]| {
            Cli::parse_from_args(std::iter::once("carpd").chain(args.iter().copied()))
        };
        assert!(
            matches!(parse(&["--config"]).unwrap(), Invocation::RunConfig(c) if c.config.as_deref() == Some(std::path::Path::new(DEFAULT_CONFIG)))
        );
        assert!(
            matches!(parse(&["--config", "/x.toml", "-f", "none", "-D", "--pidfile", "/p"]).unwrap(), Invocation::RunConfig(c) if c.config.as_deref() == Some(std::path::Path::new("/x.toml")))
        );
        assert!(
            matches!(parse(&["--check-config"]).unwrap(), Invocation::CheckConfig(p) if p == std::path::Path::new(DEFAULT_CONFIG))
        );
        assert!(
            matches!(parse(&["--check-config", "/y.toml"]).unwrap(), Invocation::CheckConfig(p) if p == std::path::Path::new("/y.toml"))
        );
        let e = parse(&[
            "--config",
            "/x.toml",
            "-i",
            "eth0",
            "--hook-timeout",
            "3s",
            "-a",
            "10.0.0.1",
        ])
        .unwrap_err();
        assert_eq!(e.status, 1);
        assert!(
            e.message
                .contains("--config with --interface, --addr, --hook-timeout"),
            "{}",
            e.message
        );
        let e = parse(&["--config", "/x.toml", "--realtime-priority", "5"]).unwrap_err();
        assert!(
            e.message.contains("--config with --realtime-priority:")
                && e.message.contains("realtime_priority belong in the file"),
            "{}",
            e.message
        );
    }

    #[test]
    fn no_arguments_prints_help() {
        assert!(
            matches!(Cli::parse_from_args(["carpd"]).unwrap(), Invocation::Print(h) if h.contains("--srcip"))
        );
        assert!(
            matches!(Cli::parse_from_args(["carpd", "--version"]).unwrap(), Invocation::Print(v) if v.contains("carpd"))
        );
    }
}
