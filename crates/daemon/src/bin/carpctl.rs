//! carpctl: see and steer a running carpd over its control socket.
#![deny(unsafe_code)]

#[cfg(test)]
use carpd::mgmt::control::protocol::TrackerView;
use carpd::mgmt::control::protocol::{
    Answer, ConntrackView, DrainReply, Event, GroupView, ReloadChanges, ReloadReport, Request,
    StatusReply,
};
use clap::{CommandFactory, Parser, Subcommand};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// See and steer a running carpd: group states, operator demote and promote, config reload,
/// and a live stream of events.
#[derive(Debug, Parser)]
#[command(name = "carpctl", version, about, max_term_width = 100)]
struct Cli {
    /// carpd's control socket (a one-group carpd started from the command line listens on
    /// /run/carpd/<interface>-<vhid>.sock)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/carpd/control.sock",
        global = true
    )]
    socket: PathBuf,

    /// Print carpd's JSON replies (one object per line) instead of text
    #[arg(long, global = true)]
    json: bool,

    /// Write the man page and shell completions to DIR
    #[arg(long, value_name = "DIR", hide = true)]
    generate_docs: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Each group's state, since when, VIPs, timing, master and counters
    Status {
        /// only this group
        group: Option<String>,
    },
    /// Drain: a master bows out at once; the group stays BACKUP until promoted
    Demote {
        /// the group's name
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        group: Option<String>,
        /// every group
        #[arg(long)]
        all: bool,
    },
    /// End a drain: the group takes part in the election again
    Promote {
        /// the group's name
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        group: Option<String>,
        /// every group
        #[arg(long)]
        all: bool,
    },
    /// Re-read the config file and apply the difference (nothing changes if it is invalid)
    Reload,
    /// Print events as they happen (state changes, demotes, reloads) until interrupted
    Watch,
    /// Print the carpd config equivalent to another daemon's (needs no running carpd); what
    /// cannot be carried over is listed on stderr as FILE:LINE: directive: not carried over
    /// (why). Exit status 0: all carried over; 3: something left out; 1: unreadable file
    Import {
        /// the other daemon
        #[arg(value_enum)]
        from: ImportFrom,
        /// its config file (includes are followed)
        file: PathBuf,
    },
}

/// The daemons whose configs carpctl imports.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ImportFrom {
    /// keepalived.conf (its VRRP side)
    Keepalived,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.generate_docs {
        return match generate_docs(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("carpctl: writing docs to {}: {e}", dir.display());
                ExitCode::from(2)
            }
        };
    }
    let Some(command) = &cli.command else {
        let _ = Cli::command().print_help();
        return ExitCode::from(2);
    };
    let request = match command {
        Command::Status { group } => Request::Status {
            group: group.clone(),
        },
        Command::Demote { group, all } => Request::Demote {
            group: group.clone().filter(|_| !all),
        },
        Command::Promote { group, all } => Request::Promote {
            group: group.clone().filter(|_| !all),
        },
        Command::Reload => Request::Reload,
        Command::Watch => Request::Watch,
        // Needs no running carpd: answered here.
        Command::Import { from, file } => {
            let ImportFrom::Keepalived = from;
            let status = carpd::import::run(file, &mut std::io::stdout(), &mut std::io::stderr());
            return ExitCode::from(status);
        }
    };
    let mut stream = match connect(&cli.socket) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("carpctl: {message}");
            return ExitCode::from(2);
        }
    };
    // carpd may refuse before reading (a user it does not accept): its reply says why, so
    // a failed send is reported only when no reply comes.
    let sent = writeln!(stream, "{}", request.to_line());
    let mut reader = BufReader::new(stream);
    if sent.is_ok() && matches!(command, Command::Watch) {
        return watch(&mut reader, cli.json);
    }
    let line = match (read_reply(&mut reader, &cli.socket), sent) {
        (Ok(line), _) => line,
        (Err(_), Err(e)) => {
            eprintln!("carpctl: sending to {}: {e}", cli.socket.display());
            return ExitCode::from(2);
        }
        (Err(message), Ok(())) => {
            eprintln!("carpctl: {message}");
            return ExitCode::from(2);
        }
    };
    let shown = match command {
        Command::Status { .. } => answer(&line, &cli, |r: StatusReply| status_table(&r)),
        Command::Demote { .. } | Command::Promote { .. } => {
            let what = if matches!(command, Command::Demote { .. }) {
                "demoted (BACKUP until promoted)"
            } else {
                "promoted"
            };
            answer(&line, &cli, |r: DrainReply| {
                r.groups
                    .iter()
                    .map(|name| format!("{name}: {what}\n"))
                    .collect()
            })
        }
        Command::Reload => answer(&line, &cli, |r: ReloadReport| {
            reload_text(&r.changes(), Some(r.unchanged))
        }),
        Command::Watch | Command::Import { .. } => Ok(String::new()),
    };
    match shown {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err((status, text)) => {
            eprint!("{text}");
            ExitCode::from(status)
        }
    }
}

