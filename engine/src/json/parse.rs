//! A JSON parser with CPython's `json.loads` rules (its C scanner, `strict=True`):
//! `NaN`, `Infinity` and `-Infinity` accepted; duplicate keys keep the first
//! position and the last value; integers exact; floats correctly rounded (a literal
//! beyond the double range becomes infinity); raw control characters inside strings
//! rejected; only ` \t\n\r` count as white space.
//!
//! Two deliberate limits, both making a record corrupt rather than crashing:
//! nesting deeper than [`MAX_DEPTH`] (CPython raises `RecursionError` near 1,000),
//! and lone UTF-16 surrogates (`"\ud800"`), which CPython accepts but the old job
//! could never write out as UTF-8.

use std::borrow::Cow;
use std::fmt;

use super::value::{Object, Value};
// The bytes that end a plain run are exactly those a writer must escape.
use super::words::word_at;
use super::write::{ESCAPE as STRING_STOP, escape_mask};

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 900;

/// Why a text is not a JSON document, and where (a byte offset, never the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset where parsing stopped.
    pub offset: usize,
    /// What was wrong there.
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text ended inside a value.
    UnexpectedEnd,
    /// A character that cannot start or continue a value here.
    UnexpectedChar,
    /// A backslash escape that JSON does not define, or a bad `\u` escape.
    InvalidEscape,
    /// A raw control character (below U+0020) inside a string.
    ControlChar,
    /// A `\uD800`-`\uDFFF` escape that is not half of a surrogate pair.
    LoneSurrogate,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Text after the document.
    ExtraData,
    /// The text starts with a byte order mark (CPython refuses it).
    ByteOrderMark,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ParseErrorKind::UnexpectedEnd => "unexpected end of text",
            ParseErrorKind::UnexpectedChar => "unexpected character",
            ParseErrorKind::InvalidEscape => "invalid escape",
            ParseErrorKind::ControlChar => "control character in string",
            ParseErrorKind::LoneSurrogate => "lone UTF-16 surrogate escape",
            ParseErrorKind::TooDeep => "nesting too deep",
            ParseErrorKind::ExtraData => "extra data after the document",
            ParseErrorKind::ByteOrderMark => "byte order mark before the document",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole document.
pub fn parse(text: &str) -> Result<Value<'_>, ParseError> {
    if text.starts_with('\u{feff}') {
        return Err(ParseError {
            offset: 0,
            kind: ParseErrorKind::ByteOrderMark,
        });
    }
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        members: Vec::new(),
        items: Vec::new(),
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.err(ParseErrorKind::ExtraData));
    }
    Ok(value)
}

