//! What goes over the control socket. A request is one JSON object on one line:
//! `{"command": "status"}`, `{"command": "status", "group": "web"}`,
//! `{"command": "demote", "group": "web"}`, `{"command": "demote", "all": true}`, the same for
//! `promote`, `{"command": "reload"}` and `{"command": "watch"}`. A reply is one JSON object on
//! one line; a failure is `{"error": "..."}` naming the value and what is accepted.

use serde::Deserialize;

/// A request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// every group, or one
    Status {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// drain a group (or every group): a master bows out, BACKUP until promoted
    Demote {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// end a drain
    Promote {
        /// the group's name, or every group
        group: Option<String>,
    },
    /// re-read the config file and apply the difference
    Reload,
    /// the event stream
    Watch,
}

/// A request as it comes off the wire.
#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "lowercase", deny_unknown_fields)]
enum Wire {
    Status {
        group: Option<String>,
    },
    Demote {
        group: Option<String>,
        #[serde(default)]
        all: bool,
    },
    Promote {
        group: Option<String>,
        #[serde(default)]
        all: bool,
    },
    Reload {},
    Watch {},
}

/// The one group named, or every group with `all`: exactly one of them.
fn target(command: &str, group: Option<String>, all: bool) -> Result<Option<String>, String> {
    match (group, all) {
        (Some(group), false) => Ok(Some(group)),
        (None, true) => Ok(None),
        (Some(group), true) => Err(format!(
            "{command}: group \"{group}\" and all: accepted a group or all, not both"
        )),
        (None, false) => Err(format!(
            "{command}: no group: accepted a group's name or all"
        )),
    }
}

impl Request {
    /// Parses one request line.
    pub fn parse(line: &str) -> Result<Request, String> {
        let wire: Wire = serde_json::from_str(line.trim_end()).map_err(|e| {
            format!(
                "bad request ({e}): accepted one JSON object with \"command\" one of status, demote, promote, reload, watch"
            )
        })?;
        Ok(match wire {
            Wire::Status { group } => Request::Status { group },
            Wire::Demote { group, all } => Request::Demote {
                group: target("demote", group, all)?,
            },
            Wire::Promote { group, all } => Request::Promote {
                group: target("promote", group, all)?,
            },
            Wire::Reload {} => Request::Reload,
            Wire::Watch {} => Request::Watch,
        })
    }
}

/// `{"error": message}`.
pub fn error_line(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_name_what_is_accepted() {
        assert_eq!(
            Request::parse(r#"{"command":"status"}"#),
            Ok(Request::Status { group: None })
        );
        assert_eq!(
            Request::parse("{\"command\":\"demote\",\"group\":\"web\"}\n"),
            Ok(Request::Demote {
                group: Some("web".into())
            })
        );
        assert_eq!(
            Request::parse(r#"{"command":"promote","all":true}"#),
            Ok(Request::Promote { group: None })
        );
        assert_eq!(
            Request::parse(r#"{"command":"reload"}"#),
            Ok(Request::Reload)
        );
        assert_eq!(Request::parse(r#"{"command":"watch"}"#), Ok(Request::Watch));
        for (bad, says) in [
            ("garbage", "accepted one JSON object"),
            (r#"{"command":"explode"}"#, "explode"),
            (r#"{"command":"status","colour":1}"#, "colour"),
            (r#"{"command":"demote"}"#, "accepted a group's name or all"),
            (r#"{"command":"demote","group":"a","all":true}"#, "not both"),
            ("[1,2]", "accepted one JSON object"),
        ] {
            let error = Request::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        let line = error_line("x \"y\"");
        assert_eq!(line, r#"{"error":"x \"y\""}"#);
    }
}