/// What to print for a reply: its text (`--json`: carpd's JSON object on one line), or the
/// exit status and the message of a refusal or an unreadable reply.
fn answer<T: serde::de::DeserializeOwned>(
    line: &str,
    cli: &Cli,
    text: impl FnOnce(T) -> String,
) -> Result<String, (u8, String)> {
    let unreadable = |e: serde_json::Error| {
        (
            2,
            format!(
                "carpctl: unreadable reply from {}: {e}\n",
                cli.socket.display()
            ),
        )
    };
    let reply: Answer<T> = serde_json::from_str(line).map_err(unreadable)?;
    // The object as carpd wrote it, its keys in alphabetical order (as carpctl always
    // printed it).
    let json = || {
        serde_json::from_str::<serde_json::Value>(line)
            .map(|v| format!("{v}\n"))
            .map_err(unreadable)
    };
    match reply {
        Answer::Error(e) if cli.json => {
            let shown = json()?;
            print!("{shown}");
            Err((1, format!("carpctl: {}\n", e.error)))
        }
        Answer::Error(e) => Err((1, format!("carpctl: {}\n", e.error))),
        Answer::Ok(_) if cli.json => json(),
        Answer::Ok(reply) => Ok(text(reply)),
    }
}

fn connect(path: &Path) -> Result<UnixStream, String> {
    let stream = UnixStream::connect(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                " (is carpd running? --socket PATH names another socket)"
            }
            std::io::ErrorKind::PermissionDenied => {
                " (root and the members of carpd's control_group only)"
            }
            _ => "",
        };
        format!("cannot connect to {}: {e}{hint}", path.display())
    })?;
    // A reload runs hook-free work only; a minute is far more than it needs.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    Ok(stream)
}

/// Carpd's reply line.
fn read_reply(reader: &mut impl BufRead, path: &Path) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err(format!(
            "{} closed the connection without a reply",
            path.display()
        )),
        Ok(_) => Ok(line),
        Err(e) => Err(format!("reading from {}: {e}", path.display())),
    }
}

fn watch(reader: &mut impl BufRead, json: bool) -> ExitCode {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            // Events may be minutes apart: a timeout is no error.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                eprintln!("carpctl: watch: {e}");
                return ExitCode::from(2);
            }
        }
        let text = if json {
            line.trim_end().to_string()
        } else {
            match serde_json::from_str::<Event>(&line) {
                Ok(event) => event_text(&event),
                Err(_) => line.trim_end().to_string(),
            }
        };
        println!("{text}");
        if std::io::stdout().flush().is_err() {
            return ExitCode::SUCCESS;
        }
    }
}

/// One event as a line of text.
fn event_text(e: &Event) -> String {
    let group = e.group().map_or_else(String::new, |g| {
        format!("{} ({} vhid {}) ", g.group, g.interface, g.vhid)
    });
    match e {
        Event::State {
            from, to, reason, ..
        } => format!("{group}{from} -> {to} ({reason})"),
        Event::Tracker {
            tracker,
            healthy,
            detail,
        } => format!(
            "tracker {tracker} {} ({detail})",
            if *healthy { "healthy" } else { "failed" }
        ),
        Event::Demotion {
            demotion,
            priority: Some(priority),
            ..
        } => format!("{group}demotion {demotion}: advertising priority {priority}"),
        Event::Demotion {
            demotion,
            demote_by,
            demote,
            advskew,
            ..
        } => format!(
            "{group}demotion {demotion} on {demote_by}: advertising demote {demote}, advskew {advskew}"
        ),
        Event::Reload(changes) => format!(
            "reload: {}",
            reload_text(changes, None).trim_end().replace('\n', "; ")
        ),
        Event::Changed { restarted, .. } => format!(
            "{group}settings changed{}",
            if *restarted {
                " (restarted)"
            } else {
                " in place"
            }
        ),
        other => format!("{group}{}", other.kind()),
    }
}

