//! Dates as the old job read and wrote them.
//!
//! Reading is CPython 3.11's `datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z")`,
//! reproduced from `_strptime.py`: its field regexes (with Unicode `\d`, an
//! ignore-case `T`, the first match by regex priority followed by the
//! "unconverted data remains" check), its `%z` post-processing and its range checks.
//! Writing is `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, microseconds truncated.

/// Zero of every Unicode decimal-digit block (`unicodedata` 14.0, CPython 3.11):
/// what Python's `\d` and `int()` accept.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a character matched by Python's `\d`.
fn py_digit(c: char) -> Option<u32> {
    let code = c as u32;
    if c.is_ascii_digit() {
        return Some(code - 0x30);
    }
    if code < 0x660 {
        return None;
    }
    let at = DIGIT_ZEROS.partition_point(|&z| z <= code);
    let zero = DIGIT_ZEROS[at.checked_sub(1)?];
    (code - zero < 10).then_some(code - zero)
}

/// A UTC instant with microsecond precision, years 1 to 9999 as Python's datetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcDateTime {
    /// Microseconds since 0001-01-01T00:00:00Z.
    micros: i64,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days from 0001-01-01 to 1970-01-01.
const UNIX_EPOCH_DAYS: i64 = 719_162;
const MAX_MICROS: i64 = 3_652_059 * MICROS_PER_DAY; // 10000-01-01

impl UtcDateTime {
    /// Milliseconds since the Unix epoch (negative before 1970), truncated
    /// towards the past as the written text is.
    pub fn unix_millis(&self) -> i64 {
        (self.micros - UNIX_EPOCH_DAYS * MICROS_PER_DAY).div_euclid(1000)
    }

