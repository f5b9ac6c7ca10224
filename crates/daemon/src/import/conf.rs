//! keepalived.conf read into a tree of statements, each with its file and line: words split
//! on blanks (a double-quoted word keeps its blanks), `!` and `#` start a comment, `{` opens
//! the block of the statement before it (on its line or the next), `}` closes it, and
//! `include PATTERN` reads the files the pattern names (relative to the including file's
//! folder) in place. keepalived.conf(5) wants one keyword per line; a block may still hold
//! its items on the `{` line (`virtual_ipaddress { 10.0.0.1 }`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The largest file read, and the deepest include: a runaway include loop or a huge file is
/// refused instead of read until memory runs out.
const FILE_MAX: u64 = 16 << 20;
const INCLUDE_DEPTH: usize = 8;

/// Where a statement was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// the file
    pub file: Rc<PathBuf>,
    /// its line, from 1
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One statement: its keyword, its other words, and its block when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// the first word
    pub keyword: String,
    /// the words after it
    pub args: Vec<String>,
    /// where it is
    pub place: Place,
    /// the statements of its `{ }` block
    pub block: Option<Vec<Statement>>,
}

impl Statement {
    /// The statements of its block (none without one).
    pub fn items(&self) -> &[Statement] {
        self.block.as_deref().unwrap_or_default()
    }

    /// Its first argument.
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }
}

/// Why a file cannot be read: the place and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// where (line 0: the file as a whole)
    pub place: Place,
    /// what
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// A word or a brace, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Open,
    Close,
    EndOfLine,
}

/// Reads `path` and its includes into statements.
pub fn read(path: &Path) -> Result<Vec<Statement>, ReadError> {
    let mut tokens = Vec::new();
    tokenize_file(path, None, 0, &mut tokens)?;
    let mut at = 0;
    let statements = block(&tokens, &mut at, None)?;
    Ok(statements)
}

