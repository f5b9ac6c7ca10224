//! The carpd config an import writes: trackers then groups, each key with a comment where
//! keepalived said it otherwise or behaves in a way worth knowing.

use std::fmt::Write;

/// One key line: the key, its TOML value, and a comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    key: &'static str,
    value: String,
    comment: Option<String>,
}

/// A `[[tracker]]` or `[[group]]` table being written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// comment lines above the table
    pub notes: Vec<String>,
    keys: Vec<Key>,
}

impl Table {
    /// Adds `key = value` (`value` already TOML).
    pub fn raw(&mut self, key: &'static str, value: String) -> &mut Key {
        self.keys.push(Key {
            key,
            value,
            comment: None,
        });
        self.keys.last_mut().expect("just pushed")
    }

    /// Adds a string key.
    pub fn string(&mut self, key: &'static str, value: &str) -> &mut Key {
        self.raw(key, quote(value))
    }

    /// Adds a list of strings.
    pub fn strings(&mut self, key: &'static str, values: &[String]) -> &mut Key {
        let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
        self.raw(key, format!("[{}]", list.join(", ")))
    }

    /// Adds a number of seconds, written as briefly as it reads (`1`, `0.5`).
    pub fn seconds(&mut self, key: &'static str, value: f64) -> &mut Key {
        self.raw(key, seconds(value))
    }
}

impl Key {
    /// Puts a comment after the key.
    pub fn note(&mut self, comment: impl Into<String>) {
        self.comment = Some(comment.into());
    }
}

/// A TOML basic string.
pub fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Seconds as briefly as they read.
pub fn seconds(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// The whole file: a header, the trackers, the groups.
pub fn file(header: &[String], trackers: &[Table], groups: &[Table]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    for (name, tables) in [("tracker", trackers), ("group", groups)] {
        for table in tables {
            out.push('\n');
            for note in &table.notes {
                let _ = writeln!(out, "# {note}");
            }
            let _ = writeln!(out, "[[{name}]]");
            for k in &table.keys {
                match &k.comment {
                    Some(c) => {
                        let _ = writeln!(out, "{} = {}  # {c}", k.key, k.value);
                    }
                    None => {
                        let _ = writeln!(out, "{} = {}", k.key, k.value);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_written_with_their_notes_and_comments() {
        let mut t = Table::default();
        t.notes.push("from vrrp_instance VI_1".into());
        t.string("name", "VI_1");
        t.seconds("advert_interval", 0.5)
            .note("keepalived advert_int 0.5");
        t.strings("vips", &["10.0.0.1/32".into(), "10.0.0.2/24".into()]);
        t.raw("priority", "100".into());
        let text = file(&["header".into()], &[], &[t]);
        assert_eq!(
            text,
            "# header\n\n# from vrrp_instance VI_1\n[[group]]\nname = \"VI_1\"\nadvert_interval = 0.5  # keepalived advert_int 0.5\nvips = [\"10.0.0.1/32\", \"10.0.0.2/24\"]\npriority = 100\n"
        );
        for text in ["a \"b\" \\ c", "it's \"x\"", "line\nbreak"] {
            let back: toml::Table = toml::from_str(&format!("x = {}", quote(text))).unwrap();
            assert_eq!(back["x"].as_str(), Some(text), "{}", quote(text));
        }
        assert_eq!(seconds(2.0), "2");
        assert_eq!(seconds(0.25), "0.25");
    }
}