    /// The instant `millis` after the Unix epoch, if within years 1 to 9999.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        let micros = millis
            .checked_mul(1000)?
            .checked_add(UNIX_EPOCH_DAYS * MICROS_PER_DAY)?;
        (0..MAX_MICROS).contains(&micros).then_some(Self { micros })
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    ///
    /// Years below 1000 are zero-padded to four digits (as `isoformat` does; the
    /// old job's platform `strftime` may have written fewer digits: no sample
    /// shows such a year).
    pub fn format_millis(&self) -> String {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let in_day = self.micros.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = in_day / 1_000_000;
        let millis = (in_day % 1_000_000) / 1000;
        // Hot (every date of every record): digits by hand, no fmt machinery.
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, secs / 3600);
        put(14, 2, secs / 60 % 60);
        put(17, 2, secs % 60);
        put(20, 3, millis);
        // ASCII digits unless the year is negative; then the bytes are
        // mapped one to a character each, as this always did.
        match std::str::from_utf8(&b) {
            Ok(text) if b.is_ascii() => text.to_owned(),
            _ => b.iter().map(|&c| c as char).collect(),
        }
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 0001-01-01 (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y1 = y - 1;
    let mut days = y1 * 365 + y1 / 4 - y1 / 100 + y1 / 400;
    for month in 1..m {
        days += days_in_month(y, month);
    }
    days + d - 1
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift to the 0000-03-01 era algorithm (Howard Hinnant's civil_from_days).
    let z = days - UNIX_EPOCH_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Longest text that can match the strptime format (`+HH:MM:SS.ffffff` offsets).
const MAX_DATE_CHARS: usize = 48;

/// The fields of the format, in order.
#[derive(Clone, Copy)]
enum Field {
    Year,
    Lit(char),
    /// The `T`, matched ignoring case.
    T,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    Zone,
}

const FORMAT: [Field; 14] = [
    Field::Year,
    Field::Lit('-'),
    Field::Month,
    Field::Lit('-'),
    Field::Day,
    Field::T,
    Field::Hour,
    Field::Lit(':'),
    Field::Minute,
    Field::Lit(':'),
    Field::Second,
    Field::Lit('.'),
    Field::Fraction,
    Field::Zone,
];

/// One alternative of a field regex: each position is a char class.
#[derive(Clone, Copy)]
enum Class {
    /// An ASCII range such as `[0-5]`.
    Range(char, char),
    /// Python's `\d`.
    Digit,
    /// A literal space.
    Space,
}

use Class::{Digit, Range, Space};

const MONTH: &[&[Class]] = &[
    &[Range('1', '1'), Range('0', '2')],
    &[Range('0', '0'), Range('1', '9')],
    &[Range('1', '9')],
];
const DAY: &[&[Class]] = &[
    &[Range('3', '3'), Range('0', '1')],
    &[Range('1', '2'), Digit],
    &[Range('0', '0'), Range('1', '9')],
    &[Range('1', '9')],
    &[Space, Range('1', '9')],
];
const HOUR: &[&[Class]] = &[
    &[Range('2', '2'), Range('0', '3')],
    &[Range('0', '1'), Digit],
    &[Digit],
];
const MINUTE: &[&[Class]] = &[&[Range('0', '5'), Digit], &[Digit]];
const SECOND: &[&[Class]] = &[
    &[Range('6', '6'), Range('0', '1')],
    &[Range('0', '5'), Digit],
    &[Digit],
];

fn class_matches(class: Class, c: char) -> bool {
    match class {
        Range(lo, hi) => (lo..=hi).contains(&c),
        Digit => py_digit(c).is_some(),
        Space => c == ' ',
    }
}

fn alt_matches(alt: &[Class], chars: &[char], at: usize) -> bool {
    chars.len() >= at + alt.len()
        && alt
            .iter()
            .zip(&chars[at..])
            .all(|(&class, &c)| class_matches(class, c))
}

/// Captured spans (start, end) of each field, by `FORMAT` index.
type Spans = [(usize, usize); FORMAT.len()];

/// Priority-ordered backtracking, as Python's `re` does: returns the end of the
/// first match of the whole format starting at `at`.
fn match_fields(chars: &[char], at: usize, field: usize, spans: &mut Spans) -> Option<usize> {
    let Some(&kind) = FORMAT.get(field) else {
        return Some(at);
    };
    let try_len = |len: usize, spans: &mut Spans| {
        spans[field] = (at, at + len);
        match_fields(chars, at + len, field + 1, spans)
    };
    let alternatives: &[&[Class]] = match kind {
        Field::Year => &[&[Digit, Digit, Digit, Digit]],
        Field::Lit(c) => {
            return (chars.get(at) == Some(&c))
                .then(|| try_len(1, spans))
                .flatten();
        }
        Field::T => {
            return matches!(chars.get(at), Some('T' | 't'))
                .then(|| try_len(1, spans))
                .flatten();
        }
        Field::Month => MONTH,
        Field::Day => DAY,
        Field::Hour => HOUR,
        Field::Minute => MINUTE,
        Field::Second => SECOND,
        Field::Fraction => {
            // `[0-9]{1,6}`, greedy.
            let run = chars[at..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_digit())
                .count();
            return (1..=run).rev().find_map(|len| try_len(len, spans));
        }
        Field::Zone => {
            let len = zone_match(chars, at)?;
            return try_len(len, spans);
        }
    };
    alternatives
        .iter()
        .filter(|alt| alt_matches(alt, chars, at))
        .find_map(|alt| try_len(alt.len(), spans))
}

/// `(?P<z>[+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?|(?-i:Z))` at `at`: it is the
/// last field, so its first match by priority (greedy) is the one taken.
fn zone_match(chars: &[char], at: usize) -> Option<usize> {
    let c = |i: usize| chars.get(i).copied();
    let digit = |i: usize| c(i).is_some_and(|ch| py_digit(ch).is_some());
    let zero_five = |i: usize| c(i).is_some_and(|ch| ('0'..='5').contains(&ch));
    match c(at)? {
        'Z' => return Some(1),
        '+' | '-' => {}
        _ => return None,
    }
    if !(digit(at + 1) && digit(at + 2)) {
        return None;
    }
    let mut i = at + 3;
    // `:?[0-5]\d`, trying the colon first.
    if c(i) == Some(':') && zero_five(i + 1) && digit(i + 2) {
        i += 3;
    } else if zero_five(i) && digit(i + 1) {
        i += 2;
    } else {
        return None;
    }
    // Optional `(:?[0-5]\d(\.\d{1,6})?)`.
    let seconds_at = if c(i) == Some(':') && zero_five(i + 1) && digit(i + 2) {
        Some(i + 1)
    } else if zero_five(i) && digit(i + 1) {
        Some(i)
    } else {
        None
    };
    if let Some(s) = seconds_at {
        i = s + 2;
        if c(i) == Some('.') && digit(i + 1) {
            let mut j = i + 1;
            while j < i + 7 && digit(j) {
                j += 1;
            }
            i = j;
        }
    }
    Some(i - at)
}

/// Python's `int()` of a run of `\d` characters (all already checked as digits).
fn py_int(chars: &[char]) -> Option<i64> {
    chars.iter().try_fold(0i64, |acc, &c| {
        Some(acc * 10 + i64::from(py_digit(c).or(if c == ' ' { Some(0) } else { None })?))
    })
}

/// Why a date string was refused (never the string itself: it is plaintext).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Does not match `%Y-%m-%dT%H:%M:%S.%f%z`.
    NoMatch,
    /// Matched, but text follows ("unconverted data remains").
    TrailingData,
    /// A `%z` with inconsistent colons, or an offset of 24 hours or more.
    BadOffset,
    /// A day, second or year outside the calendar.
    OutOfRange,
    /// Out of Python's datetime range once converted to UTC.
    Overflow,
}

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DateError::NoMatch => "does not match %Y-%m-%dT%H:%M:%S.%f%z",
            DateError::TrailingData => "unconverted data after %Y-%m-%dT%H:%M:%S.%f%z",
            DateError::BadOffset => "invalid UTC offset",
            DateError::OutOfRange => "day, second or year out of range",
            DateError::Overflow => "out of range once converted to UTC",
        })
    }
}

