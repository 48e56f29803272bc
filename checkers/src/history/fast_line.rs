//! The common shapes of a `history.jsonl` line, read without serde's generic machinery.
//!
//! A million-op history is two million lines of a handful of shapes: an acquire's lease, a
//! grant, a denial, a release, a resource access. Reading each through serde's derived
//! deserializer (field names matched by string, enums by map) ran at ~180 MB/s; this reader
//! matches the exact bytes fencepost writes for those shapes — fields in the order `Op`
//! serializes them, strings without escapes — and returns `None` for anything else, which then
//! goes to serde. So what a line means never depends on which reader read it (the tests compare
//! both on every shape), and a hand-edited or foreign line is read as before.

use super::{Grant, Op, OpKind, Process, Value, F};

/// Reads a line's index, process and type (the first fields fencepost writes), or `None`.
pub(super) fn head(line: &str) -> Option<super::Head> {
    let mut c = Cursor(line.as_bytes());
    let (index, _, process, kind) = fields(&mut c)?;
    Some(super::Head {
        index,
        process,
        kind,
    })
}

/// Reads one line, or `None` when it is not one of the common shapes exactly.
pub(super) fn parse(line: &str) -> Option<Op> {
    let mut c = Cursor(line.as_bytes());
    let (index, time_ns, process, kind) = fields(&mut c)?;
    c.tag(b",\"f\":")?;
    let f = match c.word()? {
        b"acquire" => F::Acquire,
        b"release" => F::Release,
        b"extend" => F::Extend,
        b"read" => F::Read,
        b"write" => F::Write,
        b"add" => F::Add,
        b"request" => F::Request,
        _ => return None,
    };
    c.tag(b",\"value\":")?;
    let value = value(&mut c)?;
    c.tag(b"}")?;
    c.0.is_empty().then_some(Op {
        index,
        time_ns,
        process,
        kind,
        f,
        value,
    })
}

/// The fields before `f`: index, time, process, type.
fn fields(c: &mut Cursor) -> Option<(u64, u64, Process, OpKind)> {
    c.tag(b"{\"index\":")?;
    let index = c.u64()?;
    c.tag(b",\"time_ns\":")?;
    let time_ns = c.u64()?;
    c.tag(b",\"process\":")?;
    let process = if c.tag(b"{\"client\":").is_some() {
        let n = c.u64()?;
        c.tag(b"}")?;
        Process::Client(u32::try_from(n).ok()?)
    } else {
        c.tag(b"\"nemesis\"")?;
        Process::Nemesis
    };
    c.tag(b",\"type\":")?;
    let kind = match c.word()? {
        b"invoke" => OpKind::Invoke,
        b"ok" => OpKind::Ok,
        b"fail" => OpKind::Fail,
        b"info" => OpKind::Info,
        _ => return None,
    };
    Some((index, time_ns, process, kind))
}

fn value(c: &mut Cursor) -> Option<Value> {
    if c.0.first() == Some(&b'"') {
        return Some(match c.word()? {
            b"none" => Value::None,
            b"denied" => Value::Denied,
            b"lapsed" => Value::Lapsed,
            b"released" => Value::Released,
            b"not-held" => Value::NotHeld,
            _ => return None,
        });
    }
    c.tag(b"{\"")?;
    let v = match c.until_quote()? {
        b"lease" => {
            let (key, ttl_ms) = key_and_number(c, b",\"ttl_ms\":")?;
            Value::Lease { key, ttl_ms }
        }
        b"held" => {
            let (key, fence) = key_and_number(c, b",\"fence\":")?;
            Value::Held { key, fence }
        }
        b"granted" => {
            c.tag(b":{\"fence\":")?;
            let fence = c.u64()?;
            c.tag(b",\"token\":")?;
            let token = c.string()?;
            c.tag(b",\"validity_end_ns\":")?;
            let validity_end_ns = c.u64()?;
            c.tag(b"}")?;
            Value::Granted(Grant {
                fence,
                token,
                validity_end_ns,
            })
        }
        b"access" => {
            c.tag(b":{\"fence\":")?;
            let fence = if c.tag(b"null").is_some() {
                None
            } else {
                Some(c.u64()?)
            };
            let write = if c.tag(b",\"write\":").is_some() {
                Some(c.i64()?)
            } else {
                None
            };
            c.tag(b"}")?;
            Value::Access { fence, write }
        }
        b"accepted" => {
            c.tag(b":{\"value\":")?;
            let value = c.i64()?;
            c.tag(b"}")?;
            Value::Accepted { value }
        }
        b"int" => {
            c.tag(b":")?;
            Value::Int(c.i64()?)
        }
        _ => return None,
    };
    c.tag(b"}")?;
    Some(v)
}

