//! Spark 3.5's readings of DATE and TIMESTAMP strings in JSON, with the
//! default options (no `dateFormat` / `timestampFormat`, session time zone
//! UTC, `spark.sql.legacy.timeParserPolicy=EXCEPTION`):
//!
//! 1. Spark's own lenient parser (`stringToDate` / `stringToTimestamp`):
//!    `2023`, `2023-6`, `2023-06-01`, `2023-06-01 anything`, `2023-06-01T10:00`,
//!    fractions to microseconds, zones `Z`, `±hh:mm`, `UTC`, `GMT+1`, region
//!    ids, the old short ids;
//! 2. if that fails and Java's legacy lenient formatter would read the string
//!    (`2023-02-30`, `2023-06-01Z`), Spark raises `SparkUpgradeException`;
//! 3. otherwise the 1.x fallback: the string without `GMT`, and for dates a
//!    number of days since the epoch (`"19000"` is year 19000, `"123"` is day
//!    123).

use chrono::{NaiveDate, Offset, TimeZone};

/// A date reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading<T> {
    Value(T),
    /// Spark raises (its new and legacy parsers disagree).
    Rejected,
    /// NULL.
    Invalid,
}

/// A DATE field's string, as days since 1970-01-01.
pub(crate) fn read_date(s: &str) -> Reading<i32> {
    if let Some(days) = string_to_date(s) {
        return Reading::Value(days);
    }
    if legacy_reads(s, false) {
        return Reading::Rejected;
    }
    if let Some(days) = string_to_date(&s.replace("GMT", "")) {
        return Reading::Value(days);
    }
    match java_parse_int(s) {
        Some(days) => rebase_julian_days(days).map_or(Reading::Invalid, Reading::Value),
        None => Reading::Invalid,
    }
}

/// A TIMESTAMP field's string, as microseconds since the epoch.
pub(crate) fn read_timestamp(s: &str) -> Reading<i64> {
    if let Some(micros) = string_to_timestamp(s) {
        return Reading::Value(micros);
    }
    if legacy_reads(s, true) {
        return Reading::Rejected;
    }
    match string_to_timestamp(&s.replace("GMT", "")) {
        Some(micros) => Reading::Value(micros),
        None => Reading::Invalid,
    }
}

