//! A history's elements one at a time, and the common op map read without building a tree.
//!
//! [`parse_items`](super::parse_items) builds every element's [`Edn`] tree before the caller sees
//! the first: a million-op history is then ~850 bytes of memory per element (a `String` per
//! keyword, a `Vec` per map) and is read at ~40 MB/s. [`Items`] yields the same elements, in the
//! same order, with the same positions and the same errors, one at a time — so memory is what the
//! caller keeps — and reads the map Jepsen writes for nearly every op,
//! `{:type :ok, :f :acquire, :value nil, :process 3, :time 12, :index 7}`, as a [`Flat`]: keyword
//! keys and scalar (or two-scalar vector) values borrowed from the text, no allocation. Any
//! element that is not such a map (a tagged op, a nested value, a float, an escaped string, a
//! comment inside the map) is read by the full parser instead, so what it means never depends on
//! which path read it.

use super::{atom, Edn, EdnError, Parser, Spanned};

/// A scalar in a flat op map, borrowed from the text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    /// Without the colon.
    Keyword(&'a str),
    /// A string with no escapes in it.
    Str(&'a str),
}

/// A value in a flat op map: a scalar, or a vector of two (Jepsen's `[key value]` tuples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Atom<'a> {
    Scalar(Scalar<'a>),
    Pair(Scalar<'a>, Scalar<'a>),
}

impl Scalar<'_> {
    fn to_edn(self) -> Edn {
        match self {
            Scalar::Nil => Edn::Nil,
            Scalar::Bool(b) => Edn::Bool(b),
            Scalar::Int(i) => Edn::Int(i),
            Scalar::Keyword(k) => Edn::Keyword(k.to_string()),
            Scalar::Str(s) => Edn::Str(s.to_string()),
        }
    }
}

impl Atom<'_> {
    /// The same value as the full parser reads it.
    pub fn to_edn(self) -> Edn {
        match self {
            Atom::Scalar(s) => s.to_edn(),
            Atom::Pair(a, b) => Edn::Vector(vec![a.to_edn(), b.to_edn()]),
        }
    }
}

/// Entries a flat map may have (Jepsen's ops have 5-8); more go to the full parser.
const MAX_ENTRIES: usize = 10;

/// A map of keyword keys to [`Atom`]s, borrowed from the text.
#[derive(Clone, Debug)]
pub struct Flat<'a> {
    entries: [(&'a str, Atom<'a>); MAX_ENTRIES],
    len: usize,
}

impl<'a> Flat<'a> {
    /// The value under `key` (the first, when a key repeats, as [`Edn::get`]).
    pub fn get(&self, key: &str) -> Option<Atom<'a>> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The keyword under `key`, if it is one.
    pub fn keyword(&self, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some(Atom::Scalar(Scalar::Keyword(k))) => Some(k),
            _ => None,
        }
    }

    /// The entries in text order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Atom<'a>)> + '_ {
        self.entries[..self.len].iter().copied()
    }
}

/// One element: a flat op map (boxed: one allocation moves faster than 650 bytes, measured),
/// or any other value as the full parser reads it.
#[derive(Clone, Debug)]
pub enum Element<'a> {
    Flat(Box<Flat<'a>>),
    Value(Edn),
}

/// An element and where it starts (1-based line and column).
#[derive(Clone, Debug)]
pub struct Item<'a> {
    pub element: Element<'a>,
    pub line: usize,
    pub column: usize,
}

/// The elements of a history, one at a time: the top-level values, or — when the text is one
/// vector or list — that sequence's elements (as [`parse_items`](super::parse_items)).
pub struct Items<'a> {
    p: Parser<'a>,
    /// The closing bracket of a history written as one vector or list.
    close: Option<u8>,
    started: bool,
    done: bool,
}

/// Streams the elements of `text`.
pub fn items(text: &str) -> Items<'_> {
    Items {
        p: Parser::new(text),
        close: None,
        started: false,
        done: false,
    }
}

