//! Trackers (what a group's health depends on) and how a failed one weighs on a group.

use std::path::PathBuf;
use std::time::Duration;

/// What a tracker watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A program run every `interval` (argv, no shell): exit 0 is a success; anything else,
    /// or still running at `timeout` (then killed with its process group), a failure.
    Script {
        /// the program and its arguments
        argv: Vec<String>,
        /// between the starts of two checks
        interval: Duration,
        /// a check running longer is killed and counts as a failure
        timeout: Duration,
        /// consecutive successes for a failed tracker to become healthy
        rise: u32,
        /// consecutive failures for a healthy tracker to fail
        fall: u32,
    },
    /// An interface: failed while it is absent, administratively down or without carrier.
    Interface {
        /// its name
        interface: String,
    },
    /// A file: failed while it holds a non-zero number (or anything but a number); healthy
    /// while it is absent, empty or holds 0. Read every `interval`.
    File {
        /// absolute path
        path: PathBuf,
        /// between two reads
        interval: Duration,
    },
    /// A process: healthy while at least one process of that name runs (its kernel name,
    /// `comm`, or the file name of its `argv[0]`), from a bounded scan of /proc every
    /// `interval` (keepalived's `track_process`).
    Process {
        /// the process name, such as `nginx`
        name: String,
        /// between two scans
        interval: Duration,
    },
}

impl Check {
    /// `script`, `interface`, `file` or `process`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Script { .. } => "script",
            Check::Interface { .. } => "interface",
            Check::File { .. } => "file",
            Check::Process { .. } => "process",
        }
    }
}

/// One `[[tracker]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerSettings {
    /// unique name, used by the groups' `track` lists
    pub name: String,
    /// what it watches
    pub check: Check,
    /// 0: a group tracking it is in FAULT while it is failed; N: the group's demotion grows
    /// by N while it is failed
    pub weight: u8,
}

/// Where a group's demotion (the sum of the weights of its failed trackers) goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DemoteBy {
    /// The demote byte of the adverts (OpenBSD rule: higher loses; carpd peers honour it,
    /// ucarp ignores it).
    #[default]
    Demote,
    /// Added to the advertised advskew (a ucarp backup with `--preempt` takes over).
    Advskew,
}

impl DemoteBy {
    /// The name in the config file and in `carpctl status`.
    pub fn as_str(self) -> &'static str {
        match self {
            DemoteBy::Demote => "demote",
            DemoteBy::Advskew => "advskew",
        }
    }

    /// Parses the config file's value.
    pub fn parse(text: &str) -> Result<DemoteBy, String> {
        match text {
            "demote" => Ok(DemoteBy::Demote),
            "advskew" => Ok(DemoteBy::Advskew),
            _ => Err("accepted \"demote\" (the demote byte, honoured by carpd peers) or \"advskew\" (added to advskew, honoured by ucarp peers with --preempt)".into()),
        }
    }
}
