//! A pull tokenizer with the grammar and the token model of Jackson 2.15 as
//! Spark 3.5 configures it for `from_json`: single-quoted strings allowed,
//! `NaN` / `Infinity` / `-Infinity` / `+INF` allowed as numbers, no comments,
//! no leading zeros, no unquoted names or control characters, numbers of at
//! most 1,000 digits and nesting of at most 1,000 levels.
//!
//! Spark's converters depend on Jackson's stream, not just its grammar: after a
//! failed field they keep pulling tokens from wherever the failure left the
//! stream, and look fields up by Jackson's "current name". So this is a token
//! stream with Jackson's contexts, not a tree parser. One simplification: after
//! a syntax error every further token is the same error (Jackson's state after
//! an error is not something to copy), which makes any syntax error fail the
//! whole record, as Spark's does. The exception is a bad literal (`nan`,
//! `tru`, `undefined`): Jackson skips the word and goes on, so the stream
//! carries on after it here too, and Spark keeps what it can of the record.

use std::ops::Range;

/// Jackson's default `StreamReadConstraints` in 2.15.
const MAX_NUMBER_DIGITS: usize = 1000;
const MAX_DEPTH: usize = 1000;
const MAX_STRING_BYTES: usize = 20_000_000;

/// A token, as Jackson names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    FieldName,
    String,
    Int,
    Float,
    True,
    False,
    Null,
}

/// The input is not JSON as Spark reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError;

/// How reading a token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Jackson's state after this is not modelled: every later token fails.
    Fatal,
    /// A word that is not a literal: skipped, and the stream goes on.
    BadLiteral,
    /// The same after a field name: the name is the current token and the
    /// next token is none (Jackson pre-reads a field's value with its name).
    BadLiteralAfterName,
}

impl From<SyntaxError> for Failure {
    fn from(_: SyntaxError) -> Self {
        Failure::Fatal
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    Array,
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Just opened: a first entry or the close.
    Start,
    /// After an entry: a comma or the close.
    AfterValue,
    /// After a field name and its colon: the value.
    AfterName,
    /// Root only: its value is read.
    Done,
}

#[derive(Debug)]
struct Context {
    kind: Kind,
    state: State,
    /// An object's latest field name (Jackson's `getCurrentName`).
    name: Option<String>,
}

/// A number token's value as Jackson classifies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NonNumeric {
    NaN,
    PosInf,
    NegInf,
}