/// Names joined by commas, or `none`.
fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// What a reload changed, a line per kind (trackers only when some changed).
fn reload_text(r: &ReloadChanges, unchanged: Option<usize>) -> String {
    let mut text = String::new();
    for (key, list) in [
        ("added", &r.added),
        ("removed", &r.removed),
        ("changed", &r.changed),
        ("restarted", &r.restarted),
    ] {
        text.push_str(&format!("{key}: {}\n", names(list)));
    }
    for (key, list) in [
        ("trackers added", &r.trackers_added),
        ("trackers removed", &r.trackers_removed),
        ("trackers changed", &r.trackers_changed),
    ] {
        if !list.is_empty() {
            text.push_str(&format!("{key}: {}\n", names(list)));
        }
    }
    if let Some(n) = unchanged {
        text.push_str(&format!("unchanged: {n}\n"));
    }
    text
}

/// The `status` table: a row per group, then a row per tracker.
fn status_table(reply: &StatusReply) -> String {
    let mut rows: Vec<Vec<String>> = vec![GROUP_COLUMNS.iter().map(|h| h.to_string()).collect()];
    rows.extend(reply.groups.iter().map(group_row));
    let mut out = aligned(&rows);
    if !reply.trackers.is_empty() {
        let mut rows: Vec<Vec<String>> =
            vec![["TRACKER", "KIND", "HEALTHY", "WEIGHT", "FOR", "DETAIL"]
                .iter()
                .map(|h| h.to_string())
                .collect()];
        for t in &reply.trackers {
            rows.push(vec![
                t.name.clone(),
                t.kind.clone(),
                if t.healthy { "yes" } else { "no" }.into(),
                t.weight.to_string(),
                humantime::format_duration(Duration::from_secs(t.seconds_in_state)).to_string(),
                t.detail.clone(),
            ]);
        }
        out.push('\n');
        out.push_str(&aligned(&rows));
    }
    if let Some(ct) = &reply.conntrack {
        out.push('\n');
        out.push_str(&conntrack_table(ct));
    }
    out
}

/// The conntrackd carpd drives: its role, the groups that made it primary, the last commit,
/// and the commands that did not succeed.
fn conntrack_table(ct: &ConntrackView) -> String {
    let commit = ct.last_commit.as_ref();
    let troubles: Vec<String> = ct
        .commands
        .iter()
        .filter(|c| c.failed + c.timeout > 0)
        .map(|c| format!("{} {} failed, {} timed out", c.flag, c.failed, c.timeout))
        .collect();
    let rows = vec![
        [
            "CONNTRACKD",
            "ROLE",
            "MASTERS",
            "LAST COMMIT",
            "RESULT",
            "TOOK",
            "TROUBLE",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        vec![
            ct.config.clone(),
            ct.role.clone(),
            if ct.masters.is_empty() {
                "-".to_string()
            } else {
                ct.masters.join(",")
            },
            shown(commit.map(|c| c.at.clone())),
            shown(commit.map(|c| c.result.clone())),
            shown(commit.map(|c| format!("{:.1} ms", c.duration_seconds * 1000.0))),
            if troubles.is_empty() {
                "-".to_string()
            } else {
                troubles.join("; ")
            },
        ],
    ];
    aligned(&rows)
}

const GROUP_COLUMNS: [&str; 16] = [
    "GROUP",
    "INTERFACE",
    "VHID",
    "PROTO",
    "STATE",
    "FOR",
    "VIPS",
    "MASTER",
    "ADVBASE",
    "ADVSKEW",
    "PRIO",
    "DEMOTE",
    "SENT",
    "RECEIVED",
    "TRANSITIONS",
    "DROPS",
];

/// A value, or `-` for none.
fn shown<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One group's row. ADVSKEW is the effective advskew (CARP) and PRIO the effective priority
/// (VRRPv3), each with how trackers moved it; a VRRPv3 group's ADVBASE is its advert interval
/// in seconds.
fn group_row(g: &GroupView) -> Vec<String> {
    let mut state = if g.state.is_empty() {
        "?".to_string()
    } else {
        g.state.clone()
    };
    if g.demoted_by_operator {
        state.push_str(" (demoted)");
    }
    let mut advskew = shown(g.advskew);
    if let (Some(now), Some(configured)) = (g.advskew, g.configured_advskew) {
        if now != configured {
            advskew.push_str(&format!(
                " ({configured}+{})",
                now.saturating_sub(configured)
            ));
        }
    }
    let mut priority = shown(g.priority);
    if let (Some(now), Some(configured)) = (g.priority, g.configured_priority) {
        if now != configured {
            priority.push_str(&format!(
                " ({configured}-{})",
                configured.saturating_sub(now)
            ));
        }
    }
    let advbase = if g.protocol == "vrrp3" || g.protocol == "vrrp2" {
        shown(g.advert_interval)
    } else {
        shown(g.advbase)
    };
    let drops: Vec<String> = g.drops.iter().map(|(k, v)| format!("{k}={v}")).collect();
    vec![
        g.name.clone(),
        g.interface.clone(),
        g.vhid.to_string(),
        if g.protocol.is_empty() {
            "carp".into()
        } else {
            g.protocol.clone()
        },
        state,
        humantime::format_duration(Duration::from_secs(g.seconds_in_state)).to_string(),
        vips_shown(g),
        g.master.clone().unwrap_or_else(|| "-".into()),
        advbase,
        advskew,
        priority,
        g.demote.to_string(),
        g.adverts_sent.to_string(),
        g.adverts_received.to_string(),
        g.transitions.to_string(),
        if drops.is_empty() {
            "0".into()
        } else {
            drops.join(",")
        },
    ]
}

/// The VIPs, and the interface they are on when it is not the group's own (`vip_interface`).
fn vips_shown(g: &GroupView) -> String {
    let vips = names(&g.vips).replace(", ", ",");
    if !g.vip_interface.is_empty() && g.vip_interface != g.interface {
        format!("{vips} on {}", g.vip_interface)
    } else {
        vips
    }
}

/// Rows as left-aligned columns, two spaces apart.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn generate_docs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .section("1")
        .render(&mut page)?;
    page.write_all(EXTRA.as_bytes())?;
    std::fs::write(dir.join("carpctl.1"), page)?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "carpctl.bash"),
        (clap_complete::Shell::Zsh, "_carpctl"),
        (clap_complete::Shell::Fish, "carpctl.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "carpctl", &mut out);
        std::fs::write(dir.join(file), out)?;
    }
    Ok(())
}

