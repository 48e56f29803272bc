//! A small EDN reader: enough for Jepsen's `history.edn`.
//!
//! Jepsen writes histories as Clojure maps (`{:type :invoke, :f :read, :value nil, :process 0,
//! :time 123}`), either one per line or inside one vector. This reader knows what those use —
//! maps, vectors, lists, sets, keywords, symbols, integers, floats, strings, `nil`,
//! `true`/`false`, comments, `#_` discards and tagged values (`#jepsen.history.Op{...}`, kept with
//! their tag) — and reports anything else with the line and column where it starts, so a bad file
//! is fixed in an editor, not guessed at. No dependency, no macros, no evaluation.

mod chunks;
mod items;

pub use chunks::{for_each_item, ChunkError};
pub use items::{collect, items, Atom, Element, Flat, Item, Items, Scalar};
use std::fmt;

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Without the leading colon: `:acquire` is `Keyword("acquire")`.
    Keyword(String),
    Symbol(String),
    Vector(Vec<Edn>),
    List(Vec<Edn>),
    Set(Vec<Edn>),
    /// Entries in file order.
    Map(Vec<(Edn, Edn)>),
    Tagged(String, Box<Edn>),
}

impl Edn {
    /// The value under keyword `key` in a map (looking through a tag).
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key))
                .map(|(_, v)| v),
            Edn::Tagged(_, inner) => inner.get(key),
            _ => None,
        }
    }

    /// The keyword's name, if this is a keyword.
    pub fn as_keyword(&self) -> Option<&str> {
        match self {
            Edn::Keyword(k) => Some(k),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Edn::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Elements of a vector or list.
    pub fn as_seq(&self) -> Option<&[Edn]> {
        match self {
            Edn::Vector(items) | Edn::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        match self {
            Edn::Map(_) => true,
            Edn::Tagged(_, inner) => inner.is_map(),
            _ => false,
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Edn], close: &str) -> fmt::Result {
            f.write_str(open)?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(close)
        }
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) => write!(f, "{x}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::Vector(items) => seq(f, "[", items, "]"),
            Edn::List(items) => seq(f, "(", items, ")"),
            Edn::Set(items) => seq(f, "#{", items, "}"),
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_str("}")
            }
            Edn::Tagged(tag, inner) => write!(f, "#{tag} {inner}"),
        }
    }
}

/// A value and where it starts (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    pub value: Edn,
    pub line: usize,
    pub column: usize,
}

/// Text that is not the EDN this reader knows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}, column {column}: {message}")]
pub struct EdnError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every top-level value in `text`.
pub fn parse(text: &str) -> Result<Vec<Spanned>, EdnError> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    loop {
        p.skip_ws()?;
        if p.at_end() {
            return Ok(out);
        }
        out.push(spanned(&mut p)?);
    }
}

/// The value at the parser's position, with that position.
fn spanned(p: &mut Parser) -> Result<Spanned, EdnError> {
    let (line, column) = (p.line, p.column);
    let value = p.value()?;
    Ok(Spanned {
        value,
        line,
        column,
    })
}

/// The elements of a history: the top-level values, or — when the text is one vector or list —
/// that sequence's elements, each with its own position.
pub fn parse_items(text: &str) -> Result<Vec<Spanned>, EdnError> {
    let mut p = Parser::new(text);
    p.skip_ws()?;
    let close = match p.peek() {
        Some(b'[') => b']',
        Some(b'(') => b')',
        _ => return parse(text),
    };
    p.bump();
    let mut out = Vec::new();
    loop {
        p.skip_ws()?;
        match p.peek() {
            None => return Err(p.error("the history's opening bracket is never closed")),
            Some(c) if c == close => {
                p.bump();
                break;
            }
            Some(_) => out.push(spanned(&mut p)?),
        }
    }
    p.skip_ws()?;
    if !p.at_end() {
        return Err(p.error("text after the history's closing bracket"));
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
    /// Collections open around the current position (bounded: the parser recurses).
    depth: usize,
}

/// Histories nest a few levels; anything deeper is not a history and would exhaust the stack.
const MAX_DEPTH: usize = 128;

const fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            column: 1,
            depth: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if c & 0xC0 != 0x80 {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) -> Result<(), EdnError> {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || c == b',' {
                self.bump();
            } else if c == b';' {
                while let Some(c) = self.bump() {
                    if c == b'\n' {
                        break;
                    }
                }
            } else if c == b'#' && self.bytes.get(self.pos + 1) == Some(&b'_') {
                self.bump();
                self.bump();
                self.skip_ws()?;
                self.value()?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Edn, EdnError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!(
                "values nested more than {MAX_DEPTH} deep; a history's ops are flat maps"
            )));
        }
        self.depth += 1;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> Result<Edn, EdnError> {
        self.skip_ws()?;
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value, found the end of the text"));
        };
        match c {
            b'[' => {
                self.bump();
                Ok(Edn::Vector(self.seq(b']')?))
            }
            b'(' => {
                self.bump();
                Ok(Edn::List(self.seq(b')')?))
            }
            b'{' => {
                let (line, column) = (self.line, self.column);
                self.bump();
                let items = self.seq(b'}')?;
                if items.len() % 2 != 0 {
                    return Err(EdnError {
                        line,
                        column,
                        message: "a map needs an even number of forms (key value pairs)".into(),
                    });
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Edn::Map(entries))
            }
            b'"' => self.string(),
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => {
                        self.bump();
                        Ok(Edn::Set(self.seq(b'}')?))
                    }
                    Some(c) if c.is_ascii_alphabetic() => {
                        let tag = self.token();
                        let inner = self.value()?;
                        Ok(Edn::Tagged(tag.to_string(), Box::new(inner)))
                    }
                    _ => Err(self.error("unsupported dispatch `#`: expected `#{`, `#_` or a tag")),
                }
            }
            b')' | b']' | b'}' => Err(self.error(format!(
                "unexpected `{}` with nothing open to close",
                c as char
            ))),
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(self.error("a keyword needs a name after `:`"));
                }
                Ok(Edn::Keyword(name.to_string()))
            }
            b'\\' => {
                self.bump();
                let name = self.token();
                let c = match name {
                    "newline" => "\n".to_string(),
                    "space" => " ".to_string(),
                    "tab" => "\t".to_string(),
                    _ => name.to_string(),
                };
                Ok(Edn::Str(c))
            }
            _ => {
                let (line, column) = (self.line, self.column);
                let token = self.token();
                atom(token).ok_or_else(|| EdnError {
                    line,
                    column,
                    message: format!("`{token}` is not an EDN value this reader knows"),
                })
            }
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn seq(&mut self, close: u8) -> Result<Vec<Edn>, EdnError> {
        let (line, column) = (self.line, self.column);
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return Err(EdnError {
                        line,
                        column: column.saturating_sub(1).max(1),
                        message: format!("`{}` opened here is never closed", opener(close)),
                    })
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(b')' | b']' | b'}') => {
                    return Err(self.error(format!(
                        "expected `{}` to close the `{}` opened at line {line}, column {}",
                        close as char,
                        opener(close),
                        column.saturating_sub(1).max(1)
                    )))
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn string(&mut self) -> Result<Edn, EdnError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut s = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' {
                    break;
                }
                self.bump();
            }
            s.push_str(&self.text[start..self.pos]);
            match self.bump() {
                None => {
                    return Err(EdnError {
                        line,
                        column,
                        message: "string is never closed".into(),
                    })
                }
                Some(b'"') => return Ok(Edn::Str(s)),
                Some(_) => match self.bump() {
                    Some(b'n') => s.push('\n'),
                    Some(b't') => s.push('\t'),
                    Some(b'r') => s.push('\r'),
                    Some(b'"') => s.push('"'),
                    Some(b'\\') => s.push('\\'),
                    Some(b'u') => {
                        let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                        let c = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| self.error("bad `\\u` escape: expected 4 hex digits"))?;
                        for _ in 0..4 {
                            self.bump();
                        }
                        s.push(c);
                    }
                    _ => return Err(self.error("unknown escape in string")),
                },
            }
        }
    }
}

