//! The two serialisations the old job used:
//! - [`write_ascii`]: `json.dumps(doc)`: ASCII only, `", "` and `": "` separators,
//!   insertion order (the text the sanitise step edits);
//! - [`write_canonical`]: `json.dumps(doc, ensure_ascii=False, separators=(",", ":"),
//!   sort_keys=True)`: UTF-8, compact, keys sorted by code point (the published `val`).

use super::float::write_json_float;
use super::value::{Object, Value};
use super::words;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes that need an escape in either mode: control characters, `"` and `\`.
pub(super) static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Bytes the ASCII mode must not copy as they are: the above, DEL and non-ASCII
/// (CPython's `ESCAPE_ASCII` is `([\\"]|[^\ -~])`, so DEL is `\u007f` there).
static ESCAPE_ASCII: [bool; 256] = {
    let mut t = ESCAPE;
    let mut i = 0x7f;
    while i < 0x100 {
        t[i] = true;
        i += 1;
    }
    t
};

fn push_u_escape(unit: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize]);
    }
}

fn push_escape(b: u8, out: &mut Vec<u8>) {
    let (escape, len) = escape_of(b);
    out.extend_from_slice(&escape[..len]);
}

/// Writes a string as `json.dumps` does with `ensure_ascii=True`.
pub fn write_ascii_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !ESCAPE_ASCII[b as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if b < 0x80 {
            push_escape(b, out);
            i += 1;
        } else {
            // A multi-byte char: `i` is on a char boundary because every
            // earlier byte we stepped over was ASCII or a whole char.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let code = c as u32;
            if code >= 0x10000 {
                let v = code - 0x10000;
                push_u_escape(0xD800 | (v >> 10), out);
                push_u_escape(0xDC00 | (v & 0x3FF), out);
            } else {
                push_u_escape(code, out);
            }
            i += c.len_utf8();
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes a string as `json.dumps` does with `ensure_ascii=False`.
pub fn write_utf8_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: one pass to tell, then a plain copy.
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Escapes are found a word at a time and the output is written in
    // place: a `val` written as a JSON string (the JSON lines output) has a
    // `"` every few bytes, and a copy call per stretch between two of them
    // cost more than the bytes (each word is stored whole, then the output
    // moves on past its clean bytes only).
    let base = out.len();
    // Invariant: room for every byte left escaped as two (`\"`, `\n`...)
    // and a spare word; a six-byte `\u00XX` makes more as it comes.
    let room = |left: usize| 2 * left + 8;
    out.resize(base + room(bytes.len()), 0);
    let mut j = base;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            out[j..j + 8].copy_from_slice(&word);
            let mask = escape_mask(u64::from_le_bytes(word));
            if mask == 0 {
                i += 8;
                j += 8;
                continue;
            }
            let clean = (mask.trailing_zeros() / 8) as usize;
            i += clean;
            j += clean;
        }
        let b = bytes[i];
        i += 1;
        if !ESCAPE[b as usize] {
            out[j] = b;
            j += 1;
            continue;
        }
        let (escape, len) = escape_of(b);
        let need = j + len + room(bytes.len() - i);
        if need > out.len() {
            out.resize(need, 0);
        }
        out[j..j + len].copy_from_slice(&escape[..len]);
        j += len;
    }
    out.truncate(j);
    out.push(b'"');
}

