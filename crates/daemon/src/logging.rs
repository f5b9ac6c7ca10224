//! Logging as ucarp does it, so that existing log searches keep working: syslog messages
//! `[WARNING] Switching to state: MASTER` under the `-f` facility, and in the foreground the
//! same lines on stderr behind an ISO timestamp with microseconds.

use crate::sys::syslog;
use std::fmt::Write as _;
use std::io::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// A syslog facility, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    /// Syslog off.
    None,
    /// A facility code (`LOG_DAEMON`, ...).
    Code(libc::c_int),
}

impl Facility {
    /// The names ucarp accepts (the system's `facilitynames`).
    pub const NAMES: &'static [(&'static str, libc::c_int)] = &[
        ("auth", libc::LOG_AUTH),
        ("authpriv", libc::LOG_AUTHPRIV),
        ("cron", libc::LOG_CRON),
        ("daemon", libc::LOG_DAEMON),
        ("ftp", libc::LOG_FTP),
        ("kern", libc::LOG_KERN),
        ("lpr", libc::LOG_LPR),
        ("mail", libc::LOG_MAIL),
        ("news", libc::LOG_NEWS),
        ("security", libc::LOG_AUTH),
        ("syslog", libc::LOG_SYSLOG),
        ("user", libc::LOG_USER),
        ("uucp", libc::LOG_UUCP),
        ("local0", libc::LOG_LOCAL0),
        ("local1", libc::LOG_LOCAL1),
        ("local2", libc::LOG_LOCAL2),
        ("local3", libc::LOG_LOCAL3),
        ("local4", libc::LOG_LOCAL4),
        ("local5", libc::LOG_LOCAL5),
        ("local6", libc::LOG_LOCAL6),
        ("local7", libc::LOG_LOCAL7),
    ];

    /// Looks a facility up by name (`none` turns syslog off).
    pub fn from_name(name: &str) -> Option<Facility> {
        if name.eq_ignore_ascii_case("none") {
            return Some(Facility::None);
        }
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, code)| Facility::Code(*code))
    }
}

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings {
    /// also print to stderr (foreground)
    pub stderr: bool,
    /// syslog facility
    pub facility: Facility,
    /// include debug lines (`-D`)
    pub debug: bool,
}

/// Whether stderr is connected to the systemd journal: systemd sets `JOURNAL_STREAM` to the
/// `device:inode` of the stream it gives a service, and the journal then already keeps every
/// syslog line, so a line on stderr too would be there twice.
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr().as_fd()) {
        Ok(st) => names_stream(&stream, st.st_dev, st.st_ino),
        Err(_) => false,
    }
}

/// Whether `JOURNAL_STREAM`'s value names the file `device`/`inode`.
fn names_stream(value: &str, device: u64, inode: u64) -> bool {
    value
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((device, inode))
}

/// Installs the global subscriber.
pub fn init(settings: LogSettings) {
    if let Facility::Code(code) = settings.facility {
        syslog::open(code);
    }
    let layer = UcarpLayer { settings };
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

struct UcarpLayer {
    settings: LogSettings,
}

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for UcarpLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("carpd") {
            return;
        }
        let level = *meta.level();
        if level == Level::TRACE || (level == Level::DEBUG && !self.settings.debug) {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let (tag, priority) = match level {
            Level::ERROR => ("ERROR", libc::LOG_ERR),
            Level::WARN => ("WARNING", libc::LOG_WARNING),
            Level::INFO => ("INFO", libc::LOG_INFO),
            _ => ("DEBUG", libc::LOG_DEBUG),
        };
        let line = format!("[{tag}] {}", message.0);
        if self.settings.stderr {
            let stamp = humantime::format_rfc3339_micros(std::time::SystemTime::now());
            // Unbuffered: ucarp's INFO lines were lost in a stdout buffer when it was killed.
            let _ = writeln!(std::io::stderr().lock(), "{stamp}: {line}");
        }
        if matches!(self.settings.facility, Facility::Code(_)) {
            syslog::send(priority, &line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_names_a_device_and_inode() {
        assert!(names_stream("8:12345", 8, 12345));
        assert!(!names_stream("8:12345", 8, 12346));
        assert!(!names_stream("8:12345", 9, 12345));
        assert!(!names_stream("garbage", 8, 12345));
        assert!(!names_stream("", 0, 0));
    }

    #[test]
    fn facility_names() {
        assert_eq!(
            Facility::from_name("local7"),
            Some(Facility::Code(libc::LOG_LOCAL7))
        );
        assert_eq!(Facility::from_name("NONE"), Some(Facility::None));
        assert_eq!(Facility::from_name("bogus"), None);
    }
}