/// The index of the first `"`, `\\` or control byte at or after `from` (or the
/// length). Most strings are short (keys, ids, dates), and for them a call to
/// memchr and a second pass for control bytes cost more than the bytes: the
/// first [`SHORT`] bytes are tested a word at a time for all three at once.
/// Long strings (the base64 `dbObject`) go on with memchr for the quote or
/// backslash and one vectorisable pass over the run for control bytes.
fn scan_plain(bytes: &[u8], from: usize) -> usize {
    let short_end = bytes.len().min(from.saturating_add(SHORT));
    let mut i = from;
    while i + 8 <= short_end {
        let Some(word) = word_at(bytes, i) else {
            break;
        };
        let mask = escape_mask(word);
        if mask != 0 {
            // The lowest flagged byte is always a real one.
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let rest = &bytes[i..];
    let stop = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let run = &rest[..stop];
    if run.iter().fold(false, |any, &b| any | (b < 0x20)) {
        // Rare: a raw control character; find the first one.
        return i + run
            .iter()
            .position(|&b| STRING_STOP[b as usize])
            .unwrap_or(stop);
    }
    i + stop
}

/// How many bytes of a string [`scan_plain`] tests a word at a time before
/// it takes the long strings' path.
const SHORT: usize = 64;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Members of the objects being parsed, innermost last: an object's
    /// members are gathered here and moved into a vector of their exact
    /// size when it closes, instead of each object growing its own vector
    /// (4, 8, 16, … entries, copied at each step). Likewise `items` for
    /// arrays.
    members: Vec<(Cow<'a, str>, Value<'a>)>,
    items: Vec<Value<'a>>,
}

impl<'a> Parser<'a> {
    fn err(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err(ParseErrorKind::UnexpectedChar))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        match self.peek() {
            None => Err(self.err(ParseErrorKind::UnexpectedEnd)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'N') => self.literal(b"NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", Value::Float(f64::INFINITY)),
            Some(_) => Err(self.err(ParseErrorKind::UnexpectedChar)),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err(ParseErrorKind::TooDeep));
        }
        self.pos += 1; // '{'
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Object::new()));
        }
        // Inner objects take and give back their members above this one's.
        let base = self.members.len();
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.err(ParseErrorKind::UnexpectedChar)),
            }
            let key = self.string()?;
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.err(ParseErrorKind::UnexpectedChar)),
            }
            self.skip_ws();
            let value = self.value(depth)?;
            self.members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.err(ParseErrorKind::UnexpectedChar)),
            }
        }
        let mut object = Object {
            entries: self.members.drain(base..).collect(),
        };
        dedup_last_wins(&mut object);
        Ok(Value::Object(object))
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err(ParseErrorKind::TooDeep));
        }
        self.pos += 1; // '['
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let base = self.items.len();
        loop {
            let item = self.value(depth)?;
            self.items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(self.items.drain(base..).collect()));
                }
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.err(ParseErrorKind::UnexpectedChar)),
            }
        }
    }

    /// Parses a string starting at its opening quote; borrows when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        let i = scan_plain(self.bytes, start);
        match self.bytes.get(i) {
            None => {
                self.pos = i;
                Err(self.err(ParseErrorKind::UnexpectedEnd))
            }
            Some(b'"') => {
                self.pos = i + 1;
                // Quote and backslash are ASCII, so `start..i` lies on char boundaries.
                Ok(Cow::Borrowed(&self.text[start..i]))
            }
            Some(b'\\') => {
                let mut owned = String::with_capacity(i - start + 16);
                owned.push_str(&self.text[start..i]);
                self.pos = i;
                self.string_slow(owned).map(Cow::Owned)
            }
            Some(_) => {
                self.pos = i;
                Err(self.err(ParseErrorKind::ControlChar))
            }
        }
    }

    /// Continues a string that has escapes, from a backslash at `self.pos`.
    fn string_slow(&mut self, mut out: String) -> Result<String, ParseError> {
        loop {
            match self.peek() {
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        Some(_) => return Err(self.err(ParseErrorKind::InvalidEscape)),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(b) if b < 0x20 => return Err(self.err(ParseErrorKind::ControlChar)),
                Some(_) => {
                    let start = self.pos;
                    let i = scan_plain(self.bytes, start);
                    out.push_str(&self.text[start..i]);
                    self.pos = i;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err(ParseErrorKind::InvalidEscape))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.err(ParseErrorKind::InvalidEscape))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: one code point, joining a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.err(ParseErrorKind::LoneSurrogate));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.err(ParseErrorKind::LoneSurrogate));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err(ParseErrorKind::LoneSurrogate)),
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.err(ParseErrorKind::InvalidEscape))
    }

    /// CPython's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`;
    /// a fraction or exponent makes a float. `-Infinity` also starts here.
    fn number(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                return self.literal(b"Infinity", Value::Float(f64::NEG_INFINITY));
            }
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
            Some(_) => return Err(self.err(ParseErrorKind::UnexpectedChar)),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.')
            && self
                .bytes
                .get(self.pos + 1)
                .is_some_and(|b| b.is_ascii_digit())
        {
            self.pos += 1;
            self.skip_digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mut j = self.pos + 1;
            if let Some(b'+' | b'-') = self.bytes.get(j) {
                j += 1;
            }
            if self.bytes.get(j).is_some_and(|b| b.is_ascii_digit()) {
                self.pos = j;
                self.skip_digits();
                is_float = true;
            }
        }
        let text = &self.text[start..self.pos];
        if is_float {
            // Rust's parse is correctly rounded like CPython's float(), and gives
            // infinity past the double range as float('1E400') does.
            text.parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.err(ParseErrorKind::UnexpectedChar))
        } else if text == "-0" {
            Ok(Value::Int(Cow::Borrowed("0")))
        } else {
            Ok(Value::Int(Cow::Borrowed(text)))
        }
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

