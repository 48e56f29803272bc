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

/// A map of keyword keys to [`Atom`]s, borrowed from the text: where each key and value starts.
/// Values are checked when the map is found and read only when asked for (a reader wants four
/// of an op's six to eight).
#[derive(Clone, Debug)]
pub struct Flat<'a> {
    text: &'a str,
    /// (key start, key length, value start), in text order.
    entries: [(u32, u32, u32); MAX_ENTRIES],
    len: usize,
}

impl<'a> Flat<'a> {
    /// The value under `key` (the first, when a key repeats, as [`Edn::get`]).
    pub fn get(&self, key: &str) -> Option<Atom<'a>> {
        let (bytes, key) = (self.text.as_bytes(), key.as_bytes());
        // Keys are a few bytes: a byte loop beats a call to memcmp.
        self.entries[..self.len]
            .iter()
            .find(|&&(k, n, _)| {
                n as usize == key.len()
                    && bytes[k as usize..(k + n) as usize]
                        .iter()
                        .zip(key)
                        .all(|(a, b)| a == b)
            })
            .map(|&(_, _, v)| atom_at(self.text, v as usize))
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
        self.entries[..self.len].iter().map(|&(k, n, v)| {
            (
                &self.text[k as usize..(k + n) as usize],
                atom_at(self.text, v as usize),
            )
        })
    }
}

/// One element: a flat op map (not boxed: moving its 144 bytes costs less than an allocation,
/// measured), or any other value as the full parser reads it.
#[derive(Clone, Debug)]
pub enum Element<'a> {
    Flat(Flat<'a>),
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
    state: Between,
    /// More text follows this one ([`Items::resume`]): its end is not the history's end.
    more: bool,
    done: bool,
}

/// Where a reader is between two elements, to go on in the next piece of a history read in
/// pieces ([`super::chunks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Between {
    /// The closing bracket of a history written as one vector or list.
    close: Option<u8>,
    /// The history's first non-blank character has been read.
    started: bool,
    /// Its closing bracket has been read: only blanks may follow.
    closed: bool,
}

/// Streams the elements of `text`.
pub fn items(text: &str) -> Items<'_> {
    Items {
        p: Parser::new(text),
        state: Between::default(),
        more: false,
        done: false,
    }
}

impl<'a> Items<'a> {
    /// Streams the elements of `text`, a piece of a history that starts at `line`, `column` in
    /// the state `state`; `more` when pieces follow. The piece ends where an element does not:
    /// the reader then stops without an error, and [`Items::position`] says where to go on.
    pub(crate) fn resume(
        text: &'a str,
        line: usize,
        column: usize,
        state: Between,
        more: bool,
    ) -> Items<'a> {
        let mut p = Parser::new(text);
        p.line = line;
        p.column = column;
        Items {
            p,
            state,
            more,
            done: false,
        }
    }

    /// Byte, line and column where the reader is, and its state between elements.
    pub(crate) fn position(&self) -> (usize, usize, usize, Between) {
        (self.p.pos, self.p.line, self.p.column, self.state)
    }

    /// Whether the last error came from the piece's end (more text may complete the element).
    pub(crate) fn ran_out(&self) -> bool {
        self.more && self.p.at_end()
    }

    fn next_item(&mut self) -> Result<Option<Item<'a>>, EdnError> {
        if self.state.closed {
            self.p.skip_ws()?;
            if !self.p.at_end() {
                return Err(self.p.error("text after the history's closing bracket"));
            }
            return Ok(None);
        }
        if !self.state.started {
            self.p.skip_ws()?;
            if self.more && self.p.at_end() {
                return Ok(None); // only blanks so far: the first piece with text decides
            }
            self.state.started = true;
            self.state.close = match self.p.peek() {
                Some(b'[') => Some(b']'),
                Some(b'(') => Some(b')'),
                _ => None,
            };
            if self.state.close.is_some() {
                self.p.bump();
            }
        }
        self.p.skip_ws()?;
        match (self.p.peek(), self.state.close) {
            (None, None) => return Ok(None),
            (None, Some(_)) if self.more => return Ok(None),
            (None, Some(_)) => {
                return Err(self
                    .p
                    .error("the history's opening bracket is never closed"))
            }
            (Some(c), Some(close)) if c == close => {
                self.p.bump();
                self.state.closed = true;
                self.p.skip_ws()?;
                if !self.p.at_end() {
                    return Err(self.p.error("text after the history's closing bracket"));
                }
                return Ok(None);
            }
            _ => {}
        }
        let (line, column) = (self.p.line, self.p.column);
        if let Some((flat, end, one_ascii_line)) = flat_map(self.p.text, self.p.pos) {
            if one_ascii_line {
                self.p.column += end - self.p.pos;
                self.p.pos = end;
            } else {
                self.p.advance_to(end);
            }
            return Ok(Some(Item {
                element: Element::Flat(flat),
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
        let skipped = &self.bytes[self.pos..end];
        let (line_start, newlines) = match skipped.iter().rposition(|&c| c == b'\n') {
            None => (0, 0),
            Some(last) => (
                last + 1,
                skipped[..last].iter().filter(|&&c| c == b'\n').count() + 1,
            ),
        };
        let tail = &skipped[line_start..];
        let chars = if tail.is_ascii() {
            tail.len()
        } else {
            tail.iter().filter(|&&c| c & 0xC0 != 0x80).count()
        };
        if newlines > 0 {
            self.line += newlines;
            self.column = 1 + chars;
        } else {
            self.column += chars;
        }
        self.pos = end;
    }
}

fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace() || c == b','
}

/// Reads a flat op map starting at `pos` (a `{`): returns it, the position after its `}` and
/// whether it was all on one line of ASCII (then its width is its length), or `None` when the
/// element is anything else (then the full parser reads it).
fn flat_map(text: &str, pos: usize) -> Option<(Flat<'_>, usize, bool)> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'{') || text.len() > u32::MAX as usize {
        return None;
    }
    let mut flat = Flat {
        text,
        entries: [(0, 0, 0); MAX_ENTRIES],
        len: 0,
    };
    let mut i = pos + 1;
    let mut newline = false;
    loop {
        i = skip_space_seeing(bytes, i, &mut newline);
        match bytes.get(i)? {
            b'}' => {
                let end = i + 1;
                // Strings and keywords may hold non-ASCII; spaces, newlines.
                let one_ascii_line = !newline && bytes[pos..end].is_ascii();
                return Some((flat, end, one_ascii_line));
            }
            b':' => {}
            _ => return None,
        }
        let (key, after) = token(text, i + 1);
        if key.is_empty() || flat.len == MAX_ENTRIES {
            return None;
        }
        let value = skip_space_seeing(bytes, after, &mut newline);
        flat.entries[flat.len] = ((i + 1) as u32, key.len() as u32, value as u32);
        flat.len += 1;
        i = check_value(text, value, &mut newline)?;
    }
}

fn skip_space(bytes: &[u8], i: usize) -> usize {
    skip_space_seeing(bytes, i, &mut false)
}

/// [`skip_space`], noting whether it crossed a newline.
fn skip_space_seeing(bytes: &[u8], mut i: usize, newline: &mut bool) -> usize {
    while let Some(&c) = bytes.get(i).filter(|&&c| is_space(c)) {
        *newline |= c == b'\n';
        i += 1;
    }
    i
}

/// The end of the value at `i` if it is one a flat map holds (a scalar, or a vector of two),
/// checked without reading it, noting whether it crossed a newline.
fn check_value(text: &str, i: usize, newline: &mut bool) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(i)? != &b'[' {
        return check_scalar(text, i, newline);
    }
    let j = check_scalar(text, skip_space_seeing(bytes, i + 1, newline), newline)?;
    let j = check_scalar(text, skip_space_seeing(bytes, j, newline), newline)?;
    let j = skip_space_seeing(bytes, j, newline);
    (bytes.get(j)? == &b']').then_some(j + 1)
}