impl<'a> Items<'a> {
    fn next_item(&mut self) -> Result<Option<Item<'a>>, EdnError> {
        if !self.started {
            self.started = true;
            self.p.skip_ws()?;
            self.close = match self.p.peek() {
                Some(b'[') => Some(b']'),
                Some(b'(') => Some(b')'),
                _ => None,
            };
            if self.close.is_some() {
                self.p.bump();
            }
        }
        self.p.skip_ws()?;
        match (self.p.peek(), self.close) {
            (None, None) => return Ok(None),
            (None, Some(_)) => {
                return Err(self
                    .p
                    .error("the history's opening bracket is never closed"))
            }
            (Some(c), Some(close)) if c == close => {
                self.p.bump();
                self.p.skip_ws()?;
                if !self.p.at_end() {
                    return Err(self.p.error("text after the history's closing bracket"));
                }
                return Ok(None);
            }
            _ => {}
        }
        let (line, column) = (self.p.line, self.p.column);
        if let Some((flat, end)) = flat_map(self.p.text, self.p.pos) {
            self.p.advance_to(end);
            return Ok(Some(Item {
                element: Element::Flat(Box::new(flat)),
                line,
                column,
            }));
        }
        let value = self.p.value()?;
        Ok(Some(Item {
            element: Element::Value(value),
            line,
            column,
        }))
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, EdnError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_item().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}

impl<'a> Parser<'a> {
    /// Moves to byte `end` (on the same text), keeping the line and column right.
    fn advance_to(&mut self, end: usize) {
        for &c in &self.bytes[self.pos..end] {
            if c == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if c & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
        self.pos = end;
    }
}

fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace() || c == b','
}