#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    stack: Vec<Context>,
    token: Option<Token>,
    /// A string token's decoded text (lone surrogates as `?`, as Java's
    /// `String.getBytes(UTF_8)` writes them).
    text: String,
    /// The raw text of the current string, name or number token (inside quotes).
    raw: Range<usize>,
    non_numeric: Option<NonNumeric>,
    poisoned: bool,
    /// The last field name's value was a bad literal.
    failed_name: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            stack: vec![Context {
                kind: Kind::Root,
                state: State::Start,
                name: None,
            }],
            token: None,
            text: String::new(),
            raw: 0..0,
            non_numeric: None,
            poisoned: false,
            failed_name: false,
        }
    }

    /// The current token (`None` before the first and at the end).
    pub(crate) fn token(&self) -> Option<Token> {
        self.token
    }

    /// A string or field name token's text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// A string, name or number token's raw text.
    pub(crate) fn raw(&self) -> &'a str {
        &self.input[self.raw.clone()]
    }

    /// `NaN` / `Infinity` tokens (Jackson's `VALUE_NUMBER_FLOAT` with a double).
    pub(crate) fn non_numeric(&self) -> Option<NonNumeric> {
        self.non_numeric
    }

    /// Jackson's `getCurrentName`: the field name a value (or a start marker,
    /// from the parent) sits under; after an end marker, the name that held
    /// the closed container; `None` inside arrays and at the root.
    pub(crate) fn current_name(&self) -> Option<&str> {
        let depth = self.stack.len();
        let ctx = match self.token {
            Some(Token::StartObject | Token::StartArray) if depth >= 2 => &self.stack[depth - 2],
            _ => &self.stack[depth - 1],
        };
        match ctx.kind {
            Kind::Object => ctx.name.as_deref(),
            _ => None,
        }
    }

    /// Skips the children of a start marker (Jackson's `skipChildren`); no-op
    /// on any other token.
    pub(crate) fn skip_children(&mut self) -> Result<(), SyntaxError> {
        if !matches!(self.token, Some(Token::StartObject | Token::StartArray)) {
            return Ok(());
        }
        let mut open = 1usize;
        while open > 0 {
            match self.next_token()? {
                Some(Token::StartObject | Token::StartArray) => open += 1,
                Some(Token::EndObject | Token::EndArray) => open -= 1,
                None => return Err(SyntaxError),
                _ => {}
            }
        }
        Ok(())
    }

    /// The next token; `None` at the end of the input after the root value.
    pub(crate) fn next_token(&mut self) -> Result<Option<Token>, SyntaxError> {
        if self.poisoned {
            return Err(SyntaxError);
        }
        match self.advance() {
            Ok(token) => {
                self.token = token;
                Ok(token)
            }
            Err(Failure::BadLiteral) => Err(SyntaxError),
            Err(Failure::BadLiteralAfterName) => {
                self.token = Some(Token::FieldName);
                Err(SyntaxError)
            }
            Err(Failure::Fatal) => {
                self.poisoned = true;
                Err(SyntaxError)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<Token>, Failure> {
        self.non_numeric = None;
        if std::mem::take(&mut self.failed_name) {
            return Ok(None);
        }
        let top = self.stack.len() - 1;
        let (kind, state) = (self.stack[top].kind, self.stack[top].state);
        match (kind, state) {
            (Kind::Root, State::Start) => {
                if !self.skip_ws()? {
                    return Ok(None);
                }
                self.stack[top].state = State::Done;
                self.value().map(Some)
            }
            (Kind::Root, _) => Ok(None),
            (Kind::Object, State::AfterName) => {
                self.stack[top].state = State::AfterValue;
                self.value().map(Some)
            }
            (Kind::Object, State::Start) => {
                self.require_ws()?;
                if self.peek_byte() == Some(b'}') {
                    return Ok(Some(self.close()));
                }
                self.field_name().map(Some)
            }
            (Kind::Object, _) => {
                self.require_ws()?;
                match self.peek_byte() {
                    Some(b'}') => Ok(Some(self.close())),
                    Some(b',') => {
                        self.pos += 1;
                        self.require_ws()?;
                        self.field_name().map(Some)
                    }
                    _ => Err(Failure::Fatal),
                }
            }
            (Kind::Array, State::Start) => {
                self.require_ws()?;
                if self.peek_byte() == Some(b']') {
                    return Ok(Some(self.close()));
                }
                self.stack[top].state = State::AfterValue;
                self.value().map(Some)
            }
            (Kind::Array, _) => {
                self.require_ws()?;
                match self.peek_byte() {
                    Some(b']') => Ok(Some(self.close())),
                    Some(b',') => {
                        self.pos += 1;
                        self.require_ws()?;
                        self.value().map(Some)
                    }
                    _ => Err(Failure::Fatal),
                }
            }
        }
    }

    fn peek_byte(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace; `false` at the end of the input. Any other
    /// control character is an error, as in Jackson.
    fn skip_ws(&mut self) -> Result<bool, Failure> {
        while let Some(b) = self.peek_byte() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                0..=0x1f => return Err(Failure::Fatal),
                _ => return Ok(true),
            }
        }
        Ok(false)
    }

    /// Whitespace where the input must go on (inside a container).
    fn require_ws(&mut self) -> Result<(), Failure> {
        if self.skip_ws()? {
            Ok(())
        } else {
            Err(Failure::Fatal)
        }
    }

    fn close(&mut self) -> Token {
        self.pos += 1;
        let closed = self.stack.pop().expect("a container to close");
        match closed.kind {
            Kind::Object => Token::EndObject,
            _ => Token::EndArray,
        }
    }

    fn open(&mut self, kind: Kind) -> Result<Token, Failure> {
        // The root context is not a nesting level.
        if self.stack.len() > MAX_DEPTH {
            return Err(Failure::Fatal);
        }
        self.pos += 1;
        self.stack.push(Context {
            kind,
            state: State::Start,
            name: None,
        });
        Ok(match kind {
            Kind::Object => Token::StartObject,
            _ => Token::StartArray,
        })
    }

    fn field_name(&mut self) -> Result<Token, Failure> {
        match self.peek_byte() {
            Some(q @ (b'"' | b'\'')) => self.string(q)?,
            _ => return Err(Failure::Fatal),
        }
        self.require_ws()?;
        if self.peek_byte() != Some(b':') {
            return Err(Failure::Fatal);
        }
        self.pos += 1;
        self.require_ws()?;
        let top = self.stack.len() - 1;
        self.stack[top].name = Some(self.text.clone());
        if let Some(word) = self.word_at_value()
            && literal_token(word).is_none()
        {
            self.pos += word.len();
            self.stack[top].state = State::AfterValue;
            self.failed_name = true;
            return Err(Failure::BadLiteralAfterName);
        }
        self.stack[top].state = State::AfterName;
        Ok(Token::FieldName)
    }

    /// The identifier-like word a value starts with, if it starts with a letter.
    fn word_at_value(&self) -> Option<&'a str> {
        let rest = &self.input[self.pos..];
        let first = rest.chars().next()?;
        if !(first.is_alphabetic() || first == '_' || first == '$') {
            return None;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }

    fn value(&mut self) -> Result<Token, Failure> {
        if let Some(word) = self.word_at_value() {
            let start = self.pos;
            self.pos += word.len();
            let Some((token, non_numeric)) = literal_token(word) else {
                return Err(Failure::BadLiteral);
            };
            self.raw = start..self.pos;
            self.non_numeric = non_numeric;
            return Ok(token);
        }
        let Some(b) = self.peek_byte() else {
            return Err(Failure::Fatal);
        };
        match b {
            b'{' => self.open(Kind::Object),
            b'[' => self.open(Kind::Array),
            b'"' | b'\'' => {
                self.string(b)?;
                Ok(Token::String)
            }
            b'+' => {
                let rest = &self.input[self.pos..];
                if rest.starts_with("+Infinity") {
                    self.non_numeric_literal("+Infinity", NonNumeric::PosInf)
                } else if rest.starts_with("+INF") {
                    self.non_numeric_literal("+INF", NonNumeric::PosInf)
                } else {
                    Err(Failure::Fatal)
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Failure::Fatal),
        }
    }

    fn non_numeric_literal(&mut self, word: &str, value: NonNumeric) -> Result<Token, Failure> {
        let start = self.pos;
        if !self.input[self.pos..].starts_with(word) {
            return Err(Failure::Fatal);
        }
        self.pos += word.len();
        // Jackson rejects a literal run on into an identifier (`-Infinityx`).
        if let Some(c) = self.input[self.pos..].chars().next()
            && (c.is_alphanumeric() || c == '_' || c == '$')
        {
            return Err(Failure::Fatal);
        }
        self.raw = start..self.pos;
        self.non_numeric = Some(value);
        Ok(Token::Float)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek_byte().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Token, Failure> {
        let start = self.pos;
        if self.peek_byte() == Some(b'-') {
            self.pos += 1;
            let rest = &self.input[self.pos..];
            if rest.starts_with("Infinity") {
                self.pos = start;
                return self.non_numeric_literal("-Infinity", NonNumeric::NegInf);
            }
            if rest.starts_with("INF") {
                self.pos = start;
                return self.non_numeric_literal("-INF", NonNumeric::NegInf);
            }
        }
        let int_start = self.pos;
        let int_len = self.digits();
        if int_len == 0 {
            return Err(Failure::Fatal);
        }
        if int_len > 1 && self.input.as_bytes()[int_start] == b'0' {
            return Err(Failure::Fatal); // leading zeros
        }
        let mut float_digits = 0;
        let mut is_float = false;
        if self.peek_byte() == Some(b'.') {
            self.pos += 1;
            let n = self.digits();
            if n == 0 {
                return Err(Failure::Fatal);
            }
            float_digits += n;
            is_float = true;
        }
        if matches!(self.peek_byte(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek_byte(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let n = self.digits();
            if n == 0 {
                return Err(Failure::Fatal);
            }
            float_digits += n;
            is_float = true;
        }
        if int_len + float_digits > MAX_NUMBER_DIGITS {
            return Err(Failure::Fatal);
        }
        self.raw = start..self.pos;
        Ok(if is_float { Token::Float } else { Token::Int })
    }

    /// Reads a quoted string into `text`, checking it as Jackson does.
    fn string(&mut self, quote: u8) -> Result<(), SyntaxError> {
        self.pos += 1;
        let start = self.pos;
        let bytes = self.input.as_bytes();
        // Fast path: no escapes.
        let mut end = start;
        while end < bytes.len() {
            match bytes[end] {
                b'\\' => break,
                b if b == quote => {
                    self.text.clear();
                    self.text.push_str(&self.input[start..end]);
                    self.raw = start..end;
                    self.pos = end + 1;
                    return self.check_length();
                }
                0..=0x1f => return Err(SyntaxError),
                _ => end += 1,
            }
        }
        self.text.clear();
        self.text.push_str(&self.input[start..end]);
        self.pos = end;
        let mut pending_high: Option<u16> = None;
        loop {
            let Some(c) = self.input[self.pos..].chars().next() else {
                return Err(SyntaxError);
            };
            if c as u32 == quote as u32 {
                if pending_high.take().is_some() {
                    self.text.push('?');
                }
                self.raw = start..self.pos;
                self.pos += 1;
                return self.check_length();
            }
            if (c as u32) < 0x20 {
                return Err(SyntaxError);
            }
            self.pos += c.len_utf8();
            if c != '\\' {
                if pending_high.take().is_some() {
                    self.text.push('?');
                }
                self.text.push(c);
                continue;
            }
            let unit = self.escape(quote)?;
            match (pending_high.take(), unit) {
                (Some(high), 0xDC00..=0xDFFF) => {
                    let cp = 0x10000 + (((high as u32) - 0xD800) << 10) + (unit as u32 - 0xDC00);
                    self.text.push(char::from_u32(cp).unwrap_or('?'));
                }
                (high, 0xD800..=0xDBFF) => {
                    if high.is_some() {
                        self.text.push('?');
                    }
                    pending_high = Some(unit);
                }
                (high, _) => {
                    if high.is_some() {
                        self.text.push('?');
                    }
                    self.text.push(char::from_u32(unit as u32).unwrap_or('?'));
                }
            }
        }
    }

    fn check_length(&self) -> Result<(), SyntaxError> {
        if self.text.len() > MAX_STRING_BYTES {
            Err(SyntaxError)
        } else {
            Ok(())
        }
    }

    /// The UTF-16 unit of an escape after its backslash.
    fn escape(&mut self, quote: u8) -> Result<u16, SyntaxError> {
        let b = self.peek_byte().ok_or(SyntaxError)?;
        self.pos += 1;
        Ok(match b {
            b'b' => 0x08,
            b't' => 0x09,
            b'n' => 0x0a,
            b'f' => 0x0c,
            b'r' => 0x0d,
            b'"' | b'/' | b'\\' => b as u16,
            // With single quotes allowed Jackson also takes `\'`, in either kind.
            b'\'' => {
                let _ = quote;
                b'\'' as u16
            }
            b'u' => {
                let hex = self.input.get(self.pos..self.pos + 4).ok_or(SyntaxError)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return Err(SyntaxError);
                }
                self.pos += 4;
                u16::from_str_radix(hex, 16).map_err(|_| SyntaxError)?
            }
            _ => return Err(SyntaxError),
        })
    }
}

/// The token of a literal word, if it is one.
fn literal_token(word: &str) -> Option<(Token, Option<NonNumeric>)> {
    Some(match word {
        "true" => (Token::True, None),
        "false" => (Token::False, None),
        "null" => (Token::Null, None),
        "NaN" => (Token::Float, Some(NonNumeric::NaN)),
        "Infinity" => (Token::Float, Some(NonNumeric::PosInf)),
        _ => return None,
    })
}

/// The UTF-16 units of a raw string token (what Java holds), for re-writing it
/// as Jackson's generator does. The token was checked when it was read.
pub(crate) fn utf16_units(raw: &str) -> Vec<u16> {
    let mut out = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            out.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next() {
            Some('b') => 0x08,
            Some('t') => 0x09,
            Some('n') => 0x0a,
            Some('f') => 0x0c,
            Some('r') => 0x0d,
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).unwrap_or(b'?' as u16)
            }
            Some(other) => other as u16,
            None => break,
        };
        out.push(unit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Result<Vec<Token>, SyntaxError> {
        let mut lx = Lexer::new(input);
        let mut out = Vec::new();
        while let Some(t) = lx.next_token()? {
            out.push(t);
            if lx.stack.len() == 1 {
                break;
            }
        }
        Ok(out)
    }

    #[test]
    fn grammar_follows_spark_jackson_options() {
        use Token::*;
        assert_eq!(
            tokens("{'a': [1, -2.5e3, NaN, -Infinity, +INF], \"b\\u0041\": null}").unwrap(),
            [
                StartObject,
                FieldName,
                StartArray,
                Int,
                Float,
                Float,
                Float,
                Float,
                EndArray,
                FieldName,
                Null,
                EndObject
            ]
        );
        for bad in [
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{a:1}",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":\"x\ty\"}",
            "{\"a\":-NaN}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":\"\\q\"}",
            "{/*c*/}",
            "{\"a\":1",
        ] {
            assert_eq!(tokens(bad), Err(SyntaxError), "{bad}");
        }
        let long = format!("[{}]", "1".repeat(1001));
        assert_eq!(tokens(&long), Err(SyntaxError));
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert_eq!(tokens(&deep), Err(SyntaxError));
        let ok_deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(tokens(&ok_deep).is_ok());
    }

    #[test]
    fn the_root_value_ends_the_stream_and_errors_stick() {
        let mut lx = Lexer::new("{} garbage");
        assert_eq!(lx.next_token(), Ok(Some(Token::StartObject)));
        assert_eq!(lx.next_token(), Ok(Some(Token::EndObject)));
        assert_eq!(lx.next_token(), Ok(None));
        let mut lx = Lexer::new("[1 2]");
        lx.next_token().unwrap();
        lx.next_token().unwrap();
        assert_eq!(lx.next_token(), Err(SyntaxError));
        assert_eq!(lx.next_token(), Err(SyntaxError));
    }

    #[test]
    fn current_name_is_jacksons() {
        let mut lx = Lexer::new(r#"{"a": {"b": [1]}, "c": 2}"#);
        let mut seen = Vec::new();
        while let Some(t) = lx.next_token().unwrap() {
            seen.push((t, lx.current_name().map(str::to_owned)));
        }
        let name = |s: &str| Some(s.to_owned());
        assert_eq!(
            seen,
            [
                (Token::StartObject, None),
                (Token::FieldName, name("a")),
                (Token::StartObject, name("a")),
                (Token::FieldName, name("b")),
                (Token::StartArray, name("b")),
                (Token::Int, None),
                (Token::EndArray, name("b")),
                (Token::EndObject, name("a")),
                (Token::FieldName, name("c")),
                (Token::Int, name("c")),
                (Token::EndObject, None),
            ]
        );
    }

    #[test]
    fn escapes_and_lone_surrogates() {
        let mut lx = Lexer::new(r#""\ud83d\ude00 \ud800x \/\u00e9""#);
        lx.next_token().unwrap();
        assert_eq!(lx.text(), "😀 ?x /é");
        assert_eq!(
            utf16_units(lx.raw()),
            [0xD83D, 0xDE00, 0x20, 0xD800, 0x78, 0x20, 0x2F, 0xE9]
        );
    }
}
