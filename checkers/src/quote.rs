//! Quoting input in an error: at most [`MAX_BYTES`] of it.
//!
//! An error names the bad value so the user can find it, but a value can be anything a file
//! holds — a 50 MB line, a binary blob. Every error that quotes input quotes it through
//! [`clip`]: the start of the value, cut at a character boundary, and how long it was.

/// The most of a value an error quotes.
pub const MAX_BYTES: usize = 200;

/// `text` whole when short, else its first [`MAX_BYTES`] bytes (at a character boundary) and
/// "… (N bytes)".
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_BYTES {
        return text.into();
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len()).into()
}

/// [`clip`] for bytes that may not be UTF-8.
pub fn clip_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(MAX_BYTES)];
    let text = String::from_utf8_lossy(head);
    if bytes.len() <= MAX_BYTES {
        text.into_owned()
    } else {
        format!("{text}… ({} bytes)", bytes.len())
    }
}

/// The longest message an error prints, quotes included.
pub const MAX_MESSAGE_BYTES: usize = 2_000;

/// A message that may quote input (a parser's "unknown variant `…`", "invalid value: string
/// \"…\"") with every quoted span clipped to [`MAX_BYTES`], and the whole to
/// [`MAX_MESSAGE_BYTES`]: how an error from a library that quotes whole values is shown.
pub fn clip_message(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_BYTES {
        return message.into();
    }
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_BYTES + 64));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let mark = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(mark).unwrap_or(rest.len());
        out.push_str(&clip(&rest[..close]));
        rest = &rest[close..];
        if let Some(r) = rest.strip_prefix(mark) {
            out.push(mark);
            rest = r;
        }
        if out.len() > MAX_MESSAGE_BYTES {
            break;
        }
    }
    out.push_str(rest);
    if out.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        let total = message.len();
        out.truncate(end);
        out.push_str(&format!("… (message of {total} bytes cut)"));
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(300);
        let c = clip(&long);
        assert!(c.len() < MAX_BYTES + 30, "{}", c.len());
        assert!(c.ends_with("… (600 bytes)"), "{c}");
        assert_eq!(clip_bytes(&[b'x'; 201]).len(), 200 + "… (201 bytes)".len());
    }

    #[test]
    fn quoted_spans_of_a_message_are_clipped_and_the_rest_kept() {
        let v = "x".repeat(50_000);
        let m = format!("unknown variant `{v}`, expected one of `a`, `b` at line 2");
        let c = clip_message(&m);
        assert!(c.len() < 300, "{}", c.len());
        assert!(
            c.ends_with("(50000 bytes)`, expected one of `a`, `b` at line 2"),
            "{c}"
        );
        let m = format!("invalid value: string \"{v}");
        assert!(clip_message(&m).len() < 300);
        let many = "`ab` ".repeat(10_000);
        assert!(clip_message(&many).len() < MAX_MESSAGE_BYTES + 64);
        assert_eq!(clip_message("short `q`"), "short `q`");
    }
}