/// Spark trims ASCII whitespace and ISO control characters.
fn trim(s: &str) -> &[u8] {
    let bytes = s.as_bytes();
    let trimmable = |b: &u8| *b <= 0x20 || *b == 0x7f;
    let start = bytes
        .iter()
        .position(|b| !trimmable(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !trimmable(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

/// Spark's `stringToDate`: `[+-]yyyy*[-[m]m[-[d]d[( |T)*]]]`.
pub(crate) fn string_to_date(s: &str) -> Option<i32> {
    let valid = |segment: usize, digits: u32| {
        if segment == 0 {
            (4..=7).contains(&digits)
        } else {
            (1..=2).contains(&digits)
        }
    };
    let bytes = trim(s);
    if bytes.is_empty() {
        return None;
    }
    let mut segments = [1i64, 1, 1];
    let mut sign = 1i64;
    let mut j = 0;
    if bytes[0] == b'-' || bytes[0] == b'+' {
        sign = if bytes[0] == b'-' { -1 } else { 1 };
        j = 1;
    }
    let (mut i, mut value, mut digits) = (0usize, 0i64, 0u32);
    while j < bytes.len() && i < 3 && !(bytes[j] == b' ' || bytes[j] == b'T') {
        let b = bytes[j];
        if i < 2 && b == b'-' {
            if !valid(i, digits) {
                return None;
            }
            segments[i] = value;
            (value, digits) = (0, 0);
            i += 1;
        } else if b.is_ascii_digit() {
            value = value * 10 + (b - b'0') as i64;
            digits += 1;
            if digits > 7 {
                return None;
            }
        } else {
            return None;
        }
        j += 1;
    }
    if !valid(i, digits) || (i < 2 && j < bytes.len()) {
        return None;
    }
    segments[i] = value;
    let days = days_of(sign * segments[0], segments[1], segments[2])?;
    i32::try_from(days).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date, if it exists
/// (`LocalDate.of`).
fn days_of(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(-999_999_999..=999_999_999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Spark's `rebaseJulianToGregorianDays`: before 1582-10-15 a day count is
/// read in the Julian calendar and the same year, month and day are found in
/// the proleptic Gregorian one.
fn rebase_julian_days(days: i32) -> Option<i32> {
    const GREGORIAN_START: i32 = -141_427;
    if days >= GREGORIAN_START {
        return Some(days);
    }
    let jdn = days as i64 + 2_440_588;
    let c = jdn + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = d - 4800 + m.div_euclid(10);
    i32::try_from(days_from_civil(year, month, 1) + day - 1).ok()
}

/// Java's `Integer.parseInt`.
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// Spark's `stringToTimestamp` in UTC: `[+-]yyyy*[-[m]m[-[d]d[( |T)[h]h[:[m]m[:[s]s[.fraction]]][zone]]]]`,
/// or a time alone (`[T][h]h:[m]m...`) on today's date in its zone.
pub(crate) fn string_to_timestamp(s: &str) -> Option<i64> {
    let valid = |segment: usize, digits: u32| match segment {
        6 => true,
        0 => (4..=6).contains(&digits),
        7 => digits <= 2,
        _ => (1..=2).contains(&digits),
    };
    let raw = s.as_bytes();
    let bytes = trim(s);
    if bytes.is_empty() {
        return None;
    }
    // Spark's `j == 0 && b == 'T'` looks at the untrimmed first byte.
    let leading_t_at_start = raw.first() == Some(&b'T');
    let mut segments = [1i64, 1, 1, 0, 0, 0, 0, 0, 0];
    let (mut i, mut value, mut digits) = (0usize, 0i64, 0u32);
    let mut fraction_digits = 0u32;
    let mut just_time = false;
    let mut year_sign: Option<i64> = None;
    let mut zone: Option<&[u8]> = None;
    let mut j = 0;
    if bytes[0] == b'-' || bytes[0] == b'+' {
        year_sign = Some(if bytes[0] == b'-' { -1 } else { 1 });
        j = 1;
    }
    macro_rules! next_segment {
        () => {{
            if !valid(i, digits) {
                return None;
            }
            segments[i] = value;
            (value, digits) = (0, 0);
            i += 1;
        }};
    }
    while j < bytes.len() {
        let b = bytes[j];
        if b.is_ascii_digit() {
            if i == 6 {
                fraction_digits += 1;
            }
            if i != 6 || digits < 6 {
                value = value.checked_mul(10)?.checked_add((b - b'0') as i64)?;
            }
            digits += 1;
            if i != 6 && digits > 9 {
                return None;
            }
        } else if j == 0 && b == b'T' && leading_t_at_start {
            just_time = true;
            i += 3;
        } else if i < 2 {
            if b == b'-' {
                next_segment!();
            } else if i == 0 && b == b':' && year_sign.is_none() {
                just_time = true;
                if !valid(3, digits) {
                    return None;
                }
                segments[3] = value;
                (value, digits) = (0, 0);
                i = 4;
            } else {
                return None;
            }
        } else if i == 2 {
            if b == b' ' || b == b'T' {
                next_segment!();
            } else {
                return None;
            }
        } else if i == 3 || i == 4 {
            if b == b':' {
                next_segment!();
            } else {
                return None;
            }
        } else if i == 5 || i == 6 {
            if b == b'.' && i == 5 {
                next_segment!();
            } else {
                next_segment!();
                zone = Some(&bytes[j..]);
                j = bytes.len() - 1;
            }
            if i == 6 && b != b'.' {
                i += 1;
            }
        } else if i < segments.len() && (b == b':' || b == b' ') {
            next_segment!();
        } else {
            return None;
        }
        j += 1;
    }
    if !valid(i, digits) {
        return None;
    }
    segments[i] = value;
    let mut micros = segments[6];
    for _ in fraction_digits.min(6)..6 {
        micros *= 10;
    }
    let zone = match zone {
        Some(z) => parse_zone(std::str::from_utf8(z).ok()?.trim())?,
        None => Zone::Fixed(0),
    };
    let (hour, minute, second) = (segments[3], segments[4], segments[5]);
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) || !(0..60).contains(&second) {
        return None;
    }
    let days = if just_time {
        zone.today()?
    } else {
        days_of(
            segments[0] * year_sign.unwrap_or(1),
            segments[1],
            segments[2],
        )?
    };
    let local_seconds = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    let seconds = local_seconds.checked_sub(zone.offset_seconds(days, local_seconds)? as i64)?;
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

/// A time zone of a timestamp string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    /// A fixed offset, seconds east of UTC.
    Fixed(i32),
    /// A region of the tz database.
    Region(chrono_tz::Tz),
}

impl Zone {
    /// The offset at a local date-time (`ZonedDateTime.of`: in an overlap the
    /// earlier offset; in a gap the offset before it, which moves the time on).
    fn offset_seconds(&self, days: i64, local_seconds: i64) -> Option<i32> {
        match self {
            Zone::Fixed(offset) => Some(*offset),
            Zone::Region(tz) => {
                let date = NaiveDate::from_ymd_opt(1970, 1, 1)?
                    .checked_add_signed(chrono::Duration::try_days(days)?)?;
                let local = date.and_hms_opt(0, 0, 0)?
                    + chrono::Duration::try_seconds(local_seconds - days * 86_400)?;
                Some(match tz.offset_from_local_datetime(&local) {
                    chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(earlier, _) => earlier.fix().local_minus_utc(),
                    chrono::LocalResult::None => tz
                        .offset_from_utc_datetime(&(local - chrono::Duration::try_hours(12)?))
                        .fix()
                        .local_minus_utc(),
                })
            }
        }
    }

    /// Today's date in this zone (Spark's `LocalDate.now(zone)` for a time alone).
    fn today(&self) -> Option<i64> {
        let now = chrono::Utc::now().naive_utc();
        let offset = match self {
            Zone::Fixed(o) => *o as i64,
            Zone::Region(tz) => tz.offset_from_utc_datetime(&now).fix().local_minus_utc() as i64,
        };
        let local = now + chrono::Duration::try_seconds(offset)?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
        Some((local.date() - epoch).num_days())
    }
}

/// Java's `ZoneId.SHORT_IDS`, which Spark passes to `ZoneId.of`.
const SHORT_IDS: [(&str, &str); 28] = [
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
    ("EST", "-05:00"),
    ("MST", "-07:00"),
    ("HST", "-10:00"),
];

/// Spark's `getZoneId`: `(+|-)h:` and `(+|-)hh:m` padded, then `ZoneId.of`
/// with the short ids.
fn parse_zone(id: &str) -> Option<Zone> {
    let mut id = id.to_owned();
    // (\+|\-)(\d): → $10$2:
    if let Some(p) = id
        .as_bytes()
        .windows(3)
        .position(|w| (w[0] == b'+' || w[0] == b'-') && w[1].is_ascii_digit() && w[2] == b':')
    {
        id.insert(p + 1, '0');
    }
    // (\+|\-)(\d\d):(\d)$ → $1$2:0$3
    let b = id.as_bytes();
    if b.len() >= 5 {
        let t = &b[b.len() - 5..];
        if (t[0] == b'+' || t[0] == b'-')
            && t[1].is_ascii_digit()
            && t[2].is_ascii_digit()
            && t[3] == b':'
            && t[4].is_ascii_digit()
        {
            let at = id.len() - 1;
            id.insert(at, '0');
        }
    }
    let id = SHORT_IDS
        .iter()
        .find(|(short, _)| *short == id)
        .map_or(id.as_str(), |(_, long)| long);
    zone_id_of(id)
}

/// Java's `ZoneId.of`.
fn zone_id_of(id: &str) -> Option<Zone> {
    if id.len() <= 1 || id.starts_with(['+', '-']) {
        return zone_offset_of(id).map(Zone::Fixed);
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = id.strip_prefix(prefix) {
            if rest.is_empty() {
                return Some(Zone::Fixed(0));
            }
            if rest.starts_with(['+', '-']) {
                return zone_offset_of(rest).map(Zone::Fixed);
            }
            break;
        }
    }
    let well_formed = id.as_bytes()[0].is_ascii_alphabetic()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"~/._+-".contains(&b));
    if !well_formed {
        return None;
    }
    id.parse::<chrono_tz::Tz>().ok().map(Zone::Region)
}

/// Java's `ZoneOffset.of`: `Z`, `±h`, `±hh`, `±hh:mm`, `±hhmm`, `±hh:mm:ss`,
/// `±hhmmss`, at most 18 hours.
fn zone_offset_of(id: &str) -> Option<i32> {
    if id == "Z" {
        return Some(0);
    }
    let b = id.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |at: usize, after_colon: bool| -> Option<i32> {
        if after_colon && b.get(at - 1) != Some(&b':') {
            return None;
        }
        let (x, y) = (*b.get(at)?, *b.get(at + 1)?);
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| ((x - b'0') * 10 + (y - b'0')) as i32)
    };
    let (h, m, s) = match b.len() {
        2 => (((b[1] as char).to_digit(10)?) as i32, 0, 0),
        3 => (two(1, false)?, 0, 0),
        5 => (two(1, false)?, two(3, false)?, 0),
        6 => (two(1, false)?, two(4, true)?, 0),
        7 => (two(1, false)?, two(3, false)?, two(5, false)?),
        9 => (two(1, false)?, two(4, true)?, two(7, true)?),
        _ => return None,
    };
    if h > 18 || m > 59 || s > 59 {
        return None;
    }
    let total = h * 3600 + m * 60 + s;
    (total <= 18 * 3600).then_some(sign * total)
}

/// Whether Java's legacy lenient formatter (`yyyy-MM-dd`, or
/// `yyyy-MM-dd HH:mm:ss` for timestamps) reads a prefix of `s`: numbers
/// (leading whitespace allowed, any value a lenient calendar rolls over)
/// separated by the literal characters; what follows is ignored.
fn legacy_reads(s: &str, with_time: bool) -> bool {
    let mut rest = s;
    let number = |rest: &mut &str| -> bool {
        let trimmed = rest.trim_start_matches(java_whitespace);
        let len = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || trimmed[..len].parse::<i32>().is_err() {
            return false;
        }
        *rest = &trimmed[len..];
        true
    };
    let literal = |rest: &mut &str, c: char| -> bool {
        match rest.strip_prefix(c) {
            Some(r) => {
                *rest = r;
                true
            }
            None => false,
        }
    };
    let date = number(&mut rest)
        && literal(&mut rest, '-')
        && number(&mut rest)
        && literal(&mut rest, '-')
        && number(&mut rest);
    if !with_time {
        return date;
    }
    date && literal(&mut rest, ' ')
        && number(&mut rest)
        && literal(&mut rest, ':')
        && number(&mut rest)
        && literal(&mut rest, ':')
        && number(&mut rest)
}

/// Java's `Character.isWhitespace`: Unicode spaces but not the no-break ones.
fn java_whitespace(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\u{1c}'..='\u{1f}')
        || (c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}' | '\u{85}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Option<String> {
        string_to_timestamp(s).map(|m| {
            chrono::DateTime::from_timestamp_micros(m)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        })
    }

    #[test]
    fn dates_read_as_spark_does() {
        let day = |s| match read_date(s) {
            Reading::Value(d) => Some(d),
            _ => None,
        };
        assert_eq!(day("1970-01-02"), Some(1));
        assert_eq!(day(" 2023-6-1 garbage"), day("2023-06-01"));
        assert_eq!(day("2023-06-01T10:00"), day("2023-06-01"));
        assert_eq!(day("2001"), day("2001-01-01"));
        assert_eq!(day("123"), Some(123), "the 1.x days fallback");
        assert_eq!(day("17/01/1926"), None);
        assert_eq!(day("2023-152"), None);
        assert_eq!(read_date("2023-02-30"), Reading::Rejected);
        assert_eq!(read_date("2023-06-01Z"), Reading::Rejected);
        assert_eq!(read_date("2023-13-01"), Reading::Rejected);
        assert_eq!(day("10000-01-01"), Some(2_932_897));
        // The day labelled 1000-01-01 in the Julian calendar is labelled
        // 1000-01-06 in the Gregorian one; rebasing keeps the label.
        assert_eq!(
            rebase_julian_days(days_from_civil(1000, 1, 6) as i32),
            Some(days_from_civil(1000, 1, 1) as i32)
        );
    }

    #[test]
    fn timestamps_read_as_spark_does() {
        assert_eq!(
            ts("2023-06-01T10:00:00Z").as_deref(),
            Some("2023-06-01T10:00:00.000000Z")
        );
        assert_eq!(
            ts("1962-06-22T06:59:53-05:00").as_deref(),
            Some("1962-06-22T11:59:53.000000Z")
        );
        assert_eq!(
            ts("1996-12-27T02:47:17.781+0000").as_deref(),
            Some("1996-12-27T02:47:17.781000Z")
        );
        assert_eq!(
            ts("2009-03-16T13:35:11UTC").as_deref(),
            Some("2009-03-16T13:35:11.000000Z")
        );
        assert_eq!(
            ts("2081-08-15T12:28:45Europe/London").as_deref(),
            Some("2081-08-15T11:28:45.000000Z")
        );
        assert_eq!(
            ts("2023-06-01 10:00:00.1234567 +1:00").as_deref(),
            Some("2023-06-01T09:00:00.123456Z")
        );
        assert_eq!(
            ts("2023-01-01T00:00:00 PST").as_deref(),
            Some("2023-01-01T08:00:00.000000Z")
        );
        assert_eq!(ts("2069").as_deref(), Some("2069-01-01T00:00:00.000000Z"));
        assert_eq!(ts("2023-06-01T"), None);
        assert_eq!(ts("2078-03-13T14:09:36+19:00"), None);
        assert_eq!(ts("2023-06-01T10:00Z"), None);
        assert_eq!(read_timestamp("2023-06-31 10:00:00"), Reading::Rejected);
    }
}