/// Whether any byte of `bytes` is in [`ESCAPE`] (short strings a word at a
/// time).
fn needs_escape(bytes: &[u8]) -> bool {
    words::any_byte(bytes, escape_mask, |b| {
        (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// The escape `json.dumps` writes for a byte of [`ESCAPE`], and its length.
fn escape_of(b: u8) -> ([u8; 6], usize) {
    let short = |c: u8| ([b'\\', c, 0, 0, 0, 0], 2);
    match b {
        b'"' => short(b'"'),
        b'\\' => short(b'\\'),
        b'\n' => short(b'n'),
        b'\r' => short(b'r'),
        b'\t' => short(b't'),
        0x08 => short(b'b'),
        0x0c => short(b'f'),
        other => (
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(other >> 4)],
                HEX[usize::from(other & 0xF)],
            ],
            6,
        ),
    }
}

/// The bytes of a little-endian word that need an escape (a control
/// character, `"` or `\`), as each byte's top bit. The lowest flagged byte
/// is always one of them; a byte above it may be flagged falsely (the
/// subtraction's borrow runs on), so callers use only the lowest.
pub(super) fn escape_mask(word: u64) -> u64 {
    words::below(word, 0x20) | words::equal(word, b'"') | words::equal(word, b'\\')
}

/// `json.dumps(value)`: ASCII, insertion order, `", "` and `": "`.
pub fn write_ascii(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(text) => out.extend_from_slice(text.as_bytes()),
        Value::Float(f) => write_json_float(*f, out),
        Value::Str(s) => write_ascii_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_ascii(item, out);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            for (i, (key, item)) in object.entries.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_ascii_str(key, out);
                out.extend_from_slice(b": ");
                write_ascii(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Sorts an object's keys by code point (UTF-8 byte order is code point order)
/// and drops all but the last of equal keys: a `dict` rebuilt from text in which
/// renaming made two keys equal keeps the later value.
pub(crate) fn sort_and_dedup(object: &mut Object<'_>) {
    let entries = &mut object.entries;
    if entries.len() < 2 {
        return;
    }
    // Stable: equal keys stay in insertion order, so the last one is the winner.
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if entries.windows(2).any(|w| w[0].0 == w[1].0) {
        let mut i = 0;
        while i + 1 < entries.len() {
            if entries[i].0 == entries[i + 1].0 {
                entries.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

/// Canonical `val` text: sorts objects in place (the tree is spent afterwards),
/// then writes UTF-8, compact, sorted keys.
pub fn write_canonical(value: &mut Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => write_ascii(value, out),
        Value::Str(s) => write_utf8_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            sort_and_dedup(object);
            out.push(b'{');
            for (i, (key, item)) in object.entries.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_utf8_str(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Canonical text of a value without consuming it (for ids: small objects).
pub fn canonical_string(value: &Value<'_>) -> String {
    let mut copy = value.clone();
    let mut out = Vec::new();
    write_canonical(&mut copy, &mut out);
    // Only UTF-8 text and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    #[test]
    fn ascii_mode_escapes_like_python() {
        let v = parse(r#"{"k\u00e9": "\u0000\u001f\u007f\ud83d\ude00\"\\\b\f\n\r\t/"}"#).unwrap();
        let mut out = Vec::new();
        write_ascii(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"k\u00e9": "\u0000\u001f\u007f\ud83d\ude00\"\\\b\f\n\r\t/"}"#
        );
    }

    /// Escapes found a word at a time are serde_json's and `json.dumps`'s
    /// (`ensure_ascii=False`): every string of quotes, backslashes, control
    /// characters, DEL and multi-byte characters, at every offset in a word.
    #[test]
    fn utf8_strings_escape_as_serde_json_does() {
        let pieces = [
            "a", "\"", "\\", "\n", "\u{1}", "\u{1f}", " ", "\u{7f}", "é", "😀", "xyzw1234",
        ];
        let mut state = 0x9e37_79b9_u32;
        for case in 0..3_000 {
            let mut text = String::new();
            let len = case % 40;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                text.push_str(pieces[state as usize % pieces.len()]);
            }
            // Written after what the buffer holds, never over it.
            let mut out = b"[1, ".to_vec();
            write_utf8_str(&text, &mut out);
            let expected = format!("[1, {}", serde_json::to_string(&text).unwrap());
            assert_eq!(String::from_utf8(out).unwrap(), expected, "case {case}");
        }
    }

    /// A string of control characters escapes to six bytes each, past the
    /// room made for two-byte escapes.
    #[test]
    fn six_byte_escapes_make_their_own_room() {
        for len in [1, 7, 8, 9, 64, 1000] {
            let text: String = (0..len).map(|i| char::from((i % 0x1f) as u8)).collect();
            let text = format!("{text}\"tail");
            let mut out = Vec::new();
            write_utf8_str(&text, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&text).unwrap(),
                "length {len}"
            );
        }
    }

    #[test]
    fn canonical_sorts_by_code_point_and_keeps_utf8() {
        let mut v =
            parse(r#"{"b": 1, "a": [1.0, {"z": null, "\u00e9": "\u00e9\n", "Z": true}], "\ud83d\ude00": 2}"#)
                .unwrap();
        let mut out = Vec::new();
        write_canonical(&mut v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":[1.0,{\"Z\":true,\"z\":null,\"\u{e9}\":\"\u{e9}\\n\"}],\"b\":1,\"\u{1F600}\":2}"
        );
    }

    #[test]
    fn canonical_keeps_last_of_equal_keys() {
        let mut o = Object::new();
        o.push_unchecked("d_x".into(), Value::Int("1".into()));
        o.push_unchecked("a".into(), Value::Null);
        o.push_unchecked("d_x".into(), Value::Int("2".into()));
        let mut v = Value::Object(o);
        let mut out = Vec::new();
        write_canonical(&mut v, &mut out);
        assert_eq!(out, br#"{"a":null,"d_x":2}"#);
    }

    /// The word-at-a-time test agrees with the escape table on every byte
    /// value at every offset, across the short and long lengths.
    #[test]
    fn needs_escape_agrees_with_the_table() {
        words::assert_agrees_bytewise(needs_escape, |b| ESCAPE[b as usize]);
    }
}
