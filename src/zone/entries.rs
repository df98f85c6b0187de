//! Where each record of a zone file starts: a light tokenizer used only for error messages.
//!
//! hickory-proto's master-file parser does the real parsing, but its errors carry no line
//! numbers. This module splits the same text into entries (one resource record or directive,
//! following parentheses and quoted strings across lines) and remembers the line each starts
//! on. The loader uses it to name `file:line` for a parse error (by finding the first entry
//! whose inclusion makes the parse fail) and for semantic errors (by owner name and type).

use hickory_proto::rr::{Name, RecordType};
use std::str::FromStr;

/// One logical entry of a master file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line the entry starts on.
    pub line: usize,
    /// 1-based line the entry ends on (differs from `line` inside parentheses).
    pub end_line: usize,
    /// Byte offset just past the end of the entry's last line (including its newline).
    pub end_offset: usize,
    /// True when the entry starts with white space (it reuses the previous owner).
    pub starts_blank: bool,
    /// The entry's tokens, quotes removed.
    pub tokens: Vec<String>,
}

/// A tokenizer error: (line, message).
pub type SplitError = (usize, String);

/// Split master-file text into entries.
pub fn split(text: &str) -> Result<Vec<Entry>, SplitError> {
    let mut entries = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut in_quote = false;
    let mut quote_line = 0;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut line = 1usize;
    let mut entry_line = 1usize;
    let mut starts_blank = false;
    let mut at_line_start = true;
    let mut chars = text.char_indices().peekable();

    let flush_token = |tokens: &mut Vec<String>, cur: &mut String, in_token: &mut bool| {
        if *in_token {
            tokens.push(std::mem::take(cur));
            *in_token = false;
        }
    };

    while let Some((i, c)) = chars.next() {
        if at_line_start && depth == 0 && !in_quote {
            entry_line = line;
            starts_blank = c == ' ' || c == '\t';
            at_line_start = false;
        }
        if in_quote {
            match c {
                '\\' => {
                    cur.push(c);
                    if let Some((_, n)) = chars.next() {
                        if n == '\n' {
                            line += 1;
                        }
                        cur.push(n);
                    }
                }
                '"' => {
                    in_quote = false;
                    tokens.push(std::mem::take(&mut cur));
                    in_token = false;
                }
                '\n' => {
                    line += 1;
                    cur.push(c);
                }
                _ => cur.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                flush_token(&mut tokens, &mut cur, &mut in_token);
                in_quote = true;
                quote_line = line;
            }
            ';' => {
                // comment to end of line
                while let Some(&(_, n)) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '(' => {
                flush_token(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
            }
            ')' => {
                flush_token(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    return Err((line, "closing parenthesis without an opening one".into()));
                }
                depth -= 1;
            }
            '\\' => {
                cur.push(c);
                in_token = true;
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' | '\t' | '\r' => flush_token(&mut tokens, &mut cur, &mut in_token),
            '\n' => {
                flush_token(&mut tokens, &mut cur, &mut in_token);
                if depth == 0 {
                    if !tokens.is_empty() {
                        entries.push(Entry {
                            line: entry_line,
                            end_line: line,
                            end_offset: i + 1,
                            starts_blank,
                            tokens: std::mem::take(&mut tokens),
                        });
                    }
                    at_line_start = true;
                }
                line += 1;
            }
            _ => {
                cur.push(c);
                in_token = true;
            }
        }
    }
    if in_quote {
        return Err((quote_line, "unclosed quoted string".into()));
    }
    if depth > 0 {
        return Err((paren_line, "unclosed parenthesis".into()));
    }
    flush_token(&mut tokens, &mut cur, &mut in_token);
    if !tokens.is_empty() {
        entries.push(Entry {
            line: entry_line,
            end_line: line,
            end_offset: text.len(),
            starts_blank,
            tokens,
        });
    }
    Ok(entries)
}

/// The owner and type of each record entry, for naming lines in semantic errors.
#[derive(Debug, Clone)]
pub struct LineIndex {
    records: Vec<(Name, Option<RecordType>, usize)>,
}

impl LineIndex {
    /// Index entries, resolving relative owners against `origin` and following `$ORIGIN`.
    pub fn new(entries: &[Entry], origin: Option<&Name>) -> Self {
        let mut origin = origin.cloned();
        let mut owner: Option<Name> = None;
        let mut records = Vec::new();
        for e in entries {
            let first = e.tokens[0].as_str();
            if first.eq_ignore_ascii_case("$ORIGIN") {
                if let Some(o) = e.tokens.get(1) {
                    origin = Name::parse(o, origin.as_ref()).ok();
                }
                continue;
            }
            if first.starts_with('$') {
                continue;
            }
            let rest = if e.starts_blank {
                &e.tokens[..]
            } else {
                owner = if first == "@" {
                    origin.clone()
                } else {
                    Name::parse(first, origin.as_ref()).ok()
                };
                &e.tokens[1..]
            };
            let rtype = rest
                .iter()
                .take(3)
                .find_map(|t| RecordType::from_str(&t.to_ascii_uppercase()).ok());
            if let Some(o) = &owner {
                records.push((o.clone(), rtype, e.line));
            }
        }
        Self { records }
    }

    /// The first line with a record owned by `name` (of type `rtype`, when given).
    pub fn line_of(&self, name: &Name, rtype: Option<RecordType>) -> Option<usize> {
        self.records
            .iter()
            .find(|(n, t, _)| n == name && (rtype.is_none() || *t == rtype))
            .map(|(_, _, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_parentheses_quotes_and_comments() {
        let text = "$ORIGIN ex.\n@ SOA ns ( host ; c\n 1 2 3 4 5 )\n\nwww A 1.2.3.4 ; c\n  TXT \"a ; (\" b\n";
        let e = split(text).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!((e[1].line, e[1].end_line), (2, 3));
        assert_eq!(e[1].tokens.len(), 9);
        assert_eq!(e[2].line, 5);
        assert_eq!(e[3].tokens, vec!["TXT", "a ; (", "b"]);
        assert!(e[3].starts_blank);
        let idx = LineIndex::new(&e, None);
        let www = Name::from_ascii("www.ex.").unwrap();
        assert_eq!(idx.line_of(&www, Some(RecordType::TXT)), Some(6));
        assert_eq!(idx.line_of(&www, Some(RecordType::A)), Some(5));
    }

    #[test]
    fn unbalanced_input_names_the_line() {
        assert_eq!(split("a A 1\nb TXT \"open\n").unwrap_err().0, 2);
        assert_eq!(split("a A 1\n\nb SOA ( 1 2\n").unwrap_err().0, 3);
        assert_eq!(split("a A 1 )\n").unwrap_err().0, 1);
    }
}