fn opener(close: u8) -> char {
    match close {
        b']' => '[',
        b')' => '(',
        _ => '{',
    }
}

fn atom(token: &str) -> Option<Edn> {
    match token {
        "" => None,
        "nil" => Some(Edn::Nil),
        "true" => Some(Edn::Bool(true)),
        "false" => Some(Edn::Bool(false)),
        _ => {
            let first = token.as_bytes()[0];
            let numeric = first.is_ascii_digit()
                || (matches!(first, b'-' | b'+')
                    && token.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
            if numeric {
                let t = token.strip_suffix('N').unwrap_or(token);
                if let Ok(i) = t.parse::<i64>() {
                    return Some(Edn::Int(i));
                }
                let t = token.strip_suffix('M').unwrap_or(token);
                t.parse::<f64>().ok().map(Edn::Float)
            } else {
                let symbolic =
                    |c: u8| c.is_ascii_alphanumeric() || b"*+!-_?$%&=<>./:#'".contains(&c);
                let ok = (first.is_ascii_alphabetic() || b"*+!-_?$%&=<>./".contains(&first))
                    && token.bytes().all(symbolic);
                ok.then(|| Edn::Symbol(token.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_jepsen_op() {
        let v = parse(
            r#"{:type :ok, :f :read, :value [1 nil], :process 3, :time 12N, :error "x\"y"} ; c"#,
        )
        .unwrap();
        assert_eq!(v.len(), 1);
        let op = &v[0].value;
        assert_eq!(op.get("type"), Some(&Edn::Keyword("ok".into())));
        assert_eq!(
            op.get("value"),
            Some(&Edn::Vector(vec![Edn::Int(1), Edn::Nil]))
        );
        assert_eq!(op.get("time"), Some(&Edn::Int(12)));
        assert_eq!(op.get("error"), Some(&Edn::Str("x\"y".into())));
    }

    #[test]
    fn items_of_one_vector_keep_their_lines() {
        let items = parse_items("[{:a 1}\n {:a 2}\n #_ {:a 9} #jepsen.history.Op{:a 3}]").unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!((items[1].line, items[1].column), (2, 2));
        assert!(items[2].value.is_map());
        assert_eq!(items[2].value.get("a"), Some(&Edn::Int(3)));
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse("{:a 1}\n{:b [1 2}\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 9), "{err}");
        let err = parse("{:a 1}\n  {:b 1").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        let err = parse("{:a 1 :b}").unwrap_err();
        assert!(err.message.contains("even number"), "{err}");
        let err = parse("{:a @x}").unwrap_err();
        assert_eq!((err.line, err.column), (1, 5), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "[".repeat(100_000);
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nested"), "{err}");
    }

    #[test]
    fn numbers_and_symbols() {
        let v: Vec<Edn> = parse("-3 +4 1.5 2e3 foo/bar -x true")
            .unwrap()
            .into_iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(
            v,
            vec![
                Edn::Int(-3),
                Edn::Int(4),
                Edn::Float(1.5),
                Edn::Float(2000.0),
                Edn::Symbol("foo/bar".into()),
                Edn::Symbol("-x".into()),
                Edn::Bool(true)
            ]
        );
    }
}