/// The tokens of `path` (included from `from` at `depth`), includes read in place.
fn tokenize_file(
    path: &Path,
    from: Option<&Place>,
    depth: usize,
    out: &mut Vec<(Token, Place)>,
) -> Result<(), ReadError> {
    let file = Rc::new(path.to_path_buf());
    let whole = |message: String| ReadError {
        place: from.cloned().unwrap_or(Place {
            file: file.clone(),
            line: 0,
        }),
        message,
    };
    if depth > INCLUDE_DEPTH {
        return Err(whole(format!(
            "include {}: more than {INCLUDE_DEPTH} levels of include (a loop?)",
            path.display()
        )));
    }
    let bytes = crate::sys::file::read_whole(path, FILE_MAX)
        .map_err(|e| whole(format!("{} {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    for (n, line) in text.lines().enumerate() {
        let place = Place {
            file: file.clone(),
            line: n + 1,
        };
        let words = split_line(line).map_err(|message| ReadError {
            place: place.clone(),
            message,
        })?;
        if let [Token::Word(k), Token::Word(pattern), ..] = words.as_slice() {
            if k == "include" {
                for included in expand(path, pattern).map_err(|message| ReadError {
                    place: place.clone(),
                    message,
                })? {
                    tokenize_file(&included, Some(&place), depth + 1, out)?;
                }
                continue;
            }
        }
        out.extend(words.into_iter().map(|t| (t, place.clone())));
        out.push((Token::EndOfLine, place));
    }
    Ok(())
}

/// The files an include pattern names, sorted; relative to `including`'s folder.
fn expand(including: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        including.parent().unwrap_or(Path::new(".")).join(pattern)
    };
    let text = full.to_string_lossy().to_string();
    let has_glob = pattern.contains(['*', '?', '[']);
    let mut files: Vec<PathBuf> = glob::glob(&text)
        .map_err(|e| format!("include {pattern}: {e}"))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() && !has_glob {
        return Err(format!(
            "include {pattern}: {} does not exist or is not a file",
            full.display()
        ));
    }
    Ok(files)
}

/// One line's tokens: comments dropped, quoted words kept whole, braces apart.
fn split_line(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '!' | '#' => break,
            '{' => {
                chars.next();
                tokens.push(Token::Open);
            }
            '}' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => word.push(c),
                        None => {
                            return Err(format!(
                            "unterminated quote in {line:?}: accepted \"...\" closed on its line"
                        ))
                        }
                    }
                }
                tokens.push(Token::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Statements until the `}` of the block opened at `opened` (or the end of the input at the
/// top level).
fn block(
    tokens: &[(Token, Place)],
    at: &mut usize,
    opened: Option<&Place>,
) -> Result<Vec<Statement>, ReadError> {
    let mut statements: Vec<Statement> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut start: Option<Place> = None;
    // The last statement ended at the end of its line without a block: a `{` alone on the
    // next line opens its block.
    let mut may_open_last = false;
    while *at < tokens.len() {
        let (token, place) = &tokens[*at];
        *at += 1;
        match token {
            Token::Word(w) => {
                start.get_or_insert_with(|| place.clone());
                words.push(w.clone());
                may_open_last = false;
            }
            Token::EndOfLine => {
                if let Some(s) = finish(&mut words, &mut start) {
                    statements.push(s);
                    may_open_last = true;
                }
            }
            Token::Open => {
                let inner = block(tokens, at, Some(place))?;
                match finish(&mut words, &mut start) {
                    Some(mut s) => {
                        s.block = Some(inner);
                        statements.push(s);
                    }
                    None => {
                        match statements.last_mut() {
                            Some(last) if may_open_last && last.block.is_none() => {
                                last.block = Some(inner)
                            }
                            _ => return Err(ReadError {
                                place: place.clone(),
                                message:
                                    "{ without a keyword before it: accepted KEYWORD [ARGS] { ... }"
                                        .into(),
                            }),
                        }
                    }
                }
                may_open_last = false;
            }
            Token::Close => {
                if let Some(s) = finish(&mut words, &mut start) {
                    statements.push(s);
                }
                return match opened {
                    Some(_) => Ok(statements),
                    None => Err(ReadError {
                        place: place.clone(),
                        message: "} without a { before it".into(),
                    }),
                };
            }
        }
    }
    if let Some(s) = finish(&mut words, &mut start) {
        statements.push(s);
    }
    match opened {
        Some(place) => Err(ReadError {
            place: place.clone(),
            message: "{ never closed: accepted a } for each {".into(),
        }),
        None => Ok(statements),
    }
}

/// The statement of the words gathered, if any.
fn finish(words: &mut Vec<String>, start: &mut Option<Place>) -> Option<Statement> {
    if words.is_empty() {
        return None;
    }
    let mut all = std::mem::take(words).into_iter();
    let keyword = all.next()?;
    Some(Statement {
        keyword,
        args: all.collect(),
        place: start.take()?,
        block: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("carpd-conf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn blocks_comments_quotes_and_includes() {
        let dir = scratch("ok");
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        write(
            &dir.join("conf.d"),
            "b.conf",
            "vrrp_script chk {\n  script \"/bin/pidof nginx\"  # quoted\n}\n",
        );
        let main = write(
            &dir,
            "keepalived.conf",
            "! a comment\nglobal_defs {\n  router_id r1\n}\ninclude conf.d/*.conf\nvrrp_instance VI_1\n{\n  virtual_ipaddress { 10.0.0.1/24 dev eth0 }\n}\n",
        );
        let s = read(&main).unwrap();
        let keywords: Vec<&str> = s.iter().map(|s| s.keyword.as_str()).collect();
        assert_eq!(keywords, ["global_defs", "vrrp_script", "vrrp_instance"]);
        assert_eq!(s[0].items()[0].args, ["r1"]);
        assert_eq!(s[1].items()[0].args, ["/bin/pidof nginx"]);
        assert!(s[1].place.file.ends_with("conf.d/b.conf"));
        assert_eq!(s[1].place.line, 1);
        assert_eq!(s[2].place.line, 6);
        let vips = &s[2].items()[0];
        assert_eq!(vips.keyword, "virtual_ipaddress");
        assert_eq!(vips.items()[0].keyword, "10.0.0.1/24");
        assert_eq!(vips.items()[0].args, ["dev", "eth0"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_unreadable_file_names_its_place() {
        let dir = scratch("bad");
        for (text, needle) in [
            ("vrrp_instance a {\n", "keepalived.conf:1: { never closed"),
            ("}\n", "keepalived.conf:1: } without a {"),
            ("a \"b\n", "keepalived.conf:1: unterminated quote"),
            (
                "include missing.conf\n",
                "keepalived.conf:1: include missing.conf",
            ),
            ("{\n}\n", "keepalived.conf:1: { without a keyword"),
            ("include keepalived.conf\n", "more than 8 levels of include"),
        ] {
            let main = write(&dir, "keepalived.conf", text);
            let e = read(&main).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        let e = read(&dir.join("nope.conf")).unwrap_err().to_string();
        assert!(e.contains("nope.conf:0:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
