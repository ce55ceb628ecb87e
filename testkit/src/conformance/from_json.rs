//! `from-json-vectors.jsonl`: Spark 3.5's own `from_json(input, schema)`
//! answers. A header line (`"format": "weir-from-json-vectors"`, the session
//! time zone and options), then `{"case", "schema", "input", "result",
//! "expected"}` per line. Each case runs through the Arrow kernel behind the
//! DataFusion function, and its row is compared with Spark's, type by type.
//!
//! A case whose `result` is `error` is Spark raising (a date its new parser
//! rejects and its legacy parser reads). Weir nulls that field instead of
//! failing the query; the case passes when Weir reports such a rejected date
//! for the row.

use std::fmt;
use std::path::Path;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use weir_engine::from_json::{SparkType, StructType, from_json_column, parse, parse_schema};

use crate::Result;

use super::{Failure, Report, read_lines, str_field, unreadable};

const FORMAT: &str = "weir-from-json-vectors";

/// Runs every case of a `from_json` vector file.
pub fn run_file(path: &Path) -> Result<Report> {
    let mut report = Report::default();
    for (i, line) in read_lines(path)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if i == 0 {
            if let Some(failure) = check_header(line) {
                report.record(vec![failure]);
            }
            continue;
        }
        report.record(run_case(i + 1, line));
    }
    Ok(report)
}

/// The header must be this format with the settings Weir implements.
fn check_header(line: &str) -> Option<Failure> {
    let header: serde_json::Value = serde_json::from_str(line).ok()?;
    let fail = |field: &str, expected: &str, got: String| Failure {
        case: "header".into(),
        field: field.into(),
        expected: expected.into(),
        got,
    };
    if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Some(fail("format", FORMAT, header["format"].to_string()));
    }
    if header.get("session_time_zone").and_then(|z| z.as_str()) != Some("UTC") {
        return Some(fail(
            "session_time_zone",
            "UTC",
            header["session_time_zone"].to_string(),
        ));
    }
    match header.get("options").and_then(|o| o.as_object()) {
        Some(options) if options.is_empty() => None,
        _ => Some(fail(
            "options",
            "{} (PERMISSIVE, the defaults)",
            header["options"].to_string(),
        )),
    }
}

fn run_case(line_no: usize, line: &str) -> Vec<Failure> {
    let case: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![unreadable(line_no, format!("not JSON: {e}"))],
    };
    let id = case
        .get("case")
        .and_then(|c| c.as_str())
        .map_or_else(|| format!("line {line_no}"), str::to_owned);
    let fail = |field: &str, expected: String, got: String| {
        vec![Failure {
            case: id.clone(),
            field: field.to_owned(),
            expected,
            got,
        }]
    };
    let schema = match str_field(&case, "schema").map(parse_schema) {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail("schema", "a schema Weir reads".into(), e.to_string()),
        Err(e) => return vec![unreadable(line_no, e)],
    };
    let input = match case.get("input") {
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(serde_json::Value::Null) => None,
        _ => {
            return vec![unreadable(
                line_no,
                "field `input` is not a string or null".into(),
            )];
        }
    };
    let result = case.get("result").and_then(|r| r.as_str()).unwrap_or("");
    if result == "error" {
        let parsed = parse(input, &schema);
        return if parsed.rejected_datetimes > 0 {
            Vec::new()
        } else {
            fail(
                "result",
                "a date or timestamp Spark raises on, nulled and counted".into(),
                format!("{:?} with no rejected date", parsed.row),
            )
        };
    }
    // `expected` is read again from the line by a reader that keeps repeated
    // map keys (serde_json's maps do not).
    let expected = match read_expected(line) {
        Ok(e) => e,
        Err(e) => return vec![unreadable(line_no, format!("`expected`: {e}"))],
    };
    let array = StringArray::from(vec![input]);
    let rows = match from_json_column(&array, &schema) {
        Ok((rows, _)) => rows,
        Err(e) => return fail("from_json", "a row".into(), e.to_string()),
    };
    let mut failures = Vec::new();
    compare_struct(&schema, &rows, 0, &expected, "$", &mut |path, exp, got| {
        failures.push(Failure {
            case: id.clone(),
            field: path.to_owned(),
            expected: exp,
            got,
        })
    });
    failures
}

type Report3<'a> = dyn FnMut(&str, String, String) + 'a;

