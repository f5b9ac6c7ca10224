//! carpctl: see and steer a running carpd over its control socket.
#![deny(unsafe_code)]

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::{json, Value};
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
        Command::Status { group } => json!({ "command": "status", "group": group }),
        Command::Demote { group, all } => target("demote", group, *all),
        Command::Promote { group, all } => target("promote", group, *all),
        Command::Reload => json!({ "command": "reload" }),
        Command::Watch => json!({ "command": "watch" }),
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
    let sent = writeln!(stream, "{request}");
    let mut reader = BufReader::new(stream);
    if sent.is_ok() && matches!(command, Command::Watch) {
        return watch(&mut reader, cli.json);
    }
    let reply = match (read_reply(&mut reader, &cli.socket), sent) {
        (Ok(v), _) => v,
        (Err(_), Err(e)) => {
            eprintln!("carpctl: sending to {}: {e}", cli.socket.display());
            return ExitCode::from(2);
        }
        (Err(message), Ok(())) => {
            eprintln!("carpctl: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(error) = reply.get("error").and_then(Value::as_str) {
        if cli.json {
            println!("{reply}");
        }
        eprintln!("carpctl: {error}");
        return ExitCode::from(1);
    }
    if cli.json {
        println!("{reply}");
        return ExitCode::SUCCESS;
    }
    match command {
        Command::Status { .. } => print!("{}", status_table(&reply)),
        Command::Demote { .. } | Command::Promote { .. } => {
            let what = if matches!(command, Command::Demote { .. }) {
                "demoted (BACKUP until promoted)"
            } else {
                "promoted"
            };
            for name in reply["groups"].as_array().into_iter().flatten() {
                println!("{}: {what}", name.as_str().unwrap_or("?"));
            }
        }
        Command::Reload => print!("{}", reload_text(&reply)),
        Command::Watch => {}
    }
    ExitCode::SUCCESS
}

fn target(command: &str, group: &Option<String>, all: bool) -> Value {
    if all {
        json!({ "command": command, "all": true })
    } else {
        json!({ "command": command, "group": group })
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

fn read_reply(reader: &mut impl BufRead, path: &Path) -> Result<Value, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err(format!(
            "{} closed the connection without a reply",
            path.display()
        )),
        Ok(_) => serde_json::from_str(&line)
            .map_err(|e| format!("unreadable reply from {}: {e}", path.display())),
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
            match serde_json::from_str::<Value>(&line) {
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

fn event_text(e: &Value) -> String {
    let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
    let group = if e.get("group").is_some() {
        format!("{} ({} vhid {}) ", s("group"), s("interface"), e["vhid"])
    } else {
        String::new()
    };
    match s("event").as_str() {
        "state" => format!("{group}{} -> {} ({})", s("from"), s("to"), s("reason")),
        "tracker" => format!(
            "tracker {} {} ({})",
            s("tracker"),
            if e["healthy"] == true {
                "healthy"
            } else {
                "failed"
            },
            s("detail")
        ),
        "demotion" if !e["priority"].is_null() => format!(
            "{group}demotion {}: advertising priority {}",
            e["demotion"], e["priority"]
        ),
        "demotion" => format!(
            "{group}demotion {} on {}: advertising demote {}, advskew {}",
            e["demotion"],
            s("demote_by"),
            e["demote"],
            e["advskew"]
        ),
        "reload" => format!("reload: {}", reload_text(e).trim_end().replace('\n', "; ")),
        "changed" => format!(
            "{group}settings changed{}",
            if e["restarted"] == true {
                " (restarted)"
            } else {
                " in place"
            }
        ),
        other => format!("{group}{other}"),
    }
}

fn names(v: &Value) -> String {
    let list: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn reload_text(r: &Value) -> String {
    let mut text = String::new();
    for key in ["added", "removed", "changed", "restarted"] {
        text.push_str(&format!("{key}: {}\n", names(&r[key])));
    }
    for key in ["trackers_added", "trackers_removed", "trackers_changed"] {
        if r.get(key)
            .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        {
            text.push_str(&format!("{}: {}\n", key.replace('_', " "), names(&r[key])));
        }
    }
    if let Some(n) = r.get("unchanged") {
        text.push_str(&format!("unchanged: {n}\n"));
    }
    text
}

fn status_table(reply: &Value) -> String {
    let headers = [
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
    let mut rows: Vec<Vec<String>> = vec![headers.iter().map(|h| h.to_string()).collect()];
    for g in reply["groups"].as_array().into_iter().flatten() {
        let mut state = g["state"].as_str().unwrap_or("?").to_string();
        if g["demoted_by_operator"] == true {
            state.push_str(" (demoted)");
        }
        // The effective advskew (CARP) or priority (VRRPv3), and how it came about when
        // trackers change it. A VRRPv3 group's ADVBASE is its advert interval in seconds.
        let vrrp3 = g["protocol"] == "vrrp3";
        let shown = |v: &Value| {
            if v.is_null() {
                "-".to_string()
            } else {
                v.to_string()
            }
        };
        let mut advskew = shown(&g["advskew"]);
        if g["advskew"] != g["configured_advskew"] && !g["configured_advskew"].is_null() {
            advskew.push_str(&format!(
                " ({}+{})",
                g["configured_advskew"],
                g["advskew"]
                    .as_u64()
                    .unwrap_or(0)
                    .saturating_sub(g["configured_advskew"].as_u64().unwrap_or(0))
            ));
        }
        let mut priority = shown(&g["priority"]);
        if g["priority"] != g["configured_priority"] && !g["configured_priority"].is_null() {
            priority.push_str(&format!(
                " ({}-{})",
                g["configured_priority"],
                g["configured_priority"]
                    .as_u64()
                    .unwrap_or(0)
                    .saturating_sub(g["priority"].as_u64().unwrap_or(0))
            ));
        }
        let advbase = if vrrp3 {
            shown(&g["advert_interval"])
        } else {
            shown(&g["advbase"])
        };
        let drops: Vec<String> = g["drops"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let age = g["seconds_in_state"].as_u64().unwrap_or(0);
        rows.push(vec![
            g["name"].as_str().unwrap_or("?").into(),
            g["interface"].as_str().unwrap_or("?").into(),
            g["vhid"].to_string(),
            g["protocol"].as_str().unwrap_or("carp").into(),
            state,
            humantime::format_duration(Duration::from_secs(age)).to_string(),
            vips_shown(g),
            g["master"].as_str().unwrap_or("-").into(),
            advbase,
            advskew,
            priority,
            g["demote"].to_string(),
            g["adverts_sent"].to_string(),
            g["adverts_received"].to_string(),
            g["transitions"].to_string(),
            if drops.is_empty() {
                "0".into()
            } else {
                drops.join(",")
            },
        ]);
    }
    let mut out = aligned(&rows);
    let trackers = reply["trackers"].as_array().cloned().unwrap_or_default();
    if !trackers.is_empty() {
        let mut rows: Vec<Vec<String>> =
            vec![["TRACKER", "KIND", "HEALTHY", "WEIGHT", "FOR", "DETAIL"]
                .iter()
                .map(|h| h.to_string())
                .collect()];
        for t in &trackers {
            let age = t["seconds_in_state"].as_u64().unwrap_or(0);
            rows.push(vec![
                t["name"].as_str().unwrap_or("?").into(),
                t["kind"].as_str().unwrap_or("?").into(),
                if t["healthy"] == true { "yes" } else { "no" }.into(),
                t["weight"].to_string(),
                humantime::format_duration(Duration::from_secs(age)).to_string(),
                t["detail"].as_str().unwrap_or("").into(),
            ]);
        }
        out.push('\n');
        out.push_str(&aligned(&rows));
    }
    out
}

/// The VIPs, and the interface they are on when it is not the group's own (`vip_interface`).
fn vips_shown(g: &Value) -> String {
    let vips = names(&g["vips"]).replace(", ", ",");
    match g["vip_interface"].as_str() {
        Some(on) if Some(on) != g["interface"].as_str() => format!("{vips} on {on}"),
        _ => vips,
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
the group's \fBvip_interface\fR, else its interface), "protocol" ("carp" or "vrrp3"), "advbase",
"advskew" (in effect), "configured_advskew" (null for VRRPv3), "priority" (in effect),
"configured_priority", "advert_interval" (seconds), "master_advert_interval" (the interval
the master advertises), "v3_checksum" (sent), "peer_v3_checksum" (the IPv4 checksum variant
of the last advert heard: "pseudo-header" or "rfc9568"), "accept_mode" (null for CARP),
"peers", "unicast_ttl_check", "demote" (in effect), "demote_by" ("demote" or "advskew"), "demotion"
(the weights of its failed trackers), "fault", "fault_causes": [text], "sync" (its sync
group or null), "track": [{"tracker", "healthy", "weight"}],
"demoted_by_operator", "master", "adverts_sent", "adverts_received", "advert_mismatches" (VRRPv3
adverts used although their addresses or interval differ from the group's), "transitions", "drops":
{kind: count}}], "trackers": [{"name", "kind", "healthy", "weight", "detail",
"seconds_in_state"}]}.
\fBreload\fR: {"added", "removed", "changed", "restarted": [names], "unchanged": count,
"trackers_added", "trackers_removed", "trackers_changed": [names]}.
\fBwatch\fR: one event per line, first {"event": "watching"}; each event has "event" and, for
a group, "group", "interface" and "vhid"; a state change adds "from", "to" and "reason"; a
tracker's health change is {"event": "tracker", "tracker", "healthy", "detail"}; a group's
demotion change adds "demotion", "demote_by", "demote" and "advskew" (both in effect), and
"priority" (in effect) for a VRRPv3 group.
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
        let reply = json!({"groups": [{"name": "web", "interface": "eth0", "vhid": 47, "state": "FAULT",
            "seconds_in_state": 3, "vips": ["10.0.0.250/24"], "advbase": 1, "advskew": 110,
            "configured_advskew": 10, "demote": 0, "adverts_sent": 0, "adverts_received": 2,
            "transitions": 3, "drops": {}}],
            "trackers": [{"name": "nginx", "kind": "script", "healthy": false, "weight": 0,
            "seconds_in_state": 3, "detail": "exit status 1"}]});
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
        assert_eq!(
            event_text(
                &json!({"event": "tracker", "tracker": "nginx", "healthy": false, "detail": "exit status 1"})
            ),
            "tracker nginx failed (exit status 1)"
        );
    }

    #[test]
    fn status_prints_one_aligned_row_per_group() {
        let reply = json!({"groups": [{"name": "web", "interface": "eth0", "vhid": 47, "state": "MASTER",
            "seconds_in_state": 62, "vips": ["10.0.0.250/24"], "master": "10.0.0.11", "advbase": 1,
            "advskew": 10, "demote": 0, "demoted_by_operator": false, "adverts_sent": 60,
            "adverts_received": 2, "transitions": 2, "drops": {"bad-digest": 3}}]});
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
        let reply = json!({"groups": [{"name": "db", "interface": "eth0", "vhid": 50, "state": "BACKUP",
            "protocol": "vrrp3", "seconds_in_state": 5, "vips": ["10.0.0.150/24"], "master": "10.0.0.12",
            "advbase": null, "advskew": null, "configured_advskew": null, "priority": 150,
            "configured_priority": 200, "advert_interval": 0.05, "demote": 50,
            "adverts_sent": 0, "adverts_received": 100, "transitions": 1, "drops": {}}]});
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
            let reply = json!({"groups": [{"name": "api", "interface": "eth0", "vhid": 9,
                "state": "MASTER", "seconds_in_state": 1, "vips": ["10.0.9.1/32"],
                "vip_interface": vip_interface, "drops": {}}]});
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
