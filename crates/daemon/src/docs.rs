//! The man page `carpd(8)` and shell completions, generated from the CLI definition
//! (`carpd --generate-docs DIR`; the packaged copies in `packaging/` are checked against it
//! by a test).

use crate::cli::Cli;
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// Sections the option list cannot express, in roff.
const EXTRA: &str = r#".SH "VIRTUAL ADDRESSES"
With \fB\-\-upscript\fR or \fB\-\-downscript\fR, carpd runs the scripts exactly as ucarp does:
argv is the interface, the first \fB\-\-addr\fR as typed, and \fB\-\-xparam\fR when given; no shell.
They run one at a time in order, are killed with their process group at \fB\-\-hook\-timeout\fR,
inherit no descriptors (neither carpd's nor any its parent left open), and get CARPD_EVENT (up or
down), CARPD_STATE, CARPD_VHID, CARPD_VIP, CARPD_VIPS and CARPD_INTERFACE.
.PP
Without either script carpd adds the addresses itself when it becomes master (\fB\-a IP/PREFIX\fR,
/32 by default, prefix 1 to 32), removes them when it leaves, and puts one back within a second if
something deletes it while carpd is master. Addresses it adds carry the address protocol 112
(\fBip \-d address\fR shows proto 0x70); at start\-up it removes a VIP left by an earlier carpd only
when it has that mark, and refuses to start when the VIP is an address it did not add.
.SH "SCRIPTS AND THE HOLDER OF THE VIP"
Whatever the scripts take, one host holds the VIP:
.IP \(bu 2
Leaving MASTER (stop, \fBSIGUSR2\fR, a preferred master, link loss) while the up script still runs
kills the up script and its process group at once; the down script runs next. Two hosts hold the
VIP for no longer than that down script runs.
.IP \(bu 2
Taking over from a live master (\fB\-\-preempt\fR, a master that advertises a higher demote count,
or one whose interval exceeds the dead time): carpd reports MASTER and runs its queued down script
and its up script (or adds the VIPs) first, and sends its first advertisement only when they are
done; the old master serves until it hears it, then steps down. So a slow up or start\-up down
script delays the hand\-over but leaves no moment without a holder. An up script that adds the VIP
and then works on for a while gives that while of overlap: add the VIP last.
.IP \(bu 2
Taking over from a dead master, or one that bowed out, advertises at once and runs the scripts.
.SH SIGNALS
.TP
.B SIGUSR1
Log a status line such as "MASTER on eth0 id 7" and the dropped\-packet counters.
.TP
.B SIGUSR2
Demote: a master sends the bow\-out advertisement, stays backup for 3 seconds, then takes part again.
.TP
.B SIGTERM, SIGINT, SIGQUIT, SIGHUP
Stop: a master sends the bow\-out advertisement (advbase 255, advskew 255) so that backups, ucarp
ones too, take over at once; with \fB\-z\fR (always without scripts) the VIP is taken down first.
.SH "EXIT STATUS"
0 after a stop signal, \fB\-h\fR or \fB\-\-version\fR; 1 for an invalid or missing option (one line
names the option, the value and what is accepted) and for a start refused before anything on the
host changed: \fB\-\-addr\fR equal to \fB\-\-srcip\fR or an address carpd did not add,
\fB\-\-srcip\fR not on the interface (only a warning with \fB\-S\fR), another carpd already serving
the interface and vhid, a \fB\-\-pidfile\fR held by a running process; 2 when start\-up fails
(interface, socket, multicast join) or the password is not 1 to 19 bytes, as ucarp. A
\fB\-\-passfile\fR is read up to its first newline, 511 bytes at most, as ucarp.
.SH "IFUPDOWN DIRECTIVES"
In \fI/etc/network/interfaces\fR, the hooks \fI/etc/network/if\-up.d/carpd\fR and
\fIif\-down.d/carpd\fR start one carpd per stanza with \fB\-i\fR $IFACE \fB\-s\fR address \fB\-B \-z\fR
on ifup and stop it on ifdown. They read Debian's ucarp directives: \fBucarp\-vid\fR,
\fBucarp\-vip\fR, \fBucarp\-password\fR (required), \fBucarp\-upscript\fR, \fBucarp\-downscript\fR
(default: \fIvip\-up\fR and \fIvip\-down\fR, which run ifup/ifdown of $IFACE:ucarp),
\fBucarp\-advskew\fR, \fBucarp\-advbase\fR, \fBucarp\-master\fR, \fBucarp\-deadratio\fR,
\fBucarp\-nomcast\fR, \fBucarp\-xparam\fR; and carpd's own \fBucarp\-passfile\fR,
\fBucarp\-neutral\fR, \fBucarp\-mcast\fR, \fBucarp\-ignoreifstate\fR, \fBucarp\-facility\fR.
Yes/no directives are on unless the value starts with no, off, false or 0.
.SH FILES
.TP
.I /run/carpd/IF\-VHID.netns\-INODE.lock
Held (flock) by the carpd serving interface IF and vhid VHID in the network namespace whose
inode is INODE (\fBstat \-L \-c %i /proc/self/ns/net\fR), with its pid: a second one is refused.
.TP
.I /etc/default/carpd
Read by the ifupdown hooks (CARPD, CARPD_SHARE).
.TP
.I /etc/carpd/INSTANCE.conf
Options for the systemd unit \fBcarpd@INSTANCE.service\fR (CARPD_OPTS=...).
.SH "SEE ALSO"
.BR ucarp (8),
.BR interfaces (5)
"#;

/// Writes `carpd.8`, `carpd.bash`, `_carpd` (zsh) and `carpd.fish` into `dir`.
pub fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .section("8")
        .render(&mut page)?;
    page.write_all(EXTRA.as_bytes())?;
    std::fs::write(dir.join("carpd.8"), page)?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "carpd.bash"),
        (clap_complete::Shell::Zsh, "_carpd"),
        (clap_complete::Shell::Fish, "carpd.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "carpd", &mut out);
        std::fs::write(dir.join(file), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn packaged_docs_match_the_cli() {
        let packaged =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/docs");
        let fresh = std::env::temp_dir().join(format!("carpd-docs-{}", std::process::id()));
        super::generate(&fresh).unwrap();
        for file in ["carpd.8", "carpd.bash", "_carpd", "carpd.fish"] {
            let want = std::fs::read_to_string(fresh.join(file)).unwrap();
            let have = std::fs::read_to_string(packaged.join(file)).unwrap_or_default();
            assert!(
                want == have,
                "packaging/docs/{file} is stale: run `cargo run -p carpd --bin carpd -- --generate-docs packaging/docs`"
            );
        }
        let page = std::fs::read_to_string(fresh.join("carpd.8")).unwrap();
        for needed in [
            "\\-\\-srcip",
            "SIGUSR2",
            "EXIT STATUS",
            "ucarp\\-vid",
            "\\-\\-hook\\-timeout",
            "HOLDER OF THE VIP",
        ] {
            assert!(page.contains(needed), "man page lacks {needed}");
        }
        std::fs::remove_dir_all(fresh).unwrap();
    }
}