fn compare_struct(
    st: &StructType,
    array: &dyn Array,
    i: usize,
    expected: &Expected,
    path: &str,
    report: &mut Report3<'_>,
) {
    if array.is_null(i) {
        if *expected != Expected::Null {
            report(path, expected.to_string(), "NULL".into());
        }
        return;
    }
    let Expected::Object(fields) = expected else {
        report(path, expected.to_string(), "a struct".into());
        return;
    };
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    let ours: Vec<&str> = st.fields().iter().map(|f| f.name.as_str()).collect();
    if names != ours {
        report(
            path,
            format!("fields {names:?}"),
            format!("fields {ours:?}"),
        );
        return;
    }
    let columns = array.as_struct();
    for (f, field) in st.fields().iter().enumerate() {
        let child_path = format!("{path}.{}", field.name);
        compare(
            &field.ty,
            columns.column(f).as_ref(),
            i,
            &fields[f].1,
            &child_path,
            report,
        );
    }
}

fn compare(
    ty: &SparkType,
    array: &dyn Array,
    i: usize,
    expected: &Expected,
    path: &str,
    report: &mut Report3<'_>,
) {
    if array.is_null(i) {
        if *expected != Expected::Null {
            report(path, expected.to_string(), "NULL".into());
        }
        return;
    }
    let any = array.as_any();
    let got = match ty {
        SparkType::Struct(st) => return compare_struct(st, array, i, expected, path, report),
        SparkType::Array(element) => {
            let list = array.as_list::<i32>().value(i);
            let Expected::List(items) = expected else {
                report(
                    path,
                    expected.to_string(),
                    format!("an array of {}", list.len()),
                );
                return;
            };
            if items.len() != list.len() {
                report(
                    path,
                    expected.to_string(),
                    format!("{} elements", list.len()),
                );
                return;
            }
            for (k, item) in items.iter().enumerate() {
                compare(
                    element,
                    list.as_ref(),
                    k,
                    item,
                    &format!("{path}[{k}]"),
                    report,
                );
            }
            return;
        }
        SparkType::Map(value) => {
            let map = array.as_map();
            let entries = map.value(i);
            let keys = entries.column(0).as_string::<i32>();
            let Expected::Object(pairs) = expected else {
                report(
                    path,
                    expected.to_string(),
                    format!("a map of {}", keys.len()),
                );
                return;
            };
            let ours: Vec<&str> = (0..keys.len()).map(|k| keys.value(k)).collect();
            let theirs: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            if ours != theirs {
                report(path, format!("keys {theirs:?}"), format!("keys {ours:?}"));
                return;
            }
            for (k, (key, item)) in pairs.iter().enumerate() {
                let values = entries.column(1);
                compare(
                    value,
                    values.as_ref(),
                    k,
                    item,
                    &format!("{path}[{key:?}]"),
                    report,
                );
            }
            return;
        }
        SparkType::Boolean => Expected::Bool(downcast::<BooleanArray>(any).value(i)),
        SparkType::Byte => Expected::Int(downcast::<Int8Array>(any).value(i) as i128),
        SparkType::Short => Expected::Int(downcast::<Int16Array>(any).value(i) as i128),
        SparkType::Int => Expected::Int(downcast::<Int32Array>(any).value(i) as i128),
        SparkType::Long => Expected::Int(downcast::<Int64Array>(any).value(i) as i128),
        SparkType::Float => float(downcast::<Float32Array>(any).value(i) as f64),
        SparkType::Double => float(downcast::<Float64Array>(any).value(i)),
        SparkType::String => Expected::Str(downcast::<StringArray>(any).value(i).to_owned()),
        SparkType::Decimal { scale, .. } => Expected::Str(decimal_text(
            downcast::<Decimal128Array>(any).value(i),
            *scale as u32,
        )),
        SparkType::Date => Expected::Str(date_text(downcast::<Date32Array>(any).value(i) as i64)),
        SparkType::Timestamp => Expected::Str(timestamp_text(
            downcast::<TimestampMicrosecondArray>(any).value(i),
        )),
    };
    if !same(&got, expected) {
        report(path, expected.to_string(), got.to_string());
    }
}

fn downcast<T: 'static>(any: &dyn std::any::Any) -> &T {
    any.downcast_ref::<T>()
        .expect("from_json builds the schema's Arrow types")
}

/// Numbers compare by value with the sign of zero; NaN and the infinities are
/// strings in the vectors.
fn float(x: f64) -> Expected {
    if x.is_nan() {
        Expected::Str("NaN".into())
    } else if x.is_infinite() {
        Expected::Str(if x > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        Expected::Float(x)
    }
}

fn same(got: &Expected, expected: &Expected) -> bool {
    match (got, expected) {
        (Expected::Float(a), Expected::Float(b)) => a.to_bits() == b.to_bits(),
        (Expected::Float(a), Expected::Int(b)) => {
            *a == *b as f64 && !(*a == 0.0 && a.is_sign_negative())
        }
        _ => got == expected,
    }
}

fn decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale as usize + 1);
    let (int, frac) = padded.split_at(padded.len() - scale as usize);
    format!("{sign}{int}.{frac}")
}

/// Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD`, with a sign outside 0000–9999 (Java's `LocalDate.toString`).
fn date_text(days: i64) -> String {
    let (year, month, day) = civil(days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        y if y > 9999 => format!("+{y}"),
        y => format!("-{:04}", -y),
    };
    format!("{year}-{month:02}-{day:02}")
}

fn timestamp_text(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (s, us) = (rest / 1_000_000, rest % 1_000_000);
    format!(
        "{}T{:02}:{:02}:{:02}.{us:06}Z",
        date_text(days),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A vector's expected value, objects as ordered pairs (repeated keys kept).
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Expected>),
    Object(Vec<(String, Expected)>),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Null => write!(f, "null"),
            Expected::Bool(b) => write!(f, "{b}"),
            Expected::Int(i) => write!(f, "{i}"),
            Expected::Float(x) => write!(f, "{x:?}"),
            Expected::Str(s) => write!(f, "{s:?}"),
            Expected::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    write!(f, "{}{item}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "]")
            }
            Expected::Object(pairs) => {
                write!(f, "{{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    write!(f, "{}{k:?}: {v}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// Reads a case's `expected` value exactly: numbers through Rust's correctly
/// rounded parser (serde_json's default float parsing can be one unit off)
/// and objects as ordered pairs with repeated keys kept.
fn read_expected(line: &str) -> std::result::Result<Expected, String> {
    let mut reader = ExpectedReader {
        s: line.as_bytes(),
        pos: 0,
        text: line,
    };
    reader.ws();
    reader.eat(b'{')?;
    loop {
        reader.ws();
        let key = reader.string()?;
        reader.ws();
        reader.eat(b':')?;
        reader.ws();
        let value = reader.value()?;
        if key == "expected" {
            return Ok(value);
        }
        reader.ws();
        if reader.eat(b',').is_err() {
            return Ok(Expected::Null);
        }
    }
}

struct ExpectedReader<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl ExpectedReader<'_> {
    fn ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> std::result::Result<(), String> {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", b as char, self.pos))
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let start = self.pos;
        self.eat(b'"')?;
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => {
                    return serde_json::from_str(&self.text[start..self.pos])
                        .map_err(|e| e.to_string());
                }
                _ => {}
            }
        }
        Err("unterminated string".into())
    }

    fn value(&mut self) -> std::result::Result<Expected, String> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'"') => self.string().map(Expected::Str),
            Some(b'{') => {
                self.pos += 1;
                let mut pairs = Vec::new();
                self.ws();
                if self.eat(b'}').is_ok() {
                    return Ok(Expected::Object(pairs));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    pairs.push((key, self.value()?));
                    self.ws();
                    if self.eat(b'}').is_ok() {
                        return Ok(Expected::Object(pairs));
                    }
                    self.eat(b',')?;
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']').is_ok() {
                    return Ok(Expected::List(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b']').is_ok() {
                        return Ok(Expected::List(items));
                    }
                    self.eat(b',')?;
                }
            }
            _ => {
                let start = self.pos;
                while self
                    .s
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
                {
                    self.pos += 1;
                }
                let word = &self.text[start..self.pos];
                match word {
                    "null" => Ok(Expected::Null),
                    "true" => Ok(Expected::Bool(true)),
                    "false" => Ok(Expected::Bool(false)),
                    _ if word.contains(['.', 'e', 'E']) => word
                        .parse()
                        .map(Expected::Float)
                        .map_err(|e| format!("{word}: {e}")),
                    _ => word
                        .parse()
                        .map(Expected::Int)
                        .map_err(|e| format!("{word}: {e}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_print_as_the_vectors_do() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(2_932_897), "+10000-01-01");
        assert_eq!(date_text(-719_893), "-0001-01-01");
        assert_eq!(timestamp_text(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(123, 0), "123");
    }

    #[test]
    fn expected_values_keep_repeated_keys_and_exact_floats() {
        let line = r#"{"case": "x", "expected": {"m": {"k": 1, "k": 2}}}"#;
        assert_eq!(
            read_expected(line).unwrap(),
            Expected::Object(vec![(
                "m".into(),
                Expected::Object(vec![
                    ("k".into(), Expected::Int(1)),
                    ("k".into(), Expected::Int(2))
                ])
            )])
        );
        let line = r#"{"expected": {"g": [-0.24700247755291474, "NaN", null]}}"#;
        assert_eq!(
            read_expected(line).unwrap(),
            Expected::Object(vec![(
                "g".into(),
                Expected::List(vec![
                    Expected::Float(f64::from_bits(0xBFCF9DC6F58F7481)),
                    Expected::Str("NaN".into()),
                    Expected::Null
                ])
            )])
        );
    }
}