/// `datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc)`.
pub fn parse_py_datetime(text: &str) -> Result<UtcDateTime, DateError> {
    if let Some(parsed) = parse_common_shape(text) {
        return parsed;
    }
    parse_general(text)
}

/// The shapes nearly every record uses, `YYYY-MM-DDTHH:MM:SS.fffZ` and
/// `...fff+HHMM`, in ASCII. Returns `None` whenever the text strays from them
/// or a field is outside what the field regexes accept, so the general matcher
/// decides (and words the error).
fn parse_common_shape(text: &str) -> Option<Result<UtcDateTime, DateError>> {
    let b = text.as_bytes();
    if !matches!(b.len(), 24 | 28) {
        return None;
    }
    let digits = |from: usize, n: usize| -> Option<i64> {
        b[from..from + n].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let millis = digits(20, 3)?;
    let offset_minutes = match (b.len(), b[23]) {
        (24, b'Z') => 0,
        (28, b'+' | b'-') => {
            let (hh, mm) = (digits(24, 2)?, digits(26, 2)?);
            if mm > 59 {
                return None;
            }
            let total = hh * 60 + mm;
            if b[23] == b'-' { -total } else { total }
        }
        _ => return None,
    };
    // What the two-digit alternatives of the field regexes accept.
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 61
    {
        return None;
    }
    if year == 0
        || day > days_in_month(year, month)
        || second > 59
        || offset_minutes.abs() >= 24 * 60
    {
        return Some(parse_general(text));
    }
    let local = days_from_civil(year, month, day) * MICROS_PER_DAY
        + ((hour * 60 + minute) * 60 + second) * 1_000_000
        + millis * 1000;
    let utc = local - offset_minutes * 60_000_000;
    if !(0..MAX_MICROS).contains(&utc) {
        return Some(Err(DateError::Overflow));
    }
    Some(Ok(UtcDateTime { micros: utc }))
}

fn parse_general(text: &str) -> Result<UtcDateTime, DateError> {
    let mut buf = ['\0'; MAX_DATE_CHARS + 1];
    let mut n = 0;
    for c in text.chars() {
        if n == buf.len() {
            break;
        }
        buf[n] = c;
        n += 1;
    }
    let chars = &buf[..n];
    let mut spans: Spans = [(0, 0); FORMAT.len()];
    let end = match_fields(chars, 0, 0, &mut spans).ok_or(DateError::NoMatch)?;
    if end != n || n > MAX_DATE_CHARS {
        return Err(DateError::TrailingData);
    }
    let field = |i: usize| &chars[spans[i].0..spans[i].1];
    let num = |i: usize| py_int(field(i)).ok_or(DateError::NoMatch);
    let (year, month, day) = (num(0)?, num(2)?, num(4)?);
    let (hour, minute, second) = (num(6)?, num(8)?, num(10)?);
    let fraction = field(12);
    let mut micros = py_int(fraction).ok_or(DateError::NoMatch)?;
    for _ in fraction.len()..6 {
        micros *= 10;
    }
    let offset_micros = zone_offset_micros(field(13))?;
    if !(1..=9999).contains(&year) || day > days_in_month(year, month) || second > 59 {
        return Err(DateError::OutOfRange);
    }
    let local = days_from_civil(year, month, day) * MICROS_PER_DAY
        + ((hour * 60 + minute) * 60 + second) * 1_000_000
        + micros;
    let utc = local - offset_micros;
    if !(0..MAX_MICROS).contains(&utc) {
        return Err(DateError::Overflow);
    }
    Ok(UtcDateTime { micros: utc })
}

/// `_strptime`'s handling of the `%z` capture.
fn zone_offset_micros(z: &[char]) -> Result<i64, DateError> {
    if z == ['Z'] {
        return Ok(0);
    }
    let mut z: Vec<char> = z.to_vec();
    if z.get(3) == Some(&':') {
        z.remove(3);
        if z.len() > 5 {
            if z[5] != ':' {
                return Err(DateError::BadOffset);
            }
            z.remove(5);
        }
    }
    let part = |from: usize, to: usize| -> Result<i64, DateError> {
        let slice = &z[from.min(z.len())..to.min(z.len())];
        if slice.is_empty() {
            return Ok(0);
        }
        slice
            .iter()
            .try_fold(0i64, |acc, &c| Some(acc * 10 + i64::from(py_digit(c)?)))
            .ok_or(DateError::BadOffset)
    };
    let hours = part(1, 3)?;
    let minutes = part(3, 5)?;
    let seconds = part(5, 7)?;
    let remainder = &z[8.min(z.len())..];
    let mut fraction = part(8, z.len())?;
    for _ in remainder.len()..6 {
        fraction *= 10;
    }
    let mut offset = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction;
    if z.first() == Some(&'-') {
        offset = -offset;
    }
    // datetime.timezone requires -24h < offset < 24h.
    if offset.abs() >= MICROS_PER_DAY {
        return Err(DateError::BadOffset);
    }
    Ok(offset)
}

/// The old job's test for a bare date string to wrap:
/// `re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|\+\d{4})$", s)`, with
/// Python's Unicode `\d` and its `$`, which also matches before a final newline.
pub fn looks_like_wrapped_date(s: &str) -> bool {
    // Fast reject: 24 or 28 ASCII-sized chars (+1 for a final newline), or a
    // non-ASCII digit somewhere (multi-byte, so longer in bytes).
    let len = s.len();
    if len < 24 {
        return false;
    }
    if s.is_ascii() && !matches!(len, 24 | 25 | 28 | 29) {
        return false;
    }
    let mut buf = ['\0'; 30];
    let mut n = 0;
    for c in s.chars() {
        if n == buf.len() {
            return false;
        }
        buf[n] = c;
        n += 1;
    }
    if n > 0 && buf[n - 1] == '\n' {
        n -= 1;
    }
    let chars = &buf[..n];
    let digit = |i: usize| chars.get(i).is_some_and(|&c| py_digit(c).is_some());
    let lit = |i: usize, l: char| chars.get(i) == Some(&l);
    let digits = |from: usize, count: usize| (from..from + count).all(digit);
    let body = digits(0, 4)
        && lit(4, '-')
        && digits(5, 2)
        && lit(7, '-')
        && digits(8, 2)
        && lit(10, 'T')
        && digits(11, 2)
        && lit(13, ':')
        && digits(14, 2)
        && lit(16, ':')
        && digits(17, 2)
        && lit(19, '.')
        && digits(20, 3);
    body && match chars.len() {
        24 => lit(23, 'Z'),
        28 => lit(23, '+') && digits(24, 4),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> Result<String, DateError> {
        parse_py_datetime(s).map(|d| d.format_millis())
    }

    #[test]
    fn formats_like_the_old_job() {
        assert_eq!(
            fmt("2019-07-04T07:27:35.104+0000").unwrap(),
            "2019-07-04T07:27:35.104Z"
        );
        assert_eq!(
            fmt("2007-03-28T02:51:35.835+0100").unwrap(),
            "2007-03-28T01:51:35.835Z"
        );
        assert_eq!(
            fmt("2017-11-25T21:48:38.4+0000").unwrap(),
            "2017-11-25T21:48:38.400Z"
        );
        assert_eq!(
            fmt("2017-11-25T21:48:38.123999Z").unwrap(),
            "2017-11-25T21:48:38.123Z"
        );
        assert_eq!(
            fmt("2019-7-4t7:2:3.5-05:30").unwrap(),
            "2019-07-04T12:32:03.500Z"
        );
        assert_eq!(
            fmt("2019-07- 4T07:27:35.104Z").unwrap(),
            "2019-07-04T07:27:35.104Z"
        );
        assert_eq!(
            fmt("2000-01-01T00:00:00.0+01:00:30.5").unwrap(),
            "1999-12-31T22:59:29.500Z"
        );
        // Arabic-Indic digits are Python `\d`.
        assert_eq!(
            fmt("٢٠١٩-07-04T07:27:35.104Z").unwrap(),
            "2019-07-04T07:27:35.104Z"
        );
    }

    #[test]
    fn refuses_what_strptime_refuses() {
        for (s, e) in [
            ("2019-07-04T07:27:35+0000", DateError::NoMatch),
            ("2019-07-04T07:27:35.104", DateError::NoMatch),
            ("2019-13-04T07:27:35.104Z", DateError::NoMatch),
            ("2019-07-04T07:27:35.1234567Z", DateError::NoMatch),
            ("2019-07-04T07:27:35.104Z\n", DateError::TrailingData),
            ("2019-07-04T07:27:35.104+0000x", DateError::TrailingData),
            ("2019-02-29T07:27:35.104Z", DateError::OutOfRange),
            ("2019-07-04T07:27:60.104Z", DateError::OutOfRange),
            ("0000-07-04T07:27:35.104Z", DateError::OutOfRange),
            ("2019-07-04T07:27:35.104+2400", DateError::BadOffset),
            ("2019-07-04T07:27:35.104+01:0030", DateError::BadOffset),
            ("0001-01-01T00:00:00.000+0100", DateError::Overflow),
            ("True", DateError::NoMatch),
        ] {
            assert_eq!(fmt(s), Err(e), "{s:?}");
        }
        assert_eq!(
            fmt("2020-02-29T23:59:59.999999-0100").unwrap(),
            "2020-03-01T00:59:59.999Z"
        );
    }

    #[test]
    fn common_shape_fast_path_agrees_with_the_general_matcher() {
        let mut checked = 0;
        for year in ["0000", "0001", "1969", "2000", "2019", "2100", "9999"] {
            for month in ["00", "01", "02", "09", "12", "13"] {
                for day in ["00", "01", "28", "29", "30", "31", "32"] {
                    for time in [
                        "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "12:00:61",
                    ] {
                        for zone in [
                            "Z", "+0000", "-0000", "+2359", "-2359", "+2400", "+0160", "z",
                        ] {
                            let text = format!("{year}-{month}-{day}T{time}.123{zone}");
                            if let Some(fast) = parse_common_shape(&text) {
                                assert_eq!(fast, parse_general(&text), "{text}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 3_000, "fast path taken {checked} times");
    }

    #[test]
    fn unix_millis() {
        let d = parse_py_datetime("1970-01-01T00:00:00.001Z").unwrap();
        assert_eq!(d.unix_millis(), 1);
        let d = parse_py_datetime("1969-12-31T23:59:59.9999Z").unwrap();
        assert_eq!(d.unix_millis(), -1);
    }

    #[test]
    fn wrap_regex() {
        assert!(looks_like_wrapped_date("2019-07-04T07:27:35.104Z"));
        assert!(looks_like_wrapped_date("2019-07-04T07:27:35.104+0100"));
        assert!(looks_like_wrapped_date("2019-07-04T07:27:35.104+0100\n"));
        assert!(looks_like_wrapped_date("2019-13-99T99:99:99.999Z"));
        assert!(!looks_like_wrapped_date("2019-07-04T07:27:35.104-0100"));
        assert!(!looks_like_wrapped_date("2019-07-04T07:27:35.104+01:00"));
        assert!(!looks_like_wrapped_date("2019-07-04T07:27:35.1040Z"));
        assert!(!looks_like_wrapped_date("2019-07-04t07:27:35.104Z"));
        assert!(!looks_like_wrapped_date("1982-05-10T18:56:31+0000"));
    }
}
