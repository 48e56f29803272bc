//! A history read in pieces: the elements of a file, as [`super::items()`] reads them from its
//! whole text — the same elements, positions and errors — holding about one piece of text at a
//! time, so a million-op EDN history costs the calls a checker keeps, not the file.
//!
//! A piece ends at a newline; an element it cuts (a multi-line value, a string with a newline)
//! is read again with the next piece. An error that is not at a piece's end is the history's
//! error as the whole-text reader gives it.

use super::items::{Between, Item, Items};
use super::EdnError;
use std::io::Read;

/// Why reading stopped: the text, the reader, or what the caller did with an element.
#[derive(Debug)]
pub enum ChunkError<E> {
    Edn(EdnError),
    Io(std::io::Error),
    Each(E),
}

/// Hands every element of the history `reader` yields to `each`, in order, reading about
/// `piece_bytes` at a time.
pub fn for_each_item<R: Read, E>(
    mut reader: R,
    piece_bytes: usize,
    mut each: impl FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), ChunkError<E>> {
    let piece_bytes = piece_bytes.max(1);
    // Text not yet read as elements, and where it starts in the history.
    let mut buf: Vec<u8> = Vec::new();
    let (mut line, mut column, mut state) = (1, 1, Between::default());
    let mut ended = false;
    while !ended {
        let before = buf.len();
        buf.resize(before + piece_bytes, 0);
        let n = loop {
            match reader.read(&mut buf[before..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ChunkError::Io(e)),
            }
        };
        buf.truncate(before + n);
        ended = n == 0;
        // Up to the last newline (or everything, at the end): no character is cut. Without a
        // newline in what was just read, the text held cannot read further than last time.
        let cut = if ended {
            buf.len()
        } else {
            match buf[before..].iter().rposition(|&c| c == b'\n') {
                Some(i) => before + i + 1,
                None => continue,
            }
        };
        let text = std::str::from_utf8(&buf[..cut])
            .map_err(|e| ChunkError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let mut items = Items::resume(text, line, column, state, !ended);
        // Where the last whole element (or the piece's blank end) ends.
        let mut done_to = items.position();
        loop {
            match items.next() {
                Some(Ok(item)) => {
                    each(item).map_err(ChunkError::Each)?;
                    done_to = items.position();
                }
                None => {
                    done_to = items.position();
                    break;
                }
                Some(Err(_)) if items.ran_out() => break,
                Some(Err(e)) => return Err(ChunkError::Edn(e)),
            }
        }
        let (consumed, l, c, s) = done_to;
        (line, column, state) = (l, c, s);
        buf.drain(..consumed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edn::{collect, Spanned};

    /// The elements (as trees, with their positions) or the error, read in pieces.
    fn in_pieces(text: &str, piece_bytes: usize) -> Result<Vec<Spanned>, EdnError> {
        let mut out = Vec::new();
        let read = for_each_item(text.as_bytes(), piece_bytes, |item| -> Result<(), ()> {
            // One element's text as the whole-text reader gives it.
            let mut one = collect_one(item);
            out.append(&mut one);
            Ok(())
        });
        match read {
            Ok(()) => Ok(out),
            Err(ChunkError::Edn(e)) => Err(e),
            Err(other) => panic!("{other:?}"),
        }
    }

    fn collect_one(item: Item<'_>) -> Vec<Spanned> {
        vec![Spanned {
            value: match item.element {
                crate::edn::Element::Value(v) => v,
                crate::edn::Element::Flat(f) => crate::edn::Edn::Map(
                    f.entries()
                        .map(|(k, v)| (crate::edn::Edn::Keyword(k.to_string()), v.to_edn()))
                        .collect(),
                ),
            },
            line: item.line,
            column: item.column,
        }]
    }

    #[test]
    fn every_piece_size_reads_what_the_whole_text_reads() {
        let lock = crate::linearizable::generate::to_edn(
            &crate::linearizable::generate::LockSim::new(40, 3, 1, true).history(),
        );
        for text in [
            lock.as_str(),
            "{:type :invoke, :f :acquire, :value nil, :process 3, :time 12, :index 0}\n{:type :ok, :f :acquire, :value false, :process 3}\n",
            "[{:a 1}\n {:a 2}\n #_ {:a 9} #jepsen.history.Op{:a 3}]\n",
            "[{:a 1}\n {:a 2}]\n\n  \n",
            "\n\n  [{:a 1}\n {:a\n 2}]",
            "({:type :ok :f :read :value [\"k\" 5] :process 1 :time 99N})",
            "{:a \"x\\\"y\"} {:b 1.5} {:c [1 [2 3]]} {:d -x} {:e {:f 1}} ; comment\n{:g [:k nil]}",
            "  \n\n  {:a ; inside\n 1}  {:a 1 :a 2}",
            "{:caf\u{e9} \"\u{e9}\u{e9}\"}\n  {:z 1}",
            "{:a \"x\ny\"} {:b 1}\n{:a [1\n 2]} {:b 2}\n{:a\n1, :c\n:k} {:b 3}",
            // Errors: where they are, whatever the pieces.
            "[{:a 1}",
            "[{:a 1}\n] x",
            "[{:a 1}]\n\n\n x",
            "{:a 1}\n{:b [1 2}\n",
            "{:a 1}\n{:a 1 :b}\n{:c 1}\n",
            "{:a @x}",
            "}",
            "{:a \"never closed\n\n\n",
            "",
            "\n\n",
        ] {
            let whole = collect(text);
            for piece_bytes in 1..40 {
                assert_eq!(in_pieces(text, piece_bytes), whole, "{piece_bytes} bytes: {text}");
            }
            assert_eq!(in_pieces(text, 1 << 16), whole, "{text}");
        }
    }
}