const EXTRA: &str = r#".SH "EXIT STATUS"
0 when carpd did what was asked; 1 when carpd refused it (an unknown group, a config file that
does not load on \fBreload\fR: the error names file, line, column, key, value and what is
accepted, and nothing running changed); 2 when carpd cannot be reached (no socket, permission
denied: only root and the members of carpd's \fBcontrol_group\fR may connect).
.SH JSON
With \fB\-\-json\fR every reply is carpd's own JSON object on one line.
\fBstatus\fR: {"groups": [{"name", "interface", "vhid", "state" (INIT, BACKUP, MASTER or
FAULT), "since", "seconds_in_state", "vips", "vip_interface" (where the VIPs are added:
the group's \fBvip_interface\fR, else its interface), "protocol" ("carp", "vrrp3" or "vrrp2"),
"advbase", "advskew" (in effect), "configured_advskew" (null for VRRP), "priority" (in effect),
"configured_priority", "advert_interval" (seconds), "master_advert_interval" (the interval
the master advertises), "v3_checksum" (sent), "peer_v3_checksum" (the IPv4 checksum variant
of the last advert heard: "pseudo-header" or "rfc9568"), "accept_mode" (null for CARP),
"auth_type" (VRRPv2 groups and VRRPv3 groups with vrrp2_compat only: "none" or "simple"),
"vrrp2_compat" (true, only when set),
"peers", "unicast_ttl_check", "demote" (in effect), "demote_by" ("demote" or "advskew"), "demotion"
(the weights of its failed trackers), "fault", "fault_causes": [text], "sync" (its sync
group or null), "track": [{"tracker", "healthy", "weight"}],
"demoted_by_operator", "master", "adverts_sent", "adverts_received", "advert_mismatches" (VRRP
adverts used although their addresses or interval differ from the group's), "transitions", "drops":
{kind: count}}], "trackers": [{"name", "kind", "healthy", "weight", "detail",
"seconds_in_state"}], and with a [conntrack] table "conntrack": {"config", "socket", "role"
("primary", "backup" or "unknown"), "masters": [groups], "last_commit" (null before the first:
{"at", "timestamp", "duration_seconds", "result" ("ok", "failed" or "timeout"), "detail"}),
"commands": [{"command", "flag", "ok", "failed", "timeout"}]}}.
\fBreload\fR: {"added", "removed", "changed", "restarted": [names], "unchanged": count,
"trackers_added", "trackers_removed", "trackers_changed": [names]}.
\fBwatch\fR: one event per line, first {"event": "watching"}; each event has "event" and, for
a group, "group", "interface" and "vhid"; a state change adds "from", "to" and "reason"; a
tracker's health change is {"event": "tracker", "tracker", "healthy", "detail"}; a group's
demotion change adds "demotion", "demote_by", "demote" and "advskew" (both in effect), and
"priority" (in effect) for a VRRP group.
A failure is {"error": message}.
.SH "SEE ALSO"
.BR carpd (8)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_docs_are_current() {
        let dir = std::env::temp_dir().join(format!("carpctl-docs-{}", std::process::id()));
        generate_docs(&dir).unwrap();
        let packaged = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/docs");
        for file in ["carpctl.1", "carpctl.bash", "_carpctl", "carpctl.fish"] {
            let fresh = std::fs::read(dir.join(file)).unwrap();
            let kept = std::fs::read(packaged.join(file)).unwrap_or_default();
            assert!(
                fresh == kept,
                "packaging/docs/{file} is stale: run cargo run -p carpd --bin carpctl -- --generate-docs packaging/docs"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn status_shows_how_trackers_move_advskew_and_lists_the_trackers() {
        let reply = StatusReply {
            groups: vec![GroupView {
                name: "web".into(),
                interface: "eth0".into(),
                vhid: 47,
                state: "FAULT".into(),
                seconds_in_state: 3,
                vips: vec!["10.0.0.250/24".into()],
                advbase: Some(1),
                advskew: Some(110),
                configured_advskew: Some(10),
                adverts_received: 2,
                transitions: 3,
                ..GroupView::default()
            }],
            trackers: vec![TrackerView {
                name: "nginx".into(),
                kind: "script".into(),
                healthy: false,
                weight: 0,
                seconds_in_state: 3,
                detail: "exit status 1".into(),
            }],
            conntrack: None,
        };
        let text = status_table(&reply);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("FAULT") && lines[1].contains("110 (10+100)"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("TRACKER  KIND    HEALTHY  WEIGHT  FOR  DETAIL"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("nginx    script  no       0       3s   exit status 1"),
            "{text}"
        );
        let event = r#"{"event": "tracker", "tracker": "nginx", "healthy": false, "detail": "exit status 1"}"#;
        assert_eq!(
            event_text(&serde_json::from_str(event).unwrap()),
            "tracker nginx failed (exit status 1)"
        );
    }

    #[test]
    fn status_prints_one_aligned_row_per_group() {
        let reply: StatusReply = serde_json::from_str(
            r#"{"groups": [{"name": "web", "interface": "eth0", "vhid": 47, "state": "MASTER",
            "seconds_in_state": 62, "vips": ["10.0.0.250/24"], "master": "10.0.0.11", "advbase": 1,
            "advskew": 10, "demote": 0, "demoted_by_operator": false, "adverts_sent": 60,
            "adverts_received": 2, "transitions": 2, "drops": {"bad-digest": 3}}]}"#,
        )
        .unwrap();
        let text = status_table(&reply);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("GROUP  INTERFACE  VHID  PROTO  STATE"));
        assert!(
            lines[1].starts_with("web    eth0       47    carp   MASTER  1m 2s"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("bad-digest=3"));
    }

    #[test]
    fn a_vrrp3_row_shows_its_interval_and_how_trackers_lower_its_priority() {
        let reply: StatusReply = serde_json::from_str(
            r#"{"groups": [{"name": "db", "interface": "eth0", "vhid": 50, "state": "BACKUP",
            "protocol": "vrrp3", "seconds_in_state": 5, "vips": ["10.0.0.150/24"], "master": "10.0.0.12",
            "advbase": null, "advskew": null, "configured_advskew": null, "priority": 150,
            "configured_priority": 200, "advert_interval": 0.05, "demote": 50,
            "adverts_sent": 0, "adverts_received": 100, "transitions": 1, "drops": {}}]}"#,
        )
        .unwrap();
        let text = status_table(&reply);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        let row: Vec<&str> = lines[1]
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .collect();
        let column = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(column("PROTO"), "vrrp3", "{text}");
        assert_eq!(column("ADVBASE"), "0.05", "{text}");
        assert_eq!(column("ADVSKEW"), "-", "{text}");
        assert_eq!(column("PRIO"), "150 (200-50)", "{text}");
    }

    #[test]
    fn a_row_names_the_vip_interface_when_it_is_not_the_groups_own() {
        let row = |vip_interface: &str| {
            let group = GroupView {
                name: "api".into(),
                interface: "eth0".into(),
                vhid: 9,
                state: "MASTER".into(),
                seconds_in_state: 1,
                vips: vec!["10.0.9.1/32".into()],
                vip_interface: vip_interface.into(),
                ..GroupView::default()
            };
            let reply = StatusReply {
                groups: vec![group],
                trackers: vec![],
                conntrack: None,
            };
            status_table(&reply)
                .lines()
                .nth(1)
                .unwrap_or_default()
                .to_string()
        };
        assert!(row("lo").contains("10.0.9.1/32 on lo"), "{}", row("lo"));
        assert!(!row("eth0").contains(" on "), "{}", row("eth0"));
    }
}