/// `:{"key":"…"` then `field` and a number, then `}`.
fn key_and_number(c: &mut Cursor, field: &[u8]) -> Option<(String, u64)> {
    c.tag(b":{\"key\":")?;
    let key = c.string()?;
    c.tag(field)?;
    let n = c.u64()?;
    c.tag(b"}")?;
    Some((key, n))
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    /// Consumes `t` if the input starts with it.
    fn tag(&mut self, t: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(t)?;
        Some(())
    }

    fn u64(&mut self) -> Option<u64> {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        // serde_json refuses leading zeros and overflow; so does this (by declining).
        if n == 0 || n > 19 || (n > 1 && self.0[0] == b'0') {
            return None;
        }
        let v = self.0[..n]
            .iter()
            .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
        self.0 = &self.0[n..];
        Some(v)
    }

    fn i64(&mut self) -> Option<i64> {
        if self.tag(b"-").is_some() {
            let v = self.u64()?;
            // -0 and i64::MIN go to serde.
            (v > 0 && v <= i64::MAX as u64).then(|| -(v as i64))
        } else {
            i64::try_from(self.u64()?).ok()
        }
    }

    /// The bytes up to the next quote, which is consumed (no escapes allowed).
    fn until_quote(&mut self) -> Option<&[u8]> {
        let n = self.0.iter().position(|&b| b == b'"' || b == b'\\')?;
        if self.0[n] != b'"' {
            return None;
        }
        let (word, rest) = self.0.split_at(n);
        self.0 = &rest[1..];
        Some(word)
    }

    /// A quoted string without escapes, as its bytes.
    fn word(&mut self) -> Option<&[u8]> {
        self.tag(b"\"")?;
        self.until_quote()
    }

    /// A quoted string without escapes or control characters.
    fn string(&mut self) -> Option<String> {
        let w = self.word()?;
        if w.iter().any(|&b| b < 0x20) {
            return None;
        }
        std::str::from_utf8(w).ok().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(process: Process, kind: OpKind, f: F, value: Value) -> Op {
        Op {
            index: 12,
            time_ns: 3_000_000_001,
            process,
            kind,
            f,
            value,
        }
    }

    /// A nemesis line: a shape only serde reads.
    fn fault_op() -> Op {
        op(
            Process::Nemesis,
            OpKind::Info,
            F::Start,
            Value::Fault(super::super::Fault {
                kind: "gc-pause".into(),
                target: "client 1".into(),
                id: 1,
                detail: String::new(),
                frozen: None,
                bends: None,
            }),
        )
    }

    #[test]
    fn every_common_shape_reads_as_serde_reads_it() {
        let c = Process::Client(7);
        let ops = [
            op(
                c,
                OpKind::Invoke,
                F::Acquire,
                Value::Lease {
                    key: "lock".into(),
                    ttl_ms: 300,
                },
            ),
            op(
                c,
                OpKind::Ok,
                F::Acquire,
                Value::Granted(Grant {
                    fence: 9,
                    token: "a1b2".into(),
                    validity_end_ns: 77,
                }),
            ),
            op(c, OpKind::Ok, F::Acquire, Value::Denied),
            op(c, OpKind::Ok, F::Acquire, Value::Lapsed),
            op(
                c,
                OpKind::Invoke,
                F::Release,
                Value::Held {
                    key: "lock".into(),
                    fence: 9,
                },
            ),
            op(c, OpKind::Ok, F::Release, Value::Released),
            op(c, OpKind::Ok, F::Release, Value::NotHeld),
            op(c, OpKind::Info, F::Release, Value::None),
            op(
                c,
                OpKind::Invoke,
                F::Write,
                Value::Access {
                    fence: Some(9),
                    write: Some(-4),
                },
            ),
            op(
                c,
                OpKind::Invoke,
                F::Read,
                Value::Access {
                    fence: None,
                    write: None,
                },
            ),
            op(c, OpKind::Ok, F::Write, Value::Accepted { value: 5 }),
            op(c, OpKind::Ok, F::Add, Value::Int(i64::MAX)),
            op(c, OpKind::Fail, F::Request, Value::Int(-1)),
            op(Process::Nemesis, OpKind::Invoke, F::Acquire, Value::None),
        ];
        for o in ops {
            let line = serde_json::to_string(&o).unwrap();
            assert_eq!(parse(&line), Some(o.clone()), "{line}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        let base = serde_json::to_string(&op(
            Process::Client(1),
            OpKind::Ok,
            F::Acquire,
            Value::Granted(Grant {
                fence: 1,
                token: "t".into(),
                validity_end_ns: 2,
            }),
        ))
        .unwrap();
        for line in [
            base.replace("\"t\"", "\"t\\\"x\""),          // an escape
            base.replace("{\"index\"", "{ \"index\""),    // other spacing
            base.replace("\"fence\":1", "\"fence\":01"),  // a leading zero
            base.replace("\"fence\":1", "\"fence\":1.0"), // not an integer
            base.replace("\"fence\":1", "\"fence\":99999999999999999999"), // overflow
            base.clone() + " ",                           // trailing bytes
            base.replace("\"ok\"", "\"maybe\""),          // an unknown word
        ] {
            assert_eq!(parse(&line), None, "{line}");
        }
        // Shapes it does not know (faults, messages, extensions) are serde's.
        let fault = serde_json::to_string(&fault_op()).unwrap();
        assert_eq!(parse(&fault), None);
    }

    #[test]
    fn generated_histories_read_alike_both_ways() {
        let mut fast = 0;
        for seed in 0..4 {
            let h = crate::linearizable::generate::LockSim::new(2_000, 10, seed, seed % 2 == 1)
                .history();
            let text = crate::linearizable::generate::to_jsonl(&h);
            for line in text.lines() {
                let by_serde: Op = serde_json::from_str(line).unwrap();
                if let Some(op) = parse(line) {
                    assert_eq!(op, by_serde, "{line}");
                    fast += 1;
                }
            }
        }
        assert!(
            fast > 10_000,
            "the common shapes take the fast path ({fast} lines)"
        );
    }

    #[test]
    fn picking_by_head_picks_what_filtering_the_read_ops_picks() {
        let mut h = crate::linearizable::generate::LockSim::new(500, 5, 3, false).history();
        // A line only serde reads, among the fast ones.
        h.ops.insert(10, fault_op());
        for (i, o) in h.ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let text = crate::linearizable::generate::to_jsonl(&h);
        let wanted = |head: &super::super::Head| {
            head.index.is_multiple_of(3) || head.process == Process::Nemesis
        };
        let mut ops = super::super::jsonl_ops("h", &text);
        let mut picked = Vec::new();
        let mut calls = 0;
        while let Some(op) = ops.next_kept(&mut |h| {
            calls += 1;
            wanted(h)
        }) {
            picked.push(op.unwrap());
        }
        let want: Vec<Op> = h
            .ops
            .iter()
            .filter(|o| {
                wanted(&super::super::Head {
                    index: o.index,
                    process: o.process,
                    kind: o.kind,
                })
            })
            .cloned()
            .collect();
        assert_eq!(picked, want);
        assert_eq!(calls, h.ops.len(), "judged once per line");
    }
}