/// The end of the scalar at `i`: a keyword, a string without escapes, `nil`, `true`, `false`,
/// or an integer of at most 18 digits (which [`atom`] surely reads as one); `None` for anything
/// else, which the full parser then reads.
fn check_scalar(text: &str, i: usize, newline: &mut bool) -> Option<usize> {
    let bytes = text.as_bytes();
    match *bytes.get(i)? {
        b':' => {
            let (name, end) = token(text, i + 1);
            (!name.is_empty()).then_some(end)
        }
        b'"' => {
            let mut j = i + 1;
            loop {
                match *bytes.get(j)? {
                    b'"' => return Some(j + 1),
                    b'\\' => return None,
                    c => {
                        *newline |= c == b'\n';
                        j += 1
                    }
                }
            }
        }
        _ => {
            let (t, end) = token(text, i);
            let ok = match t {
                "nil" | "true" | "false" => true,
                _ => {
                    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
                    let digits = digits.strip_suffix('N').unwrap_or(digits);
                    (1..=18).contains(&digits.len()) && digits.bytes().all(|c| c.is_ascii_digit())
                }
            };
            ok.then_some(end)
        }
    }
}

/// Reads the value at `i`, which [`check_value`] accepted.
fn atom_at(text: &str, i: usize) -> Atom<'_> {
    let bytes = text.as_bytes();
    if bytes.get(i) == Some(&b'[') {
        let j = skip_space(bytes, i + 1);
        let (a, next) = scalar(text, j).unwrap_or((Scalar::Nil, j));
        let (b, _) = scalar(text, skip_space(bytes, next)).unwrap_or((Scalar::Nil, next));
        Atom::Pair(a, b)
    } else {
        Atom::Scalar(scalar(text, i).map_or(Scalar::Nil, |(s, _)| s))
    }
}

/// Which bytes end a token (as [`super::is_delimiter`]), as a table: a token scan is the
/// reader's inner loop.
static DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = super::is_delimiter(c as u8);
        c += 1;
    }
    table
};

/// A token (up to the next delimiter) from `start`, and the position after it. A token ends at
/// an ASCII delimiter or the end, so the slice is on character boundaries.
fn token(text: &str, start: usize) -> (&str, usize) {
    let rest = text.as_bytes().get(start..).unwrap_or(&[]);
    let end = start
        + rest
            .iter()
            .position(|&c| DELIMITER[c as usize])
            .unwrap_or(rest.len());
    (&text[start..end], end)
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
            // Plain digits (most values: times, indexes, processes) need no general reader.
            if (1..=18).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_digit()) {
                let n = t.bytes().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
                return Some((Scalar::Int(n), end));
            }
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
            // Newlines inside a flat map move the next element's line and column.
            "{:a \"x\ny\"} {:b 1}\n{:a [1\n 2]} {:b 2}\n{:a\n1, :c\n:k} {:b 3} {:d \"\u{e9}\"} {:e 4}",
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