/// Resolves duplicate keys the way a Python `dict` built from pairs does: the key
/// stays where it first appeared and takes the value it was given last.
fn dedup_last_wins(object: &mut Object<'_>) {
    let entries = &object.entries;
    let n = entries.len();
    if n < 2 {
        return;
    }
    let has_duplicates = if n <= 16 {
        (1..n).any(|i| entries[..i].iter().any(|(k, _)| *k == entries[i].0))
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
        order.windows(2).any(|w| entries[w[0]].0 == entries[w[1]].0)
    };
    if !has_duplicates {
        return;
    }
    // Rare path: for each key, the index of its last occurrence.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
    let mut winner = vec![usize::MAX; n]; // first index -> last index
    let mut run_start = 0;
    for i in 1..=n {
        if i == n || entries[order[i]].0 != entries[order[run_start]].0 {
            winner[order[run_start]] = order[i - 1];
            run_start = i;
        }
    }
    let mut slots: Vec<Option<(Cow<'_, str>, Value<'_>)>> = std::mem::take(&mut object.entries)
        .into_iter()
        .map(Some)
        .collect();
    let mut kept = Vec::with_capacity(n);
    for first in 0..n {
        let last = winner[first];
        if last == usize::MAX {
            continue;
        }
        let Some((key, own_value)) = slots[first].take() else {
            continue;
        };
        let value = match slots[last].take() {
            Some((_, later)) if last != first => later,
            _ => own_value,
        };
        kept.push((key, value));
    }
    object.entries = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        parse(text).unwrap().to_string()
    }

    #[test]
    fn python_literals_and_numbers() {
        assert_eq!(
            round("[NaN, Infinity, -Infinity]"),
            "[NaN, Infinity, -Infinity]"
        );
        assert_eq!(round("-0"), "0");
        assert_eq!(round("-0.0"), "-0.0");
        assert_eq!(round("1E400"), "Infinity");
        assert_eq!(round("1e5"), "100000.0");
        assert_eq!(
            round("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
        assert!(parse("01").is_err());
        assert!(parse("1.").is_err());
        assert!(parse("1e").is_err());
        assert!(parse("-NaN").is_err());
        assert!(parse("nan").is_err());
    }

    #[test]
    fn duplicate_keys_first_position_last_value() {
        assert_eq!(round(r#"{"a": 1, "b": 2, "a": 3}"#), r#"{"a": 3, "b": 2}"#);
        let many: String = (0..40)
            .map(|i| format!("\"k{}\": {i}", i % 20))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!("{{{many}}}");
        let parsed = parse(&text).unwrap();
        let object = parsed.as_object().unwrap();
        assert_eq!(object.len(), 20);
        assert_eq!(object.get("k3"), Some(&Value::Int("23".into())));
        assert_eq!(object.iter().next().unwrap().0, "k0");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            parse(r#""a\u00e9\ud83d\ude00\n\/""#).unwrap(),
            Value::Str("a\u{e9}\u{1F600}\n/".into())
        );
        assert_eq!(
            parse("\"\\ud800\"").unwrap_err().kind,
            ParseErrorKind::LoneSurrogate
        );
        assert_eq!(
            parse("\"a\nb\"").unwrap_err().kind,
            ParseErrorKind::ControlChar
        );
        assert_eq!(
            parse(r#""\x""#).unwrap_err().kind,
            ParseErrorKind::InvalidEscape
        );
        assert_eq!(
            parse("\u{feff}{}").unwrap_err().kind,
            ParseErrorKind::ByteOrderMark
        );
    }

    #[test]
    fn structure_errors() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "[1] x",
            "{1: 2}",
            "tru",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(round(" \t\r\n{ \"a\" : [ ] }\n"), r#"{"a": []}"#);
    }

    #[test]
    fn depth_limit() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().kind, ParseErrorKind::TooDeep);
    }

    /// The word-at-a-time scan stops where a byte-wise one does: every byte
    /// value at every offset of short and long strings, and texts that end
    /// inside the first word.
    #[test]
    fn plain_scan_stops_where_a_bytewise_scan_does() {
        let bytewise = |bytes: &[u8], from: usize| {
            from + bytes[from..]
                .iter()
                .position(|&b| STRING_STOP[b as usize])
                .unwrap_or(bytes.len() - from)
        };
        for len in 0..80 {
            for at in 0..=len {
                for b in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    if at < len {
                        text[at] = b;
                    }
                    for from in [0, 1, 7].into_iter().filter(|&f| f <= len) {
                        assert_eq!(
                            scan_plain(&text, from),
                            bytewise(&text, from),
                            "byte {b} at {at} of {len}, from {from}"
                        );
                    }
                }
            }
        }
    }
}