/// Reads a flat op map starting at `pos` (a `{`): returns it and the position after its `}`,
/// or `None` when the element is anything else (then the full parser reads it).
fn flat_map(text: &str, pos: usize) -> Option<(Flat<'_>, usize)> {
    if text.as_bytes().get(pos) != Some(&b'{') {
        return None;
    }
    let mut flat = Flat {
        entries: [("", Atom::Scalar(Scalar::Nil)); MAX_ENTRIES],
        len: 0,
    };
    let mut i = pos + 1;
    loop {
        match entry(text, i)? {
            Some((key, value, next)) => {
                if flat.len == MAX_ENTRIES {
                    return None;
                }
                flat.entries[flat.len] = (key, value);
                flat.len += 1;
                i = next;
            }
            None => return Some((flat, skip_space(text.as_bytes(), i) + 1)),
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    i
}

/// The map entry at `i`: `Some(Some((key, value, after)))`, `Some(None)` at the closing `}`,
/// `None` when this is not a flat map.
#[allow(clippy::type_complexity)]
fn entry(text: &str, i: usize) -> Option<Option<(&str, Atom<'_>, usize)>> {
    let bytes = text.as_bytes();
    let i = skip_space(bytes, i);
    match bytes.get(i)? {
        b'}' => return Some(None),
        b':' => {}
        _ => return None,
    }
    let (key, after) = token(text, i + 1);
    if key.is_empty() {
        return None;
    }
    let i = skip_space(bytes, after);
    if bytes.get(i)? == &b'[' {
        let j = skip_space(bytes, i + 1);
        let (a, next) = scalar(text, j)?;
        let j = skip_space(bytes, next);
        let (b, next) = scalar(text, j)?;
        let j = skip_space(bytes, next);
        if bytes.get(j)? != &b']' {
            return None;
        }
        Some(Some((key, Atom::Pair(a, b), j + 1)))
    } else {
        let (s, next) = scalar(text, i)?;
        Some(Some((key, Atom::Scalar(s), next)))
    }
}

/// A token (up to the next delimiter) from `start`, and the position after it. A token ends at
/// an ASCII delimiter or the end, so the slice is on character boundaries.
fn token(text: &str, start: usize) -> (&str, usize) {
    let bytes = text.as_bytes();
    let mut i = start;
    while bytes.get(i).is_some_and(|&c| !super::is_delimiter(c)) {
        i += 1;
    }
    (&text[start..i], i)
}

fn scalar(text: &str, i: usize) -> Option<(Scalar<'_>, usize)> {
    let bytes = text.as_bytes();
    match *bytes.get(i)? {
        b':' => {
            let (name, end) = token(text, i + 1);
            (!name.is_empty()).then_some((Scalar::Keyword(name), end))
        }
        b'"' => {
            let start = i + 1;
            let mut j = start;
            loop {
                match *bytes.get(j)? {
                    b'"' => break,
                    b'\\' => return None,
                    _ => j += 1,
                }
            }
            Some((Scalar::Str(&text[start..j]), j + 1))
        }
        c if super::is_delimiter(c) || c == b'#' || c == b'\\' => None,
        _ => {
            let (t, end) = token(text, i);
            let s = match atom(t)? {
                Edn::Nil => Scalar::Nil,
                Edn::Bool(b) => Scalar::Bool(b),
                Edn::Int(n) => Scalar::Int(n),
                _ => return None,
            };
            Some((s, end))
        }
    }
}

/// The elements as [`super::parse_items`] returns them (the flat ones turned into trees): for
/// tests that both paths read the same.
pub fn collect(text: &str) -> Result<Vec<Spanned>, EdnError> {
    items(text)
        .map(|item| {
            item.map(|i| Spanned {
                value: match i.element {
                    Element::Value(v) => v,
                    Element::Flat(f) => Edn::Map(
                        f.entries()
                            .map(|(k, v)| (Edn::Keyword(k.to_string()), v.to_edn()))
                            .collect(),
                    ),
                },
                line: i.line,
                column: i.column,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse_items;
    use super::*;

    #[test]
    fn flat_and_full_readings_agree() {
        for text in [
            "{:type :invoke, :f :acquire, :value nil, :process 3, :time 12, :index 0}\n{:type :ok, :f :acquire, :value false, :process 3}",
            "[{:a 1}\n {:a 2}\n #_ {:a 9} #jepsen.history.Op{:a 3}]",
            "({:type :ok :f :read :value [\"k\" 5] :process 1 :time 99N})",
            "{:a \"x\\\"y\"} {:b 1.5} {:c [1 [2 3]]} {:d -x} {:e {:f 1}} ; comment\n{:g [:k nil]}",
            "  \n\n  {:a ; inside\n 1}  {:a 1 :a 2}",
            "{:caf\u{e9} \"\u{e9}\u{e9}\"}\n  {:z 1}",
        ] {
            assert_eq!(collect(text), parse_items(text), "{text}");
        }
    }

    #[test]
    fn generated_histories_read_the_same_both_ways() {
        use crate::linearizable::generate::{to_edn, LockSim, RegisterSim};
        for seed in 0..4 {
            let mut lock = LockSim::new(300, 5, seed, seed % 2 == 1);
            lock.info_percent = 10;
            let text = to_edn(&lock.history());
            assert_eq!(collect(&text), parse_items(&text), "lock seed {seed}");
            let text = to_edn(&RegisterSim::etcd(seed).history());
            assert_eq!(collect(&text), parse_items(&text), "register seed {seed}");
        }
    }

    #[test]
    fn errors_are_the_full_parsers() {
        for text in [
            "[{:a 1}",
            "[{:a 1}] x",
            "{:a 1}\n{:b [1 2}\n",
            "{:a 1 :b}",
            "{:a @x}",
            "}",
        ] {
            assert_eq!(collect(text), parse_items(text), "{text}");
        }
    }

    #[test]
    fn the_common_op_map_is_read_flat() {
        let mut it = items("{:type :ok, :f :acquire, :value [\"k\" false], :process 3}");
        let item = it.next().unwrap().unwrap();
        let Element::Flat(f) = item.element else {
            panic!("not read flat");
        };
        assert_eq!(f.keyword("type"), Some("ok"));
        assert_eq!(
            f.get("value"),
            Some(Atom::Pair(Scalar::Str("k"), Scalar::Bool(false)))
        );
        assert_eq!(f.get("process"), Some(Atom::Scalar(Scalar::Int(3))));
        assert!(it.next().is_none());
    }
}
